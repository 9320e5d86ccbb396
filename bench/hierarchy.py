"""Deeper hierarchies through the workflow's own jobs: wall time and peak RSS of each
fit job and of the compare job (PSIS-LOO and the LOGO of every grouping factor), with
the partial-pooling gates, for

- simulated varying intercepts and slopes, 10^5 rows in 10^3 groups,
  `y ~ 1 + x + (1 + x | group)` (target: fit + compare <= 5 min, <= 8 GiB on 2 cores);
- radon in every state, `log_radon ~ floor + (1 + floor | state/county)` (12,468 homes
  in 468 counties of 9 states; needs the raw survey files in ../shared/data/radon).

Prints a table and writes bench/hierarchy.csv (keeping the rows of a series not run).

    python bench/hierarchy.py            # both (about 15 min on 2 cores)
    python bench/hierarchy.py slopes     # the simulated series only
"""

import shutil
import sys
import tempfile
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RADON = ROOT.parent / "shared" / "data" / "radon"
sys.path.insert(0, str(ROOT / "tests"))

from helpers import benchmark, copy_workflow, read_config, snakemake, write_config, write_series  # noqa: E402

STRATEGIES = ("no_pooling", "complete_pooling", "partial_pooling")


def simulate(rows, groups, seed=1):
    """Correlated intercepts and slopes per group (sds 0.5 and 0.3, correlation -0.4)
    around 1 + 0.5 x, residual sd 1, one standard-normal row predictor."""
    rng = np.random.default_rng(seed)
    group = rng.permutation(np.arange(rows) % groups)
    covariance = np.array([[0.25, -0.06], [-0.06, 0.09]])
    effects = rng.multivariate_normal([0, 0], covariance, size=groups)
    x = rng.normal(size=rows)
    y = 1 + effects[group, 0] + (0.5 + effects[group, 1]) * x + rng.normal(size=rows)
    return pd.DataFrame({"group": [f"g{j}" for j in group], "x": x.round(4), "y": y.round(4)})


def gates(idata):
    names = [v for v in ("mu", "beta", "tau", "tau_slope", "tau_state", "tau_slope_state", "sigma")
             if v in idata.posterior]
    summary = az.summary(idata, var_names=names, kind="diagnostics")
    return {"divergences": int(idata.sample_stats["diverging"].sum()),
            "min_ess_bulk": float(summary["ess_bulk"].min()), "max_rhat": float(summary["r_hat"].max())}


def main():
    chosen = sys.argv[1:] or ["slopes", "radon"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = copy_workflow(Path(tmp))
        config = read_config(workdir)
        config["datasets"] = {}
        if "slopes" in chosen:
            simulate(10**5, 10**3).to_csv(workdir / "slopes.csv", index=False)
            config["datasets"]["slopes_n100000_g1000"] = {"path": "slopes.csv",
                                                          "formula": "y ~ 1 + x + (1 + x | group)"}
        if "radon" in chosen and RADON.is_dir():
            (workdir / "resources" / "radon").mkdir(parents=True, exist_ok=True)
            for name in ("srrs2.dat", "cty.dat"):
                shutil.copy(RADON / name, workdir / "resources" / "radon" / name)
            config["datasets"]["radon_states"] = {"path": "resources/radon/radon_states.csv",
                                                  "formula": "log_radon ~ floor + (1 + floor | state/county)"}
        write_config(workdir, config)
        for name in config["datasets"]:
            snakemake(workdir, "--cores", "2", f"results/{name}/loo_compare.csv")
            row = {"dataset": name}
            for strategy in STRATEGIES:
                seconds, mb = benchmark(workdir, f"benchmarks/{name}/fit/{strategy}.tsv")
                row |= {f"{strategy}_fit_s": seconds, f"{strategy}_peak_rss_mb": mb}
            row["compare_s"], row["compare_peak_rss_mb"] = benchmark(workdir, f"benchmarks/{name}/compare.tsv")
            row |= gates(az.from_netcdf(workdir / f"results/{name}/fits/partial_pooling.nc"))
            rows.append(row)
    out = ROOT / "bench" / "hierarchy.csv"
    kept = pd.read_csv(out).to_dict("records") if out.exists() else []  # the series not run now
    write_series([r for r in kept if r["dataset"] not in {row["dataset"] for row in rows}] + rows, out)


if __name__ == "__main__":
    main()
