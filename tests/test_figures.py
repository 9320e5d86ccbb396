"""Every figure the workflow draws for a dataset (plot_fit, plot_shrinkage,
plot_comparison) on a constant response (issue #12), whose fits have almost no
posterior spread, and the unchanged figures of ordinary data."""

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.image import imread

from pooling import figures
from pooling.compare import load_fits, loo, loo_table
from pooling.data import load_prepared, prepare
from pooling.fit import sample, write_netcdf
from pooling.logo import logo_tables

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
        idata, _ = sample(data, strategy, SETTINGS)
        idata.attrs = {"strategy": strategy}
        paths.append(directory / f"{strategy}.nc")
        write_netcdf(idata, paths[-1])
    return load_fits(paths)


def draw_fit_figures(fits, directory, dataset):
    """plot_fit.py for each strategy: {(kind, strategy): (png, returned figure)}."""
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
    # compare.py, then plot_comparison.py reading its CSVs back
    loo_table({name: loo(idata) for name, idata in fits.items()}).to_csv(directory / "loo.csv")
    summary, groups = logo_tables(fits)
    summary.to_csv(directory / "logo.csv")
    groups.to_csv(directory / "logo_groups.csv", index=False)
    pngs["forest"] = directory / "forest.png"
    figures.forest(fits, pngs["forest"])
    pngs["loo"] = directory / "loo_compare.png"
    figures.loo_comparison(pd.read_csv(directory / "loo.csv", index_col=0), pngs["loo"])
    pngs["logo"] = directory / "logo_compare.png"
    figures.logo_comparison(pd.read_csv(directory / "logo.csv", index_col=0),
                            pd.read_csv(directory / "logo_groups.csv", dtype={"group": str}),
                            pngs["logo"])
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
        az.plot_trace(idata, var_names=["theta"], kind="rank_bars", compact=True)
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
