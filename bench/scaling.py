"""Scaling series of the workflow's partial-pooling fit on simulated data: wall time and
peak RSS of the fit job and of the compare job (PSIS-LOO and LOGO), the NetCDF size,
and whether the convergence gates hold, for N rows in G groups (4 chains x 1000 +
1000, the shipped defaults but `parameterization`). Prints a table and writes
bench/scaling.csv.

    python bench/scaling.py                  # N up to 1e4 (about 3 min on 2 cores)
    python bench/scaling.py --max-rows 1e6   # the whole series (about 30 min)
    python bench/scaling.py --min-rows 1e6 --max-rows 1e6   # only the million rows

Every group has N / G rows (10 to 1000): the data, not the prior, pin each group mean,
so the series uses the centered parameterization a practitioner would choose there
(config/README.md); `--parameterization noncentered` measures the default instead.
Sizes outside --min-rows..--max-rows keep their last figures from bench/scaling.csv
(or are listed as not run).
"""

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import arviz as az

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import benchmark, copy_workflow, read_config, snakemake, write_config, write_series  # noqa: E402

SIZES = [(10**3, 10), (10**3, 10**2), (10**4, 10**2), (10**4, 10**3),
         (10**5, 10**3), (10**5, 10**4), (10**6, 10**4)]


def gates(workdir, name):
    """Convergence of the population parameters and the fit-wide gates of the
    diagnostics job's rules, from the fit itself."""
    idata = az.from_netcdf(workdir / f"results/{name}/fits/partial_pooling.nc")
    summary = az.summary(idata, var_names=["mu", "tau", "sigma", "theta"], kind="diagnostics")
    return {"divergences": int(idata.sample_stats["diverging"].sum()),
            "max_tree_depth_share": float((idata.sample_stats["tree_depth"] >= 10).mean()),
            "min_ess_bulk": float(summary["ess_bulk"].min()), "max_rhat": float(summary["r_hat"].max())}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--min-rows", type=float, default=0)
    parser.add_argument("--max-rows", type=float, default=1e4)
    parser.add_argument("--parameterization", default="centered", choices=["centered", "noncentered"])
    options = parser.parse_args()
    chosen = [(n, g) for n, g in SIZES if options.min_rows <= n <= options.max_rows]
    output = ROOT / "bench" / "scaling.csv"
    previous = {}
    if output.exists():
        with open(output, newline="") as handle:
            previous = {(int(r["rows"]), int(r["groups"])): {k: v for k, v in r.items() if v != ""}
                        for r in csv.DictReader(handle)}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = copy_workflow(Path(tmp))
        config = read_config(workdir)
        config["strategies"] = ["partial_pooling"]
        config["parameterization"] = options.parameterization
        config["datasets"] = {
            f"n{n}_g{g}": {"simulate": {"groups": g, "group_sizes": n // g, "mu": 5.0, "tau": 2.0,
                                        "sigma": 4.0, "seed": 1},
                           "response": "y", "group": "group"}
            for n, g in chosen
        }
        write_config(workdir, config)
        for name in config["datasets"]:
            snakemake(workdir, "--cores", "2", f"results/{name}/loo_compare.csv")
        for n, g in SIZES:
            name = f"n{n}_g{g}"
            row = previous.get((n, g), {"rows": n, "groups": g})
            if name in config["datasets"]:
                fit_s, fit_mb = benchmark(workdir, f"benchmarks/{name}/fit/partial_pooling.tsv")
                loo_s, loo_mb = benchmark(workdir, f"benchmarks/{name}/compare.tsv")
                size = (workdir / f"results/{name}/fits/partial_pooling.nc").stat().st_size / 1e6
                row.update(fit_s=fit_s, fit_peak_rss_mb=fit_mb, netcdf_mb=size,
                           loo_and_logo_s=loo_s, loo_peak_rss_mb=loo_mb, **gates(workdir, name))
            rows.append(row)
    write_series(rows, output)

if __name__ == "__main__":
    main()
