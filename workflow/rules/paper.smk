import snakemake as _snakemake


rule paper_bundle:
    input:
        fits=get_fits,
        diagnostics=get_diagnostics,
        loo="results/{dataset}/loo_compare.csv",
        logo="results/{dataset}/logo_compare.csv",
        data="results/{dataset}/data/prepared.csv",
        source=get_source_csv,
        figures=get_figure_pdfs,
        test_scores=get_test_scores,
        test_data=get_test_data,
        sbc=get_paper_sbc,
    output:
        tables=directory("results/{dataset}/paper/tables"),
        figures=directory("results/{dataset}/paper/figures"),
        methods_md="results/{dataset}/paper/methods.md",
        methods_tex="results/{dataset}/paper/methods.tex",
        bib="results/{dataset}/paper/references.bib",
        config="results/{dataset}/paper/config.yaml",
        manifest="results/{dataset}/paper/manifest.json",
    log:
        "logs/{dataset}/paper.log",
    benchmark:
        "benchmarks/{dataset}/paper.tsv"
    conda:
        "../../environment.yml"
    params:
        settings=get_paper_settings,
        sbc=lambda wildcards: config["sbc"] if get_paper_sbc(wildcards) else None,
        snakemake_version=_snakemake.__version__,
    script:
        "../scripts/paper.py"


rule paper:
    input:
        get_paper_outputs(),
