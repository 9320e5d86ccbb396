"""The three pooling strategies side by side, as vectorized numpyro models.

Every strategy has the same single observed site `y` over plate `obs` in the rows'
original order, so their pointwise log-likelihoods line up for LOO, and the same
`theta` over plate `group`, so their group estimates can be plotted together.
"""

from dataclasses import dataclass

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from .priors import stacked


@dataclass(frozen=True)
class Spec:
    """What a model needs besides the arrays: sizes and numpyro prior distributions."""

    n_groups: int
    priors: dict  # name -> numpyro distribution; "beta" is batched over predictors
    centered: bool = False


def _fixed_effects(spec, X):
    if X is None:
        return 0.0
    with numpyro.plate("predictor", X.shape[1]):
        beta = numpyro.sample("beta", spec.priors["beta"])
    return X @ beta


def _likelihood(spec, mean, se, y):
    scale = numpyro.sample("sigma", spec.priors["sigma"]) if se is None else se
    with numpyro.plate("obs", mean.shape[0]):
        numpyro.sample("y", dist.Normal(mean, scale), obs=y)


def no_pooling(spec, group, se=None, X=None, y=None):
    """Each group its own mean with an independent prior: nothing is shared."""
    with numpyro.plate("group", spec.n_groups):
        theta = numpyro.sample("theta", spec.priors["theta"])
    _likelihood(spec, theta[group] + _fixed_effects(spec, X), se, y)


def complete_pooling(spec, group, se=None, X=None, y=None):
    """One mean for all rows; theta repeats it per group so all strategies compare."""
    mu = numpyro.sample("mu", spec.priors["mu"])
    theta = numpyro.deterministic("theta", jnp.broadcast_to(mu, (spec.n_groups,)))
    _likelihood(spec, theta[group] + _fixed_effects(spec, X), se, y)


def partial_pooling(spec, group, se=None, X=None, y=None):
    """Group means drawn from Normal(mu, tau) with mu and tau estimated.

    Non-centered by default (theta = mu + tau * theta_z), which avoids the funnel
    when groups carry little information; `centered` samples theta directly.
    """
    mu = numpyro.sample("mu", spec.priors["mu"])
    tau = numpyro.sample("tau", spec.priors["tau"])
    with numpyro.plate("group", spec.n_groups):
        if spec.centered:
            theta = numpyro.sample("theta", dist.Normal(mu, tau))
        else:
            theta_z = numpyro.sample("theta_z", dist.Normal(0.0, 1.0))
            theta = numpyro.deterministic("theta", mu + tau * theta_z)
    _likelihood(spec, theta[group] + _fixed_effects(spec, X), se, y)


MODELS = {
    "no_pooling": no_pooling,
    "complete_pooling": complete_pooling,
    "partial_pooling": partial_pooling,
}


def build_spec(n_groups, resolved_priors, parameterization="noncentered"):
    """Turn resolved priors ({name: (Prior, source)}) into a model Spec."""
    priors = {name: prior.to_numpyro() for name, (prior, _) in resolved_priors.items()
              if not name.startswith("beta[")}
    betas = [prior for name, (prior, _) in resolved_priors.items() if name.startswith("beta[")]
    if betas:
        priors["beta"] = stacked(betas)
    return Spec(n_groups=n_groups, priors=priors, centered=parameterization == "centered")
