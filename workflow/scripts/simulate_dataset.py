from pooling.logs import logged
from pooling.simulate import simulate_to_files

with logged(snakemake.log[0]):
    simulate_to_files(snakemake.params.design, snakemake.output.data, snakemake.output.truth)
