"""The whole workflow, run as a user runs it, on the shipped config with small sampler settings."""

import html as html_text
import json
import re
import zipfile

import arviz as az
import numpy as np
import pandas as pd
import pytest

from pooling.data import sha256

from helpers import planned_jobs, planned_outputs, read_config, snakemake, write_config

STRATEGIES = ["no_pooling", "complete_pooling", "partial_pooling"]
GROUPS = {"posterior", "sample_stats", "log_likelihood", "posterior_predictive",
          "prior", "prior_predictive", "observed_data", "constant_data"}


@pytest.fixture
def run(shipped_run):
    return shipped_run


def fit(run, dataset, strategy):
    return az.from_netcdf(run / "results" / dataset / "fits" / f"{strategy}.nc")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_fits_carry_every_group_real_labels_and_provenance(run, strategy):
    idata = fit(run, "eight_schools", strategy)
    # partial pooling also predicts a new school (pooling.newgroup), at the median se
    new_school = {"predictions", "predictions_constant_data"} if strategy == "partial_pooling" else set()
    assert set(idata.groups()) == GROUPS | new_school
    assert idata.posterior.sizes == {"chain": 2, "draw": 300, "group": 8}
    assert idata.posterior["group"].values.tolist() == list("ABCDEFGH")
    expected = {"no_pooling": {"theta"}, "complete_pooling": {"mu", "theta"},
                "partial_pooling": {"mu", "tau", "theta", "theta_z"}}[strategy]
    assert set(idata.posterior.data_vars) == expected  # known se: no sigma
    np.testing.assert_array_equal(idata.observed_data["y"], [28, 8, -3, 7, -1, 1, 18, 12])
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "obs")
    attrs = idata.attrs
    assert attrs["strategy"] == strategy and attrs["dataset"] == "eight_schools"
    assert attrs["data_sha256"] == sha256(run / "resources" / "eight_schools.csv")
    assert json.loads(attrs["fit_config"])["draws"] == 300
    assert int(attrs["seed"]) == 1
    assert json.loads(attrs["package_versions"])["numpyro"] == "0.22.0"
    assert json.loads(attrs["priors"])  # every fit records its resolved priors


def test_seed_example_makes_each_row_a_group_with_sigma(run):
    idata = fit(run, "seed", "no_pooling")
    assert idata.posterior["group"].values.tolist() == ["1", "2", "3", "4", "5"]
    assert "sigma" in idata.posterior


def test_simulated_data_come_from_the_configured_truth(run):
    truth = json.loads((run / "results/simulated/simulated/truth.json").read_text())
    design = read_config(run)["datasets"]["simulated"]["simulate"]
    assert (truth["mu"], truth["tau"], truth["sigma"]) == (design["mu"], design["tau"], design["sigma"])
    assert list(truth["group_sizes"].values()) == design["group_sizes"]
    posterior = fit(run, "simulated", "partial_pooling").posterior
    assert posterior["group"].values.tolist() == list(truth["theta"])
    for name in ("mu", "sigma"):  # 99% central intervals cover the truth
        low, high = np.quantile(posterior[name].values, [0.005, 0.995])
        assert low < truth[name] < high, name


def test_loo_table_compares_all_strategies(run):
    table = pd.read_csv(run / "results/eight_schools/loo_compare.csv", index_col=0)
    assert sorted(table.index) == sorted(STRATEGIES)
    assert {"rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse", "warning",
            "n_pareto_k_high"} <= set(table.columns)
    assert table["rank"].tolist() == [0, 1, 2]
    assert table["elpd_diff"].iloc[0] == 0 and (table["elpd_diff"].diff().dropna() >= 0).all()
    assert table["weight"].sum() == pytest.approx(1)
    # No pooling trusts each school's single noisy estimate: it predicts worst.
    assert table.index[-1] == "no_pooling"
    loos = {s: az.loo(fit(run, "eight_schools", s)) for s in STRATEGIES}
    for strategy, loo in loos.items():
        assert table.loc[strategy, "elpd_loo"] == pytest.approx(loo.elpd_loo, rel=1e-6)
        assert table.loc[strategy, "n_pareto_k_high"] == int((loo.pareto_k > loo.good_k).sum())


def test_diagnostics_flag_each_gate(run):
    table = pd.read_csv(run / "results/eight_schools/diagnostics/partial_pooling.csv", index_col=0)
    assert table.index.tolist() == ["mu", "tau"] + [f"theta[{s}]" for s in "ABCDEFGH"]
    assert (table["rhat_ok"] == (table["r_hat"] < 1.01)).all()
    assert (table["ess_bulk_ok"] == (table["ess_bulk"] > 400)).all()
    divergences = int(fit(run, "eight_schools", "partial_pooling").sample_stats["diverging"].sum())
    assert (table["divergences"] == divergences).all()
    gates = [c for c in table.columns if c.endswith("_ok")]
    assert (table["passed"] == table[gates].all(axis=1)).all()
    # 2 x 300 draws cannot reach a tail ESS of 400 for every theta: the gate must say so.
    assert not table["passed"].all()


def test_priors_table_lists_each_fits_resolved_priors(run):
    table = pd.read_csv(run / "results/eight_schools/priors.csv")
    partial = table[table["strategy"] == "partial_pooling"].set_index("parameter")
    assert partial.index.tolist() == ["mu", "tau"]
    assert partial.loc["mu", "prior"].startswith("normal(8.75, ")
    assert set(table["source"]) == {"default"}


def test_second_dry_run_has_nothing_to_do(run):
    result = snakemake(run, "-n", "--cores", "2")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_one_diagnose_job_per_dataset_makes_what_its_strategies_show(workdir):
    """A dataset's gates, traces, predictive checks, shrinkage and group-level figures
    come from one job, whose rule depends on the dataset's `strategies`: shrinkage needs
    no and partial pooling, the group-level figure partial pooling."""
    config = read_config(workdir)
    entry = config["datasets"]["eight_schools"]
    config["datasets"] = {"all": entry, "partial": {**entry, "strategies": ["partial_pooling"]},
                          "unpooled": {**entry, "strategies": ["complete_pooling", "no_pooling"]}}
    write_config(workdir, config)
    planned = [(rule, next(iter(outputs)).split("/")[1], outputs)
               for rule, outputs in planned_jobs(snakemake(workdir, "-n", "--cores", "2").stdout)
               if rule.startswith("diagnose")]
    jobs = {(rule, dataset): outputs for rule, dataset, outputs in planned}
    assert len(jobs) == len(planned)  # one diagnose job per dataset

    def made(dataset, strategies, figures):
        names = [f"figures/{kind}_{s}" for s in strategies for kind in ("ppc", "trace")] + \
                [f"figures/{figure}" for figure in figures]
        return ({f"results/{dataset}/diagnostics/{s}.csv" for s in strategies}
                | {f"results/{dataset}/{name}.{ext}" for name in names for ext in ("png", "pdf")})

    assert jobs == {
        ("diagnose", "all"): made("all", STRATEGIES, ["shrinkage", "group_level"]),
        ("diagnose_partial", "partial"): made("partial", ["partial_pooling"], ["group_level"]),
        ("diagnose_no_complete", "unpooled"): made("unpooled", ["no_pooling", "complete_pooling"], []),
    }


def test_changing_one_datasets_draws_reruns_only_that_dataset(run):
    config = read_config(run)
    config["datasets"]["eight_schools"]["draws"] = 200
    write_config(run, config)
    try:
        planned = planned_outputs(snakemake(run, "-n", "--cores", "2").stdout)
    finally:
        config["datasets"]["eight_schools"].pop("draws")
        write_config(run, config)
    assert planned, "changing draws must rerun something"
    assert all(path.startswith("results/eight_schools/") for path in planned), planned
    for strategy in STRATEGIES:
        assert f"results/eight_schools/fits/{strategy}.nc" in planned
        assert f"results/eight_schools/diagnostics/{strategy}.csv" in planned
    assert "results/eight_schools/loo_compare.csv" in planned
    assert "results/eight_schools/data/prepared.csv" not in planned


def test_report_archive_holds_every_figure_and_table(run):
    snakemake(run, "--report", "results/report.zip")
    with zipfile.ZipFile(run / "results/report.zip") as archive:
        names = [name.rsplit("/", 1)[-1] for name in archive.namelist()]
        html = archive.read("report/report.html").decode()
    for item in ("forest.png", "shrinkage.png", "loo_compare.png", "loo_compare.csv",
                 "priors.csv", "ppc_partial_pooling.png", "trace_no_pooling.png",
                 "complete_pooling.csv"):
        assert names.count(item) == 6, item  # one per dataset
    assert names.count("group_level.png") == 6
    assert names.count("truth.json") == 1
    for dataset in ("seed", "eight_schools", "efron_morris", "sleepstudy", "pastes", "simulated"):
        assert f"Shrinkage in {dataset}:" in html  # captions rendered per dataset
    assert front_page_models(html) == {
        "seed": "response y; family gaussian",
        "eight_schools": "response y, group school; family gaussian",
        "efron_morris": "p(hits, at_bats) ~ 1 + (1 | player); family binomial",
        "sleepstudy": "Reaction ~ Days + (1 + Days | Subject); family gaussian",
        "pastes": "strength ~ 1 + (1 | batch/cask); family gaussian",
        "simulated": "response y, group group; family gaussian",
    }


def test_deeper_hierarchies_go_through_every_stage(run):
    """The shipped varying-slopes (sleepstudy) and nested (Pastes) datasets: their fits
    carry the factors' parameters with the real labels, and leave-one-group-out is
    scored per factor, partial pooling best at predicting a new batch and a new cask."""
    posterior = fit(run, "sleepstudy", "partial_pooling").posterior
    assert posterior["corr"].sel(term="1", term_="Days").dims == ("chain", "draw")
    assert posterior["slope"].dims == ("chain", "draw", "group", "varying")
    assert list(posterior["varying"].values) == ["Days"]
    nested = fit(run, "pastes", "partial_pooling").posterior
    assert list(nested["batch"].values) == list("ABCDEFGHIJ")
    assert list(nested["group"].values[:3]) == ["A:a", "A:b", "A:c"]
    logo = pd.read_csv(run / "results/pastes/logo_compare.csv")
    scored = logo.dropna(subset=["elpd_psis"])
    assert sorted(set(scored["factor"])) == ["batch", "batch:cask"]
    best = scored.loc[scored.groupby("factor")["elpd_psis"].idxmax(), "strategy"]
    assert set(best) == {"partial_pooling"}
    groups = pd.read_csv(run / "results/pastes/logo_groups.csv", keep_default_na=False)
    assert len(groups[(groups["factor"] == "batch") & (groups["strategy"] == "partial_pooling")]) == 10
    # a new batch (with a new cask in it) and a new cask of a known batch; a new subject's slope
    predictions = fit(run, "pastes", "partial_pooling").predictions
    assert list(predictions["new_level"].values) == ["batch", "batch:cask"]
    assert predictions["y"].sizes == {"chain": 2, "draw": 300, "new_level": 2}
    spread = predictions["theta"].std(("chain", "draw")).values
    assert spread[0] > spread[1]  # a new batch varies by the batch sd as well as the cask sd
    slopes = fit(run, "sleepstudy", "partial_pooling").predictions
    assert slopes["slope"].dims == ("chain", "draw", "new_level", "varying")


def front_page_models(html):
    """The report front page's list of models, {dataset: "model; family f"} as text: the page
    is docutils HTML (a literal's words in separate spans) held in a JSON string."""
    description = json.loads(re.search(r"var workflow_desc = (\".*?\");\n", html).group(1))
    items = (re.sub(r"\s+", " ", html_text.unescape(re.sub(r"<[^>]+>", "", item))).strip()
             for item in re.findall(r"<li>(.*?)</li>", description, re.S))
    return dict(item.split(": ", 1) for item in items)
