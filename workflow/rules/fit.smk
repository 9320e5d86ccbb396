rule fit:
    input:
        data="results/{dataset}/data/prepared.csv",
        source=get_source_csv,
    output:
        "results/{dataset}/fits/{strategy}.nc",
    log:
        "logs/{dataset}/fit/{strategy}.log",
    benchmark:
        "benchmarks/{dataset}/fit/{strategy}.tsv"
    conda:
        "../../environment.yml"
    threads: get_fit_threads
    resources:
        mem_mb=get_fit_mem_mb,
        runtime=get_fit_runtime,
    params:
        settings=get_fit_settings,
        storage=get_storage,
        columns=get_columns,
    script:
        "../scripts/fit.py"
