from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling import figures
    from pooling.fitfile import open_fit

    idata = open_fit(snakemake.input[0])
    title = f"{snakemake.wildcards.dataset}, {figures.strategy_label(snakemake.wildcards.strategy)}"
    figures.posterior_predictive(idata, snakemake.output.ppc, title)
    figures.rank_trace(idata, snakemake.output.trace, title)
