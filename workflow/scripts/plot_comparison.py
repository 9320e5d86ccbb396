from pooling.logs import logged

with logged(snakemake.log[0]):
    import pandas as pd

    from pooling import figures
    from pooling.compare import load_fits
    from pooling.data import read_labelled

    figures.forest(load_fits(snakemake.input.fits), snakemake.output.forest)
    figures.loo_comparison(pd.read_csv(snakemake.input.loo, index_col=0), snakemake.output.loo)
    figures.logo_comparison(
        pd.read_csv(snakemake.input.logo, index_col=0),
        read_labelled(snakemake.input.logo_groups),
        snakemake.output.logo,
    )
