# One job per dataset draws everything its fits alone show: each fit's convergence
# gates, rank trace and posterior predictive check, the shrinkage figure and the
# group-level figure. A job per output spent more time importing ArviZ and matplotlib
# than drawing (README, Performance). Which outputs a dataset has depends on its
# `strategies`, and a rule's outputs cannot depend on a wildcard, so there is one rule
# per set of strategies in the config (`diagnose` for all three).
for chosen, datasets in get_strategy_sets().items():

    rule:
        name:
            get_diagnose_rule_name(chosen)
        input:
            **{strategy: f"results/{{dataset}}/fits/{strategy}.nc" for strategy in chosen},
        output:
            **get_diagnose_outputs(chosen),
        log:
            "logs/{dataset}/diagnose.log",
        benchmark:
            "benchmarks/{dataset}/diagnose.tsv"
        wildcard_constraints:
            dataset="|".join(map(re.escape, datasets)),
        conda:
            "../../environment.yml"
        script:
            "../scripts/diagnose.py"
