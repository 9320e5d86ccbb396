"""NUTS chains of one fit in one compiled program whose data are its arguments.

numpyro's MCMC runs parallel chains with `pmap` over a function that closes over the
model's data, so the data are constants of the compiled program: new data of a shape
already fitted is a new program, and JAX's persistent compilation cache never serves
it (numpyro's `jit_model_args` has no effect for parallel chains). Here the data are
arguments of the pmapped function, and so are the priors (the defaults are scaled to
the data), so the cache serves every dataset of a shape with the same model, and
each chain runs exactly what MCMC.run would: the kernel's own initialisation and
warmup adaptation from the same per-chain key, then `draws` transitions collected.
"""

import logging
from operator import attrgetter

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree
from numpyro.infer import NUTS

from .models import traced_priors, with_priors

log = logging.getLogger(__name__)


class Chains:
    """The draws and sampler fields of a run, read the way numpyro's MCMC gives them."""

    def __init__(self, samples, fields):
        self._samples = samples
        self._fields = fields

    @staticmethod
    def _flat(values):
        return {k: v.reshape(-1, *v.shape[2:]) for k, v in values.items()}

    def get_samples(self, group_by_chain=False):
        """{site: (chains, draws, ...)}, or (chains * draws, ...) without group_by_chain."""
        return self._samples if group_by_chain else self._flat(self._samples)

    def get_extra_fields(self, group_by_chain=False):
        """{field: (chains, draws)}: "diverging" and the fields asked for."""
        return self._fields if group_by_chain else self._flat(self._fields)


def nuts_chain(model, args, kwargs, settings, key, fields=("diverging",)):
    """One chain, to be traced inside a compiled program: exactly what numpyro's MCMC.run
    does for it (the kernel's own initialisation and warmup adaptation from `key`, then
    settings["draws"] transitions kept). Initialising inside the trace matters: numpyro's
    initialize_model outside one runs the model op by op, compiling each operation
    (~150 compiles, seconds). Warmup and draws are one loop over one transition, as in
    numpyro's fori_collect: the kernel adapts by its own iteration count, and a loop
    for each phase compiled the whole NUTS transition twice (eight schools' sampling
    program 5.5 -> 3.9 s to compile, the same draws). Returns ({site: (draws, ...)}
    with deterministic sites, {field: (draws,)})."""
    warmup, draws = settings["warmup"], settings["draws"]
    kernel = NUTS(model, target_accept_prob=settings["target_accept"],
                  max_tree_depth=settings["max_tree_depth"])
    state = gradient_scaled_metric(kernel.init(key, warmup, model_args=args, model_kwargs=kwargs))

    def kept(s):
        return s.z, {name: attrgetter(name)(s) for name in fields}

    def step(i, carry):
        s, buffers = carry
        s = kernel.sample(s, args, kwargs)
        at = jnp.maximum(i - warmup, 0)  # warmup transitions overwrite slot 0 until the first draw
        return s, jax.tree.map(lambda buffer, value: buffer.at[at].set(value), buffers, kept(s))

    empty = jax.tree.map(lambda v: jnp.zeros((draws, *jnp.shape(v)), jnp.result_type(v)), kept(state))
    _, (z, fields) = lax.fori_loop(0, warmup + draws, step, (state, empty))
    return jax.vmap(kernel.postprocess_fn(args, kwargs))(z), fields


# bounds of the initial inverse mass matrix's diagonal: a zero or huge gradient component
# at the initial point must not give an infinite or zero step in that direction
METRIC_BOUNDS = (1e-10, 1e10)


def gradient_scaled_metric(state):
    """`state` (numpyro's HMCState just initialised) with its diagonal inverse mass
    matrix set to 1 / |gradient| at the initial point, as nutpie initialises it,
    instead of numpyro's identity. Stan's schedule, which numpyro follows, keeps the
    first metric for 100 warmup iterations (75 of buffer, 25 of the first window), and
    with the identity those were most of a fit's gradients wherever the posterior's
    scales differ widely: at 1,000 groups of 20 rows (log sigma's posterior sd ~0.005,
    the group effects' ~0.4) the first 100 iterations took 54,600 of a chain's 84,800
    warmup gradients, 17,100 with this metric (whole warmup 46,400; ESS of tau and the
    draws' trajectories unchanged). Step size adaptation then starts from that metric;
    the windows after the first are numpyro's own estimates from the draws."""
    grad, _ = ravel_pytree(state.z_grad)
    inverse = jnp.clip(1.0 / jnp.abs(grad), *METRIC_BOUNDS)
    (sites,) = state.adapt_state.inverse_mass_matrix  # one diagonal block over every site
    metric = state.adapt_state._replace(inverse_mass_matrix={sites: inverse},
                                        mass_matrix_sqrt={sites: 1 / jnp.sqrt(inverse)},
                                        mass_matrix_sqrt_inv={sites: jnp.sqrt(inverse)})
    return state._replace(adapt_state=metric)


def run_chains(model, inputs, y, settings, key, extra_fields=()):
    """NUTS on the strategy_model `model(inputs, y=y)`: settings["chains"] chains (one
    per host device) of settings["warmup"] + settings["draws"] iterations from `key`,
    as a Chains."""
    fields = ("diverging", *extra_fields)

    def one_chain(chain_key, priors, data, response):
        return nuts_chain(with_priors(model, priors), (data,), {"y": response}, settings, chain_key, fields)

    keys = jax.random.split(key, settings["chains"])
    if jax.local_device_count() >= settings["chains"]:
        run = jax.pmap(one_chain, in_axes=(0, None, None, None))
    else:  # e.g. a notebook that did not call jaxenv.configure_jax first: one chain at a time
        log.warning("%d chains on %d JAX devices: running them one after another",
                    settings["chains"], jax.local_device_count())
        run = jax.jit(lambda ks, *rest: lax.map(lambda k: one_chain(k, *rest), ks))
    samples, kept = run(keys, traced_priors(model), inputs, y)
    return Chains(jax.device_get(samples), {k: np.asarray(v) for k, v in kept.items()})
