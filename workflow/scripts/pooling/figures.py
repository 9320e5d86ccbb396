"""Figures a reader of the analysis looks at, all drawn by ArviZ where it has a plot."""

import arviz as az
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from . import strategies  # noqa: E402
from .uniformity import bins, eval_points, pit  # noqa: E402

HYPER = ("mu", "tau", "sigma", "beta", "gamma")
SHOWN_GROUPS = 100  # per-group panels beyond this would be unreadable (and too tall to draw)


def strategy_label(strategy):
    """A strategy's name as figures print it."""
    return strategies.named(strategy).label


def _save(fig, out):
    """Write and close `fig`; returned so that callers (and tests) can read its text."""
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return fig


def _figure(axes):
    return np.ravel(axes)[0].get_figure()


def _shown(idata):
    """Coords of at most SHOWN_GROUPS groups, evenly spaced over the ranks of the
    posterior means of theta (so the extremes and the middle are all shown), and a
    note saying so; all groups when there are no more."""
    theta = idata.posterior["theta"].mean(("chain", "draw"))
    if theta.sizes["group"] <= SHOWN_GROUPS:
        return {}, ""
    order = np.argsort(theta.values)
    picked = order[np.linspace(0, len(order) - 1, SHOWN_GROUPS).round().astype(int)]
    return ({"group": theta["group"].values[np.sort(picked)]},
            f": {SHOWN_GROUPS} of {len(order)} groups, evenly spaced by posterior mean")


def forest(fits, out):
    """theta of every fitted strategy side by side, one row per group."""
    coords, note = _shown(list(fits.values())[-1])
    n_groups = len(coords["group"]) if coords else next(iter(fits.values())).posterior.sizes["group"]
    axes = az.plot_forest(
        list(fits.values()), model_names=[strategy_label(s) for s in fits], var_names=["theta"],
        coords=coords, combined=True, hdi_prob=0.9,
        figsize=(7, 1.5 + 0.35 * n_groups * len(fits) ** 0.5),
    )
    axes[0].set_title(f"Group means (theta), 90% HDI{note}")
    legend = axes[0].get_legend()
    if legend is not None:
        labels = [text.get_text() for text in legend.get_texts()]
        axes[0].legend(legend.legend_handles, labels, loc="upper left",
                       bbox_to_anchor=(1.01, 1), frameon=False)
    _save(_figure(axes), out)


def shrinkage(no_pooling, partial_pooling, out):
    """No-pooling vs partial-pooling group means against group size: small groups
    move furthest towards the population mean (mu, or mu + U gamma per group when
    there are group-level predictors)."""
    sizes = partial_pooling.constant_data["group_size"].values
    separate = no_pooling.posterior["theta"].mean(("chain", "draw")).values
    posterior = partial_pooling.posterior.mean(("chain", "draw"))
    pooled = posterior["theta"].values
    mu = float(posterior["mu"])
    jitter = 1 + 0.04 * (np.arange(len(sizes)) % 5 - 2)
    x = sizes * jitter
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.vlines(x, separate, pooled, color="0.7", lw=0.8, zorder=1)
    ax.scatter(x, separate, s=18, color="C0", label="no pooling", zorder=2)
    ax.scatter(x, pooled, s=18, color="C1", label="partial pooling", zorder=3)
    if "gamma" in posterior:
        centers = mu + partial_pooling.constant_data["U"].values @ posterior["gamma"].values
        ax.scatter(x, centers, s=14, marker="_", color="C3", zorder=4,
                   label="population mean of the group, mu + U gamma")
    else:
        ax.axhline(mu, color="C3", ls="--", lw=1, label=f"population mean mu = {mu:.3g}")
    if sizes.max() > 2 * max(sizes.min(), 1):
        ax.set_xscale("log")
    ax.set_xlabel("observations in group")
    ax.set_ylabel("posterior mean of theta")
    ax.set_title("Shrinkage towards the population mean")
    ax.legend(frameon=False)
    _save(fig, out)


def posterior_predictive(idata, out, title):
    """Densities of the observed response and of predictive draws (az.plot_ppc). A
    constant response (allowed: default priors then take s = 1) has no density, and
    its fit predicts draws too narrow for ArviZ's KDE to bin: there each predictive
    draw is a row of points over the observed value, and the title says why."""
    kept = idata.posterior_predictive.sizes["chain"] * idata.posterior_predictive.sizes["draw"]
    observed = idata.observed_data["y"].values
    heading = f"Posterior predictive check: {title}"
    if np.ptp(observed) > 0:
        axes = az.plot_ppc(idata, num_pp_samples=min(100, kept), random_seed=0, figsize=(7, 4))
    else:
        axes = az.plot_ppc(idata, kind="scatter", mean=False, num_pp_samples=min(100, kept),
                           random_seed=0, figsize=(7, 4))
        heading += (f"\nobserved response is constant (y = {observed[0]:g} in all {observed.size} "
                    "rows): no density, predictive draws shown as points")
    _figure(axes).suptitle(heading)
    return _save(_figure(axes), out)


def _narrow(posterior, names):
    """Names among `names` with a chain (of some element) whose draws differ, but by
    fewer than 512 steps of their float type: ArviZ's KDE bins a chain's range into
    512 bins in the draws' own dtype, and numpy refuses bins that narrow ("Too many
    bins for data range"). Fits store draws in float32, so a posterior with almost no
    spread (e.g. theta of a constant response, to ~1e-5) hits this."""
    narrow = []
    for name in names:
        draws = posterior[name]
        if draws.dtype.kind != "f":
            continue
        low, high = draws.min("draw").values, draws.max("draw").values
        steps = 512 * np.spacing(np.maximum(np.abs(low), np.abs(high)))
        if np.any((low < high) & (high.astype(float) - low.astype(float) < steps)):
            narrow.append(name)
    return narrow


def rank_trace(idata, out, title):
    """Trace and rank plots of the population-level parameters and theta."""
    names = [v for v in (*HYPER, "theta") if v in idata.posterior]
    coords, note = _shown(idata)
    narrow = _narrow(idata.posterior, names)
    transform = None
    if narrow:  # float64 copies: any two distinct float32 values are 2**29 float64 steps apart
        transform = lambda posterior: posterior.astype("float64")  # noqa: E731
        note += (f"\nalmost no posterior spread in {', '.join(narrow)} "
                 "(densities drawn from float64 copies of the float32 draws)")
    axes = az.plot_trace(idata, var_names=names, coords=coords, kind="rank_bars", compact=True,
                         transform=transform)
    fig = _figure(axes)
    fig.suptitle(f"Trace and rank plots: {title}{note}")
    fig.tight_layout()
    return _save(fig, out)


def loo_comparison(table, out):
    if len(table) == 1:  # az.plot_compare needs two models to set its axis limits
        fig, ax = plt.subplots(figsize=(7, 1.6))
        ax.errorbar(table["elpd_loo"], [0], xerr=table["se"], fmt="o")
        ax.set_yticks([0], [strategy_label(s) for s in table.index])
        ax.set_xlabel("elpd_loo (log)")
        ax.set_title("PSIS-LOO (one strategy fitted: nothing to compare)")
        _save(fig, out)
        return
    axes = az.plot_compare(table, insample_dev=False, figsize=(7, 1 + 0.6 * len(table)))
    ax = np.ravel(axes)[0]
    ax.set_title("PSIS-LOO comparison (higher elpd is better)")
    _save(ax.get_figure(), out)


def logo_comparison(summary, groups, out):
    """Left: each strategy's LOGO elpd difference to the best, with the paired
    standard error (PSIS and, once run, exact K-fold); right: each group's Pareto k,
    where PSIS-LOGO can be trusted."""
    scored = summary.dropna(subset=["elpd_psis"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 1.5 + 0.5 * max(len(scored), 2)),
                                      gridspec_kw={"width_ratios": [1, 1.3]})
    rows = np.arange(len(scored))
    methods = [("psis", "PSIS", "o")]
    if "elpd_kfold" in scored and scored["elpd_kfold"].notna().any():
        methods.append(("kfold", f"exact {int(scored['folds'].max())}-fold", "s"))
    for k, (method, label, marker) in enumerate(methods):
        left.errorbar(scored[f"elpd_diff_{method}"], rows + 0.2 * k, xerr=scored[f"dse_{method}"],
                      fmt=marker, color=f"C{k}", label=label)
    left.axvline(0, color="0.6", lw=0.8)
    left.set_yticks(rows, [strategy_label(s) for s in scored.index])
    left.set_ylim(len(scored) - 0.4, -0.6)
    left.set_xlabel("elpd difference to the best (± paired se)")
    left.legend(frameon=False, fontsize=8)
    if "no_pooling" in summary.index:
        fig.text(0.01, -0.1, "No pooling: no population, so no prediction for a new group.", fontsize=8)
    for k, (strategy, table) in enumerate(groups.groupby("strategy", sort=False)):
        right.plot(np.arange(len(table)), table["pareto_k"], "o", color=f"C{k + 2}",
                   label=strategy_label(strategy))
    right.axhline(scored["pareto_k_threshold"].min(), color="0.4", ls="--", lw=0.8)
    labels = groups.drop_duplicates("group")["group"]
    if len(labels) <= SHOWN_GROUPS:
        right.set_xticks(np.arange(len(labels)), labels, rotation=90 if len(labels) > 12 else 0, fontsize=7)
    else:
        right.set_xlabel(f"group (all {len(labels)})")
    right.set_ylabel("Pareto k (PSIS-LOGO)")
    right.legend(frameon=False, fontsize=8)
    fig.suptitle("Leave-one-group-out: predicting a group the fit has not seen", y=1.02)
    _save(fig, out)


def _sbc_panels(ranks, title, ylabel, out, draw):
    """One panel per quantity, in the ranks table's order; draw(ax, table, draws)."""
    quantities = list(dict.fromkeys(ranks["quantity"]))
    fig, axes = plt.subplots(1, len(quantities), figsize=(3 * len(quantities), 2.6), squeeze=False)
    for ax, quantity in zip(axes[0], quantities):
        table = ranks[ranks["quantity"] == quantity]
        draw(ax, table, int(table["draws"].iloc[0]))
        ax.set_title(quantity)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title, y=1.04)
    _save(fig, out)


def sbc_histograms(ranks, strategy, out):
    """Rank histogram per quantity with the 99% range of a bin count under uniformity
    (Talts et al. 2018, figure 1)."""

    def draw(ax, table, draws):
        n = len(table)
        k = bins(draws, n)
        low, high = stats.binom.interval(0.99, n, 1 / k)
        ax.axhspan(low, high, color="0.85")
        ax.axhline(n / k, color="0.5", lw=0.8)
        ax.hist(table["rank"], bins=np.linspace(0, draws + 1, k + 1), color="C0", alpha=0.8)
        ax.set_xlabel("rank")

    _sbc_panels(ranks, f"SBC rank histograms: {strategy_label(strategy)}", "simulations", out, draw)


def sbc_ecdf(ranks, strategy, out, level=0.95):
    """ECDF of each quantity's ranks minus the uniform CDF, with the simultaneous
    `level` band that pooling.uniformity.summarize tests against."""

    def draw(ax, table, draws):
        az.plot_ecdf(pit(table["rank"], draws), cdf=stats.uniform(0, 1).cdf, difference=True,
                     confidence_bands="optimized", ci_prob=level,
                     eval_points=eval_points(draws, len(table)), ax=ax)
        ax.set_xlabel("fractional rank")

    title = f"SBC ECDF difference, {level:.0%} simultaneous band: {strategy_label(strategy)}"
    _sbc_panels(ranks, title, "ECDF difference", out, draw)
