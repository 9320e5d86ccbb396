"""Radon (Gelman & Hill 2007, ch. 12): the varying-intercept model with the floor
predictor reproduces the published multilevel estimates, and PSIS-LOO prefers partial
pooling while flagging no pooling's single-home counties."""

import arviz as az
import pytest

from pooling import compare
from pooling.data import load_prepared, prepare
from pooling.fit import sample

from conftest import ROOT

# The 919 Minnesota homes (the PyMC primer's table), shipped in tests/data (its README)
RADON = ROOT / "tests" / "data" / "radon_mn.csv"
SETTINGS = dict(chains=4, warmup=1000, draws=1000, target_accept=0.95, seed=5,
                max_tree_depth=10, parameterization="noncentered", priors={})
# Gelman & Hill (2007), section 12.4, `lmer(y ~ x + (1 | county))` on these 919 homes:
# floor coefficient -0.69 (s.e. 0.07), sigma_y 0.76, sigma_alpha 0.33 (p. 259-260).
PUBLISHED = {"beta": -0.69, "sigma": 0.76, "tau": 0.33}
# Tolerances: the published standard error for the coefficient; for the two standard
# deviations (point estimates of a maximum-likelihood fit, no s.e. printed), 0.05 for
# sigma (its posterior sd is ~0.02) and 0.08 for tau (its posterior sd is ~0.05 and a
# posterior mean of a scale sits above the REML mode).
TOLERANCE = {"beta": 0.07, "sigma": 0.05, "tau": 0.08}


@pytest.fixture(scope="module")
def radon(tmp_path_factory):
    path = tmp_path_factory.mktemp("radon") / "prepared.csv"
    prepare(str(RADON), "log_radon", group="county", predictors=["floor"]).to_csv(path, index=False)
    return load_prepared(path)


@pytest.fixture(scope="module")
def fits(radon):
    return {s: sample(radon, s, SETTINGS)[0]
            for s in ("no_pooling", "complete_pooling", "partial_pooling")}


def test_partial_pooling_reproduces_the_published_estimates(radon, fits):
    assert len(radon.y) == 919 and radon.n_groups == 85
    posterior = fits["partial_pooling"].posterior
    for name, published in PUBLISHED.items():
        mean = float(posterior[name].mean())
        assert abs(mean - published) < TOLERANCE[name], f"{name}: {mean:.3f} vs published {published}"


def test_loo_ranks_partial_pooling_first_and_flags_single_home_counties(radon, fits):
    table = compare.loo_table({name: compare.loo(idata) for name, idata in fits.items()})
    assert table.index[0] == "partial_pooling"
    assert table.index[-1] == "complete_pooling"
    # No pooling fits a single home's county mean to that one home: leaving the home
    # out moves that county's posterior most, which PSIS reports as a high Pareto k.
    # Measured (seed 5): k = 0.57, 0.58, 1.07 for the three single-home counties, mean
    # 0.49 for two-home counties, 0.07 for ten-home counties; ArviZ's threshold 0.7
    # flags one of the three, k > 0.5 (PSIS's variance no longer finite) all three.
    loo = az.loo(fits["no_pooling"], pointwise=True)
    k = loo.pareto_k.values
    size = radon.group_sizes[radon.group]
    assert (size == 1).sum() == 3
    assert (k[size == 1] > 0.5).all() and (k[size == 1] > loo.good_k).any()
    assert k[size == 1].mean() > k[size == 2].mean() > k[size >= 5].mean()
    assert table.loc["no_pooling", "n_pareto_k_high"] == (k > loo.good_k).sum() > 0
