from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling.diagnostics import check_fits

    check_fits(
        dict(snakemake.input.items()),
        dict(snakemake.output.items()),
        dataset=snakemake.wildcards.dataset,
    )
