from pooling.logs import logged
from pooling.radon import split_csv

with logged(snakemake.log[0]):
    split_csv(snakemake.input[0], snakemake.output.training, snakemake.output.test, **snakemake.params)
