"""Bayesian hierarchical pooling: data preparation, models, fits and checks.

Importing this package does not import JAX: fit jobs must configure XLA's devices
and threads (``pooling.jaxenv``) before JAX starts.
"""

STRATEGIES = ("no_pooling", "complete_pooling", "partial_pooling")
