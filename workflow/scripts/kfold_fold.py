from jax_job import configure

configure(snakemake, chains=snakemake.params.settings["chains"])

from pooling.logo import kfold_fold
from pooling.logs import logged

with logged(snakemake.log[0]):
    kfold_fold(
        prepared_csv=snakemake.input.data,
        source_csv=snakemake.input.source,
        strategy=snakemake.wildcards.strategy,
        settings=dict(snakemake.params.settings),
        kfold=dict(snakemake.params.kfold),
        fold=int(snakemake.wildcards.fold),
        factor=snakemake.wildcards.factor,
        out=snakemake.output[0],
    )
