rule kfold_fold:
    input:
        data="results/{dataset}/data/prepared.csv",
        source=get_source_csv,
    output:
        "results/{dataset}/kfold/{factor}/{strategy}/fold{fold}.csv",
    log:
        "logs/{dataset}/kfold/{factor}/{strategy}/fold{fold}.log",
    benchmark:
        "benchmarks/{dataset}/kfold/{factor}/{strategy}/fold{fold}.tsv"
    conda:
        "../../environment.yml"
    threads: get_fit_threads
    resources:
        mem_mb=get_fit_mem_mb,
        runtime=get_fit_runtime,
    params:
        settings=get_fit_settings,
        kfold=lambda wildcards: get_kfold(wildcards.dataset),
    script:
        "../scripts/kfold_fold.py"


rule kfold:
    input:
        get_kfold_outputs(),
