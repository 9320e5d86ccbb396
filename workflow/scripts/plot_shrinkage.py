from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling import figures
    from pooling.fitfile import open_fit

    figures.shrinkage(
        open_fit(snakemake.input.no_pooling),
        open_fit(snakemake.input.partial_pooling),
        snakemake.output[0],
    )
