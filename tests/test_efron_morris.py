"""Efron & Morris (1975): 18 batters' hits in their first 45 at-bats of 1970, binomial with a
logit link. Partial pooling reproduces the published partial-pooling posteriors (rstanarm's
pooling vignette; Bob Carpenter's Stan case study), shrinks as much as the James-Stein
estimate, and no and complete pooling match their exact posteriors.

The published numbers and their sources are in tests/data/efron_morris_published.csv and
tests/data/README.md. Every tolerance is stated where it is used: the published rounding
plus 4 combined Monte Carlo standard errors (MCSE), plus any prior difference."""

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import special, stats

from pooling.data import load_prepared, prepare
from pooling.fit import sample

from conftest import ROOT

RESOURCE = ROOT / "resources" / "efron_morris.csv"
PUBLISHED = ROOT / "tests" / "data" / "efron_morris_published.csv"
FORMULA = "p(hits, at_bats) ~ 1 + (1 | player)"
SETTINGS = dict(chains=4, warmup=1000, draws=1000, target_accept=0.95, seed=1, max_tree_depth=10,
                parameterization="noncentered", family="binomial", priors={})
# The Stan case study's hier-logit.stan: mu ~ normal(-1, 1), sigma (our tau) ~ normal(0, 1) on
# sigma > 0. rstanarm's stan_glmer with prior_intercept = normal(-1, 1) and the default decov()
# is mu ~ normal(-1, 1), tau ~ exponential(1): our defaults (mu ~ normal(logit(215/810) = -1.018,
# 2.5), tau ~ exponential(1)) but for mu's prior, whose pull is below 1e-4 on the probability
# scale (the data give mu a posterior sd of 0.09, i.e. ~120 times the prior's precision).
CASE_STUDY_PRIORS = {"mu": "normal(-1, 1)", "tau": "halfnormal(1)"}
POOLED = 215 / 810  # hits / at-bats over all 18 players


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("efron_morris") / "prepared.csv"
    prepare(str(RESOURCE), formula=FORMULA, family="binomial").to_csv(path, index=False)
    return load_prepared(path)


@pytest.fixture(scope="module")
def published():
    return pd.read_csv(PUBLISHED)


@pytest.fixture(scope="module")
def fits(data):
    runs = {"partial": ("partial_pooling", {}), "case_study": ("partial_pooling", CASE_STUDY_PRIORS),
            "no": ("no_pooling", {}), "complete": ("complete_pooling", {})}
    return {name: sample(data, strategy, {**SETTINGS, "priors": priors})[0]
            for name, (strategy, priors) in runs.items()}


def chance(idata):
    """Each player's chance of a hit, inv_logit(theta), as a Dataset az.mcse can read."""
    return xr.Dataset({"p": special.expit(idata.posterior["theta"])})


def quantile(draws, q):
    return draws["p"].quantile(q, ("chain", "draw")).values


def mcse(draws, q=None, name="p"):
    """MCSE (per player for p) of the mean (q None) or of the q-quantile."""
    kind = dict(method="mean") if q is None else dict(method="quantile", prob=q)
    return az.mcse(draws, var_names=[name], **kind)[name].values


def exact_posterior(hits, trials, loc, scale):
    """Mean and quantile function of inv_logit(eta) for `hits` of `trials` under a normal(loc,
    scale) prior on eta, by quadrature on a grid 0.0004 wide (sd of eta here >= 0.07)."""
    eta = np.linspace(-10, 6, 40_001)
    log_density = stats.norm.logpdf(eta, loc, scale) + hits * eta - trials * np.logaddexp(0, eta)
    weights = np.exp(log_density - log_density.max())
    weights /= weights.sum()
    cdf = np.cumsum(weights)
    return weights @ special.expit(eta), lambda q: special.expit(eta[np.searchsorted(cdf, q)])


def test_resource_holds_the_published_data(data, published):
    table = pd.read_csv(RESOURCE)
    columns = ["player", "hits", "remaining_hits", "remaining_at_bats"]
    pd.testing.assert_frame_equal(table[columns], published[columns])
    assert (table["at_bats"] == 45).all() and table["hits"].sum() == 215
    assert data.group_labels == published["player"].tolist()
    assert data.y.tolist() == published["hits"].tolist() and (data.trials == 45).all()


def test_published_pooling_summaries_are_the_models_we_name(published):
    """rstanarm's no-pooling medians and complete-pooling 10/50/90% quantiles are those of a
    normal(-1, 1) prior on each logit, unscaled (read from its 4,000 draws): tolerance 0.0005
    rounding + 4 MCSE of a median of 4,000 draws, 1.25 sd / sqrt(4000) <= 0.0014."""
    for hits, median in zip(published["hits"], published["rstanarm_nopool_median"]):
        assert abs(exact_posterior(hits, 45, -1, 1)[1](0.5) - median) < 0.0005 + 4 * 0.0014
    exact = exact_posterior(215, 810, -1, 1)[1]
    for q, value in ((0.1, 0.246), (0.5, 0.265), (0.9, 0.285)):  # the vignette's complete pooling
        assert abs(exact(q) - value) < 0.0005 + 4 * 1.25 * 0.015 / np.sqrt(4000)


def test_partial_pooling_reproduces_rstanarm(fits, published):
    """Default priors against rstanarm's 10%, 50% and 90% posterior quantiles of each chance of
    success (3 decimals, 4 chains x 1,000 draws). Tolerance: 0.0005 rounding + 4 combined
    MCSE, theirs taken equal to ours (same posterior, same number of draws). The two models
    differ only in mu's prior, whose effect is below 1e-4 (see CASE_STUDY_PRIORS). Complete
    pooling likewise against the vignette's 0.246, 0.265, 0.285."""
    partial, complete = chance(fits["partial"]), chance(fits["complete"])
    for q, label, pooled in ((0.1, "q10", 0.246), (0.5, "median", 0.265), (0.9, "q90", 0.285)):
        for draws, theirs in ((partial, published[f"rstanarm_{label}"].to_numpy()), (complete, pooled)):
            ours, tolerance = quantile(draws, q), 0.0005 + 4 * np.sqrt(2) * mcse(draws, q)
            assert (abs(ours - theirs) < tolerance).all(), f"q{q}: {ours.round(4)} vs {theirs}"


def test_partial_pooling_reproduces_the_stan_case_study(fits, published):
    """With the case study's priors, against its posterior means and medians (2 decimals, 4 x
    2,500 draws, n_eff 10,000 for each theta, so MCSE sd / 100 for a mean and 1.25 sd / 100
    for a median). Tolerance: 0.005 rounding + 4 combined MCSE (ours about 0.0006)."""
    draws = chance(fits["case_study"])
    sd = draws["p"].std(("chain", "draw")).values
    for ours, theirs, mcse_ours, mcse_theirs in (
        (draws["p"].mean(("chain", "draw")).values, published["stan_mean"], mcse(draws), sd / 100),
        (quantile(draws, 0.5), published["stan_median"], mcse(draws, 0.5), 1.25 * sd / 100),
    ):
        tolerance = 0.005 + 4 * np.hypot(mcse_ours, mcse_theirs)
        assert (abs(ours - theirs) < tolerance).all(), f"{ours.round(4)} vs {theirs.tolist()}"
    # mu: mean -1.03 (sd 0.09, n_eff 10,000); sigma: mean 0.17, median 0.15 (sd 0.11, n_eff 4,084)
    posterior = fits["case_study"].posterior
    for name, q, published_value, mcse_theirs in (("mu", None, -1.03, 0.0009), ("tau", None, 0.17, 0.0017),
                                                  ("tau", 0.5, 0.15, 1.25 * 0.0017)):
        ours = float(posterior[name].mean() if q is None else posterior[name].quantile(q))
        tolerance = 0.005 + 4 * np.hypot(mcse(posterior, q, name), mcse_theirs)
        assert abs(ours - published_value) < tolerance, f"{name}: {ours:.3f} vs {published_value}"


def test_the_case_study_priors_move_the_estimates_less_than_its_rounding(fits):
    """halfnormal(1) instead of exponential(1) for tau (and mu's prior) changes each posterior
    mean chance by at most 0.0021 (4 x 2,500 draws; Clemente and Alvis, the extremes), 0.0021
    to 0.0028 with the test's draws and their Monte Carlo error: below the case study's
    rounding (0.005), which the assertion uses as the bound."""
    default, case_study = (chance(fits[name])["p"].mean(("chain", "draw")).values for name in ("partial", "case_study"))
    assert np.abs(default - case_study).max() < 0.005


def test_partial_pooling_shrinks_like_james_stein(fits, published):
    """Efron & Morris (1977): the James-Stein estimate ybar + c (y - ybar), c = 0.212, shrinks
    each average 79% of the way to the grand mean and is 3.5 times as accurate as the raw
    averages for the rest of the season (total squared error 0.022 vs 0.077). Measured here
    (seeds 1 and 2, and 4 x 2,500 draws): the posterior means keep 0.165 to 0.233 of each
    player's distance from the pooled mean (MCSE of that factor up to 0.02), lie within 0.0037
    of the James-Stein estimates (correlation 0.9993 to 0.9997) and have total squared error
    0.0212, against James-Stein's 0.0213 and the raw averages' 0.0753. The bounds below leave
    room for Monte Carlo error, not for a different shrinkage."""
    mean = chance(fits["partial"])["p"].mean(("chain", "draw")).values
    raw = published["hits"].to_numpy() / 45
    james_stein = published["james_stein"].to_numpy()
    # between the raw average and the pooled mean; Alvarado's 12/45 is 0.0012 from the pooled
    # mean, too close for a ratio (its MCSE would be 0.0005 / 0.0012 = 0.4), so only near it
    far = np.abs(raw - POOLED) > 0.02
    factor = (mean[far] - POOLED) / (raw[far] - POOLED)
    assert far.sum() == 17 and ((0.1 < factor) & (factor < 0.3)).all(), factor.round(3)
    assert np.abs(mean[~far] - POOLED).max() < 0.003
    assert np.corrcoef(mean, james_stein)[0, 1] > 0.995
    assert np.abs(mean - james_stein).max() < 0.005
    truth = published["em_remaining_average"].to_numpy()  # the rest of 1970, as Efron & Morris print it

    def squared_error(estimate):
        return ((estimate - truth) ** 2).sum()

    assert squared_error(mean) < squared_error(raw) / 3
    assert squared_error(mean) < 1.1 * squared_error(james_stein)


def test_no_and_complete_pooling_match_their_exact_posteriors(fits, data):
    """With a flat prior on the logit, each chance is Beta(hits, misses), whose mean is the raw
    average exactly. Under the default normal(-1.018, 2.5) prior the exact posterior mean (by
    quadrature) is pulled toward the pooled mean by at most 0.0025 (Alvis); the fits must match
    it within 4 MCSE."""
    loc, scale = -1.0179, 2.5  # logit(215/810), 2.5: the default prior of theta (no pooling) and mu
    exact = np.array([exact_posterior(hits, 45, loc, scale)[0] for hits in data.y])
    assert np.abs(exact - data.y / 45).max() < 0.003
    draws = chance(fits["no"])
    assert (abs(draws["p"].mean(("chain", "draw")).values - exact) < 4 * mcse(draws)).all()
    pooled = exact_posterior(215, 810, loc, scale)[0]
    assert abs(pooled - POOLED) < 1e-4
    draws = chance(fits["complete"])
    assert (abs(draws["p"].mean(("chain", "draw")).values - pooled) < 4 * mcse(draws)).all()


def test_loo_matches_rstanarm_and_ranks_no_pooling_last(fits):
    """rstanarm's vignette: elpd_loo -46.4 (complete pooling) and -46.6 (partial pooling). With
    4 x 1,000 draws ours gave -46.61 to -46.77 for partial pooling over seeds 1-5 (PSIS with
    one to three Pareto k near 0.7) and -46.34 to -46.44 for complete pooling over seeds 1-3:
    tolerances 0.05 rounding + 0.3 and + 0.1. No pooling (prior normal(-1.018, 2.5) here, normal(-1, 1) there,
    so not comparable) predicts clearly worse: last, 3.8 to 4.3 standard errors behind over
    seeds 1-3. Each player is one observation, so leaving it out leaves no pooling nothing to
    go on: PSIS flags most of them (k > 0.7 for 12 to 18 of 18 over seeds 1-3)."""
    assert abs(az.loo(fits["complete"]).elpd_loo + 46.4) < 0.15
    assert abs(az.loo(fits["partial"]).elpd_loo + 46.6) < 0.35
    table = az.compare({name: fits[name] for name in ("no", "complete", "partial")})
    assert table.index[-1] == "no"
    assert table.loc["no", "elpd_diff"] > 3 * table.loc["no", "dse"]
    loo = az.loo(fits["no"], pointwise=True)
    assert (loo.pareto_k.values > loo.good_k).sum() >= 9
