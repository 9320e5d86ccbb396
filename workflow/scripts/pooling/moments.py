"""Per-cell weighted least-squares moments of rows, in NumPy only: the sampler's
varying-slope likelihood (pooling.sufficient) and the compare job's gaussian LOGO
(pooling.logo, which must not import JAX) both reduce the rows to them."""

import numpy as np


def cell_moments(y, group, n_groups, V, w):
    """(gram (cells, terms, terms), center (cells, terms), rss (cells,)) of rows `y` in
    cells `group` on row terms V (rows, terms) with weights w: each cell's G_g, a
    least-squares solution c_hat_g and its weighted residual sum of squares, so that
    sum_i w_i (y_i - v_i c)^2 = rss_g + (c - c_hat_g)' G_g (c - c_hat_g) for any c."""
    k = V.shape[1]
    gram = np.zeros((n_groups, k, k))
    np.add.at(gram, group, (V * w[:, None])[:, :, None] * V[:, None, :])
    moment = np.zeros((n_groups, k))
    np.add.at(moment, group, V * (w * y)[:, None])
    center = np.einsum("gij,gj->gi", np.linalg.pinv(gram, hermitian=True), moment)
    residual = y - np.einsum("ik,ik->i", V, center[group])
    return gram, center, np.bincount(group, w * residual**2, minlength=n_groups)
