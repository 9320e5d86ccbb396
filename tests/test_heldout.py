"""Held-out scoring (a dataset's `test` CSV): the test rows prepared against the training
data, each strategy's row log predictive densities from its fit's draws (by hand for a
seen group, the population marginal for a new group), no pooling leaving new groups out,
RMSE and Brier by hand, one-line errors for a test file that cannot be scored, and the
Efron-Morris rest-of-season scores against the published ones (rstanarm's pooling
vignette, Carpenter's Stan case study; tests/data/README.md)."""

import logging
import math
import shutil

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import special, stats
from scipy.special import logsumexp

from pooling import families, heldout
from pooling.compare import load_fits
from pooling.data import load_prepared, prepare
from pooling.errors import DataError
from pooling.fit import DIMS, run_nuts
from pooling.radon import split
from pooling.testdata import prepare_test

from helpers import ROOT, copy_workflow, read_config, snakemake, write_config

FORMULA = "y ~ 1 + x + u + soil + (1 | g)"
SETTINGS = dict(chains=2, warmup=300, draws=300, target_accept=0.95, seed=3, max_tree_depth=10,
                parameterization="noncentered", family="gaussian", priors={})
# test rows: two of seen group a, one of seen group b, two of new group z, one of new group w
TEST = "g,y,x,u,soil\na,1.2,0.3,0.1,clay\na,0.4,-1.1,0.1,sand\nb,2.0,0.5,0.6,sand\n" \
       "z,1.5,0.2,0.3,sand\nz,0.1,-0.7,0.3,clay\nw,3.1,1.4,-0.8,sand\n"
SEEN, NEW = [0, 1, 2], [3, 4, 5]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Training data of 5 groups (a group-level predictor u, a row predictor x and a
    categorical soil), its prepared CSV, and the prepared test rows."""
    directory = tmp_path_factory.mktemp("heldout")
    rng = np.random.default_rng(7)
    groups = np.repeat(list("abcde"), 6)
    u = dict(zip("abcde", [0.1, 0.6, -0.4, 0.9, -0.2]))
    x = rng.normal(size=len(groups))
    soil = rng.choice(["clay", "sand"], size=len(groups))
    effect = dict(zip("abcde", rng.normal(0, 0.7, size=5)))
    y = (1 + 0.5 * x + 0.8 * np.array([u[g] for g in groups]) + 0.4 * (soil == "sand")
         + np.array([effect[g] for g in groups]) + rng.normal(0, 0.5, size=len(groups)))
    source = directory / "training.csv"
    pd.DataFrame({"g": groups, "y": y.round(3), "x": x.round(3), "u": [u[g] for g in groups],
                  "soil": soil}).to_csv(source, index=False)
    prepared = directory / "prepared.csv"
    prepare(str(source), formula=FORMULA).to_csv(prepared, index=False)
    test = directory / "test.csv"
    test.write_text(TEST)
    prepared_test = directory / "prepared_test.csv"
    prepare_test(str(test), str(source), str(prepared), formula=FORMULA).to_csv(prepared_test, index=False)
    return {"source": str(source), "prepared": str(prepared), "test": str(test), "prepared_test": str(prepared_test),
            "directory": directory}


def posterior_only(data, strategy):
    """A fit as pooling.fit writes it, but for its predictive draws and log-likelihood,
    which held-out scoring does not read (they would triple the fixture's time): the
    posterior with the fit's coords and dims, the group-level predictors, the attrs."""
    mcmc, _, rows, _, fitted = run_nuts(data, strategy, SETTINGS)
    coords = {"group": fitted.group_labels, "predictor": fitted.predictor_names,
              "group_predictor": fitted.group_predictor_names}
    idata = az.from_dict(posterior=mcmc.get_samples(group_by_chain=True), coords=coords,
                         dims={name: dims for name, dims in DIMS.items() if name != "y"},
                         constant_data={} if rows.U is None else {"U": rows.U})
    idata.attrs.update(family="gaussian", seed=SETTINGS["seed"], strategy=strategy)
    return idata


@pytest.fixture(scope="module")
def fits(files):
    data = load_prepared(files["prepared"])
    return {strategy: posterior_only(data, strategy)
            for strategy in ("no_pooling", "complete_pooling", "partial_pooling")}


@pytest.fixture(scope="module")
def test_data(files):
    return load_prepared(files["prepared_test"])


@pytest.fixture(scope="module")
def scored(fits, test_data):
    return heldout.score(fits, test_data)


def draws(idata, name):
    return idata.posterior[name].stack(sample=("chain", "draw")).transpose("sample", ...).values.astype(float)


def test_test_rows_are_coded_with_the_training_levels_and_columns(files, test_data):
    """The prepared test CSV has the training CSV's columns in its order; soil is coded
    against the training levels (clay the reference), whatever levels the test rows hold."""
    training = pd.read_csv(files["prepared"])
    test = pd.read_csv(files["prepared_test"], keep_default_na=False)
    assert list(test.columns) == list(training.columns) == ["group", "y", "x:x", "u:u", "x:soil[sand]"]
    np.testing.assert_array_equal(test["x:soil[sand]"], [0, 1, 1, 1, 0, 1])
    assert test_data.group_labels == ["a", "b", "z", "w"]
    np.testing.assert_array_equal(test_data.U[:, 0], [0.1, 0.6, 0.3, -0.8])


def test_seen_group_rows_are_the_log_mean_of_the_fits_own_densities(fits, test_data, scored):
    """A row of a group the fit saw: log mean over draws of N(y | theta_j + x beta, sigma)
    with the fit's own theta_j (every strategy), to 1e-10."""
    _, pointwise = scored
    for strategy, idata in fits.items():
        theta, beta, sigma = draws(idata, "theta"), draws(idata, "beta"), draws(idata, "sigma")
        groups = list(idata.posterior["group"].values)
        for row in SEEN:
            j = groups.index(pointwise.loc[row, "group"])
            eta = theta[:, j] + beta @ test_data.X[row]
            expected = logsumexp(stats.norm.logpdf(test_data.y[row], eta, sigma)) - math.log(len(eta))
            assert abs(pointwise.loc[row, f"lpd_{strategy}"] - expected) < 1e-10, (strategy, row)
            assert abs(pointwise.loc[row, f"prediction_{strategy}"] - eta.mean()) < 1e-10


def test_complete_pooling_predicts_a_new_group_from_the_population_mean(fits, test_data, scored):
    _, pointwise = scored
    idata = fits["complete_pooling"]
    mu, beta, gamma, sigma = (draws(idata, name) for name in ("mu", "beta", "gamma", "sigma"))
    for row in NEW:
        eta = mu + gamma @ test_data.U[test_data.group[row]] + beta @ test_data.X[row]
        expected = logsumexp(stats.norm.logpdf(test_data.y[row], eta, sigma)) - math.log(len(eta))
        assert abs(pointwise.loc[row, "lpd_complete_pooling"] - expected) < 1e-10


def tiled(idata, times):
    """The fit with its posterior repeated `times` times along `draw`: the same posterior,
    with `times` fresh new-group draws per posterior draw."""
    posterior = xr.concat([idata.posterior] * times, dim="draw")
    posterior = posterior.assign_coords(draw=np.arange(posterior.sizes["draw"]))
    out = az.InferenceData(posterior=posterior, constant_data=idata.constant_data)
    out.attrs.update(idata.attrs)
    return out


def test_a_new_groups_row_converges_to_the_population_marginal(fits, test_data):
    """A row of a group the partial-pooling fit never saw, its intercept drawn from the
    population with each posterior draw, estimates log mean_s N(y | mu + u gamma + x beta,
    tau^2 + sigma^2). With the draws repeated 40 times (24,000 population draws), the
    Monte Carlo error of the estimate is known in closed form from
    E_z[N(y | m + tau z, sigma)^2] = N(y | m, tau^2 + sigma^2 / 2) / (2 sqrt(pi) sigma):
    the test allows 4 of its standard errors."""
    times = 40
    idata = tiled(fits["partial_pooling"], times)
    rows, log_density, _ = heldout.row_scores(idata, "partial_pooling", test_data)
    lpd = logsumexp(log_density, axis=0) - math.log(log_density.shape[0])
    one = fits["partial_pooling"]
    mu, tau, beta, gamma, sigma = (draws(one, name) for name in ("mu", "tau", "beta", "gamma", "sigma"))
    for row in NEW:
        mean = mu + gamma @ test_data.U[test_data.group[row]] + beta @ test_data.X[row]
        y = test_data.y[row]
        marginal = stats.norm.pdf(y, mean, np.hypot(tau, sigma))
        second = stats.norm.pdf(y, mean, np.sqrt(tau**2 + sigma**2 / 2)) / (2 * math.sqrt(math.pi) * sigma)
        mcse = math.sqrt((second - marginal**2).mean() / (times * len(mu))) / marginal.mean()
        assert mcse < 0.01
        assert abs(lpd[list(rows).index(row)] - math.log(marginal.mean())) < 4 * mcse, row


def test_new_group_draws_are_seeded_by_the_fit(fits, test_data):
    first = heldout.row_scores(fits["partial_pooling"], "partial_pooling", test_data)[1]
    np.testing.assert_array_equal(first, heldout.row_scores(fits["partial_pooling"], "partial_pooling", test_data)[1])


def test_no_pooling_leaves_new_groups_out_and_says_so(fits, test_data, caplog):
    with caplog.at_level(logging.WARNING, logger="pooling.heldout"):
        summary, pointwise = heldout.score({"no_pooling": fits["no_pooling"]}, test_data)
    line = summary.loc["no_pooling"]
    note = ("no pooling has no population to draw a new group from: the 3 test rows of groups it never "
            "saw are left out; its scores are over its other 3 rows")
    assert (line["rows_scored"], line["rows_new_groups"], line["rows_left_out"], line["note"]) == (3, 3, 3, note)
    assert caplog.messages == [f"no_pooling: {note}"]
    assert pointwise.loc[NEW, "lpd_no_pooling"].isna().all()
    assert line["elpd"] == pytest.approx(pointwise.loc[SEEN, "lpd_no_pooling"].sum(), abs=1e-12)
    assert line["rows_scored"] + line["rows_left_out"] == len(pointwise)
    assert np.isnan(line["mean_lpd_new_groups"]) and np.isnan(line["rmse_new_groups"])


def test_summary_sums_and_rmse_follow_the_rows(scored):
    summary, pointwise = scored
    for strategy in ("complete_pooling", "partial_pooling"):
        line, lpd = summary.loc[strategy], pointwise[f"lpd_{strategy}"]
        error = pointwise["y"] - pointwise[f"prediction_{strategy}"]
        assert line["elpd"] == pytest.approx(lpd.sum(), abs=1e-12)
        assert line["se"] == pytest.approx(math.sqrt(6 * lpd.var(ddof=0)), abs=1e-12)
        assert line["rmse"] == pytest.approx(math.sqrt((error**2).mean()), abs=1e-12)
        assert line["rmse_new_groups"] == pytest.approx(math.sqrt((error[NEW] ** 2).mean()), abs=1e-12)
        assert (line["rows_scored"], line["rows_left_out"], line["note"]) == (6, 0, "")
        assert np.isnan(line["brier"]) and line["scale"] == "response"


def test_brier_score_of_binary_rows_by_hand():
    """Bernoulli: each row's predicted chance is the mean over draws of expit(mu); the
    Brier score is the mean squared difference to the 0/1 outcomes, the RMSE its root."""
    rng = np.random.default_rng(2)
    mu = rng.normal(-0.4, 0.3, size=(2, 50))
    idata = az.from_dict(posterior={"mu": mu, "theta": np.repeat(mu[..., None], 2, axis=2)},
                         coords={"group": ["a", "b"]}, dims={"theta": ["group"]})
    idata.attrs.update(family="bernoulli", seed=1)
    test = pd.DataFrame({"group": ["a", "b", "c", "c"], "y": [1.0, 0.0, 0.0, 1.0]})
    from pooling.data import from_table

    summary, pointwise = heldout.score({"complete_pooling": idata}, from_table(test))
    chance = special.expit(mu.ravel()).mean()
    y = test["y"].to_numpy()
    assert summary.loc["complete_pooling", "brier"] == pytest.approx(((chance - y) ** 2).mean(), abs=1e-12)
    assert summary.loc["complete_pooling", "rmse"] == pytest.approx(math.sqrt(((chance - y) ** 2).mean()), abs=1e-12)
    lpd = np.log(np.where(y == 1, chance, 1 - chance))
    np.testing.assert_allclose(pointwise["lpd_complete_pooling"], lpd, atol=1e-12)
    assert summary.loc["complete_pooling", "scale"] == "probability of a 1"
    assert heldout.is_binary(from_table(test.assign(trials=1.0)), families.named("binomial"))


def bad_test(files, name, text):
    path = files["directory"] / name
    path.write_text(text)
    with pytest.raises(DataError) as error:
        prepare_test(str(path), files["source"], files["prepared"], formula=FORMULA)
    return str(path), str(error.value)


@pytest.mark.parametrize("name, text, message", [
    ("missing.csv", "g,y,u,soil\na,1,0.1,clay\n",
     "column 'x' is not in the test file (config `test`); the model 'y ~ 1 + x + u + soil + (1 | g)' "
     "reads columns 'y', 'x', 'u', 'soil', 'g' and the test file has 'g', 'y', 'u', 'soil': add the column"),
    ("text.csv", "g,y,x,u,soil\na,1,0.2,0.1,clay\na,2,high,0.1,clay\n",
     "column 'x' holds numbers in the training data ({source}) but 'high' on line 3 of the test file (1 such "
     "value(s)); a test file's columns need the training data's types: fix the value or drop the row"),
    ("level.csv", "g,y,x,u,soil\na,1,0.2,0.1,peat\nz,2,0.1,0.3,sand\n",
     "column 'soil' has level 'peat' on line 2 of the test file (1 such row(s)), which the training data "
     "({source}) do not have; a categorical predictor has coefficients for the training levels only ('clay', "
     "'sand'): drop or recode those rows"),
    ("empty.csv", "",
     "the test file (config `test`) has no data rows; give it the training data's header and the held-out rows "
     "to score, or remove `test` from the dataset"),
    ("header.csv", "g,y,x,u,soil\n",
     "the test file (config `test`) has no data rows; give it the training data's header and the held-out rows "
     "to score, or remove `test` from the dataset"),
    ("varies.csv", "g,y,x,u,soil\nz,1,0.2,0.3,clay\nz,2,0.1,0.5,sand\n",
     "group-level predictor 'u' varies within group 'z' of the test file (from 0.3 to 0.5); it is one value per "
     "group in the training data, so give every row of a group the same value"),
])
def test_a_test_file_that_cannot_be_scored_is_one_line(files, name, text, message):
    path, error = bad_test(files, name, text)
    assert error == f"{path}: {message.format(source=files['source'])}"


def test_a_bad_test_file_stops_only_its_own_job(shipped_run, tmp_path):
    """The fits, LOO and figures of a run stay as they are: the test rows are prepared
    by a job of their own, which ends with the one-line error."""
    run = copy_workflow(tmp_path)
    config = read_config(shipped_run)
    config["datasets"] = {"efron_morris": config["datasets"]["efron_morris"]}
    write_config(run, config)
    shutil.copytree(shipped_run / "results/efron_morris", run / "results/efron_morris")
    for output in ("data/test.csv", "test_scores.csv", "test_pointwise.csv"):
        (run / "results/efron_morris" / output).unlink()
    (run / "resources/efron_morris_rest.csv").write_text("player,first_name,hits\nClemente,Roberto,127\n")
    fits = sorted((run / "results/efron_morris/fits").glob("*.nc"))
    before = {path: path.stat().st_mtime_ns for path in fits}
    result = snakemake(run, "results/efron_morris/test_scores.csv", "--cores", "1", "--rerun-triggers", "mtime",
                       check=False)
    assert result.returncode != 0
    log = (run / "logs/efron_morris/prepare_test.log").read_text().splitlines()[-1]
    assert log.startswith("ERROR: resources/efron_morris_rest.csv: column 'at_bats' is not in the test file")
    assert {path: path.stat().st_mtime_ns for path in fits} == before
    assert (run / "results/efron_morris/loo_compare.csv").exists()


def mcse_of_sum(idata, strategy, test):
    """The elpd of `idata` on `test` and its Monte Carlo standard error: to first order
    (delta method) the elpd's error is that of the mean over draws of
    v_s = sum_i p_i^(s) / mean_s p_i^(s), whose MCSE az.mcse gives with the draws'
    autocorrelation (rows share draws, so their errors are not added independently)."""
    rows, log_density, _ = heldout.row_scores(idata, strategy, test)
    chains, per_chain = idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]
    weights = np.exp(log_density - log_density.max(axis=0))
    v = (weights / weights.mean(axis=0)).sum(axis=1).reshape(chains, per_chain)
    error = float(az.mcse(xr.Dataset({"v": (("chain", "draw"), v)}), method="mean")["v"])
    lpd = logsumexp(log_density, axis=0) - math.log(len(log_density))
    return lpd.sum(), error, log_density


def test_efron_morris_rest_of_season_agrees_with_the_published_scores(shipped_run):
    """The rest of the 1970 season (tests/data/efron_morris_heldout_published.csv): the
    sum over players of each player's log predictive density (rstanarm's vignette: partial
    pooling -71.8, complete pooling -73.1) and the posterior mean of the summed log density
    (complete pooling: -81.8 in the vignette, -81 in the case study). Our priors differ
    from theirs in mu's prior only (normal(logit(215/810), 2.5) against normal(-1, 1)),
    which the data (about 120 times as precise about mu) overrule: below 0.01 on these
    sums. The tolerance is the published rounding, plus 0.05 for the priors, plus 4 Monte
    Carlo standard errors of the difference (ours at the run's 600 draws, as mcse_of_sum
    estimates it; theirs at 4000 draws with the same per-draw spread). No pooling's prior
    is wider than theirs (normal(-1.02, 2.5) against normal(-1, 1) on each log-odds): it
    shrinks less and predicts worse, so it is compared by rank, last, as in both sources."""
    published = pd.read_csv(ROOT / "tests/data/efron_morris_heldout_published.csv")
    value = published.set_index(["source", "model", "quantity"])["value"]
    scores = pd.read_csv(shipped_run / "results/efron_morris/test_scores.csv", index_col=0)
    fits = load_fits(sorted((shipped_run / "results/efron_morris/fits").glob("*.nc")))
    test = load_prepared(shipped_run / "results/efron_morris/data/test.csv")
    theirs = math.sqrt(1 + 2 * 300 / 4000)  # combined MCSE / ours: their 4000 draws to our 600
    for strategy in ("partial_pooling", "complete_pooling"):
        elpd, mcse, log_density = mcse_of_sum(fits[strategy], strategy, test)
        assert scores.loc[strategy, "elpd"] == pytest.approx(elpd, abs=1e-9)
        tolerance = 0.05 + 0.05 + 4 * mcse * theirs
        assert abs(elpd - value["rstanarm_vignette", strategy, "elpd_pointwise"]) < tolerance, (strategy, elpd)
    summed = xr.Dataset({"s": (("chain", "draw"), log_density.sum(axis=1).reshape(2, 300))})
    mcse = float(az.mcse(summed, method="mean")["s"])
    for source, rounding in (("rstanarm_vignette", 0.05), ("stan_case_study", 0.5)):
        difference = float(summed["s"].mean()) - value[source, "complete_pooling", "mean_log_p_new"]
        assert abs(difference) < rounding + 0.05 + 4 * mcse * theirs, (source, difference)
    assert scores["elpd"].idxmin() == "no_pooling"
    assert scores.loc["no_pooling", "elpd"] < value["rstanarm_vignette", "complete_pooling", "elpd_pointwise"]


def test_radon_split_holds_out_homes_of_every_county_and_whole_counties():
    """The split_radon rule's split of the Minnesota table (tests/data/radon_mn.csv): 8
    whole counties, and 20% of the homes (at least one, never all) of every other county
    of two homes or more; the same split for the same seed."""
    table = pd.read_csv(ROOT / "tests/data/radon_mn.csv", index_col=0)
    training, test = split(table, 2006, 0.2, 8)
    assert len(training) + len(test) == len(table) and not set(training.index) & set(test.index)
    new = set(test["county"]) - set(training["county"])
    assert len(new) == 8 and test["county"].isin(new).sum() == table["county"].isin(new).sum()
    sizes = table.groupby("county").size()
    kept = test[~test["county"].isin(new)].groupby("county").size()
    expected = {c: min(n - 1, max(1, round(0.2 * n))) for c, n in sizes.items() if c not in new and n >= 2}
    assert kept.to_dict() == expected
    again = split(table, 2006, 0.2, 8)[1]
    assert again.index.tolist() == test.index.tolist()
