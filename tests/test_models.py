import arviz as az
import jax
import numpy as np
import pytest
from numpyro import handlers
from numpyro.infer import MCMC, NUTS

from pooling import families
from pooling.data import load_prepared, prepare
from pooling.fit import EXTRA_FIELDS, model_data, run_nuts, sample, sampled_form, to_inference_data
from pooling.models import MODELS, build_spec, strategy_model, traced_priors, with_priors
from pooling.priors import FAMILIES, resolve_priors

from conftest import ROOT

SETTINGS = dict(chains=4, warmup=500, draws=1000, target_accept=0.9, seed=3,
                max_tree_depth=10, parameterization="noncentered", priors={})


@pytest.fixture(scope="module")
def radon_like(tmp_path_factory):
    """Three groups of unequal size, one row and one group-level predictor, rows
    interleaved across groups."""
    rng = np.random.default_rng(0)
    groups = np.array(list("abcabcaab"))
    floor = np.array([0, 1, 0, 1, 1, 0, 0, 1, 0.0])
    uranium = np.array([{"a": -0.5, "b": 0.1, "c": 0.7}[g] for g in groups])
    y = rng.normal(size=9) + floor + uranium
    path = tmp_path_factory.mktemp("data") / "prepared.csv"
    source = path.with_name("source.csv")
    source.write_text("g,y,floor,uranium\n" + "".join(
        f"{g},{v},{f},{u}\n" for g, v, f, u in zip(groups, y, floor, uranium)))
    prepare(str(source), "y", group="g", predictors=["floor"], group_predictors=["uranium"]).to_csv(path, index=False)
    return load_prepared(path)


def trace(strategy, data, parameterization="noncentered"):
    priors = resolve_priors(strategy, {}, data)
    spec = build_spec(data.n_groups, priors, parameterization)
    model = handlers.seed(MODELS[strategy], rng_seed=0)
    return handlers.trace(model).get_trace(spec, model_data(data, strategy), y=data.y)


@pytest.mark.parametrize("strategy", MODELS)
def test_one_observed_site_y_in_row_order_and_common_names(strategy, radon_like):
    sites = trace(strategy, radon_like)
    observed = [name for name, site in sites.items() if site["type"] == "sample" and site["is_observed"]]
    assert observed == ["y"]
    np.testing.assert_allclose(sites["y"]["value"], radon_like.y, rtol=1e-6)
    assert sites["y"]["fn"].batch_shape == (9,)
    assert sites["theta"]["value"].shape == (3,)
    assert sites["beta"]["value"].shape == (1,)
    assert sites["sigma"]["value"].shape == ()


def test_strategies_differ_exactly_in_what_they_share(radon_like):
    no = trace("no_pooling", radon_like)
    complete = trace("complete_pooling", radon_like)
    partial = trace("partial_pooling", radon_like)
    U = radon_like.U[:, 0]
    assert "mu" not in no and "tau" not in no and no["theta"]["type"] == "sample"
    assert "gamma" not in no  # a group-level predictor is collinear with no pooling's theta
    assert "tau" not in complete and complete["theta"]["type"] == "deterministic"
    np.testing.assert_allclose(
        complete["theta"]["value"], complete["mu"]["value"] + U * complete["gamma"]["value"][0], rtol=1e-6)
    assert partial["theta"]["type"] == "deterministic" and partial["theta_z"]["type"] == "sample"
    assert partial["gamma"]["value"].shape == (1,)
    np.testing.assert_allclose(
        partial["theta"]["value"],
        partial["mu"]["value"] + U * partial["gamma"]["value"][0]
        + partial["tau"]["value"] * partial["theta_z"]["value"], rtol=1e-6,
    )
    centered = trace("partial_pooling", radon_like, "centered")
    assert centered["theta"]["type"] == "sample" and "theta_z" not in centered


@pytest.fixture(scope="module")
def eight_schools(tmp_path_factory):
    path = tmp_path_factory.mktemp("eight") / "prepared.csv"
    prepare(str(ROOT / "resources" / "eight_schools.csv"), "y", "school", "se").to_csv(path, index=False)
    return load_prepared(path)


def test_known_standard_errors_replace_sigma(eight_schools):
    for strategy in MODELS:
        sites = trace(strategy, eight_schools)
        assert "sigma" not in sites
        np.testing.assert_allclose(sites["y"]["fn"].scale, eight_schools.se)


def conjugate_normal(prior_mean, prior_sd, y, se):
    """Exact posterior of a normal mean with a normal prior and known standard errors."""
    precision = 1 / prior_sd**2 + np.sum(1 / se**2, axis=-1)
    mean = (prior_mean / prior_sd**2 + np.sum(y / se**2, axis=-1)) / precision
    return mean, 1 / np.sqrt(precision)


@pytest.mark.parametrize("strategy", ["complete_pooling", "no_pooling"])
def test_nuts_matches_the_exact_conjugate_posterior(strategy, eight_schools):
    """With known se and a normal prior these posteriors are normal in closed form.
    Tolerances: 0.5 on the mean is about 5 Monte Carlo standard errors (sd ~4-9 over
    >1000 effective draws); 6% on the sd is about 3 of its Monte Carlo errors."""
    idata, priors = sample(eight_schools, strategy, SETTINGS)
    prior = priors["mu" if strategy == "complete_pooling" else "theta"][0]
    y, se = eight_schools.y, eight_schools.se
    if strategy == "complete_pooling":
        mean, sd = conjugate_normal(*prior.args, y, se)
        mean, sd = np.full(8, mean), np.full(8, sd)
    else:
        mean, sd = conjugate_normal(*prior.args, y[:, None], se[:, None])
    theta = idata.posterior["theta"]
    np.testing.assert_allclose(theta.mean(("chain", "draw")), mean, atol=0.5)
    np.testing.assert_allclose(theta.std(("chain", "draw")), sd, rtol=0.06)


def test_inference_data_has_every_group_and_the_real_labels(radon_like):
    idata, _ = sample(radon_like, "partial_pooling", {**SETTINGS, "warmup": 200, "draws": 100})
    assert set(idata.groups()) == {
        "posterior", "sample_stats", "log_likelihood", "posterior_predictive", "prior",
        "prior_predictive", "observed_data", "constant_data", "predictions", "predictions_constant_data",
    }
    assert idata.predictions["theta"].dims == ("chain", "draw", "new_level")
    assert idata.predictions_constant_data["U"].values.tolist() == pytest.approx(
        [idata.constant_data["U"].values[:, 0].mean()])
    assert idata.posterior["theta"].dims == ("chain", "draw", "group")
    assert idata.posterior["group"].values.tolist() == ["a", "b", "c"]
    assert idata.posterior["beta"].dims == ("chain", "draw", "predictor")
    assert idata.posterior["predictor"].values.tolist() == ["floor"]
    assert idata.posterior["gamma"].dims == ("chain", "draw", "group_predictor")
    assert idata.posterior["group_predictor"].values.tolist() == ["uranium"]
    assert idata.constant_data["U"].dims == ("group", "group_predictor")
    assert idata.log_likelihood["y"].shape == (4, 100, 9)
    assert idata.posterior_predictive["y"].dims == ("chain", "draw", "obs")
    np.testing.assert_allclose(idata.observed_data["y"], radon_like.y, rtol=1e-6)
    assert idata.constant_data["group_size"].values.tolist() == [4, 3, 2]
    assert {"diverging", "energy", "tree_depth"} <= set(idata.sample_stats.data_vars)


def test_posterior_and_sampler_statistics_are_those_of_az_from_numpyro(eight_schools):
    """to_inference_data builds the posterior and sample_stats itself from the fit's own
    NUTS driver (pooling.chains): the same names, dims, dtypes and library attrs as
    az.from_numpyro gives numpyro's MCMC run with the same kernel settings and key,
    and the same posterior (the two runs differ only in floating-point rounding, which
    NUTS amplifies: means within 4 MCSE)."""
    settings = {**SETTINGS, "warmup": 300, "draws": 300}
    mcmc, model, rows, _, fitted = run_nuts(eight_schools, "partial_pooling", settings)
    ours = to_inference_data(mcmc, model, rows, fitted, settings)
    numpyro_run = MCMC(NUTS(model, target_accept_prob=settings["target_accept"],
                            max_tree_depth=settings["max_tree_depth"]),
                       num_warmup=settings["warmup"], num_samples=settings["draws"], num_chains=settings["chains"],
                       chain_method="parallel", progress_bar=False)
    inputs, y = sampled_form(fitted, rows, families.named("gaussian"))
    numpyro_run.run(jax.random.split(jax.random.PRNGKey(settings["seed"]), 3)[0], inputs, y=y,
                    extra_fields=EXTRA_FIELDS)
    theirs = az.from_numpyro(numpyro_run, log_likelihood=False)
    for group in ("posterior", "sample_stats"):
        assert set(ours[group].data_vars) == set(theirs[group].data_vars), group
        for name, values in theirs[group].data_vars.items():
            assert ours[group][name].shape == values.shape, name  # (from_numpyro names no dims)
            assert ours[group][name].dtype == values.dtype or group == "posterior", name  # posterior: float32
        assert {k: ours[group].attrs[k] for k in ("inference_library", "inference_library_version")} == {
            k: theirs[group].attrs[k] for k in ("inference_library", "inference_library_version")}
    for name in ("mu", "tau", "theta"):
        gap = ours.posterior[name].values.mean((0, 1)) - theirs.posterior[name].values.mean((0, 1))
        mcse = np.hypot(az.mcse(ours, var_names=[name])[name].values, az.mcse(theirs, var_names=[name])[name].values)
        assert np.all(np.abs(gap) < 4 * mcse), f"{name}: {gap} vs MCSE {mcse}"


# one prior of each family (but lkj, a function of the factor's dimension): on tau where
# the support is positive, else on mu
EVERY_PRIOR_FAMILY = {
    "normal": ("mu", "normal(0.5, 1.5)"), "student_t": ("mu", "student_t(3, 0.5, 1.5)"),
    "cauchy": ("mu", "cauchy(0.5, 1.5)"), "uniform": ("mu", "uniform(-3, 4)"),
    "halfnormal": ("tau", "halfnormal(1.5)"), "halfcauchy": ("tau", "halfcauchy(1.5)"),
    "halfstudent_t": ("tau", "halfstudent_t(3, 1.5)"), "exponential": ("tau", "exponential(1.5)"),
    "lognormal": ("tau", "lognormal(0.5, 1.5)"), "gamma": ("tau", "gamma(2, 1.5)"),
}


def test_the_prior_table_covers_every_family():
    assert set(EVERY_PRIOR_FAMILY) == set(FAMILIES) - {"lkj"}


@pytest.mark.parametrize("family", EVERY_PRIOR_FAMILY)
def test_every_prior_family_passes_through_a_compiled_program_unchanged(family, eight_schools):
    """traced_priors gives each prior as {parameter: value} (nested distributions, such
    as the folded Student t's base, as nested dicts) and with_priors rebuilds it inside
    a compiled program: the same log density at a few points, for every prior family."""
    name, prior = EVERY_PRIOR_FAMILY[family]
    model = strategy_model("partial_pooling", eight_schools.n_groups,
                           resolve_priors("partial_pooling", {name: prior}, eight_schools))
    points = np.array([0.2, 0.7, 2.5])
    rebuilt = jax.jit(lambda p: with_priors(model, p).args[0].priors[name].log_prob(points))(traced_priors(model))
    np.testing.assert_allclose(rebuilt, model.args[0].priors[name].log_prob(points), rtol=1e-12)
    assert np.all(np.isfinite(rebuilt))
