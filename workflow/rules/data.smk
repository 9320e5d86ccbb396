rule simulate_dataset:
    output:
        data="results/{dataset}/simulated/data.csv",
        truth=report(
            "results/{dataset}/simulated/truth.json",
            caption="../report/truth.rst",
            category="{dataset}",
            subcategory="Data",
            labels={"strategy": "all", "output": "simulation truth"},
        ),
    params:
        design=lambda wildcards: config["datasets"][wildcards.dataset]["simulate"],
    log:
        "logs/{dataset}/simulate_dataset.log",
    benchmark:
        "benchmarks/{dataset}/simulate_dataset.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/simulate_dataset.py"


# A checkpoint: one fold per group (kfold) needs the prepared data's group count.
checkpoint prepare_data:
    input:
        get_source_csv,
    output:
        "results/{dataset}/data/prepared.csv",
    params:
        columns=get_columns,
    log:
        "logs/{dataset}/prepare_data.log",
    benchmark:
        "benchmarks/{dataset}/prepare_data.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/prepare_data.py"
