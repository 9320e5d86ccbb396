"""Deeper hierarchies: varying slopes with LKJ correlations, nested and crossed factors,
their parameter names in every strategy, their default and user priors, leave-one-level-
out per factor, and fits against published lme4, brms and rstanarm results
(tests/data/mixed_models_published.csv, sources there and in tests/data/README.md)."""

import numpy as np
import pandas as pd
import pytest
from numpyro import handlers
from scipy import special, stats
from scipy.special import logsumexp

from pooling import logo
from pooling.data import for_strategy, load_prepared, prepare, subset_groups
from pooling.errors import PriorError
from pooling.fit import model_data, sample, structure
from pooling.logo import factor_log_lik, heldout_elpd
from pooling.models import MODELS, build_spec
from pooling.priors import check_overrides, resolve_priors

from conftest import ROOT

DATA = ROOT / "tests" / "data"
PUBLISHED = pd.read_csv(DATA / "mixed_models_published.csv")
SETTINGS = dict(chains=4, warmup=500, draws=500, target_accept=0.9, seed=7, max_tree_depth=10)


def prepared(tmp_path, source, formula):
    path = tmp_path / "prepared.csv"
    prepare(str(source), formula=formula).to_csv(path, index=False)
    return load_prepared(path)


@pytest.fixture
def nested_slopes(tmp_path):
    """Three levels: rows in casks in batches, a slope of x varying over both."""
    rng = np.random.default_rng(1)
    batch = np.repeat(["A", "B", "C"], 8)
    cask = np.tile(np.repeat(["a", "b"], 4), 3)  # cask a of A is not cask a of B
    x = rng.normal(size=24)
    y = 1 + 0.5 * x + rng.normal(size=24)
    source = tmp_path / "source.csv"
    pd.DataFrame({"y": y, "x": x, "batch": batch, "cask": cask}).to_csv(source, index=False)
    return prepared(tmp_path, source, "y ~ x + (1 + x | batch/cask)")


def sites(strategy, data, parameterization="noncentered"):
    fitted = for_strategy(data, strategy)
    spec = build_spec(fitted.n_groups, resolve_priors(strategy, {}, data), parameterization,
                      **structure(fitted))
    trace = handlers.trace(handlers.seed(MODELS[strategy], rng_seed=0)).get_trace(
        spec, model_data(data, strategy), y=data.y)
    return {name: site["value"].shape for name, site in trace.items()
            if site["type"] in ("sample", "deterministic") and name != "y"}


def test_prepared_table_names_every_factor_its_terms_and_the_slope_columns(nested_slopes):
    data = nested_slopes
    assert [(f.name, f.terms, f.n_levels, f.ancestors, f.finest) for f in data.factors] == [
        ("batch", ("1", "x"), 3, (), False), ("batch:cask", ("1", "x"), 6, (0,), True)]
    assert data.group_labels == ["A:a", "A:b", "B:a", "B:b", "C:a", "C:b"]
    assert data.factors[0].level.tolist() == [0, 0, 1, 1, 2, 2]  # each cask's batch
    assert data.slope_names == ("x",) and data.Z.shape == (24, 1)
    training = subset_groups(data, [2, 3, 5])
    assert [f.labels for f in training.factors] == [("B", "C"), ("B:a", "B:b", "C:b")]
    assert training.factors[0].level.tolist() == [0, 0, 1]


def test_every_strategy_names_its_parameters_by_factor(nested_slopes):
    """The naming scheme of the README: the finest factor's names are plain, every
    other factor's carry its name; theta and slope are the cells' in every strategy."""
    assert sites("partial_pooling", nested_slopes) == {
        "mu": (), "beta": (1,),
        "tau_batch": (), "tau_slope_batch": (1,), "corr_batch_cholesky": (2, 2), "corr_batch": (2, 2),
        "theta_z_batch": (3, 2),
        "tau": (), "tau_slope": (1,), "corr_cholesky": (2, 2), "corr": (2, 2), "theta_z": (6, 2),
        "theta_batch": (3,), "slope_batch": (3, 1), "theta": (6,), "slope": (6, 1), "sigma": (),
    }
    # no pooling: free coefficients per cell; x's common coefficient is collinear with them
    assert sites("no_pooling", nested_slopes) == {"theta": (6,), "slope": (6, 1), "sigma": ()}
    assert sites("complete_pooling", nested_slopes) == {"mu": (), "beta": (1,), "theta": (6,), "sigma": ()}


def test_cell_coefficients_add_up_the_levels_effects(nested_slopes):
    """theta and slope of a cell are the population's plus its batch's and its cask's
    effects: the totals of a batch plus the cask's own deviation."""
    fitted = for_strategy(nested_slopes, "partial_pooling")
    spec = build_spec(fitted.n_groups, resolve_priors("partial_pooling", {}, nested_slopes), **structure(fitted))
    trace = handlers.trace(handlers.seed(MODELS["partial_pooling"], rng_seed=3)).get_trace(
        spec, model_data(nested_slopes, "partial_pooling"), y=nested_slopes.y)
    value = {name: np.asarray(site["value"]) for name, site in trace.items()}
    scale = np.array([value["tau"], value["tau_slope"][0]])
    own = (value["theta_z"] * scale) @ np.linalg.cholesky(value["corr"]).T
    batch = np.column_stack([value["theta_batch"], value["slope_batch"][:, 0]])
    cells = batch[nested_slopes.factors[0].level] + own
    np.testing.assert_allclose(value["theta"], cells[:, 0], rtol=1e-6)
    np.testing.assert_allclose(value["slope"][:, 0], cells[:, 1], rtol=1e-6)
    np.testing.assert_allclose(value["theta_batch"].mean() - value["mu"], 0, atol=5 * value["tau_batch"])


def test_default_priors_cover_every_factor_and_users_override_them_by_name(nested_slopes):
    resolved = resolve_priors("partial_pooling", {"corr_batch": "lkj(4)", "tau_slope": "halfnormal(1)"},
                              nested_slopes)
    shown = {name: (str(prior), source) for name, (prior, source) in resolved.items()}
    sd = np.std(nested_slopes.y, ddof=1)
    assert shown["corr"] == ("lkj(2)", "default") and shown["corr_batch"] == ("lkj(4)", "user")
    assert shown["tau_slope[x]"] == ("halfnormal(1)", "user")
    assert shown["tau_batch"] == (f"exponential({1 / sd:.4g})", "default")
    x_sd = np.std(nested_slopes.Z[:, 0], ddof=1)
    assert shown["tau_slope_batch[x]"] == (f"exponential({x_sd / sd:.4g})", "default")
    assert list(resolve_priors("no_pooling", {}, nested_slopes)) == ["theta", "slope[x]", "sigma"]


def test_a_prior_for_a_factor_the_formula_lacks_is_refused():
    check_overrides({"tau_batch": "exponential(1)"}, "datasets.d.priors", factors=["batch", "batch:cask"])
    with pytest.raises(PriorError, match=r"^datasets\.d\.priors\.tau_county: unknown parameter"):
        check_overrides({"tau_county": "exponential(1)"}, "datasets.d.priors", factors=["batch"])


def _draws(rng, n, factors):
    draws = {"mu": rng.normal(size=n), "beta": rng.normal(size=(n, 1)), "sigma": rng.gamma(4, 0.25, size=n)}
    for factor in factors:
        draws[factor.name_of("tau")] = rng.gamma(4, 0.25, size=n)
        draws[factor.name_of("tau_slope")] = rng.gamma(4, 0.1, size=(n, 1))
        r = rng.uniform(-0.9, 0.9, size=n)
        draws[factor.name_of("corr")] = np.stack([np.stack([np.ones(n), r], -1), np.stack([r, np.ones(n)], -1)], 1)
        effects = rng.normal(size=(n, factor.n_levels, 2))
        draws[factor.name_of("theta")] = effects[..., 0]
        draws[factor.name_of("slope") if not factor.finest else "slope"] = effects[..., 1:]
    return draws


@pytest.mark.parametrize("se", [False, True])
@pytest.mark.parametrize("design", ["y ~ x + (1 | rater) + (1 + x | plant)", "y ~ x + (1 | batch/cask)"])
def test_intercept_logo_from_cell_moments_is_what_the_quadrature_gives(tmp_path, monkeypatch, design, se):
    """A gaussian level with one new intercept is scored in closed form from its cells'
    weighted moments (O(cells) per draw): leaving out a rater whose rows span plants
    with their own intercepts and slopes, or a cask inside its batch, with an offset and
    sigma or known se. The integrand is exactly Gaussian, so adaptive quadrature forced
    on it (no closed form registered) must agree to rounding."""
    rng = np.random.default_rng(4)
    rows = 60
    table = pd.DataFrame({"y": rng.normal(size=rows), "x": rng.normal(size=rows),
                          "rater": rng.choice(["r1", "r2", "r3", "r4"], rows),
                          "plant": rng.choice(["p1", "p2", "p3"], rows),
                          "batch": np.repeat(["A", "B", "C"], rows // 3),
                          "cask": np.tile(np.repeat(["a", "b"], 10), 3)})
    table.to_csv(tmp_path / "source.csv", index=False)
    data = prepared(tmp_path, tmp_path / "source.csv", design)
    draws = _draws(rng, 4, data.factors)
    arrays = dict(y=data.y, group=data.group, X=data.X, Z=data.Z, U=None, trials=None,
                  se=rng.uniform(0.5, 2, rows) if se else None, offset=rng.normal(size=rows))
    k = next(a for a, factor in enumerate(data.factors) if factor.terms == ("1",) and factor.name != "batch")

    def score():
        return factor_log_lik("partial_pooling", draws, arrays, data.factors, k, slopes=tuple(data.slope_names),
                              predictors=("x",))

    closed = score()
    monkeypatch.setattr(logo, "CLOSED_FORM", set())
    np.testing.assert_allclose(score(), closed, rtol=1e-10)


@pytest.mark.parametrize("k", [0, 1])
def test_leaving_a_level_out_integrates_its_effects_and_its_nested_levels(nested_slopes, k):
    """Leave one batch out (k = 0): its rows are N(mu + x beta, sigma^2 I + W_b S_b W_b'
    + sum over its casks W_c S_c W_c'); leave one cask out (k = 1): the batch's own
    coefficients are known, the cask's effects are integrated. Checked against
    scipy's multivariate normal for each draw and level."""
    data = nested_slopes
    rng = np.random.default_rng(2)
    draws = _draws(rng, 3, data.factors)
    arrays = dict(y=data.y, group=data.group, X=data.X, Z=data.Z, se=None, U=None, trials=None, offset=None)
    ll = factor_log_lik("partial_pooling", draws, arrays, data.factors, k, slopes=("x",), predictors=("x",))
    batch = data.factors[0].level[data.group]
    for d in range(3):
        def covariance(factor, d=d):
            scale = np.diag([draws[factor.name_of("tau")][d], draws[factor.name_of("tau_slope")][d, 0]])
            return scale @ draws[factor.name_of("corr")][d] @ scale

        for level in range(data.factors[k].n_levels):
            rows = np.flatnonzero((batch if k == 0 else data.group) == level)
            W = np.column_stack([np.ones(len(rows)), data.Z[rows, 0]])
            same_cask = data.group[rows][:, None] == data.group[rows][None, :]
            cov = draws["sigma"][d] ** 2 * np.eye(len(rows)) + same_cask * (W @ covariance(data.factors[1]) @ W.T)
            if k == 0:
                cov += W @ covariance(data.factors[0]) @ W.T
                mean = draws["mu"][d] + data.X[rows, 0] * draws["beta"][d, 0]
            else:
                b = batch[rows]
                mean = (draws["theta_batch"][d][b]
                        + data.Z[rows, 0] * draws["slope_batch"][d][b, 0]
                        + data.X[rows, 0] * draws["beta"][d, 0] - data.Z[rows, 0] * draws["beta"][d, 0])
            expected = stats.multivariate_normal(mean, cov).logpdf(data.y[rows])
            assert ll[d, level] == pytest.approx(expected, rel=1e-9)


def _trained(draws, data, training):
    """The draws as a refit on the cells `training` would hold them: each factor's
    coefficients (theta, slope and their per-factor namesakes) of its levels there."""
    out = dict(draws)
    for factor, trained in zip(data.factors, subset_groups(data, training).factors):
        seen = [factor.labels.index(label) for label in trained.labels]
        for root in ("theta", "slope"):
            name = factor.name_of(root)
            if name in out:
                out[name] = out[name][:, seen]
    return out


def test_a_kfold_refit_scores_a_held_out_cask_as_psis_logo_does_with_the_same_draws(nested_slopes):
    """Holding out cask B:b: the refit saw every batch, so the cask is scored with its
    batch's effects and its own integrated out: the log of the mean over draws of
    factor_log_lik's density for that cask."""
    data = nested_slopes
    draws = _draws(np.random.default_rng(3), 50, data.factors)
    cask = data.factors[1].labels.index("B:b")
    training = np.array([c for c in range(data.n_groups) if c != cask])
    elpd = heldout_elpd("partial_pooling", _trained(draws, data, training), data, np.array([cask]), k=1)
    arrays = dict(y=data.y, group=data.group, X=data.X, Z=data.Z, se=None, U=None, trials=None, offset=None)
    ll = factor_log_lik("partial_pooling", draws, arrays, data.factors, 1, slopes=("x",), predictors=("x",))
    assert elpd == pytest.approx([logsumexp(ll[:, cask]) - np.log(50)], rel=1e-12)


def test_a_kfold_refit_draws_a_batch_it_never_saw_from_the_population(nested_slopes):
    """Holding out both casks of batch A while scoring casks: the refit never saw A, so
    A's effects are drawn from the population with each posterior draw. With 40,000
    copies of one parameter draw the score of cask A:a converges to its marginal
    density with batch and cask effects integrated: N(mu + x beta, sigma^2 I +
    W (S_batch + S_cask) W'), within Monte Carlo error (0.01; measured 2e-4)."""
    data = nested_slopes
    one = _draws(np.random.default_rng(4), 1, data.factors)
    draws = {name: np.repeat(value, 40_000, axis=0) for name, value in one.items()}
    heldout = np.array([data.factors[1].labels.index(label) for label in ("A:a", "A:b")])
    training = np.setdiff1d(np.arange(data.n_groups), heldout)
    elpd = heldout_elpd("partial_pooling", _trained(draws, data, training), data, heldout, k=1, seed=5)
    rows = np.flatnonzero(data.group == heldout[0])
    W = np.column_stack([np.ones(len(rows)), data.Z[rows, 0]])
    covariance = sum(
        np.diag([one[f.name_of("tau")][0], one[f.name_of("tau_slope")][0, 0]]) @ one[f.name_of("corr")][0]
        @ np.diag([one[f.name_of("tau")][0], one[f.name_of("tau_slope")][0, 0]]) for f in data.factors)
    expected = stats.multivariate_normal(
        one["mu"][0] + data.X[rows, 0] * one["beta"][0, 0],
        one["sigma"][0] ** 2 * np.eye(len(rows)) + W @ covariance @ W.T).logpdf(data.y[rows])
    assert elpd[0] == pytest.approx(expected, abs=0.01)


@pytest.fixture
def binomial_nested_slopes(tmp_path):
    """The nested_slopes design with 6 trials per row (a logit link)."""
    rng = np.random.default_rng(1)
    batch = np.repeat(["A", "B", "C"], 8)
    cask = np.tile(np.repeat(["a", "b"], 4), 3)
    x = rng.normal(size=24)
    y = rng.binomial(6, 1 / (1 + np.exp(-(0.3 + 0.5 * x + rng.normal(size=24)))))
    source = tmp_path / "source.csv"
    pd.DataFrame({"y": y, "n": 6, "x": x, "batch": batch, "cask": cask}).to_csv(source, index=False)
    path = tmp_path / "prepared.csv"
    prepare(str(source), formula="p(y, n) ~ x + (1 + x | batch/cask)", family="binomial").to_csv(path, index=False)
    return load_prepared(path)


def _binomial_log_lik(data, rows, eta):
    """The rows' binomial log-likelihood at logits eta (scipy's logpmf is 20 x slower)."""
    y, n = data.y[rows], data.trials[rows]
    return (np.log(special.comb(n, y)) + y * eta - n * np.logaddexp(0, eta)).sum(-1)


def test_leaving_a_level_out_of_a_binomial_fit_integrates_its_effects_by_adaptive_quadrature(
        binomial_nested_slopes):
    """Non-gaussian levels with several effects: leave one cask out (2 effects, an
    8 x 8 adaptive Gauss–Hermite grid) against a 401 x 401 trapezoid grid over
    [-8, 8]^2 of the whitened effects, within 1e-3 (measured: 4e-4); leave one batch
    out (its 2 effects and its 2 casks' 4: 2 nodes per axis, near the Laplace
    approximation) against nested 30 x 30 Gauss–Hermite grids (batch outside, each cask
    inside given it), within 0.03 (measured: up to 0.02)."""
    data = binomial_nested_slopes
    draws = _draws(np.random.default_rng(2), 3, data.factors)
    arrays = dict(y=data.y, group=data.group, X=data.X, Z=data.Z, se=None, U=None, trials=data.trials,
                  offset=None)
    ll = [factor_log_lik("partial_pooling", draws, arrays, data.factors, k, family="binomial",
                         slopes=("x",), predictors=("x",)) for k in (0, 1)]
    batch = data.factors[0].level[data.group]
    line = np.linspace(-8, 8, 401)
    trapezoid = np.stack(np.meshgrid(line, line, indexing="ij"), -1).reshape(-1, 2)
    spacing = np.full(401, line[1] - line[0])
    spacing[[0, -1]] /= 2
    trapezoid_weights = np.log(np.outer(spacing, spacing).ravel())
    nodes, weights = np.polynomial.hermite.hermgauss(30)
    hermite = np.sqrt(2) * np.stack(np.meshgrid(nodes, nodes, indexing="ij"), -1).reshape(-1, 2)
    hermite_weights = np.log(np.outer(weights, weights).ravel() / np.pi)
    for d in range(3):
        def cholesky(factor, d=d):
            scale = np.array([draws[factor.name_of("tau")][d], draws[factor.name_of("tau_slope")][d, 0]])
            return scale[:, None] * np.linalg.cholesky(draws[factor.name_of("corr")][d])

        fixed = draws["mu"][d] + data.X[:, 0] * draws["beta"][d, 0]
        for cask in range(data.factors[1].n_levels):
            rows = np.flatnonzero(data.group == cask)
            b = batch[rows][0]
            known = (draws["theta_batch"][d][b] + data.Z[rows, 0] * draws["slope_batch"][d][b, 0]
                     + data.X[rows, 0] * draws["beta"][d, 0] - data.Z[rows, 0] * draws["beta"][d, 0])
            effects = trapezoid @ cholesky(data.factors[1]).T
            eta = known + effects[:, :1] + effects[:, 1:] * data.Z[rows, 0]
            density = trapezoid_weights + stats.norm.logpdf(trapezoid).sum(1) + _binomial_log_lik(data, rows, eta)
            assert ll[1][d, cask] == pytest.approx(logsumexp(density), abs=1e-3)
        for b in range(3):
            outer = hermite @ cholesky(data.factors[0]).T
            total = hermite_weights.copy()
            for cask in np.unique(data.group[batch == b]):
                rows = np.flatnonzero(data.group == cask)
                inner = hermite @ cholesky(data.factors[1]).T
                eta = (fixed[rows] + outer[:, None, :1] + inner[None, :, :1]
                       + (outer[:, None, 1:] + inner[None, :, 1:]) * data.Z[rows, 0])
                total += logsumexp(hermite_weights + _binomial_log_lik(data, rows, eta), axis=1)
            assert ll[0][d, b] == pytest.approx(logsumexp(total), abs=0.03)


def test_a_binomial_batch_of_many_casks_is_integrated_by_the_laplace_approximation(tmp_path):
    """Leave one batch out of `(1 | batch/cask)` with 36 casks per batch: 37 effects, one
    node (the Laplace approximation), against nested 40-node Gauss–Hermite quadrature
    (each cask's intercept inside, the batch's outside), within 0.5: measured 0.23 to
    0.37, always low, Laplace's bias of about 0.01 per cask (config/README.md, LOGO).
    NumPy's meshgrid stops at 32 dimensions; the grid must not."""
    rng = np.random.default_rng(7)
    batch, cask = np.repeat(["A", "B"], 108), np.tile(np.repeat([f"c{k}" for k in range(36)], 3), 2)
    y = rng.binomial(6, 1 / (1 + np.exp(-(0.5 + rng.normal(size=216)))))
    source = tmp_path / "source.csv"
    pd.DataFrame({"y": y, "n": 6, "batch": batch, "cask": cask}).to_csv(source, index=False)
    path = tmp_path / "prepared.csv"
    prepare(str(source), formula="p(y, n) ~ 1 + (1 | batch/cask)", family="binomial").to_csv(path, index=False)
    data = load_prepared(path)
    draws = {"mu": np.array([0.4, 0.6]), "tau_batch": np.array([0.5, 0.8]), "tau": np.array([0.7, 1.0]),
             "theta_batch": np.zeros((2, 2)), "theta": np.zeros((2, data.n_groups))}
    arrays = dict(y=data.y, group=data.group, X=None, Z=None, se=None, U=None, trials=data.trials, offset=None)
    ll = factor_log_lik("partial_pooling", draws, arrays, data.factors, 0, family="binomial")
    nodes, weights = np.polynomial.hermite.hermgauss(40)
    z, log_w = np.sqrt(2) * nodes, np.log(weights / np.sqrt(np.pi))
    batch_of = data.factors[0].level[data.group]
    for d in range(2):
        for b in range(2):
            total = log_w.copy()
            for c in np.unique(data.group[batch_of == b]):
                rows = np.flatnonzero(data.group == c)
                eta = (draws["mu"][d] + draws["tau_batch"][d] * z[:, None, None]
                       + draws["tau"][d] * z[None, :, None])
                total += logsumexp(log_w + _binomial_log_lik(data, rows, eta), axis=1)
            assert ll[d, b] == pytest.approx(logsumexp(total), abs=0.5)


def published(dataset, model_prefix):
    rows = PUBLISHED[(PUBLISHED["dataset"] == dataset) & PUBLISHED["model"].str.startswith(model_prefix)]
    return dict(zip(rows["quantity"], zip(rows["estimate"], rows["std_error"])))


def posterior_mean_and_sd(idata, name, **selection):
    draws = idata.posterior[name].sel(**selection) if selection else idata.posterior[name]
    return float(draws.mean()), float(draws.std())


@pytest.fixture(scope="module")
def sleepstudy(tmp_path_factory):
    data = prepared(tmp_path_factory.mktemp("sleep"), DATA / "sleepstudy.csv",
                    "Reaction ~ Days + (1 + Days | Subject)")
    return sample(data, "partial_pooling", SETTINGS)[0]


def test_sleepstudy_varying_slopes_match_brms(sleepstudy):
    """brms posterior means (sd) for Reaction ~ Days + (1 + Days | Subject). The priors
    differ (brms: student_t(3, 0, 59.3) on the sds and lkj(1); here exponential and
    lkj(2), which pulls the correlation towards 0), so each mean must agree within 0.4
    of brms's posterior sd, about 10 Monte Carlo standard errors of 2000 draws."""
    brms = published("sleepstudy", "brms")
    ours = {
        "b_Intercept": posterior_mean_and_sd(sleepstudy, "mu"),
        "b_Days": posterior_mean_and_sd(sleepstudy, "beta", predictor="Days"),
        "sd_Subject__Intercept": posterior_mean_and_sd(sleepstudy, "tau"),
        "sd_Subject__Days": posterior_mean_and_sd(sleepstudy, "tau_slope", group_varying="Days"),
        "cor_Subject__Intercept__Days": posterior_mean_and_sd(sleepstudy, "corr", term="1", term_="Days"),
        "sigma": posterior_mean_and_sd(sleepstudy, "sigma"),
    }
    for quantity, (mean, _) in ours.items():
        reference, sd = brms[quantity]
        assert abs(mean - reference) < 0.4 * sd, (quantity, mean, reference, sd)


def test_sleepstudy_subject_slopes_shrink_towards_the_population_slope(sleepstudy):
    """The subjects' Days slopes are pooled: their spread is smaller than that of each
    subject's own least-squares slope, while they keep its order (correlation > 0.9).
    Not every slope moves towards the mean: shrinkage is joint with the correlated
    intercepts, so a slope can move away from it (as in lme4's own plots)."""
    table = pd.read_csv(DATA / "sleepstudy.csv")
    own = table.groupby("Subject").apply(lambda g: np.polyfit(g["Days"], g["Reaction"], 1)[0], include_groups=False)
    pooled = sleepstudy.posterior["slope"].sel(varying="Days").mean(("chain", "draw"))
    pooled = pooled.sel(group=[str(s) for s in own.index]).values
    assert pooled.std() < 0.9 * own.values.std()
    assert np.corrcoef(pooled, own.values)[0, 1] > 0.9


@pytest.mark.parametrize("source, formula, names", [
    ("pastes.csv", "strength ~ 1 + (1 | batch/cask)",
     {"b_Intercept": "mu", "sd_cask:batch__Intercept": "tau", "sd_batch__Intercept": "tau_batch", "sigma": "sigma"}),
    ("penicillin.csv", "diameter ~ 1 + (1 | plate) + (1 | sample)",
     {"b_Intercept": "mu", "sd_plate__Intercept": "tau_plate", "sd_sample__Intercept": "tau_sample",
      "sigma": "sigma"}),
])
def test_nested_and_crossed_factors_match_lme4(tmp_path, source, formula, names):
    """lme4's REML estimates of Pastes (cask nested in batch) and Penicillin (plate
    crossed with sample). A posterior mean is not a REML estimate: with 6 to 30 levels
    per factor they differ by the prior and the skew of a standard deviation's
    posterior, so each must agree within half a posterior sd."""
    dataset = {"pastes.csv": "Pastes", "penicillin.csv": "Penicillin"}[source]
    reference = published(dataset, "lme4")
    idata = sample(prepared(tmp_path, DATA / source, formula), "partial_pooling", SETTINGS)[0]
    for quantity, name in names.items():
        mean, sd = posterior_mean_and_sd(idata, name)
        assert abs(mean - reference[quantity][0]) < 0.5 * sd, (quantity, mean, reference[quantity][0], sd)


RECOVERY_PRIORS = {"mu": "normal(0, 1)", "beta": "normal(0, 1)", "tau": "exponential(1)",
                   "tau_slope": "exponential(2)", "corr": "lkj(2)", "tau_batch": "exponential(1)",
                   "sigma": "exponential(1)"}


def _design(structure):
    """(factors, ModelData, slopes, slope_common, quantities) of two designs: 10 groups
    of 6 rows with a varying, correlated slope of x; and rows in 3 casks in each of 3
    batches, three levels of varying intercepts."""
    from pooling.hierarchy import Factor
    from pooling.models import ModelData

    if structure == "varying slopes":
        group = np.repeat(np.arange(10, dtype=np.int32), 6)
        x = np.tile(np.linspace(-1, 1, 6), 10)[:, None]
        factors = (Factor("g", ("1", "x"), np.arange(10), tuple(range(10)), (), True),)
        return (factors, ModelData(group=group, X=x, Z=x), ("x",), (0,),
                ("mu", "beta[0]", "tau", "tau_slope[0]", "corr[0,1]", "sigma"))
    group = np.repeat(np.arange(9, dtype=np.int32), 4)
    factors = (Factor("batch", ("1",), np.repeat(np.arange(3), 3), tuple("ABC"), (), False),
               Factor("batch:cask", ("1",), np.arange(9), tuple(range(9)), (0,), True))
    return factors, ModelData(group=group), (), (), ("mu", "tau_batch", "tau", "sigma")


def _value(values, quantity):
    name, _, index = quantity.partition("[")
    values = np.asarray(values[name])
    return values[(..., *map(int, index[:-1].split(",")))] if index else values


@pytest.mark.parametrize("structure", ["varying slopes", "three levels"])
def test_parameters_of_deeper_hierarchies_are_recovered(structure):
    """Parameter recovery: 40 datasets drawn from the partial-pooling model's own
    prior (so nominal coverage is exact), all fitted in one compiled program; each
    90% interval of a population-level parameter must cover the truth in 31 to 40 of
    them, the central 99.8% of Binomial(40, 0.9)."""
    import jax

    from pooling.batch import sample_many
    from pooling.models import strategy_model
    from pooling.priors import parse_prior

    factors, data, slopes, common, quantities = _design(structure)
    names = ["mu", *(["beta[x]"] if slopes else []), *(p for f in factors for p in f.parameters()), "sigma"]
    priors = {name: (parse_prior(RECOVERY_PRIORS[name.partition("[")[0]], name, name.partition("[")[0]), "user")
              for name in names}
    priors |= {"tau_slope[x]": priors.pop("tau_slope")} if slopes else {}
    model = strategy_model("partial_pooling", len(factors[-1].labels), priors, factors=factors, slopes=slopes,
                           slope_common=common)
    truths, ys = [], []
    for k in range(40):
        trace = handlers.trace(handlers.seed(model, jax.random.PRNGKey(k))).get_trace(data)
        truths.append({name: site["value"] for name, site in trace.items()})
        ys.append(np.asarray(trace["y"]["value"]))
    batch = jax.tree.map(lambda a: np.stack([a] * 40), data)
    settings = dict(chains=2, warmup=300, draws=250, target_accept=0.9, max_tree_depth=10)
    draws = sample_many(model, (batch,), np.array(ys), settings, jax.random.split(jax.random.PRNGKey(9), 40))
    low, high = stats.binom.ppf([0.001, 0.999], 40, 0.9)
    for quantity in quantities:
        covered = 0
        for k, truth in enumerate(truths):
            bounds = np.quantile(_value(draws, quantity)[k], [0.05, 0.95])
            covered += bool(bounds[0] <= _value(truth, quantity) <= bounds[1])
        assert low <= covered <= high, (quantity, covered)


@pytest.mark.parametrize("known_se", [False, True])
def test_varying_slopes_sufficient_statistics_give_the_rows_log_density(known_se):
    """The gaussian with varying slopes samples per-cell statistics (O(cells) per
    gradient): the same total log density as the rows, with a common predictor, a
    large response offset, and cells of one and two rows (rank-deficient per cell)."""
    from pooling.sufficient import cell_log_lik, cell_stats

    rng = np.random.default_rng(4)
    group = np.array([0, 0, 0, 0, 1, 2, 2, 3, 3, 3], dtype=np.int32)
    Z, X = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
    y = 1e4 + rng.normal(size=10)
    se = rng.gamma(4, 0.25, size=10) if known_se else None
    stats_ = cell_stats(y, group, 4, Z, se=se, X=X)
    for _ in range(3):
        theta, deviation, beta, sigma = 1e4 + rng.normal(size=4), rng.normal(size=(4, 2)), rng.normal(size=1), 0.7
        eta = theta[group] + (Z * deviation[group]).sum(1) + X @ beta
        rows = stats.norm.logpdf(y, eta, se if known_se else sigma).sum()
        total = float(cell_log_lik(stats_, theta, deviation, beta, None if known_se else sigma))
        assert total == pytest.approx(rows, rel=1e-9)


def test_a_crossed_factor_called_group_gets_its_own_dimension(tmp_path):
    """`group` is the cells' dimension; a crossed factor whose column has that name takes
    `group_level`, so its intercepts and the cells' each keep their own labels (the fit
    job failed on conflicting sizes before)."""
    rng = np.random.default_rng(5)
    table = pd.DataFrame({"y": rng.normal(size=40), "group": rng.choice(list("abcd"), 40),
                          "rater": rng.choice(["r1", "r2", "r3"], 40)})
    table.to_csv(tmp_path / "source.csv", index=False)
    data = prepared(tmp_path, tmp_path / "source.csv", "y ~ 1 + (1 | group) + (1 | rater)")
    idata, _ = sample(data, "partial_pooling", {**SETTINGS, "warmup": 50, "draws": 20})
    assert idata.posterior["theta_group"].dims == ("chain", "draw", "group_level")
    assert sorted(idata.posterior["group_level"].values.tolist()) == ["a", "b", "c", "d"]
    assert idata.posterior["theta"].sizes["group"] == data.n_groups == len(data.group_labels)
