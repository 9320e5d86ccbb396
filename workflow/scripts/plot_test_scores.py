from pooling.logs import logged

with logged(snakemake.log[0]):
    import pandas as pd

    from pooling import figures
    from pooling.data import read_labelled

    figures.test_scores(
        pd.read_csv(snakemake.input.scores, index_col=0),
        read_labelled(snakemake.input.pointwise),
        snakemake.output.png,
    )
