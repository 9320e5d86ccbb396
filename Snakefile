from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/checks.smk"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/radon.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/diagnostics.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/kfold.smk"
include: "workflow/rules/sbc.smk"
include: "workflow/rules/heldout.smk"
include: "workflow/rules/paper.smk"


check_paths()
check_results()


localrules:
    all,
    kfold,
    sbc,
    paper,


rule all:
    default_target: True
    input:
        get_final_outputs(),
