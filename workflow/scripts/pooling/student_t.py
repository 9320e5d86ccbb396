"""numpyro's StudentT with draws by Bailey's polar method instead of a gamma variate.

numpyro draws a Student t as a normal over the square root of a gamma
(`jax.random.t`), and JAX's gamma sampler runs a rejection loop per element with its
own key: ~0.8 us per draw here, so a t fit's 4,000 posterior predictive draws of
radon's 919 rows took ~3 s, a quarter of the fit job. Bailey's polar method (Math.
Comp. 62, 1994) draws a point uniform in the unit disk and transforms it; written with
the point's polar coordinates it needs no rejection:

    T = cos(2 pi U) sqrt(nu (V^(-2/nu) - 1)),   U, V uniform on (0, 1],

exact for every nu > 0 (as nu grows it becomes Box-Muller's normal). Two uniforms and
a few elementwise operations per draw, vectorized over the array. The log density and
everything else are numpyro's.
"""

import jax
import jax.numpy as jnp
from numpyro.distributions import StudentT


class PolarStudentT(StudentT):
    def sample(self, key, sample_shape=()):
        shape = sample_shape + self.batch_shape
        angle_key, radius_key = jax.random.split(key)
        angle = jax.random.uniform(angle_key, shape, dtype=jnp.result_type(float))
        radius = 1.0 - jax.random.uniform(radius_key, shape, dtype=jnp.result_type(float))  # (0, 1]: no log(0)
        df = jnp.broadcast_to(self.df, shape)
        t = jnp.cos(2 * jnp.pi * angle) * jnp.sqrt(df * jnp.expm1(-2.0 / df * jnp.log(radius)))
        return self.loc + self.scale * t
