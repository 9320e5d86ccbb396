"""Bayesian hierarchical pooling: data preparation, models, fits and checks.

Importing this package does not import JAX: fit jobs must configure XLA's devices
and threads (``pooling.jaxenv``) before JAX starts.
"""

from .strategies import NAMES as STRATEGIES  # noqa: F401  (the strategies' names, in order)
