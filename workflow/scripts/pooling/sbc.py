"""Simulation-based calibration (Talts et al. 2018) of each strategy's model and sampler.

Draw the parameters from the prior, simulate data on a fixed design, fit, and record
the rank of each true value among the posterior draws. If the model and the sampler
are right, every rank is uniform on 0..L (L kept draws); the ECDF of the ranks must
stay inside a simultaneous band (Säilynoja, Bürkner and Vehtari 2022).

Simulation i's truth and data depend only on (seed, i), so the ranks are the same
however the simulations are split into shards (Snakemake jobs).
"""

import logging
import math
import time

import jax
import numpy as np
import pandas as pd
from numpyro import handlers
from numpyro.diagnostics import effective_sample_size
from numpyro.infer.util import log_likelihood

from .batch import sample_many
from .models import strategy_model
from .priors import explicit_priors

log = logging.getLogger(__name__)
# The group-level quantities ranked per strategy, and the joint test quantity.
QUANTITIES = {
    "no_pooling": ("theta[0]", "sigma"),
    "complete_pooling": ("mu", "sigma"),
    "partial_pooling": ("mu", "tau", "sigma", "theta[0]"),
}
LOG_LIK = "log_lik"


def design(groups, group_size):
    """Row -> group index of the simulated design: `group_size` rows in each group."""
    return np.repeat(np.arange(groups, dtype=np.int32), group_size)


def draws_per_chain(settings):
    """Iterations kept per chain so that thinning by `thin` leaves `draws` in total."""
    return math.ceil(settings["draws"] * settings["thin"] / settings["chains"])


def _simulate(model, group, key):
    """The prior's latent values and a y drawn given them."""
    trace = handlers.trace(handlers.seed(model, key)).get_trace(group)
    truth = {name: site["value"] for name, site in trace.items()
             if site["type"] in ("sample", "deterministic") and name != "y"}
    return truth, np.asarray(trace["y"]["value"])


def _value(samples, quantity):
    """Draws (or a truth) of 'name' or 'name[k]'."""
    name, _, index = quantity.partition("[")
    values = np.asarray(samples[name])
    return values[..., int(index[:-1])] if index else values


def run(strategy, groups, group_size, priors, settings, simulations, seed, fit_priors=None):
    """Ranks of every quantity for the given simulation indices.

    `settings`: chains, warmup, draws (kept in total, after thinning), thin,
    target_accept, max_tree_depth, parameterization. `fit_priors` (default `priors`)
    are the priors the fits use: giving others makes a deliberately wrong model,
    which SBC must flag. Returns one row per simulation and quantity: rank (0..draws),
    draws, bulk ESS of the unthinned chains, divergences.
    """
    group = design(groups, group_size)
    parameterization = settings.get("parameterization", "noncentered")
    simulator = strategy_model(strategy, groups, explicit_priors(strategy, priors), parameterization)
    fitted = strategy_model(strategy, groups, explicit_priors(strategy, fit_priors or priors), parameterization)
    keys = [jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), i)) for i in simulations]
    truths, ys = zip(*(_simulate(simulator, group, key) for key, _ in keys))
    per_chain = draws_per_chain(settings)
    n = len(ys)
    args = (np.tile(group, (n, 1)), None, None, None)
    samples = sample_many(fitted, args, np.array(ys), {**settings, "draws": per_chain},
                          keys=np.stack([key for _, key in keys]))
    keep = slice(0, per_chain * settings["chains"], settings["thin"])
    rows = []
    for k, (i, truth, y) in enumerate(zip(simulations, truths, ys)):
        true_log_lik = log_likelihood(fitted, {p: v[None] for p, v in truth.items()},
                                      group, y=y)["y"].sum()
        values = {q: (_value(samples, q)[k], _value(truth, q)) for q in QUANTITIES[strategy]}
        values[LOG_LIK] = (samples[LOG_LIK][k].sum(-1), true_log_lik)
        for quantity, (draws, true) in values.items():
            kept = draws[keep][: settings["draws"]]
            chains = draws.reshape(settings["chains"], per_chain)
            rows.append({
                "simulation": i, "quantity": quantity, "rank": int((kept < true).sum()),
                "draws": len(kept), "ess_bulk": float(effective_sample_size(chains[..., None])[0]),
                "divergences": int(samples["diverging"][k]),
            })
    return pd.DataFrame(rows)


def run_shard(strategy, shard, sbc, out):
    """One Snakemake job's share of the simulations (every `shards`-th, starting at
    `shard`), written as a ranks CSV."""
    simulations = list(range(sbc["simulations"]))[shard::sbc["shards"]]
    start = time.perf_counter()
    ranks = run(strategy, sbc["groups"], sbc["group_size"], sbc["priors"], sbc["settings"],
                simulations, sbc["seed"])
    minutes = (time.perf_counter() - start) / 60
    log.info("%s shard %d: %d simulations in %.1f s (%.0f per minute, compilation included)",
             strategy, shard, len(simulations), 60 * minutes, len(simulations) / minutes)
    ranks.to_csv(out, index=False)
