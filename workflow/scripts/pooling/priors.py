"""Prior strings in the brms spirit ("normal(0, 10)") and the data-scaled defaults.

Parsing needs no JAX, so the Snakefile checks every prior before any job starts.
"""

import math
import re
from dataclasses import dataclass

from . import families, strategies
from .errors import PriorError

# family -> (argument names, arguments that must be > 0, support is positive)
FAMILIES = {
    "normal": (("loc", "scale"), ("scale",), False),
    "student_t": (("df", "loc", "scale"), ("df", "scale"), False),
    "cauchy": (("loc", "scale"), ("scale",), False),
    "halfnormal": (("scale",), ("scale",), True),
    "halfcauchy": (("scale",), ("scale",), True),
    "halfstudent_t": (("df", "scale"), ("df", "scale"), True),
    "exponential": (("rate",), ("rate",), True),
    "lognormal": (("loc", "scale"), ("scale",), True),
    "uniform": (("low", "high"), (), False),
    "gamma": (("shape", "rate"), ("shape", "rate"), True),
    "lkj": (("eta",), ("eta",), False),  # correlation matrices only (its dimension is the factor's terms)
}


def _numpyro_family(family):
    """The numpyro constructor of a family, taking FAMILIES' arguments in order."""
    import numpyro.distributions as dist

    if family == "halfstudent_t":
        return lambda df, scale: dist.FoldedDistribution(dist.StudentT(df, 0.0, scale))
    if family == "lkj":  # of a Cholesky factor, given the matrix's dimension
        return lambda eta: lambda dimension: dist.LKJCholesky(dimension, eta)
    names = {"student_t": "StudentT", "halfnormal": "HalfNormal", "halfcauchy": "HalfCauchy",
             "lognormal": "LogNormal"}
    return getattr(dist, names.get(family, family.capitalize()))


# Parameters that live on (0, inf): their prior must not put mass below zero.
POSITIVE = ("tau", "tau_slope", *families.AUXILIARY)
MEANING = {"nu": "degrees of freedom", "alpha": "a dispersion (the negative binomial's shape)"}
# what a prior can be set for; a grouping factor's own (pooling.hierarchy) take its
# name as a suffix: tau_state, tau_slope_state, corr_state
KNOWN = ("mu", "tau", "tau_slope", "corr", "beta", "gamma", "theta", "slope", *families.AUXILIARY)
# Coefficients and slope scales: one prior per column, named like beta[floor].
COEFFICIENTS = ("beta", "gamma", "slope", "tau_slope")
CORRELATION = "corr"
DEFAULT_LKJ = 2.0

_PATTERN = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$")


@dataclass(frozen=True)
class Prior:
    family: str
    args: tuple

    def __str__(self):
        return f"{self.family}({', '.join(_fmt(a) for a in self.args)})"

    @property
    def positive(self):
        return FAMILIES[self.family][2] or (self.family == "uniform" and self.args[0] >= 0)

    def to_numpyro(self):
        return _numpyro_family(self.family)(*(float(a) for a in self.args))


def stacked(priors):
    """One batched numpyro distribution from same-family priors (one per predictor)."""
    import numpy as np

    families = {p.family for p in priors}
    assert len(families) == 1, f"predictor priors must share a family, got {families}"
    columns = np.array([p.args for p in priors], dtype=float).T
    return _numpyro_family(priors[0].family)(*columns)


def _fmt(value):
    return f"{value:.4g}"


def parse_prior(text, where, parameter=None):
    """Parse `text`; `where` names the config key in every error message."""
    match = _PATTERN.match(str(text))
    if not match:
        raise PriorError(
            f"{where}: cannot parse prior {text!r}; write it as family(arguments), "
            f"e.g. 'normal(0, 10)'"
        )
    family, body = match.groups()
    if family not in FAMILIES:
        raise PriorError(
            f"{where}: unknown prior family {family!r}; use one of {', '.join(FAMILIES)}"
        )
    names, must_be_positive, _ = FAMILIES[family]
    try:
        args = tuple(float(a) for a in body.split(",")) if body.strip() else ()
    except ValueError:
        raise PriorError(
            f"{where}: arguments of {text!r} must be numbers, e.g. '{family}({', '.join(names)})'"
        ) from None
    if len(args) != len(names) or not all(math.isfinite(a) for a in args):
        raise PriorError(
            f"{where}: {family} takes {len(names)} finite number(s) "
            f"({', '.join(names)}), got {text!r}"
        )
    for name, value in zip(names, args):
        if name in must_be_positive and value <= 0:
            raise PriorError(f"{where}: {family} needs {name} > 0, got {_fmt(value)} in {text!r}")
    if family == "uniform" and args[0] >= args[1]:
        raise PriorError(f"{where}: uniform needs low < high, got {text!r}")
    prior = Prior(family, args)
    base = root_of(parameter) if parameter else None
    if parameter and (base == CORRELATION) != (family == "lkj"):
        reason = ("a correlation matrix takes lkj(eta), e.g. lkj(2)" if base == CORRELATION
                  else "lkj(eta) is the prior of a correlation matrix (corr) only")
        raise PriorError(f"{where}: {reason}, not {text!r}")
    if base in POSITIVE and not prior.positive:
        raise PriorError(
            f"{where}: {parameter} is {MEANING.get(base, 'a standard deviation')}, so its "
            f"prior needs positive support; use e.g. halfnormal, halfcauchy, halfstudent_t, exponential, "
            f"lognormal or uniform(0, upper), not {text!r}"
        )
    return prior


def root_of(name):
    """The KNOWN name a parameter name stands for: tau_slope_state -> tau_slope."""
    from .hierarchy import root

    base, _ = root(name)
    return base or name


def check_overrides(overrides, where, factors=None):
    """Parse every user prior so that a typo stops the run before any job starts.
    `factors` (grouping factor names of the dataset's formula, if known) also checks
    that a suffixed name (tau_state) names one of them."""
    for name, text in overrides.items():
        base = root_of(name)
        suffix = name[len(base):]
        unknown = base not in KNOWN or (suffix and (factors is not None and suffix[1:] not in factors))
        if unknown:
            raise PriorError(
                f"{where}.{name}: unknown parameter; priors can be set for {', '.join(KNOWN)}, and a "
                f"grouping factor's tau, tau_slope and corr with its name appended (tau_county)"
            )
        parse_prior(text, f"{where}.{name}", name)


def sampled(strategy, family="gaussian", known_se=False, factors=None):
    """The parameters a strategy's fit samples under `family` (a name): the strategy's
    own (partial pooling's `tau` standing for every grouping factor's standard
    deviations and correlations, pooling.hierarchy.Factor.parameters, when `factors`
    are given; no pooling's `theta` for its cell coefficients, `slope` too where the
    factors vary slopes), then the family's (sigma, nu, alpha), sigma aside where the
    se are known."""
    extra = [p for p in families.named(family).auxiliary if not (p == "sigma" and known_se)]
    own = []
    for name in strategies.named(strategy).parameters:
        if name == "tau" and factors:
            own += [p for factor in factors for p in factor.parameters()]
        elif name == "theta" and factors and any(f.slopes for f in factors):
            own += ["theta", "slope"]
        else:
            own.append(name)
    return (*own, *extra)


def relevant_overrides(strategy, overrides, family="gaussian"):
    """The user priors a strategy's fit reads, so other priors do not trigger its rerun."""
    parameters = set(sampled(strategy, family))
    if "tau" in parameters:  # and every factor's scales and correlations
        parameters |= {"tau_slope", "corr"}
    if "theta" in parameters:
        parameters |= {"slope", "mu"}  # theta defaults to mu's prior
    return {name: text for name, text in overrides.items() if root_of(name) in parameters}


def default_priors(data, family="gaussian"):
    """Weakly-informative priors on the link scale, scaled to the data after
    rstanarm's and bambi's autoscaling.

    Identity link (gaussian, t), with s = sd(y) (1 if y has no spread): mu and every
    no-pooling theta ~ normal(mean(y), 2.5 s); tau and sigma ~ exponential(1 / s).
    Logit and log links take the scale as 1: mu and theta ~ normal(link(pooled mean),
    2.5), the pooled mean being the share of successes or the rate per unit of exposure;
    tau ~ exponential(1). Each coefficient ~ normal(0, 2.5 s / sd(x)), with sd(x) over
    rows for a predictor (beta) and over groups for a group-level predictor (gamma);
    no pooling's cell slopes too (slope, sd of the slope's column z). Every grouping
    factor's intercept sd ~ tau's prior, each slope's sd (tau_slope) ~ exponential(sd(z)
    / s), and each correlation matrix ~ lkj(2) (the PyMC primer's; brms's is lkj(1)),
    which leans towards independent effects when few groups inform it.
    t: nu ~ gamma(2, 0.1) (brms and bambi's default); negativebinomial: alpha ~
    halfcauchy(1), which leaves room for nearly Poisson data (large alpha).
    """
    import numpy as np

    family = families.named(family)
    if family.link == "identity":
        y = data.y if data.offset is None else data.y - data.offset
        scale = _spread(y) or 1.0
        center = float(np.mean(y))
    else:
        scale, center = 1.0, _pooled_link(family, data)
    location = Prior("normal", (center, 2.5 * scale))
    priors = {
        "mu": location,
        "theta": location,
        "tau": Prior("exponential", (1.0 / scale,)),
        "sigma": Prior("exponential", (1.0 / scale,)),
        "nu": Prior("gamma", (2.0, 0.1)),
        "alpha": Prior("halfcauchy", (1.0,)),
    }
    for name, matrix, columns in _coefficients(data):
        for k, column in enumerate(columns):
            priors[f"{name}[{column}]"] = Prior("normal", (0.0, 2.5 * scale / (_spread(matrix[:, k]) or 1.0)))
    slope_spread = {column: _spread(data.Z[:, k]) or 1.0 for k, column in enumerate(data.slope_names)}
    for factor in data.factors:
        priors[factor.name_of("tau")] = priors["tau"]
        priors[factor.name_of("corr")] = Prior("lkj", (DEFAULT_LKJ,))
        for column in (c for c in factor.slopes if c in slope_spread):  # none under complete pooling
            priors[f"{factor.name_of('tau_slope')}[{column}]"] = Prior("exponential", (slope_spread[column] / scale,))
    return priors


def _pooled_link(family, data):
    """The link of the pooled mean, kept half an event from 0 (and from every trial)."""
    import numpy as np

    events = float(np.sum(data.y))
    if family.link == "logit":
        trials = float(np.sum(data.trials)) if data.trials is not None else float(len(data.y))
        return float(family.link_of(np.clip(events, 0.5, trials - 0.5) / trials))
    exposure = float(np.sum(np.exp(data.offset))) if data.offset is not None else float(len(data.y))
    return float(family.link_of(max(events, 0.5) / exposure))


def _spread(values):
    import numpy as np

    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _coefficients(data):
    yield "beta", data.X, data.predictor_names
    yield "gamma", data.U, data.group_predictor_names
    yield "slope", data.Z, data.slope_names


def resolve_priors(strategy, overrides, data, family="gaussian"):
    """The prior of every parameter the strategy samples for `data` (a
    pooling.data.Prepared), as {name: (Prior, source)}.

    A user's `beta` or `gamma` prior applies to every column; `theta` falls back to
    the user's `mu` prior, since both describe a group mean.
    """
    from .data import for_strategy

    data = for_strategy(data, strategy)
    defaults = default_priors(data, family)
    user = {name: parse_prior(text, f"priors.{name}", name) for name, text in overrides.items()}
    if "theta" not in user and "mu" in user:
        user["theta"] = user["mu"]
    return {key: (user[name], "user") if name in user else (defaults[key], "default")
            for name, key in prior_keys(strategy, data, family)}


def prior_keys(strategy, data=None, family="gaussian"):
    """(parameter, key) of every prior the strategy's fit of prepared `data` reads,
    in the order sampled gives: a coefficient has a key per column (beta[floor]), all
    under its parameter's prior. None stands for one varying intercept without
    predictors (SBC's first design)."""
    if data is None:
        return [(name, name) for name in sampled(strategy, family) if name not in COEFFICIENTS]
    from .data import for_strategy

    data = for_strategy(data, strategy)
    columns = {name: names for name, _, names in _coefficients(data)}
    columns |= {factor.name_of("tau_slope"): factor.slopes for factor in data.factors}
    return [(name, key)
            for name in sampled(strategy, family, known_se=data.se is not None, factors=data.factors)
            for key in ([f"{name}[{column}]" for column in columns[name]]
                        if root_of(name) in COEFFICIENTS else [name])]


def explicit_priors(strategy, priors, where="sbc.priors", family="gaussian", data=None):
    """{key: (Prior, "user")} for every prior the strategy's fit of the design `data`
    reads (prior_keys; a coefficient's prior applies to every column), all given in
    `priors`: checks that draw the truth from the prior (SBC) cannot fall back to
    defaults scaled to data that do not exist yet."""
    keys = prior_keys(strategy, data, family)
    missing = list(dict.fromkeys(name for name, _ in keys if name not in priors))
    if missing:
        raise PriorError(
            f"{where}: no prior for {', '.join(missing)} ({strategy}); SBC draws the truth "
            f"from the prior, so give every parameter one"
        )
    return {key: (parse_prior(priors[name], f"{where}.{name}", name), "user") for name, key in keys}


HUGE, TINY = 1e3, 1e-3  # response scales at which sampling and default priors get awkward


def scale_warning(data, resolved, family="gaussian"):
    """A note for the log when default priors had to follow an extreme response scale
    (identity links only: logit and log links have their own scale)."""
    import numpy as np

    if families.named(family).link != "identity":
        return None
    spread, center = _spread(data.y), float(np.abs(np.mean(data.y)))
    defaults = [f"{name} ~ {prior}" for name, (prior, source) in resolved.items() if source == "default"]
    if defaults and (spread > HUGE or center > 10 * HUGE or 0 < spread < TINY):
        return (
            f"the response has sd {spread:.3g} and mean {np.mean(data.y):.3g}; default priors "
            f"assumed that scale ({'; '.join(defaults)}). Rescaling the response (e.g. to "
            f"thousands) makes sampling easier, or set priors explicitly"
        )
    return None
