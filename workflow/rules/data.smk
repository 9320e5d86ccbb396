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
    log:
        "logs/{dataset}/simulate_dataset.log",
    benchmark:
        "benchmarks/{dataset}/simulate_dataset.tsv"
    conda:
        "../../environment.yml"
    params:
        design=get_simulate_design,
    script:
        "../scripts/simulate_dataset.py"


# A checkpoint: one fold per group (kfold) needs the prepared data's group count.
checkpoint prepare_data:
    input:
        get_source_csv,
    output:
        "results/{dataset}/data/prepared.csv",
    log:
        "logs/{dataset}/prepare_data.log",
    benchmark:
        "benchmarks/{dataset}/prepare_data.tsv"
    conda:
        "../../environment.yml"
    params:
        columns=get_columns,
    script:
        "../scripts/prepare_data.py"
