"""Simulation-based calibration of every strategy under every likelihood family: the
ranks are uniform when the fit is the simulating model, and a fit with another prior
fails the same test. Priors and designs: family_designs."""

import pytest

from pooling import STRATEGIES
from pooling.errors import PoolingError
from pooling.sbc import design, quantities, run
from pooling.uniformity import summarize

from family_designs import FAMILIES

DESIGN = dict(groups=8, group_size=5)
SIMULATIONS = range(100)
FRESH = range(100, 200)  # a flagged case's second run
# One chain (a second would repeat the warmup); thinning by 3 leaves nearly independent draws.
SETTINGS = dict(chains=1, warmup=100, draws=19, thin=3, target_accept=0.8, max_tree_depth=8)
CASES = [(family, strategy) for family in FAMILIES for strategy in STRATEGIES]
# Every quantity of every case is tested: Bonferroni keeps the chance of any false
# alarm for calibrated models near 5%.
LEVEL = 1 - 0.05 / sum(len(quantities(strategy, family)) + 1 for family, strategy in CASES)


def ranks(family, strategy, simulations=SIMULATIONS, **overrides):
    """One case's ranks: the family's priors and design (family_designs) unless overridden."""
    return run(strategy, **DESIGN, settings=SETTINGS, simulations=simulations, seed=3, family=family,
               **{**FAMILIES[family], **overrides})


@pytest.mark.parametrize(("family", "strategy"), CASES)
def test_ranks_are_uniform_for_every_family_and_strategy(family, strategy):
    """A case flagged on its 100 simulations is run once more on 100 fresh ones and
    fails only if flagged again. At the Bonferroni level a calibrated model is flagged
    somewhere in the table ~5% of the time, by chance, and then rarely twice; a
    miscalibrated one is flagged on both runs (as the wrong-prior test below checks
    the first run is)."""
    summary = summarize(ranks(family, strategy), LEVEL).set_index("quantity")
    assert list(summary.index) == [*quantities(strategy, family), "log_lik"]
    if not summary["uniform"].all():
        summary = summarize(ranks(family, strategy, simulations=FRESH), LEVEL).set_index("quantity")
    assert summary["uniform"].all(), summary.to_string()


def test_a_prior_unlike_the_simulating_one_fails_the_same_test():
    """Fitting binomial data simulated with mu ~ normal(0, 1) with mu ~ normal(1, 0.25):
    mu's posterior is pulled up, so its ranks (draws below the truth) pile up at 0."""
    wrong = {**FAMILIES["binomial"]["priors"], "mu": "normal(1, 0.25)"}
    summary = summarize(ranks("binomial", "complete_pooling", fit_priors=wrong), LEVEL).set_index("quantity")
    assert not summary.loc["mu", "uniform"]
    assert summary.loc["mu", "chi2_pvalue"] < 1e-6


@pytest.mark.parametrize(("strategy", "family", "expected"), [
    ("no_pooling", "gaussian", ("theta[0]", "sigma")),
    ("complete_pooling", "gaussian", ("mu", "sigma")),
    ("partial_pooling", "gaussian", ("mu", "tau", "sigma", "theta[0]")),
    ("partial_pooling", "t", ("mu", "tau", "sigma", "nu", "theta[0]")),
    ("complete_pooling", "binomial", ("mu",)),
    ("no_pooling", "negativebinomial", ("theta[0]", "alpha")),
])
def test_ranked_quantities_follow_the_strategy_and_the_family(strategy, family, expected):
    assert quantities(strategy, family) == expected


@pytest.mark.parametrize(("family", "trials", "exposure", "message"), [
    ("binomial", None, None, "sbc.trials: family binomial needs trials"),
    ("bernoulli", 20, None, "sbc.trials: family binomial needs trials"),
    ("gaussian", None, 2.0, "sbc.exposure: only the count families"),
    ("beta", None, None, "sbc.family: unknown family 'beta'"),
])
def test_a_design_the_family_would_not_read_is_an_error(family, trials, exposure, message):
    with pytest.raises(PoolingError, match=message):
        design(2, 3, family, trials, exposure)


def test_the_design_carries_trials_and_log_exposure():
    assert design(2, 3, "binomial", trials=20).trials.tolist() == [20] * 6
    assert design(2, 3, "poisson", exposure=2.0).offset.tolist() == pytest.approx([0.6931472] * 6)
    assert design(2, 3).group.tolist() == [0, 0, 0, 1, 1, 1]
