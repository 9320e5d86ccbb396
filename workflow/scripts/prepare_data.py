from pooling.data import prepare
from pooling.logs import logged

with logged(snakemake.log[0]):
    prepare(snakemake.input[0], **snakemake.params.columns).to_csv(snakemake.output[0], index=False)
