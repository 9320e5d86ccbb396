"""Leave-one-group-out (LOGO) cross-validation: how well each strategy predicts a
group it has not seen, where PSIS-LOO asks about a new observation in a known group.

A new group's intercept is unknown, so its rows are scored by their marginal density
with the intercept integrated out. For the gaussian family this is closed form: given
the population parameters, the group's residuals are multivariate normal with
covariance D + tau^2 11' (D = sigma^2 I, or the known se^2 on the diagonal). For every
other family it is a one-dimensional integral per draw and group, done by adaptive
Gauss–Hermite quadrature: nodes centred on the integrand's mode and scaled by its
curvature there, so that a group of many rows (a sharply peaked likelihood) is
integrated as accurately as a group of one. Complete pooling has tau = 0: nothing to
integrate. No pooling has no population to draw a new group from, so it has no LOGO
score.

Every grouping factor has its own LOGO (leave one county out, leave one state out):
a left-out level's effects and those of every level nested in it are integrated out,
the effects of the factors it is nested in and of crossed factors are the fit's. With
varying slopes or nested levels these effects span several dimensions: the gaussian
marginal stays closed form, N(eta, D + W G W') with W the rows' varying terms and G
the effects' covariance, by Woodbury's identity; other families use adaptive
Gauss–Hermite quadrature on a product grid of at most GRID_NODES nodes, which becomes
the Laplace approximation (lme4's glmer default) where a level has more than six
effects.

Two estimates of the same quantity: PSIS on that marginal likelihood (one fit, part
of every run) and exact grouped K-fold refits (the `kfold` target).
"""

import functools
import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.polynomial.hermite import hermgauss
from scipy.special import logsumexp

from . import families, strategies
from .data import load_prepared, stored_arrays, subset_groups
from .errors import DataError
from .hierarchy import SINGLE, factors_of
from .moments import cell_moments
from .priors import resolve_priors
from .shifted import shifted

log = logging.getLogger(__name__)

NO_POPULATION = "no population: no pooling cannot predict a group it has not seen"
CHUNK = 2**24  # draws x rows per block when scoring (bounded memory on large data)
LEVEL_BLOCK = 256  # levels per block of PSIS-LOGO (the chunked PSIS-LOO's block size)
# Gauss–Hermite nodes per draw and group: 32 integrate a group within 1e-6 (in log)
# wherever its likelihood has a peak, and within 4e-6 (tau = 2 on the log scale) to
# 1.3e-4 (tau = 3) where it is a one-sided step against the prior's tail (a lone zero
# count), the hardest case, where 20 nodes leave 5e-5 to 6e-4 (tests/test_family_loo).
NODES = 32
# Where a level has q > 1 effects (slopes, nested levels) and the family is not
# gaussian: a product grid of at most this many nodes, nodes_per_dimension(q) per axis.
GRID_NODES = 64
MODE_STEPS = 50  # at most this many Fisher-scoring steps to a group's mode
HALVINGS = 30  # at most this many halvings of a step that does not raise the integrand
MODE_TOLERANCE = 1e-4  # a step shorter than this (in the integrand's sd) ends the search
ROUNDING = 1e-10  # a relative fall of the log integrand this small is rounding, not overshoot


def folds_of(n_groups, folds, seed):
    """Fold index of each group: one group per fold when `folds` is None (exact LOGO),
    else groups shuffled by `seed` and dealt round-robin into `folds` folds."""
    if folds is None or folds >= n_groups:
        return np.arange(n_groups)
    order = np.random.default_rng(seed).permutation(n_groups)
    assignment = np.empty(n_groups, dtype=int)
    assignment[order] = np.arange(n_groups) % folds
    return assignment


@dataclass(frozen=True)
class _Rows:
    """A dataset's rows sorted by group, so that a sum over each group's rows is one
    np.add.reduceat however many rows each group has."""

    y: np.ndarray
    group: np.ndarray
    starts: np.ndarray  # first row of each group
    X: np.ndarray | None
    se: np.ndarray | None
    trials: np.ndarray | None
    offset: np.ndarray | None

    @classmethod
    def by_group(cls, y, group, n_groups, **arrays):
        order = np.argsort(group, kind="stable")
        group = np.asarray(group)[order]
        return cls(y=np.asarray(y, dtype=float)[order], group=group,
                   starts=np.searchsorted(group, np.arange(n_groups)),
                   **{k: None if v is None else np.asarray(v, dtype=float)[order] for k, v in arrays.items()})

    def total(self, values):
        """Per-group sums of (draws, rows) values: (draws, groups)."""
        return np.add.reduceat(values, self.starts, axis=1)

    def log_density(self, family, eta, aux):
        """Each group's rows' log density at linear predictors `eta` (draws, rows)."""
        return self.total(family.log_density(self.y, eta, aux, self.trials))


def _fixed_intercept(family, rows, eta, tau, aux):
    """tau = 0 (complete pooling): the group's intercept is the population mean, so
    the rows' density is exact, with no integral."""
    return rows.log_density(family, eta, aux)


def _adaptive_quadrature(family, rows, eta, tau, aux):
    """log of the integral over z of exp(h(z)), h(z) = log p(y_j | eta + tau z) +
    log N(z; 0, 1), per draw and group: NODES Gauss–Hermite nodes at the mode of h,
    spread by its curvature there. Fixed nodes around z = 0 would miss a likelihood
    narrower than their spacing (a group of many rows) or far from the prior's mean."""
    tau = tau[:, None]
    at = shifted(family, rows, eta, aux)

    def h(z):
        return at.log_density(tau * z) - 0.5 * z**2 - 0.5 * math.log(2 * math.pi)

    def slope(z):
        score, information = at.score(tau * z)
        return tau * score - z, tau**2 * information + 1

    mode, curvature = _mode(h, slope, (eta.shape[0], len(rows.starts)))
    scale = math.sqrt(2) / np.sqrt(curvature)
    nodes, weights = hermgauss(NODES)
    total = np.full(mode.shape, -np.inf)
    for node, weight in zip(nodes, weights):
        total = np.logaddexp(total, math.log(weight) + node**2 + h(mode + scale * node))
    return total + np.log(scale)


def _mode(h, slope, shape):
    """(mode of h, Fisher information of h there) per draw and group, by Fisher
    scoring from z = 0. A step that does not raise h is halved: from far below the
    data a Poisson step overshoots by orders of magnitude, and the t family's
    expected information can be smaller than its curvature."""
    z = np.zeros(shape)
    value = h(z)
    for _ in range(MODE_STEPS):
        gradient, information = slope(z)
        step = gradient / information
        moving = np.abs(step) * np.sqrt(information) > MODE_TOLERANCE
        if not moving.any():
            break
        step = np.where(moving, step, 0.0)
        for _ in range(HALVINGS):
            candidate = z + step
            new = h(candidate)
            better = new >= value - ROUNDING * (1 + np.abs(value))
            z, value = np.where(better, candidate, z), np.where(better, new, value)
            if better.all():
                break
            step = np.where(better, 0.0, step / 2)
    return z, slope(z)[1]


CLOSED_FORM = {"gaussian"}  # families whose group marginal needs no quadrature


def group_log_lik(strategy, posterior, y, group, n_groups, family="gaussian", se=None, X=None, U=None,
                  trials=None, offset=None):
    """log p(y_j | population draw) for every draw and group of one varying intercept
    `(1 | g)`, the group's intercept integrated out: (draws, groups). `posterior`:
    flat draws {name: (draws, ...)}; `family`: a pooling.families name."""
    from .models import single_factor

    arrays = dict(y=y, group=group, n_groups=n_groups, se=se, X=X, U=U, trials=trials, offset=offset, Z=None)
    return factor_log_lik(strategy, posterior, arrays, single_factor(n_groups), 0, family=family)


def _flat(posterior, name):
    return None if name not in posterior else np.asarray(posterior[name], dtype=float)


def _common(p, slopes, predictors):
    """(draws, 1 + slopes) the population's intercept and each varying slope's mean."""
    beta = p.get("beta")
    columns = [p["mu"]] + [beta[:, list(predictors).index(t)] if beta is not None and t in predictors
                           else np.zeros(len(p["mu"])) for t in slopes]
    return np.stack(columns, axis=-1)


def _deviations(p, factors, k, common, center, slopes):
    """(draws, levels, 1 + slopes) the effects of factor k: its levels' coefficients
    less those of the level above (the factor it is nested in, else the population),
    rebuilt from the fit's totals (theta, slope and their per-factor namesakes)."""
    factor = factors[k]

    @functools.cache  # the parent's totals: once for k's and once to subtract
    def total(a):
        f = factors[a]
        parent = (total(f.ancestors[-1])[:, f.ancestor_level(factors[f.ancestors[-1]])] if f.ancestors
                  else np.broadcast_to(common[:, None, :], (len(common), f.n_levels, common.shape[1])))
        out = np.array(parent)
        if f.intercept:
            out[..., 0] = p[f.name_of("theta")] - (center if f.finest else 0.0)
        for t in (slopes if f.finest else f.slopes):
            if f.finest and "slope" not in p:
                continue
            column = slopes.index(t)
            out[..., 1 + column] = (p["slope"][..., column] if f.finest
                                    else p[f.name_of("slope")][..., f.slopes.index(t)])
        return out

    own = total(k)
    if not factor.ancestors:
        return own - common[:, None, :]
    parent = factor.ancestors[-1]
    return own - total(parent)[:, factor.ancestor_level(factors[parent])]


def factor_log_lik(strategy, posterior, arrays, factors, k, family="gaussian", slopes=(), predictors=()):
    """log p(y_l | population draw) for every draw and level l of factor k: the rows of
    the level scored with its effects, and those of every factor nested in it, integrated
    out; the effects of the factors it is nested in and of crossed factors are the
    fit's. (draws, levels). `arrays`: the model's arrays (pooling.data.stored_arrays);
    `slopes` and `predictors`: the names of Z's and X's columns."""
    if not strategies.named(strategy).has_population:
        raise ValueError(NO_POPULATION)
    p = {name: _flat(posterior, name) for name in posterior}
    common = _common(p, slopes, predictors)
    center = _center(p, arrays.get("U"), len(factors[k].level))
    new = _new_factors(factors, k)
    cells = common[:, None, :] + np.zeros((1, len(factors[k].level), 1))
    cells[..., 0] += center
    if strategies.named(strategy).estimates_tau:
        for a, factor in enumerate(factors):
            if a not in new:
                cells += _deviations(p, factors, a, common, center, slopes)[:, factor.level]
    return _integrated(strategy, families.named(family), p, arrays, factors, k, cells, common, slopes)


def _center(p, U, n_cells):
    """(draws, cells) the group-level predictors' part of each cell's intercept."""
    return np.zeros((len(p["mu"]), n_cells)) if U is None else p["gamma"] @ np.asarray(U, dtype=float).T


def linear_predictor(cells, cell, common, beta=None, X=None, Z=None, offset=None):
    """(draws, rows) each row's linear predictor: the intercept of its cell (`cell`,
    into `cells` (draws, cells, 1 + slopes)), X·beta, Z times its cell's varying slopes
    less their population means (`common` (draws, 1 + slopes)), and the offset."""
    eta = cells[:, cell, 0]
    if X is not None:
        eta = eta + beta @ X.T
    if Z is not None:
        eta = eta + np.einsum("drs,rs->dr", cells[:, cell, 1:] - common[:, None, 1:], Z)
    if offset is not None:
        eta = eta + offset
    return eta


def _new_factors(factors, k):
    """The factors whose effects leaving out a level of factor k integrates: k and
    every factor nested in it."""
    return [a for a, f in enumerate(factors) if a == k or k in f.ancestors]


def _integrated(strategy, family, p, arrays, factors, k, cells, common, slopes):
    """(draws, levels of k) each level's rows' density, the new factors' effects
    integrated out, given `cells` (draws, cells, 1 + slopes): each cell's coefficients
    without them."""
    n = len(p["mu"])
    new = _new_factors(factors, k)
    multidimensional = new != [k] or factors[k].terms != ("1",)
    if family.name in CLOSED_FORM and not multidimensional:
        tau = p[factors[k].name_of("tau")] if strategies.named(strategy).estimates_tau else np.zeros(n)
        return _normal_by_cells(p, arrays, factors[k], cells, common, tau)
    group = np.asarray(arrays["group"])
    level = factors[k].level[group]
    order = np.argsort(level, kind="stable")
    rows = _Rows.by_group(arrays["y"], level, factors[k].n_levels, se=arrays.get("se"),
                          trials=arrays.get("trials"), X=None, offset=None)
    Z = None if arrays.get("Z") is None else np.asarray(arrays["Z"], dtype=float)
    X = None if arrays.get("X") is None else np.asarray(arrays["X"], dtype=float)
    step = max(1, CHUNK // len(rows.y))  # draws per block: (draws, rows) arrays of bounded size
    blocks = []
    for draws, _ in _draw_blocks(n, step):
        eta = linear_predictor(cells[draws], group, common[draws], None if X is None else p["beta"][draws],
                               X, Z, arrays.get("offset"))[:, order]
        part = {name: None if v is None else v[draws] for name, v in p.items()}
        aux = {name: part[name][:, None] for name in family.auxiliary if part.get(name) is not None}
        aux = aux if rows.se is None else {**aux, "sigma": rows.se}
        if not strategies.named(strategy).estimates_tau:
            blocks.append(_fixed_intercept(family, rows, eta, None, aux))
        elif not multidimensional:
            blocks.append(_adaptive_quadrature(family, rows, eta, part[factors[k].name_of("tau")], aux))
        else:
            integrate = _normal_blocks if family.name in CLOSED_FORM else _adaptive_blocks
            blocks.append(integrate(family, part, factors, new, rows, eta, group[order],
                                    None if Z is None else Z[order], slopes, aux))
    return np.concatenate(blocks)


def _normal_by_cells(p, arrays, factor, cells, common, tau):
    """Gaussian, one new intercept per level of `factor` (tau = 0: complete pooling,
    nothing to integrate): a level's rows are N(eta, D + tau^2 11'), in closed form from
    each cell's sufficient statistics (pooling.moments.cell_moments on the row terms
    (1, Z, X), as the sampler's varying-slope likelihood reduces them), so a draw costs
    O(cells) rather than O(rows). With c a cell's coefficients and d = c - c_hat, its rows'
    weighted residuals sum to -(G d)_0 and their squares to rss + d' G d. Weights are
    1 / se^2 with known standard errors, else 1 (sigma^2 divides per draw). (draws, levels)."""
    cell = np.asarray(arrays["group"])
    n_cells, draws = cells.shape[1], len(tau)
    y = np.asarray(arrays["y"], dtype=float) - (0.0 if arrays.get("offset") is None else arrays["offset"])
    se = arrays.get("se")
    w = np.ones_like(y) if se is None else np.asarray(se, dtype=float) ** -2.0
    X, Z = (None if arrays.get(name) is None else np.asarray(arrays[name], dtype=float) for name in ("X", "Z"))
    V = np.column_stack([np.ones_like(y), *[m for m in (Z, X) if m is not None]])
    gram, center, rss = cell_moments(y, cell, n_cells, V, w)
    order = np.argsort(factor.level, kind="stable")
    starts = np.searchsorted(factor.level[order], np.arange(factor.n_levels))
    finest = np.array_equal(factor.level, np.arange(n_cells))  # each level its own cell: nothing to add

    def per_level(values):  # (..., cells) -> (..., levels)
        return values if finest else np.add.reduceat(values[..., order], starts, axis=-1)

    size = per_level(np.bincount(cell, minlength=n_cells).astype(float))
    log_variance = None if se is None else per_level(np.bincount(cell, np.log(np.asarray(se, dtype=float) ** 2),
                                                                 minlength=n_cells))
    weights = per_level(gram[:, 0, 0])  # each level's sum of weights
    out = np.empty((draws, len(starts)))
    for block, n in _draw_blocks(draws, max(1, CHUNK // (n_cells * V.shape[1] ** 2))):
        parts = [cells[block, :, :1]]
        if Z is not None:
            parts.append(cells[block, :, 1:] - common[block, None, 1:])
        if X is not None:
            parts.append(np.broadcast_to(p["beta"][block, None, :], (n, n_cells, X.shape[1])))
        d = np.concatenate(parts, axis=-1) - center
        Gd = np.einsum("cij,dcj->dci", gram, d)
        weighted = per_level(-Gd[..., 0])
        squares = per_level(rss + np.einsum("dci,dci->dc", d, Gd))
        precision = np.broadcast_to(weights, weighted.shape)
        if se is None:
            variance = p["sigma"][block, None] ** 2
            weighted, squares, precision = weighted / variance, squares / variance, precision / variance
            log_det = size * np.log(variance)
        else:
            log_det = log_variance
        tau2 = tau[block, None] ** 2
        shrink = 1 + tau2 * precision
        out[block] = -0.5 * (size * math.log(2 * math.pi) + log_det + np.log(shrink) + squares
                             - tau2 * weighted**2 / shrink)
    return out


def heldout_elpd(strategy, posterior, data, heldout, family="gaussian", k=0, seed=0):
    """Exact K-fold score of each held-out level of grouping factor k (the one factor of
    `(1 | g)` by default): log of the mean over draws of a refit on every cell but the
    `heldout` ones of the level's marginal density, its effects and its nested levels'
    integrated out as in PSIS-LOGO. The levels of other factors that the refit saw keep
    its effects; a level it never saw (a batch all of whose casks were held out, a
    crossed level found only in the held-out rows) is new to it: its effects are drawn
    from the population with each posterior draw (brms's sample_new_levels =
    "gaussian"), with a generator seeded by `seed`. (levels of k held out,)"""
    from .hierarchy import subset_factors
    from .models import single_factor

    if not strategies.named(strategy).has_population:
        raise ValueError(NO_POPULATION)
    p = {name: _flat(posterior, name) for name in posterior}
    slopes, predictors = tuple(data.slope_names), tuple(data.predictor_names)
    U = data.U if strategies.named(strategy).group_predictors else None
    common = _common(p, slopes, predictors)
    every = data.factors or single_factor(data.n_groups)
    factors = subset_factors(every, heldout)
    cells = common[:, None, :] + np.zeros((1, len(heldout), 1))
    cells[..., 0] += _center(p, None if U is None else U[heldout], len(heldout))
    known_factors = [a for a in range(len(factors)) if a not in _new_factors(factors, k)]
    if strategies.named(strategy).estimates_tau and known_factors:
        training = np.setdiff1d(np.arange(data.n_groups), heldout)
        trained = subset_factors(every, training)
        seen = _center(p, None if U is None else U[training], len(training))
        add_level_effects(cells, p, factors, trained, known_factors, common, seen, slopes,
                          np.random.default_rng(seed))
    cell = np.full(data.n_groups, -1)
    cell[heldout] = np.arange(len(heldout))
    rows = np.flatnonzero(cell[data.group] >= 0)

    def subset(values):
        return None if values is None else values[rows]

    arrays = dict(y=data.y[rows], group=cell[data.group[rows]], se=subset(data.se), X=subset(data.X),
                  Z=subset(data.Z), trials=subset(data.trials), offset=subset(data.offset))
    ll = _integrated(strategy, families.named(family), p, arrays, factors, k, cells, common, slopes)
    return logsumexp(ll, axis=0) - math.log(ll.shape[0])


def add_level_effects(cells, p, factors, trained, which, common, seen, slopes, rng):
    """Add to `cells` (draws, cells, 1 + slopes), coefficients of cells whose levels
    `factors` label, the effects of each factor in `which`: a level the fit saw (a label
    of `trained`, the same factors over the fit's own cells, `seen` their group-level
    predictors' part) keeps the fit's effects; a level new to it gets one draw from the
    population per posterior draw, from `rng` (brms's sample_new_levels = "gaussian").
    A K-fold refit's held-out cells (heldout_elpd) and a test file's rows
    (pooling.heldout) are both cells some of whose levels the fit never saw."""
    for a in which:
        known = _deviations(p, trained, a, common, seen, slopes)
        index = {label: level for level, label in enumerate(trained[a].labels)}
        for level, label in enumerate(factors[a].labels):
            cells[:, factors[a].level == level] += (
                known[:, [index[label]]] if label in index
                else _population_draw(p, factors[a], slopes, rng)[:, None])
    return cells


def _population_draw(p, factor, slopes, rng):
    """(draws, 1 + slopes) the effects of a level new to a fit, one draw from the
    population per posterior draw, in the columns of the factor's terms."""
    C = _cholesky_of_effects(p, factor)
    effects = (C @ rng.standard_normal(C.shape[:2])[..., None])[..., 0]
    out = np.zeros((len(effects), 1 + len(slopes)))
    columns = ([0] if factor.intercept else []) + [1 + slopes.index(t) for t in factor.slopes]
    out[:, columns] = effects
    return out


def _cholesky_of_effects(p, factor):
    """(draws, terms, terms) the Cholesky factor of a factor's effect covariance."""
    scales = ([p[factor.name_of("tau")][:, None]] if factor.intercept else []) + \
        ([p[factor.name_of("tau_slope")]] if factor.slopes else [])
    scale = np.concatenate(scales, axis=1)
    if len(factor.terms) == 1:
        return scale[:, :, None]
    correlation = p[factor.name_of("corr")]
    jitter = 1e-10 * np.eye(len(factor.terms))
    return scale[:, :, None] * np.linalg.cholesky(correlation + jitter)


def _level_terms(factors, new, cells, Z, slopes):
    """(W, blocks) of one level's rows: W their varying terms for every new effect
    (the level's and its nested levels', one column block per level of each), blocks
    the factor of each column block."""
    blocks, columns = [], []
    for a in new:
        factor = factors[a]
        levels = factor.level[cells]
        for value in np.unique(levels):
            member = (levels == value).astype(float)
            terms = ([member] if factor.intercept else []) + [member * Z[:, slopes.index(t)]
                                                             for t in factor.slopes]
            columns.append(np.stack(terms, axis=1))
            blocks.append(a)
    return np.concatenate(columns, axis=1), blocks


def _levels(factors, new, rows, cells, Z, slopes):
    """(level, its rows' span, W, blocks) of each level of the left-out factor, W and
    blocks as _level_terms gives them."""
    ends = np.append(rows.starts[1:], len(rows.y))
    for level, (start, end) in enumerate(zip(rows.starts, ends)):
        span = slice(start, end)
        yield (level, span, *_level_terms(factors, new, cells[span], None if Z is None else Z[span], slopes))


def _draw_blocks(total, step):
    """(slice, size) of consecutive blocks of `step` draws out of `total`."""
    for start in range(0, total, step):
        yield slice(start, start + step), min(step, total - start)


def _block_cholesky(cholesky, factors, blocks, draws, n):
    """(n, q, q) the block-diagonal Cholesky factor of the new effects' covariance, for
    the n draws `draws`."""
    q = sum(len(factors[a].terms) for a in blocks)
    C = np.zeros((n, q, q))
    at = 0
    for a in blocks:
        size = len(factors[a].terms)
        C[:, at:at + size, at:at + size] = cholesky[a][draws]
        at += size
    return C


def _normal_blocks(family, p, factors, new, rows, eta, cells, Z, slopes, aux):
    """Gaussian: each level's rows are N(eta, D + W G W'), W the rows' varying terms of
    every new effect (the level's and its nested levels'), G their block-diagonal
    covariance: by the matrix determinant lemma and Woodbury's identity, with
    M = I + C' W' D^-1 W C (C = chol G), per draw. D is sigma^2 I or the known se^2,
    so W' D^-1 W is sigma^-2 (or 1) times one matrix per level: per draw only q x q
    products remain (q: the new effects), in blocks of draws of bounded memory."""
    cholesky = {a: _cholesky_of_effects(p, factors[a]) for a in new}
    out = np.empty((eta.shape[0], len(rows.starts)))
    for level, span, W, blocks in _levels(factors, new, rows, cells, Z, slopes):
        size, q = W.shape
        weight = np.ones(size) if rows.se is None else rows.se[span] ** -2.0
        A = (W * weight[:, None]).T @ W
        for draws, n in _draw_blocks(eta.shape[0], max(1, CHUNK // (q * q + size))):
            C = _block_cholesky(cholesky, factors, blocks, draws, n)
            residual = rows.y[span] - eta[draws, span]
            if rows.se is None:
                scale = aux["sigma"][draws, 0] ** -2.0
                log_det_noise = size * np.log(aux["sigma"][draws, 0] ** 2)
            else:
                scale = np.ones(n)
                log_det_noise = np.full(n, np.log(rows.se[span] ** 2).sum())
            Ct = C.transpose(0, 2, 1)
            M = np.eye(q) + scale[:, None, None] * (Ct @ A @ C)
            b = scale[:, None] * (Ct @ ((residual * weight) @ W)[..., None])[..., 0]
            L = np.linalg.cholesky(M)
            solved = np.linalg.solve(L, b[..., None])[..., 0]
            out[draws, level] = -0.5 * (size * math.log(2 * math.pi) + log_det_noise
                                        + 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1)
                                        + scale * (residual**2 * weight).sum(1) - (solved**2).sum(1))
    return out


def nodes_per_dimension(q):
    """Gauss–Hermite nodes per dimension for q effects: the most that keep the product
    grid within GRID_NODES points, at least one (one node is the Laplace approximation,
    as lme4's glmer does wherever a level has more than one effect)."""
    return max(1, int(math.floor(GRID_NODES ** (1 / q) + 1e-9)))


def _adaptive_blocks(family, p, factors, new, rows, eta, cells, Z, slopes, aux):
    """Other families: log of the integral over each level's new effects u = C z,
    z ~ N(0, I) (C = chol G, as in _normal_blocks) of p(y | eta + W C z), by adaptive
    Gauss–Hermite quadrature on a product grid: centred at the mode of the integrand
    (Fisher scoring with step halving, per draw), rotated and scaled by the Cholesky
    factor of its information there, nodes_per_dimension(q) nodes along each axis."""
    cholesky = {a: _cholesky_of_effects(p, factors[a]) for a in new}
    out = np.empty((eta.shape[0], len(rows.starts)))
    for level, span, W, blocks in _levels(factors, new, rows, cells, Z, slopes):
        size, q = W.shape
        nodes, weights = hermgauss(nodes_per_dimension(q))
        grid = np.array(list(itertools.product(nodes, repeat=q)))  # at most GRID_NODES points
        log_weights = np.log(np.array(list(itertools.product(weights, repeat=q)))).sum(1)
        y = rows.y[span]
        trials = None if rows.trials is None else rows.trials[span]
        for draws, n in _draw_blocks(eta.shape[0], max(1, CHUNK // (size * (q + len(grid)) + q * q))):
            C = _block_cholesky(cholesky, factors, blocks, draws, n)
            WC = np.einsum("rq,nqp->nrp", W, C)  # (draws, rows, q): each row's terms, whitened
            part = {name: value[draws] for name, value in aux.items()}

            h, slope = _whitened(family, y, trials, eta[draws, span], WC, part)
            mode, information = _joint_mode(h, slope, (n, q))
            L = np.linalg.cholesky(information)
            # z = mode + sqrt(2) L^-T x for every grid node x: (draws, nodes, q)
            shift = math.sqrt(2) * np.linalg.solve(L.transpose(0, 2, 1)[:, None], grid[None, :, :, None])[..., 0]
            values = np.stack([h(mode + shift[:, g]) for g in range(len(grid))], axis=1)
            out[draws, level] = (logsumexp(log_weights + (grid**2).sum(1) + values, axis=1)
                                 + 0.5 * q * math.log(2) - np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1))
    return out


def _whitened(family, y, trials, offset, WC, aux):
    """(h, its gradient and information) of a level's whitened effects z, per draw:
    h(z) = log p(y | offset + WC z) + log N(z; 0, I)."""
    q = WC.shape[-1]

    def h(z):
        linear = offset + np.einsum("nrp,np->nr", WC, z)
        return (family.log_density(y, linear, aux, trials).sum(-1)
                - 0.5 * (z**2).sum(-1) - 0.5 * q * math.log(2 * math.pi))

    def slope(z):
        score, information = family.score(y, offset + np.einsum("nrp,np->nr", WC, z), aux, trials)
        gradient = np.einsum("nrp,nr->np", WC, score) - z
        return gradient, np.einsum("nrp,nr,nrs->nps", WC, information, WC) + np.eye(q)

    return h, slope


def _joint_mode(h, slope, shape):
    """(mode of h, information of h there) per draw for q-dimensional z: Fisher scoring
    from z = 0, a step that does not raise h halved (as _mode, in several dimensions)."""
    z = np.zeros(shape)
    value = h(z)
    for _ in range(MODE_STEPS):
        gradient, information = slope(z)
        step = np.linalg.solve(information, gradient[..., None])[..., 0]
        moving = np.sqrt(np.einsum("np,np->n", step, gradient).clip(0)) > MODE_TOLERANCE
        if not moving.any():
            break
        step = np.where(moving[:, None], step, 0.0)
        for _ in range(HALVINGS):
            candidate = z + step
            new = h(candidate)
            better = new >= value - ROUNDING * (1 + np.abs(value))
            z, value = np.where(better[:, None], candidate, z), np.where(better, new, value)
            if better.all():
                break
            step = np.where(better[:, None], 0.0, step / 2)
    return z, slope(z)[1]


def psis_logo(idata, strategy, k=None, reff=None):
    """PSIS-LOGO of one fit, leaving out each level of grouping factor k (default: the
    finest, the fit's groups): what az.loo gives on the levels' marginal
    log-likelihoods, under the fit's family (fits from before families are gaussian),
    with PSIS on blocks of levels (pooling.psis: az.psislw's loop took 7 s for 10^4
    levels) and `reff` the fit's (psis.relative_ess when not given)."""
    factors = factors_of(idata)
    k = next(a for a, f in enumerate(factors) if f.finest) if k is None else k
    posterior = idata.posterior.stack(sample=("chain", "draw")).transpose("sample", ...)
    coords = idata.posterior.coords
    ll = factor_log_lik(
        strategy, {name: v.values for name, v in posterior.data_vars.items()}, stored_arrays(idata), factors, k,
        family=idata.attrs.get("family", "gaussian"),
        slopes=tuple(coords["varying"].values) if "varying" in coords else (),
        predictors=tuple(coords["predictor"].values) if "predictor" in coords else ())
    from .psis import elpd_data, loo_scores, relative_ess  # imports ArviZ, which fit jobs (newgroup) never need

    reff = relative_ess(idata.posterior) if reff is None else reff
    by_level = np.ascontiguousarray(ll.T)
    scores = [loo_scores(by_level[start:start + LEVEL_BLOCK], reff)
              for start in range(0, len(by_level), LEVEL_BLOCK)]
    loo_i, lppd_i, pareto_k = (np.concatenate(parts) for parts in zip(*scores))
    return elpd_data(loo_i, lppd_i, pareto_k, ll.shape[0], {"group": list(factors[k].labels)})


def _difference(pointwise, best):
    diff = pointwise - best
    return diff.sum(), math.sqrt(len(diff) * diff.var()) if len(diff) > 1 else 0.0


def logo_tables(fits, kfold=None, reffs=None):
    """(summary, per level) tables for every grouping factor (`factor`: its name, as
    the formula writes it; `group` for one varying intercept): PSIS-LOGO with Pareto
    k, and exact K-fold LOGO where `kfold` (rows: factor, strategy, group, fold, elpd)
    has every level of the factor. The summary has a row per factor and strategy.
    `reffs` ({strategy: psis.relative_ess}) spares recomputing each fit's for every
    factor."""
    from .psis import relative_ess

    reffs = reffs or {strategy: relative_ess(idata.posterior) for strategy, idata in fits.items()}
    summaries, groups = [], []
    for k, factor in enumerate(factors_of(next(iter(fits.values())))):
        scores = None if kfold is None else kfold[kfold["factor"] == factor.name]
        summary, table = _factor_tables(fits, k, factor, scores, reffs)
        summaries.append(summary.assign(factor=factor.name))
        groups.append(table.assign(factor=factor.name) if len(table) else table)
    summary = pd.concat(summaries)
    summary = summary[["factor", *[c for c in summary.columns if c != "factor"]]]
    groups = pd.concat(groups, ignore_index=True)
    if "factor" in groups:
        groups = groups[["factor", *[c for c in groups.columns if c != "factor"]]]
    return summary, groups


def _factor_tables(fits, k, factor, kfold, reffs):
    groups, summary = [], []
    for strategy, idata in fits.items():
        if not strategies.named(strategy).has_population:
            summary.append({"strategy": strategy, "note": NO_POPULATION})
            continue
        loo = psis_logo(idata, strategy, k, reffs[strategy])
        table = pd.DataFrame({"strategy": strategy, "group": list(factor.labels),
                              "elpd_psis": loo.loo_i.values, "pareto_k": loo.pareto_k.values})
        summary.append({"strategy": strategy, "elpd_psis": loo.elpd_loo, "se_psis": loo.se,
                        "p_logo": loo.p_loo, "n_pareto_k_high": int((loo.pareto_k > loo.good_k).sum()),
                        "max_pareto_k": float(loo.pareto_k.max()), "pareto_k_threshold": loo.good_k,
                        "note": ""})
        if kfold is not None and strategy in set(kfold["strategy"]):
            scores = kfold[kfold["strategy"] == strategy].set_index("group")
            table["elpd_kfold"] = scores.loc[table["group"], "elpd"].to_numpy()
            table["fold"] = scores.loc[table["group"], "fold"].to_numpy()
            summary[-1].update(elpd_kfold=table["elpd_kfold"].sum(),
                               se_kfold=math.sqrt(len(table) * table["elpd_kfold"].var(ddof=0)),
                               folds=int(table["fold"].nunique()))
        groups.append(table)
    groups = pd.concat(groups, ignore_index=True) if groups else pd.DataFrame()
    summary = pd.DataFrame(summary).set_index("strategy")
    if "n_pareto_k_high" in summary:
        summary["n_pareto_k_high"] = summary["n_pareto_k_high"].astype("Int64")
    if "folds" in summary:
        summary["folds"] = summary["folds"].astype("Int64")
    for method in ("psis", "kfold"):
        column = f"elpd_{method}"
        if column not in summary or summary[column].isna().all():
            continue
        best = summary[column].idxmax()
        wide = groups.pivot(index="group", columns="strategy", values=column)
        diffs = {s: _difference(wide[s], wide[best]) for s in wide if not wide[s].isna().any()}
        summary[f"elpd_diff_{method}"] = [diffs.get(s, (np.nan, np.nan))[0] for s in summary.index]
        summary[f"dse_{method}"] = [diffs.get(s, (np.nan, np.nan))[1] for s in summary.index]
    if "elpd_psis" in summary:
        summary = summary.sort_values("elpd_psis", ascending=False, na_position="last")
    return summary, groups


def kfold_fold(prepared_csv, source_csv, strategy, settings, kfold, fold, out, factor=SINGLE):
    """Refit `strategy` without the levels of `factor` (its name as the formula writes
    it; SINGLE for one varying intercept) in fold `fold`, and score them; the priors are
    those of the full-data fit, so every refit answers the same question."""
    from .fit import run_nuts  # JAX and numpyro: only the refit jobs need them, not compare

    if not strategies.named(strategy).has_population:
        raise DataError(f"kfold for {strategy}: {NO_POPULATION}")
    data = load_prepared(prepared_csv)
    names = [f.name for f in data.factors] or [SINGLE]
    if factor not in names:
        raise DataError(f"{source_csv}: kfold has no grouping factor {factor!r}; the formula's are "
                        f"{', '.join(names)}")
    k = names.index(factor)
    levels = data.factors[k].level if data.factors else np.arange(data.n_groups)
    labels = data.factors[k].labels if data.factors else data.group_labels
    assignment = folds_of(len(labels), kfold["folds"], kfold["seed"])
    if fold > assignment.max():
        raise DataError(f"{source_csv}: kfold.folds asks for fold {fold + 1} but {factor} has only "
                        f"{len(labels)} levels; set kfold.folds to at most {len(labels)}")
    heldout = np.flatnonzero(assignment[levels] == fold)  # cells
    training = np.flatnonzero(assignment[levels] != fold)
    if strategies.named(strategy).estimates_tau and len(np.unique(levels[training])) < 2:
        raise DataError(f"{source_csv}: fold {fold} leaves {len(np.unique(levels[training]))} level of "
                        f"{factor} to fit; partial pooling needs two or more: use fewer folds")
    family = settings.get("family", "gaussian")
    priors = resolve_priors(strategy, settings.get("priors", {}), data, family)
    held = pd.unique(levels[heldout])  # in the order heldout_elpd scores them
    log.info("%s fold %d: holding out %s %s, fitting %d cells", strategy, fold, factor,
             ", ".join(labels[g] for g in held), len(training))
    mcmc = run_nuts(subset_groups(data, training), strategy, settings, priors=priors)[0]
    draws = {name: np.asarray(value) for name, value in mcmc.get_samples().items()}
    elpd = heldout_elpd(strategy, draws, data, heldout, family, k=k, seed=kfold["seed"])
    rows = np.bincount(levels[data.group], minlength=len(labels))[held]
    pd.DataFrame({
        "factor": factor, "strategy": strategy, "fold": fold, "group": [labels[g] for g in held], "rows": rows,
        "elpd": elpd,
        "divergences": int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum()),
    }).to_csv(out, index=False)
