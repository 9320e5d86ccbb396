"""Priors and designs per likelihood family for the checks that draw the truth from the
prior (SBC, parameter recovery), chosen so that simulated data look like data and
inform every parameter, which is what makes those checks able to fail.

- gaussian and t: the SBC priors of config/config.yaml's defaults (sbc.priors).
- t: nu ~ gamma(4, 0.5) (mean 8, 95% in 2.2 to 17.5), not brms' and bambi's default
  gamma(2, 0.1): that puts half its mass above nu = 17, where a few dozen rows cannot
  tell t from normal, so nu's ranks would only echo the prior, and 2% below nu = 2,
  where single outliers of hundreds dominate the data.
- bernoulli and binomial (logit scale): mu ~ normal(0, 1) keeps most probabilities in
  0.1 to 0.9 (normal(0, 5) makes nearly every group all successes or all failures, so
  the data say little); tau ~ exponential(2), a typical spread of 0.5 on the logit
  scale. Binomial: 20 trials per row.
- poisson and negativebinomial (log scale): mu ~ normal(2, 0.5), mean counts of about
  3 to 20, where a negative binomial's extra variance m^2 / alpha stands out from the
  Poisson's m for alpha ~ gamma(4, 1) (mean 4, 95% in 1.1 to 8.8); small alpha would
  make rows of zeros with rare huge counts. poisson adds an exposure of 2 per row
  (offset log 2), so the offset is exercised too.
- theta (no pooling) has the spread of mu and tau together.
"""

GAUSSIAN = {"mu": "normal(0, 5)", "theta": "normal(0, 5)", "tau": "halfnormal(2)", "sigma": "halfnormal(3)"}
LOGIT = {"mu": "normal(0, 1)", "theta": "normal(0, 1.5)", "tau": "exponential(2)"}
LOG = {"mu": "normal(2, 0.5)", "theta": "normal(2, 1)", "tau": "exponential(2)"}

# family -> keyword arguments of pooling.sbc.run besides the strategy and the sizes
FAMILIES = {
    "gaussian": {"priors": GAUSSIAN},
    "t": {"priors": {**GAUSSIAN, "nu": "gamma(4, 0.5)"}},
    "bernoulli": {"priors": LOGIT},
    "binomial": {"priors": LOGIT, "trials": 20},
    "poisson": {"priors": LOG, "exposure": 2.0},
    "negativebinomial": {"priors": {**LOG, "alpha": "gamma(4, 1)"}},
}
