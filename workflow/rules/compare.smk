rule compare:
    input:
        fits=get_fits,
        kfold=get_kfold_scores,
        data="results/{dataset}/data/prepared.csv",
    output:
        loo=report(
            "results/{dataset}/loo_compare.csv",
            caption="../report/loo_compare.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "PSIS-LOO comparison"},
        ),
        pointwise="results/{dataset}/loo_pointwise.csv",
        logo=report(
            "results/{dataset}/logo_compare.csv",
            caption="../report/logo_compare.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "leave-one-group-out comparison"},
        ),
        logo_groups="results/{dataset}/logo_groups.csv",
        priors=report(
            "results/{dataset}/priors.csv",
            caption="../report/priors.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "priors"},
        ),
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
        loo_plot=report(
            "results/{dataset}/figures/loo_compare.png",
            caption="../report/loo_plot.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "PSIS-LOO comparison"},
        ),
        logo_plot=report(
            "results/{dataset}/figures/logo_compare.png",
            caption="../report/logo_plot.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "leave-one-group-out comparison"},
        ),
        forest_pdf="results/{dataset}/figures/forest.pdf",
        loo_plot_pdf="results/{dataset}/figures/loo_compare.pdf",
        logo_plot_pdf="results/{dataset}/figures/logo_compare.pdf",
    log:
        "logs/{dataset}/compare.log",
    benchmark:
        "benchmarks/{dataset}/compare.tsv"
    conda:
        "../../environment.yml"
    threads: get_compare_threads
    script:
        "../scripts/compare.py"
