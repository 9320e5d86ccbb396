from pooling.download import download
from pooling.logs import logged

with logged(snakemake.log[0]):
    download(snakemake.params.url, snakemake.output[0], snakemake.params.sha256, "radon_source")
