"""Benchmarks of the workflow on this machine: prints a table and writes bench/results.csv.

    python bench/run.py            # every row (about 55 min on 2 cores)
    python bench/run.py sbc        # only the named groups: dag, refit, sbc, nutpie, compare, million,
                                   # families, hierarchy

Rows: the default DAG from scratch against the notebook way (bench/notebook.py), both
timed in this run, with the CPU seconds of each and the floor the DAG's CPU seconds set
on this machine's cores, the DAG again on new data of the same shapes (compile cache warm),
and `snakemake -n` on the finished run; a warm refit process (same
shapes, new seed) against a bare import of jax, numpyro and arviz; simulation-based
calibration (`snakemake --cores 2 sbc`, shipped design: 200 simulations for each of
the three strategies) as simulations per minute; radon partial pooling's bulk ESS of
tau per second of the fit job (cold, and on a shape already fitted) against nutpie
(needs bench/.venv, see bench/requirements.txt; this also rewrites bench/phases.csv),
and the same for 1,000 simulated groups of 20 rows;
the compare job at 10^6 rows alone (bench/scaling.py --min-rows 1e6); the million-row
fit and LOO (bench/scaling.py's series, which rewrites bench/scaling.csv); each
likelihood family's and group structure's partial pooling at radon size
(bench/families.py, which rewrites bench/families.csv); varying slopes at 10^5 rows and
radon in every state (bench/hierarchy.py, bench/hierarchy.csv). Each row says its
target. Rows not run keep their last figures in bench/results.csv.
"""

import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RADON = ROOT.parent / "shared" / "data" / "radon" / "radon_mn.csv"
# 1,000 groups of 20 rows drawn from radon-like truths (log scale: mu, tau, sigma)
NUTPIE_PYTHON = ROOT / "bench" / ".venv" / "bin" / "python"  # bench/requirements.txt's environment
THOUSAND_GROUPS = {"groups": 1000, "group_sizes": 20, "mu": 1.3, "tau": 0.35, "sigma": 0.75}
sys.path.insert(0, str(ROOT / "tests"))

import pandas as pd  # noqa: E402

from helpers import benchmark, copy_workflow, read_config, write_config  # noqa: E402


def timed(command, cwd):
    return timed_with_cpu(command, cwd)[0]


def timed_with_cpu(command, cwd):
    """Wall seconds of `command` and the CPU seconds (user + system) of every process it
    ran and waited for, Snakemake's jobs included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


SNAKEMAKE = [sys.executable, "-m", "snakemake"]
HEADER = ("measure", "seconds", "baseline seconds", "figure", "target")


def new_data_of_the_same_shapes(workdir):
    """The shipped datasets as new data of the shapes already fitted: each CSV's rows in
    another order (every array a job compiles or reads differs, no shape does), each
    simulated dataset from another seed; results/ removed, the compile cache kept."""
    config = read_config(workdir)
    for name, entry in config["datasets"].items():
        if "simulate" in entry:
            entry["simulate"]["seed"] += 1
            continue
        shuffled = f"resources/{name}_reordered.csv"
        pd.read_csv(workdir / entry["path"]).sample(frac=1, random_state=1).to_csv(workdir / shuffled, index=False)
        entry["path"] = shuffled
    write_config(workdir, config)
    shutil.rmtree(workdir / "results")


def dag_rows(workdir):
    """The DAG and notebook rows, and the floor the DAG's CPU time sets: on this machine's
    cores its wall time cannot go below its CPU seconds spread over all of them, so a
    ratio of 0.5 needs the whole DAG's CPU seconds within the notebook's wall seconds
    times cores / 2."""
    dag, dag_cpu = timed_with_cpu([*SNAKEMAKE, "--cores", "4"], workdir)
    notebook, notebook_cpu = timed_with_cpu([sys.executable, str(ROOT / "bench" / "notebook.py")], workdir)
    dry = timed([*SNAKEMAKE, "-n", "--cores", "4"], workdir)
    new_data_of_the_same_shapes(workdir)
    again, again_cpu = timed_with_cpu([*SNAKEMAKE, "--cores", "4"], workdir)
    cores = os.cpu_count()
    return [("default DAG from scratch / notebook way", dag, notebook, dag / notebook, "<= 0.5"),
            ("default DAG from scratch: CPU seconds / the notebook way's", dag_cpu, notebook_cpu,
             dag_cpu / notebook_cpu, "report"),
            (f"default DAG from scratch: CPU seconds / {cores} cores, the floor of its wall time / notebook way",
             dag_cpu / cores, notebook, dag_cpu / cores / notebook, "report (<= 0.5 possible only below 0.5)"),
            ("default DAG again, new data of the shapes seen / notebook way", again, notebook, again / notebook,
             "<= 0.35"),
            (f"default DAG again: CPU seconds / {cores} cores, the floor of its wall time / notebook way",
             again_cpu / cores, notebook, again_cpu / cores / notebook, "report (<= 0.35 possible only below 0.35)"),
            ("snakemake -n on a finished run (s)", dry, None, dry, "<= 3")]


def refit_rows(workdir):
    target = "results/eight_schools/fits/partial_pooling.nc"
    timed([*SNAKEMAKE, "--cores", "4", target], workdir)
    timed([*SNAKEMAKE, "--cores", "4", target, "--forcerun", "fit", "--config", "seed=2"], workdir)
    refit, _ = benchmark(workdir, "benchmarks/eight_schools/fit/partial_pooling.tsv")
    bare = timed([sys.executable, "-c", "import jax, numpyro, arviz"], workdir)
    return [("warm refit process / bare import", refit, bare, refit / bare, "<= 1.5")]


def sbc_rows(workdir):
    seconds = timed([*SNAKEMAKE, "--cores", "2", "sbc"], workdir)
    simulations = 3 * 200
    return [("SBC, shipped design: simulations per minute (2 cores)", seconds, None,
             simulations / (seconds / 60), "report")]


def fit_jobs(datasets, prepare=None, then=None):
    """Partial pooling of each of `datasets` ({name: dataset entry}) as the workflow fits
    it (4 chains x 1000 + 1000, the shipped sampler settings), one after another with one
    compile cache, empty at the first: ([(the fit job's seconds (Snakemake's benchmark),
    the fit's bulk ESS of tau)], what then(workdir) returns). `prepare(workdir)` writes
    their files."""
    import arviz as az

    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = copy_workflow(Path(tmp))
        if prepare:
            prepare(workdir)
        config = read_config(workdir)
        config.update(chains=4, warmup=1000, draws=1000, compile_cache=str(workdir / "jax-cache"))
        config["datasets"] = {name: {**entry, "strategies": ["partial_pooling"]} for name, entry in datasets.items()}
        write_config(workdir, config)
        for name in datasets:
            timed([*SNAKEMAKE, "--cores", "4", f"results/{name}/fits/partial_pooling.nc"], workdir)
            seconds, _ = benchmark(workdir, f"benchmarks/{name}/fit/partial_pooling.tsv")
            fit = az.from_netcdf(workdir / "results" / name / "fits" / "partial_pooling.nc")
            figures.append((seconds, float(az.ess(fit, var_names=["tau"], method="bulk")["tau"])))
        return figures, then and then(workdir)


def radon_fit_jobs():
    """Radon's fit job with an empty compile cache, then on the same homes in another
    order: new data of a shape already fitted, which the cache serves."""
    def prepare(workdir):
        table = pd.read_csv(RADON)
        table.to_csv(workdir / "resources" / "radon.csv", index=False)
        table.sample(frac=1, random_state=1).to_csv(workdir / "resources" / "radon_reordered.csv", index=False)

    entries = {name: {"path": f"resources/{name}.csv", "response": "log_radon", "group": "county"}
               for name in ("radon", "radon_reordered")}
    return fit_jobs(entries, prepare)[0]


def nutpie_process(path, *columns):
    """nutpie's whole process on a CSV (bench/nutpie_fit.py in bench/.venv): the second
    of two, as the first in a new environment compiles for ~7 s more."""
    for _ in range(2):
        result = subprocess.run([str(NUTPIE_PYTHON), str(ROOT / "bench" / "nutpie_fit.py"), str(path), *columns],
                                check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def nutpie_rows(workdir):
    """Bulk ESS of tau per second, the workflow's partial-pooling fit job against
    nutpie's whole process: radon, cold and on a shape already fitted (radon_fit_jobs),
    with warmup + sampling alone, numpyro's as profiled by bench/phases.py (which also
    rewrites bench/phases.csv); and 1,000 simulated groups of 20 rows, cold and on
    new data of that shape (another simulation seed)."""
    if not NUTPIE_PYTHON.exists():
        print("skipping nutpie: create bench/.venv from bench/requirements.txt", file=sys.stderr)
        return []
    jobs = radon_fit_jobs()
    subprocess.run([sys.executable, str(ROOT / "bench" / "phases.py")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(ROOT / "bench" / "phases.csv", newline="") as handle:
        radon = next(r for r in csv.DictReader(handle) if r["dataset"] == "radon")
    sampling = float(radon["sampling_s"]) + float(radon["warmup_s"])
    ess = float(radon["ess_bulk_per_s_tau"]) * float(radon["sampling_s"])
    nutpie = nutpie_process(RADON)
    per_second = nutpie["ess_bulk_tau"] / nutpie["wall_s"]
    thousand = {f"groups1000_{seed}": {"simulate": {**THOUSAND_GROUPS, "seed": seed}, "response": "y",
                                       "group": "group"} for seed in (1, 2)}
    first = next(iter(thousand))
    large, large_nutpie = fit_jobs(thousand, then=lambda workdir: nutpie_process(
        workdir / "results" / first / "simulated" / "data.csv", "y", "group"))
    large_per_second = large_nutpie["ess_bulk_tau"] / large_nutpie["wall_s"]
    cases = ("compile cache empty", "a shape already fitted")
    return [
        *[(f"radon partial pooling ESS(tau)/s, whole fit job, {how}: numpyro / nutpie", seconds, nutpie["wall_s"],
           (job_ess / seconds) / per_second, ">= 2")
          for how, (seconds, job_ess) in zip(cases, jobs)],
        ("radon partial pooling ESS(tau)/s, warmup + sampling only: numpyro / nutpie", sampling,
         nutpie["sampling_s"], (ess / sampling) / (nutpie["ess_bulk_tau"] / nutpie["sampling_s"]), "report"),
        *[(f"1,000 groups / 20,000 rows partial pooling ESS(tau)/s, whole fit job, {how}: numpyro / nutpie",
           seconds, large_nutpie["wall_s"], (job_ess / seconds) / large_per_second, ">= 1")
          for how, (seconds, job_ess) in zip(cases, large)],
    ]


def million_rows(workdir):
    """bench/scaling.py's whole series (about 30 min); its 10^6-row partial-pooling fit
    and compare jobs against the targets."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "scaling.py"), "--max-rows", "1e6"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return million_rows_from_csv()


def compare_rows(workdir):
    """Only the 10^6-row size of bench/scaling.py (about 10 min): its compare job
    (PSIS-LOO and LOGO) against the target, the other sizes' figures kept."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "scaling.py"), "--min-rows", "1e6", "--max-rows", "1e6"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return million_rows_from_csv()


def million_rows_from_csv():
    with open(ROOT / "bench" / "scaling.csv", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["rows"] == str(10**6))
    seconds = float(row["fit_s"]) + float(row["loo_and_logo_s"])
    compare = float(row["loo_and_logo_s"])
    peak_gib = max(float(row["fit_peak_rss_mb"]), float(row["loo_peak_rss_mb"])) / 1024
    return [("N = 1e6 rows, G = 1e4 groups: compare job (PSIS-LOO and LOGO), seconds", compare, None, compare,
             "<= 120"),
            ("N = 1e6 rows, G = 1e4 groups: fit + LOO and LOGO jobs, minutes", seconds, None, seconds / 60, "<= 15"),
            ("N = 1e6 rows, G = 1e4 groups: peak RSS of either job, GiB", seconds, None, peak_gib, "<= 8")]


def family_rows(workdir):
    """bench/families.py at radon size: each family's and structure's partial-pooling
    fit + compare jobs against the gaussian one (about 8 min). Its 10^6-row fits
    (`--max-rows 1e6`) ran for hours without finishing: run them by hand; their rows
    keep their last figures."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "families.py")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return family_rows_from_csv()


def family_rows_from_csv():
    with open(ROOT / "bench" / "families.csv", newline="") as handle:
        table = [r for r in csv.DictReader(handle) if r.get("fit_s")]
    seconds = {(r["family"], int(r["rows"])): float(r["fit_s"]) + float(r["loo_and_logo_s"]) for r in table}
    peak = {(r["family"], int(r["rows"])): max(float(r["fit_peak_rss_mb"]), float(r["compare_peak_rss_mb"])) / 1024
            for r in table}
    rows = []
    for (family, n), total in seconds.items():
        if n < 10**6:
            gaussian = seconds[("gaussian", n)]
            rows.append((f"{family} partial pooling, {n} rows: fit + LOO/LOGO jobs / gaussian's", total, gaussian,
                         total / gaussian, "<= 1.5"))
        else:
            rows += [(f"{family}, N = 1e6 rows, G = 1e4 groups, one row predictor: fit + LOO/LOGO, minutes",
                      total, None, total / 60, "<= 15"),
                     (f"{family}, N = 1e6 rows, G = 1e4 groups: peak RSS of either job, GiB", total, None,
                      peak[(family, n)], "<= 8")]
    return rows


def hierarchy_rows(workdir):
    """bench/hierarchy.py: varying slopes at 10^5 rows in 10^3 groups against the target,
    and radon in every state per strategy."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "hierarchy.py")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return hierarchy_rows_from_csv()


def hierarchy_rows_from_csv():
    with open(ROOT / "bench" / "hierarchy.csv", newline="") as handle:
        table = {r["dataset"]: r for r in csv.DictReader(handle)}
    rows = []
    slopes = table.get("slopes_n100000_g1000")
    if slopes:
        seconds = float(slopes["partial_pooling_fit_s"]) + float(slopes["compare_s"])
        peak = max(float(slopes["partial_pooling_peak_rss_mb"]), float(slopes["compare_peak_rss_mb"])) / 1024
        rows += [("varying slopes, N = 1e5 rows, G = 1e3 groups: partial-pooling fit + compare, minutes",
                  seconds, None, seconds / 60, "<= 5"),
                 ("varying slopes, N = 1e5 rows, G = 1e3 groups: peak RSS of either job, GiB", seconds, None,
                  peak, "<= 8")]
    radon = table.get("radon_states")
    if radon:
        for strategy in ("no_pooling", "complete_pooling", "partial_pooling"):
            seconds = float(radon[f"{strategy}_fit_s"])
            rows.append((f"radon, every state, (1 + floor | state/county): {strategy} fit, peak GiB", seconds,
                         None, float(radon[f"{strategy}_peak_rss_mb"]) / 1024, "report"))
    return rows


GROUPS = {"dag": dag_rows, "refit": refit_rows, "sbc": sbc_rows, "nutpie": nutpie_rows, "compare": compare_rows,
          "million": million_rows,
          "families": family_rows, "hierarchy": hierarchy_rows}


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
