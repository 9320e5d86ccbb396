"""The three pooling strategies side by side, as vectorized numpyro models, for every
likelihood family (pooling.families).

Every strategy has the same single observed site `y` over plate `obs` in the rows'
original order, so their pointwise log-likelihoods line up for LOO, and the same
`theta` over plate `group` (each group's intercept on the link scale), so their group
estimates can be plotted together. A model takes its data as one `ModelData` (a JAX
pytree, so the data can be traced arguments of one compiled program, as in
pooling.batch) and `y`: the responses, None for predictive draws, or their per-group
sufficient statistics (pooling.sufficient), the form NUTS samples wherever it is exact:
the same posterior at O(groups) per gradient. Its one observed site `y` is then the
rows' total log density, so pointwise log-likelihoods always come from the row form.

Linear predictor of row i in group j: theta_j + x_i beta + offset_i.
"""

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from . import families
from .priors import COEFFICIENTS, stacked
from .sufficient import sufficient_log_lik


@dataclass(frozen=True)
class ModelData:
    """Everything a model reads besides the response; None where a dataset has none.
    In the sufficient form only `U` is kept (the rest is in the statistics)."""

    group: np.ndarray | None = None  # (rows,) index into the groups
    X: np.ndarray | None = None  # (rows, predictors)
    U: np.ndarray | None = None  # (groups, group predictors)
    offset: np.ndarray | None = None  # (rows,) added to the linear predictor
    trials: np.ndarray | None = None  # (rows,) binomial trials
    se: np.ndarray | None = None  # (rows,) known standard errors (gaussian)

    @property
    def rows(self):
        return self.group.shape[-1]

    def columns(self, name):
        matrix = getattr(self, name)
        return 0 if matrix is None else matrix.shape[-1]


jax.tree_util.register_dataclass(
    ModelData, data_fields=["group", "X", "U", "offset", "trials", "se"], meta_fields=[])


@dataclass(frozen=True)
class Spec:
    """What a model needs besides the data: sizes, family and numpyro priors."""

    n_groups: int
    priors: dict  # name -> numpyro distribution; "beta", "gamma" batched over columns
    family: families.Family = families.BY_NAME["gaussian"]
    centered: bool = False


def _coefficients(spec, name, plate, columns):
    """The coefficients `name`, one per column over `plate`; None without columns."""
    if not columns:
        return None
    with numpyro.plate(plate, columns):
        return numpyro.sample(name, spec.priors[name])


def _group_effects(spec, data):
    gamma = _coefficients(spec, "gamma", "group_predictor", data.columns("U"))
    return 0.0 if gamma is None else data.U @ gamma


def _likelihood(spec, theta, data, y):
    stats = None if y is None or hasattr(y, "shape") else y
    predictors = data.columns("X") if stats is None else stats.n_predictors
    beta = _coefficients(spec, "beta", "predictor", predictors)
    known_se = data.se is not None if stats is None else getattr(stats, "known_se", False)
    aux = {name: numpyro.sample(name, spec.priors[name]) for name in spec.family.auxiliary
           if not (name == "sigma" and known_se)}
    if stats is not None:
        numpyro.factor("y", sufficient_log_lik(stats, theta, beta, aux.get("sigma")))
        return
    eta = theta[data.group]
    if beta is not None:
        eta = eta + data.X @ beta
    if data.offset is not None:
        eta = eta + data.offset
    with numpyro.plate("obs", data.rows):
        likelihood = (dist.Normal(eta, data.se) if known_se
                      else spec.family.numpyro_likelihood(eta, aux, data.trials))
        numpyro.sample("y", likelihood, obs=y)


def no_pooling(spec, data, y=None):
    """Each group its own intercept with an independent prior: nothing is shared.
    Group-level predictors are left out: they are collinear with the intercepts."""
    with numpyro.plate("group", spec.n_groups):
        theta = numpyro.sample("theta", spec.priors["theta"])
    _likelihood(spec, theta, data, y)


def complete_pooling(spec, data, y=None):
    """One intercept for all rows (plus group-level predictors as ordinary predictors);
    theta is that intercept per group so all strategies compare."""
    mu = numpyro.sample("mu", spec.priors["mu"])
    theta = numpyro.deterministic(
        "theta", jnp.broadcast_to(mu + _group_effects(spec, data), (spec.n_groups,))
    )
    _likelihood(spec, theta, data, y)


def partial_pooling(spec, data, y=None):
    """Group intercepts drawn from Normal(mu + U gamma, tau), mu, gamma, tau estimated.

    Non-centered by default (theta = mu + tau * theta_z), which avoids the funnel
    when groups carry little information; `centered` samples theta directly.
    """
    mu = numpyro.sample("mu", spec.priors["mu"])
    tau = numpyro.sample("tau", spec.priors["tau"])
    center = mu + _group_effects(spec, data)
    with numpyro.plate("group", spec.n_groups):
        if spec.centered:
            theta = numpyro.sample("theta", dist.Normal(center, tau))
        else:
            theta_z = numpyro.sample("theta_z", dist.Normal(0.0, 1.0))
            theta = numpyro.deterministic("theta", center + tau * theta_z)
    _likelihood(spec, theta, data, y)


MODELS = {
    "no_pooling": no_pooling,
    "complete_pooling": complete_pooling,
    "partial_pooling": partial_pooling,
}


def build_spec(n_groups, resolved_priors, parameterization="noncentered", family="gaussian"):
    """Turn resolved priors ({name: (Prior, source)}) into a model Spec."""
    priors = {name: prior.to_numpyro() for name, (prior, _) in resolved_priors.items()
              if "[" not in name}
    for coefficient in COEFFICIENTS:
        columns = [prior for name, (prior, _) in resolved_priors.items()
                   if name.startswith(coefficient + "[")]
        if columns:
            priors[coefficient] = stacked(columns)
    return Spec(n_groups=n_groups, priors=priors, family=families.named(family),
                centered=parameterization == "centered")


def strategy_model(strategy, n_groups, resolved_priors, parameterization="noncentered",
                   family="gaussian"):
    """The strategy's model with its Spec bound, so that it takes only data (the data
    can then be traced arguments of a compiled program, as in pooling.batch)."""
    return partial(MODELS[strategy], build_spec(n_groups, resolved_priors, parameterization, family))
