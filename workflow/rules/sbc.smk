rule sbc_shard:
    output:
        "results/sbc/{strategy}/shards/{shard}.csv",
    log:
        "logs/sbc/{strategy}/shard{shard}.log",
    benchmark:
        "benchmarks/sbc/{strategy}/shard{shard}.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        sbc=get_sbc_params,
    script:
        "../scripts/sbc_shard.py"


rule sbc_summary:
    input:
        get_sbc_shards,
    output:
        ranks=report(
            "results/sbc/{strategy}/ranks.csv",
            caption="../report/sbc_ranks.rst",
            category="SBC",
            subcategory="{strategy}",
            labels={"strategy": "{strategy}", "output": "ranks"},
        ),
        summary=report(
            "results/sbc/{strategy}/summary.csv",
            caption="../report/sbc_summary.rst",
            category="SBC",
            subcategory="{strategy}",
            labels={"strategy": "{strategy}", "output": "uniformity tests"},
        ),
        histogram=report(
            "results/sbc/{strategy}/ranks.png",
            caption="../report/sbc_histogram.rst",
            category="SBC",
            subcategory="{strategy}",
            labels={"strategy": "{strategy}", "output": "rank histograms"},
        ),
        ecdf=report(
            "results/sbc/{strategy}/ecdf.png",
            caption="../report/sbc_ecdf.rst",
            category="SBC",
            subcategory="{strategy}",
            labels={"strategy": "{strategy}", "output": "ECDF difference"},
        ),
        histogram_pdf="results/sbc/{strategy}/ranks.pdf",
        ecdf_pdf="results/sbc/{strategy}/ecdf.pdf",
    log:
        "logs/sbc/{strategy}/summary.log",
    benchmark:
        "benchmarks/sbc/{strategy}/summary.tsv"
    conda:
        "../../environment.yml"
    params:
        level=config["sbc"]["level"],
    script:
        "../scripts/sbc_summary.py"


rule sbc:
    input:
        get_sbc_outputs(),
