"""Scaling series of the workflow's partial-pooling fit on simulated data: wall time and
peak RSS of the fit job and of the compare job (PSIS-LOO and LOGO), and the NetCDF
size, for N rows in G groups (4 chains x 1000 + 1000). Prints a table and writes
bench/scaling.csv.

    python bench/scaling.py                # N up to 1e4 (about 5 min on 2 cores)
    python bench/scaling.py --max-rows 1e5

Sizes above --max-rows are listed with their predicted fit memory instead of being run:
the row-wise path keeps N x draws pointwise arrays (about 40 bytes per row and kept
draw, see get_fit_mem_mb in workflow/rules/common.smk), which is what the sufficient-
statistics path of the performance issue is meant to remove.
"""

import argparse
import csv
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import copy_workflow, read_config, snakemake, write_config  # noqa: E402

SIZES = [(10**3, 10), (10**3, 10**2), (10**4, 10**2), (10**4, 10**3),
         (10**5, 10**3), (10**5, 10**4), (10**6, 10**4)]
DRAWS = 4 * 1000
BYTES_PER_ROW_DRAW = 40


def benchmark(workdir, path):
    """(seconds, peak RSS in MB) from a Snakemake benchmark file."""
    header, values = (workdir / path).read_text().splitlines()[:2]
    row = dict(zip(header.split("\t"), values.split("\t")))
    return float(row["s"]), float(row["max_rss"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-rows", type=float, default=1e4)
    limit = parser.parse_args().max_rows
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = copy_workflow(Path(tmp))
        config = read_config(workdir)
        config["strategies"] = ["partial_pooling"]
        config["datasets"] = {
            f"n{n}_g{g}": {"simulate": {"groups": g, "group_sizes": n // g, "mu": 5.0, "tau": 2.0,
                                        "sigma": 4.0, "seed": 1},
                           "response": "y", "group": "group"}
            for n, g in SIZES if n <= limit
        }
        write_config(workdir, config)
        for name in config["datasets"]:
            snakemake(workdir, "--cores", "2", f"results/{name}/loo_compare.csv")
        for n, g in SIZES:
            name = f"n{n}_g{g}"
            row = {"rows": n, "groups": g, "predicted_fit_mem_gb": BYTES_PER_ROW_DRAW * n * DRAWS / 1e9}
            if name in config["datasets"]:
                fit_s, fit_mb = benchmark(workdir, f"benchmarks/{name}/fit/partial_pooling.tsv")
                loo_s, loo_mb = benchmark(workdir, f"benchmarks/{name}/compare.tsv")
                size = (workdir / f"results/{name}/fits/partial_pooling.nc").stat().st_size / 1e6
                row.update(fit_s=fit_s, fit_peak_rss_mb=fit_mb, netcdf_mb=size,
                           loo_and_logo_s=loo_s, loo_peak_rss_mb=loo_mb)
            rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(ROOT / "bench" / "scaling.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(f"{row[c]:.4g}" if isinstance(row.get(c), float) else str(row.get(c, "not run"))
                         for c in columns))


if __name__ == "__main__":
    main()
