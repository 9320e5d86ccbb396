"""Leave-one-group-out (LOGO) cross-validation: how well each strategy predicts a
group it has not seen, where PSIS-LOO asks about a new observation in a known group.

A new group's intercept is unknown, so its rows are scored by their marginal density
with the intercept integrated out. For the gaussian family this is closed form: given
the population parameters, the group's residuals are multivariate normal with
covariance D + tau^2 11' (D = sigma^2 I, or the known se^2 on the diagonal). For every
other family it is a one-dimensional integral per draw and group, done by adaptive
Gauss–Hermite quadrature: nodes centred on the integrand's mode and scaled by its
curvature there, so that a group of many rows (a sharply peaked likelihood) is
integrated as accurately as a group of one. Complete pooling has tau = 0: nothing to
integrate. No pooling has no population to draw a new group from, so it has no LOGO
score.

Two estimates of the same quantity: PSIS on that marginal likelihood (one fit, part
of every run) and exact grouped K-fold refits (the `kfold` target).
"""

import logging
import math
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from numpy.polynomial.hermite import hermgauss
from scipy.special import logsumexp

from . import families, strategies
from .data import load_prepared, stored_arrays, subset_groups
from .errors import DataError
from .priors import resolve_priors

log = logging.getLogger(__name__)

NO_POPULATION = "no population: no pooling cannot predict a group it has not seen"
CHUNK = 2**24  # draws x rows per block when scoring (bounded memory on large data)
# Gauss–Hermite nodes per draw and group: 32 integrate a group within 1e-6 (in log)
# wherever its likelihood has a peak, and within 4e-6 (tau = 2 on the log scale) to
# 1.3e-4 (tau = 3) where it is a one-sided step against the prior's tail (a lone zero
# count), the hardest case, where 20 nodes leave 5e-5 to 6e-4 (tests/test_family_loo).
NODES = 32
MODE_STEPS = 50  # at most this many Fisher-scoring steps to a group's mode
HALVINGS = 30  # at most this many halvings of a step that does not raise the integrand
MODE_TOLERANCE = 1e-4  # a step shorter than this (in the integrand's sd) ends the search
ROUNDING = 1e-10  # a relative fall of the log integrand this small is rounding, not overshoot


def folds_of(n_groups, folds, seed):
    """Fold index of each group: one group per fold when `folds` is None (exact LOGO),
    else groups shuffled by `seed` and dealt round-robin into `folds` folds."""
    if folds is None or folds >= n_groups:
        return np.arange(n_groups)
    order = np.random.default_rng(seed).permutation(n_groups)
    assignment = np.empty(n_groups, dtype=int)
    assignment[order] = np.arange(n_groups) % folds
    return assignment


def _population(posterior, strategy, family):
    """Flat draws of what a new group's rows depend on."""

    def flat(name):
        return None if name not in posterior else np.asarray(posterior[name], dtype=float)

    draws = flat("mu")
    n = draws.shape[0]
    return {
        "mu": draws,
        "tau": flat("tau") if strategies.named(strategy).estimates_tau else np.zeros(n),
        "beta": flat("beta"),
        "gamma": flat("gamma"),
        **{name: flat(name) for name in family.auxiliary},
    }


@dataclass(frozen=True)
class _Rows:
    """A dataset's rows sorted by group, so that a sum over each group's rows is one
    np.add.reduceat however many rows each group has."""

    y: np.ndarray
    group: np.ndarray
    starts: np.ndarray  # first row of each group
    X: np.ndarray | None
    se: np.ndarray | None
    trials: np.ndarray | None
    offset: np.ndarray | None

    @classmethod
    def by_group(cls, y, group, n_groups, **arrays):
        order = np.argsort(group, kind="stable")
        group = np.asarray(group)[order]
        return cls(y=np.asarray(y, dtype=float)[order], group=group,
                   starts=np.searchsorted(group, np.arange(n_groups)),
                   **{k: None if v is None else np.asarray(v, dtype=float)[order] for k, v in arrays.items()})

    def total(self, values):
        """Per-group sums of (draws, rows) values: (draws, groups)."""
        return np.add.reduceat(values, self.starts, axis=1)

    def log_density(self, family, eta, aux):
        """Each group's rows' log density at linear predictors `eta` (draws, rows)."""
        return self.total(family.log_density(self.y, eta, aux, self.trials))


def _predictor(part, rows, U):
    """(draws, rows) linear predictor of each row at its new group's population mean
    (the intercept's deviation from it is what is integrated out)."""
    center = part["mu"][:, None] + (0.0 if U is None else part["gamma"] @ U.T)
    eta = np.broadcast_to(center, (len(part["mu"]), len(rows.starts)))[:, rows.group]
    if rows.X is not None:
        eta = eta + part["beta"] @ rows.X.T
    return eta if rows.offset is None else eta + rows.offset


def _auxiliary(part, rows, family):
    """The family's other parameters, broadcasting against (draws, rows); the known se
    stand for sigma."""
    aux = {name: part[name][:, None] for name in family.auxiliary if part[name] is not None}
    return aux if rows.se is None else {**aux, "sigma": rows.se}


def _normal_marginal(family, rows, eta, tau, aux):
    """Gaussian: the group's rows are N(eta, D + tau^2 11'), in closed form."""
    residual = rows.y - eta
    variance = np.broadcast_to(aux["sigma"] ** 2, residual.shape)
    precision, weighted = rows.total(1 / variance), rows.total(residual / variance)
    sizes = np.diff(np.append(rows.starts, len(rows.y)))
    tau2 = tau[:, None] ** 2
    shrink = 1 + tau2 * precision
    return -0.5 * (
        sizes * math.log(2 * math.pi) + rows.total(np.log(variance)) + np.log(shrink)
        + rows.total(residual**2 / variance) - tau2 * weighted**2 / shrink
    )


def _fixed_intercept(family, rows, eta, tau, aux):
    """tau = 0 (complete pooling): the group's intercept is the population mean, so
    the rows' density is exact, with no integral."""
    return rows.log_density(family, eta, aux)


def _adaptive_quadrature(family, rows, eta, tau, aux):
    """log of the integral over z of exp(h(z)), h(z) = log p(y_j | eta + tau z) +
    log N(z; 0, 1), per draw and group: NODES Gauss–Hermite nodes at the mode of h,
    spread by its curvature there. Fixed nodes around z = 0 would miss a likelihood
    narrower than their spacing (a group of many rows) or far from the prior's mean."""
    tau = tau[:, None]

    def h(z):
        return rows.log_density(family, eta + (tau * z)[:, rows.group], aux) - 0.5 * z**2 - 0.5 * math.log(2 * math.pi)

    def slope(z):
        score, information = family.score(rows.y, eta + (tau * z)[:, rows.group], aux, rows.trials)
        return tau * rows.total(score) - z, tau**2 * rows.total(information) + 1

    mode, curvature = _mode(h, slope, (eta.shape[0], len(rows.starts)))
    scale = math.sqrt(2) / np.sqrt(curvature)
    nodes, weights = hermgauss(NODES)
    total = np.full(mode.shape, -np.inf)
    for node, weight in zip(nodes, weights):
        total = np.logaddexp(total, math.log(weight) + node**2 + h(mode + scale * node))
    return total + np.log(scale)


def _mode(h, slope, shape):
    """(mode of h, Fisher information of h there) per draw and group, by Fisher
    scoring from z = 0. A step that does not raise h is halved: from far below the
    data a Poisson step overshoots by orders of magnitude, and the t family's
    expected information can be smaller than its curvature."""
    z = np.zeros(shape)
    value = h(z)
    for _ in range(MODE_STEPS):
        gradient, information = slope(z)
        step = gradient / information
        moving = np.abs(step) * np.sqrt(information) > MODE_TOLERANCE
        if not moving.any():
            break
        step = np.where(moving, step, 0.0)
        for _ in range(HALVINGS):
            candidate = z + step
            new = h(candidate)
            better = new >= value - ROUNDING * (1 + np.abs(value))
            z, value = np.where(better, candidate, z), np.where(better, new, value)
            if better.all():
                break
            step = np.where(better, 0.0, step / 2)
    return z, slope(z)[1]


CLOSED_FORM = {"gaussian": _normal_marginal}  # families whose group marginal needs no quadrature


def _integrator(family, strategy):
    """How a group's intercept is integrated out: in closed form where there is one,
    not at all where tau = 0, else by adaptive quadrature."""
    if family.name in CLOSED_FORM:
        return CLOSED_FORM[family.name]
    return _adaptive_quadrature if strategies.named(strategy).estimates_tau else _fixed_intercept


def group_log_lik(strategy, posterior, y, group, n_groups, family="gaussian", se=None, X=None, U=None,
                  trials=None, offset=None):
    """log p(y_j | population draw) for every draw and group, the group's intercept
    integrated out: (draws, groups). `posterior`: flat draws {name: (draws, ...)};
    `family`: a pooling.families name."""
    if not strategies.named(strategy).has_population:
        raise ValueError(NO_POPULATION)
    family = families.named(family)
    p = _population(posterior, strategy, family)
    rows = _Rows.by_group(y, group, n_groups, X=X, se=se, trials=trials, offset=offset)
    U = None if U is None else np.asarray(U, dtype=float)
    integrate = _integrator(family, strategy)
    step = max(1, CHUNK // len(rows.y))
    blocks = []
    for s in range(0, len(p["mu"]), step):
        part = {k: None if v is None else v[s:s + step] for k, v in p.items()}
        blocks.append(integrate(family, rows, _predictor(part, rows, U), part["tau"],
                                _auxiliary(part, rows, family)))
    return np.concatenate(blocks)


def psis_logo(idata, strategy):
    """PSIS-LOGO of one fit: az.loo on the groups' marginal log-likelihoods, under the
    fit's family (fits from before families are gaussian)."""
    posterior = idata.posterior.stack(sample=("chain", "draw")).transpose("sample", ...)
    ll = group_log_lik(strategy, {k: v.values for k, v in posterior.data_vars.items()},
                       family=idata.attrs.get("family", "gaussian"), **stored_arrays(idata))
    shape = (idata.posterior.sizes["chain"], idata.posterior.sizes["draw"], ll.shape[1])
    log_lik = xr.Dataset({"y": (("chain", "draw", "group"), ll.reshape(shape))},
                         coords={"group": idata.posterior["group"].values})
    return az.loo(az.InferenceData(posterior=idata.posterior, log_likelihood=log_lik), pointwise=True)


def heldout_elpd(strategy, draws, data, heldout, family="gaussian"):
    """Exact K-fold score of each held-out group: log of the mean over draws (fitted
    without the group) of its marginal density."""
    index = np.flatnonzero(np.isin(data.group, heldout))
    remap = {g: k for k, g in enumerate(heldout)}
    group = np.array([remap[g] for g in data.group[index]])

    def rows(values):
        return None if values is None else values[index]

    ll = group_log_lik(
        strategy, draws, data.y[index], group, len(heldout), family=family,
        se=rows(data.se), X=rows(data.X), trials=rows(data.trials), offset=rows(data.offset),
        U=data.U[heldout] if data.U is not None and strategies.named(strategy).group_predictors else None,
    )
    return logsumexp(ll, axis=0) - math.log(ll.shape[0])


def _difference(pointwise, best):
    diff = pointwise - best
    return diff.sum(), math.sqrt(len(diff) * diff.var()) if len(diff) > 1 else 0.0


def logo_tables(fits, kfold=None):
    """(per strategy, per group) tables: PSIS-LOGO with Pareto k, and exact K-fold
    LOGO where `kfold` (rows: strategy, group, fold, elpd) has every group of it."""
    groups, summary = [], []
    for strategy, idata in fits.items():
        if not strategies.named(strategy).has_population:
            summary.append({"strategy": strategy, "note": NO_POPULATION})
            continue
        loo = psis_logo(idata, strategy)
        table = pd.DataFrame({"strategy": strategy, "group": idata.posterior["group"].values,
                              "elpd_psis": loo.loo_i.values, "pareto_k": loo.pareto_k.values})
        summary.append({"strategy": strategy, "elpd_psis": loo.elpd_loo, "se_psis": loo.se,
                        "p_logo": loo.p_loo, "n_pareto_k_high": int((loo.pareto_k > loo.good_k).sum()),
                        "max_pareto_k": float(loo.pareto_k.max()), "pareto_k_threshold": loo.good_k,
                        "note": ""})
        if kfold is not None and strategy in set(kfold["strategy"]):
            scores = kfold[kfold["strategy"] == strategy].set_index("group")
            table["elpd_kfold"] = scores.loc[table["group"], "elpd"].to_numpy()
            table["fold"] = scores.loc[table["group"], "fold"].to_numpy()
            summary[-1].update(elpd_kfold=table["elpd_kfold"].sum(),
                               se_kfold=math.sqrt(len(table) * table["elpd_kfold"].var(ddof=0)),
                               folds=int(table["fold"].nunique()))
        groups.append(table)
    groups = pd.concat(groups, ignore_index=True) if groups else pd.DataFrame()
    summary = pd.DataFrame(summary).set_index("strategy")
    if "n_pareto_k_high" in summary:
        summary["n_pareto_k_high"] = summary["n_pareto_k_high"].astype("Int64")
    if "folds" in summary:
        summary["folds"] = summary["folds"].astype("Int64")
    for method in ("psis", "kfold"):
        column = f"elpd_{method}"
        if column not in summary or summary[column].isna().all():
            continue
        best = summary[column].idxmax()
        wide = groups.pivot(index="group", columns="strategy", values=column)
        diffs = {s: _difference(wide[s], wide[best]) for s in wide if not wide[s].isna().any()}
        summary[f"elpd_diff_{method}"] = [diffs.get(s, (np.nan, np.nan))[0] for s in summary.index]
        summary[f"dse_{method}"] = [diffs.get(s, (np.nan, np.nan))[1] for s in summary.index]
    return summary.sort_values("elpd_psis", ascending=False, na_position="last"), groups


def kfold_fold(prepared_csv, source_csv, strategy, settings, kfold, fold, out):
    """Refit `strategy` without the groups of fold `fold` and score them; the priors
    are those of the full-data fit, so every refit answers the same question."""
    from .fit import run_nuts  # JAX and numpyro: only the refit jobs need them, not compare

    if not strategies.named(strategy).has_population:
        raise DataError(f"kfold for {strategy}: {NO_POPULATION}")
    data = load_prepared(prepared_csv)
    assignment = folds_of(data.n_groups, kfold["folds"], kfold["seed"])
    if fold > assignment.max():
        raise DataError(f"{source_csv}: kfold.folds asks for fold {fold + 1} but there are only "
                        f"{data.n_groups} groups; set kfold.folds to at most {data.n_groups}")
    heldout = np.flatnonzero(assignment == fold)
    training = np.flatnonzero(assignment != fold)
    if strategies.named(strategy).estimates_tau and len(training) < 2:
        raise DataError(f"{source_csv}: fold {fold} leaves {len(training)} group to fit; partial "
                        f"pooling needs two or more: use fewer folds")
    family = settings.get("family", "gaussian")
    priors = resolve_priors(strategy, settings.get("priors", {}), data, family)
    log.info(
        "%s fold %d: holding out %s, fitting %d groups",
        strategy, fold, ", ".join(data.group_labels[g] for g in heldout), len(training))
    mcmc = run_nuts(subset_groups(data, training), strategy, settings, priors=priors)[0]
    draws = {name: np.asarray(value) for name, value in mcmc.get_samples().items()}
    divergences = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    pd.DataFrame({
        "strategy": strategy, "fold": fold,
        "group": [data.group_labels[g] for g in heldout],
        "rows": data.group_sizes[heldout],
        "elpd": heldout_elpd(strategy, draws, data, heldout, family),
        "divergences": divergences,
    }).to_csv(out, index=False)
