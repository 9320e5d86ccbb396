"""Run NUTS for one strategy and write an ArviZ InferenceData NetCDF that can be
traced back to its config, data and software."""

import json
import logging
import os
import platform
from importlib.metadata import version

import jax
import numpy as np
import xarray as xr
from numpyro.infer import Predictive, log_likelihood

from . import families, hierarchy, idata, strategies
from .chains import run_chains
from .data import for_strategy, load_prepared, sha256
from .errors import DataError
from .models import ModelData, strategy_model, traced_priors, with_priors
from .priors import resolve_priors, scale_warning
from .sufficient import sufficient_stats

log = logging.getLogger(__name__)
PACKAGES = ("jax", "jaxlib", "numpyro", "arviz", "numpy", "xarray", "pandas")
EXTRA_FIELDS = ("diverging", "energy", "num_steps", "accept_prob", "adapt_state.step_size")
# draws are computed in float64 and stored in float32 (7 significant digits), as
# numpyro's default would: half the NetCDF
STORED_FLOAT32 = ("posterior", "prior", "posterior_predictive", "prior_predictive", "log_likelihood")
DIMS = {
    "theta": ["group"], "theta_z": ["group"], "beta": ["predictor"],
    "gamma": ["group_predictor"], "y": ["obs"],
    "group_index": ["obs"], "group_size": ["group"], "se": ["obs"], "X": ["obs", "predictor"],
    "U": ["group", "group_predictor"], "trials": ["obs"], "offset": ["obs"], "Z": ["obs", "varying"],
}


# numpyro's binomial sampler indexes tables by the trials: JAX's own integer type
# (int64 with x64, as fit jobs run, else int32)
INTEGER = jax.dtypes.canonicalize_dtype(np.int64)


def model_data(data, strategy):
    """The ModelData of prepared `data`, as `strategy` fits it (for_strategy), in row form."""
    data = for_strategy(data, strategy)
    return ModelData(group=data.group, X=data.X, U=data.U, offset=data.offset, se=data.se, Z=data.Z,
                     trials=None if data.trials is None else data.trials.astype(INTEGER))


def sampled_form(data, rows, family):
    """(ModelData, y) that NUTS samples: per-group sufficient statistics wherever they
    are exact for the family (then only U stays), the rows with their statistics
    (negative binomial), else the rows themselves."""
    stats = sufficient_stats(family, data)
    if stats is None:
        return rows, data.y
    return (rows if stats.per_row else ModelData(U=rows.U)), stats


def structure(data):
    """The group structure arguments of strategy_model for prepared `data`."""
    common = {name: k for k, name in enumerate(data.predictor_names)}
    return dict(factors=data.factors, slopes=data.slope_names,
                slope_common=tuple(common.get(name, -1) for name in data.slope_names))


def run_nuts(data, strategy, settings, priors=None):
    """NUTS draws for `strategy` on prepared `data`, sampled on the per-group
    sufficient statistics where exact, without predictive draws or InferenceData.
    `priors` ({name: (Prior, source)}) default to those the settings resolve to on
    `data`. Returns the draws (a pooling.chains.Chains, read like numpyro's MCMC), the
    model with its row-form ModelData, the priors, and the data as the strategy fits
    them (for_strategy)."""
    family = families.named(settings.get("family", "gaussian"))
    data = for_strategy(data, strategy)
    if priors is None:
        priors = resolve_priors(strategy, settings.get("priors", {}), data, family.name)
    warning = scale_warning(data, priors, family.name)
    if warning:
        log.warning(warning)
    model = strategy_model(strategy, data.n_groups, priors,
                           settings.get("parameterization", "noncentered"), family.name, **structure(data))
    rows = model_data(data, strategy)
    inputs, y = sampled_form(data, rows, family)
    mcmc = run_chains(model, inputs, y, settings, _keys(settings["seed"])[0], EXTRA_FIELDS)
    return mcmc, model, rows, priors, data


def _keys(seed):
    """PRNG keys for NUTS, the prior draws and the posterior predictive draws."""
    return jax.random.split(jax.random.PRNGKey(seed), 3)


def thinned_draws(draws, chains, keep):
    """Every k-th draw index of each chain, so that about `keep` remain over all chains."""
    return np.arange(0, draws, max(1, -(-draws * chains // keep)))


def sample_groups(data, strategy, settings, storage=None):
    """NUTS for `strategy` on prepared `data`, without importing ArviZ (pooling.idata):
    the InferenceData groups {name: xr.Dataset} with every group LOO and the figures
    need, the InferenceData's attrs, and the resolved priors as {name: (Prior, source)}."""
    mcmc, model, rows, priors, fitted = run_nuts(data, strategy, settings)
    groups, attrs = inference_groups(mcmc, model, rows, fitted, settings, storage)
    if strategies.named(strategy).estimates_tau:
        groups.update(new_level_predictions(mcmc, fitted, settings))
    return groups, attrs, priors


def sample(data, strategy, settings, storage=None):
    """sample_groups as az.InferenceData, with the resolved priors."""
    groups, attrs, priors = sample_groups(data, strategy, settings, storage)
    return idata.as_inference_data(groups, attrs), priors


def new_level_predictions(mcmc, data, settings):
    """The `predictions` group: theta, slopes and a new observation `y` at one new level
    of each grouping factor (pooling.newgroup), over dim `new_level` (factor names),
    with the typical row they assume as `predictions_constant_data`."""
    from . import newgroup

    family = families.named(settings.get("family", "gaussian"))
    key = jax.random.fold_in(jax.random.PRNGKey(settings["seed"]), newgroup.SEED_STREAM)
    predicted, row = newgroup.new_level_predictions(mcmc.get_samples(), data, family, settings["seed"], key)
    shape = (settings["chains"], settings["draws"])
    predictions = idata.group(
        {name: np.asarray(v, dtype=np.float32).reshape(*shape, *v.shape[1:]) for name, v in predicted.items()},
        coords={"new_level": newgroup.factor_names(data), "varying": list(data.slope_names)},
        dims={"theta": ["new_level"], "y": ["new_level"], "slope": ["new_level", "varying"]},
    )
    columns = {"X": ("predictor", data.predictor_names), "U": ("group_predictor", data.group_predictor_names),
               "Z": ("varying", list(data.slope_names))}
    row = {name: ((columns[name][0],), v) if name in columns else ((), v) for name, v in row.items() if v is not None}
    return {"predictions": predictions, "predictions_constant_data": xr.Dataset(
        row, coords={dim: labels for dim, labels in columns.values() if labels})}


# numpyro's extra fields under the names az.from_numpyro gives them
SAMPLE_STATS = {"num_steps": "n_steps", "accept_prob": "acceptance_rate", "adapt_state.step_size": "step_size"}


def sample_stats(mcmc):
    """The sampler statistics exactly as az.from_numpyro names and derives them. Built
    here because from_numpyro also re-runs the model op by op to find its observed
    sites (which to_inference_data replaces with the rows anyway): a cold process
    compiles every operation of that run, ~3 s of a small fit job."""
    stats = {SAMPLE_STATS.get(name, name): np.asarray(value)
             for name, value in mcmc.get_extra_fields(group_by_chain=True).items()}
    stats["tree_depth"] = np.log2(stats["n_steps"]).astype(int) + 1
    return stats


def _compiled(model, fn, stored=False):
    """`fn(model, *args)` as one compiled program of `args`, with the model's priors
    among its arguments rather than constants in it (pooling.chains says why).

    `stored` rounds every output to float32, the dtype fits store N x draws arrays in,
    inside the program: the same values as rounding its float64 output afterwards, but
    the program writes half the bytes and no float64 copy is cast on the host (at
    20,000 rows the log-likelihood and predictive draws are 180 million values)."""
    def program(priors, *args):
        out = fn(with_priors(model, priors), *args)
        return jax.tree.map(lambda v: v.astype(np.float32), out) if stored else out

    program = jax.jit(program)
    return lambda *args: program(traced_priors(model), *args)


def _predict(model, sites=("y",), num_samples=None, stored=False):
    """numpyro's Predictive as one compiled program of (rng key, posterior draws or
    None for `num_samples` prior draws, model data, observed y). Predictive alone runs
    the model op by op under vmap, and a cold process compiles each operation on its own
    (~1 s per call at eight-schools size); the draws are the same computation."""
    def predict(m, key, draws, inputs, y=None):
        return Predictive(m, draws, num_samples=num_samples, return_sites=list(sites))(key, inputs, y=y)

    return _compiled(model, predict, stored)


def inference_groups(mcmc, model, rows, data, settings, storage=None):
    """The draws of run_nuts with prior and predictive draws, as InferenceData groups
    {name: xr.Dataset} laid out as az.from_dict lays them out (pooling.idata), and the
    InferenceData's attrs.

    `storage` bounds the N x draws arrays: above `pointwise_max_rows` rows the
    log-likelihood is left out (the compare job computes PSIS-LOO from the posterior
    in chunks) and the prior and posterior predictive keep `predictive_draws` draws.
    None keeps everything."""
    _, key_prior, key_ppc = _keys(settings["seed"])
    y = np.asarray(data.y, dtype=float)
    chains, draws = settings["chains"], settings["draws"]
    whole = storage is None or len(y) <= storage["pointwise_max_rows"]
    kept = np.arange(draws) if whole else thinned_draws(draws, chains, storage["predictive_draws"])
    by_chain = mcmc.get_samples(group_by_chain=True)
    thinned = {name: v[:, kept].reshape(-1, *v.shape[2:]) for name, v in by_chain.items()}

    family = families.named(settings.get("family", "gaussian"))
    predictive = np.asarray(_predict(model, stored=True)(key_ppc, thinned, rows)["y"])
    inputs, stats = sampled_form(data, rows, family)
    prior = _predict(model, list(by_chain), num_samples=draws)(
        key_prior, None, inputs, None if stats is data.y else stats)
    prior_predictive = np.asarray(_predict(model, stored=True)(
        key_prior, {k: v[:len(kept) * chains] for k, v in prior.items()}, rows)["y"])

    constant_data = {"group_index": rows.group, "group_size": data.group_sizes, "se": rows.se,
                     "X": rows.X, "U": rows.U, "trials": rows.trials, "offset": rows.offset, "Z": rows.Z,
                     **hierarchy.level_data(data.factors)}
    coords = {
        **hierarchy.coords(data.factors, data.slope_names),
        "group": data.group_labels, "obs": np.arange(len(y)),
        "predictor": data.predictor_names, "group_predictor": data.group_predictor_names,
    }
    dims = {**hierarchy.dims(data.factors, data.slope_names), **DIMS,
            **{name: ["group"] for name in hierarchy.level_data(data.factors)}}
    library = {"inference_library": "numpyro", "inference_library_version": version("numpyro")}
    # observed data are the rows (the sampled model may observe their sufficient statistics)
    groups = {
        "posterior": idata.group(jax.device_get(by_chain), coords, dims, library),
        "sample_stats": idata.group(sample_stats(mcmc), coords, dims, library),
        "constant_data": idata.group({k: v for k, v in constant_data.items() if v is not None}, coords, dims,
                                     sampled=False),
        "observed_data": idata.group({"y": y}, coords, dims, sampled=False),
        "posterior_predictive": idata.group({"y": predictive.reshape(chains, len(kept), -1)}, coords, dims
                                            ).assign_coords(draw=kept),
        "prior": idata.group({k: np.asarray(v)[None] for k, v in prior.items()}, coords, dims),
        "prior_predictive": idata.group({"y": prior_predictive[None]}, coords, dims),
    }
    if whole:
        log_lik = np.asarray(_compiled(model, lambda m, s, r, obs: log_likelihood(m, s, r, y=obs)["y"], stored=True)(
            thinned, rows, y))
        groups["log_likelihood"] = idata.group({"y": log_lik.reshape(chains, draws, -1)}, coords, dims)
    for name in STORED_FLOAT32:
        if name in groups:
            groups[name] = groups[name].astype(np.float32, copy=False)  # stored=True arrays are not copied again
    return groups, {"factors": hierarchy.describe(data.factors)} if data.factors else {}


def to_inference_data(mcmc, model, rows, data, settings, storage=None):
    """inference_groups as az.InferenceData."""
    return idata.as_inference_data(*inference_groups(mcmc, model, rows, data, settings, storage))


def provenance(dataset, strategy, settings, storage, columns, priors, source_csv, prepared_csv):
    """NetCDF attrs: enough to rebuild the fit (config, data hashes, versions, seed);
    pooling.reproduce.refit does so from them alone."""
    return {
        "workflow": "hierarchical-pooling",
        "dataset": dataset,
        "strategy": strategy,
        "seed": int(settings["seed"]),
        "fit_config": json.dumps(settings, sort_keys=True),
        "storage": json.dumps(storage, sort_keys=True),
        "data_columns": json.dumps(columns, sort_keys=True),
        "formula": model_formula(columns),
        "family": settings.get("family", "gaussian"),
        **prior_attrs(priors),
        "source_csv": str(source_csv),
        "data_sha256": sha256(source_csv),
        "prepared_sha256": sha256(prepared_csv),
        "package_versions": json.dumps(
            {"python": platform.python_version(), **{p: version(p) for p in PACKAGES}}
        ),
    }


def prior_attrs(priors):
    """The NetCDF attrs of the resolved priors ({name: (Prior, source)}) that the compare
    job's priors table and the methods text read: each prior as text, and its source."""
    return {"priors": json.dumps({name: str(prior) for name, (prior, _) in priors.items()}),
            "prior_sources": json.dumps({name: source for name, (_, source) in priors.items()})}


def model_formula(columns):
    """The formula a dataset's config stands for: its own, or that of its shorthand keys."""
    from .formula import shorthand

    if columns.get("formula"):
        return columns["formula"]
    keys = ("response", "group", "predictors", "group_predictors")
    return shorthand(**{key: columns[key] for key in keys if columns.get(key)})


def write_netcdf(groups, attrs, path):
    """Write InferenceData groups under a temporary name, then rename: a killed job
    never leaves a file that looks complete."""
    partial = f"{path}.partial"
    idata.write(groups, attrs, partial)
    os.replace(partial, path)


def fit_to_netcdf(prepared_csv, source_csv, out, dataset, strategy, settings, storage, columns):
    data = load_prepared(prepared_csv)
    if strategies.named(strategy).estimates_tau and data.n_groups < 2:
        raise DataError(
            f"{source_csv}: only one group ({data.group_labels[0]!r}), so partial pooling cannot "
            f"estimate how much groups differ (tau); set `strategies` for dataset {dataset!r} "
            f"to no_pooling and/or complete_pooling, or configure a `group` column with "
            f"several groups"
        )
    log.info("%s / %s: %d rows, %d groups, settings %s",
             dataset, strategy, len(data.y), data.n_groups, json.dumps(settings, sort_keys=True))
    groups, attrs, priors = sample_groups(data, strategy, settings, storage)
    for name, (prior, source) in priors.items():
        log.info("prior %s ~ %s (%s)", name, prior, source)
    attrs = {**attrs, **provenance(dataset, strategy, settings, storage, columns, priors, source_csv,
                                   prepared_csv)}
    write_netcdf(groups, attrs, out)
    log.info("wrote %s", out)
