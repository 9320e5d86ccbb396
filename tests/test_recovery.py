"""Parameter recovery: across datasets simulated from the model's own prior, 90%
posterior intervals of mu, tau and the family's auxiliary parameters cover the truth
about 90% of the time, for partial pooling under every likelihood family.

Drawing the truth from the prior that the fit uses makes the nominal coverage exact
(whatever the posterior's shape), so the count of covered datasets is Binomial(n, 0.9)
if the models and sampler are right.
"""

import jax
import numpy as np
import pytest
from scipy import stats

from pooling.batch import sample_many
from pooling.models import ModelData, strategy_model
from pooling.priors import parse_prior, sampled
from pooling.simulate import simulate

from family_designs import FAMILIES

N_DATASETS = 40
LEVEL = 0.9
SIZES = [1, 2, 3, 4, 6, 8, 10, 15]
SETTINGS = dict(chains=2, warmup=300, draws=250, target_accept=0.9, max_tree_depth=10)
# NumPy draws of the prior families used here, in the order of their arguments.
DRAW = {
    "normal": lambda rng, loc, scale: rng.normal(loc, scale),
    "halfnormal": lambda rng, scale: abs(rng.normal(0, scale)),
    "exponential": lambda rng, rate: rng.exponential(1 / rate),
    "gamma": lambda rng, shape, rate: rng.gamma(shape, 1 / rate),
}


def covered_counts(family):
    """All 40 fits run in one compiled program (pooling.batch), non-centered."""
    design = FAMILIES[family]
    trials, exposure = design.get("trials"), design.get("exposure")
    priors = {name: parse_prior(design["priors"][name], name, name)
              for name in sampled("partial_pooling", family) if name in design["priors"]}
    rng = np.random.default_rng(20261121)
    truths, ys = [], []
    for k in range(N_DATASETS):
        truth = {name: DRAW[prior.family](rng, *prior.args) for name, prior in priors.items()}
        table, _ = simulate(groups=len(SIZES), group_sizes=SIZES, seed=k, family=family, trials=trials,
                            exposure=exposure, **truth)
        truths.append(truth)
        ys.append(table["y"].to_numpy())
    model = strategy_model("partial_pooling", len(SIZES), {name: (p, "user") for name, p in priors.items()},
                           family=family)
    group = np.repeat(np.arange(len(SIZES), dtype=np.int32), SIZES)
    data = ModelData(group=group,
                     trials=None if trials is None else np.full(group.shape, trials),
                     offset=None if exposure is None else np.full(group.shape, np.log(exposure)))
    batch = jax.tree.map(lambda a: np.stack([a] * N_DATASETS), data)
    keys = jax.random.split(jax.random.PRNGKey(1), N_DATASETS)
    draws = sample_many(model, (batch,), np.array(ys), SETTINGS, keys)
    covered = dict.fromkeys(priors, 0)
    for k, truth in enumerate(truths):
        for name in covered:
            low, high = np.quantile(draws[name][k], [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
            covered[name] += bool(low <= truth[name] <= high)
    return covered


@pytest.mark.parametrize("family", FAMILIES)
def test_interval_coverage_is_consistent_with_the_nominal_level(family):
    """Accepted range: the central 99.8% of Binomial(40, 0.9), i.e. 31 to 40 covered;
    a model that ignores the groups or a sampler stuck in the funnel covers far less."""
    low, high = stats.binom.ppf([0.001, 0.999], N_DATASETS, LEVEL)
    counts = covered_counts(family)
    for name, count in counts.items():
        assert low <= count <= high, f"{name}: {count}/{N_DATASETS} covered, expected {low:.0f} to {high:.0f}"
