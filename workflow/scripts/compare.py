from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling.compare import load_fits, loo_table, priors_table

    fits = load_fits(snakemake.input)
    loo_table(fits).to_csv(snakemake.output.loo)
    priors_table(fits).to_csv(snakemake.output.priors, index=False)
