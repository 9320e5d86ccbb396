from pooling.logs import logged
from pooling.radon import build_states

with logged(snakemake.log[0]):
    build_states(snakemake.input.srrs2, snakemake.input.cty).to_csv(snakemake.output[0], index=False)
