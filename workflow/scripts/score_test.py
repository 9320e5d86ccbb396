from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling.heldout import score_files

    score_files(snakemake.input.fits, snakemake.input.test, snakemake.output.scores, snakemake.output.pointwise)
