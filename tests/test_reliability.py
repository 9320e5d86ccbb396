"""Crashes lose nothing, failures stay local, and draws are bit-for-bit reproducible."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import arviz as az
import numpy as np
import psutil
import pytest

from pooling.reproduce import refit

from conftest import copy_workflow
from helpers import planned_outputs, read_config, snakemake, write_config

FIT = "results/eight_schools/fits/partial_pooling.nc"


def posterior(workdir, path=FIT):
    return az.from_netcdf(workdir / path).posterior


def assert_identical(a, b):
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A workflow copy with two-chain settings: fits take seconds, two run at once."""
    workdir = copy_workflow(tmp_path_factory.mktemp("reliable"))
    config = read_config(workdir)
    config.update(chains=2, warmup=300, draws=300)
    write_config(workdir, config)
    return workdir


def fits(*datasets, strategy="partial_pooling"):
    return [f"results/{d}/fits/{strategy}.nc" for d in datasets]


def test_draws_are_identical_across_reruns_cores_and_concurrency(small):
    targets = fits("eight_schools", "simulated")
    snakemake(small, "--cores", "4", *targets, "--set-threads", "fit=2")  # both at once, 2 threads each
    first = {t: posterior(small, t) for t in targets}
    snakemake(small, "--cores", "1", *targets, "--forcerun", "fit")  # one at a time, 1 thread
    for target in targets:
        assert_identical(first[target], posterior(small, target))


def test_attrs_alone_rebuild_the_same_draws(small):
    snakemake(small, "--cores", "2", FIT)
    os.chdir(small)  # the attrs record the source CSV relative to the run directory
    try:
        rebuilt = refit(FIT)
    finally:
        os.chdir(os.path.dirname(__file__))
    assert_identical(posterior(small), rebuilt.posterior)


def test_an_archive_of_the_analysis_unpacks_and_reruns_to_the_same_draws(small, tmp_path):
    """The README's archive without conda: `git archive` of the committed workflow,
    config and inputs (what `snakemake --archive` packs besides conda packages, which
    need conda and its channels, absent here), unpacked elsewhere and rerun."""
    import tarfile

    snakemake(small, "--cores", "2", FIT)
    (tmp_path / "analysis").mkdir()
    repository = copy_workflow(tmp_path / "analysis")
    shutil.copy(small / "config" / "config.yaml", repository / "config" / "config.yaml")
    for command in (["init", "-q"], ["add", "."], ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "x"],
                    ["archive", "--format=tar.gz", "-o", str(tmp_path / "analysis.tar.gz"), "HEAD"]):
        subprocess.run(["git", *command], cwd=repository, check=True)
    unpacked = tmp_path / "unpacked"
    with tarfile.open(tmp_path / "analysis.tar.gz") as archive:
        archive.extractall(unpacked, filter="data")
    snakemake(unpacked, "--cores", "2", FIT)
    assert_identical(posterior(small), posterior(unpacked))
    assert_identical(az.from_netcdf(small / FIT).predictions, az.from_netcdf(unpacked / FIT).predictions)


def test_a_new_seed_changes_the_draws_and_only_what_it_shapes(small):
    snakemake(small, "--cores", "2", FIT)
    before = posterior(small)
    snakemake(small, "--cores", "2", FIT, "--config", "seed=2")
    after = posterior(small)
    assert not np.array_equal(before["mu"].values, after["mu"].values)
    # Editing a dataset that this fit does not read reruns nothing for it.
    (small / "resources" / "seed.csv").write_text("y\n10\n12\n9\n11\n7\n")
    dry = snakemake(small, "-n", "--cores", "2", FIT, "--config", "seed=2")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def wait_for(path, text, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_a_fit_killed_mid_sampling_is_redone_to_the_same_draws(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = read_config(workdir)
    config.update(chains=2, warmup=2000, draws=2000)  # long enough to be killed while sampling
    write_config(workdir, config)
    job = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", FIT],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for(workdir / "logs/eight_schools/fit/partial_pooling.log", "settings")
    time.sleep(1)
    fit_job = [p for p in psutil.Process(job.pid).children(recursive=True)
               if any(arg.endswith(".fit.py") for arg in p.cmdline())]
    assert len(fit_job) == 1
    fit_job[0].send_signal(signal.SIGKILL)  # no cleanup, no exception handler runs
    assert job.wait() != 0
    assert not (workdir / FIT).exists()  # nothing that looks complete
    snakemake(workdir, "--cores", "2", FIT)
    resumed = posterior(workdir)
    snakemake(workdir, "--cores", "2", FIT, "--forcerun", "fit")
    assert_identical(resumed, posterior(workdir))


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_failing_fit_leaves_other_datasets_results_alone(small):
    done = fits("seed", "simulated", strategy="complete_pooling")
    snakemake(small, "--cores", "2", *done)
    before = {t: digest(small / t) for t in done}
    (small / "one_group.csv").write_text("g,y\nA,1\nA,2\nA,3\n")
    config = read_config(small)
    config["datasets"]["one"] = {"path": "one_group.csv", "response": "y", "group": "g"}
    write_config(small, config)
    try:
        result = snakemake(small, "--cores", "2", "--keep-going", *fits("one"), *done, check=False)
    finally:
        config["datasets"].pop("one")
        write_config(small, config)
    assert result.returncode != 0
    log = (small / "logs/one/fit/partial_pooling.log").read_text().strip().splitlines()
    assert log[-1].startswith("ERROR: one_group.csv: only one group ('A'), so partial pooling")
    assert {t: digest(small / t) for t in done} == before


# Issue #12: the invariant the README's Reliability section states. A failing run never
# deletes or changes a finished output whose inputs did not change; a deleted output is
# rebuilt; a damaged one is named in one line and, once deleted, redone.

def snapshot(workdir):
    """(sha256, mtime) of every file under results/."""
    return {str(path.relative_to(workdir)): (digest(path), path.stat().st_mtime_ns)
            for path in sorted((workdir / "results").rglob("*")) if path.is_file()}


@pytest.fixture
def finished(shipped_run, tmp_path):
    """A private copy of the shipped run: results, Snakemake's records and mtimes."""
    workdir = tmp_path / "run"
    shutil.copytree(shipped_run, workdir, ignore=shutil.ignore_patterns("jax-cache"))
    return workdir


def changed(before, after):
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def test_deleted_outputs_are_rebuilt_and_nothing_else_changes(finished):
    fit = "results/eight_schools/fits/partial_pooling.nc"
    pointwise = "results/simulated/loo_pointwise.csv"
    original = posterior(finished, fit)
    before = snapshot(finished)
    (finished / fit).unlink()
    (finished / pointwise).unlink()
    planned = planned_outputs(snakemake(finished, "-n", "--cores", "2").stdout)
    assert {fit, pointwise} <= planned
    snakemake(finished, "--cores", "2")
    assert_identical(original, posterior(finished, fit))
    redone = changed(before, snapshot(finished))
    assert {fit, pointwise} <= redone
    # Only what depends on the deleted files was rewritten.
    assert all(p.startswith("results/eight_schools/") or p.startswith("results/simulated/") for p in redone)
    assert not any("/data/" in p or "/fits/" in p for p in redone - {fit})


def test_a_damaged_fit_is_named_before_any_job_and_redone_once_deleted(finished):
    fit = "results/eight_schools/fits/no_pooling.nc"
    original = posterior(finished, fit)
    with open(finished / fit, "r+b") as handle:  # a copy cut short
        handle.truncate((finished / fit).stat().st_size // 2)
    before = snapshot(finished)
    for _ in range(2):  # every run says the same, and touches nothing
        result = snakemake(finished, "--cores", "2", check=False)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1] == (
            f"Damaged result: {fit}: damaged or incomplete (NetCDF: HDF error); delete it and run "
            "snakemake again: that fit and what depends on it are redone, nothing else")
        assert snapshot(finished) == before
    (finished / fit).unlink()
    snakemake(finished, "--cores", "2")
    assert_identical(original, posterior(finished, fit))
    assert "Nothing to be done" in snakemake(finished, "-n", "--cores", "2").stdout


def test_a_failing_run_changes_no_output_whose_inputs_did_not_change(finished):
    before = snapshot(finished)
    (finished / "resources" / "seed.csv").write_text("y\n10\n12\nx\n")  # a data error
    result = snakemake(finished, "--cores", "2", check=False)
    assert result.returncode != 0
    log = (finished / "logs/seed/prepare_data.log").read_text().strip().splitlines()
    assert log[-1] == ("ERROR: resources/seed.csv: column 'y' (config `response`) has 1 non-numeric "
                       "value(s), first 'x' on line 4; fix or remove them")
    # Only the failed job's own output is gone: its input is what changed.
    assert changed(before, snapshot(finished)) == {"results/seed/data/prepared.csv"}
