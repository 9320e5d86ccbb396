"""numpyro's BinomialLogits with JAX's own binomial sampler for its draws.

numpyro draws a binomial array one element at a time (`lax.map` over every element,
each a scalar rejection or inversion loop), so a fit's posterior predictive draws of a
binomial or Bernoulli response took ~10 s for 4,000 draws of radon's 919 rows, most of
such a fit job. `jax.random.binomial` draws the whole array at once, vectorized (2.1 s
for the same array; `bench/families.py`). Both are exact binomial samplers; the log
density and everything else are numpyro's.
"""

import jax
import jax.numpy as jnp
from numpyro.distributions import BinomialLogits


class VectorizedBinomialLogits(BinomialLogits):
    def sample(self, key, sample_shape=()):
        shape = sample_shape + self.batch_shape
        draws = jax.random.binomial(key, jnp.broadcast_to(self.total_count, shape),
                                    jnp.broadcast_to(self.probs, shape), shape=shape)
        return draws.astype(jnp.result_type(int))
