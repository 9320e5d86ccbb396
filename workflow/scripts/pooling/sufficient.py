"""The likelihood of the rows through per-group sufficient statistics, so a gradient
during sampling costs O(groups), not O(rows), wherever that is exact.

Normal (`GroupStats`), with or without row predictors:

With weights w_i (1/se_i^2 when the standard errors are known, else 1) and values
centred within their group (weighted means ybar_g, xbar_g),

    sum_i w_i (y_i - theta_g - x_i beta)^2
      = rss + (beta - beta_hat)' S (beta - beta_hat) + sum_g W_g (ybar_g - theta_g - xbar_g beta)^2,

where W_g = sum of the group's weights, S = sum_i w_i (x_i - xbar_g)(x_i - xbar_g)',
beta_hat the within-group least-squares slope and rss its residual sum of squares.
Every term is a sum of squares computed before sampling, so nothing is lost to
cancellation however large the response or the row count.

Normal with varying slopes (`CellStats`): a cell's rows share its coefficients c_g =
(theta_g, its slope deviations s_g, beta) on the row terms v_i = (1, z_i, x_i), so with
G_g = sum_i w_i v_i v_i' and c_hat_g any least-squares solution of the cell's rows,

    sum_i w_i (y_i - v_i c_g)^2 = rss_g + (c_g - c_hat_g)' G_g (c_g - c_hat_g),

exact however few rows a cell has (the normal equations hold for every least-squares
solution, pseudo-inverse or not): O(cells x terms^2) per gradient, rss_g summed from
the rows' own residuals.

Binomial, bernoulli and poisson without row predictors (`CountStats`): the rows of a
group share one linear predictor theta_g (an offset o_i aside), so with S_g the
group's successes or counts,

    binomial: sum_i log p(y_i) = S_g theta_g - N_g log(1 + e^theta_g) + const
    poisson:  sum_i log p(y_i) = S_g theta_g - E_g e^theta_g + const

where N_g is the group's trials and E_g = sum_i e^o_i its exposure. The t and negative
binomial likelihoods have no such reduction: they sample the rows.

Negative binomial rows (`CountRows`): with mean mu_i = e^eta_i and one shape alpha,

    log p(y_i) = lgamma(y_i + alpha) - lgamma(alpha) - lgamma(y_i + 1)
                 + y_i log(mu_i / alpha) - (alpha + y_i) log(1 + mu_i / alpha),

and the log-gamma terms, the costly part of a gradient (with their digammas: ~45x a
poisson row's), depend on the row only through its count: they are summed once per
distinct count, weighted by how many rows have it, and only the cheap last line is
computed per row. The distinct counts are padded to a power of two (weight 0), so data
of the same size usually keep the compiled program's shapes.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln as jax_gammaln
from scipy.special import gammaln

from .moments import cell_moments


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
    per_row = False  # the likelihood is a function of the groups' linear predictors

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


def normal_log_lik(stats, theta, beta=None, sigma=None):
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


@dataclass(frozen=True)
class CountStats:
    successes: np.ndarray  # (groups,) S_g
    size: np.ndarray  # (groups,) N_g trials (binomial) or E_g exposure (poisson)
    log_norm: float  # the log density's terms that involve no parameter
    log_link: bool = False  # static: poisson (log link) rather than binomial (logit)
    n_predictors = 0
    per_row = False  # the likelihood is a function of the groups' linear predictors


jax.tree_util.register_dataclass(
    CountStats, data_fields=["successes", "size", "log_norm"], meta_fields=["log_link"])


def count_stats(family, y, group, n_groups, trials=None, offset=None):
    """CountStats of binomial/bernoulli or poisson rows without row predictors."""
    y = np.asarray(y, dtype=float)

    def per_group(values):
        return np.bincount(group, values, minlength=n_groups)

    if family.link == "log":
        offset = np.zeros_like(y) if offset is None else np.asarray(offset, dtype=float)
        return CountStats(per_group(y), per_group(np.exp(offset)),
                          float(np.sum(y * offset - gammaln(y + 1))), log_link=True)
    n = np.ones_like(y) if trials is None else np.asarray(trials, dtype=float)
    log_choose = gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)
    return CountStats(per_group(y), per_group(n), float(np.sum(log_choose)))


def count_log_lik(stats, theta):
    """The rows' total log density given the groups' linear predictors `theta`."""
    if stats.log_link:
        return stats.log_norm + jnp.sum(stats.successes * theta - stats.size * jnp.exp(theta))
    return stats.log_norm + jnp.sum(stats.successes * theta - stats.size * jnp.logaddexp(0.0, theta))


@dataclass(frozen=True)
class CellStats:
    n: float  # rows
    gram: np.ndarray  # (cells, terms, terms) G_g
    center: np.ndarray  # (cells, terms) c_hat_g
    rss: float  # sum of the cells' least-squares residual sums of squares
    log_norm: float
    n_predictors: int = 0  # static: the columns of x (the last terms)
    known_se: bool = False
    per_row = False  # the likelihood is a function of the cells' coefficients


jax.tree_util.register_dataclass(CellStats, data_fields=["n", "gram", "center", "rss", "log_norm"],
                                 meta_fields=["n_predictors", "known_se"])


def cell_stats(y, group, n_groups, Z, se=None, X=None):
    """CellStats of rows `y` in cells `group` with varying-slope columns Z and common
    columns X (None for none)."""
    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if se is None else 1 / np.asarray(se, dtype=float) ** 2
    V = np.column_stack([np.ones_like(y), Z, *([] if X is None else [X])])
    gram, center, rss = cell_moments(y, group, n_groups, V, w)
    log_norm = -0.5 * len(y) * np.log(2 * np.pi) - (0.0 if se is None else float(np.sum(np.log(se))))
    return CellStats(n=float(len(y)), gram=gram, center=center, rss=float(rss.sum()),
                     log_norm=log_norm, n_predictors=0 if X is None else X.shape[1], known_se=se is not None)


def cell_log_lik(stats, theta, slope_deviation, beta=None, sigma=None):
    """The rows' total log density given each cell's intercept, slope deviations and
    the common coefficients."""
    parts = [theta[:, None], slope_deviation]
    if beta is not None:
        parts.append(jnp.broadcast_to(beta, (theta.shape[0], beta.shape[0])))
    offset = jnp.concatenate(parts, axis=1) - stats.center
    quadratic = stats.rss + jnp.einsum("gi,gij,gj->", offset, stats.gram, offset)
    if stats.known_se:
        return stats.log_norm - 0.5 * quadratic
    return stats.log_norm - stats.n * jnp.log(sigma) - 0.5 * quadratic / sigma**2


@dataclass(frozen=True)
class CountRows:
    y: np.ndarray  # (rows,) the counts
    values: np.ndarray  # (distinct counts, padded) each count once
    weight: np.ndarray  # (distinct counts, padded) how many rows have it; 0 for padding
    log_norm: float  # -sum_i lgamma(y_i + 1)
    per_row = True  # the likelihood is a function of each row's linear predictor


jax.tree_util.register_dataclass(CountRows, data_fields=["y", "values", "weight", "log_norm"], meta_fields=[])


def count_rows(y):
    """CountRows of negative binomial counts `y`."""
    y = np.asarray(y, dtype=float)
    values, weight = np.unique(y, return_counts=True)
    size = 1 << max(len(values) - 1, 0).bit_length()
    pad = size - len(values)
    return CountRows(y=y, values=np.concatenate([values, np.zeros(pad)]),
                     weight=np.concatenate([weight, np.zeros(pad)]).astype(float),
                     log_norm=-float(np.sum(gammaln(y + 1))))


def negative_binomial_log_lik(stats, eta, alpha):
    """The rows' total negative binomial log density given each row's linear predictor
    (log mean) `eta` and the shape `alpha`."""
    log_ratio = eta - jnp.log(alpha)  # log(mu / alpha)
    log1p_ratio = jnp.logaddexp(0.0, log_ratio)  # log(1 + mu / alpha), accurate when mu << alpha
    by_count = jnp.sum(stats.weight * (jax_gammaln(stats.values + alpha) - jax_gammaln(alpha)))
    return stats.log_norm + by_count + jnp.sum(stats.y * (log_ratio - log1p_ratio) - alpha * log1p_ratio)


def sufficient_log_lik(stats, theta, beta=None, sigma=None, slope_deviation=None):
    """The rows' total log density from any kind of statistics."""
    if isinstance(stats, CountStats):
        return count_log_lik(stats, theta)
    if isinstance(stats, CellStats):
        return cell_log_lik(stats, theta, slope_deviation, beta, sigma)
    return normal_log_lik(stats, theta, beta, sigma)


def sufficient_stats(family, data):
    """The statistics NUTS samples on for `data` (a pooling.data.Prepared): the rows
    with their counts grouped by value (negative binomial), per-group statistics where
    they are exact, else None (then the rows are sampled)."""
    if family.counts_by_value:
        return count_rows(data.y)
    if data.Z is not None:
        if not family.sufficient_always:
            return None
        y = data.y if data.offset is None else data.y - data.offset
        return cell_stats(y, data.group, data.n_groups, data.Z, se=data.se, X=data.X)
    if family.sufficient_always:
        y = data.y if data.offset is None else data.y - data.offset  # identity link
        return group_stats(y, data.group, data.n_groups, se=data.se, X=data.X)
    if family.sufficient_without_predictors and data.X is None:
        return count_stats(family, data.y, data.group, data.n_groups, data.trials, data.offset)
    return None
