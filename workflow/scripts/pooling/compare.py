"""PSIS-LOO and leave-one-group-out comparison of a dataset's strategies, the priors each
fit used, and the figures of the comparison."""

import json
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import arviz as az
import numpy as np
import pandas as pd

from . import families
from .data import stored_arrays
from .fitfile import open_fit
from .psis import elpd_data, loo_scores, relative_ess

# draws x rows per block of the chunked PSIS-LOO: 256 rows of 4,000 draws, whose ~8 MB
# arrays stay in cache (blocks of 2,000 rows took 1.4x as long per row)
CHUNK = 2**20
_ARRAYS = None


def loo(idata, workers=1, reff=None):
    """az.loo where the fit stored its pointwise log-likelihood, else `chunked_loo`;
    `reff` (psis.relative_ess, computed when not given) as az.loo would compute it."""
    reff = relative_ess(idata.posterior) if reff is None else reff
    if "log_likelihood" in idata.groups():
        return az.loo(idata, pointwise=True, reff=reff)
    return chunked_loo(idata, workers, reff=reff)


def _row_log_lik(rows):
    """log p(y_i | draw) of `rows` for every draw: (rows, draws), in NumPy (compare
    jobs do not load JAX, so not numpyro's log_likelihood of the row model), under
    the fit's family; known se are the gaussian's with sigma given. Built row-major
    from draws stored per group ("theta" is (groups, draws)), so that every array of
    a block is contiguous in the order PSIS reads it."""
    arrays = _ARRAYS
    eta = arrays["theta"][arrays["group"][rows]]
    if arrays["X"] is not None:
        eta = eta + arrays["X"][rows] @ arrays["beta"]
    if arrays["Z"] is not None:
        deviation = arrays["slope_deviation"][arrays["group"][rows]]  # (rows, slopes, draws)
        eta = eta + np.einsum("rsd,rs->rd", deviation, arrays["Z"][rows])
    if arrays["offset"] is not None:
        eta = eta + arrays["offset"][rows, None]
    family = arrays["family"]
    if arrays["se"] is not None:
        aux = {"sigma": arrays["se"][rows, None]}
    else:
        aux = {name: arrays[name][None, :] for name in family.auxiliary}
    trials = None if arrays["trials"] is None else arrays["trials"][rows, None]
    return family.log_density(arrays["y"][rows, None], eta, aux, trials)


def _score(rows):
    """(loo_i, lppd_i, pareto_k) of a block of rows, with az.psislw's PSIS on the whole
    block at once (pooling.psis)."""
    return loo_scores(_row_log_lik(rows), _ARRAYS["reff"])


def _share(arrays):
    """Arrays of the current chunked LOO, set in this process and in each worker
    (forked, so the posterior is shared, not copied through a pipe)."""
    global _ARRAYS
    _ARRAYS = arrays


def chunked_loo(idata, workers=1, chunk=CHUNK, reff=None):
    """What az.loo(pointwise=True) returns (same reff, PSIS and sums), with the rows'
    log-likelihood computed from the posterior block by block (`chunk` draws x rows
    in memory per worker), for fits too large to have stored it. `workers` processes
    share the blocks."""
    stacked = idata.posterior.stack(sample=("chain", "draw")).transpose("sample", ...)
    n_samples, n_rows = stacked.sizes["sample"], idata.observed_data.sizes["obs"]
    reff = relative_ess(idata.posterior) if reff is None else reff
    family = families.named(idata.attrs.get("family", "gaussian"))
    # draws last: (groups, draws), (predictors, draws), (groups, slopes, draws)
    draws = {name: np.ascontiguousarray(stacked[name].values.astype(float).T) if name in stacked else None
             for name in ("theta", "beta", *families.AUXILIARY)}
    if "slope" in stacked:
        draws["slope_deviation"] = np.ascontiguousarray(slope_deviation(stacked).transpose(1, 2, 0))
    _share({**stored_arrays(idata), **draws, "family": family, "reff": reff})
    step = max(1, chunk // n_samples)
    blocks = [slice(start, start + step) for start in range(0, n_rows, step)]
    if workers > 1 and len(blocks) > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            scores = list(pool.map(_score, blocks))
    else:
        scores = list(map(_score, blocks))
    _share(None)
    loo_i, lppd_i, pareto_k = (np.concatenate(parts) for parts in zip(*scores))
    return elpd_data(loo_i, lppd_i, pareto_k, n_samples, {"obs": idata.observed_data["obs"].values})


def slope_deviation(posterior):
    """(draws, cells, slopes) each cell's varying slopes less their population means
    (the common coefficients of the same columns, where the strategy has them), which
    multiply the rows' z; `posterior` stacked to (sample, ...)."""
    slope = posterior["slope"].values.astype(float)
    if "beta" not in posterior:
        return slope
    common = list(posterior["predictor"].values)
    means = np.stack([posterior["beta"].values[:, common.index(name)] if name in common
                      else np.zeros(slope.shape[0]) for name in posterior["varying"].values], axis=-1)
    return slope - means[:, None, :]


def loo_table(loos):
    """az.compare of {strategy: ELPDData} plus, per strategy, how many observations
    have a Pareto k above ArviZ's threshold (LOO unreliable there)."""
    table = az.compare(loos, ic="loo")
    table.index.name = "strategy"
    table["pareto_k_threshold"] = [loos[name].good_k for name in table.index]
    table["n_pareto_k_high"] = [
        int((loos[name].pareto_k > loos[name].good_k).sum()) for name in table.index
    ]
    return table


def pointwise_table(loos, idata):
    """One line per observation: its group and, per strategy, elpd_loo_i and Pareto k
    (what a user keeps of LOO when the fits are too large to store log-likelihoods)."""
    labels = idata.posterior["group"].values[idata.constant_data["group_index"].values]
    table = pd.DataFrame({"obs": idata.observed_data["obs"].values, "group": labels})
    for name, result in loos.items():
        table[f"elpd_loo_{name}"] = result.loo_i.values
        table[f"pareto_k_{name}"] = result.pareto_k.values
    return table


def priors_table(fits):
    rows = []
    for name, idata in fits.items():
        priors = json.loads(idata.attrs["priors"])
        sources = json.loads(idata.attrs["prior_sources"])
        rows += [
            {"strategy": name, "parameter": p, "prior": priors[p], "source": sources[p]}
            for p in priors
        ]
    return pd.DataFrame(rows, columns=["strategy", "parameter", "prior", "source"])


def load_fits(paths):
    """{strategy: InferenceData} from NetCDF paths named <strategy>.nc."""
    fits = map(open_fit, paths)
    return {idata.attrs["strategy"]: idata for idata in fits}


def compare_fits(fit_paths, kfold_paths, outputs, workers=1):
    """The compare job: LOO and LOGO tables, pointwise LOO, priors, and the figures
    drawn from those tables and fits (forest, LOO and LOGO comparison), written to
    `outputs` ({name: path}: loo, pointwise, logo, logo_groups, priors, forest,
    loo_plot, logo_plot; each figure writes its PDF beside its PNG). One process:
    a separate figures job spent most of its ~7 s importing ArviZ and matplotlib
    and reading the fits again."""
    from . import figures
    from .data import read_labelled
    from .logo import logo_tables

    fits = load_fits(fit_paths)
    reffs = {name: relative_ess(idata.posterior) for name, idata in fits.items()}
    loos = {name: loo(idata, workers, reffs[name]) for name, idata in fits.items()}
    table = loo_table(loos)
    table.to_csv(outputs["loo"])
    pointwise_table(loos, next(iter(fits.values()))).to_csv(outputs["pointwise"], index=False)
    kfold = pd.concat(map(read_labelled, kfold_paths)) if kfold_paths else None
    summary, groups = logo_tables(fits, kfold, reffs)
    summary.to_csv(outputs["logo"])
    groups.to_csv(outputs["logo_groups"], index=False)
    priors_table(fits).to_csv(outputs["priors"], index=False)
    figures.forest(fits, outputs["forest"])
    figures.loo_comparison(table, outputs["loo_plot"])
    figures.logo_comparison(summary, groups, outputs["logo_plot"])
