import numpy as np
import numpyro.distributions as dist
import pytest

from pooling.data import Prepared
from pooling.errors import PriorError
from pooling.priors import (
    FAMILIES,
    Prior,
    check_overrides,
    default_priors,
    parse_prior,
    relevant_overrides,
    resolve_priors,
    scale_warning,
    stacked,
)

EIGHT_Y = np.array([28, 8, -3, 7, -1, 1, 18, 12.0])


def data(X=None, names=(), U=None, group_names=(), se=None):
    return Prepared(y=EIGHT_Y, group=np.arange(8), group_labels=list("ABCDEFGH"), se=se,
                    X=X, predictor_names=list(names), U=U, group_predictor_names=list(group_names))


@pytest.mark.parametrize("text, family, args, cls", [
    ("normal(0, 10)", "normal", (0, 10), dist.Normal),
    ("student_t(3, 0, 2.5)", "student_t", (3, 0, 2.5), dist.StudentT),
    ("cauchy(0,5)", "cauchy", (0, 5), dist.Cauchy),
    ("halfnormal(1)", "halfnormal", (1,), dist.HalfNormal),
    ("halfcauchy(5)", "halfcauchy", (5,), dist.HalfCauchy),
    (" halfstudent_t(3, 2.5) ", "halfstudent_t", (3, 2.5), dist.FoldedDistribution),
    ("exponential(1)", "exponential", (1,), dist.Exponential),
    ("lognormal(0, 1)", "lognormal", (0, 1), dist.LogNormal),
    ("uniform(0, 100)", "uniform", (0, 100), dist.Uniform),
])
def test_every_family_parses_to_its_numpyro_distribution(text, family, args, cls):
    prior = parse_prior(text, "priors.x")
    assert prior == Prior(family, tuple(float(a) for a in args))
    assert isinstance(prior.to_numpyro(), cls)
    assert parse_prior(str(prior), "priors.x") == prior


def test_parsed_distribution_has_the_stated_moments():
    normal = parse_prior("normal(3, 2)", "priors.mu").to_numpyro()
    assert float(normal.mean) == 3.0 and float(normal.variance) == 4.0
    assert float(parse_prior("exponential(0.5)", "p").to_numpyro().mean) == 2.0
    half_t = parse_prior("halfstudent_t(3, 2)", "priors.tau").to_numpyro()
    t = parse_prior("student_t(3, 0, 2)", "p").to_numpyro()
    assert float(half_t.log_prob(1.5)) == pytest.approx(float(t.log_prob(1.5)) + np.log(2), rel=1e-5)


@pytest.mark.parametrize("text, parameter, message", [
    ("normal 0 10", "mu",
     "datasets.d.priors.mu: cannot parse prior 'normal 0 10'; write it as family(arguments), e.g. 'normal(0, 10)'"),
    ("gauss(0, 1)", "mu",
     "datasets.d.priors.mu: unknown prior family 'gauss'; use one of " + ", ".join(FAMILIES)),
    ("normal(0, -1)", "mu", "datasets.d.priors.mu: normal needs scale > 0, got -1 in 'normal(0, -1)'"),
    ("normal(0)", "mu", "datasets.d.priors.mu: normal takes 2 finite number(s) (loc, scale), got 'normal(0)'"),
    ("normal(a, 1)", "mu",
     "datasets.d.priors.mu: arguments of 'normal(a, 1)' must be numbers, e.g. 'normal(loc, scale)'"),
    ("uniform(5, 1)", "mu", "datasets.d.priors.mu: uniform needs low < high, got 'uniform(5, 1)'"),
    ("normal(0, 5)", "tau",
     "datasets.d.priors.tau: tau is a standard deviation, so its prior needs positive support; use e.g. "
     "halfnormal, halfcauchy, halfstudent_t, exponential, lognormal or uniform(0, upper), not 'normal(0, 5)'"),
    ("normal(0, 1)", "corr",
     "datasets.d.priors.corr: a correlation matrix takes lkj(eta), e.g. lkj(2), not 'normal(0, 1)'"),
    ("lkj(2)", "tau_batch",
     "datasets.d.priors.tau_batch: lkj(eta) is the prior of a correlation matrix (corr) only, not 'lkj(2)'"),
    ("normal(0, 1)", "tau_slope_batch",
     "datasets.d.priors.tau_slope_batch: tau_slope_batch is a standard deviation, so its prior needs positive "
     "support; use e.g. halfnormal, halfcauchy, halfstudent_t, exponential, lognormal or uniform(0, upper), "
     "not 'normal(0, 1)'"),
])
def test_bad_priors_get_one_line_naming_the_key(text, parameter, message):
    with pytest.raises(PriorError) as error:
        parse_prior(text, f"datasets.d.priors.{parameter}", parameter)
    assert str(error.value) == message


def test_unknown_prior_parameter_is_rejected():
    with pytest.raises(PriorError, match=r"^priors.lambda: unknown parameter; priors can be set for mu, tau"):
        check_overrides({"lambda": "normal(0, 1)"}, "priors")


def test_defaults_follow_the_stated_autoscaling_rule():
    X = np.column_stack([np.arange(8.0), np.ones(8) * [0, 1, 0, 1, 0, 1, 0, 1]])
    U = np.linspace(-1, 3, 8)[:, None]
    priors = default_priors(data(X, ["x", "floor"], U, ["uranium"]))
    s = EIGHT_Y.std(ddof=1)
    assert priors["mu"] == Prior("normal", (EIGHT_Y.mean(), 2.5 * s))
    assert priors["theta"] == priors["mu"]
    assert priors["tau"] == Prior("exponential", (1 / s,))
    assert priors["sigma"] == Prior("exponential", (1 / s,))
    assert priors["beta[x]"] == Prior("normal", (0.0, 2.5 * s / X[:, 0].std(ddof=1)))
    assert priors["beta[floor]"] == Prior("normal", (0.0, 2.5 * s / X[:, 1].std(ddof=1)))
    assert priors["gamma[uranium]"] == Prior("normal", (0.0, 2.5 * s / U[:, 0].std(ddof=1)))


def test_resolution_per_strategy_with_user_overrides():
    X = np.arange(16.0).reshape(8, 2)
    U = np.arange(8.0)[:, None]
    overrides = {"mu": "normal(0, 5)", "beta": "normal(0, 2.5)"}
    partial = resolve_priors("partial_pooling", overrides, data(X, ["a", "b"], U, ["u"], se=np.ones(8)))
    assert set(partial) == {"mu", "tau", "beta[a]", "beta[b]", "gamma[u]"}  # known se: no sigma
    assert partial["mu"] == (Prior("normal", (0, 5)), "user")
    assert partial["tau"][1] == "default"
    assert partial["beta[b]"] == (Prior("normal", (0, 2.5)), "user")
    separate = resolve_priors("no_pooling", overrides, data(U=U, group_names=["u"]))
    assert set(separate) == {"theta", "sigma"}  # no gamma: collinear with theta
    assert separate["theta"] == (Prior("normal", (0, 5)), "user")  # falls back to mu's prior


def test_only_priors_a_strategy_reads_reach_its_params():
    overrides = {"mu": "normal(0, 1)", "tau": "halfcauchy(5)", "sigma": "exponential(1)"}
    assert relevant_overrides("complete_pooling", overrides) == {"mu": "normal(0, 1)", "sigma": "exponential(1)"}
    assert relevant_overrides("no_pooling", overrides) == {"mu": "normal(0, 1)", "sigma": "exponential(1)"}
    assert relevant_overrides("partial_pooling", overrides) == overrides


def test_predictor_priors_stack_into_one_batched_distribution():
    d = stacked([Prior("normal", (0, 1)), Prior("normal", (0, 4))])
    assert d.batch_shape == (2,)
    np.testing.assert_allclose(d.scale, [1, 4])


def test_huge_response_scale_with_default_priors_is_explained():
    huge = Prepared(y=EIGHT_Y * 1e4, group=np.arange(8), group_labels=list("ABCDEFGH"), se=None,
                    X=None, predictor_names=[], U=None, group_predictor_names=[])
    resolved = resolve_priors("complete_pooling", {}, huge)
    message = scale_warning(huge, resolved)
    assert message.startswith("the response has sd 1.04e+05 and mean 8.75e+04; default priors assumed "
                              "that scale (mu ~ normal(8.75e+04, 2.611e+05); sigma ~ exponential(9.575e-06))")
    user = resolve_priors("complete_pooling", {"mu": "normal(0, 1e5)", "sigma": "halfnormal(1e5)"}, huge)
    assert scale_warning(huge, user) is None  # the user chose the priors: nothing assumed
    assert scale_warning(data(), resolve_priors("complete_pooling", {}, data())) is None
