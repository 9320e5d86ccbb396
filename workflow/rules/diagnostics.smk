rule diagnose:
    input:
        "results/{dataset}/fits/{strategy}.nc",
    output:
        table=report(
            "results/{dataset}/diagnostics/{strategy}.csv",
            caption="../report/diagnostics.rst",
            category="{dataset}",
            subcategory="Diagnostics",
            labels={"strategy": "{strategy}", "output": "convergence gates"},
        ),
        ppc=report(
            "results/{dataset}/figures/ppc_{strategy}.png",
            caption="../report/ppc.rst",
            category="{dataset}",
            subcategory="Figures",
            labels={"strategy": "{strategy}", "output": "posterior predictive check"},
        ),
        trace=report(
            "results/{dataset}/figures/trace_{strategy}.png",
            caption="../report/trace.rst",
            category="{dataset}",
            subcategory="Diagnostics",
            labels={"strategy": "{strategy}", "output": "trace and rank plots"},
        ),
        ppc_pdf="results/{dataset}/figures/ppc_{strategy}.pdf",
        trace_pdf="results/{dataset}/figures/trace_{strategy}.pdf",
    log:
        "logs/{dataset}/diagnose/{strategy}.log",
    benchmark:
        "benchmarks/{dataset}/diagnose/{strategy}.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/diagnose.py"
