"""What a fit job asks its scheduler for, from its data size and sampler settings.

Too little memory or time and SLURM kills the job; too much and it waits in the queue.
The figures are fitted to measured jobs (bench/scaling.csv, 2 cores: peak RSS and wall
time from 10^3 to 10^6 rows) and checked against them by tests/test_resources.py.
"""

import math
from dataclasses import dataclass

PROCESS_MB = 1000  # Python, JAX, XLA and ArviZ before any data
BYTES_PER_STORED_VALUE = 40  # a row x draw value through sampling, InferenceData and NetCDF
BYTES_PER_GROUP_ITERATION = 2  # per-group statistics and draws, per chain and iteration
FIXED_SECONDS = 30  # import and compilation
SECONDS_PER_GROUP_ITERATION = 1e-6  # a gradient is O(groups); the tree depth varies
SECONDS_PER_STORED_VALUE = 5e-7  # pointwise log-likelihood, predictive draws, writing
MIN_MINUTES = 5
CHUNKED_LOO_PROCESSES = 4


@dataclass(frozen=True)
class FitSize:
    """A fit's data size and the settings that decide how much it computes and stores."""

    rows: int
    groups: int
    chains: int
    warmup: int
    draws: int
    pointwise_max_rows: int
    predictive_draws: int

    @property
    def stored_values(self):
        """Row x draw values kept: every draw up to pointwise_max_rows rows, else only
        the thinned predictive draws (no log-likelihood)."""
        if self.rows <= self.pointwise_max_rows:
            return self.rows * self.chains * self.draws
        return self.rows * self.predictive_draws

    @property
    def group_iterations(self):
        return self.chains * (self.warmup + self.draws) * self.groups


def memory_mb(size):
    """Memory to request, in MB."""
    variable = BYTES_PER_STORED_VALUE * size.stored_values + BYTES_PER_GROUP_ITERATION * size.group_iterations
    return PROCESS_MB + math.ceil(variable / 1e6)


def _sampling_and_storage_seconds(size):
    """The part of a fit's expected time that grows with its data and settings."""
    return (SECONDS_PER_GROUP_ITERATION * size.group_iterations
            + SECONDS_PER_STORED_VALUE * size.stored_values)


def runtime_minutes(size):
    """Wall time to request: twice the expected time, and at least MIN_MINUTES."""
    seconds = FIXED_SECONDS + _sampling_and_storage_seconds(size)
    return max(MIN_MINUTES, math.ceil(2 * seconds / 60))


def fit_threads(size):
    """Threads (cores) for a fit job: its `chains`, or half of them for a fit whose
    fixed part (import and compile) the model above expects to outlast the rest.

    The chains run in parallel, one XLA host device each, but only while sampling;
    importing, tracing, compiling and writing run on one core. Alone on 2 cores, a
    shipped fit job (4 chains) kept 1.1-1.6 cores busy on average, so reserving all
    four ran the DAG's fits one at a time with cores idle. Asking for half lets twice as
    many run at once. Fits whose sampling and storage dominate keep all their chains'
    cores. The device count does not depend on threads, so the draws do not either.
    """
    if _sampling_and_storage_seconds(size) >= FIXED_SECONDS:
        return size.chains
    return math.ceil(size.chains / 2)


def compare_processes(rows, pointwise_max_rows):
    """Processes for the compare job: the chunked PSIS-LOO of a fit that stores no
    pointwise log-likelihood runs in several (Snakemake caps them at --cores)."""
    return CHUNKED_LOO_PROCESSES if rows > pointwise_max_rows else 1
