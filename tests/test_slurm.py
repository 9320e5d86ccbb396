"""The shipped workflow through the SLURM profile on a real slurmctld (.ci/slurm-up
starts a single-node cluster): every fit is a SLURM job, and the draws equal a local run's.
One shipped dataset, eight schools, keeps the suite within its time budget (the node has
2 CPUs, so its fits run one at a time); the executor path is the same for every dataset."""

import re
import shutil

import arviz as az
import numpy as np
import pytest

from conftest import small_copy
from helpers import read_config, snakemake, write_config

pytestmark = [
    pytest.mark.skipif(
        shutil.which("sbatch") is None,
        reason="no sbatch on this machine: SLURM not installed (.ci/run installs it and starts a cluster)",
    ),
    # on the shared run's worker: two of the tests compare with it, and the SLURM run
    # (a module fixture) must not be made once per worker
    pytest.mark.xdist_group("shipped_run"),
]
STRATEGIES = ("no_pooling", "complete_pooling", "partial_pooling")
DATASET = "eight_schools"
# Without an accounting daemon the plugin must use squeue and submit without an account;
# quick status polling keeps the test short.
CLUSTER_FLAGS = ("--slurm-status-command", "squeue", "--slurm-no-account",
                 "--slurm-keep-successful-logs", "--slurm-init-seconds-before-status-checks", "1",
                 "--seconds-between-status-checks", "2")


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    workdir = small_copy(tmp_path_factory.mktemp("slurm"))
    config = read_config(workdir)
    config["datasets"] = {DATASET: config["datasets"][DATASET]}
    write_config(workdir, config)
    result = snakemake(workdir, "--workflow-profile", "profiles/slurm", *CLUSTER_FLAGS)
    return workdir, result.stdout + result.stderr


def test_every_fit_ran_as_a_slurm_job(slurm_run):
    workdir, output = slurm_run
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", output))
    for strategy in STRATEGIES:
        logs = list((workdir / ".snakemake/slurm_logs/rule_fit").glob(f"*{DATASET}*{strategy}*/*.log"))
        assert len(logs) == 1, (strategy, logs)
        slurm_id = logs[0].stem
        assert slurm_id.isdigit() and slurm_id in submitted.values()
    # every job but `all`: prepare_data, the three fits, diagnose, compare
    assert len(submitted) == 6


def test_outputs_are_complete(slurm_run, shipped_run):
    workdir, _ = slurm_run

    def files(run):
        """The default target's outputs: `paper/` is its own target, which test_paper may
        have built in the shared run while this module ran."""
        return sorted(p.relative_to(run) for p in (run / "results" / DATASET).rglob("*")
                      if p.is_file() and p.suffix in (".nc", ".csv", ".png", ".json")
                      and "paper" not in p.relative_to(run).parts)

    assert files(workdir) == files(shipped_run) and len(files(workdir)) >= 15
    assert not (workdir / "results" / "seed").exists()


def test_draws_are_bit_for_bit_those_of_a_local_run(slurm_run, shipped_run):
    workdir, _ = slurm_run
    for strategy in STRATEGIES:
        path = f"results/{DATASET}/fits/{strategy}.nc"
        remote, local = az.from_netcdf(workdir / path), az.from_netcdf(shipped_run / path)
        for name in local.posterior.data_vars:
            np.testing.assert_array_equal(remote.posterior[name].values,
                                          local.posterior[name].values, err_msg=f"{path}: {name}")
