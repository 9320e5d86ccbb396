"""Gaussian partial pooling (varying intercepts, non-centered) with nutpie on a PyMC
model, with the priors the workflow's defaults give the same data; prints one JSON
line: process wall seconds (imports and compilation included), sampling seconds and
the bulk ESS of tau. Run with bench/.venv's Python (bench/requirements.txt); the
response and group columns default to radon's.

    bench/.venv/bin/python bench/nutpie_fit.py ../shared/data/radon/radon_mn.csv
    bench/.venv/bin/python bench/nutpie_fit.py results/groups1000/simulated/data.csv y group
"""

import json
import sys
import time

START = time.perf_counter()

import arviz as az  # noqa: E402
import numpy as np  # noqa: E402
import nutpie  # noqa: E402
import pandas as pd  # noqa: E402
import pymc as pm  # noqa: E402

CHAINS, WARMUP, DRAWS = 4, 1000, 1000


def main(path, response="log_radon", group="county"):
    table = pd.read_csv(path)
    county, labels = pd.factorize(table[group])
    y = table[response].to_numpy()
    scale = y.std(ddof=1)
    with pm.Model(coords={"group": labels}) as model:
        # pooling.priors.default_priors: normal(mean(y), 2.5 sd(y)), exponential(1 / sd(y))
        mu = pm.Normal("mu", y.mean(), 2.5 * scale)
        tau = pm.Exponential("tau", 1 / scale)
        sigma = pm.Exponential("sigma", 1 / scale)
        theta_z = pm.Normal("theta_z", 0, 1, dims="group")
        pm.Normal("y", mu + tau * theta_z[county], sigma, observed=y)
    compiled = nutpie.compile_pymc_model(model)
    start = time.perf_counter()
    trace = nutpie.sample(compiled, chains=CHAINS, tune=WARMUP, draws=DRAWS, seed=1,
                          target_accept=0.95, progress_bar=False, cores=2)
    sampling = time.perf_counter() - start
    ess = float(az.ess(trace, var_names=["tau"], method="bulk")["tau"])
    print(json.dumps({"wall_s": time.perf_counter() - START, "sampling_s": sampling,
                      "ess_bulk_tau": ess, "tau_mean": float(np.mean(trace.posterior["tau"]))}))


if __name__ == "__main__":
    main(*sys.argv[1:])
