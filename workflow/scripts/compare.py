from pooling.logs import logged

with logged(snakemake.log[0]):
    import pandas as pd

    from pooling.compare import load_fits, loo, loo_table, pointwise_table, priors_table
    from pooling.data import read_labelled
    from pooling.logo import logo_tables
    from pooling.psis import relative_ess

    fits = load_fits(snakemake.input.fits)
    reffs = {name: relative_ess(idata.posterior) for name, idata in fits.items()}
    loos = {name: loo(idata, snakemake.threads, reffs[name]) for name, idata in fits.items()}
    loo_table(loos).to_csv(snakemake.output.loo)
    pointwise_table(loos, next(iter(fits.values()))).to_csv(snakemake.output.pointwise, index=False)
    kfold = pd.concat(map(read_labelled, snakemake.input.kfold)) if snakemake.input.kfold else None
    summary, groups = logo_tables(fits, kfold, reffs)
    summary.to_csv(snakemake.output.logo)
    groups.to_csv(snakemake.output.logo_groups, index=False)
    priors_table(fits).to_csv(snakemake.output.priors, index=False)
