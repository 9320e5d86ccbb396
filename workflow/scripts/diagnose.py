from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling.diagnostics import check_fit

    check_fit(
        snakemake.input[0],
        snakemake.output.table,
        ppc=snakemake.output.ppc,
        trace=snakemake.output.trace,
        dataset=snakemake.wildcards.dataset,
    )
