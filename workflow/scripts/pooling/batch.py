"""NUTS on many same-shaped datasets in one compiled program.

Checks that need hundreds of fits (simulation-based calibration, parameter recovery)
would spend nearly all their time compiling if each fit were its own numpyro MCMC:
numpyro builds the sampling loop around the data and recompiles it for every new
dataset, and XLA never unmaps compiled code (a process aborts with "Unable to
allocate section memory" after ~35 such fits). Here the data are traced arguments of
one jitted program, which loops over datasets with `lax.map` and runs each
dataset's chains with `vmap`, using numpyro's own NUTS kernel and warmup adaptation.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from numpyro.infer.hmc import hmc
from numpyro.infer.util import initialize_model, log_likelihood

INIT_RADIUS = 2.0  # numpyro's init_to_uniform: unconstrained values in (-2, 2)


def sample_many(model, args, y, settings, keys):
    """Posterior draws for each of S datasets.

    `args`: the model's array arguments, each with a leading axis of length S (None
    stays None); `y`: (S, N) responses. `settings`: chains, warmup, draws per chain,
    target_accept, max_tree_depth. `keys`: one PRNG key per dataset, so a dataset's
    draws do not depend on which others share the batch. Returns {site: (S, chains *
    draws, ...)} including deterministic sites, plus the pointwise log-likelihood of y
    as "log_lik" (S, chains * draws, N) and divergence counts as "diverging" (S,).
    """
    y = jnp.asarray(y)
    first = jax.tree.map(lambda a: a[0], args)
    info = initialize_model(jax.random.PRNGKey(0), model, model_args=first,
                            model_kwargs={"y": y[0]}, dynamic_args=True)
    init_kernel, sample_kernel = hmc(potential_fn_gen=info.potential_fn, algo="NUTS")
    template = info.param_info.z
    chains, warmup, draws = settings["chains"], settings["warmup"], settings["draws"]

    def one_chain(key, data, response):
        key_init, key_run = jax.random.split(key)
        leaves, tree = jax.tree.flatten(template)
        keys = jax.random.split(key_init, len(leaves))
        z0 = jax.tree.unflatten(tree, [
            jax.random.uniform(k, jnp.shape(leaf), minval=-INIT_RADIUS, maxval=INIT_RADIUS)
            for k, leaf in zip(keys, leaves)
        ])
        kwargs = {"y": response}
        state = init_kernel(z0, warmup, target_accept_prob=settings["target_accept"],
                            max_tree_depth=settings["max_tree_depth"],
                            model_args=data, model_kwargs=kwargs, rng_key=key_run)

        def step(s, _):
            return (sample_kernel(s, model_args=data, model_kwargs=kwargs),) * 2

        state, _ = lax.scan(step, state, None, length=warmup)
        _, kept = lax.scan(step, state, None, length=draws)
        return kept.z, kept.diverging.sum()

    def one_dataset(inputs):
        key, data, response = inputs
        z, diverging = jax.vmap(one_chain, in_axes=(0, None, None))(
            jax.random.split(key, chains), data, response)
        z = jax.tree.map(lambda a: a.reshape(chains * draws, *a.shape[2:]), z)
        samples = jax.vmap(info.postprocess_fn(*data, y=response))(z)
        log_lik = log_likelihood(model, samples, *data, y=response)["y"]
        return samples, log_lik, diverging.sum()

    samples, log_lik, diverging = jax.jit(lambda *xs: lax.map(one_dataset, xs))(jnp.asarray(keys), args, y)
    draws_out = {name: np.asarray(value) for name, value in samples.items()}
    draws_out["log_lik"] = np.asarray(log_lik)
    draws_out["diverging"] = np.asarray(diverging)
    return draws_out
