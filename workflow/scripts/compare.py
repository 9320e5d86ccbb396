from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling.compare import compare_fits

    compare_fits(
        snakemake.input.fits,
        snakemake.input.kfold,
        dict(snakemake.output.items()),
        snakemake.threads,
    )
