from pooling.logs import logged

with logged(snakemake.log[0]):
    import arviz as az
    from pooling import figures

    figures.shrinkage(
        az.from_netcdf(snakemake.input.no_pooling),
        az.from_netcdf(snakemake.input.partial_pooling),
        snakemake.output[0],
    )
