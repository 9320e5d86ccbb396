"""Whether SBC ranks are uniform: the ECDF test with simultaneous bands (Säilynoja,
Bürkner and Vehtari 2022) on the exact rank grid, and the histogram bins. Pure NumPy
and SciPy, so the summary job and the figures need no JAX."""

import numpy as np
import pandas as pd
from arviz.stats.ecdf_utils import ecdf_confidence_band
from scipy import stats


def pit(ranks, draws):
    """Ranks on 0..L as (rank + 1) / (L + 1): uniform ranks make P(u <= k / (L + 1)) =
    k / (L + 1) exactly, so the ECDF is compared at those points."""
    return (np.asarray(ranks) + 1) / (draws + 1)


def eval_points(draws, simulations):
    """Where the ECDF is tested: the rank grid, at most one point per simulation."""
    points = min(draws, simulations)
    return np.unique(np.ceil(np.linspace(1, draws, points))) / (draws + 1)


def bins(draws, simulations, most=20):
    """Histogram bins of equal probability (a divisor of the L + 1 rank values) with
    about 5 or more expected simulations each, at most `most`."""
    limit = max(2, min(most, simulations // 5))
    return max(b for b in range(1, limit + 1) if (draws + 1) % b == 0)


def summarize(ranks, level=0.95):
    """Per quantity: the ECDF uniformity test (inside the simultaneous `level` band
    over the rank grid), the largest ECDF deviation, a chi-square test of the rank
    histogram (for reference), divergent simulations and bulk ESS."""
    rows = []
    for quantity, table in ranks.groupby("quantity", sort=False):
        draws, n = int(table["draws"].iloc[0]), len(table)
        u = np.sort(pit(table["rank"], draws))
        points = eval_points(draws, n)
        ecdf = np.searchsorted(u, points, side="right") / n
        lower, upper = ecdf_confidence_band(n, points, points, prob=level, method="optimized")
        edges = np.linspace(0, draws + 1, bins(draws, n) + 1)
        counts = np.histogram(table["rank"], bins=edges)[0]
        rows.append({
            "quantity": quantity, "simulations": n, "draws": draws,
            "uniform": bool(np.all((lower <= ecdf) & (ecdf <= upper))),
            "max_ecdf_deviation": round(float(np.max(np.abs(ecdf - points))), 4),
            "chi2_pvalue": float(stats.chisquare(counts).pvalue),
            "simulations_with_divergences": int(table.groupby("simulation")["divergences"].first().gt(0).sum()),
            "median_ess_bulk": float(table["ess_bulk"].median()),
        })
    return pd.DataFrame(rows)
