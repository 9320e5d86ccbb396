"""Running Snakemake as a user would, from a test or a benchmark (no side effects on
import: JAX is configured by conftest, not here)."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "resources", "profiles", "environment.yml")


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


def planned_outputs(dry_run_stdout):
    """Output files of every job a dry run would execute."""
    outputs = set()
    for line in dry_run_stdout.splitlines():
        line = line.strip()
        if line.startswith("output:"):
            outputs.update(part.strip() for part in line[len("output:"):].split(","))
    return outputs


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
