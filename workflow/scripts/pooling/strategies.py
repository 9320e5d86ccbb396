"""The three pooling strategies as data: what each samples and what it can do, in one
place, so that code asks a strategy (`strategies.named(name).has_population`) instead of
comparing names. No JAX here (compare and figure jobs import it); the numpyro models
are in pooling.models under the same names."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Strategy:
    name: str
    label: str  # in figures and tables
    parameters: tuple  # priors its fit samples, the family's own (sigma, nu, alpha) aside
    has_population: bool  # a distribution of group means: it can predict a new group
    estimates_tau: bool  # how much groups differ: needs two groups; `parameterization` applies
    group_predictors: bool  # no pooling cannot use them (nor common terms of varying slopes):
    # collinear with its free cell coefficients
    group_terms: bool  # fits the formula's group terms (complete pooling drops them)


ALL = (
    Strategy("no_pooling", "no pooling", ("theta", "beta"),
             has_population=False, estimates_tau=False, group_predictors=False,
             group_terms=True),
    Strategy("complete_pooling", "complete pooling", ("mu", "beta", "gamma"),
             has_population=True, estimates_tau=False, group_predictors=True,
             group_terms=False),
    Strategy("partial_pooling", "partial pooling", ("mu", "tau", "beta", "gamma"),
             has_population=True, estimates_tau=True, group_predictors=True,
             group_terms=True),
)
BY_NAME = {s.name: s for s in ALL}
NAMES = tuple(BY_NAME)


def named(name):
    """The Strategy called `name` (one of NAMES)."""
    return BY_NAME[name]
