"""pooling.student_t: the t family's draws come from Bailey's polar method and follow
Student's t; its log density is numpyro's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.distributions import StudentT
from scipy import stats

from pooling import families
from pooling.student_t import PolarStudentT

DF = np.array([0.7, 2.5, 4.5, 40.0, 1e4])
LOC = np.array([0.0, -1.0, 2.0, 0.5, 0.0])
SCALE = np.array([1.0, 0.3, 2.0, 1.0, 5.0])


def draws(df=DF, n=20_000, key=0):
    sampler = jax.jit(lambda k: PolarStudentT(jnp.asarray(df), jnp.asarray(LOC), jnp.asarray(SCALE)).sample(k, (n,)))
    return np.asarray(sampler(jax.random.PRNGKey(key)))


def test_draws_follow_students_t():
    """Per element, a Kolmogorov–Smirnov test of 20,000 draws against scipy's t, from
    heavier than Cauchy (nu = 0.7) to nearly normal (nu = 1e4), Bonferroni over the
    five at 1%."""
    sample = draws()
    assert sample.shape == (20_000, 5) and np.isfinite(sample).all()
    for j in range(5):
        assert stats.kstest(sample[:, j], stats.t(DF[j], LOC[j], SCALE[j]).cdf).pvalue > 0.01 / 5, j


def test_the_test_rejects_a_wrong_degrees_of_freedom():
    """The same test sees nu 4.5 drawn as 3: it can fail."""
    sample = draws(df=np.where(DF == 4.5, 3.0, DF))
    assert stats.kstest(sample[:, 2], stats.t(4.5, LOC[2], SCALE[2]).cdf).pvalue < 0.01 / 5


def test_log_density_and_family_are_numpyros_student_t():
    ours = PolarStudentT(jnp.asarray(DF), jnp.asarray(LOC), jnp.asarray(SCALE))
    y = jnp.linspace(-3.0, 3.0, 5)
    np.testing.assert_array_equal(ours.log_prob(y), StudentT(jnp.asarray(DF), jnp.asarray(LOC),
                                                             jnp.asarray(SCALE)).log_prob(y))
    assert isinstance(families.named("t").numpyro_likelihood(jnp.zeros(3), {"nu": 3.0, "sigma": 1.0}), PolarStudentT)


@pytest.mark.parametrize("shape", [(), (7,)])
def test_draws_have_the_batch_and_sample_shape(shape):
    dist = PolarStudentT(3.0, jnp.zeros(4), 1.0)
    assert dist.sample(jax.random.PRNGKey(1), shape).shape == shape + (4,)
