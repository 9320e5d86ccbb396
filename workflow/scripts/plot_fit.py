from pooling.logs import logged

with logged(snakemake.log[0]):
    import arviz as az
    from pooling import figures

    idata = az.from_netcdf(snakemake.input[0])
    title = f"{snakemake.wildcards.dataset}, {figures.LABELS[snakemake.wildcards.strategy]}"
    figures.posterior_predictive(idata, snakemake.output.ppc, title)
    figures.rank_trace(idata, snakemake.output.trace, title)
