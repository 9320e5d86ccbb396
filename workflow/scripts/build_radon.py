from pooling.logs import logged
from pooling.radon import build

with logged(snakemake.log[0]):
    # The index is kept: it is the first (unnamed) column of the primer's table.
    build(snakemake.input.srrs2, snakemake.input.cty).to_csv(snakemake.output[0])
