"""Convergence gates on one fit: flagged, never fatal, so a user sees every problem."""

import json
import logging

import arviz as az
import numpy as np

from .fitfile import open_fit

log = logging.getLogger(__name__)

RHAT_MAX = 1.01
ESS_MIN = 400
EBFMI_MIN = 0.3
SUMMARY_VARS = ("mu", "tau", "sigma", "nu", "alpha", "beta", "gamma", "theta")


def summarized(posterior):
    """The parameters a user reads, in the order of SUMMARY_VARS, then every grouping
    factor's (pooling.hierarchy): not the standard-normal offsets (theta_z) nor the
    Cholesky factors the correlations are sampled as."""
    from .hierarchy import root

    own = [v for v in SUMMARY_VARS if v in posterior]
    return own + [v for v in posterior.data_vars if v not in own and root(v)[0] != "theta_z"
                  and not v.endswith("_cholesky")]


def _redundant_correlation(posterior, label):
    """A correlation matrix's diagonal (always 1) and lower triangle (its mirror)."""
    from .hierarchy import root

    name, _, index = label.partition("[")
    if root(name)[0] != "corr" or not index:
        return False
    terms = list(posterior[name][posterior[name].dims[2]].values)
    first, second = (part.strip() for part in index[:-1].split(","))
    return terms.index(first) >= terms.index(second)


def diagnose(idata):
    """az.summary of the model's parameters plus one pass/fail column per gate.

    Per-parameter gates: R-hat < 1.01, bulk and tail ESS > 400. Fit-wide gates,
    repeated on every row: no divergences, E-BFMI >= 0.3 in every chain, no draw at
    the maximum tree depth. `passed` is the conjunction.
    """
    table = az.summary(idata, var_names=summarized(idata.posterior), kind="all")
    table = table.drop(index=[name for name in table.index if _redundant_correlation(idata.posterior, name)])
    table.index.name = "parameter"
    table["rhat_ok"] = table["r_hat"] < RHAT_MAX
    table["ess_bulk_ok"] = table["ess_bulk"] > ESS_MIN
    table["ess_tail_ok"] = table["ess_tail"] > ESS_MIN

    stats = idata.sample_stats
    max_depth = json.loads(idata.attrs["fit_config"])["max_tree_depth"]
    table["divergences"] = int(stats["diverging"].sum())
    table["divergences_ok"] = table["divergences"] == 0
    table["ebfmi_min"] = float(np.min(az.bfmi(idata)))
    table["ebfmi_ok"] = table["ebfmi_min"] >= EBFMI_MIN
    table["treedepth_saturated"] = float((stats["tree_depth"] >= max_depth).mean())
    table["treedepth_ok"] = table["treedepth_saturated"] == 0
    gates = [c for c in table.columns if c.endswith("_ok")]
    table["passed"] = table[gates].all(axis=1)
    return table


def failed_gates(table):
    """Human-readable list of failed gates, for the log."""
    failures = []
    for gate in ("rhat_ok", "ess_bulk_ok", "ess_tail_ok"):
        bad = table.index[~table[gate]].tolist()
        if bad:
            failures.append(f"{gate[:-3]} fails for {', '.join(bad)}")
    first = table.iloc[0]
    if not first["divergences_ok"]:
        failures.append(f"{first['divergences']} divergent transitions")
    if not first["ebfmi_ok"]:
        failures.append(f"E-BFMI {first['ebfmi_min']:.2f} < {EBFMI_MIN}")
    if not first["treedepth_ok"]:
        failures.append(f"{first['treedepth_saturated']:.1%} of draws hit the maximum tree depth")
    return failures


def check_fits(fits, outputs, dataset):
    """Everything a dataset's fits show on their own, in one process: a job per output
    spent more time importing ArviZ and matplotlib than drawing (~3.5 s of its 5-7 s).

    `fits` is {strategy: NetCDF}; `outputs` {name: path}: per fit its gates table, rank
    trace and posterior predictive check at `table_<strategy>`, `trace_<strategy>` and
    `ppc_<strategy>`, and, where present, the shrinkage figure (no against partial
    pooling) at `shrinkage` and the group-level figure (partial pooling) at
    `group_level`. Every figure writes its PDF beside its PNG; other names (the PDFs)
    are left to that.

    Each fit is opened for its own outputs and let go before the next: xarray keeps
    what a lazily opened file has read, and a large fit's predictive draws are
    hundreds of MB, so the job's peak memory stays that of one fit, as when each fit
    had its own job."""
    from . import figures

    for strategy, path in fits.items():
        idata = open_fit(path)
        diagnose_to_csv(idata, outputs[f"table_{strategy}"])
        title = f"{dataset}, {figures.strategy_label(strategy)}"
        figures.posterior_predictive(idata, outputs[f"ppc_{strategy}"], title)
        figures.rank_trace(idata, outputs[f"trace_{strategy}"], title)
        del idata
    if "shrinkage" in outputs or "group_level" in outputs:  # both need partial pooling
        partial = open_fit(fits["partial_pooling"])
        if "shrinkage" in outputs:
            figures.shrinkage(open_fit(fits["no_pooling"]), partial, outputs["shrinkage"])
        if "group_level" in outputs:
            figures.group_level(partial, outputs["group_level"])


def diagnose_to_csv(idata, out):
    table = diagnose(idata)
    table.to_csv(out)
    failures = failed_gates(table)
    label = f"{idata.attrs['dataset']} / {idata.attrs['strategy']}"
    if failures:
        log.warning("%s: convergence gates FAILED: %s", label, "; ".join(failures))
    else:
        log.info("%s: all convergence gates passed", label)
    return table
