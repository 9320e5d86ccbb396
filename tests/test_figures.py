"""Every figure the workflow draws for a dataset (the diagnose and compare
jobs) on a constant response (issue #12), whose fits have almost no
posterior spread, and the unchanged figures of ordinary data; then, on small fits built
by hand for each likelihood family, what the figures draw: the discrete predictive
checks, shrinkage against each group's precision, and estimates on the response scale."""

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.image import imread
from scipy import special

from pooling import figures
from pooling.compare import compare_fits, load_fits
from pooling.data import load_prepared, prepare
from pooling.fit import prior_attrs, sample

SETTINGS = dict(chains=2, warmup=100, draws=100, target_accept=0.95, seed=1,
                max_tree_depth=10, parameterization="noncentered", priors={})
STRATEGIES = ("no_pooling", "complete_pooling", "partial_pooling")
CONSTANT = 3.0


def fit(directory, y, strategies):
    """{strategy: InferenceData} as plot scripts get them: sampled, written to NetCDF
    and read back."""
    source = directory / "source.csv"
    source.write_text("g,y\n" + "".join(f"{g},{v}\n" for g, v in zip(np.repeat(list("abcd"), 3), y)))
    prepare(str(source), "y", group="g").to_csv(directory / "prepared.csv", index=False)
    data = load_prepared(directory / "prepared.csv")
    paths = []
    for strategy in strategies:
        idata, priors = sample(data, strategy, SETTINGS)
        idata.attrs = {"strategy": strategy, **prior_attrs(priors)}
        paths.append(directory / f"{strategy}.nc")
        idata.to_netcdf(paths[-1])
    return load_fits(paths)


def draw_fit_figures(fits, directory, dataset):
    """The diagnose job's figures for each strategy: {(kind, strategy): (png, returned figure)}."""
    drawn = {}
    for strategy, idata in fits.items():
        title = f"{dataset}, {figures.strategy_label(strategy)}"
        for kind, draw in (("ppc", figures.posterior_predictive), ("trace", figures.rank_trace)):
            png = directory / f"{kind}_{strategy}.png"
            drawn[kind, strategy] = png, draw(idata, png, title)
    return drawn


@pytest.fixture(scope="module")
def constant(tmp_path_factory):
    """A constant response, 4 groups x 3 rows, all three strategies fitted once and
    every figure of the dataset drawn as the workflow draws it."""
    directory = tmp_path_factory.mktemp("constant")
    fits = fit(directory, np.full(12, CONSTANT), STRATEGIES)
    drawn = draw_fit_figures(fits, directory, "flat")
    pngs = {name: png for name, (png, _) in drawn.items()}
    # the compare job: its tables, then its figures
    outputs = {name: directory / f"{name}.csv" for name in ("loo", "pointwise", "logo", "logo_groups", "priors")}
    outputs.update(forest=directory / "forest.png", loo_plot=directory / "loo_compare.png",
                   logo_plot=directory / "logo_compare.png")
    compare_fits([directory / f"{strategy}.nc" for strategy in STRATEGIES], [], outputs)
    pngs.update(forest=outputs["forest"], loo=outputs["loo_plot"], logo=outputs["logo_plot"])
    pngs["shrinkage"] = directory / "shrinkage.png"
    figures.shrinkage(fits["no_pooling"], fits["partial_pooling"], pngs["shrinkage"])
    return {"fits": fits, "pngs": pngs, "figures": {k: fig for k, (_, fig) in drawn.items()}}


@pytest.fixture(scope="module")
def ordinary(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ordinary")
    y = np.random.default_rng(0).normal(size=12) + np.repeat([0.0, 1, 2, 3], 3)
    fits = fit(directory, y, ["partial_pooling"])
    drawn = draw_fit_figures(fits, directory, "ordinary")
    return {k: fig for k, (_, fig) in drawn.items()}


def observed_line(fig):
    lines = [line for line in fig.axes[0].get_lines() if line.get_label() == "Observed"]
    assert len(lines) == 1
    return lines[0]


def test_every_figure_of_a_constant_response_is_drawn(constant):
    assert len(constant["pngs"]) == 2 * len(STRATEGIES) + 4
    for name, png in constant["pngs"].items():
        image = imread(png)
        assert image.ndim == 3 and min(image.shape[:2]) > 100, name
        assert image[..., :3].std() > 0.05, f"{name} is blank"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_ppc_of_a_constant_response_says_so_and_shows_draws_as_points(constant, strategy):
    fig = constant["figures"]["ppc", strategy]
    assert fig.get_suptitle() == (
        f"Posterior predictive check: flat, {figures.strategy_label(strategy)}\n"
        "observed response is constant (y = 3 in all 12 rows): "
        "no density, predictive draws shown as points"
    )
    observed = observed_line(fig)  # az.plot_ppc(kind="scatter"): points, not a density curve
    assert observed.get_marker() == "o" and observed.get_linestyle() == "None"
    np.testing.assert_array_equal(observed.get_xdata(), np.full(12, CONSTANT))
    rows = [line for line in fig.axes[0].get_lines()
            if line.get_marker() == "o" and line.get_label().startswith("_")]
    assert len(rows) == 100  # one row of points per predictive draw shown
    predicted = np.concatenate([line.get_xdata() for line in rows])
    assert predicted.shape == (1200,) and np.ptp(predicted) > 0
    assert np.abs(predicted - CONSTANT).max() < 0.1  # the fit reproduces the constant, barely spread


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_trace_title_names_parameters_with_almost_no_spread(constant, strategy):
    posterior = constant["fits"][strategy].posterior
    names = [v for v in (*figures.HYPER, "theta") if v in posterior]
    narrow = figures._narrow(posterior, names)
    title = constant["figures"]["trace", strategy].get_suptitle()
    heading = f"Trace and rank plots: flat, {figures.strategy_label(strategy)}"
    if narrow:  # how far sigma -> 0 (and theta with it) has gone depends on the sampler
        assert title == (f"{heading}\nalmost no posterior spread in {', '.join(narrow)} "
                         "(densities drawn from float64 copies of the float32 draws)")
    else:
        assert title == heading


def test_trace_of_draws_a_few_float32_steps_apart_is_drawn(constant, tmp_path):
    """The trace crash of issue #12: ArviZ's KDE bins a chain's range into 512 bins in
    the draws' dtype, and theta of a constant response spans fewer float32 steps."""
    idata = constant["fits"]["complete_pooling"].copy()
    theta = idata.posterior["theta"]
    steps = np.random.default_rng(0).integers(0, 100, size=theta.shape)
    few_steps = CONSTANT + steps * np.spacing(np.float32(CONSTANT))
    idata.posterior["theta"] = theta.copy(data=few_steps.astype(np.float32))
    with pytest.raises(ValueError, match="Too many bins for data range"):
        az.plot_trace(idata, var_names=["theta"], kind="rank_vlines", compact=True)
    figures.plt.close("all")
    fig = figures.rank_trace(idata, tmp_path / "trace.png", "few steps")
    assert "almost no posterior spread in " in fig.get_suptitle()
    assert "theta" in fig.get_suptitle().split("\n")[1]
    assert imread(tmp_path / "trace.png")[..., :3].std() > 0.05


def test_ordinary_data_keep_the_density_ppc_and_plain_titles(ordinary):
    ppc, trace = ordinary["ppc", "partial_pooling"], ordinary["trace", "partial_pooling"]
    assert ppc.get_suptitle() == "Posterior predictive check: ordinary, partial pooling"
    observed = observed_line(ppc)  # ArviZ's default kind: a KDE curve over its grid
    assert observed.get_marker() == "None" and observed.get_linestyle() == "-"
    assert len(observed.get_xdata()) > 12
    assert trace.get_suptitle() == "Trace and rank plots: ordinary, partial pooling"
    ranks = trace.axes[1::2]  # each chain's deviation from uniform ranks, not histogram bars
    assert ranks and all(ax.collections and not ax.patches for ax in ranks)


def test_narrow_flags_chains_spanning_few_float32_steps_only():
    rng = np.random.default_rng(0)

    def posterior(values):
        return xr.Dataset({"x": (("chain", "draw", "group"), np.asarray(values))})

    spread = rng.normal(3, 1, size=(2, 50, 3)).astype(np.float32)
    steps = (3 + np.spacing(np.float32(3)) * rng.integers(0, 100, size=(2, 50, 3))).astype(np.float32)
    assert figures._narrow(posterior(spread), ["x"]) == []
    assert figures._narrow(posterior(steps), ["x"]) == ["x"]
    one_narrow_element = spread.copy()
    one_narrow_element[1, :, 2] = steps[1, :, 2]
    assert figures._narrow(posterior(one_narrow_element), ["x"]) == ["x"]
    constant = np.full((2, 50, 3), 3, np.float32)
    assert figures._narrow(posterior(constant), ["x"]) == []  # no range: ArviZ's KDE copes
    assert figures._narrow(posterior(steps.astype(float)), ["x"]) == []  # float64 bins that finely


def hand_fit(family, rows, theta, predictive, y, **constant):
    """A fit's InferenceData as fit.py lays it out, built directly: `rows` per group,
    theta (chain, draw, group), predictive draws (chain, draw, obs); `constant` adds
    trials, offset, se or U (with `gamma` posterior draws)."""
    index = np.repeat(np.arange(len(rows)), rows).astype(np.int32)
    chains, draws = np.shape(theta)[:2]
    mu = np.linspace(-0.5, 0.5, chains * draws).reshape(chains, draws)
    posterior = {"theta": np.asarray(theta, np.float32), "mu": mu.astype(np.float32),
                 "tau": np.ones((chains, draws), np.float32)}
    if "gamma" in constant:
        posterior["gamma"] = constant.pop("gamma")
    idata = az.from_dict(
        posterior=posterior,
        posterior_predictive={"y": np.asarray(predictive, np.float32)},
        observed_data={"y": np.asarray(y, float)},
        constant_data={"group_index": index, "group_size": np.asarray(rows), **constant},
        coords={"group": [f"g{k}" for k in range(len(rows))], "obs": np.arange(index.size)},
        dims={"theta": ["group"], "gamma": ["group_predictor"], "y": ["obs"], "group_index": ["obs"],
              "group_size": ["group"], "trials": ["obs"], "offset": ["obs"], "se": ["obs"],
              "U": ["group", "group_predictor"]},
    )
    idata.attrs = {"family": family, "strategy": "partial_pooling"}
    return idata


def random_fit(family, rows, seed=0, **constant):
    """hand_fit with random theta and predictive draws of the family's kind of response."""
    rng = np.random.default_rng(seed)
    obs = int(np.sum(rows))
    theta = rng.normal(0, 1, size=(2, 30, len(rows)))
    n = constant.get("trials", np.ones(obs))
    draw = {"bernoulli": lambda size: rng.binomial(1, 0.4, size),
            "binomial": lambda size: rng.binomial(n.astype(int), 0.4, size),
            "poisson": lambda size: rng.poisson(3, size),
            "gaussian": lambda size: rng.normal(0, 1, size)}[family]
    return hand_fit(family, rows, theta, draw((2, 30, obs)), draw(obs), **constant)


def scatter(fig, label):
    """(x, y) of the points of the scatter labelled `label` in the figure's first axes."""
    (points,) = [c for c in fig.axes[0].collections if c.get_label() == label]
    return points.get_offsets()[:, 0].data, points.get_offsets()[:, 1].data


def bars(fig, label):
    """(heights, bottoms) of the bars labelled `label` in the figure's first axes."""
    (container,) = [c for c in fig.axes[0].containers if c.get_label() == label]
    return (np.array([bar.get_height() for bar in container]),
            np.array([bar.get_y() for bar in container]))


def test_shrinkage_of_a_binomial_fit_is_drawn_against_trials_on_the_probability_scale(tmp_path):
    rows = [2, 3, 1, 4]
    trials = np.array([10, 20, 5, 5, 5, 40, 1, 2, 3, 4], float)
    separate, pooled = random_fit("binomial", rows, 1, trials=trials), random_fit("binomial", rows, 2, trials=trials)
    fig = figures.shrinkage(separate, pooled, tmp_path / "shrinkage.png")
    x, y = scatter(fig, "no pooling")
    np.testing.assert_array_equal(x, [30, 15, 40, 10])  # trials per group, exactly: no jitter
    assert fig.axes[0].get_xlabel() == "trials in group"
    expected = special.expit(separate.posterior["theta"].values).mean((0, 1))
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert np.all((y > 0) & (y < 1))
    x, y = scatter(fig, "partial pooling")
    np.testing.assert_array_equal(x, [30, 15, 40, 10])
    np.testing.assert_allclose(y, special.expit(pooled.posterior["theta"].values).mean((0, 1)), rtol=1e-6)
    assert fig.axes[0].get_ylabel() == "posterior mean: probability of success per trial, expit(theta)"
    (centre,) = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("population centre")]
    mean_expit_mu = special.expit(pooled.posterior["mu"].values).mean()
    np.testing.assert_allclose(centre.get_ydata(), mean_expit_mu, rtol=1e-6)
    assert centre.get_label() == f"population centre, expit(mu) = {mean_expit_mu:.3g}"


@pytest.mark.parametrize("family, constant, expected, label", [
    ("gaussian", {"se": np.array([1, 2, 2, 4, 0.5, 10])}, [1.5, 1 / 16 + 4 + 1 / 100],
     "precision, sum of 1/se² over the group's rows"),
    ("poisson", {"offset": np.log([1, 2, 3, 0.5, 0.5, 7])}, [6, 8], "exposure in group, sum of exp(offset)"),
    ("poisson", {}, [3, 3], "rows in group"),
    ("binomial", {"trials": np.array([1, 2, 3, 10, 10, 10.0])}, [6, 30], "trials in group"),
    ("bernoulli", {}, [3, 3], "trials in group"),  # a bernoulli row is one trial
    ("gaussian", {}, [3, 3], "rows in group"),
])
def test_precision_is_what_decides_shrinkage_for_each_design(family, constant, expected, label):
    weights, measure = figures.precision(random_fit(family, [3, 3], **constant))
    np.testing.assert_allclose(weights, expected)
    assert measure == label


def test_equal_precision_is_said_and_drawn_against_the_no_pooling_estimate(tmp_path):
    """Ten rows in every group (sleepstudy): the precision axis would be one point, and
    jittering it would invent differences; each group is placed at its no-pooling estimate."""
    separate, pooled = random_fit("gaussian", [10] * 5, 1), random_fit("gaussian", [10] * 5, 2)
    fig = figures.shrinkage(separate, pooled, tmp_path / "shrinkage.png")
    x, y = scatter(fig, "no pooling")
    estimates = separate.posterior["theta"].values.mean((0, 1))
    np.testing.assert_allclose(x, estimates, rtol=1e-6)
    np.testing.assert_array_equal(x, y)  # no pooling lies on the diagonal
    x, y = scatter(fig, "partial pooling")
    np.testing.assert_allclose(x, estimates, rtol=1e-6)
    np.testing.assert_allclose(y, pooled.posterior["theta"].values.mean((0, 1)), rtol=1e-6)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "no-pooling estimate: mean response, theta (identity link)"
    assert ax.get_title().split("\n")[1] == (
        "every group has the same precision (rows in group: 10), so each is drawn against its no-pooling estimate")


def test_known_standard_errors_give_the_shrinkage_axis(tmp_path):
    """Eight schools: one row per group, so rows are all equal, but the known se differ."""
    se = np.array([15, 10, 16, 11, 9, 11, 10, 18.0])
    separate, pooled = (random_fit("gaussian", [1] * 8, seed, se=se) for seed in (1, 2))
    fig = figures.shrinkage(separate, pooled, tmp_path / "shrinkage.png")
    x, _ = scatter(fig, "partial pooling")
    np.testing.assert_allclose(x, se**-2)
    assert fig.axes[0].get_xlabel() == "precision, sum of 1/se² over the group's rows"
    assert "same precision" not in fig.axes[0].get_title()


def test_shrinkage_centres_with_group_predictors_are_on_the_response_scale(tmp_path):
    rows = [2, 5, 9]
    U = np.array([[0.0, 1], [1, 0], [2, -1]])
    gamma = np.random.default_rng(3).normal(size=(2, 30, 2))
    separate = random_fit("poisson", rows, 1)
    pooled = random_fit("poisson", rows, 2, U=U, gamma=gamma)
    fig = figures.shrinkage(separate, pooled, tmp_path / "shrinkage.png")
    x, centres = scatter(fig, "population centre of the group, exp(mu + U gamma)")
    np.testing.assert_array_equal(x, rows)
    mu = pooled.posterior["mu"].values[..., None]
    np.testing.assert_allclose(centres, np.exp(mu + gamma @ U.T).mean((0, 1)), rtol=1e-5)
    _, y = scatter(fig, "partial pooling")
    np.testing.assert_allclose(y, np.exp(pooled.posterior["theta"].values).mean((0, 1)), rtol=1e-6)
    assert fig.axes[0].get_ylabel() == "posterior mean: mean count per row, exp(theta)"


def test_forest_shows_the_response_scale_and_says_so(tmp_path):
    idata = random_fit("poisson", [3, 4, 5], offset=np.zeros(12))
    fig = figures.forest({"partial_pooling": idata}, tmp_path / "forest.png")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "response scale: rate per unit of exposure, exp(theta)"
    assert ax.get_title() == "Group estimates on the response scale, 90% HDI"
    points = [line.get_xdata()[0] for line in ax.get_lines() if line.get_marker() == "o"]
    medians = np.median(np.exp(idata.posterior["theta"].values), axis=(0, 1))  # plot_forest's point: the median
    np.testing.assert_allclose(points, medians[::-1], rtol=1e-5)  # drawn bottom up


def test_forest_of_a_gaussian_fit_is_theta_itself(tmp_path):
    idata = random_fit("gaussian", [3, 4, 5])
    idata.attrs.pop("family")  # fits written before families: gaussian
    fig = figures.forest({"partial_pooling": idata}, tmp_path / "forest.png")
    assert fig.axes[0].get_xlabel() == "response scale: mean response, theta (identity link)"
    points = [line.get_xdata()[0] for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose(points, np.median(idata.posterior["theta"].values, axis=(0, 1))[::-1], rtol=1e-5)


def test_bin_counts_match_histogram_and_keep_the_tails():
    values = np.array([[0, 1, 1, 3, 7, 9, 2.5], [0.5, 0.5, 0.5, 8, 8, 8, 8]])
    edges = np.array([0.5, 2.5, 4.5, 6.5])
    inside = [np.histogram(row[(row >= 0.5) & (row <= 6.5)], edges)[0] for row in values]
    counts = figures.bin_counts(values, edges)
    np.testing.assert_array_equal(counts - inside, [[1, 0, 2], [0, 0, 4]])  # beyond: outer bins
    np.testing.assert_array_equal(figures.integer_edges(5), np.arange(-0.5, 6))
    wide = figures.integer_edges(199)  # 200 values: 5 per bar, 40 bars
    assert len(wide) - 1 == figures.MAX_BARS and np.all(np.diff(wide) == 5) and wide[-1] >= 199.5


def test_count_ppc_is_a_hanging_rootogram_of_the_observed_counts(tmp_path):
    idata = random_fit("poisson", [10, 15, 5])
    y = idata.observed_data["y"].values
    predicted = idata.posterior_predictive["y"].values.reshape(60, -1)
    fig = figures.posterior_predictive(idata, tmp_path / "ppc.png", "counts, partial pooling")
    assert fig.get_suptitle() == "Posterior predictive check: counts, partial pooling (poisson)"
    heights, bottoms = bars(fig, "observed, √count")
    top = int(np.ceil(max(y.max(), np.quantile(predicted, 0.99))))
    assert len(heights) == top + 1  # one bar per count 0..top
    np.testing.assert_allclose(heights**2, np.bincount(y.astype(int), minlength=top + 1))
    expected = np.array([(np.minimum(predicted, top) == k).sum(axis=1).mean() for k in range(top + 1)])
    np.testing.assert_allclose(bottoms, np.sqrt(expected) - heights, atol=1e-12)
    (mean,) = [line for line in fig.axes[0].get_lines() if line.get_label() == "posterior predictive mean, √count"]
    np.testing.assert_allclose(mean.get_ydata(), np.sqrt(expected))
    np.testing.assert_array_equal(mean.get_xdata(), np.arange(top + 1))


def test_binomial_ppc_counts_successes_when_trials_are_equal(tmp_path):
    idata = random_fit("binomial", [4, 4], trials=np.full(8, 6.0))
    fig = figures.posterior_predictive(idata, tmp_path / "ppc.png", "binomial")
    heights, _ = bars(fig, "observed, √count")
    y = idata.observed_data["y"].values.astype(int)
    np.testing.assert_allclose(heights**2, np.bincount(y, minlength=7))  # successes 0..6
    assert fig.axes[0].get_xlabel() == "successes out of 6 trials"


def test_binomial_ppc_bins_proportions_when_trials_differ(tmp_path):
    trials = np.array([1, 5, 10, 50, 100, 200, 3, 7.0])
    idata = random_fit("binomial", [4, 4], trials=trials)
    fig = figures.posterior_predictive(idata, tmp_path / "ppc.png", "binomial")
    heights, _ = bars(fig, "observed, √count")
    share = idata.observed_data["y"].values / trials
    np.testing.assert_allclose(heights**2, np.histogram(share, np.linspace(0, 1, 11))[0])
    assert fig.axes[0].get_xlabel() == "share of successes in the row (binned: trials differ, 1 to 200)"


def test_bernoulli_ppc_compares_each_groups_share_of_ones(tmp_path):
    rows = [4, 6, 5]
    idata = random_fit("bernoulli", rows)
    y = idata.observed_data["y"].values
    index = np.repeat(np.arange(3), rows)
    share = np.bincount(index, weights=y) / rows
    order = np.argsort(share, kind="stable")
    fig = figures.posterior_predictive(idata, tmp_path / "ppc.png", "binary")
    heights, bottoms = bars(fig, "observed share of 1s")
    np.testing.assert_allclose(heights, share[order])
    assert np.all(bottoms == 0)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [f"g{k}" for k in order]
    predicted = idata.posterior_predictive["y"].values.reshape(60, -1)
    drawn = np.stack([np.bincount(index, weights=draw) / rows for draw in predicted])
    (means,) = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"]
    np.testing.assert_allclose(means.get_ydata(), drawn.mean(0)[order])
    assert fig.axes[0].get_xlabel().startswith(f"group; overall share of 1s observed {y.mean():.3g}, predicted ")


def test_discrete_checks_summarise_evenly_spaced_draws(monkeypatch):
    """Above CHECK_DRAWS predictive draws the tallies use that many, first and last kept,
    so a large fit's draws x rows arrays stay bounded."""
    idata = random_fit("poisson", [3, 4])
    monkeypatch.setattr(figures, "CHECK_DRAWS", 7)
    every = idata.posterior_predictive["y"].values.reshape(60, -1)
    np.testing.assert_array_equal(figures._predicted(idata), every[[0, 10, 20, 30, 39, 49, 59]])


@pytest.fixture(scope="module")
def nested_slopes_fit(tmp_path_factory):
    """Partial pooling's posterior of rows in 2 casks in each of 3 batches, a slope of x
    varying over both, built by hand (random draws, no sampling) with the names, dims,
    coords and attrs pooling.hierarchy gives a fit, and read back from NetCDF as
    the diagnose job reads it."""
    from pooling import hierarchy
    from pooling.fitfile import open_fit

    directory = tmp_path_factory.mktemp("nested_slopes")
    rng = np.random.default_rng(1)
    x = rng.normal(size=24)
    pd.DataFrame({"y": 1 + 0.5 * x + rng.normal(size=24), "x": x, "batch": np.repeat(list("ABC"), 8),
                  "cask": np.tile(np.repeat(["a", "b"], 4), 3)}).to_csv(directory / "source.csv", index=False)
    prepare(str(directory / "source.csv"), formula="y ~ x + (1 + x | batch/cask)").to_csv(
        directory / "prepared.csv", index=False)
    data = load_prepared(directory / "prepared.csv")
    batch, cask = data.factors
    draws = lambda *shape: rng.normal(size=(2, 50, *shape))  # noqa: E731
    posterior = {"mu": draws(), "beta": draws(1), "sigma": np.exp(draws()), "theta": draws(6),
                 "slope": draws(6, 1)}
    for factor in data.factors:
        posterior[factor.name_of("tau")] = np.exp(draws())
        posterior[factor.name_of("tau_slope")] = np.exp(draws(1))
        posterior[factor.name_of("corr")] = np.broadcast_to(np.eye(2), (2, 50, 2, 2))
    posterior |= {"theta_batch": draws(3), "slope_batch": draws(3, 1)}
    idata = az.from_dict(
        posterior=posterior, constant_data=hierarchy.level_data(data.factors),
        coords={**hierarchy.coords(data.factors, data.slope_names), "group": data.group_labels,
                "predictor": data.predictor_names},
        dims={**hierarchy.dims(data.factors, data.slope_names), "beta": ["predictor"], "level_batch": ["group"]},
    )
    idata.attrs["factors"] = hierarchy.describe(data.factors)
    idata.to_netcdf(directory / "partial_pooling.nc")
    return open_fit(directory / "partial_pooling.nc")


def forest_levels(ax):
    """(level labels bottom up, each level's point) of an az.plot_forest panel."""
    labels = [t.get_text() for t in ax.get_yticklabels()]
    points = [line.get_xdata()[0] for line in ax.get_lines() if line.get_marker() == "o"]
    return labels, points


def test_group_level_draws_a_forest_of_every_factors_slopes(nested_slopes_fit, tmp_path, monkeypatch):
    """Each factor's row: its intercepts (not the finest's: theta of the forest plot),
    then its levels' x slopes, the finest factor's (casks, in `slope`) under the
    batches' (`slope_batch`); above SHOWN_GROUPS levels one in k is shown and said."""
    monkeypatch.setattr(figures, "SHOWN_GROUPS", 4)  # 6 casks: one in 2; 3 batches: all
    posterior = nested_slopes_fit.posterior
    fig = figures.group_level(nested_slopes_fit, tmp_path / "group_level.png")
    panels = {ax.get_title(): ax for ax in fig.axes if ax.axison}
    assert list(panels) == [
        "batch: standard deviations, 90% HDI", "batch: correlations of its varying terms",
        "batch: each level's intercept, response scale", "batch: each level's slope of x, link scale",
        "batch:cask: standard deviations, 90% HDI", "batch:cask: correlations of its varying terms",
        "batch:cask: each level's slope of x, link scale\n3 of 6 levels (one in 2, in label order)"]
    batches = panels["batch: each level's slope of x, link scale"]
    casks = panels["batch:cask: each level's slope of x, link scale\n3 of 6 levels (one in 2, in label order)"]
    assert batches.get_xlabel() == casks.get_xlabel() == "slope of x (link scale)"
    assert batches.get_subplotspec().colspan == casks.get_subplotspec().colspan  # slopes aligned
    labels, points = forest_levels(batches)
    assert labels == ["slope_batch[A]", "[B]", "[C]"][::-1]  # drawn bottom up
    np.testing.assert_allclose(points, posterior["slope_batch"].sel(batch_varying="x").median(("chain", "draw"))
                               .values[::-1], rtol=1e-5)
    labels, points = forest_levels(casks)
    assert labels == ["slope[A:a]", "[B:a]", "[C:a]"][::-1]
    shown = posterior["slope"].sel(varying="x", group=["A:a", "B:a", "C:a"]).median(("chain", "draw"))
    np.testing.assert_allclose(points, shown.values[::-1], rtol=1e-5)
    labels, _ = forest_levels(panels["batch: each level's intercept, response scale"])
    assert labels == ["theta_batch[A]", "[B]", "[C]"][::-1]


def test_group_level_of_one_varying_intercept_draws_no_level_forest(tmp_path):
    fig = figures.group_level(random_fit("gaussian", [3, 4, 5]), tmp_path / "group_level.png")
    assert [ax.get_title() for ax in fig.axes if ax.axison] == ["group: standard deviations, 90% HDI"]
    assert len(fig.axes) == 3  # the correlations and level forests' panels left blank
