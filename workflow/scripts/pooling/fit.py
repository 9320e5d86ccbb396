"""Run NUTS for one strategy and write an ArviZ InferenceData NetCDF that can be
traced back to its config, data and software."""

import json
import logging
import os
import platform
from importlib.metadata import version

import arviz as az
import jax
import numpy as np
from numpyro.infer import MCMC, NUTS, Predictive

from .data import load_prepared, sha256
from .errors import DataError
from .models import strategy_model
from .priors import resolve_priors, scale_warning

log = logging.getLogger(__name__)
PACKAGES = ("jax", "jaxlib", "numpyro", "arviz", "numpy", "xarray", "pandas")
EXTRA_FIELDS = ("diverging", "energy", "num_steps", "accept_prob", "adapt_state.step_size")
DIMS = {
    "theta": ["group"], "theta_z": ["group"], "beta": ["predictor"],
    "gamma": ["group_predictor"], "y": ["obs"],
    "group_index": ["obs"], "group_size": ["group"], "se": ["obs"], "X": ["obs", "predictor"],
    "U": ["group", "group_predictor"],
}


def model_arrays(data, strategy):
    """Arrays in the order the models take them: group, se, X, U (float32, as JAX
    samples). No pooling gets no U: group-level predictors are not identifiable there."""
    as32 = lambda a: None if a is None else np.asarray(a, dtype=np.float32)
    U = None if strategy == "no_pooling" else as32(data.U)
    return data.group, as32(data.se), as32(data.X), U


def run_nuts(data, strategy, settings, priors=None):
    """NUTS draws for `strategy` on prepared `data`, without predictive draws or
    InferenceData. `priors` ({name: (Prior, source)}) default to those the settings
    resolve to on `data`. Returns the numpyro MCMC, the model with its arguments, and
    the priors."""
    if priors is None:
        priors = resolve_priors(strategy, settings.get("priors", {}), data)
    warning = scale_warning(data, priors)
    if warning:
        log.warning(warning)
    model = strategy_model(strategy, data.n_groups, priors, settings.get("parameterization", "noncentered"))
    args = model_arrays(data, strategy)
    mcmc = MCMC(
        NUTS(model, target_accept_prob=settings["target_accept"],
             max_tree_depth=settings["max_tree_depth"]),
        num_warmup=settings["warmup"],
        num_samples=settings["draws"],
        num_chains=settings["chains"],
        chain_method="parallel",
        progress_bar=False,
    )
    mcmc.run(_keys(settings["seed"])[0], *args, y=np.asarray(data.y, dtype=np.float32),
             extra_fields=EXTRA_FIELDS)
    return mcmc, model, args, priors


def _keys(seed):
    """PRNG keys for NUTS, the prior draws and the posterior predictive draws."""
    return jax.random.split(jax.random.PRNGKey(seed), 3)


def sample(data, strategy, settings):
    """NUTS for `strategy` on prepared `data`; returns InferenceData with every group
    LOO and the figures need, and the resolved priors as {name: (Prior, source)}."""
    mcmc, model, args, priors = run_nuts(data, strategy, settings)
    _, key_prior, key_ppc = _keys(settings["seed"])
    posterior_predictive = Predictive(model, mcmc.get_samples(), return_sites=["y"])(key_ppc, *args)
    prior = Predictive(model, num_samples=settings["draws"])(key_prior, *args)

    group, se, X, U = args
    constant_data = {"group_index": group, "group_size": data.group_sizes, "se": se, "X": X, "U": U}
    coords = {
        "group": data.group_labels, "obs": np.arange(len(data.y)),
        "predictor": data.predictor_names, "group_predictor": data.group_predictor_names,
    }
    idata = az.from_numpyro(
        mcmc, prior=prior, posterior_predictive=posterior_predictive,
        constant_data={k: v for k, v in constant_data.items() if v is not None},
        coords=coords, dims=DIMS,
    )
    return idata, priors


def provenance(dataset, strategy, settings, columns, priors, source_csv, prepared_csv):
    """NetCDF attrs: enough to rebuild the fit (config, data hashes, versions, seed);
    pooling.reproduce.refit does so from them alone."""
    return {
        "workflow": "hierarchical-pooling",
        "dataset": dataset,
        "strategy": strategy,
        "seed": int(settings["seed"]),
        "fit_config": json.dumps(settings, sort_keys=True),
        "data_columns": json.dumps(columns, sort_keys=True),
        "priors": json.dumps({name: str(prior) for name, (prior, _) in priors.items()}),
        "prior_sources": json.dumps({name: source for name, (_, source) in priors.items()}),
        "source_csv": str(source_csv),
        "data_sha256": sha256(source_csv),
        "prepared_sha256": sha256(prepared_csv),
        "package_versions": json.dumps(
            {"python": platform.python_version(), **{p: version(p) for p in PACKAGES}}
        ),
    }


def write_netcdf(idata, path):
    """Write under a temporary name, then rename: a killed job never leaves a file
    that looks complete."""
    partial = f"{path}.partial"
    idata.to_netcdf(partial)
    os.replace(partial, path)


def fit_to_netcdf(prepared_csv, source_csv, out, dataset, strategy, settings, columns):
    data = load_prepared(prepared_csv)
    if strategy == "partial_pooling" and data.n_groups < 2:
        raise DataError(
            f"{source_csv}: only one group ({data.group_labels[0]!r}), so partial pooling cannot "
            f"estimate how much groups differ (tau); set `strategies` for dataset {dataset!r} "
            f"to no_pooling and/or complete_pooling, or configure a `group` column with "
            f"several groups"
        )
    log.info("%s / %s: %d rows, %d groups, settings %s",
             dataset, strategy, len(data.y), data.n_groups, json.dumps(settings, sort_keys=True))
    idata, priors = sample(data, strategy, settings)
    for name, (prior, source) in priors.items():
        log.info("prior %s ~ %s (%s)", name, prior, source)
    idata.attrs = provenance(dataset, strategy, settings, columns, priors, source_csv, prepared_csv)
    write_netcdf(idata, out)
    log.info("wrote %s", out)
