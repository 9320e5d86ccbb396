"""Simulation-based calibration (Talts et al. 2018) of each strategy's model and sampler.

Draw the parameters from the prior, simulate data on a fixed design (pooling.sbcdesign:
one varying intercept, or any formula's factors, varying slopes and predictors), fit,
and record the rank of each true value among the posterior draws, under any likelihood
family (pooling.families; the design then carries binomial trials or a count's exposure).
If the model and the sampler are right, every rank is uniform on 0..L (L kept
draws); the ECDF of the ranks must stay inside a simultaneous band (Säilynoja,
Bürkner and Vehtari 2022).

Simulation i's truth and data depend only on (seed, i), so the ranks are the same
however the simulations are split into shards (Snakemake jobs).
"""

import itertools
import logging
import math
import time

import jax
import numpy as np
import pandas as pd
from numpyro import handlers
from numpyro.diagnostics import effective_sample_size
from numpyro.infer.util import log_likelihood

from . import strategies
from .batch import sample_many
from .data import for_strategy
from .fit import model_data, structure
from .models import strategy_model
from .priors import COEFFICIENTS, explicit_priors, prior_keys, root_of
from .sbcdesign import design

log = logging.getLogger(__name__)
LOG_LIK = "log_lik"  # the joint test quantity, ranked for every strategy and family


def quantities(strategy, family="gaussian", data=None):
    """The quantities ranked besides the log-likelihood: every parameter the strategy
    samples under `family` for the design `data` (a pooling.data.Prepared; None: one
    varying intercept without predictors), a coefficient per column (beta[0]), a
    correlation matrix by its elements above the diagonal (corr[0,1]) and the cells'
    coefficients by the first cell's (theta[0], slope[0,0]); then, where theta and
    slope are derived from the population and the group-level effects, the first
    cell's too, so that the group level is tested. Complete pooling's theta is mu
    itself."""
    fitted = None if data is None else for_strategy(data, strategy)
    factors, slopes = (fitted.factors, fitted.slope_names) if fitted else ((), ())
    terms = {factor.name_of("corr"): len(factor.terms) for factor in factors}
    cell = {"theta": ["theta[0]"], "slope": [f"slope[0,{k}]" for k in range(len(slopes))]}
    names = []
    for name, keys in itertools.groupby(prior_keys(strategy, data, family), key=lambda pair: pair[0]):
        if name in cell:
            names += cell[name]
        elif name in terms:
            names += [f"{name}[{i},{j}]" for i, j in itertools.combinations(range(terms[name]), 2)]
        elif root_of(name) in COEFFICIENTS:
            names += [f"{name}[{k}]" for k in range(len(list(keys)))]
        else:
            names.append(name)
    if strategies.named(strategy).estimates_tau:
        names += cell["theta"] + cell["slope"]
    return tuple(names)


def draws_per_chain(settings):
    """Iterations kept per chain so that thinning by `thin` leaves `draws` in total."""
    return math.ceil(settings["draws"] * settings["thin"] / settings["chains"])


def _simulate(model, data, keys):
    """For each key, the prior's latent values and a y drawn given them: ({site: (S,
    ...)}, (S, N)), in one compiled program (op by op, ~90 ms a simulation)."""
    def one(key):
        trace = handlers.trace(handlers.seed(model, key)).get_trace(data)
        truth = {name: site["value"] for name, site in trace.items()
                 if site["type"] in ("sample", "deterministic") and name != "y"}
        return truth, trace["y"]["value"]

    truths, ys = jax.jit(jax.vmap(one))(keys)
    return jax.device_get(truths), np.asarray(ys)


def _log_lik(model, data, truths, ys):
    """Each simulation's log-likelihood at its truth: (S,)."""
    def one(truth, y):
        return log_likelihood(model, jax.tree.map(lambda v: v[None], truth), data, y=y)["y"].sum()

    return np.asarray(jax.jit(jax.vmap(one))(truths, ys))


def _value(samples, quantity):
    """Draws (or a truth) of 'name' or 'name[i,...]'."""
    name, _, index = quantity.partition("[")
    values = np.asarray(samples[name])
    return values[(..., *map(int, index[:-1].split(",")))] if index else values


def _model(strategy, data, priors, parameterization, family):
    """The simulating or the fitted model of the design `data`: the same but for the
    priors."""
    fitted = for_strategy(data, strategy)
    return strategy_model(strategy, fitted.n_groups, explicit_priors(strategy, priors, family=family, data=fitted),
                          parameterization, family, **structure(fitted))


def run(strategy, groups, group_size, priors, settings, simulations, seed, fit_priors=None,
        family="gaussian", trials=None, exposure=None, formula=None):
    """Ranks of every quantity for the given simulation indices.

    `settings`: chains, warmup, draws (kept in total, after thinning), thin,
    target_accept, max_tree_depth, parameterization. `fit_priors` (default `priors`)
    are the priors the fits use: giving others makes a deliberately wrong model,
    which SBC must flag. `groups`, `family`, `trials`, `exposure` and `formula` as in
    pooling.sbcdesign.design, whose predictors `seed` draws too. Returns one row per
    simulation and quantity: rank (0..draws), draws, bulk ESS of the unthinned
    chains, divergences.
    """
    prepared = design(groups, group_size, family, trials, exposure, formula, seed)
    data = model_data(prepared, strategy)
    parameterization = settings.get("parameterization", "noncentered")
    simulator = _model(strategy, prepared, priors, parameterization, family)
    fitted = _model(strategy, prepared, fit_priors or priors, parameterization, family)
    keys = np.asarray(jax.vmap(lambda i: jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), i)))(
        np.asarray(simulations, dtype=np.uint32)))
    truths, ys = _simulate(simulator, data, keys[:, 0])
    true_log_lik = _log_lik(fitted, data, truths, ys)
    per_chain = draws_per_chain(settings)
    batch = jax.tree.map(lambda a: np.stack([a] * len(ys)), data)
    samples = sample_many(fitted, (batch,), ys, {**settings, "draws": per_chain}, keys=keys[:, 1])
    keep = slice(0, per_chain * settings["chains"], settings["thin"])
    ranked = quantities(strategy, family, prepared)
    values = {q: (_value(samples, q), _value(truths, q)) for q in ranked}
    values[LOG_LIK] = (samples[LOG_LIK].sum(-1), true_log_lik)
    rows = []
    for k, i in enumerate(simulations):
        for quantity, (all_draws, all_true) in values.items():
            draws, true = all_draws[k], all_true[k]
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
                exposure=sbc.get("exposure"), formula=sbc.get("formula"))
    minutes = (time.perf_counter() - start) / 60
    log.info("%s shard %d: %d simulations in %.1f s (%.0f per minute, compilation included)",
             strategy, shard, len(simulations), 60 * minutes, len(simulations) / minutes)
    ranks.to_csv(out, index=False)
