"""The likelihood families, as data: one row each, as bambi's family table, so adding a
family is adding a row and no stage asks "which family?" with an `if`.

Each family has bambi's name and default link, the auxiliary parameters it samples
(named as bambi and brms name them: `sigma`, `nu`, `alpha`), and in NumPy what the jobs
that do not load JAX need: the inverse link, the pointwise log density (a pmf for
discrete data), and the first two derivatives of the log density in the linear
predictor, with which leave-one-group-out integrates a group's intercept out by
adaptive Gauss–Hermite quadrature. The numpyro distribution is built on demand, so
importing this module does not import JAX.
"""

from dataclasses import dataclass

import numpy as np
from scipy import special

from .errors import DataError

LOG_SQRT_2PI = np.log(np.sqrt(2 * np.pi))  # scipy.stats.norm's log normalizing constant
# exp(x) beyond which log(1 + exp(x)) rounds to x: x > 36.8, where exp(-x) < half x's last bit
EXP_PAST_ROUNDING = 1e16


def _logistic(eta):
    return special.expit(eta)


@dataclass(frozen=True)
class Family:
    name: str
    link: str  # identity, logit or log
    auxiliary: tuple  # sampled parameters besides the linear predictor's
    response: str  # numeric, binary, proportion (p(successes, trials)) or count
    discrete: bool
    # group sums make the likelihood exact at O(groups) when there are no row predictors
    sufficient_without_predictors: bool
    sufficient_always: bool = False  # gaussian: per-group cross-products cover predictors too
    counts_by_value: bool = False  # negative binomial: log-gamma terms summed per distinct count

    @property
    def has_trials(self):
        return self.response in ("binary", "proportion")

    def inverse_link(self, eta):
        return {"identity": lambda v: v, "logit": _logistic, "log": np.exp}[self.link](eta)

    def link_of(self, mean):
        """The link applied to a mean on the response scale (a rate, a probability)."""
        return {"identity": lambda v: v, "logit": special.logit, "log": np.log}[self.link](mean)

    def numpyro_likelihood(self, eta, aux, trials=None):
        """The numpyro distribution of one row given its linear predictor."""
        import numpyro.distributions as dist

        from .binomial import VectorizedBinomialLogits
        from .negative_binomial import HostNegativeBinomial2
        from .student_t import PolarStudentT

        if self.name == "gaussian":
            return dist.Normal(eta, aux["sigma"])
        if self.name == "t":
            return PolarStudentT(aux["nu"], eta, aux["sigma"])
        if self.has_trials:
            return VectorizedBinomialLogits(eta, total_count=1 if trials is None else trials)
        if self.name == "poisson":
            return dist.Poisson(_exp(eta))
        return HostNegativeBinomial2(_exp(eta), aux["alpha"])

    def log_density(self, y, eta, aux, trials=None):
        """log p(y | eta, aux) elementwise, in NumPy/SciPy (the compare job's LOO and
        LOGO). `aux` values broadcast against eta."""
        if self.name == "gaussian":  # scipy's norm.logpdf, operation for operation, without its checks
            z = np.asarray(np.subtract(y, eta) / aux["sigma"], dtype=float)
            # in place, bit for bit -z**2 / 2 - LOG_SQRT_2PI - log(sigma): each new (rows,
            # draws) temporary cost the chunked LOO as much as its arithmetic
            np.square(z, out=z)
            z *= -0.5
            z -= LOG_SQRT_2PI
            z -= np.log(aux["sigma"])
            return z[()]  # a scalar for scalars
        if self.name == "t":  # scipy's t.logpdf, with its normalizing constant once per draw
            nu, sigma = np.asarray(aux["nu"], dtype=float), aux["sigma"]
            z = np.square(np.subtract(y, eta) / sigma) / nu  # every operand's shape, in place from here
            np.log1p(z, out=z)
            z *= -(nu + 1) / 2
            z += special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(np.pi * nu) - np.log(sigma)
            return z[()]
        if self.has_trials:
            n = 1 if trials is None else trials
            return (special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
                    + y * eta - n * np.logaddexp(0, eta))
        if self.name == "poisson":
            return y * eta - np.exp(eta) - special.gammaln(y + 1)
        alpha = np.asarray(aux["alpha"], dtype=float)
        # y log(mean / alpha) - (y + alpha) log(1 + mean / alpha), in place as the t's is
        log_ratio = np.subtract(eta, np.log(alpha), dtype=float)
        shape = np.broadcast_shapes(log_ratio.shape, np.shape(y))
        if log_ratio.shape != shape:
            log_ratio = np.broadcast_to(log_ratio, shape).copy()
        log1p_ratio = _softplus(log_ratio)
        log_ratio -= log1p_ratio
        log_ratio *= y
        log1p_ratio *= alpha
        log_ratio -= log1p_ratio
        log_ratio += log_rising(y, alpha)
        log_ratio -= special.gammaln(np.add(y, 1))
        return log_ratio[()]

    def score(self, y, eta, aux, trials=None):
        """(d log p / d eta, expected information) elementwise: the Fisher-scoring step
        that finds a group's mode and width for adaptive quadrature."""
        if self.name == "gaussian":
            return (y - eta) / aux["sigma"] ** 2, np.broadcast_to(aux["sigma"] ** -2.0, np.shape(eta))
        if self.name == "t":
            nu, scale = aux["nu"], aux["sigma"]
            residual = y - eta
            return ((nu + 1) * residual / (nu * scale**2 + residual**2),
                    np.broadcast_to((nu + 1) / ((nu + 3) * scale**2), np.shape(eta)))
        if self.has_trials:
            n = 1 if trials is None else trials
            p = _logistic(eta)
            return y - n * p, n * p * (1 - p)
        mean = np.exp(eta)
        if self.name == "poisson":
            return y - mean, mean
        alpha = aux["alpha"]
        return (alpha * (y - mean) / (mean + alpha), mean * alpha / (mean + alpha))


def softplus_from_exp(exp_x, x):
    """log(1 + exp(x)) in place in `exp_x`, which holds exp(x) (clipped or overflowed
    where x is large): one log1p per element, half the time of np.logaddexp(0, x).
    `x()` is called only where exp_x is past EXP_PAST_ROUNDING, whose value is x."""
    large = exp_x > EXP_PAST_ROUNDING
    np.log1p(exp_x, out=exp_x)
    if large.any():
        exp_x[large] = x()[large]
    return exp_x


def _softplus(x):
    """log(1 + exp(x)) as a new array; exp is clipped at 40 (past EXP_PAST_ROUNDING),
    where it would otherwise overflow from 709."""
    return softplus_from_exp(np.exp(np.minimum(x, 40.0)), lambda: x)


def log_rising(y, alpha):
    """lgamma(y + alpha) - lgamma(alpha), broadcast: computed once per distinct count
    and alpha (counts take few values, and alpha is one per draw), then gathered."""
    y, alpha = np.asarray(y), np.asarray(alpha, dtype=float)
    values, index = np.unique(y, return_inverse=True)
    index = index.reshape(y.shape)
    table = special.gammaln(values + alpha[..., None]) - special.gammaln(alpha)[..., None]
    per_draw = alpha.shape[:max(alpha.ndim - y.ndim, 0)]
    if all(n == 1 for n in alpha.shape[len(per_draw):]):  # alpha constant over y's axes: gather rows
        return np.take(table.reshape(per_draw + values.shape), index, axis=-1)[()]
    ndim = max(y.ndim, alpha.ndim)
    table = table.reshape((1,) * (ndim - alpha.ndim) + table.shape)
    return np.take_along_axis(table, index.reshape((1,) * (ndim - y.ndim) + y.shape + (1,)), axis=-1)[..., 0][()]


def _exp(eta):
    import jax.numpy as jnp

    return jnp.exp(eta)


ALL = (
    Family("gaussian", "identity", ("sigma",), "numeric", discrete=False,
           sufficient_without_predictors=True, sufficient_always=True),
    Family("t", "identity", ("sigma", "nu"), "numeric", discrete=False,
           sufficient_without_predictors=False),
    Family("bernoulli", "logit", (), "binary", discrete=True, sufficient_without_predictors=True),
    Family("binomial", "logit", (), "proportion", discrete=True, sufficient_without_predictors=True),
    Family("poisson", "log", (), "count", discrete=True, sufficient_without_predictors=True),
    Family("negativebinomial", "log", ("alpha",), "count", discrete=True,
           sufficient_without_predictors=False, counts_by_value=True),
)
BY_NAME = {f.name: f for f in ALL}
NAMES = tuple(BY_NAME)
AUXILIARY = tuple(dict.fromkeys(name for f in ALL for name in f.auxiliary))


def named(name, where="family"):
    """The Family called `name`; an unknown name is a one-line error naming `where`."""
    if name not in BY_NAME:
        raise DataError(f"{where}: unknown family {name!r}; use one of {', '.join(NAMES)}")
    return BY_NAME[name]
