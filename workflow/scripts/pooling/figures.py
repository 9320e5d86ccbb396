"""Figures a reader of the analysis looks at, all drawn by ArviZ where it has a plot."""

from pathlib import Path

import arviz as az
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from scipy import stats  # noqa: E402

from . import families, strategies  # noqa: E402
from .uniformity import bins, eval_points, pit  # noqa: E402

HYPER = ("mu", "tau", "sigma", "beta", "gamma")
SHOWN_GROUPS = 100  # per-group panels beyond this would be unreadable (and too tall to draw)
MAX_BARS = 40  # more bars than this are too thin to read: wider bins of whole numbers instead
INTERVAL = (0.05, 0.95)  # predictive intervals of the discrete checks
CHECK_DRAWS = 500  # predictive draws the discrete checks summarise (see _predicted)
INVERSE_LINK_NAME = {"identity": "", "logit": "expit", "log": "exp"}


def strategy_label(strategy):
    """A strategy's name as figures print it."""
    return strategies.named(strategy).label


def _save(fig, out):
    """Write `fig` to `out` (a PNG, for the report) and beside it as a vector PDF (for a
    paper: the figure rules declare both), close it, and return it so that callers
    (and tests) can read its text."""
    fig.savefig(out, dpi=120, bbox_inches="tight")
    fig.savefig(Path(out).with_suffix(".pdf"), bbox_inches="tight")
    plt.close(fig)
    return fig


def _figure(axes):
    return np.ravel(axes)[0].get_figure()


def _evenly(values):
    """Indices of `values` in rank order, thinned to SHOWN_GROUPS evenly spaced over the
    ranks when there are more, so the extremes and the middle are all shown."""
    order = np.argsort(values, kind="stable")
    if len(order) <= SHOWN_GROUPS:
        return order
    return order[np.linspace(0, len(order) - 1, SHOWN_GROUPS).round().astype(int)]


def _shown(idata):
    """Coords of at most SHOWN_GROUPS groups, evenly spaced over the ranks of the
    posterior means of theta, and a note saying so; all groups when there are no more."""
    theta = idata.posterior["theta"].mean(("chain", "draw"))
    if theta.sizes["group"] <= SHOWN_GROUPS:
        return {}, ""
    picked = _evenly(theta.values)
    return ({"group": theta["group"].values[np.sort(picked)]},
            f": {SHOWN_GROUPS} of {theta.sizes['group']} groups, evenly spaced by posterior mean")


def family_of(idata):
    """The fit's likelihood family; fits written before there were families are gaussian."""
    return families.named(idata.attrs.get("family", "gaussian"))


def response_scale(idata):
    """What theta means once its link is undone, as axis labels print it: a reader of
    a logit or log fit thinks in probabilities and rates, not in log-odds."""
    family = family_of(idata)
    if family.response == "count":
        what = "rate per unit of exposure" if "offset" in idata.constant_data else "mean count per row"
    else:
        what = {"numeric": "mean response", "binary": "probability of a 1",
                "proportion": "probability of success per trial"}[family.response]
    identity = " (identity link)" if family.link == "identity" else ""
    at_zero = " at predictors 0" if "beta" in idata.posterior else ""
    return f"{what}, {_through_link(family, 'theta')}{identity}{at_zero}"


def _through_link(family, expression):
    """`expression` as the response scale shows it: expit(theta), exp(mu), or as is."""
    name = INVERSE_LINK_NAME[family.link]
    return f"{name}({expression})" if name else expression


def response_draws(idata, name="theta"):
    """Posterior draws of `name` through the inverse link, draw by draw, so that means
    and intervals are those of the probability or rate itself (the inverse link of a
    posterior mean is not the posterior mean of the inverse link)."""
    return family_of(idata).inverse_link(idata.posterior[name])


def group_estimates(idata):
    """Each group's posterior mean on the response scale."""
    return response_draws(idata).mean(("chain", "draw")).values


def precision(idata):
    """(each group's precision, its axis label): what decides how far partial pooling
    moves a group. Known standard errors give sum(1/se^2) over the group's rows; with
    a binomial or bernoulli likelihood it is the trials (a row without `trials` is one
    trial); with counts the exposure, sum(exp(offset)), when there is an offset; else
    the number of rows."""
    constant = idata.constant_data
    index = constant["group_index"].values

    def total(weights):
        return np.bincount(index, weights=weights, minlength=idata.posterior.sizes["group"])

    family = family_of(idata)
    if "se" in constant:
        return total(constant["se"].values.astype(float) ** -2), "precision, sum of 1/se² over the group's rows"
    if family.has_trials:
        trials = constant["trials"].values if "trials" in constant else np.ones(index.size)
        return total(trials.astype(float)), "trials in group"
    if family.response == "count" and "offset" in constant:
        return total(np.exp(constant["offset"].values.astype(float))), "exposure in group, sum of exp(offset)"
    return constant["group_size"].values.astype(float), "rows in group"


def forest(fits, out):
    """Every group's estimate under every fitted strategy side by side, on the response
    scale: for a logit or log link that is the inverse link of theta, draw by draw."""
    last = list(fits.values())[-1]
    coords, note = _shown(last)
    n_groups = len(coords["group"]) if coords else last.posterior.sizes["group"]
    axes = az.plot_forest(
        list(fits.values()), model_names=[strategy_label(s) for s in fits], var_names=["theta"],
        transform={"theta": family_of(last).inverse_link}, coords=coords, combined=True, hdi_prob=0.9,
        figsize=(7, 1.5 + 0.35 * n_groups * len(fits) ** 0.5),
    )
    axes[0].set_title(f"Group estimates on the response scale, 90% HDI{note}")
    axes[0].set_xlabel(f"response scale: {response_scale(last)}")
    legend = axes[0].get_legend()
    if legend is not None:
        labels = [text.get_text() for text in legend.get_texts()]
        axes[0].legend(legend.legend_handles, labels, loc="upper left",
                       bbox_to_anchor=(1.01, 1), frameon=False)
    return _save(_figure(axes), out)


def _population(ax, idata, x):
    """The centre partial pooling shrinks towards, on the response scale: the inverse
    link of mu, or of mu + U gamma for each group when there are group-level predictors
    (for a non-identity link, that of a typical group, not the mean over groups)."""
    posterior = idata.posterior
    family = family_of(idata)
    if "gamma" in posterior:
        centre = posterior["mu"] + xr.dot(idata.constant_data["U"], posterior["gamma"], dim="group_predictor")
        values = family.inverse_link(centre).mean(("chain", "draw")).values
        ax.scatter(x, values, s=14, marker="_", color="C3", zorder=4,
                   label=f"population centre of the group, {_through_link(family, 'mu + U gamma')}")
    else:
        value = float(response_draws(idata, "mu").mean())
        ax.axhline(value, color="C3", ls="--", lw=1,
                   label=f"population centre, {_through_link(family, 'mu')} = {value:.3g}")


def _slope_panels(no_pooling, partial_pooling, slopes, axes):
    """Per varying slope: each group's no-pooling against its partial-pooling slope
    (link scale), the diagonal marking no shrinkage and the line the population mean."""
    for ax, column in zip(axes, slopes):
        separate = no_pooling.posterior["slope"].sel(varying=column).mean(("chain", "draw")).values
        pooled = partial_pooling.posterior["slope"].sel(varying=column).mean(("chain", "draw")).values
        ax.axline((separate[0], separate[0]), slope=1, color="0.85", lw=0.8, zorder=0)
        ax.scatter(separate, pooled, s=16, color="C1", zorder=2)
        posterior = partial_pooling.posterior
        if "beta" in posterior and column in posterior["predictor"].values:
            mean = float(posterior["beta"].sel(predictor=column).mean())
            ax.axhline(mean, color="C3", ls="--", lw=1, label=f"population mean beta[{column}] = {mean:.3g}")
            ax.legend(frameon=False, fontsize=8)
        ax.set_xlabel(f"no-pooling slope of {column} (link scale)")
        ax.set_ylabel(f"partial-pooling slope of {column}")
        ax.set_title(f"Shrinkage of the {column} slopes", fontsize=10)


def shrinkage(no_pooling, partial_pooling, out):
    """Each group's no-pooling and partial-pooling estimate on the response scale,
    joined by a line, against the group's precision: imprecise groups move furthest
    towards the population centre. When every group has the same precision (eight
    schools without se, a balanced design) that axis would be one point, so the groups
    are drawn against their no-pooling estimate instead (no pooling on the diagonal)
    and the figure says so; the axis is never jittered, as jitter would read as data.
    Varying slopes get a panel each below: no-pooling against partial-pooling slope."""
    separate, pooled = group_estimates(no_pooling), group_estimates(partial_pooling)
    weights, measure = precision(partial_pooling)
    scale = response_scale(partial_pooling)
    same = np.allclose(weights, weights[0], rtol=1e-6, atol=0)  # relative: 1/se² can be tiny
    x = separate if same else weights
    slopes = list(partial_pooling.posterior["varying"].values) if "slope" in partial_pooling.posterior else []
    fig, axes = plt.subplots(1 + len(slopes), 1, figsize=(7, 4.5 * (1 + len(slopes))), squeeze=False)
    ax = axes[0, 0]
    _slope_panels(no_pooling, partial_pooling, slopes, axes[1:, 0])
    ax.vlines(x, separate, pooled, color="0.7", lw=0.8, zorder=1)
    ax.scatter(x, separate, s=18, color="C0", label="no pooling", zorder=2)
    ax.scatter(x, pooled, s=18, color="C1", label="partial pooling", zorder=3)
    _population(ax, partial_pooling, x)
    title = "Shrinkage towards the population centre"
    if same:
        ax.axline((separate[0], separate[0]), slope=1, color="0.85", lw=0.8, zorder=0)
        ax.set_xlabel(f"no-pooling estimate: {scale}")
        title += (f"\nevery group has the same precision ({measure}: {weights[0]:g}), "
                  "so each is drawn against its no-pooling estimate")
    else:
        if weights.min() > 0 and weights.max() > 2 * weights.min():
            ax.set_xscale("log")
        ax.set_xlabel(measure)
    ax.set_ylabel(f"posterior mean: {scale}")
    ax.set_title(title, fontsize=10)
    _legend_outside(ax)
    if slopes:
        fig.tight_layout()
    return _save(fig, out)


def _levels_shown(factor):
    """A factor's levels its forests show: all, or one in k in label order when there
    are more than SHOWN_GROUPS (the same ones in each of its forests), and a note saying so."""
    step = max(1, -(-factor.n_levels // SHOWN_GROUPS))
    shown = list(factor.labels[::step])
    note = f"\n{len(shown)} of {factor.n_levels} levels (one in {step}, in label order)" if step > 1 else ""
    return shown, note


def _level_forests(idata, factor):
    """(variable, coords, transform, title, x label) of each forest of a factor's levels:
    its intercepts on the response scale (not the finest factor's, which are theta of
    the forest plot), then each of its varying slopes on the link scale (the finest
    factor's in `slope`, over the cells; another's in `slope_<factor>`)."""
    posterior = idata.posterior
    shown, note = _levels_shown(factor)
    forests = []
    theta = factor.name_of("theta")
    if not factor.finest and theta in posterior:
        forests.append((theta, {factor.dim: shown}, {theta: family_of(idata).inverse_link},
                        f"{factor.name}: each level's intercept, response scale{note}",
                        f"intercept: {_through_link(family_of(idata), theta)}"))
    slope = factor.name_of("slope")
    varying = "varying" if factor.finest else f"{factor.dim}_varying"
    for term in factor.slopes:
        if slope in posterior and term in posterior[varying].values:
            forests.append((slope, {factor.dim: shown, varying: [term]}, None,
                            f"{factor.name}: each level's slope of {term}, link scale{note}",
                            f"slope of {term} (link scale)"))
    return forests


def group_level(idata, out):
    """Partial pooling's group-level parameters, one row per grouping factor: the
    posterior of its standard deviations (tau, tau_slope), of each correlation between
    its varying terms, and forests of its levels: their intercepts (for a factor other
    than the finest, whose levels are the groups of the forest plot), then their slopes
    of each varying slope (the finest factor's too). A column of intercepts, when any
    factor has one, keeps the slopes aligned below each other; a factor with more than
    SHOWN_GROUPS levels shows one in k of them, and the titles say so."""
    from .hierarchy import factors_of

    posterior = idata.posterior
    factors = factors_of(idata)
    forests = [_level_forests(idata, factor) for factor in factors]
    intercepts = any(not f.finest and f.name_of("theta") in posterior for f in factors)
    columns = 2 + max(1, int(intercepts) + max(len(f.slopes) for f in factors))
    # a factor's row is 3.2 inches, taller for a forest of many levels: its standard
    # deviations and correlations keep the top 3.2, its forests span the whole row
    extra = [max(0.0, 0.16 * max((len(c[f.dim]) for _, c, *_ in drawn), default=0) - 2)
             for f, drawn in zip(factors, forests)]
    fig = plt.figure(figsize=(13 * columns / 3, 3.2 * len(factors) + sum(extra)), layout="constrained")
    grid = fig.add_gridspec(2 * len(factors), columns,
                            height_ratios=[h for e in extra for h in (3.2, max(e, 1e-3))])
    for k, (factor, drawn) in enumerate(zip(factors, forests)):
        row = [fig.add_subplot(grid[2 * k, c]) for c in range(2)]
        row += [fig.add_subplot(grid[2 * k:2 * k + 2, c]) for c in range(2, columns)]
        scales = [v for v in (factor.name_of("tau"), factor.name_of("tau_slope")) if v in posterior]
        az.plot_forest(idata, var_names=scales, combined=True, hdi_prob=0.9, ax=row[0])
        row[0].set_title(f"{factor.name}: standard deviations, 90% HDI", fontsize=10)
        corr = factor.name_of("corr")
        if corr in posterior:
            terms = list(factor.terms)
            for i in range(len(terms)):
                for j in range(i + 1, len(terms)):
                    draws = posterior[corr].values[..., i, j].ravel()
                    row[1].hist(draws, bins=40, density=True, histtype="step", lw=1.2,
                                label=f"corr({terms[i]}, {terms[j]}): mean {draws.mean():.2f}")
            row[1].set_xlim(-1, 1)
            row[1].legend(frameon=False, fontsize=8)
            row[1].set_title(f"{factor.name}: correlations of its varying terms", fontsize=10)
        else:
            row[1].set_axis_off()
        panels = list(row[2:])
        if intercepts and (factor.finest or factor.name_of("theta") not in posterior):
            panels.pop(0).set_axis_off()  # the intercepts' column: none to draw for this factor
        for ax, (name, coords, transform, title, xlabel) in zip(panels, drawn):
            az.plot_forest(idata, var_names=[name], coords=coords, combined=True, hdi_prob=0.9, ax=ax,
                           transform=transform, textsize=8 if len(coords[factor.dim]) > 10 else None)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(xlabel, fontsize=8)
        for ax in panels[len(drawn):]:
            ax.set_axis_off()
    fig.suptitle("Group-level parameters (partial pooling)")
    return _save(fig, out)


def _legend_outside(ax):
    """A legend right of the axes: bars and intervals fill the whole panel."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)


def _per_row_bincount(indices, length, weights=None):
    """np.bincount of every row of a 2-D `indices` at once (each row its own tally of
    `length` bins): one pass over draws x rows instead of a Python loop over draws."""
    offsets = np.arange(indices.shape[0])[:, None] * length
    tally = np.bincount((indices + offsets).ravel(), minlength=indices.shape[0] * length,
                        weights=None if weights is None else weights.ravel())
    return tally.reshape(indices.shape[0], length)


def bin_counts(values, edges):
    """How many of each row's values fall in each bin of `edges`, np.histogram's bins
    ([a, b), the last one closed); values beyond the outer edges count in the outer
    bins, so a rare large predictive count is not lost from the check."""
    values = np.atleast_2d(values)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    return _per_row_bincount(bins, len(edges) - 1)


def integer_edges(top):
    """Edges of bins for the whole numbers 0..top: one value per bin, or as many per
    bin as keep the bars at most MAX_BARS."""
    width = -(-(top + 1) // MAX_BARS)
    return np.arange(-0.5, top + width + 0.5, width)


def _predicted(idata):
    """Predictive draws as (draws, rows), float64, at most CHECK_DRAWS of them evenly
    spaced: enough for the mean and 90% interval of a count, and at 20,000 rows (the
    most a fit keeps every draw of) the draws x rows tallies stay near 100 MB."""
    predictive = idata.posterior_predictive["y"]
    draws = predictive.transpose("chain", "draw", "obs").values.reshape(-1, predictive.sizes["obs"])
    kept = np.linspace(0, len(draws) - 1, min(len(draws), CHECK_DRAWS)).round().astype(int)
    return draws[kept].astype(float)


def rootogram(ax, observed, predicted, edges):
    """Hanging rootogram (Kleiber & Zeileis 2016): each bin's observed count, as a bar
    of height sqrt(count), hangs from the predictive mean count (points, sqrt scale), so
    misfit is where a bar's bottom leaves zero, and the square root keeps the rare values'
    bins readable beside the common ones. Grey boxes: where the bottom would lie for 90%
    of the replicated datasets."""
    seen = bin_counts(observed, edges)[0]
    drawn = bin_counts(predicted, edges)
    expected = np.sqrt(drawn.mean(0))
    low, high = np.sqrt(np.quantile(drawn, INTERVAL, axis=0))
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    ax.bar(centres, high - low, widths, bottom=expected - high, color="0.88",
           label="90% predictive range of the bottom")
    ax.bar(centres, np.sqrt(seen), 0.6 * widths, bottom=expected - np.sqrt(seen), color="C0", alpha=0.8,
           label="observed, √count")
    ax.plot(centres, expected, "o-", ms=3, color="C3", label="posterior predictive mean, √count")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("√count (bars hang from the predictive mean)")
    _legend_outside(ax)


def _counts_ppc(idata, ax):
    """Poisson and negative binomial: a rootogram of the counts 0..the largest observed
    (or 99th percentile predictive, if larger), the tail above in the last bar."""
    observed, predicted = idata.observed_data["y"].values, _predicted(idata)
    top = int(np.ceil(max(observed.max(), np.quantile(predicted, 0.99))))
    rootogram(ax, observed, predicted, integer_edges(top))
    beyond = f"; draws above {top} in the last bar" if predicted.max() > top else ""
    ax.set_xlabel(f"count{beyond}")


def _successes_ppc(idata, ax):
    """Binomial: a rootogram of the successes when every row has the same number of
    trials (then a count of successes means the same in every row and takes at most
    trials + 1 values); otherwise of the proportions successes/trials in ten bins of
    [0, 1], because success counts out of differing trials mix incomparable scales
    (3 of 5 and 3 of 500 would share a bar)."""
    observed, predicted = idata.observed_data["y"].values, _predicted(idata)
    trials = idata.constant_data["trials"].values
    if np.all(trials == trials[0]):
        rootogram(ax, observed, predicted, integer_edges(int(trials[0])))
        ax.set_xlabel(f"successes out of {trials[0]:g} trials")
    else:
        rootogram(ax, observed / trials, predicted / trials, np.linspace(0, 1, 11))
        ax.set_xlabel(f"share of successes in the row (binned: trials differ, {trials.min():g} to {trials.max():g})")


def _share_ppc(idata, ax):
    """Bernoulli: each group's share of 1s (bars) against the posterior predictive
    share of its rows (mean and 90% interval). A histogram of 0s and 1s would only
    check the overall share, which any model with an intercept fits; the groups' shares
    are what pooling changes. Groups in order of observed share, at most SHOWN_GROUPS."""
    observed, predicted = idata.observed_data["y"].values, _predicted(idata)
    index = idata.constant_data["group_index"].values
    labels = idata.posterior["group"].values
    rows = np.bincount(index, minlength=labels.size)
    share = np.bincount(index, weights=observed, minlength=labels.size) / rows
    drawn = _per_row_bincount(np.broadcast_to(index, predicted.shape), labels.size, predicted) / rows
    shown = _evenly(share)
    low, high = np.quantile(drawn[:, shown], INTERVAL, axis=0)
    mean, at = drawn[:, shown].mean(0), np.arange(shown.size)
    ax.bar(at, share[shown], 0.7, color="C0", alpha=0.8, label="observed share of 1s")
    ax.errorbar(at, mean, [mean - low, high - mean], fmt="o", ms=3, color="C3",
                label="posterior predictive share, mean and 90% interval")
    ax.set_xticks(at, labels[shown], rotation=90 if shown.size > 12 else 0, fontsize=7)
    ax.get_figure().set_size_inches(max(7, 0.12 * shown.size), 4.5)
    overall = predicted.mean(1)
    some = f" ({shown.size} of {labels.size}, evenly spaced by share)" if shown.size < labels.size else ""
    ax.set_xlabel(f"group{some}; overall share of 1s observed {observed.mean():.3g}, predicted "
                  f"{overall.mean():.3g} (90%: {np.quantile(overall, INTERVAL[0]):.3g} to "
                  f"{np.quantile(overall, INTERVAL[1]):.3g})")
    ax.set_ylabel("share of 1s")
    _legend_outside(ax)


DISCRETE_CHECKS = {"count": _counts_ppc, "proportion": _successes_ppc, "binary": _share_ppc}


def posterior_predictive(idata, out, title):
    """Posterior predictive check that suits the response: a density of a continuous
    one, bars of a discrete one (a density of whole numbers smears mass between them,
    and az.plot_ppc in ArviZ 0.23 draws even integer data as per-draw density lines,
    on bins chosen anew for every draw, and the stored float32 draws as KDEs)."""
    family = family_of(idata)
    heading = f"Posterior predictive check: {title}"
    if family.discrete:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        DISCRETE_CHECKS[family.response](idata, ax)
        fig.suptitle(f"{heading} ({family.name})")
        return _save(fig, out)
    return _density_ppc(idata, out, heading)


def _density_ppc(idata, out, heading):
    """Densities of the observed response and of predictive draws (az.plot_ppc). A
    constant response (allowed: default priors then take s = 1) has no density, and
    its fit predicts draws too narrow for ArviZ's KDE to bin: there each predictive
    draw is a row of points over the observed value, and the title says why."""
    kept = idata.posterior_predictive.sizes["chain"] * idata.posterior_predictive.sizes["draw"]
    observed = idata.observed_data["y"].values
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
    """Trace and rank plots of the population-level parameters, every grouping factor's
    standard deviations (pooling.hierarchy), and theta. Ranks are drawn as each chain's
    deviation from uniform (ArviZ's rank_vlines), which shows a chain off the others at a
    glance and draws in half the time of rank histograms (thousands of bar patches, in
    the PNG and again in the PDF: 4.1-4.6 s against 2.3-2.5 s for sleepstudy)."""
    from .hierarchy import root

    scales = [v for v in idata.posterior.data_vars if v not in HYPER and root(v)[0] in ("tau", "tau_slope")]
    names = [v for v in (*HYPER, *scales, "theta") if v in idata.posterior]
    coords, note = _shown(idata)
    narrow = _narrow(idata.posterior, names)
    transform = None
    if narrow:  # float64 copies: any two distinct float32 values are 2**29 float64 steps apart
        transform = lambda posterior: posterior.astype("float64")  # noqa: E731
        note += (f"\nalmost no posterior spread in {', '.join(narrow)} "
                 "(densities drawn from float64 copies of the float32 draws)")
    axes = az.plot_trace(idata, var_names=names, coords=coords, kind="rank_vlines", compact=True,
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


def test_scores(summary, pointwise, out):
    """Held-out rows (pooling.heldout): per strategy, the mean log predictive density
    per row (± its standard error) and the RMSE, for rows of groups the fit saw and of
    groups new to it, side by side, since a strategy may score the two very differently
    and no pooling cannot score new groups at all."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 1.5 + 0.5 * max(len(summary), 2)))
    rows = np.arange(len(summary))
    subsets = [(False, "groups the fit saw", "o"), (True, "new groups", "s")]
    for k, (new, label, marker) in enumerate(subsets):
        part = pointwise[pointwise["new_group"] == new]
        if not len(part):
            continue
        lpd = [part[f"lpd_{s}"].dropna() for s in summary.index]
        mean = [v.mean() if len(v) else np.nan for v in lpd]
        se = [v.std(ddof=0) / np.sqrt(len(v)) if len(v) else np.nan for v in lpd]
        shift = rows + 0.2 * k
        left.errorbar(mean, shift, xerr=se, fmt=marker, color=f"C{k}", label=f"{label} ({len(part)} rows)")
        right.plot(summary[f"rmse_{'new' if new else 'seen'}_groups"], shift, marker, color=f"C{k}", label=label)
        for row, value in zip(shift, mean):
            if np.isnan(value):
                left.annotate("not scored: no population", (0.02, row), xycoords=("axes fraction", "data"),
                              fontsize=7, color=f"C{k}", va="center")
    for ax in (left, right):
        ax.set_yticks(rows, [strategy_label(s) for s in summary.index])
        ax.set_ylim(len(summary) - 0.4, -0.6)
    left.set_xlabel("mean log predictive density per row\n(± se; higher is better)")
    left.legend(frameon=False, fontsize=8)
    right.set_xlabel(f"RMSE of the posterior predictive mean\n({summary['scale'].iloc[0]}; lower is better)")
    fig.suptitle("Held-out rows: how each strategy predicts data it was not fitted to", y=1.02)
    fig.tight_layout()
    return _save(fig, out)


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
