"""The `simulate:` datasets: gaussian data as before families existed, and every other
family's responses from the right distribution given the truth on the link scale."""

import re

import numpy as np
import pytest
from scipy import special

from pooling.data import prepare
from pooling.errors import PoolingError
from pooling.simulate import simulate, simulate_to_files

DESIGN = dict(groups=4, group_sizes=[2000, 3000, 2500, 4000], seed=7)


def test_gaussian_data_are_drawn_as_before_families():
    """Same generator calls in the same order: a config's simulated data do not change."""
    table, truth = simulate(groups=3, group_sizes=[1, 2, 3], mu=5.0, tau=2.0, sigma=4.0, seed=2026)
    rng = np.random.default_rng(2026)
    theta = rng.normal(5.0, 2.0, size=3)
    assert table["y"].tolist() == rng.normal(theta[[0, 1, 1, 2, 2, 2]], 4.0).tolist()
    assert list(table.columns) == ["group", "y"]
    assert list(truth) == ["mu", "tau", "sigma", "seed", "theta", "group_sizes"]


def _group_means(table):
    return table.groupby("group", sort=False)["y"].agg(["mean", "var"])


def test_binomial_successes_follow_the_logit_of_theta():
    table, truth = simulate(**DESIGN, mu=0.5, tau=1.0, family="binomial", trials=20)
    assert table["y"].dtype.kind == "i" and table["y"].between(0, 20).all()
    assert (table["trials"] == 20).all()
    assert truth["family"] == "binomial" and truth["trials"] == 20
    share = _group_means(table)["mean"] / 20
    np.testing.assert_allclose(share, special.expit(list(truth["theta"].values())), atol=0.01)


def test_bernoulli_rows_are_single_trials():
    table, truth = simulate(**DESIGN, mu=0.0, tau=1.0, family="bernoulli")
    assert set(table["y"]) == {0, 1} and list(table.columns) == ["group", "y"]
    np.testing.assert_allclose(_group_means(table)["mean"], special.expit(list(truth["theta"].values())),
                               atol=0.03)


def test_poisson_counts_scale_with_the_exposure():
    table, truth = simulate(**DESIGN, mu=1.0, tau=0.5, family="poisson", exposure=3.0)
    assert (table["exposure"] == 3.0).all() and truth["exposure"] == 3.0
    moments = _group_means(table)
    expected = 3.0 * np.exp(list(truth["theta"].values()))
    np.testing.assert_allclose(moments["mean"], expected, rtol=0.03)
    np.testing.assert_allclose(moments["var"], expected, rtol=0.1)


def test_negative_binomial_variance_has_the_quadratic_term():
    table, truth = simulate(**DESIGN, mu=2.0, tau=0.5, family="negativebinomial", alpha=2.0)
    assert truth["alpha"] == 2.0
    moments = _group_means(table)
    mean = np.exp(list(truth["theta"].values()))
    np.testing.assert_allclose(moments["mean"], mean, rtol=0.05)
    np.testing.assert_allclose(moments["var"], mean + mean**2 / 2.0, rtol=0.15)


def test_t_residuals_have_the_t_scale():
    table, truth = simulate(**DESIGN, mu=0.0, tau=1.0, family="t", sigma=2.0, nu=5.0)
    residual = table["y"] - table["group"].map(truth["theta"])
    assert list(truth)[:5] == ["mu", "tau", "sigma", "nu", "seed"]
    np.testing.assert_allclose(residual.var(), 4.0 * 5.0 / 3.0, rtol=0.1)


@pytest.mark.parametrize(("design", "formula", "column", "expected"), [
    (dict(family="binomial", trials=20), "p(y, trials) ~ 1 + (1 | group)", "trials", 20.0),
    (dict(family="poisson", exposure=2.5), "y ~ 1 + offset(log(exposure)) + (1 | group)", "offset", np.log(2.5)),
])
def test_simulated_files_prepare_with_the_documented_formula(tmp_path, design, formula, column, expected):
    """The columns a `simulate:` dataset writes are what its formula names."""
    simulate_to_files(dict(groups=3, group_sizes=[2, 3, 4], mu=1.0, tau=1.0, seed=1, **design),
                      tmp_path / "data.csv", tmp_path / "truth.json")
    prepared = prepare(tmp_path / "data.csv", formula=formula, family=design["family"])
    assert len(prepared) == 9
    np.testing.assert_allclose(prepared[column], expected, rtol=1e-6)


@pytest.mark.parametrize(("design", "message"), [
    (dict(family="poisson", trials=10), "simulate.trials: family binomial needs trials"),
    (dict(family="binomial"), "simulate.trials: family binomial needs trials"),
    (dict(family="bernoulli", exposure=2.0), "simulate.exposure: only the count families"),
    (dict(family="gaussian"), "simulate: family gaussian needs exactly its auxiliary parameters: sigma (got none)"),
    (dict(family="t", sigma=1.0), "parameters: sigma, nu (got sigma)"),
    (dict(family="poisson", sigma=1.0), "parameters: none (got sigma)"),
    (dict(family="gamma"), "simulate.family: unknown family 'gamma'"),
])
def test_a_design_the_family_would_not_read_is_an_error(design, message):
    with pytest.raises(PoolingError, match=re.escape(message)):
        simulate(groups=2, group_sizes=3, mu=0.0, tau=1.0, seed=1, **design)
