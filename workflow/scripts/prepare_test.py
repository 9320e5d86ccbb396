from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling.testdata import prepare_test

    prepare_test(
        snakemake.input.test, snakemake.input.source, snakemake.input.prepared, **snakemake.params.columns
    ).to_csv(snakemake.output[0], index=False)
