from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling.diagnostics import diagnose_to_csv

    diagnose_to_csv(snakemake.input[0], snakemake.output[0])
