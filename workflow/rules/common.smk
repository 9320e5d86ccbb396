import functools
import os
import re

from pooling import STRATEGIES, families, strategies
from pooling.priors import relevant_overrides
from pooling.resources import (
    FitSize,
    compare_processes,
    fit_threads,
    memory_mb,
    runtime_minutes,
)

SAMPLER_KEYS = (
    "chains",
    "warmup",
    "draws",
    "target_accept",
    "seed",
    "max_tree_depth",
    "parameterization",
)
STORAGE_KEYS = ("pointwise_max_rows", "predictive_draws")
FIT_SIZE_KEYS = ("chains", "warmup", "draws", *STORAGE_KEYS)
DATASETS = list(config["datasets"])


wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)),
    strategy="|".join(STRATEGIES),
    shard=r"\d+",
    fold=r"\d+",
    factor=r"[^/]+",


def get_setting(dataset, key):
    """A dataset's own value for `key`, else the top-level default."""
    return config["datasets"][dataset].get(key, config[key])


def get_strategies(dataset):
    return [s for s in STRATEGIES if s in get_setting(dataset, "strategies")]


def get_strategy_sets():
    """{strategies: datasets that fit exactly those}, in config order."""
    sets = {}
    for dataset in DATASETS:
        sets.setdefault(tuple(get_strategies(dataset)), []).append(dataset)
    return sets


def get_diagnose_rule_name(chosen):
    """`diagnose` for datasets that fit every strategy, e.g. `diagnose_no_partial` else."""
    if list(chosen) == list(STRATEGIES):
        return "diagnose"
    return "_".join(["diagnose", *(strategy.removesuffix("_pooling") for strategy in chosen)])


def get_diagnose_outputs(chosen):
    """The diagnose job's outputs for datasets that fit the strategies `chosen`, named
    as pooling.diagnostics.check_fits reads them: `table_`, `ppc_` and `trace_<strategy>`
    per fit, `shrinkage` (no and partial pooling) and `group_level` (partial pooling),
    each figure with its PDF beside it (`<name>_pdf`)."""
    outputs = {}
    figures = {}
    for strategy in chosen:
        outputs[f"table_{strategy}"] = report(
            f"results/{{dataset}}/diagnostics/{strategy}.csv",
            caption="../report/diagnostics.rst",
            category="{dataset}",
            subcategory="Diagnostics",
            labels={"strategy": strategy, "output": "convergence gates"},
        )
        figures[f"ppc_{strategy}"] = ("ppc", "Figures", strategy, "posterior predictive check")
        figures[f"trace_{strategy}"] = ("trace", "Diagnostics", strategy, "trace and rank plots")
    if has_shrinkage(chosen):
        figures["shrinkage"] = ("shrinkage", "Figures", "no vs partial", "shrinkage")
    if "partial_pooling" in chosen:
        figures["group_level"] = (
            "group_level",
            "Figures",
            "partial pooling",
            "group-level parameters",
        )
    for name, (caption, subcategory, strategy, shows) in figures.items():
        outputs[name] = report(
            f"results/{{dataset}}/figures/{name}.png",
            caption=f"../report/{caption}.rst",
            category="{dataset}",
            subcategory=subcategory,
            labels={"strategy": strategy, "output": shows},
        )
        outputs[f"{name}_pdf"] = f"results/{{dataset}}/figures/{name}.pdf"
    return outputs


def get_simulate_design(wildcards):
    """The simulate design, in the dataset's family (gaussian designs keep their params)."""
    design = dict(config["datasets"][wildcards.dataset]["simulate"])
    if get_family(wildcards.dataset) != "gaussian":
        design["family"] = get_family(wildcards.dataset)
    return design


def get_source_csv(wildcards):
    if "simulate" in config["datasets"][wildcards.dataset]:
        return f"results/{wildcards.dataset}/simulated/data.csv"
    return config["datasets"][wildcards.dataset]["path"]


def get_test_csv(wildcards):
    """The dataset's held-out CSV (config `test`)."""
    return config["datasets"][wildcards.dataset]["test"]


def get_family(dataset):
    return config["datasets"][dataset].get("family", "gaussian")


def get_columns(wildcards):
    """The dataset's model as prepare_data reads it: its formula, or the shorthand keys."""
    entry = config["datasets"][wildcards.dataset]
    model = {"family": get_family(wildcards.dataset), "se": entry.get("se")}
    if "formula" in entry:
        return {**model, "formula": entry["formula"]}
    return {
        **model,
        "response": entry["response"],
        "group": entry.get("group"),
        "predictors": entry.get("predictors", []),
        "group_predictors": entry.get("group_predictors", []),
    }


def get_fit_settings(wildcards):
    """Everything that shapes one fit's draws and nothing else, so a change reruns
    exactly the fits it affects."""
    dataset, strategy = wildcards.dataset, wildcards.strategy
    settings = {key: get_setting(dataset, key) for key in SAMPLER_KEYS}
    if not strategies.named(strategy).estimates_tau:
        del settings["parameterization"]
    settings["family"] = get_family(dataset)
    overrides = {**config["priors"], **config["datasets"][dataset].get("priors", {})}
    settings["priors"] = relevant_overrides(strategy, overrides, settings["family"])
    return settings


def get_storage(wildcards):
    """What a fit keeps of its N x draws arrays (shapes the NetCDF, not the draws)."""
    return {key: get_setting(wildcards.dataset, key) for key in STORAGE_KEYS}


def get_fit_threads(wildcards, input):
    """All chains until the prepared CSV exists (Snakemake asks again when the job
    starts)."""
    if not os.path.exists(input.data):
        return get_setting(wildcards.dataset, "chains")
    return fit_threads(_fit_size(wildcards, input))


@functools.lru_cache
def _size(path, mtime):
    """(rows, groups) of a prepared CSV, read once per file version (threads, memory
    and runtime all need them)."""
    from pooling.data import read_labelled  # not at parse time: `snakemake -n` stays fast

    groups = read_labelled(path, usecols=["group"])["group"]
    return len(groups), groups.nunique()


def _fit_size(wildcards, input):
    rows, groups = _size(input.data, os.path.getmtime(input.data))
    settings = {key: get_setting(wildcards.dataset, key) for key in FIT_SIZE_KEYS}
    return FitSize(rows=rows, groups=groups, **settings)


def get_fit_mem_mb(wildcards, input):
    return memory_mb(_fit_size(wildcards, input))


def get_fit_runtime(wildcards, input):
    return runtime_minutes(_fit_size(wildcards, input))


def get_compare_threads(wildcards, input):
    """One until the prepared CSV exists (Snakemake asks again when the job starts)."""
    if not os.path.exists(input.data):
        return 1
    rows, _ = _size(input.data, os.path.getmtime(input.data))
    return compare_processes(rows, get_setting(wildcards.dataset, "pointwise_max_rows"))


def get_fits(wildcards):
    return expand(
        "results/{dataset}/fits/{strategy}.nc",
        dataset=wildcards.dataset,
        strategy=get_strategies(wildcards.dataset),
    )


def has_shrinkage(strategies):
    """Whether fits of `strategies` make the shrinkage figure (no against partial pooling)."""
    return {"no_pooling", "partial_pooling"} <= set(strategies)


def get_dataset_outputs(dataset):
    """Every output the README lists for a dataset, so a deleted one is rebuilt."""
    strategies = get_strategies(dataset)
    outputs = [
        f"results/{dataset}/data/prepared.csv",
        f"results/{dataset}/loo_compare.csv",
        f"results/{dataset}/loo_pointwise.csv",
        f"results/{dataset}/logo_compare.csv",
        f"results/{dataset}/logo_groups.csv",
        f"results/{dataset}/priors.csv",
        f"results/{dataset}/figures/forest.png",
        f"results/{dataset}/figures/loo_compare.png",
        f"results/{dataset}/figures/logo_compare.png",
    ]
    if "simulate" in config["datasets"][dataset]:
        outputs += [
            f"results/{dataset}/simulated/data.csv",
            f"results/{dataset}/simulated/truth.json",
        ]
    for strategy in strategies:
        outputs += [
            f"results/{dataset}/fits/{strategy}.nc",
            f"results/{dataset}/diagnostics/{strategy}.csv",
            f"results/{dataset}/figures/ppc_{strategy}.png",
            f"results/{dataset}/figures/trace_{strategy}.png",
        ]
    if has_shrinkage(strategies):
        outputs.append(f"results/{dataset}/figures/shrinkage.png")
    if "partial_pooling" in strategies:
        outputs.append(f"results/{dataset}/figures/group_level.png")
    if "test" in config["datasets"][dataset]:
        outputs += [
            f"results/{dataset}/data/test.csv",
            f"results/{dataset}/test_scores.csv",
            f"results/{dataset}/test_pointwise.csv",
            f"results/{dataset}/figures/test_scores.png",
        ]
    return outputs + pdfs_of(outputs)


def pdfs_of(paths):
    """The vector PDF every figure rule writes beside each PNG figure of `paths`."""
    return [path.removesuffix(".png") + ".pdf" for path in paths if path.endswith(".png")]


def get_final_outputs():
    return [path for dataset in DATASETS for path in get_dataset_outputs(dataset)]


def get_radon_url(wildcards):
    """One survey file's URL under `radon_source.url` (with or without a final /)."""
    return f"{config['radon_source']['url'].rstrip('/')}/{wildcards.radon_file}"


def get_radon_sha256(wildcards):
    return config["radon_source"]["sha256"][wildcards.radon_file]


def get_sbc_strategies():
    return [s for s in STRATEGIES if s in config["sbc"]["strategies"]]


def get_sbc_params(wildcards):
    """Everything that shapes one SBC shard's ranks (not `level`, which only the
    summary reads)."""
    sbc = config["sbc"]
    settings = {key: sbc[key] for key in ("chains", "warmup", "draws", "thin")}
    settings.update(target_accept=config["target_accept"], max_tree_depth=config["max_tree_depth"])
    if strategies.named(wildcards.strategy).estimates_tau:
        settings["parameterization"] = config["parameterization"]
    family = sbc["family"]
    design = {"family": family}
    if families.named(family).response == "proportion":
        design["trials"] = sbc["trials"]
    if "exposure" in sbc:
        design["exposure"] = sbc["exposure"]
    if "formula" in sbc:
        design["formula"] = sbc["formula"]
    return {
        **design,
        "groups": sbc["levels"] if "formula" in sbc else sbc["groups"],
        "group_size": sbc["group_size"],
        "priors": relevant_overrides(wildcards.strategy, sbc["priors"], family),
        "settings": settings,
        "seed": sbc["seed"],
        "simulations": sbc["simulations"],
        "shards": sbc["shards"],
    }


def get_sbc_shards(wildcards):
    return expand(
        "results/sbc/{strategy}/shards/{shard}.csv",
        strategy=wildcards.strategy,
        shard=range(config["sbc"]["shards"]),
    )


def get_sbc_outputs():
    return expand(
        "results/sbc/{strategy}/{output}",
        strategy=get_sbc_strategies(),
        output=["summary.csv", "ranks.csv", "ranks.png", "ecdf.png"],
    )


def get_kfold(dataset):
    """The top-level kfold settings with the dataset's own on top."""
    return {**config["kfold"], **config["datasets"][dataset].get("kfold", {})}


def get_kfold_strategies(dataset):
    """Strategies that can predict a new group (no pooling has no population)."""
    return [s for s in get_strategies(dataset) if strategies.named(s).has_population]


@functools.lru_cache
def _level_counts(path, mtime):
    """{grouping factor: levels} of a prepared CSV, read once per file version."""
    from pooling.data import level_counts  # not at parse time: `snakemake -n` stays fast

    return level_counts(path)


def get_kfold_factors(dataset):
    """{grouping factor: its folds}: the configured folds, or one per level (at most
    one per level), counted in the prepared data (labels as the fits see them: text,
    stripped) once the prepare_data checkpoint has run."""
    folds = get_kfold(dataset)["folds"]
    prepared = checkpoints.prepare_data.get(dataset=dataset).output[0]
    levels = _level_counts(prepared, os.path.getmtime(prepared))
    return {factor: n if folds is None else min(folds, n) for factor, n in levels.items()}


def get_kfold_files(dataset):
    return [
        f"results/{dataset}/kfold/{factor}/{strategy}/fold{fold}.csv"
        for factor, folds in get_kfold_factors(dataset).items()
        for strategy in get_kfold_strategies(dataset)
        for fold in range(folds)
    ]


def kfold_requested():
    """Whether `kfold` is among the command line's targets. The exact refits join the
    LOGO table when asked for, and stay in it once they exist."""
    return "kfold" in getattr(workflow.dag_settings, "targets", ())


def get_kfold_scores(wildcards):
    dataset = wildcards.dataset
    if not get_kfold_strategies(dataset):
        return []
    if kfold_requested() or os.path.isdir(f"results/{dataset}/kfold"):
        return get_kfold_files(dataset)
    return []


def get_kfold_outputs():
    return [
        f"results/{dataset}/{output}"
        for dataset in DATASETS
        if get_kfold_strategies(dataset)
        for output in ("logo_compare.csv", "figures/logo_compare.png")
    ]


def get_diagnostics(wildcards):
    return expand(
        "results/{dataset}/diagnostics/{strategy}.csv",
        dataset=wildcards.dataset,
        strategy=get_strategies(wildcards.dataset),
    )


def get_figure_pdfs(wildcards):
    return [p for p in get_dataset_outputs(wildcards.dataset) if p.endswith(".pdf")]


def get_paper_settings(wildcards):
    """The dataset's settings as its fits resolved them: its entry, with every sampler
    and storage key and the priors merged over the top-level ones."""
    dataset = wildcards.dataset
    entry = config["datasets"][dataset]
    keys = (*SAMPLER_KEYS, *STORAGE_KEYS, "strategies")
    return {
        **entry,
        **{key: get_setting(dataset, key) for key in keys},
        "family": get_family(dataset),
        "priors": {**config["priors"], **entry.get("priors", {})},
    }


def get_test_scores(wildcards):
    """Hook for the paper bundle: the held-out scores, where the dataset names a
    `test` set (its table then joins the bundle)."""
    if "test" in config["datasets"][wildcards.dataset]:
        return f"results/{wildcards.dataset}/test_scores.csv"
    return []


def get_test_data(wildcards):
    """Hook for the paper bundle's manifest: the held-out CSV as configured and as
    prepared for scoring, where the dataset names a `test` set."""
    if "test" in config["datasets"][wildcards.dataset]:
        return [get_test_csv(wildcards), f"results/{wildcards.dataset}/data/test.csv"]
    return []


def get_paper_sbc(wildcards):
    """SBC summaries for the methods text, once SBC is asked for or has been run (as
    the kfold refits join the LOGO table)."""
    requested = "sbc" in getattr(workflow.dag_settings, "targets", ())
    if requested or os.path.isdir("results/sbc"):
        return expand("results/sbc/{strategy}/summary.csv", strategy=get_sbc_strategies())
    return []


def get_paper_outputs():
    return [f"results/{dataset}/paper/manifest.json" for dataset in DATASETS]
