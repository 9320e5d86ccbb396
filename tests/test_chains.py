"""The fit's NUTS driver (pooling.chains): data and priors are arguments of the one
compiled program, so new data of a shape already fitted compiles nothing."""

import logging
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from pooling.data import load_prepared, prepare
from pooling.fit import run_nuts

from helpers import fit_job_in_a_new_process

# an odd shape and odd lengths so that no other test compiled this program before
SETTINGS = dict(chains=2, warmup=151, draws=37, target_accept=0.8, seed=5, max_tree_depth=6)


def prepared(tmp_path, name, shift, scale):
    """Seven groups of three rows; `shift` and `scale` move the data-scaled priors."""
    rng = np.random.default_rng(len(name))
    groups = np.repeat(list("abcdefg"), 3)
    y = shift + scale * (rng.normal(size=groups.size) + np.repeat(rng.normal(size=7), 3))
    source = tmp_path / f"{name}.csv"
    source.write_text("g,y\n" + "".join(f"{g},{v}\n" for g, v in zip(groups, y)))
    path = tmp_path / f"{name}-prepared.csv"
    prepare(str(source), "y", group="g").to_csv(path, index=False)
    return load_prepared(path)


@pytest.fixture
def cache_events():
    """Count JAX's persistent-cache hits and misses (the suite runs with the cache on)."""
    counts = {"hits": 0, "misses": 0}

    def listen(event, **_):
        for name in counts:
            if event == f"/jax/compilation_cache/cache_{name}":
                counts[name] += 1

    jax.monitoring.register_event_listener(listen)
    yield counts
    jax.monitoring.unregister_event_listener(listen)


def test_new_data_of_a_fitted_shape_compiles_nothing(tmp_path, cache_events):
    first = prepared(tmp_path, "first", 0.0, 1.0)
    second = prepared(tmp_path, "second-dataset", 30.0, 2.0)
    draws = run_nuts(first, "partial_pooling", SETTINGS)[0].get_samples()
    assert cache_events["misses"] >= 1  # the sampling program, compiled for this shape
    cache_events.update(hits=0, misses=0)
    other = run_nuts(second, "partial_pooling", SETTINGS)[0].get_samples()
    assert cache_events == {"hits": cache_events["hits"], "misses": 0}
    assert cache_events["hits"] >= 1
    # other data and priors, really: the second posterior sits near its own data
    assert abs(np.mean(draws["mu"])) < 5 and 20 < np.mean(other["mu"]) < 40
    again = run_nuts(first, "partial_pooling", SETTINGS)[0].get_samples()
    assert all(np.array_equal(draws[name], again[name]) for name in draws)  # bit for bit


def test_more_chains_than_devices_run_one_after_another(tmp_path, caplog):
    data = prepared(tmp_path, "first", 0.0, 1.0)
    chains = jax.local_device_count() + 1
    with caplog.at_level(logging.WARNING, logger="pooling.chains"):
        mcmc = run_nuts(data, "partial_pooling", {**SETTINGS, "chains": chains})[0]
    assert caplog.messages == [f"{chains} chains on {chains - 1} JAX devices: running them one after another"]
    tau = mcmc.get_samples(group_by_chain=True)["tau"]
    assert tau.shape == (chains, SETTINGS["draws"]) and np.all(tau > 0)
    assert not np.array_equal(tau[0], tau[1])  # each chain its own key
    assert mcmc.get_extra_fields()["diverging"].shape == (chains * SETTINGS["draws"],)


def hash_seeds_that_order_a_set_differently(names):
    """Two PYTHONHASHSEED values under which Python iterates the set `names` in different
    orders (numpyro flattens a distribution's parameters in such an order)."""
    orders = {}
    for seed in range(64):
        order = subprocess.run([sys.executable, "-c", f"print(tuple(set({names!r})))"], capture_output=True,
                               text=True, check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
        orders.setdefault(order, seed)
        if len(orders) == 2:
            return list(orders.values())
    raise AssertionError(f"no two hash seeds order {names} differently")


def test_a_fit_in_another_process_compiles_nothing(tmp_path):
    """Every program a fit job runs (sampling, prior and posterior predictive draws,
    log-likelihood, new-level draws) is the same program in a process with another hash
    seed; a Normal prior's loc and scale, flattened by numpyro, once came in either
    order and missed the cache one time in two."""
    prepared(tmp_path, "first", 0.0, 1.0)
    environment = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", "XLA_FLAGS")}
    misses = [fit_job_in_a_new_process(tmp_path / "first-prepared.csv", tmp_path / f"fit{seed}.nc", tmp_path / "cache",
                                       {**environment, "PYTHONHASHSEED": str(seed)})["misses"]
              for seed in hash_seeds_that_order_a_set_differently(("loc", "scale"))]
    assert misses[0] >= 1 and misses[1] == 0
