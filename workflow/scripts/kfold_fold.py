from pooling.jaxenv import configure_jax

configure_jax(
    chains=snakemake.params.settings["chains"],
    threads=snakemake.threads,
    cache_dir=snakemake.config.get("compile_cache"),
)

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
        out=snakemake.output[0],
    )
