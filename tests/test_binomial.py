"""pooling.binomial: the binomial family's draws come from JAX's vectorized sampler and
follow the binomial distribution; its log density is numpyro's."""

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions import BinomialLogits
from scipy import stats

from pooling import families
from pooling.binomial import VectorizedBinomialLogits

from helpers import pooled_chisquare_pvalue

TRIALS = np.array([0, 1, 1, 7, 7, 40])
LOGITS = np.array([0.3, -2.0, 2.5, 0.0, -1.2, 1.7])


def test_draws_follow_the_binomial_pmf():
    """Per element, the frequency of every count over 20,000 draws against the pmf:
    one chi-square test per element with at least two possible counts, Bonferroni
    over the five at 1%."""
    draws = np.asarray(jax.jit(lambda k: VectorizedBinomialLogits(jnp.asarray(LOGITS), jnp.asarray(TRIALS))
                               .sample(k, (20_000,)))(jax.random.PRNGKey(0)))
    assert draws.dtype == np.dtype(jnp.result_type(int)) and draws.shape == (20_000, 6)
    assert np.all(draws[:, 0] == 0)
    for j in range(1, 6):
        pmf = stats.binom.pmf(np.arange(TRIALS[j] + 1), TRIALS[j], 1 / (1 + np.exp(-LOGITS[j])))
        observed = np.bincount(draws[:, j], minlength=TRIALS[j] + 1)
        assert pooled_chisquare_pvalue(observed, pmf * len(draws)) > 0.01 / 5, j


def test_log_density_and_family_are_numpyros_binomial():
    ours = VectorizedBinomialLogits(jnp.asarray(LOGITS), jnp.asarray(TRIALS))
    counts = jnp.asarray(np.minimum(TRIALS, 3))
    np.testing.assert_array_equal(ours.log_prob(counts),
                                  BinomialLogits(jnp.asarray(LOGITS), jnp.asarray(TRIALS)).log_prob(counts))
    for name, trials in (("binomial", TRIALS), ("bernoulli", None)):
        assert isinstance(families.named(name).numpyro_likelihood(jnp.asarray(LOGITS), {}, trials),
                          VectorizedBinomialLogits)
