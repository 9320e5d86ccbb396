"""PSIS-LOO comparison of a dataset's strategies, and the priors each fit used."""

import json

import arviz as az
import pandas as pd


def loo_table(fits):
    """az.compare of {strategy: InferenceData} plus, per strategy, how many
    observations have a Pareto k above ArviZ's threshold (LOO unreliable there)."""
    loos = {name: az.loo(idata, pointwise=True) for name, idata in fits.items()}
    table = az.compare(loos, ic="loo")
    table.index.name = "strategy"
    table["pareto_k_threshold"] = [loos[name].good_k for name in table.index]
    table["n_pareto_k_high"] = [
        int((loos[name].pareto_k > loos[name].good_k).sum()) for name in table.index
    ]
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
    fits = (az.from_netcdf(path) for path in paths)
    return {idata.attrs["strategy"]: idata for idata in fits}
