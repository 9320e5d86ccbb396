"""Running Snakemake as a user would, from a test or a benchmark (no side effects on
import: JAX is configured by conftest, not here)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "resources", "profiles", "environment.yml")


def pooled_chisquare_pvalue(observed, expected):
    """Pearson's test of counts against expected counts (scipy.stats.chisquare), with
    the cells expected fewer than 5 times pooled into one."""
    from scipy import stats

    kept = expected >= 5
    observed = np.append(observed[kept], observed[~kept].sum())
    expected = np.append(expected[kept], expected[~kept].sum())
    observed, expected = observed[expected > 0], expected[expected > 0]
    return stats.chisquare(observed, expected).pvalue


def copy_workflow(target):
    """A fresh clone's files in `target`, as a new user would have them."""
    for name in WORKFLOW_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)
    shutil.rmtree(target / "resources" / "radon", ignore_errors=True)  # downloaded, git-ignored
    return target


def snakemake(workdir, *args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir, capture_output=True, text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def benchmark(workdir, path):
    """(seconds, peak RSS in MB) from a Snakemake benchmark file."""
    header, values = (workdir / path).read_text().splitlines()[:2]
    row = dict(zip(header.split("\t"), values.split("\t")))
    return float(row["s"]), float(row["max_rss"])


def write_config(workdir, config):
    with open(workdir / "config" / "config.yaml", "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)


def read_config(workdir):
    with open(workdir / "config" / "config.yaml") as handle:
        return yaml.safe_load(handle)


def planned_jobs(dry_run_stdout):
    """[(rule, output files)] of every job a dry run would execute, each under the
    header a dry run prints for it (`rule fit:`, `checkpoint prepare_data:`,
    `localrule all:`)."""
    jobs, rule = [], None
    for line in dry_run_stdout.splitlines():
        line = line.strip()
        header = re.fullmatch(r"(?:local)?(?:rule|checkpoint) (\S+):", line)
        if header:
            rule = header[1]
        elif line.startswith("output:"):
            jobs.append((rule, {part.strip() for part in line[len("output:"):].split(",")}))
    return jobs


def planned_outputs(dry_run_stdout):
    """Output files of every job a dry run would execute."""
    return set().union(*(outputs for _, outputs in planned_jobs(dry_run_stdout)))


def write_series(rows, path):
    """A bench series: rows (dicts; a size not run lacks the measured keys) written as
    CSV to `path` and printed as a table."""
    import csv

    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(f"{row[c]:.4g}" if isinstance(row.get(c), float) else str(row.get(c, "not run"))
                         for c in columns))


FIT_JOB = """
import json, sys
sys.path.insert(0, {scripts!r})
from pooling.jaxenv import configure_jax
configure_jax(2, 1, cache_dir={cache!r})
import jax
from pooling.data import load_prepared
from pooling.fit import sample_groups, write_netcdf
misses = []
jax.monitoring.register_event_listener(
    lambda event, **_: misses.append(event) if event == "/jax/compilation_cache/cache_misses" else None)
settings = dict(chains=2, warmup=50, draws=30, target_accept=0.8, seed=1, max_tree_depth=5)
groups, attrs, _ = sample_groups(load_prepared({prepared!r}), "partial_pooling", settings)
write_netcdf(groups, attrs, {out!r})
print(json.dumps({{"misses": len(misses),
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("arviz", "matplotlib"))}}))
"""


def fit_job_in_a_new_process(prepared, out, cache=None, environment=None):
    """What a fit job does (sample_groups, then write_netcdf) on a prepared CSV, in a new
    Python process with `environment` (default: this one's; `cache` sets JAX's
    compilation cache where the environment sets none): {"misses": persistent-cache
    misses, "modules": the ArviZ and matplotlib modules it loaded}."""
    script = FIT_JOB.format(scripts=str(ROOT / "workflow" / "scripts"), cache=None if cache is None else str(cache),
                            prepared=str(prepared), out=str(out))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env=os.environ if environment is None else environment)
    return json.loads(run.stdout.strip().splitlines()[-1])
