"""Simulation-based calibration (Talts et al. 2018) of each strategy's model and sampler.

Draw the parameters from the prior, simulate data on a fixed design, fit, and record
the rank of each true value among the posterior draws, under any likelihood family
(pooling.families; the design then carries binomial trials or a count's exposure).
If the model and the sampler are right, every rank is uniform on 0..L (L kept
draws); the ECDF of the ranks must stay inside a simultaneous band (Säilynoja,
Bürkner and Vehtari 2022).

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

from . import families, strategies
from .batch import sample_many
from .models import ModelData, strategy_model
from .priors import COEFFICIENTS, explicit_priors, sampled
from .simulate import check_design

log = logging.getLogger(__name__)
LOG_LIK = "log_lik"  # the joint test quantity, ranked for every strategy and family


def quantities(strategy, family="gaussian"):
    """The parameters ranked besides the log-likelihood: what the strategy samples
    under `family` (group 0 standing for theta; the design has no predictors), then
    theta[0] where it is derived from mu and tau, so that the group level is tested
    too. Complete pooling's theta is mu itself."""
    names = ["theta[0]" if p == "theta" else p for p in sampled(strategy, family) if p not in COEFFICIENTS]
    if strategies.named(strategy).estimates_tau:
        names.append("theta[0]")
    return tuple(names)


def design(groups, group_size, family="gaussian", trials=None, exposure=None):
    """The simulated design: `group_size` rows in each group, `trials` per row for
    binomial data (bernoulli's one trial is implied), an optional `exposure` per row
    for counts (entering as its log, an offset). Trials are int64, numpyro's binomial
    sampler's integer type under float64."""
    check_design(families.named(family, "sbc.family"), trials, exposure, "sbc")
    group = np.repeat(np.arange(groups, dtype=np.int32), group_size)
    return ModelData(
        group=group,
        trials=None if trials is None else np.full(group.shape, trials, dtype=np.int64),
        offset=None if exposure is None else np.full(group.shape, math.log(exposure)),
    )


def draws_per_chain(settings):
    """Iterations kept per chain so that thinning by `thin` leaves `draws` in total."""
    return math.ceil(settings["draws"] * settings["thin"] / settings["chains"])


def _simulate(model, data, key):
    """The prior's latent values and a y drawn given them."""
    trace = handlers.trace(handlers.seed(model, key)).get_trace(data)
    truth = {name: site["value"] for name, site in trace.items()
             if site["type"] in ("sample", "deterministic") and name != "y"}
    return truth, np.asarray(trace["y"]["value"])


def _value(samples, quantity):
    """Draws (or a truth) of 'name' or 'name[k]'."""
    name, _, index = quantity.partition("[")
    values = np.asarray(samples[name])
    return values[..., int(index[:-1])] if index else values


def _model(strategy, groups, priors, parameterization, family):
    """The simulating or the fitted model: the same but for the priors."""
    return strategy_model(strategy, groups, explicit_priors(strategy, priors, family=family),
                          parameterization, family)


def run(strategy, groups, group_size, priors, settings, simulations, seed, fit_priors=None,
        family="gaussian", trials=None, exposure=None):
    """Ranks of every quantity for the given simulation indices.

    `settings`: chains, warmup, draws (kept in total, after thinning), thin,
    target_accept, max_tree_depth, parameterization. `fit_priors` (default `priors`)
    are the priors the fits use: giving others makes a deliberately wrong model,
    which SBC must flag. `family`, `trials` and `exposure` as in `design`. Returns
    one row per simulation and quantity: rank (0..draws), draws, bulk ESS of the
    unthinned chains, divergences.
    """
    data = design(groups, group_size, family, trials, exposure)
    parameterization = settings.get("parameterization", "noncentered")
    simulator = _model(strategy, groups, priors, parameterization, family)
    fitted = _model(strategy, groups, fit_priors or priors, parameterization, family)
    keys = [jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), i)) for i in simulations]
    truths, ys = zip(*(_simulate(simulator, data, key) for key, _ in keys))
    per_chain = draws_per_chain(settings)
    n = len(ys)
    batch = jax.tree.map(lambda a: np.stack([a] * n), data)
    samples = sample_many(fitted, (batch,), np.array(ys), {**settings, "draws": per_chain},
                          keys=np.stack([key for _, key in keys]))
    keep = slice(0, per_chain * settings["chains"], settings["thin"])
    rows = []
    for k, (i, truth, y) in enumerate(zip(simulations, truths, ys)):
        true_log_lik = log_likelihood(fitted, {p: v[None] for p, v in truth.items()},
                                      data, y=y)["y"].sum()
        values = {q: (_value(samples, q)[k], _value(truth, q)) for q in quantities(strategy, family)}
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
                simulations, sbc["seed"], family=sbc["family"], trials=sbc.get("trials"),
                exposure=sbc.get("exposure"))
    minutes = (time.perf_counter() - start) / 60
    log.info("%s shard %d: %d simulations in %.1f s (%.0f per minute, compilation included)",
             strategy, shard, len(simulations), 60 * minutes, len(simulations) / minutes)
    ranks.to_csv(out, index=False)
