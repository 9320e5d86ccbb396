"""Predictions for a new group (pooling.newgroup): a new level of each grouping factor
drawn from the fitted population, a fresh draw per posterior draw (brms's
sample_new_levels = "gaussian"), stored as every partial-pooling fit's `predictions`.

The draws are checked against the distribution they must follow given each posterior
draw: with D = 40,000 draws a standardized effect's mean is within 4/sqrt(D) = 0.02 of
0 and its variance within 4 sqrt(2/D) = 0.028 of 1 (four Monte Carlo standard errors)."""

import arviz as az
import jax
import numpy as np
import pandas as pd
import pytest

from pooling import families
from pooling.data import load_prepared, prepare
from pooling.fit import new_level_predictions as new_level_predictions_of_fit
from pooling.fit import sample
from pooling.newgroup import new_level_coefficients, new_level_predictions, typical

from conftest import ROOT

D = 40_000
MEAN_TOLERANCE = 4 / np.sqrt(D)
VARIANCE_TOLERANCE = 4 * np.sqrt(2 / D)


def prepared(tmp_path, frame, formula, family="gaussian"):
    source, path = tmp_path / "source.csv", tmp_path / "prepared.csv"
    frame.to_csv(source, index=False)
    prepare(str(source), formula=formula, family=family).to_csv(path, index=False)
    return load_prepared(path)


def population(rng, **scales):
    """Flat posterior draws: mu and every named scale, each varying over draws."""
    return {"mu": rng.normal(1.0, 0.3, D), **{name: rng.uniform(0.5, 2.0, (D, *np.shape(s))) * s
                                              for name, s in scales.items()}}


def assert_standard_normal(values):
    assert abs(values.mean()) < MEAN_TOLERANCE
    assert abs(values.var() - 1) < VARIANCE_TOLERANCE


@pytest.fixture
def nested(tmp_path):
    frame = pd.DataFrame({"y": np.arange(12.0) % 5, "batch": np.repeat(["A", "B", "C"], 4),
                          "cask": np.tile(["a", "a", "b", "b"], 3)})
    return prepared(tmp_path, frame, "y ~ 1 + (1 | batch/cask)")


def test_a_new_batch_brings_a_new_cask_and_a_new_cask_keeps_the_batch_at_its_mean(nested):
    rng = np.random.default_rng(0)
    p = population(rng, tau=1.0, tau_batch=3.0)
    theta = new_level_coefficients(p, nested, seed=1)[..., 0]
    assert theta.shape == (D, 2)  # one new level per factor: batch, batch:cask
    assert_standard_normal((theta[:, 0] - p["mu"]) / np.hypot(p["tau"], p["tau_batch"]))
    assert_standard_normal((theta[:, 1] - p["mu"]) / p["tau"])
    # a fresh draw per posterior draw: the new levels' effects are independent
    assert abs(np.corrcoef(theta[:, 0] - p["mu"], theta[:, 1] - p["mu"])[0, 1]) < MEAN_TOLERANCE


def test_correlated_intercept_and_slope_follow_the_fitted_covariance(tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"y": rng.normal(size=20), "x": rng.normal(size=20), "g": np.repeat(list("abcde"), 4)})
    data = prepared(tmp_path, frame, "y ~ x + (1 + x | g)")
    rho = rng.uniform(-0.9, 0.9, D)
    corr = np.stack([np.stack([np.ones(D), rho], -1), np.stack([rho, np.ones(D)], -1)], -2)
    p = {**population(rng, tau=1.0, tau_slope=np.ones(1)), "beta": rng.normal(0.5, 0.1, (D, 1)), "corr": corr}
    coefficients = new_level_coefficients(p, data, seed=3)
    u = (coefficients[:, 0, 0] - p["mu"]) / p["tau"]
    v = (coefficients[:, 0, 1] - p["beta"][:, 0]) / p["tau_slope"][:, 0]
    # given each draw, (u, v) is standard bivariate normal with correlation rho
    assert_standard_normal(u)
    assert_standard_normal((v - rho * u) / np.sqrt(1 - rho**2))
    assert abs(np.mean(u * v - rho)) < 4 * np.sqrt(2 / D)


def test_a_new_observation_is_drawn_at_the_typical_row_from_the_family(tmp_path):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"hits": rng.integers(0, 10, 12), "n": [10, 10, 20, 20, 30, 30] * 2,
                          "x": rng.normal(size=12), "g": np.repeat(list("abcd"), 3)})
    data = prepared(tmp_path, frame, "p(hits, n) ~ x + (1 | g)", family="binomial")
    p = {**population(rng, tau=1.0), "beta": rng.normal(0.5, 0.1, (D, 1))}
    predicted, row = new_level_predictions(p, data, families.named("binomial"), 5, jax.random.PRNGKey(0))
    assert row["trials"] == 20 and row["X"] == pytest.approx([frame["x"].mean()])
    probability = 1 / (1 + np.exp(-(predicted["theta"][:, 0] + p["beta"][:, 0] * row["X"][0])))
    # successes out of the median trials: E = 20 p and Var = 20 p (1 - p) given each draw
    assert_standard_normal((predicted["y"][:, 0] - 20 * probability) / np.sqrt(20 * probability * (1 - probability)))


def test_categorical_indicators_take_the_reference_level_and_numbers_their_mean():
    values = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 4.0]])
    assert typical(["C(site)[b]", "site[c]", "x"], values).tolist() == [0.0, 0.0, 3.0]


@pytest.fixture(scope="module")
def fit():
    """Partial pooling of eight schools (known standard errors), and its prepared data."""
    data = load_prepared_eight_schools()
    settings = dict(chains=2, warmup=200, draws=200, target_accept=0.9, seed=11, max_tree_depth=10)
    return sample(data, "partial_pooling", settings)[0], data, settings


def load_prepared_eight_schools():
    import tempfile

    path = tempfile.mktemp(suffix=".csv")
    prepare(str(ROOT / "resources" / "eight_schools.csv"), response="y", group="school", se="se").to_csv(
        path, index=False)
    return load_prepared(path)


def test_every_partial_pooling_fit_stores_a_new_school_one_az_summary_away(fit):
    idata = fit[0]
    summary = az.summary(idata, group="predictions", kind="stats")
    assert list(summary.index) == ["theta[group]", "y[group]"]
    theta = idata.predictions["theta"].sel(new_level="group").values
    mu, tau = idata.posterior["mu"].values, idata.posterior["tau"].values
    z = (theta - mu) / tau  # 400 draws: mean within 4/sqrt(400) of 0
    assert abs(z.mean()) < 0.2 and abs(z.var() - 1) < 4 * np.sqrt(2 / 400)
    se = float(idata.predictions_constant_data["se"])
    assert se == pytest.approx(np.median(idata.constant_data["se"].values))
    w = (idata.predictions["y"].values[..., 0] - theta) / se
    assert abs(w.mean()) < 0.2 and abs(w.var() - 1) < 4 * np.sqrt(2 / 400)


def test_new_group_draws_are_reproducible_for_a_seed(fit):
    idata, data, settings = fit

    class Draws:  # the fit's draws as the MCMC object gave them
        @staticmethod
        def get_samples():
            return {name: v.values.reshape(-1, *v.shape[2:]) for name, v in idata.posterior.items()}

    # recomputed from the stored float32 draws: equal to float32 rounding
    again = new_level_predictions_of_fit(Draws, data, settings)["predictions"]
    for name in ("theta", "y"):
        np.testing.assert_allclose(again[name], idata.predictions[name], rtol=1e-4, atol=1e-4)
    other = new_level_predictions_of_fit(Draws, data, {**settings, "seed": 12})["predictions"]
    assert not other["theta"].equals(idata.predictions["theta"])
