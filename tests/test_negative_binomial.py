"""pooling.negative_binomial: the negative binomial's draws come from NumPy's gamma and
Poisson samplers through a JAX callback, follow NB2, are a pure function of the key
(however JAX batches the calls), and its log density is numpyro's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.distributions import NegativeBinomial2
from scipy import stats

from pooling import families
from pooling.negative_binomial import HostNegativeBinomial2

from helpers import pooled_chisquare_pvalue

MEAN = np.array([0.3, 2.0, 15.0, 40.0, 0.8])
ALPHA = np.array([0.2, 1.5, 4.0, 1e4, 50.0])  # very overdispersed to nearly Poisson


def draws(alpha=ALPHA, n=20_000, key=0):
    sampler = jax.jit(lambda k: HostNegativeBinomial2(jnp.asarray(MEAN), jnp.asarray(alpha)).sample(k, (n,)))
    return np.asarray(sampler(jax.random.PRNGKey(key)))


def chi_square_pvalue(sample, mean, alpha):
    """Pearson's test of counts against NB2(mean, alpha), counts past the 1 - 1e-4
    quantile in one cell."""
    law = stats.nbinom(alpha, alpha / (alpha + mean))
    top = int(law.ppf(1 - 1e-4))
    expected = np.append(law.pmf(np.arange(top)), law.sf(top - 1)) * len(sample)
    return pooled_chisquare_pvalue(np.bincount(np.minimum(sample, top), minlength=top + 1), expected)


def test_draws_follow_the_negative_binomial():
    """Per element, a chi-square test of 20,000 draws against scipy's nbinom with the
    same mean and dispersion, Bonferroni over the five at 1%."""
    sample = draws()
    assert sample.shape == (20_000, 5) and sample.dtype == jnp.result_type(int) and (sample >= 0).all()
    for j in range(5):
        assert chi_square_pvalue(sample[:, j], MEAN[j], ALPHA[j]) > 0.01 / 5, j


def test_the_test_rejects_a_wrong_dispersion():
    """The same test sees alpha 4 drawn as 3: it can fail."""
    sample = draws(alpha=np.where(ALPHA == 4.0, 3.0, ALPHA))
    assert chi_square_pvalue(sample[:, 2], MEAN[2], ALPHA[2]) < 0.01 / 5


def test_draws_are_a_function_of_the_key_however_calls_are_batched():
    """vmap, lax.map and one call per key give the same draws; another key others."""
    keys = jax.random.split(jax.random.PRNGKey(3), 6)
    mean = jnp.asarray(MEAN)

    def one(key):
        return HostNegativeBinomial2(mean, jnp.asarray(ALPHA)).sample(key)

    single = np.stack([np.asarray(one(k)) for k in keys])
    np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(one))(keys)), single)
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda ks: jax.lax.map(one, ks))(keys)), single)
    assert not np.array_equal(single[0], single[1])
    np.testing.assert_array_equal(np.asarray(one(jax.random.key(3))), np.asarray(one(jax.random.PRNGKey(3))))


def test_rates_numpy_cannot_draw_come_out_as_jax_gives_them():
    """A NaN mean gives -1 and an infinite or astronomically large rate int64's
    largest, as jax.random.poisson does; an ordinary element beside them is drawn."""
    mean = jnp.array([jnp.nan, jnp.inf, 1e300, 0.0, 2.0])
    out = np.asarray(jax.jit(lambda k, m: HostNegativeBinomial2(m, 0.01).sample(k))(jax.random.PRNGKey(0), mean))
    big = np.iinfo(np.int64).max
    assert out[0] == -1 and out[1] == big and out[2] == big and out[3] == 0 and 0 <= out[4] < big


def test_log_density_and_family_are_numpyros_negative_binomial():
    mean, alpha, y = jnp.asarray(MEAN), jnp.asarray(ALPHA), jnp.arange(5.0)
    np.testing.assert_array_equal(HostNegativeBinomial2(mean, alpha).log_prob(y),
                                  NegativeBinomial2(mean, alpha).log_prob(y))
    likelihood = families.named("negativebinomial").numpyro_likelihood(jnp.zeros(3), {"alpha": 2.0})
    assert isinstance(likelihood, HostNegativeBinomial2)


@pytest.mark.parametrize("shape", [(), (7,)])
def test_draws_have_the_batch_and_sample_shape(shape):
    dist = HostNegativeBinomial2(jnp.full(4, 2.0), 3.0)
    assert dist.sample(jax.random.PRNGKey(1), shape).shape == shape + (4,)
