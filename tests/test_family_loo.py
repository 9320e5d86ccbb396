"""LOO and LOGO beyond the gaussian: the group intercept integrated out by adaptive
Gauss–Hermite quadrature against scipy's adaptive integration of the same integral,
the chunked PSIS-LOO against az.loo on the stored log-likelihood, and PSIS-LOGO
against exact grouped refits."""

import math

import arviz as az
import jax
import numpy as np
import pandas as pd
import pytest
from numpy.polynomial.hermite import hermgauss
from scipy import integrate, special, stats

from pooling import logo
from pooling.batch import sample_many
from pooling.compare import chunked_loo
from pooling.data import Prepared, load_prepared, prepare, subset_groups
from pooling.fit import model_data, run_nuts, sample, to_inference_data
from pooling.logo import group_log_lik, heldout_elpd, kfold_fold, psis_logo
from pooling.models import strategy_model
from pooling.priors import resolve_priors

SIZES = (1, 3, 400)  # rows per group: the last a likelihood far narrower than the prior
DRAWS = {
    "mu": np.array([-0.5, 0.3, 1.0, 0.0]),
    "tau": np.array([0.3, 1.0, 3.0, 0.05]),
    "beta": np.array([[0.2], [-0.4], [0.5], [0.0]]),
    "sigma": np.array([0.5, 1.0, 2.0, 0.3]),
    "nu": np.array([1.5, 3.0, 10.0, 2.5]),
    "alpha": np.array([0.5, 2.0, 20.0, 1.0]),
}


def scipy_log_density(family, y, eta, s, trials=1):
    """Row log densities from scipy.stats (not from pooling.families) under draw `s`
    of DRAWS."""
    if family in ("binomial", "bernoulli"):
        return stats.binom.logpmf(y, trials, special.expit(eta))
    if family == "poisson":
        return stats.poisson.logpmf(y, np.exp(eta))
    if family == "negativebinomial":
        alpha = DRAWS["alpha"][s]
        return stats.nbinom.logpmf(y, alpha, alpha / (alpha + np.exp(eta)))
    return stats.t.logpdf(y, DRAWS["nu"][s], eta, DRAWS["sigma"][s])


def integrand(family, y, eta, s, trials):
    """h(z) = log p(y | eta + tau z) + log N(z; 0, 1) of draw `s`, vectorized over z."""

    def h(z):
        shifted = eta[None, :] + DRAWS["tau"][s] * np.asarray(z)[:, None]
        return scipy_log_density(family, y, shifted, s, trials).sum(axis=1) + stats.norm.logpdf(z)

    return h


def simulate(family, rng, eta, trials):
    if family in ("binomial", "bernoulli"):
        return rng.binomial(trials, special.expit(eta))
    if family == "poisson":
        return rng.poisson(np.exp(eta))
    if family == "negativebinomial":
        return rng.negative_binomial(2.0, 2.0 / (2.0 + np.exp(eta)))
    return eta + rng.standard_t(2, len(eta))


def reference(h):
    """log of the integral of exp(h) over z: scipy.integrate.quad on [-30, 30] (the
    N(0, 1) prior leaves nothing outside), told where the peak is: the highest of a
    grid 0.01 apart, refined on one 2e-5 apart (the narrowest integrand here has sd
    ~0.01)."""
    coarse = np.linspace(-30, 30, 6001)
    fine = coarse[np.argmax(h(coarse))] + np.linspace(-0.02, 0.02, 2001)
    values = h(fine)
    peak, top = fine[np.argmax(values)], values.max()
    inner = [peak - 0.1, peak - 0.01, peak, peak + 0.01, peak + 0.1]
    value, _ = integrate.quad(lambda z: math.exp(h(np.array([z]))[0] - top), -30, 30, points=inner,
                              limit=1000, epsabs=0, epsrel=1e-12)
    return top + math.log(value)


def case(family, seed=0):
    """Rows of three groups (1, 3 and 400 rows, shuffled), a predictor and an offset;
    responses drawn from the family around group intercepts; counts are simulated
    away from zero (a zero count is the one-sided case tested on its own below)."""
    rng = np.random.default_rng(seed)
    group = rng.permutation(np.repeat(np.arange(len(SIZES)), SIZES)).astype(np.int32)
    X = rng.normal(size=(len(group), 1))
    offset = rng.normal(scale=0.3, size=len(group)) + (1.5 if family in ("poisson", "negativebinomial") else 0)
    trials = np.ones(len(group), dtype=int) if family == "bernoulli" else rng.integers(1, 30, len(group))
    eta = rng.normal(size=len(SIZES))[group] + 0.3 * X[:, 0] + offset
    return group, X, offset, trials, simulate(family, rng, eta, trials)


@pytest.mark.parametrize("family", ["binomial", "bernoulli", "poisson", "negativebinomial", "t"])
def test_adaptive_quadrature_matches_scipy_quad(family):
    """Every draw and group, tau from 0.05 to 3 (link scale) and a 400-row group whose
    likelihood is ~100 times narrower than the prior: within 1e-6 in log. Plain
    Gauss–Hermite on the prior (the same nodes, not moved) misses that group."""
    group, X, offset, trials, y = case(family)
    ll = group_log_lik("partial_pooling", DRAWS, y, group, len(SIZES), family=family, X=X, offset=offset,
                       trials=None if family in ("poisson", "negativebinomial", "t") else trials)
    nodes, weights = hermgauss(logo.NODES)
    for s in range(len(DRAWS["mu"])):
        for j in range(len(SIZES)):
            rows = group == j
            eta = DRAWS["mu"][s] + X[rows] @ DRAWS["beta"][s] + offset[rows]
            h = integrand(family, y[rows], eta, s, trials[rows])
            expected = reference(h)
            assert ll[s, j] == pytest.approx(expected, abs=1e-6), (s, j)
            if j == 2 and s == 2:
                plain = special.logsumexp(np.log(weights) + nodes**2 + h(math.sqrt(2) * nodes)) + math.log(2) / 2
                assert abs(plain - expected) > 1


ONE_SIDED_TOLERANCE = {1.0: 1e-6, 2.0: 1e-5, 3.0: 2e-4, 4.0: 1e-3}  # measured worst: 1e-10, 4e-6, 1.3e-4, 7e-4


@pytest.mark.parametrize("family, y", [("poisson", 0), ("bernoulli", 1), ("negativebinomial", 0)])
@pytest.mark.parametrize("tau", ONE_SIDED_TOLERANCE)
def test_a_one_sided_group_is_where_quadrature_is_weakest(family, y, tau):
    """One row at the edge of the support (a zero count, a success): the likelihood
    is a step in z as sharp as 1/tau against the prior's tail, which no Gaussian fits.
    The error with NODES = 32 grows with tau (worst over population means from -3 to
    3: a zero count); still far below PSIS's Monte Carlo error (~1e-2 a group). The
    references are dense grids."""
    mu = np.linspace(-3, 3, 13)
    draws = {"mu": mu, "tau": np.full(len(mu), tau), "alpha": np.full(len(mu), DRAWS["alpha"][1])}
    ll = group_log_lik("partial_pooling", draws, np.array([y]), np.array([0]), 1, family=family)
    grid = np.linspace(-30, 30, 600_001)
    for s in range(len(mu)):
        density = scipy_log_density(family, y, mu[s] + tau * grid, 1)  # DRAWS[1]: alpha as above
        expected = special.logsumexp(density + stats.norm.logpdf(grid)) + math.log(grid[1] - grid[0])
        assert ll[s, 0] == pytest.approx(expected, abs=ONE_SIDED_TOLERANCE[tau])


@pytest.mark.parametrize("se", [False, True])
def test_gaussian_closed_form_is_what_the_quadrature_gives(monkeypatch, se):
    """The gaussian integrand is exactly Gaussian, so adaptive quadrature forced on it
    (no closed form registered) must reproduce the closed form to rounding."""
    rng = np.random.default_rng(2)
    group = rng.permutation(np.repeat(np.arange(4), [1, 2, 5, 200])).astype(np.int32)
    X, U, offset = rng.normal(size=(208, 2)), rng.normal(size=(4, 1)), rng.normal(size=208)
    y = rng.normal(size=4)[group] + X @ [0.5, -0.2] + offset + rng.normal(size=208)
    draws = {"mu": rng.normal(size=5), "tau": rng.gamma(2, size=5), "sigma": rng.gamma(2, size=5),
             "beta": rng.normal(size=(5, 2)), "gamma": rng.normal(size=(5, 1))}
    arguments = dict(family="gaussian", se=rng.uniform(0.5, 2, 208) if se else None, X=X, U=U, offset=offset)
    closed = group_log_lik("partial_pooling", draws, y, group, 4, **arguments)
    monkeypatch.setattr(logo, "CLOSED_FORM", {})
    quadrature = group_log_lik("partial_pooling", draws, y, group, 4, **arguments)
    np.testing.assert_allclose(quadrature, closed, rtol=1e-10)


@pytest.mark.parametrize("family", ["binomial", "poisson", "negativebinomial", "t"])
def test_complete_pooling_scores_each_row_at_the_population_mean(family):
    """tau = 0: no integral, the rows' log density summed per group (exact)."""
    group, X, offset, trials, y = case(family, seed=3)
    draws = {k: v for k, v in DRAWS.items() if k != "tau"}
    counts = family in ("poisson", "negativebinomial", "t")
    ll = group_log_lik("complete_pooling", draws, y, group, len(SIZES), family=family, X=X, offset=offset,
                       trials=None if counts else trials)
    for s in range(len(DRAWS["mu"])):
        eta = DRAWS["mu"][s] + X @ DRAWS["beta"][s] + offset
        rows = scipy_log_density(family, y, eta, s, trials)
        np.testing.assert_allclose(ll[s], np.bincount(group, rows), rtol=1e-10)


def count_data(family, rng, groups=6, rows=60):
    """Counts (poisson, negative binomial) with exposure as offset, or binomial
    successes out of trials; one row predictor; groups of unequal size."""
    group = rng.permutation(np.concatenate([np.arange(groups), rng.integers(0, groups, rows - groups)]))
    group = group.astype(np.int32)
    X = rng.normal(size=(rows, 1))
    eta = rng.normal(scale=0.7, size=groups)[group] + 0.4 * X[:, 0]
    trials = rng.integers(5, 20, rows) if family == "binomial" else None
    offset = None if family == "binomial" else np.log(rng.uniform(1, 10, rows))
    y = simulate(family, rng, eta if offset is None else eta + offset, trials)
    return Prepared(y=y.astype(float), group=group, group_labels=[f"g{k}" for k in range(groups)], se=None,
                    X=X, predictor_names=["x"], U=None, group_predictor_names=[], trials=trials, offset=offset)


@pytest.mark.parametrize("family", ["poisson", "negativebinomial", "binomial"])
def test_chunked_loo_is_az_loo_for_every_family(family):
    """The compare job's NumPy log density (the fit's family, offset, trials and
    auxiliary draws) against numpyro's, through PSIS: the tolerances of the gaussian
    test in test_large_data (the stored log-likelihood is float32)."""
    data = count_data(family, np.random.default_rng(4))
    settings = dict(chains=4, warmup=200, draws=200, target_accept=0.9, max_tree_depth=10, seed=4, family=family)
    mcmc, model, rows, _, _ = run_nuts(data, "partial_pooling", settings)
    whole = to_inference_data(mcmc, model, rows, data, settings, None)
    bounded = to_inference_data(mcmc, model, rows, data, settings, {"pointwise_max_rows": 10, "predictive_draws": 40})
    assert "log_likelihood" not in bounded.groups()
    bounded.attrs["family"] = family  # as fit_to_netcdf's provenance writes it
    expected = az.loo(whole, pointwise=True)
    got = chunked_loo(bounded, chunk=3000)
    for key in ("elpd_loo", "se", "p_loo"):
        assert got[key] == pytest.approx(expected[key], abs=1e-4), key
    np.testing.assert_allclose(got.loo_i, expected.loo_i, atol=1e-5)
    np.testing.assert_allclose(got.pareto_k, expected.pareto_k, atol=1e-4)


def test_psis_logo_by_quadrature_agrees_with_exact_binomial_refits():
    """Partial pooling on 7 binomial groups of 2 rows (2 to 7 trials each, so that no
    group alone moves the posterior far and PSIS applies: every Pareto k < 0.7): PSIS
    on the quadrature marginal of one fit against 7 refits, each without one group,
    scored by the same quadrature with the same priors. Tolerance as for eight
    schools (test_logo): 4 combined Monte Carlo standard errors per group, each from
    the spread across the 4 chains."""
    rng = np.random.default_rng(5)
    groups = 7
    group = np.repeat(np.arange(groups), 2).astype(np.int32)
    trials = rng.integers(2, 8, len(group))
    y = rng.binomial(trials, special.expit(rng.normal(scale=0.8, size=groups)[group] - 0.3)).astype(float)
    data = Prepared(y=y, group=group, group_labels=[f"g{k}" for k in range(groups)], se=None, X=None,
                    predictor_names=[], U=None, group_predictor_names=[], trials=trials)
    settings = dict(chains=4, warmup=400, draws=1000, target_accept=0.95, max_tree_depth=10, seed=6,
                    family="binomial")
    idata, priors = sample(data, "partial_pooling", settings)
    idata.attrs["family"] = "binomial"
    psis = psis_logo(idata, "partial_pooling")
    assert (psis.pareto_k.values < 0.7).all()
    psis_by_chain = np.array([psis_logo(idata.sel(chain=[c]), "partial_pooling").loo_i.values for c in range(4)])
    # the 7 refits (6 groups of 2 rows each) in one compiled program (pooling.batch)
    training = [subset_groups(data, [g for g in range(groups) if g != held]) for held in range(groups)]
    model = strategy_model("partial_pooling", groups - 1, priors, family="binomial")
    batch = jax.tree.map(lambda *a: np.stack(a), *[model_data(part, "partial_pooling") for part in training])
    refits = sample_many(model, (batch,), np.stack([part.y for part in training]), settings,
                         jax.random.split(jax.random.PRNGKey(6), groups))
    exact, exact_by_chain = [], []
    for held in range(groups):
        draws = {k: refits[k][held].reshape(4, settings["draws"], *refits[k].shape[2:]) for k in ("mu", "tau")}
        flat = {k: refits[k][held] for k in ("mu", "tau")}
        exact.append(heldout_elpd("partial_pooling", flat, data, np.array([held]), "binomial")[0])
        exact_by_chain.append([heldout_elpd("partial_pooling", {k: v[c] for k, v in draws.items()}, data,
                                            np.array([held]), "binomial")[0] for c in range(4)])
    mcse = np.sqrt(psis_by_chain.var(axis=0, ddof=1) / 4 + np.var(exact_by_chain, axis=1, ddof=1) / 4)
    difference = psis.loo_i.values - np.array(exact)
    assert (np.abs(difference) < 4 * mcse).all(), (difference, mcse)
    assert abs(difference.sum()) < 4 * math.sqrt((mcse**2).sum())


def test_a_kfold_job_refits_and_scores_under_the_datasets_family(tmp_path):
    """The kfold job reads the family from its settings, for the priors and for the
    score: its held-out group's elpd is heldout_elpd under binomial after the same
    refit (same seed, so the same draws)."""
    source, prepared = tmp_path / "source.csv", tmp_path / "prepared.csv"
    rows = [("a", 3, 9), ("a", 1, 4), ("b", 6, 8), ("c", 2, 7), ("c", 0, 3), ("d", 5, 6), ("e", 1, 5)]
    source.write_text("g,s,n\n" + "".join(f"{g},{s},{n}\n" for g, s, n in rows))
    prepare(str(source), formula="p(s, n) ~ 1 + (1 | g)", family="binomial").to_csv(prepared, index=False)
    settings = dict(chains=2, warmup=200, draws=200, target_accept=0.9, max_tree_depth=10, seed=1,
                    family="binomial")
    kfold_fold(prepared, source, "partial_pooling", settings, {"folds": None, "seed": 1}, 0, tmp_path / "fold.csv")
    written = pd.read_csv(tmp_path / "fold.csv")
    assert list(written["group"]) == ["a"] and list(written["rows"]) == [2]
    data = load_prepared(prepared)
    priors = resolve_priors("partial_pooling", {}, data, "binomial")
    mcmc = run_nuts(subset_groups(data, range(1, 5)), "partial_pooling", settings, priors=priors)[0]
    draws = {name: np.asarray(value) for name, value in mcmc.get_samples().items()}
    expected = heldout_elpd("partial_pooling", draws, data, np.array([0]), "binomial")[0]
    assert written["elpd"][0] == pytest.approx(expected, rel=1e-12)
