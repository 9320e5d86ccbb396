"""A fit job's memory and time requests cover what the measured jobs used
(bench/scaling.csv: the fit job's peak RSS and wall time, 2 cores, 4 chains x 1000 +
1000, the shipped storage defaults) without asking for much more."""

import csv

import pytest

from pooling.resources import FitSize, compare_processes, fit_threads, memory_mb, runtime_minutes

from conftest import ROOT

with open(ROOT / "bench" / "scaling.csv") as handle:
    MEASURED = [row for row in csv.DictReader(handle) if row["fit_s"]]


def bench_size(row):
    return FitSize(rows=int(row["rows"]), groups=int(row["groups"]), chains=4, warmup=1000,
                   draws=1000, pointwise_max_rows=20000, predictive_draws=100)


@pytest.mark.parametrize("row", MEASURED, ids=lambda row: f"{row['rows']}x{row['groups']}")
def test_requests_cover_each_measured_fit_job(row):
    size = bench_size(row)
    peak, seconds = float(row["fit_peak_rss_mb"]), float(row["fit_s"])
    assert peak <= memory_mb(size) <= 2 * peak
    assert seconds <= 60 * runtime_minutes(size)


def test_storage_above_the_row_limit_keeps_the_thinned_draws_only():
    small = FitSize(rows=20000, groups=100, chains=4, warmup=1000, draws=1000,
                    pointwise_max_rows=20000, predictive_draws=100)
    large = FitSize(**{**small.__dict__, "rows": 20001})
    assert small.stored_values == 20000 * 4000
    assert large.stored_values == 20001 * 100
    assert memory_mb(large) < memory_mb(small)


def test_small_fits_ask_for_the_floor_and_large_loo_for_several_processes():
    size = FitSize(rows=8, groups=8, chains=4, warmup=1000, draws=1000,
                   pointwise_max_rows=20000, predictive_draws=100)
    assert runtime_minutes(size) == 5
    assert memory_mb(size) == 1002
    assert compare_processes(20000, 20000) == 1
    assert compare_processes(20001, 20000) == 4


@pytest.mark.parametrize("rows, groups, chains, threads", [
    (180, 18, 4, 2),  # sleepstudy: import and compile outlast sampling and writing
    (919, 85, 4, 2),  # radon, Minnesota
    (180, 18, 3, 2),
    (180, 18, 2, 1),
    (180, 18, 1, 1),
    (20000, 1000, 4, 4),  # 80 million stored values: ~40 s of them
    (10**6, 10**4, 4, 4),  # 8 x 10^7 group iterations
])
def test_fits_reserve_every_chains_core_only_where_sampling_and_storage_outlast_import(
        rows, groups, chains, threads):
    size = FitSize(rows=rows, groups=groups, chains=chains, warmup=1000, draws=1000,
                   pointwise_max_rows=20000, predictive_draws=100)
    assert fit_threads(size) == threads
