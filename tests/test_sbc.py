"""Simulation-based calibration: ranks of the truth among the posterior draws are
uniform when the fitted model is the simulating one, for one varying intercept and for
deeper hierarchies (sbc.formula), and the same test fails when it is not (so the check
can fail)."""

import zipfile

import pandas as pd
import pytest

from pooling.config import ConfigError, check_entries
from pooling.sbc import quantities, run
from pooling.sbcdesign import design
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


# Deeper hierarchies (config/README.md, SBC): the priors of tests/test_hierarchy.py's recovery.
STRUCTURED_PRIORS = {"mu": "normal(0, 1)", "beta": "normal(0, 1)", "tau": "exponential(1)",
                     "tau_slope": "exponential(2)", "corr": "lkj(2)", "tau_batch": "exponential(1)",
                     "sigma": "exponential(1)"}
# structure -> (design, the quantities ranked)
STRUCTURED = {
    "varying slopes": (dict(formula="y ~ x + (1 + x | g)", groups={"g": 8}, group_size=5),
                       ["mu", "tau", "tau_slope[0]", "corr[0,1]", "beta[0]", "sigma", "theta[0]", "slope[0,0]",
                        "log_lik"]),
    "three levels": (dict(formula="y ~ 1 + (1 | batch/cask)", groups={"batch": 4, "cask": 3}, group_size=3),
                     ["mu", "tau_batch", "tau", "sigma", "theta[0]", "log_lik"]),
}
# One chain and a short warmup: compiling the batched program is most of each case's time.
STRUCTURED_SETTINGS = dict(chains=1, warmup=100, draws=19, thin=3, target_accept=0.9, max_tree_depth=8)
STRUCTURED_LEVEL = 1 - 0.05 / sum(len(names) for _, names in STRUCTURED.values())


@pytest.mark.parametrize("structure", STRUCTURED)
def test_ranks_are_uniform_for_deeper_hierarchies(structure):
    """Partial pooling of a correlated varying slope, and of cells in casks in batches:
    every population parameter, the first cell's coefficients and the log-likelihood
    rank uniformly (Bonferroni over both designs' quantities)."""
    structured_design, expected = STRUCTURED[structure]
    ranks = run("partial_pooling", **structured_design, priors=STRUCTURED_PRIORS,
                settings=STRUCTURED_SETTINGS, simulations=range(60), seed=1)
    summary = summarize(ranks, STRUCTURED_LEVEL).set_index("quantity")
    assert list(summary.index) == expected
    assert summary["uniform"].all(), summary.to_string()


def test_a_formula_design_crosses_its_levels_and_draws_its_predictors_once():
    """Nested labels make a group per parent (12 casks), crossed factors a cell per pair;
    the predictors depend on the seed only, so every simulation and shard sees them."""
    nested = design({"a": 4, "b": 3}, 2, formula="y ~ 1 + (1 | a/b)")
    assert nested.n_groups == 12 and nested.group_sizes.tolist() == [2] * 12
    assert [(f.name, f.n_levels, f.finest) for f in nested.factors] == [("a", 4, False), ("a:b", 12, True)]
    crossed = design({"a": 4, "b": 3}, 2, formula="y ~ x + (1 | a) + (1 + x | b)", seed=5)
    assert [(f.name, f.terms, f.n_levels, f.finest) for f in crossed.factors] == [
        ("a", ("1",), 4, False), ("b", ("1", "x"), 3, False)]
    assert crossed.n_groups == 12 and crossed.X.shape == (24, 1)
    again = design({"a": 4, "b": 3}, 2, formula="y ~ x + (1 | a) + (1 + x | b)", seed=5)
    assert (again.X == crossed.X).all() and (again.Z == crossed.X).all()
    assert quantities("partial_pooling", data=crossed) == (
        "mu", "tau_a", "tau_b", "tau_slope_b[0]", "corr_b[0,1]", "beta[0]", "sigma", "theta[0]", "slope[0,0]")
    assert quantities("no_pooling", data=crossed) == ("theta[0]", "slope[0,0]", "sigma")


@pytest.mark.parametrize(("sbc", "message"), [
    ({"formula": "y ~ x + (1 + x | g)", "levels": {"h": 8}},
     "sbc.levels: no number of labels for grouping column 'g' of sbc.formula 'y ~ x + (1 + x | g)'; "
     "give one per grouping column, e.g. levels: {g: 4}"),
    ({"formula": "y ~ 1 + (1 | a/b)", "levels": {"a": 4}},
     "sbc.levels: no number of labels for grouping column 'b' of sbc.formula 'y ~ 1 + (1 | a/b)'; "
     "give one per grouping column, e.g. levels: {a: 4, b: 4}"),
    ({"formula": "y ~ 1 + (1 | a)", "levels": {"a": 4, "b": 3}},
     "sbc.levels.b: not a grouping column of sbc.formula 'y ~ 1 + (1 | a)' (those are a); remove it"),
    ({"formula": "y ~ 1 + (1 | batch/cask)", "levels": {"batch": 4, "cask": 3},
      "priors": {"tau_county": "exponential(1)"}},
     "sbc.priors.tau_county: unknown parameter; priors can be set for mu, tau, tau_slope, corr, beta, gamma, "
     "theta, slope, sigma, nu, alpha, and a grouping factor's tau, tau_slope and corr with its name appended "
     "(tau_county)"),
    ({"levels": {"g": 8}},
     "sbc.levels: gives the labels of sbc.formula's grouping columns, and there is no sbc.formula; "
     "add one, or use sbc.groups"),
])
def test_a_formula_and_levels_that_do_not_match_are_one_line_naming_the_key(sbc, message):
    with pytest.raises(ConfigError) as error:
        check_entries({"datasets": {}, "sbc": sbc})
    assert str(error.value) == message


def test_a_formula_design_without_a_prior_stops_the_run_before_any_job(tmp_path):
    """The design is built before any job to know the priors its fits read; the schema
    takes a factor's prior names (tau_slope, corr, tau_batch)."""
    from conftest import copy_workflow

    workdir = copy_workflow(tmp_path)
    config = read_config(workdir)
    config["sbc"] = {"strategies": ["partial_pooling"], "formula": "y ~ 1 + (1 | batch/cask)",
                     "levels": {"batch": 4, "cask": 3},
                     "priors": {name: text for name, text in STRUCTURED_PRIORS.items() if name != "tau_batch"}}
    write_config(workdir, config)
    result = snakemake(workdir, "-n", "--cores", "1", "sbc", check=False)
    assert result.returncode != 0
    assert [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Invalid")] == [
        "Invalid config (config/config.yaml): sbc.priors: no prior for tau_batch (partial_pooling); SBC draws "
        "the truth from the prior, so give every parameter one"]
