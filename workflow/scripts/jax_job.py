"""Size JAX to the Snakemake job that imports this first (before anything imports JAX)."""

from pooling.jaxenv import configure_jax


def configure(snakemake, chains):
    """`chains` host devices, the job's threads, and the shared compilation cache. The
    cache location does not shape the draws, so it is read from the config rather
    than passed as a param (which would rerun every job when it moves)."""
    configure_jax(chains=chains, threads=snakemake.threads,
                  cache_dir=snakemake.config.get("compile_cache"))
