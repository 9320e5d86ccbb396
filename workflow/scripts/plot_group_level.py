from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling import figures
    from pooling.fitfile import open_fit

    figures.group_level(open_fit(snakemake.input[0]), snakemake.output[0])
