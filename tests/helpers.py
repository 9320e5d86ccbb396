"""Running Snakemake as a user would, from a test."""

import subprocess
import sys

import yaml


def snakemake(workdir, *args, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir, capture_output=True, text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


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
