"""Grouped data with a known truth, for checking that fits recover it, in every
likelihood family (pooling.families); the truth is on the family's link scale."""

import json

import numpy as np
import pandas as pd

from . import families
from .errors import PoolingError


def check_design(family, trials, exposure, where):
    """Trials belong to binomial data and an exposure to counts (bernoulli's one trial
    is implied): a value the family would not read is a config mistake, so it is an
    error rather than ignored."""
    if (trials is not None) != (family.response == "proportion"):
        raise PoolingError(f"{where}.trials: family binomial needs trials per row, and no other family "
                           f"takes them (family is {family.name})")
    if exposure is not None and family.response != "count":
        raise PoolingError(f"{where}.exposure: only the count families (poisson, negativebinomial) "
                           f"take an exposure (family is {family.name})")


def check_auxiliary(family, auxiliary, where):
    """A simulated truth names exactly the family's auxiliary parameters: a missing one
    has no value to simulate with, an extra one (sigma of counts) would not be used."""
    if set(auxiliary) != set(family.auxiliary):
        raise PoolingError(f"{where}: family {family.name} needs exactly its auxiliary parameters: "
                           f"{', '.join(family.auxiliary) or 'none'} (got {', '.join(auxiliary) or 'none'})")


def _responses(family, rng, eta, aux, trials):
    """y given each row's linear predictor, drawn with NumPy's generator in row order.
    negativebinomial is NB2 (numpyro's NegativeBinomial2): mean m, variance m + m^2 / alpha."""
    mean = family.inverse_link(eta)
    draw = {
        "gaussian": lambda: rng.normal(mean, aux["sigma"]),
        "t": lambda: mean + aux["sigma"] * rng.standard_t(aux["nu"], size=mean.shape),
        "bernoulli": lambda: rng.binomial(1, mean),
        "binomial": lambda: rng.binomial(trials, mean),
        "poisson": lambda: rng.poisson(mean),
        "negativebinomial": lambda: rng.negative_binomial(aux["alpha"], aux["alpha"] / (aux["alpha"] + mean)),
    }
    return draw[family.name]()


def simulate(groups, group_sizes, mu, tau, seed, family="gaussian", trials=None, exposure=None, **auxiliary):
    """theta_j ~ Normal(mu, tau) on the link scale, then y_ij from `family` with linear
    predictor theta_j (+ log `exposure` for counts): gaussian y ~ Normal(theta_j, sigma),
    t ~ StudentT(nu, theta_j, sigma), bernoulli and binomial successes in 1 or `trials`
    trials with logit p = theta_j, poisson and negativebinomial counts of log mean
    theta_j. Group labels g01, g02, ...

    `group_sizes` is one size for every group or a list with one size per group;
    `auxiliary` are exactly the family's (sigma; sigma and nu; alpha). The table has
    columns group, y, then trials (binomial) and exposure (where given), which a
    formula names: p(y, trials) ~ 1 + (1 | group), y ~ 1 + offset(log(exposure)) + (1 | group).
    """
    family = families.named(family, "simulate.family")
    check_design(family, trials, exposure, "simulate")
    check_auxiliary(family, auxiliary, "simulate")
    sizes = np.broadcast_to(np.asarray(group_sizes, dtype=int), (groups,))
    rng = np.random.default_rng(seed)
    width = len(str(groups))
    labels = [f"g{j + 1:0{width}d}" for j in range(groups)]
    theta = rng.normal(mu, tau, size=groups)
    index = np.repeat(np.arange(groups), sizes)
    eta = theta[index] if exposure is None else theta[index] + np.log(exposure)
    y = _responses(family, rng, eta, auxiliary, trials)
    given = {name: value for name, value in (("trials", trials), ("exposure", exposure)) if value is not None}
    table = pd.DataFrame({"group": np.asarray(labels)[index], "y": y, **given})
    truth = {"mu": mu, "tau": tau, **{name: auxiliary[name] for name in family.auxiliary}, "seed": seed}
    if family.name != "gaussian":  # gaussian truth files keep the keys they had before families
        truth |= {"family": family.name, **given}
    truth |= {"theta": dict(zip(labels, theta.tolist())), "group_sizes": dict(zip(labels, sizes.tolist()))}
    return table, truth


def simulate_to_files(design, data_out, truth_out):
    table, truth = simulate(**design)
    table.to_csv(data_out, index=False, float_format="%.6f")
    with open(truth_out, "w") as handle:
        json.dump(truth, handle, indent=2)
