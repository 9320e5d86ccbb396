"""Grouped data with a known truth, for checking that fits recover it."""

import json

import numpy as np
import pandas as pd


def simulate(groups, group_sizes, mu, tau, sigma, seed):
    """theta_j ~ Normal(mu, tau), y_ij ~ Normal(theta_j, sigma); group labels g01, g02, ...

    `group_sizes` is one size for every group or a list with one size per group.
    """
    sizes = np.broadcast_to(np.asarray(group_sizes, dtype=int), (groups,))
    rng = np.random.default_rng(seed)
    width = len(str(groups))
    labels = [f"g{j + 1:0{width}d}" for j in range(groups)]
    theta = rng.normal(mu, tau, size=groups)
    index = np.repeat(np.arange(groups), sizes)
    y = rng.normal(theta[index], sigma)
    table = pd.DataFrame({"group": np.asarray(labels)[index], "y": y})
    truth = {
        "mu": mu, "tau": tau, "sigma": sigma, "seed": seed,
        "theta": dict(zip(labels, theta.tolist())),
        "group_sizes": dict(zip(labels, sizes.tolist())),
    }
    return table, truth


def simulate_to_files(design, data_out, truth_out):
    table, truth = simulate(**design)
    table.to_csv(data_out, index=False, float_format="%.6f")
    with open(truth_out, "w") as handle:
        json.dump(truth, handle, indent=2)
