"""The Normal likelihood of the rows through per-group sufficient statistics, so a
gradient during sampling costs O(groups), not O(rows).

With weights w_i (1/se_i^2 when the standard errors are known, else 1) and values
centred within their group (weighted means ybar_g, xbar_g),

    sum_i w_i (y_i - theta_g - x_i beta)^2
      = rss + (beta - beta_hat)' S (beta - beta_hat) + sum_g W_g (ybar_g - theta_g - xbar_g beta)^2,

where W_g = sum of the group's weights, S = sum_i w_i (x_i - xbar_g)(x_i - xbar_g)',
beta_hat the within-group least-squares slope and rss its residual sum of squares.
Every term is a sum of squares computed before sampling, so nothing is lost to
cancellation however large the response or the row count.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class GroupStats:
    n: float  # rows
    weight: np.ndarray  # (groups,) W_g
    ybar: np.ndarray  # (groups,)
    rss: float
    log_norm: float  # the log density's terms that involve no parameter
    xbar: np.ndarray | None = None  # (groups, predictors)
    within: np.ndarray | None = None  # (predictors, predictors) S
    beta_hat: np.ndarray | None = None
    known_se: bool = False  # static: decides whether sigma is sampled

    @property
    def n_predictors(self):
        return 0 if self.xbar is None else self.xbar.shape[1]


jax.tree_util.register_dataclass(
    GroupStats,
    data_fields=["n", "weight", "ybar", "rss", "log_norm", "xbar", "within", "beta_hat"],
    meta_fields=["known_se"],
)


def group_stats(y, group, n_groups, se=None, X=None):
    """GroupStats of rows `y` in groups `group` (0..n_groups-1)."""
    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if se is None else 1 / np.asarray(se, dtype=float) ** 2

    def per_group(values):
        return np.bincount(group, values, minlength=n_groups)

    weight = per_group(w)
    ybar = per_group(w * y) / weight
    centred = y - ybar[group]
    rss = float(np.sum(w * centred**2))
    log_norm = -0.5 * len(y) * np.log(2 * np.pi) - (0.0 if se is None else float(np.sum(np.log(se))))
    extra = {}
    if X is not None:
        X = np.asarray(X, dtype=float)
        xbar = np.stack([per_group(w * column) for column in X.T], axis=1) / weight[:, None]
        Xc = X - xbar[group]
        within = (Xc * w[:, None]).T @ Xc
        cross = (Xc * w[:, None]).T @ centred
        beta_hat = np.linalg.pinv(within) @ cross
        rss = max(rss - float(cross @ beta_hat), 0.0)
        extra = dict(xbar=xbar, within=within, beta_hat=beta_hat)
    return GroupStats(n=float(len(y)), weight=weight, ybar=ybar, rss=rss, log_norm=log_norm,
                      known_se=se is not None, **extra)


def log_lik(stats, theta, beta=None, sigma=None):
    """The rows' total log density given group means `theta`, coefficients `beta`
    and, unless the standard errors are known, the residual scale `sigma`."""
    residual = stats.ybar - theta
    quadratic = stats.rss
    if beta is not None:
        residual = residual - stats.xbar @ beta
        offset = beta - stats.beta_hat
        quadratic = quadratic + offset @ stats.within @ offset
    quadratic = quadratic + jnp.sum(stats.weight * residual**2)
    if stats.known_se:
        return stats.log_norm - 0.5 * quadratic
    return stats.log_norm - stats.n * jnp.log(sigma) - 0.5 * quadratic / sigma**2
