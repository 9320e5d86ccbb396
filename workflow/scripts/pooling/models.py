"""The three pooling strategies side by side, as vectorized numpyro models, for every
likelihood family (pooling.families) and every group structure a formula gives
(pooling.hierarchy: varying intercepts and slopes over nested and crossed factors).

Every strategy has the same single observed site `y` over plate `obs` in the rows'
original order, so their pointwise log-likelihoods line up for LOO, and the same
`theta` over plate `group` (each cell's intercept on the link scale; the cells are the
finest groups), so their group estimates can be plotted together. A model takes its
data as one `ModelData` (a JAX pytree, so the data can be traced arguments of one
compiled program, as in pooling.batch) and `y`: the responses, None for predictive
draws, or their per-group sufficient statistics (pooling.sufficient), the form NUTS
samples wherever it is exact: the same posterior at O(groups) per gradient. Its one
observed site `y` is then the rows' total log density, so pointwise log-likelihoods
always come from the row form.

Linear predictor of row i in cell j: theta_j + x_i beta + z_i (slope_j - beta_z) +
offset_i, where slope_j are the cell's varying slopes and beta_z their population
means (the common coefficients of the same columns, 0 for a column that is no common
term). Each factor's effects are index-based (a level per cell, never a dense design
matrix) and non-centered: correlated effects are z @ (diag(tau) L)' with L the
Cholesky factor of an LKJ-distributed correlation matrix, as brms samples them.
"""

from dataclasses import dataclass, replace
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from . import families
from .hierarchy import Factor
from .priors import stacked
from .sufficient import negative_binomial_log_lik, sufficient_log_lik


@dataclass(frozen=True)
class ModelData:
    """Everything a model reads besides the response; None where a dataset has none.
    In the sufficient form only `U` is kept (the rest is in the statistics)."""

    group: np.ndarray | None = None  # (rows,) index into the cells
    X: np.ndarray | None = None  # (rows, predictors)
    U: np.ndarray | None = None  # (cells, group predictors)
    offset: np.ndarray | None = None  # (rows,) added to the linear predictor
    trials: np.ndarray | None = None  # (rows,) binomial trials
    se: np.ndarray | None = None  # (rows,) known standard errors (gaussian)
    Z: np.ndarray | None = None  # (rows, varying slopes) their design columns

    @property
    def rows(self):
        return self.group.shape[-1]

    def columns(self, name):
        matrix = getattr(self, name)
        return 0 if matrix is None else matrix.shape[-1]


jax.tree_util.register_dataclass(
    ModelData, data_fields=["group", "X", "U", "offset", "trials", "se", "Z"], meta_fields=[])


@dataclass(frozen=True)
class Spec:
    """What a model needs besides the data: sizes, group structure, family and priors."""

    n_groups: int  # cells
    priors: dict  # name -> numpyro distribution; coefficients batched over columns
    family: families.Family = families.BY_NAME["gaussian"]
    centered: bool = False
    factors: tuple = ()  # pooling.hierarchy.Factor each, parents before the factors nested in them
    slopes: tuple = ()  # the varying design columns (Z's columns)
    slope_common: tuple = ()  # per slope, its column of X (beta), or -1

    @property
    def terms(self):
        """Every varying term: the intercept, then each slope (a factor's effects are
        laid out over these, zero where it has no such term)."""
        return ("1", *self.slopes)


def _coefficients(spec, name, plate, columns):
    """The coefficients `name`, one per column over `plate`; None without columns."""
    if not columns:
        return None
    with numpyro.plate(plate, columns):
        return numpyro.sample(name, spec.priors[name])


def _statistics(y):
    """The sufficient statistics a model was given as `y`, None for rows (or no y)."""
    return None if y is None or hasattr(y, "shape") else y


def _n_predictors(data, y):
    stats = _statistics(y)
    return data.columns("X") if stats is None or stats.per_row else stats.n_predictors


def _population_slopes(spec, beta):
    """(slopes,) the mean of each varying slope: its common coefficient, else 0."""
    return jnp.stack([beta[k] if k >= 0 else jnp.zeros(()) for k in spec.slope_common]) \
        if spec.slopes else jnp.zeros((0,))


def _likelihood(spec, theta, slope_deviation, beta, data, y):
    stats = _statistics(y)
    known_se = data.se is not None if stats is None else getattr(stats, "known_se", False)
    aux = {name: numpyro.sample(name, spec.priors[name]) for name in spec.family.auxiliary
           if not (name == "sigma" and known_se)}
    if stats is not None and not stats.per_row:
        numpyro.factor("y", sufficient_log_lik(stats, theta, beta, aux.get("sigma"), slope_deviation))
        return
    eta = theta[data.group]
    if beta is not None:
        eta = eta + data.X @ beta
    if slope_deviation is not None:
        eta = eta + jnp.sum(data.Z * slope_deviation[data.group], axis=-1)
    if data.offset is not None:
        eta = eta + data.offset
    if stats is not None:
        numpyro.factor("y", negative_binomial_log_lik(stats, eta, aux["alpha"]))
        return
    with numpyro.plate("obs", data.rows):
        likelihood = (dist.Normal(eta, data.se) if known_se
                      else spec.family.numpyro_likelihood(eta, aux, data.trials))
        numpyro.sample("y", likelihood, obs=y)


def no_pooling(spec, data, y=None):
    """Each cell its own intercept and varying slopes, with independent priors: nothing
    is shared. Group-level predictors, and the common terms of the varying slopes, are
    left out: they are collinear with the free cell coefficients."""
    beta = _coefficients(spec, "beta", "predictor", _n_predictors(data, y))
    with numpyro.plate("group", spec.n_groups):
        theta = numpyro.sample("theta", spec.priors["theta"])
    slope = None
    if spec.slopes:
        with numpyro.plate("group", spec.n_groups, dim=-2), numpyro.plate("varying", len(spec.slopes), dim=-1):
            slope = numpyro.sample("slope", spec.priors["slope"])
    _likelihood(spec, theta, slope, beta, data, y)


def complete_pooling(spec, data, y=None):
    """One intercept for all rows (plus group-level predictors as ordinary predictors)
    and every group term dropped; theta is that intercept per cell so all strategies
    compare."""
    mu = numpyro.sample("mu", spec.priors["mu"])
    beta = _coefficients(spec, "beta", "predictor", _n_predictors(data, y))
    theta = numpyro.deterministic(
        "theta", jnp.broadcast_to(mu + _group_effects(spec, data), (spec.n_groups,))
    )
    _likelihood(spec, theta, None, beta, data, y)


def _group_effects(spec, data):
    gamma = _coefficients(spec, "gamma", "group_predictor", data.columns("U"))
    return 0.0 if gamma is None else data.U @ gamma


def _scales(spec, factor):
    """(terms,) the factor's group-level standard deviations, intercept first."""
    parts = []
    if factor.intercept:
        parts.append(numpyro.sample(factor.name_of("tau"), spec.priors[factor.name_of("tau")])[None])
    if factor.slopes:
        with numpyro.plate(f"{factor.dim}_varying", len(factor.slopes)):
            parts.append(numpyro.sample(factor.name_of("tau_slope"), spec.priors[factor.name_of("tau_slope")]))
    return jnp.concatenate(parts)


def _deviations(spec, factor, center):
    """(levels, terms of the factor) each level's effects, deviations from `center`
    (levels,), its parent's intercept (used by a centered varying intercept only)."""
    scale = _scales(spec, factor)
    if len(factor.terms) == 1:
        with numpyro.plate(factor.dim, factor.n_levels):
            if spec.centered:
                total = numpyro.sample(factor.name_of("theta"), dist.Normal(center, scale[0]))
                return (total - center)[:, None]
            z = numpyro.sample(factor.name_of("theta_z"), dist.Normal(0.0, 1.0))
        return (scale[0] * z)[:, None]
    cholesky = numpyro.sample(f"{factor.name_of('corr')}_cholesky",
                              spec.priors[factor.name_of("corr")](len(factor.terms)))
    numpyro.deterministic(factor.name_of("corr"), cholesky @ cholesky.T)
    with numpyro.plate(factor.dim, factor.n_levels):
        z = numpyro.sample(factor.name_of("theta_z"), dist.Normal(0.0, 1.0).expand([len(factor.terms)]).to_event(1))
    return (z * scale) @ cholesky.T


def _chain(spec, k):
    """The factor k and those it is nested in, outermost first."""
    return (*spec.factors[k].ancestors, k)


def partial_pooling(spec, data, y=None):
    """Every factor's effects drawn around the level above: a cell's coefficients are
    the population's (mu + U gamma, the slopes' common coefficients) plus the effects
    of every factor it belongs to, each factor's effects Normal with its own standard
    deviations (tau, tau_slope) and, where it has several terms, an LKJ correlation.

    Non-centered by default (effects = tau * z), which avoids the funnel when groups
    carry little information; `centered` samples a varying intercept directly around
    its parent's (effects with slopes stay non-centered, as brms samples them).
    """
    mu = numpyro.sample("mu", spec.priors["mu"])
    beta = _coefficients(spec, "beta", "predictor", _n_predictors(data, y))
    center = mu + _group_effects(spec, data)
    common = jnp.concatenate([mu[None], _population_slopes(spec, beta)])
    columns = {term: k for k, term in enumerate(spec.terms)}
    deviations = []  # (levels, all terms) per factor
    for factor in spec.factors:
        parent = sum((deviations[a][factor.ancestor_level(spec.factors[a]), 0] for a in factor.ancestors),
                     jnp.zeros(factor.n_levels))
        parent = parent + (center if factor.finest else mu)
        own = _deviations(spec, factor, parent)
        deviations.append(jnp.zeros((factor.n_levels, len(spec.terms))).at[
            :, [columns[t] for t in factor.terms]].set(own))
    for k, factor in enumerate(spec.factors):
        if factor.finest:
            continue
        total = common + sum(deviations[a][factor.ancestor_level(spec.factors[a]) if a != k else slice(None)]
                             for a in _chain(spec, k))
        if factor.intercept and not (spec.centered and factor.terms == ("1",)):  # else sampled
            numpyro.deterministic(factor.name_of("theta"), total[:, 0])
        if factor.slopes:
            numpyro.deterministic(factor.name_of("slope"), total[:, [columns[t] for t in factor.slopes]])
    cell = sum(deviation[factor.level] for factor, deviation in zip(spec.factors, deviations))
    theta = center + cell[:, 0]
    if not (spec.centered and any(f.finest and f.terms == ("1",) for f in spec.factors)):
        numpyro.deterministic("theta", theta)
    slope_deviation = None
    if spec.slopes:
        slope_deviation = cell[:, 1:]
        numpyro.deterministic("slope", common[1:] + slope_deviation)
    _likelihood(spec, theta, slope_deviation, beta, data, y)


MODELS = {
    "no_pooling": no_pooling,
    "complete_pooling": complete_pooling,
    "partial_pooling": partial_pooling,
}


def single_factor(n_groups):
    """The structure of one varying intercept `(1 | g)`: one finest factor."""
    return (Factor(name="group", terms=("1",), level=np.arange(n_groups, dtype=np.int32),
                   labels=tuple(range(n_groups)), ancestors=(), finest=True),)


def build_spec(n_groups, resolved_priors, parameterization="noncentered", family="gaussian",
               factors=(), slopes=(), slope_common=()):
    """Turn resolved priors ({name: (Prior, source)}) into a model Spec; `factors`
    default to one varying intercept over the `n_groups` groups."""
    priors = {name: prior.to_numpyro() for name, (prior, _) in resolved_priors.items()
              if "[" not in name}
    batched = sorted({name.partition("[")[0] for name in resolved_priors if "[" in name})
    for root in batched:
        columns = [prior for name, (prior, _) in resolved_priors.items()
                   if name.partition("[")[0] == root]
        priors[root] = stacked(columns)
    return Spec(n_groups=n_groups, priors=priors, family=families.named(family),
                centered=parameterization == "centered", factors=factors or single_factor(n_groups),
                slopes=tuple(slopes), slope_common=tuple(slope_common))


def strategy_model(strategy, n_groups, resolved_priors, parameterization="noncentered",
                   family="gaussian", factors=(), slopes=(), slope_common=()):
    """The strategy's model with its Spec bound, so that it takes only data (the data
    can then be traced arguments of a compiled program, as in pooling.batch)."""
    return partial(MODELS[strategy], build_spec(n_groups, resolved_priors, parameterization, family,
                                                factors, slopes, slope_common))


def traced_priors(model):
    """The priors of a strategy_model that can be arguments of a compiled program:
    numpyro distributions are pytrees of their parameters. The data-scaled defaults
    differ from dataset to dataset; as arguments they leave one program per shape.
    (An LKJ prior is a function of the factor's dimension and stays a constant.)
    Each is given as {parameter name: value} (pytrees flatten dicts in key order), not
    as the distribution: numpyro flattens a distribution's parameters in the order of
    a Python set of their names, which changes with the process's hash seed, so the
    same model in another process lowered to a program with its arguments permuted,
    and the persistent compilation cache missed it one time in two."""
    return {name: _parameters(prior) for name, prior in model.args[0].priors.items()
            if isinstance(prior, dist.Distribution)}


def _parameters(prior):
    names, values = type(prior).gather_pytree_data_fields(), prior.tree_flatten()[0]
    return {name: _parameters(v) if isinstance(v, dist.Distribution) else v for name, v in zip(names, values)}


def _rebuilt(prior, parameters):
    """`prior`'s distribution with `parameters` (as _parameters gives them) in place of its own."""
    names, (values, aux) = type(prior).gather_pytree_data_fields(), prior.tree_flatten()
    return type(prior).tree_unflatten(aux, tuple(
        _rebuilt(v, parameters[name]) if isinstance(v, dist.Distribution) else parameters[name]
        for name, v in zip(names, values)))


def with_priors(model, priors):
    """The strategy_model `model` with `priors` (traced_priors' form, e.g. traced) in
    place of its own."""
    spec = model.args[0]
    rebuilt = {name: _rebuilt(spec.priors[name], parameters) for name, parameters in priors.items()}
    return partial(model.func, replace(spec, priors={**spec.priors, **rebuilt}))
