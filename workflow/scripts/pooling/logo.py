"""Leave-one-group-out (LOGO) cross-validation: how well each strategy predicts a
group it has not seen, where PSIS-LOO asks about a new observation in a known group.

A new group's mean is unknown, so its rows are scored by their marginal density with
the group mean integrated out. For the Normal models this is closed form: given the
population parameters, the group's residuals are multivariate normal with covariance
D + tau^2 11' (D = sigma^2 I, or the known se^2 on the diagonal), tau = 0 for
complete pooling. No pooling has no population to draw a new group from, so it has
no LOGO score.

Two estimates of the same quantity: PSIS on that marginal likelihood (one fit, part
of every run) and exact grouped K-fold refits (the `kfold` target).
"""

import logging
import math

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from . import strategies
from .data import load_prepared, stored_arrays, subset_groups
from .errors import DataError
from .priors import resolve_priors

log = logging.getLogger(__name__)

NO_POPULATION = "no population: no pooling cannot predict a group it has not seen"
CHUNK = 2**24  # draws x rows per block when scoring (bounded memory on large data)


def folds_of(n_groups, folds, seed):
    """Fold index of each group: one group per fold when `folds` is None (exact LOGO),
    else groups shuffled by `seed` and dealt round-robin into `folds` folds."""
    if folds is None or folds >= n_groups:
        return np.arange(n_groups)
    order = np.random.default_rng(seed).permutation(n_groups)
    assignment = np.empty(n_groups, dtype=int)
    assignment[order] = np.arange(n_groups) % folds
    return assignment


def _population(posterior, strategy):
    """Flat draws of what a new group's rows depend on."""

    def flat(name):
        return None if name not in posterior else np.asarray(posterior[name], dtype=float)

    draws = flat("mu")
    n = draws.shape[0]
    return {
        "mu": draws,
        "tau": flat("tau") if strategies.named(strategy).estimates_tau else np.zeros(n),
        "sigma": flat("sigma"),
        "beta": flat("beta"),
        "gamma": flat("gamma"),
    }


def group_log_lik(strategy, posterior, y, group, n_groups, se=None, X=None, U=None):
    """log p(y_j | population draw) for every draw and group, the group's mean
    integrated out: (draws, groups). `posterior`: flat draws {name: (draws, ...)}."""
    if not strategies.named(strategy).has_population:
        raise ValueError(NO_POPULATION)
    p = _population(posterior, strategy)
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(n_groups))
    sizes = np.bincount(group, minlength=n_groups)
    y, group = np.asarray(y, dtype=float)[order], np.asarray(group)[order]
    X = None if X is None else np.asarray(X, dtype=float)[order]
    se = None if se is None else np.asarray(se, dtype=float)[order]
    step = max(1, CHUNK // len(y))
    blocks = []
    for s in range(0, len(p["mu"]), step):
        part = {k: None if v is None else v[s:s + step] for k, v in p.items()}
        center = part["mu"][:, None] + (np.zeros(n_groups) if U is None else part["gamma"] @ np.asarray(U, float).T)
        residual = y[None, :] - center[:, group] - (0.0 if X is None else part["beta"] @ X.T)
        variance = np.broadcast_to(se**2 if se is not None else part["sigma"][:, None] ** 2,
                                   residual.shape)

        def per_group(values):
            return np.add.reduceat(values, starts, axis=1)

        precision, weighted = per_group(1 / variance), per_group(residual / variance)
        tau2 = part["tau"][:, None] ** 2
        shrink = 1 + tau2 * precision
        blocks.append(-0.5 * (
            sizes * math.log(2 * math.pi) + per_group(np.log(variance)) + np.log(shrink)
            + per_group(residual**2 / variance) - tau2 * weighted**2 / shrink
        ))
    return np.concatenate(blocks)


def psis_logo(idata, strategy):
    """PSIS-LOGO of one fit: az.loo on the groups' marginal log-likelihoods."""
    posterior = idata.posterior.stack(sample=("chain", "draw")).transpose("sample", ...)
    ll = group_log_lik(strategy, {k: v.values for k, v in posterior.data_vars.items()}, **stored_arrays(idata))
    shape = (idata.posterior.sizes["chain"], idata.posterior.sizes["draw"], ll.shape[1])
    log_lik = xr.Dataset({"y": (("chain", "draw", "group"), ll.reshape(shape))},
                         coords={"group": idata.posterior["group"].values})
    return az.loo(az.InferenceData(posterior=idata.posterior, log_likelihood=log_lik), pointwise=True)


def heldout_elpd(strategy, draws, data, heldout):
    """Exact K-fold score of each held-out group: log of the mean over draws (fitted
    without the group) of its marginal density."""
    index = np.flatnonzero(np.isin(data.group, heldout))
    remap = {g: k for k, g in enumerate(heldout)}
    group = np.array([remap[g] for g in data.group[index]])
    ll = group_log_lik(
        strategy, draws, data.y[index], group, len(heldout),
        se=None if data.se is None else data.se[index],
        X=None if data.X is None else data.X[index],
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
    priors = resolve_priors(strategy, settings.get("priors", {}), data)
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
        "elpd": heldout_elpd(strategy, draws, data, heldout),
        "divergences": divergences,
    }).to_csv(out, index=False)
