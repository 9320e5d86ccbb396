from pooling.logs import logged

with logged(snakemake.log[0]):
    import pandas as pd

    from pooling import figures
    from pooling.uniformity import summarize

    ranks = pd.concat(map(pd.read_csv, snakemake.input)).sort_values("simulation", kind="stable")
    strategy, level = snakemake.wildcards.strategy, snakemake.params.level
    ranks.to_csv(snakemake.output.ranks, index=False)
    summarize(ranks, level).to_csv(snakemake.output.summary, index=False)
    figures.sbc_histograms(ranks, strategy, snakemake.output.histogram)
    figures.sbc_ecdf(ranks, strategy, snakemake.output.ecdf, level)
