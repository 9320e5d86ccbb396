"""Benchmarks of the workflow on this machine: prints a table and writes bench/results.csv.

    python bench/run.py

Rows: the default DAG from scratch against the notebook way (bench/notebook.py), both
timed in this run; a warm refit process (same shapes, new seed) against a bare import
of jax, numpyro and arviz; `snakemake -n` on a finished run. Each row says its target.
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


def main():
    snakemake = [sys.executable, "-m", "snakemake"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = copy_workflow(Path(tmp))
        dag = timed([*snakemake, "--cores", "4"], workdir)
        notebook = timed([sys.executable, str(ROOT / "bench" / "notebook.py")], workdir)
        rows.append(("default DAG from scratch / notebook way", dag, notebook, dag / notebook, "<= 0.5"))
        dry = timed([*snakemake, "-n", "--cores", "4"], workdir)
        rows.append(("snakemake -n on a finished run (s)", dry, None, dry, "<= 3"))
        target = "results/eight_schools/fits/partial_pooling.nc"
        timed([*snakemake, "--cores", "4", target, "--forcerun", "fit", "--config", "seed=2"], workdir)
        refit = fit_seconds(workdir, "eight_schools", "partial_pooling")
        bare = timed([sys.executable, "-c", "import jax, numpyro, arviz"], workdir)
        rows.append(("warm refit process / bare import", refit, bare, refit / bare, "<= 2"))
    header = ("measure", "seconds", "baseline seconds", "figure", "target")
    with open(ROOT / "bench" / "results.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    print(" | ".join(header))
    for name, seconds, baseline, figure, goal in rows:
        base = "" if baseline is None else f"{baseline:.1f}"
        print(f"{name} | {seconds:.1f} | {base} | {figure:.2f} | {goal}")


if __name__ == "__main__":
    main()
