from pooling.jaxenv import configure_jax

# Chains are vectorized on one device; the cache location does not shape the ranks.
configure_jax(chains=1, threads=snakemake.threads, cache_dir=snakemake.config.get("compile_cache"))

from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling.sbc import run_shard

    sbc = dict(snakemake.params.sbc)
    run_shard(snakemake.wildcards.strategy, int(snakemake.wildcards.shard), sbc, snakemake.output[0])
