"""NUTS on many same-shaped datasets in one compiled program.

Checks that need hundreds of fits (simulation-based calibration, parameter recovery)
would spend nearly all their time compiling if each fit were its own numpyro MCMC:
numpyro builds the sampling loop around the data and recompiles it for every new
dataset, and XLA never unmaps compiled code (a process aborts with "Unable to
allocate section memory" after ~35 such fits). Here the data are traced arguments of
one jitted program, which loops over datasets and over each dataset's chains with
`lax.map`, each chain numpyro's own NUTS kernel, initialisation and warmup adaptation
(pooling.chains.nuts_chain, as a fit runs it). Chains one after another, not `vmap`ped:
a vmapped NUTS chain waits for the longest trajectory of its batch at every step, and
batching the sampler's loops took longer to trace and compile than the fits took to
run (the 40-fit gaussian recovery check: 33 s with the initialisation inside the
program and chains vmapped, 20 s with them one after another; 34 s before either).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from numpyro.infer.util import log_likelihood

from .chains import nuts_chain


def sample_many(model, args, y, settings, keys):
    """Posterior draws for each of S datasets.

    `args`: the model's array arguments, each with a leading axis of length S (None
    stays None); `y`: (S, N) responses. `settings`: chains, warmup, draws per chain,
    target_accept, max_tree_depth. `keys`: one PRNG key per dataset, so a dataset's
    draws do not depend on which others share the batch. Returns {site: (S, chains *
    draws, ...)} including deterministic sites, plus the pointwise log-likelihood of y
    as "log_lik" (S, chains * draws, N) and divergence counts as "diverging" (S,).
    """
    def one_dataset(inputs):
        key, data, response = inputs
        kwargs = {"y": response}
        samples, kept = lax.map(lambda k: nuts_chain(model, data, kwargs, settings, k),
                                jax.random.split(key, settings["chains"]))
        samples = jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), samples)
        return samples, log_likelihood(model, samples, *data, y=response)["y"], kept["diverging"].sum()

    samples, log_lik, diverging = jax.jit(lambda *xs: lax.map(one_dataset, xs))(
        jnp.asarray(keys), args, jnp.asarray(y))
    draws_out = {name: np.asarray(value) for name, value in samples.items()}
    draws_out["log_lik"] = np.asarray(log_lik)
    draws_out["diverging"] = np.asarray(diverging)
    return draws_out
