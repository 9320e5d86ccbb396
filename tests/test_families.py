"""Issue #13: every likelihood family against SciPy, and the per-group sufficient form
of the count families against the rows it summarises."""

import arviz as az
import numpy as np
import pytest
from scipy import special, stats

from pooling import families
from pooling.data import Prepared
from pooling.fit import model_data, run_nuts, sampled_form
from pooling.models import strategy_model
from pooling.priors import resolve_priors
from pooling.sufficient import CountRows, CountStats, count_log_lik, count_rows, negative_binomial_log_lik

RNG = np.random.default_rng(11)
ETA = RNG.normal(0.3, 1.2, 50)
TRIALS = RNG.integers(1, 30, 50)
AUX = {"sigma": 1.7, "nu": 4.5, "alpha": 2.3}


def scipy_logpmf(name, y, eta, aux=AUX):
    """The same densities written with SciPy's own parameterisations."""
    mean = np.exp(eta)
    return {
        "gaussian": lambda: stats.norm.logpdf(y, eta, aux["sigma"]),
        "t": lambda: stats.t.logpdf(y, aux["nu"], eta, aux["sigma"]),
        "bernoulli": lambda: stats.bernoulli.logpmf(y, 1 / (1 + np.exp(-eta))),
        "binomial": lambda: stats.binom.logpmf(y, TRIALS, 1 / (1 + np.exp(-eta))),
        "poisson": lambda: stats.poisson.logpmf(y, mean),
        # NB2(mean, alpha): scipy's nbinom(n=alpha, p=alpha / (alpha + mean))
        "negativebinomial": lambda: stats.nbinom.logpmf(y, aux["alpha"], aux["alpha"] / (aux["alpha"] + mean)),
    }[name]()


def draw(name):
    p = 1 / (1 + np.exp(-ETA))
    return {
        "gaussian": lambda: RNG.normal(ETA, 2.0), "t": lambda: RNG.standard_t(3, ETA.shape) + ETA,
        "bernoulli": lambda: RNG.binomial(1, p), "binomial": lambda: RNG.binomial(TRIALS, p),
        "poisson": lambda: RNG.poisson(np.exp(ETA)), "negativebinomial": lambda: RNG.poisson(3 * np.exp(ETA)),
    }[name]().astype(float)


@pytest.mark.parametrize("name", families.NAMES)
def test_log_density_matches_scipy_and_numpyro(name):
    family = families.named(name)
    y = draw(name)
    trials = TRIALS if name == "binomial" else None
    ours = family.log_density(y, ETA, AUX, trials)
    np.testing.assert_allclose(ours, scipy_logpmf(name, y, ETA), rtol=1e-9, atol=1e-9)
    jax_trials = None if trials is None else trials.astype(np.int32)
    numpyro = np.asarray(family.numpyro_likelihood(ETA, AUX, jax_trials).log_prob(y))
    np.testing.assert_allclose(numpyro, ours, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", families.NAMES)
def test_log_density_broadcasts_auxiliary_parameters_per_draw(name):
    """As LOO and LOGO call it: eta (draws, rows), each auxiliary parameter (draws, 1),
    rows (rows,); each draw's densities are SciPy's with that draw's values (the t's
    normalizing constant and the negative binomial's log-gamma terms are computed
    per draw, not per element)."""
    family = families.named(name)
    y = draw(name)
    trials = TRIALS if name == "binomial" else None
    scales = np.array([0.5, 1.0, 3.0])[:, None]
    aux = {key: value * scales for key, value in AUX.items()}
    eta = ETA + np.array([-0.4, 0.0, 0.7])[:, None]
    ours = family.log_density(y, eta, aux, trials)
    assert ours.shape == eta.shape
    for k in range(len(eta)):
        np.testing.assert_allclose(ours[k], scipy_logpmf(name, y, eta[k], {key: v[k, 0] for key, v in aux.items()}),
                                   rtol=1e-9, atol=1e-9)


def test_negative_binomial_density_with_alpha_per_row_and_extreme_means():
    """alpha of the rows' own shape (gathered per element, not per draw) and linear
    predictors from -700 to 800, where log(1 + mean / alpha) is the log ratio itself
    and exp would overflow: SciPy's values wherever SciPy's are finite."""
    family = families.named("negativebinomial")
    y = np.array([0.0, 3.0, 1.0, 7.0, 2.0, 0.0])
    eta = np.array([-700.0, 0.5, 30.0, 40.0, 709.5, 800.0])
    alpha = np.array([0.3, 2.0, 5.0, 1e3, 4.0, 1.0])
    ours = family.log_density(y, eta, {"alpha": alpha})
    log_ratio = eta - np.log(alpha)
    expected = (special.gammaln(y + alpha) - special.gammaln(alpha) - special.gammaln(y + 1)
                + y * log_ratio - (y + alpha) * np.logaddexp(0, log_ratio))
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    finite = eta < 40
    np.testing.assert_allclose(ours[finite], stats.nbinom.logpmf(y, alpha, alpha / (alpha + np.exp(eta)))[finite],
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", families.NAMES)
def test_score_is_the_derivative_of_the_log_density(name):
    family = families.named(name)
    y = draw(name)
    trials = TRIALS if name == "binomial" else None
    step = 1e-6
    numeric = (family.log_density(y, ETA + step, AUX, trials) - family.log_density(y, ETA - step, AUX, trials)) / (
        2 * step)
    np.testing.assert_allclose(family.score(y, ETA, AUX, trials)[0], numeric, rtol=1e-5, atol=1e-6)


def grouped(name, predictors=False):
    rng = np.random.default_rng(3)
    groups, rows = 6, 90
    group = rng.permutation(np.arange(rows) % groups).astype(np.int32)
    theta = rng.normal(-0.5, 0.7, groups)
    offset = np.log(rng.uniform(0.5, 3, rows)) if name == "poisson" else None
    trials = rng.integers(1, 25, rows).astype(float) if name == "binomial" else None
    eta = theta[group] + (0 if offset is None else offset)
    p = 1 / (1 + np.exp(-eta))
    y = {"binomial": lambda: rng.binomial(trials.astype(int), p), "bernoulli": lambda: rng.binomial(1, p),
         "poisson": lambda: rng.poisson(np.exp(eta))}[name]().astype(float)
    X = rng.normal(size=(rows, 1)) if predictors else None
    return Prepared(y=y, group=group, group_labels=[f"g{k}" for k in range(groups)], se=None, X=X,
                    predictor_names=["x"] if predictors else [], U=None, group_predictor_names=[],
                    trials=trials, offset=offset), theta


@pytest.mark.parametrize("name", ["binomial", "bernoulli", "poisson"])
def test_count_statistics_give_the_rows_log_likelihood(name):
    data, theta = grouped(name)
    family = families.named(name)
    _, sufficient = sampled_form(data, model_data(data, "no_pooling"), family)
    assert isinstance(sufficient, CountStats)
    eta = theta[data.group] + (0 if data.offset is None else data.offset)
    rows = scipy_rows(name, data, eta)
    assert float(count_log_lik(sufficient, theta)) == pytest.approx(rows, rel=1e-12)


def scipy_rows(name, data, eta):
    p = 1 / (1 + np.exp(-eta))
    if name == "poisson":
        return stats.poisson.logpmf(data.y, np.exp(eta)).sum()
    n = 1 if data.trials is None else data.trials
    return stats.binom.logpmf(data.y, n, p).sum()


def test_row_predictors_or_heavy_tails_sample_the_rows():
    """Only exact reductions are used: t and count data with row predictors have none,
    so their rows are sampled; the negative binomial samples its rows too, with the
    log-gamma terms summed per distinct count."""
    data, _ = grouped("poisson", predictors=True)
    for name in ("poisson", "t"):
        inputs, y = sampled_form(data, model_data(data, "partial_pooling"), families.named(name))
        assert y is data.y and inputs.group is not None
    rows = model_data(data, "partial_pooling")
    inputs, y = sampled_form(data, rows, families.named("negativebinomial"))
    assert isinstance(y, CountRows) and inputs is rows
    distinct = np.unique(data.y)
    assert len(y.values) == 1 << (len(distinct) - 1).bit_length()  # padded to a power of two
    np.testing.assert_array_equal(y.values[:len(distinct)], distinct)
    assert y.weight.sum() == len(data.y) and not y.weight[len(distinct):].any()


@pytest.mark.parametrize("alpha", [0.05, 2.3, 50.0, 1e5])
def test_negative_binomial_count_rows_give_the_rows_log_likelihood(alpha):
    """The sampled form's log density and its gradient are the rows' (SciPy's, and
    numpyro's NegativeBinomial2 gradient), from near-geometric to near-Poisson shapes.
    Its error at alpha = 1e5, ~1e-8 of a sum of ~1e3 (cancellation in lgamma(y + alpha)
    - lgamma(alpha)), is SciPy's own order; numpyro's betaln-based density was off by
    1e-6 at alpha = 50, so the values are checked against SciPy only."""
    import jax
    import numpyro.distributions as dist

    data, _ = grouped("poisson", predictors=True)
    counts = count_rows(data.y)
    eta = np.log(3.0) + data.X[:, 0] + data.offset
    ours = float(negative_binomial_log_lik(counts, eta, alpha))
    rows = stats.nbinom.logpmf(data.y, alpha, alpha / (alpha + np.exp(eta))).sum()
    assert ours == pytest.approx(rows, rel=1e-12, abs=1e-7)
    by_eta, by_alpha = jax.grad(lambda e, a: negative_binomial_log_lik(counts, e, a), argnums=(0, 1))(eta, alpha)
    reference = jax.grad(lambda e: dist.NegativeBinomial2(jax.numpy.exp(e), alpha).log_prob(data.y).sum())(eta)
    np.testing.assert_allclose(np.asarray(by_eta), np.asarray(reference), rtol=1e-7, atol=1e-9)
    step = 1e-4 * alpha
    numeric = np.diff([stats.nbinom.logpmf(data.y, a, a / (a + np.exp(eta))).sum()
                       for a in (alpha - step, alpha + step)])[0] / (2 * step)
    assert float(by_alpha) == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_negative_binomial_model_samples_the_rows_density():
    """The partial-pooling model NUTS runs (count rows, with offset and a predictor) has
    the row model's log density and gradient at random parameters: the same posterior.
    The tolerances are numpyro's betaln errors: its sum was 1e-6 off at alpha = 50 and
    its d/d alpha 3e-6 off at alpha = 15 (against mpmath at 30 digits, where the count
    rows' were within 1e-13)."""
    import jax
    from numpyro.infer.util import log_density

    data, _ = grouped("poisson", predictors=True)
    priors = resolve_priors("partial_pooling", {}, data, "negativebinomial")
    model = strategy_model("partial_pooling", data.n_groups, priors, family="negativebinomial")
    rows = model_data(data, "partial_pooling")
    inputs, counts = sampled_form(data, rows, families.named("negativebinomial"))
    rng = np.random.default_rng(5)
    for _ in range(3):
        params = {"mu": np.array(rng.normal()), "tau": np.array(rng.uniform(0.1, 2)),
                  "theta_z": rng.normal(size=data.n_groups), "beta": rng.normal(size=1),
                  "alpha": np.array(rng.uniform(0.2, 20))}

        def density(p, form):
            return log_density(model, form[:1], {"y": form[1]}, p)[0]

        ours, theirs = density(params, (inputs, counts)), density(params, (rows, data.y))
        assert float(ours) == pytest.approx(float(theirs), abs=1e-4, rel=1e-8)
        gradients = jax.grad(density)(params, (inputs, counts)), jax.grad(density)(params, (rows, data.y))
        for name in params:
            np.testing.assert_allclose(gradients[0][name], gradients[1][name], rtol=1e-6, atol=1e-5)


def test_sufficient_binomial_path_samples_the_row_wise_posterior():
    """Same data, priors and sampler settings: NUTS on the rows vs on the group sums."""
    import jax
    from numpyro.infer import MCMC, NUTS

    data, _ = grouped("binomial")
    settings = dict(chains=4, warmup=500, draws=1000, target_accept=0.95, seed=4, max_tree_depth=10,
                    family="binomial")
    strategy = "partial_pooling"
    mcmc = run_nuts(data, strategy, settings)[0]
    priors = resolve_priors(strategy, {}, data, "binomial")
    rows = MCMC(NUTS(strategy_model(strategy, data.n_groups, priors, family="binomial"), target_accept_prob=0.95),
                num_warmup=500, num_samples=1000, num_chains=4, chain_method="parallel", progress_bar=False)
    rows.run(jax.random.PRNGKey(5), model_data(data, strategy), y=data.y)
    a = az.from_dict(posterior=mcmc.get_samples(group_by_chain=True))
    b = az.from_numpyro(rows, log_likelihood=False)
    for name in ("mu", "tau", "theta"):
        gap = (a.posterior[name].mean(("chain", "draw")) - b.posterior[name].mean(("chain", "draw"))).values
        mcse = np.hypot(az.mcse(a, var_names=[name])[name].values, az.mcse(b, var_names=[name])[name].values)
        assert np.all(np.abs(gap) < 4 * mcse), f"{name}: {gap} vs MCSE {mcse}"
