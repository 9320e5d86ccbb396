"""Benchmarks of the workflow on this machine: prints a table and writes bench/results.csv.

    python bench/run.py            # every row (about 15 min on 2 cores)
    python bench/run.py sbc        # only the named groups of rows: dag, refit, sbc

Rows: the default DAG from scratch against the notebook way (bench/notebook.py), both
timed in this run, and `snakemake -n` on the finished run; a warm refit process (same
shapes, new seed) against a bare import of jax, numpyro and arviz; simulation-based
calibration (`snakemake --cores 2 sbc`, shipped design: 200 simulations for each of
the three strategies) as simulations per minute. Each row says its target. Rows not
run keep their last figures in bench/results.csv.
"""

import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import copy_workflow  # noqa: E402


def timed(command, cwd):
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def fit_seconds(workdir, dataset, strategy):
    """Wall seconds of one fit job, from its Snakemake benchmark file."""
    rows = (workdir / f"benchmarks/{dataset}/fit/{strategy}.tsv").read_text().splitlines()
    return float(rows[-1].split("\t")[0])


SNAKEMAKE = [sys.executable, "-m", "snakemake"]
HEADER = ("measure", "seconds", "baseline seconds", "figure", "target")


def dag_rows(workdir):
    dag = timed([*SNAKEMAKE, "--cores", "4"], workdir)
    notebook = timed([sys.executable, str(ROOT / "bench" / "notebook.py")], workdir)
    dry = timed([*SNAKEMAKE, "-n", "--cores", "4"], workdir)
    return [("default DAG from scratch / notebook way", dag, notebook, dag / notebook, "<= 0.5"),
            ("snakemake -n on a finished run (s)", dry, None, dry, "<= 3")]


def refit_rows(workdir):
    target = "results/eight_schools/fits/partial_pooling.nc"
    timed([*SNAKEMAKE, "--cores", "4", target], workdir)
    timed([*SNAKEMAKE, "--cores", "4", target, "--forcerun", "fit", "--config", "seed=2"], workdir)
    refit = fit_seconds(workdir, "eight_schools", "partial_pooling")
    bare = timed([sys.executable, "-c", "import jax, numpyro, arviz"], workdir)
    return [("warm refit process / bare import", refit, bare, refit / bare, "<= 2")]


def sbc_rows(workdir):
    seconds = timed([*SNAKEMAKE, "--cores", "2", "sbc"], workdir)
    simulations = 3 * 200
    return [("SBC, shipped design: simulations per minute (2 cores)", seconds, None,
             simulations / (seconds / 60), "report")]


GROUPS = {"dag": dag_rows, "refit": refit_rows, "sbc": sbc_rows}


def main():
    chosen = sys.argv[1:] or list(GROUPS)
    results = ROOT / "bench" / "results.csv"
    previous = {}
    if results.exists():
        with open(results, newline="") as handle:
            previous = {row[0]: row for row in list(csv.reader(handle))[1:]}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = copy_workflow(Path(tmp))
        for name in chosen:
            rows += GROUPS[name](workdir)
    fresh = {row[0] for row in rows}
    rows = [row for name, row in previous.items() if name not in fresh] + rows
    rows = [(r[0], float(r[1]), None if r[2] in ("", None) else float(r[2]), float(r[3]), r[4]) for r in rows]
    with open(results, "w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    print(" | ".join(HEADER))
    for name, seconds, baseline, figure, goal in rows:
        base = "" if baseline is None else f"{baseline:.1f}"
        print(f"{name} | {seconds:.1f} | {base} | {figure:.2f} | {goal}")


if __name__ == "__main__":
    main()
