"""Simulation-based calibration: ranks of the truth among the posterior draws are
uniform when the fitted model is the simulating one, and the same test fails when it
is not (so the check can fail)."""

import zipfile

import pandas as pd

from pooling.sbc import quantities, run
from pooling.uniformity import summarize

from helpers import read_config, snakemake, write_config

PRIORS = {"mu": "normal(0, 5)", "theta": "normal(0, 5)", "tau": "halfnormal(2)", "sigma": "halfnormal(3)"}
SETTINGS = dict(chains=2, warmup=300, draws=49, thin=4, target_accept=0.95, max_tree_depth=10)
DESIGN = dict(groups=6, group_size=4)
# Five quantities tested at once: a 99% band each keeps the chance of any false alarm
# for a calibrated model near 5% (Bonferroni).
LEVEL = 0.99


def test_ranks_are_uniform_for_the_simulating_model():
    ranks = run("partial_pooling", **DESIGN, priors=PRIORS, settings=SETTINGS,
                simulations=range(50), seed=11)
    assert len(ranks) == 50 * 5
    assert ranks["rank"].between(0, 49).all()
    summary = summarize(ranks, LEVEL).set_index("quantity")
    assert list(summary.index) == [*quantities("partial_pooling"), "log_lik"]
    assert summary["uniform"].all(), summary.to_string()
    assert (summary["median_ess_bulk"] > 49).all(), "thinning should leave nearly independent draws"


def test_a_prior_unlike_the_simulating_one_fails_the_same_test():
    """Fitting with mu ~ normal(3, 1) what was simulated with mu ~ normal(0, 5): the
    posterior of mu is pulled towards 3, so mu's ranks pile up at one end."""
    wrong = {**PRIORS, "mu": "normal(3, 1)"}
    ranks = run("partial_pooling", **DESIGN, priors=PRIORS, settings=SETTINGS,
                simulations=range(50), seed=11, fit_priors=wrong)
    summary = summarize(ranks, LEVEL).set_index("quantity")
    assert not summary.loc["mu", "uniform"]
    assert summary.loc["mu", "chi2_pvalue"] < 1e-6


def test_sbc_target_runs_sharded_and_matches_one_batch(tmp_path):
    """`snakemake sbc` with two shards gives the same ranks as one batch of the same
    simulations: a simulation's truth, data and fit depend only on its index."""
    from conftest import copy_workflow

    workdir = copy_workflow(tmp_path)
    config = read_config(workdir)
    config["sbc"] = {"strategies": ["complete_pooling"], "simulations": 10, "shards": 2,
                     **DESIGN, "chains": 2, "warmup": 300, "draws": 49, "thin": 4, "seed": 5}
    write_config(workdir, config)
    snakemake(workdir, "--cores", "2", "sbc")
    out = workdir / "results" / "sbc" / "complete_pooling"
    ranks = pd.read_csv(out / "ranks.csv")
    assert sorted(ranks["simulation"].unique()) == list(range(10))
    batch = run("complete_pooling", **DESIGN, priors=PRIORS, settings={**SETTINGS, "warmup": 300},
                simulations=range(10), seed=5)
    merged = ranks.merge(batch, on=["simulation", "quantity"], suffixes=("", "_batch"))
    assert len(merged) == 30
    assert (merged["rank"] == merged["rank_batch"]).all()
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["quantity"]) == ["mu", "sigma", "log_lik"]
    assert (summary["simulations"] == 10).all()
    assert not (workdir / "results" / "sbc" / "partial_pooling").exists()
    assert snakemake(workdir, "--cores", "2", "sbc", "-n").stdout.count("sbc_shard") == 0
    snakemake(workdir, "--report", "report.zip", "sbc")
    names = {name.rsplit("/", 1)[-1] for name in zipfile.ZipFile(workdir / "report.zip").namelist()}
    assert {"ranks.csv", "summary.csv", "ranks.png", "ecdf.png"} <= names
