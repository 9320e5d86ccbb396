from jax_job import configure

# Chains are vectorized on one device.
configure(snakemake, chains=1)

from pooling.logs import logged

with logged(snakemake.log[0]):
    from pooling.sbc import run_shard

    sbc = dict(snakemake.params.sbc)
    run_shard(snakemake.wildcards.strategy, int(snakemake.wildcards.shard), sbc, snakemake.output[0])
