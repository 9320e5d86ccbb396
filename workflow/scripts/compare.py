from pooling.logs import logged

with logged(snakemake.log[0]):
    import pandas as pd
    from pooling.compare import load_fits, loo_table, priors_table
    from pooling.logo import logo_tables

    fits = load_fits(snakemake.input.fits)
    loo_table(fits).to_csv(snakemake.output.loo)
    read = lambda path: pd.read_csv(path, dtype={"group": str})
    kfold = pd.concat(map(read, snakemake.input.kfold)) if snakemake.input.kfold else None
    summary, groups = logo_tables(fits, kfold)
    summary.to_csv(snakemake.output.logo)
    groups.to_csv(snakemake.output.logo_groups, index=False)
    priors_table(fits).to_csv(snakemake.output.priors, index=False)
