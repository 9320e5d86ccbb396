"""PSIS on a block of rows at once (pooling.psis) gives az.psislw's answer row by row."""

import arviz as az
import numpy as np
import pytest
from scipy.special import logsumexp

from pooling.psis import psislw

RNG = np.random.default_rng(0)
DRAWS = 2000
CASES = {
    "normal log-likelihoods": RNG.normal(0, 1, (100, DRAWS)),
    "heavy tails (k > 0.7)": RNG.standard_t(2, (100, DRAWS)) * 3,
    "rows of every scale": RNG.normal(0, 1, (100, DRAWS)) * RNG.uniform(0.1, 20, (100, 1)),
    "ties (rounded)": np.round(RNG.normal(0, 1, (30, DRAWS)), 1),
    "constant rows": np.zeros((3, DRAWS)),
    "weights below float's range": np.concatenate(
        [np.full((5, DRAWS - 10), 1000.0), RNG.normal(0, 1, (5, 10))], axis=1),
}


@pytest.mark.parametrize("reff", [1.0, 0.37])
@pytest.mark.parametrize("case", CASES)
def test_block_psis_is_az_psislw(case, reff):
    log_lik = CASES[case]
    expected_weights, expected_k = az.psislw(-log_lik.copy(), reff)
    weights, k = psislw(-log_lik, reff)
    np.testing.assert_allclose(k, expected_k, rtol=0, atol=1e-12)
    # the LOO score of each row; with ties, equal raw weights may swap smoothed values
    np.testing.assert_allclose(logsumexp(weights + log_lik, axis=1),
                               logsumexp(expected_weights + log_lik, axis=1), rtol=0, atol=1e-12)
    if case != "ties (rounded)":
        np.testing.assert_allclose(weights, expected_weights, rtol=0, atol=1e-12)
