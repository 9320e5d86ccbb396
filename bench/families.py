"""Partial pooling per likelihood family and group structure through the workflow's own
jobs: wall time and peak RSS of the fit job and of the compare job (PSIS-LOO and LOGO,
the latter by adaptive Gauss–Hermite quadrature beyond gaussian), with the convergence
gates, for simulated data of radon's size (85 groups, about 1,000 rows, one row
predictor): every family, and gaussian with varying slopes, nested and crossed factors.
With --max-rows 1e6 the first three families also at 10^6 rows in 10^4 groups. Prints a
table and writes bench/families.csv (column `family` names the model).

    python bench/families.py                  # radon size (about 8 min on 2 cores)
    python bench/families.py --max-rows 1e6   # adds the million-row fits
"""

import argparse
import sys
import tempfile
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import benchmark, copy_workflow, read_config, snakemake, write_config, write_series  # noqa: E402

SIZES = [(919, 85), (10**6, 10**4)]  # radon Minnesota's rows and counties; the large-data series' end
# model: (family, formula); gaussian's is the baseline of the others at radon size
MODELS = {
    "gaussian": ("gaussian", "y ~ 1 + x + (1 | group)"),
    "binomial": ("binomial", "p(successes, trials) ~ 1 + x + (1 | group)"),
    "poisson": ("poisson", "count ~ 1 + x + offset(log(exposure)) + (1 | group)"),
    "bernoulli": ("bernoulli", "success ~ 1 + x + (1 | group)"),
    "negativebinomial": ("negativebinomial", "count ~ 1 + x + offset(log(exposure)) + (1 | group)"),
    "t": ("t", "y ~ 1 + x + (1 | group)"),
    "varying slopes": ("gaussian", "y ~ 1 + x + (1 + x | group)"),
    "nested": ("gaussian", "y ~ 1 + x + (1 | region/group)"),
    "crossed": ("gaussian", "y ~ 1 + x + (1 | group) + (1 | rater)"),
}
LARGE = ("gaussian", "binomial", "poisson")  # the models also run at 10^6 rows


def simulate(rows, groups, seed=1):
    """One table with a response for every family: intercepts mu + tau z per group, one
    standard-normal row predictor with slope 0.5."""
    rng = np.random.default_rng(seed)
    group = rng.permutation(np.arange(rows) % groups)
    x = rng.normal(size=rows)
    eta = -1.0 + 0.5 * rng.normal(size=groups)[group] + 0.5 * x
    exposure = rng.uniform(0.5, 2.0, rows)
    trials = rng.integers(1, 20, rows)
    return pd.DataFrame({
        "group": [f"g{j}" for j in group], "x": x.round(4),
        "y": (eta + rng.normal(size=rows)).round(4),
        "trials": trials, "successes": rng.binomial(trials, 1 / (1 + np.exp(-eta))),
        "exposure": exposure.round(4), "count": rng.poisson(exposure * np.exp(eta)),
        "success": (rng.uniform(size=rows) < 1 / (1 + np.exp(-eta))).astype(int),
        "region": [f"r{j % 9}" for j in group], "rater": [f"k{j}" for j in rng.integers(0, 10, rows)],
    })


def dataset_name(model, rows, groups):
    return f"{model.replace(' ', '_')}_n{rows}_g{groups}"


def gates(idata):
    summary = az.summary(idata, var_names=["^mu$", "^tau", "^beta$"], filter_vars="regex", kind="diagnostics")
    return {"divergences": int(idata.sample_stats["diverging"].sum()),
            "min_ess_bulk": float(summary["ess_bulk"].min()), "max_rhat": float(summary["r_hat"].max())}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-rows", type=float, default=1e4)
    limit = parser.parse_args().max_rows
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = copy_workflow(Path(tmp))
        config = read_config(workdir)
        config["strategies"] = ["partial_pooling"]
        config["datasets"] = {}
        for n, g in SIZES:
            if n > limit:
                continue
            path = workdir / f"n{n}_g{g}.csv"
            simulate(n, g).to_csv(path, index=False)
            for model, (family, formula) in MODELS.items():
                if n < 10**6 or model in LARGE:
                    config["datasets"][dataset_name(model, n, g)] = {"path": path.name, "formula": formula,
                                                                     "family": family}
        write_config(workdir, config)
        for name in config["datasets"]:
            snakemake(workdir, "--cores", "2", f"results/{name}/loo_compare.csv", f"results/{name}/logo_compare.csv")
        for n, g in SIZES:
            for model in MODELS if n < 10**6 else LARGE:
                name = dataset_name(model, n, g)
                row = {"family": model, "rows": n, "groups": g}
                if name in config["datasets"]:
                    fit_s, fit_mb = benchmark(workdir, f"benchmarks/{name}/fit/partial_pooling.tsv")
                    compare_s, compare_mb = benchmark(workdir, f"benchmarks/{name}/compare.tsv")
                    idata = az.from_netcdf(workdir / f"results/{name}/fits/partial_pooling.nc")
                    row.update(fit_s=fit_s, fit_peak_rss_mb=fit_mb, loo_and_logo_s=compare_s,
                               compare_peak_rss_mb=compare_mb, **gates(idata))
                rows.append(row)
    write_series(rows, ROOT / "bench" / "families.csv")

if __name__ == "__main__":
    main()
