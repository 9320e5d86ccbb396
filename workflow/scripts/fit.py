from pooling.jaxenv import configure_jax

# The cache location does not shape the draws, so it is read from the config rather
# than passed as a param (which would rerun every fit when it moves).
configure_jax(
    chains=snakemake.params.settings["chains"],
    threads=snakemake.threads,
    cache_dir=snakemake.config.get("compile_cache"),
)

from pooling.fit import fit_to_netcdf
from pooling.logs import logged

with logged(snakemake.log[0]):
    fit_to_netcdf(
        prepared_csv=snakemake.input.data,
        source_csv=snakemake.input.source,
        out=snakemake.output[0],
        dataset=snakemake.wildcards.dataset,
        strategy=snakemake.wildcards.strategy,
        settings=dict(snakemake.params.settings),
        columns=dict(snakemake.params.columns),
    )
