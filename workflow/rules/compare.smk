rule compare:
    input:
        get_fits,
    output:
        loo=report(
            "results/{dataset}/loo_compare.csv",
            caption="../report/loo_compare.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "PSIS-LOO comparison"},
        ),
        priors=report(
            "results/{dataset}/priors.csv",
            caption="../report/priors.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "priors"},
        ),
    log:
        "logs/{dataset}/compare.log",
    benchmark:
        "benchmarks/{dataset}/compare.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/compare.py"
