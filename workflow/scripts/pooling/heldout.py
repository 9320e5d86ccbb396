"""Held-out scoring: how well each strategy's fit predicts rows it was not fitted to
(a dataset's `test` CSV, prepared by pooling.testdata), from the fit's own posterior
draws, without refitting.

A row's score is its log predictive density, log of the mean over posterior draws of
p(y_i | draw), the quantity PSIS-LOO estimates for a left-out training row; the summary
adds their sum (elpd) with its standard error, the root mean squared error of the
posterior predictive mean, and the Brier score for binary data.

Each row's coefficients are those of its cell (the combination of its grouping labels):
- a cell the fit saw keeps the fit's own `theta` and `slope` draws;
- a cell the fit never saw, in partial pooling, adds up the effects of its levels: a
  level the fit saw keeps the fit's effects, a level new to it (and every level nested in
  it: a new state brings a new county) gets a fresh draw from the fitted population
  with each posterior draw, brms's sample_new_levels = "gaussian" (the same machinery as
  the exact K-fold refits, pooling.logo.add_level_effects); its group-level predictors
  are the test rows' own;
- complete pooling predicts every cell from the population mean (mu + U gamma);
- no pooling has no population to draw a new group from, so it cannot score rows of
  groups it never saw: they are left out of its scores, and the table and the log say
  so, rather than averaging over a missing value.
The new-level draws come from the fit's seed (their own stream of it), so a rerun gives
the same scores.
"""

import logging
import math
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from . import families, strategies
from .data import load_prepared
from .hierarchy import factors_of, subset_factors
from .logo import CHUNK, _center, _common, add_level_effects, linear_predictor

log = logging.getLogger(__name__)

SEED_STREAM = 16  # the held-out rows' new-level draws: their own stream of the fit's seed
SCALES = {"proportion": "proportion (successes / trials)", "binary": "probability of a 1",
          "count": "count", "numeric": "response"}


def flat_posterior(idata):
    """{name: (draws, ...)} every posterior variable, chains stacked, in float64."""
    stacked = idata.posterior.stack(sample=("chain", "draw")).transpose("sample", ...)
    return {name: np.asarray(value.values, dtype=float) for name, value in stacked.data_vars.items()}


def _coords(idata, name):
    return tuple(str(v) for v in idata.posterior[name].values) if name in idata.posterior.coords else ()


def _columns(values, names, wanted):
    """The columns `wanted` of `values` (columns `names`); None when none are wanted."""
    if not wanted:
        return None
    return np.asarray(values, dtype=float)[:, [list(names).index(name) for name in wanted]]


def _test_factors(fitted, test):
    """The fit's grouping factors over the test cells: each test cell's label of each
    factor (from the test file's `level:` columns, or its group label for one varying
    intercept), with the fit's name, terms and nesting, so parameter names match."""
    by_name = {factor.name: factor for factor in test.factors}
    out = []
    for factor in fitted:
        own = by_name.get(factor.name)  # None for one varying intercept: no `level:` columns
        level, labels = ((own.level, own.labels) if own is not None
                         else (np.arange(test.n_groups), tuple(test.group_labels)))
        out.append(replace(factor, level=np.asarray(level), labels=tuple(labels)))
    return tuple(out)


def cell_coefficients(idata, strategy, p, test, seed):
    """(coefficients (draws, test cells, 1 + slopes), common (draws, 1 + slopes), which
    test cells the fit can score): see the module docstring."""
    posterior = idata.posterior
    slopes, predictors = _coords(idata, "varying"), _coords(idata, "predictor")
    draws = len(p["theta"])
    common = _common(p, slopes, predictors) if "mu" in p else np.zeros((draws, 1 + len(slopes)))
    fit_cells = {label: j for j, label in enumerate(_coords(idata, "group"))}
    seen = np.array([label in fit_cells for label in test.group_labels], dtype=bool)
    cells = np.repeat(common[:, None, :], test.n_groups, axis=1)
    rule = strategies.named(strategy)
    if rule.group_predictors and "gamma" in p:
        U = _columns(test.U, test.group_predictor_names, _coords(idata, "group_predictor"))
        cells[..., 0] += _center(p, U, test.n_groups)
    new = np.flatnonzero(~seen)
    if rule.estimates_tau and len(new):
        fitted = factors_of(idata)
        U_fit = idata.constant_data["U"].values if "gamma" in p else None
        rng = np.random.default_rng([int(seed), SEED_STREAM])
        cells[:, new] = add_level_effects(
            cells[:, new], p, subset_factors(_test_factors(fitted, test), new), fitted, range(len(fitted)),
            common, _center(p, U_fit, posterior.sizes["group"]), slopes, rng)
    old = np.flatnonzero(seen)
    j = [fit_cells[test.group_labels[g]] for g in old]
    cells[:, old, 0] = p["theta"][:, j]
    if "slope" in p:
        cells[:, old, 1:] = p["slope"][:, j]
    return cells, common, np.ones_like(seen) if rule.has_population else seen


def row_scores(idata, strategy, test):
    """(rows scored, (draws, rows scored) log p(y_i | draw), (rows scored,) posterior mean
    of y_i on the scoring scale) of prepared test data `test` (pooling.data.Prepared)."""
    family = families.named(idata.attrs.get("family", "gaussian"))
    p = flat_posterior(idata)
    cells, common, scorable = cell_coefficients(idata, strategy, p, test, idata.attrs.get("seed", 0))
    rows = np.flatnonzero(scorable[test.group])
    X = _columns(test.X, test.predictor_names, _coords(idata, "predictor"))
    Z = _columns(test.Z, test.slope_names, _coords(idata, "varying"))
    draws = len(common)
    log_density, mean = np.empty((draws, len(rows))), np.empty(len(rows))
    step = max(1, CHUNK // draws)
    for start in range(0, len(rows), step):
        block = rows[start:start + step]
        x, z, offset, trials, se = (None if v is None else v[block]
                                    for v in (X, Z, test.offset, test.trials, test.se))
        eta = linear_predictor(cells, test.group[block], common, p.get("beta"), x, z, offset)
        aux = {name: p[name][:, None] for name in family.auxiliary if name in p}
        if se is not None:
            aux["sigma"] = se
        span = slice(start, start + len(block))
        log_density[:, span] = family.log_density(test.y[block], eta, aux, trials)
        mean[span] = family.inverse_link(eta).mean(axis=0) * (
            1 if trials is None or family.response == "proportion" else trials)
    return rows, log_density, mean


def observed(test, family):
    """Each test row's outcome on the scale RMSE compares: y, or y / trials (binomial)."""
    return test.y / test.trials if family.response == "proportion" else test.y


def is_binary(test, family):
    """Bernoulli data, or binomial data of one trial per row: the Brier score applies."""
    return family.response == "binary" or (family.response == "proportion" and np.all(test.trials == 1))


def score(fits, test):
    """(summary, pointwise) tables of {strategy: InferenceData} on prepared `test`."""
    family = families.named(next(iter(fits.values())).attrs.get("family", "gaussian"))
    y = observed(test, family)
    some = next(iter(fits.values()))
    new_row = ~np.isin(np.asarray(test.group_labels)[test.group], _coords(some, "group"))
    pointwise = pd.DataFrame({"obs": np.arange(len(y)), "group": np.asarray(test.group_labels)[test.group],
                              "new_group": new_row, "y": y})
    summary = []
    for strategy, idata in fits.items():
        rows, log_density, mean = row_scores(idata, strategy, test)
        lpd = logsumexp(log_density, axis=0) - math.log(log_density.shape[0])
        for column, values in ((f"lpd_{strategy}", lpd), (f"prediction_{strategy}", mean)):
            pointwise[column] = np.nan
            pointwise.loc[rows, column] = values
        summary.append(_summary(strategy, lpd, mean, y[rows], new_row, rows, is_binary(test, family), family))
    return pd.DataFrame(summary).set_index("strategy"), pointwise


def _summary(strategy, lpd, mean, y, new_row, rows, binary, family):
    """One strategy's summary line; rows of new groups it cannot score are counted and named."""
    error = (y - mean) ** 2
    new = new_row[rows]
    left_out = int(new_row.sum() - new.sum())

    def part(values, where):
        return float(values[where].mean()) if where.any() else np.nan

    every = np.ones(len(lpd), bool)
    line = {
        "strategy": strategy, "rows_scored": len(rows), "rows_new_groups": int(new_row.sum()),
        "rows_left_out": left_out, "elpd": float(lpd.sum()) if len(rows) else np.nan,
        "se": math.sqrt(len(lpd) * lpd.var()) if len(rows) else np.nan,
        "mean_lpd": part(lpd, every), "rmse": math.sqrt(part(error, every)),
        "brier": part(error, every) if binary else np.nan,
        "mean_lpd_seen_groups": part(lpd, ~new), "mean_lpd_new_groups": part(lpd, new),
        "rmse_seen_groups": math.sqrt(part(error, ~new)), "rmse_new_groups": math.sqrt(part(error, new)),
        "scale": SCALES[family.response], "note": "",
    }
    if left_out:
        line["note"] = (f"{strategies.named(strategy).label} has no population to draw a new group from: "
                        f"the {left_out} test rows of groups it never saw are left out; its scores are over "
                        f"its other {len(rows)} rows")
        log.warning("%s: %s", strategy, line["note"])
    return line


def score_files(fit_paths, test_csv, scores_out, pointwise_out):
    """The score_test job: fits (NetCDF) and the prepared test CSV in, both tables out."""
    from .compare import load_fits

    test = load_prepared(test_csv)
    log.info("%s: %d test rows in %d groups", test_csv, len(test.y), test.n_groups)
    summary, pointwise = score(load_fits(fit_paths), test)
    summary.to_csv(scores_out)
    pointwise.to_csv(pointwise_out, index=False)
