"""pooling.shifted: each group's density and score at eta + shift, with the terms free
of the shift computed once, are the family's own summed over the group's rows."""

import numpy as np
import pytest

from pooling import families
from pooling.logo import _Rows
from pooling.shifted import shifted

RNG = np.random.default_rng(7)
DRAWS, ROWS, GROUPS = 5, 40, 6
GROUP = RNG.integers(0, GROUPS, ROWS)
TRIALS = RNG.integers(1, 12, ROWS).astype(float)
AUX = {"sigma": np.array([0.5, 1.0, 2.0, 0.8, 1.5])[:, None], "nu": np.array([3.0, 8.0, 1.5, 30.0, 4.0])[:, None],
       "alpha": np.array([0.3, 2.0, 50.0, 1e4, 1.0])[:, None]}


def response(name, eta):
    mean = np.exp(eta[0])
    return {"gaussian": lambda: eta[0] + RNG.normal(size=ROWS), "t": lambda: eta[0] + RNG.standard_t(3, size=ROWS),
            "bernoulli": lambda: RNG.binomial(1, mean / (1 + mean)),
            "binomial": lambda: RNG.binomial(TRIALS.astype(int), mean / (1 + mean)),
            "poisson": lambda: RNG.poisson(mean), "negativebinomial": lambda: RNG.poisson(3 * mean)}[name]()


@pytest.mark.parametrize("name", families.NAMES)
@pytest.mark.parametrize("reach", [1.0, 400.0])
def test_shifted_density_and_score_are_the_familys_summed_per_group(name, reach):
    """Shifts of ordinary size, and (reach 400) shifts that overflow exp(eta + shift)
    and underflow it: the log(1 + q) past its overflow is taken as log q."""
    family = families.named(name)
    eta = RNG.normal(-0.5, 1.0, (DRAWS, ROWS))
    y = response(name, eta).astype(float)
    trials = TRIALS if name == "binomial" else None
    rows = _Rows.by_group(y, GROUP, GROUPS, trials=trials, X=None, offset=None, se=None)
    order = np.argsort(GROUP, kind="stable")
    eta = eta[:, order]
    aux = {k: AUX[k] for k in family.auxiliary}
    at = shifted(family, rows, eta, aux)
    shift = RNG.normal(0.0, reach, (DRAWS, GROUPS))
    moved = eta + shift[:, rows.group]
    expected = rows.total(family.log_density(rows.y, moved, aux, rows.trials))
    np.testing.assert_allclose(at.log_density(shift), expected, rtol=1e-11, atol=1e-9)
    if reach == 1.0:
        score, information = family.score(rows.y, moved, aux, rows.trials)
        ours = at.score(shift)
        np.testing.assert_allclose(ours[0], rows.total(score), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(ours[1], rows.total(information), rtol=1e-10, atol=1e-10)
