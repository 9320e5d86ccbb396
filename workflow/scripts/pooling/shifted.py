"""A family's log density and score at eta + shift, for many shifts of the same rows.

Leave-one-group-out's adaptive quadrature evaluates every row's density at ~40 shifts
of its linear predictor (the mode search, then 32 Gauss–Hermite nodes), each shift one
value per draw and group. Evaluated from scratch, a negative binomial row costs an exp
and a log1p each time, and NumPy's float64 exp and log1p run ~8 and ~14 ns per element
here (no AVX-512): most of the compare job. With a log or logit link, though,
exp(eta + shift) = exp(eta) exp(shift): exp(eta) and every term free of the shift are
computed once, exp(shift) once per draw and group, and a node costs one log1p per row
(none for the Poisson). Identity-link families evaluate their density as it is.

`shifted(family, rows, eta, aux)` gives an object whose `log_density(shift)` and
`score(shift)` take shift as (draws, groups) and return each group's sums over its rows
(`rows.total`, draws x groups) of what `family.log_density` and `family.score` return at
eta + shift[:, rows.group]; the terms linear in the shift are summed per group first.
"""

import numpy as np
from scipy import special

from .families import log_rising, softplus_from_exp


def shifted(family, rows, eta, aux):
    kind = {"identity": _Direct, "logit": _Trials}.get(family.link)
    kind = kind or (_NegativeBinomial if "alpha" in family.auxiliary else _Poisson)
    return kind(family, rows, np.asarray(eta, dtype=float), aux)


class _Direct:
    """Identity link: the family's own density at eta + shift."""

    def __init__(self, family, rows, eta, aux):
        self.family, self.rows, self.eta, self.aux = family, rows, eta, aux

    def _at(self, shift):
        return self.eta + shift[:, self.rows.group]

    def log_density(self, shift):
        return self.rows.total(self.family.log_density(self.rows.y, self._at(shift), self.aux, self.rows.trials))

    def score(self, shift):
        score, information = self.family.score(self.rows.y, self._at(shift), self.aux, self.rows.trials)
        return self.rows.total(score), self.rows.total(information)


class _Shifted:
    """exp(x + shift) per row for a log or logit link's x, one exp per draw and group,
    and each group's sum of the rows' y, by which the shift's linear term scales."""

    def __init__(self, rows, x):
        self.rows, self.x, self.exp_x = rows, x, np.exp(x)
        self.y_total = rows.total(rows.y[None, :])

    def exp(self, shift):
        out = np.exp(shift)[:, self.rows.group]
        out *= self.exp_x
        return out

    def softplus(self, shift):
        return softplus_from_exp(self.exp(shift), lambda: self.x + shift[:, self.rows.group])


class _Poisson(_Shifted):
    """y (eta + s) - exp(eta) exp(s) - lgamma(y + 1)."""

    def __init__(self, family, rows, eta, aux):
        super().__init__(rows, eta)
        self.base = rows.total(rows.y * eta - special.gammaln(rows.y + 1))

    def log_density(self, shift):
        terms = self.exp(shift)
        terms *= -1.0
        return self.rows.total(terms) + self.base + shift * self.y_total

    def score(self, shift):
        mean = self.rows.total(self.exp(shift))
        return self.y_total - mean, mean


class _NegativeBinomial(_Shifted):
    """With r = exp(eta - log alpha) (mean / alpha): lgamma(y + alpha) - lgamma(alpha) -
    lgamma(y + 1) + y (eta - log alpha + s) - (y + alpha) log1p(r exp(s))."""

    def __init__(self, family, rows, eta, aux):
        y = rows.y
        self.alpha = np.asarray(aux["alpha"], dtype=float)
        super().__init__(rows, eta - np.log(self.alpha))
        self.base = rows.total(y * self.x + log_rising(y, self.alpha) - special.gammaln(y + 1))
        self.weight = -(y + self.alpha)

    def log_density(self, shift):
        terms = self.softplus(shift)
        terms *= self.weight
        return self.rows.total(terms) + self.base + shift * self.y_total

    def score(self, shift):
        r = self.exp(shift)
        y = self.rows.y
        return self.rows.total((y - self.alpha * r) / (1 + r)), self.rows.total(self.alpha * r / (1 + r))


class _Trials(_Shifted):
    """Logit link, n trials (1 for the Bernoulli), odds q = exp(eta + s):
    lgamma(n + 1) - lgamma(y + 1) - lgamma(n - y + 1) + y (eta + s) - n log1p(q)."""

    def __init__(self, family, rows, eta, aux):
        super().__init__(rows, eta)
        y = rows.y
        self.n = 1.0 if rows.trials is None else rows.trials
        self.base = rows.total(special.gammaln(self.n + 1) - special.gammaln(y + 1) - special.gammaln(self.n - y + 1)
                               + y * eta)

    def log_density(self, shift):
        terms = self.softplus(shift)
        terms *= -self.n
        return self.rows.total(terms) + self.base + shift * self.y_total

    def score(self, shift):
        with np.errstate(divide="ignore"):
            p = 1.0 / (1.0 + 1.0 / self.exp(shift))
        return self.y_total - self.rows.total(self.n * p), self.rows.total(self.n * p * (1 - p))
