# Held-out scoring of the datasets that name a `test` CSV: its rows prepared against the
# training data, then scored by every strategy's fit (no refit).


rule prepare_test:
    input:
        test=get_test_csv,
        source=get_source_csv,
        prepared="results/{dataset}/data/prepared.csv",
    output:
        "results/{dataset}/data/test.csv",
    log:
        "logs/{dataset}/prepare_test.log",
    benchmark:
        "benchmarks/{dataset}/prepare_test.tsv"
    conda:
        "../../environment.yml"
    params:
        columns=get_columns,
    script:
        "../scripts/prepare_test.py"


rule score_test:
    input:
        fits=get_fits,
        test="results/{dataset}/data/test.csv",
    output:
        scores=report(
            "results/{dataset}/test_scores.csv",
            caption="../report/test_scores_table.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "held-out scores"},
        ),
        pointwise="results/{dataset}/test_pointwise.csv",
    log:
        "logs/{dataset}/score_test.log",
    benchmark:
        "benchmarks/{dataset}/score_test.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/score_test.py"


rule plot_test_scores:
    input:
        scores="results/{dataset}/test_scores.csv",
        pointwise="results/{dataset}/test_pointwise.csv",
    output:
        png=report(
            "results/{dataset}/figures/test_scores.png",
            caption="../report/test_scores.rst",
            category="{dataset}",
            subcategory="Model comparison",
            labels={"strategy": "all", "output": "held-out scores"},
        ),
        pdf="results/{dataset}/figures/test_scores.pdf",
    log:
        "logs/{dataset}/plot_test_scores.log",
    benchmark:
        "benchmarks/{dataset}/plot_test_scores.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/plot_test_scores.py"
