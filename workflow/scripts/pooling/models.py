"""The three pooling strategies side by side, as vectorized numpyro models.

Every strategy has the same single observed site `y` over plate `obs` in the rows'
original order, so their pointwise log-likelihoods line up for LOO, and the same
`theta` over plate `group`, so their group estimates can be plotted together.
Arguments: `group` (row -> group index), known `se` per row, row predictors `X`,
group-level predictors `U` (one row per group), and `y`: the responses, None for
predictive draws, or their per-group sufficient statistics (`GroupStats`, then
`group`, `se` and `X` are None). The sufficient form is what NUTS samples: the same
posterior at O(groups) per gradient; its one observed site `y` is the rows' total
log density, so pointwise log-likelihoods always come from the row form.
"""

from dataclasses import dataclass
from functools import partial

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from .priors import COEFFICIENTS, stacked
from .sufficient import GroupStats, log_lik


@dataclass(frozen=True)
class Spec:
    """What a model needs besides the arrays: sizes and numpyro prior distributions."""

    n_groups: int
    priors: dict  # name -> numpyro distribution; "beta", "gamma" batched over columns
    centered: bool = False


def _coefficients(spec, name, plate, columns):
    """The coefficients `name`, one per column over `plate`; None without columns."""
    if not columns:
        return None
    with numpyro.plate(plate, columns):
        return numpyro.sample(name, spec.priors[name])


def _group_effects(spec, U):
    gamma = _coefficients(spec, "gamma", "group_predictor", 0 if U is None else U.shape[1])
    return 0.0 if gamma is None else U @ gamma


def _likelihood(spec, theta, group, se, X, y):
    stats = y if isinstance(y, GroupStats) else None
    if stats is None:
        columns, known_se = (0 if X is None else X.shape[1]), se is not None
    else:
        columns, known_se = stats.n_predictors, stats.known_se
    beta = _coefficients(spec, "beta", "predictor", columns)
    sigma = None if known_se else numpyro.sample("sigma", spec.priors["sigma"])
    if stats is not None:
        numpyro.factor("y", log_lik(stats, theta, beta, sigma))
        return
    mean = theta[group] + (0.0 if beta is None else X @ beta)
    with numpyro.plate("obs", mean.shape[0]):
        numpyro.sample("y", dist.Normal(mean, se if known_se else sigma), obs=y)


def no_pooling(spec, group, se=None, X=None, U=None, y=None):
    """Each group its own mean with an independent prior: nothing is shared. Group-level
    predictors are left out: they are collinear with the group means."""
    with numpyro.plate("group", spec.n_groups):
        theta = numpyro.sample("theta", spec.priors["theta"])
    _likelihood(spec, theta, group, se, X, y)


def complete_pooling(spec, group, se=None, X=None, U=None, y=None):
    """One mean for all rows (plus group-level predictors as ordinary predictors);
    theta is that mean per group so all strategies compare."""
    mu = numpyro.sample("mu", spec.priors["mu"])
    theta = numpyro.deterministic(
        "theta", jnp.broadcast_to(mu + _group_effects(spec, U), (spec.n_groups,))
    )
    _likelihood(spec, theta, group, se, X, y)


def partial_pooling(spec, group, se=None, X=None, U=None, y=None):
    """Group means drawn from Normal(mu + U gamma, tau) with mu, gamma and tau estimated.

    Non-centered by default (theta = mu + tau * theta_z), which avoids the funnel
    when groups carry little information; `centered` samples theta directly.
    """
    mu = numpyro.sample("mu", spec.priors["mu"])
    tau = numpyro.sample("tau", spec.priors["tau"])
    center = mu + _group_effects(spec, U)
    with numpyro.plate("group", spec.n_groups):
        if spec.centered:
            theta = numpyro.sample("theta", dist.Normal(center, tau))
        else:
            theta_z = numpyro.sample("theta_z", dist.Normal(0.0, 1.0))
            theta = numpyro.deterministic("theta", center + tau * theta_z)
    _likelihood(spec, theta, group, se, X, y)


MODELS = {
    "no_pooling": no_pooling,
    "complete_pooling": complete_pooling,
    "partial_pooling": partial_pooling,
}


def build_spec(n_groups, resolved_priors, parameterization="noncentered"):
    """Turn resolved priors ({name: (Prior, source)}) into a model Spec."""
    priors = {name: prior.to_numpyro() for name, (prior, _) in resolved_priors.items()
              if "[" not in name}
    for coefficient in COEFFICIENTS:
        columns = [prior for name, (prior, _) in resolved_priors.items()
                   if name.startswith(coefficient + "[")]
        if columns:
            priors[coefficient] = stacked(columns)
    return Spec(n_groups=n_groups, priors=priors, centered=parameterization == "centered")


def strategy_model(strategy, n_groups, resolved_priors, parameterization="noncentered"):
    """The strategy's model with its Spec bound, so that it takes only arrays (the
    data can then be traced arguments of a compiled program, as in pooling.batch)."""
    return partial(MODELS[strategy], build_spec(n_groups, resolved_priors, parameterization))
