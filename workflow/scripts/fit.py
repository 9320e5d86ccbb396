from jax_job import configure

configure(snakemake, chains=snakemake.params.settings["chains"])

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
        storage=dict(snakemake.params.storage),
        columns=dict(snakemake.params.columns),
    )
