rule diagnose:
    input:
        "results/{dataset}/fits/{strategy}.nc",
    output:
        report(
            "results/{dataset}/diagnostics/{strategy}.csv",
            caption="../report/diagnostics.rst",
            category="{dataset}",
            subcategory="Diagnostics",
            labels={"strategy": "{strategy}", "output": "convergence gates"},
        ),
    log:
        "logs/{dataset}/diagnose/{strategy}.log",
    benchmark:
        "benchmarks/{dataset}/diagnose/{strategy}.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/diagnose.py"
