"""What a partial-pooling fit expects at a level it has never seen: a new school,
county or player, the question "what do we expect at a new site" answers.

For each grouping factor, one new level: its effects, and those of a new level of every
factor nested in it (a new state brings a new county), drawn from the population with
each posterior draw, a fresh draw per draw. This is brms's sample_new_levels =
"gaussian": the only one of its three behaviours that follows the fitted population
distribution (with its correlations between intercept and slopes) rather than
resampling the seen levels' effects ("uncertainty", "old_levels"), which would make a
new level's spread that of the few levels seen, and reuse their quirks. The effects of
the other factors (the ones it is nested in, crossed ones) stay at their population mean
(zero), as lme4's predict() leaves out the terms its re.form does not name.

A new observation is drawn at the data's typical row: numeric design columns at their
mean, the indicator columns of a categorical predictor (formulae labels them `x[b]`) at
the reference level, an offset of 0 (one unit of exposure), binomial trials and known
standard errors at their median. Stored as the fit's `predictions` group, so
`az.summary(idata, group="predictions")` answers the question.
"""

import numpy as np

from .hierarchy import SINGLE
from .logo import _common, _new_factors, _population_draw, linear_predictor
from .logo import _flat as flat

SEED_STREAM = 15  # new-level draws get their own stream of the fit's seed


def typical(names, matrix):
    """(columns,) the typical value of each design column: its mean, 0 for the
    indicator of a categorical level (the reference level); None without columns."""
    if matrix is None:
        return None
    means = np.asarray(matrix, dtype=float).mean(axis=0)
    return np.array([0.0 if "[" in name else mean for name, mean in zip(names, means)])


def typical_row(data):
    """{X, U, Z, trials, se, offset} of the typical row of prepared `data` (pooling.data.Prepared)."""
    def median(values):
        return None if values is None else np.median(values)

    trials = median(data.trials)
    return dict(X=typical(data.predictor_names, data.X),
                U=typical(data.group_predictor_names, data.U),
                Z=typical(data.slope_names, data.Z),
                trials=None if trials is None else np.round(trials),
                se=median(data.se), offset=None if data.offset is None else np.float64(0.0))


def factor_names(data):
    """The new levels' labels: one per grouping factor, as the LOGO tables name them."""
    return [factor.name for factor in data.factors] or [SINGLE]


def new_level_coefficients(posterior, data, seed):
    """(draws, factors, 1 + slopes) the intercept (link scale, group-level predictors at
    their typical values) and varying slopes of one new level of each factor of `data`,
    from flat posterior draws {name: (draws, ...)}."""
    from .models import single_factor

    p = _flat(posterior)
    factors = data.factors or single_factor(data.n_groups)
    slopes = tuple(data.slope_names)
    rng = np.random.default_rng([seed, SEED_STREAM])
    out = np.repeat(_common(p, slopes, tuple(data.predictor_names))[:, None, :], len(factors), axis=1)
    U = typical_row(data)["U"]
    if U is not None:
        out[..., 0] += (p["gamma"] @ U)[:, None]
    for k in range(len(factors)):
        for a in _new_factors(factors, k):
            out[:, k] += _population_draw(p, factors[a], slopes, rng)
    return out


def _flat(posterior):
    return {name: flat(posterior, name) for name in posterior}


def new_level_predictions(posterior, data, family, seed, key):
    """({name: (draws, factors, ...)}, typical row): theta and slope of a new level of
    each factor and `y`, one new observation there at the typical row, drawn from the
    likelihood with the JAX PRNG `key`."""
    import jax

    p, row = _flat(posterior), typical_row(data)
    coefficients = new_level_coefficients(p, data, seed)
    levels = coefficients.shape[1]  # one typical row per new level

    def repeated(values):
        return None if values is None else np.tile(values, (levels, 1))

    eta = linear_predictor(coefficients, np.arange(levels),
                           _common(p, tuple(data.slope_names), tuple(data.predictor_names)),
                           p.get("beta"), repeated(row["X"]), repeated(row["Z"]))
    aux = {name: p[name][:, None] for name in family.auxiliary if name in p}
    if row["se"] is not None:
        aux["sigma"] = row["se"]
    trials = None if row["trials"] is None else np.int64(row["trials"])
    likelihood = family.numpyro_likelihood(eta, aux, trials)
    out = {"theta": coefficients[..., 0], "y": np.asarray(jax.device_get(likelihood.sample(key)))}
    if data.slope_names:
        out["slope"] = coefficients[..., 1:]
    return out, row
