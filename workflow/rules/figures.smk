rule plot_comparison:
    input:
        fits=get_fits,
        loo="results/{dataset}/loo_compare.csv",
        logo="results/{dataset}/logo_compare.csv",
        logo_groups="results/{dataset}/logo_groups.csv",
    output:
        forest=report(
            "results/{dataset}/figures/forest.png",
            caption="../report/forest.rst",
            category="{dataset}",
            subcategory="Figures",
            labels={
                "strategy": "all",
                "output": "forest plot of group estimates (response scale)",
            },
        ),
        loo=report(
            "results/{dataset}/figures/loo_compare.png",
            caption="../report/loo_plot.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "PSIS-LOO comparison"},
        ),
        logo=report(
            "results/{dataset}/figures/logo_compare.png",
            caption="../report/logo_plot.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "leave-one-group-out comparison"},
        ),
        forest_pdf="results/{dataset}/figures/forest.pdf",
        loo_pdf="results/{dataset}/figures/loo_compare.pdf",
        logo_pdf="results/{dataset}/figures/logo_compare.pdf",
    log:
        "logs/{dataset}/plot_comparison.log",
    benchmark:
        "benchmarks/{dataset}/plot_comparison.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/plot_comparison.py"
