"""The paper bundle (`snakemake paper`): numbers rounded to their Monte Carlo error,
booktabs tables, a methods section written from what was run, and a manifest whose
hashes a reader can check."""

import hashlib
import json
import re
import shutil
import subprocess

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from pooling import bibliography, methods, paper
from pooling.methods import FitRecord
from pooling.tables import Column, Table, error_text, fixed, round_to_error, whole

from helpers import read_config, snakemake


@pytest.mark.parametrize("value, error, expected", [
    (7.7991, 0.08, "7.80"),  # the MCSE's first significant digit is in the second decimal
    (7.7991, 0.0123, "7.80"),
    (7.7991, 0.0095, "7.799"),
    (123.4, 35, "120"),  # an error in the tens rounds to tens
    (123.4, 3.2, "123"),
    (-30.51, 1.10, "-31"),
    (0.3276, 0.146, "0.3"),
    (2.25, 0.1, "2.3"),  # half away from zero, on the decimal digits
    (-2.25, 0.1, "-2.3"),
    (-0.004, 0.05, "0.00"),  # no "-0.00"
    (0.0, 0.0, "0"),  # the best model's difference: no error, 4 significant digits
    (1234.5678, float("nan"), "1235"),
    (float("nan"), 0.1, ""),
])
def test_a_number_is_shown_to_the_first_significant_digit_of_its_error(value, error, expected):
    assert round_to_error(value, error) == expected


@pytest.mark.parametrize("error, expected", [(0.1464, "0.15"), (20.7, "21"), (2.5511, "2.6"), (0.0, "0")])
def test_an_error_keeps_two_significant_digits(error, expected):
    assert error_text(error) == expected


def test_a_table_is_booktabs_latex_and_markdown_with_the_cells_as_rounded():
    table = Table("demo", "Demo", "Means at 90% (rounded).",
                  (Column("parameter", "parameter", "Parameter", numeric=False), Column("mean", "R̂", r"$\hat{R}$")),
                  pd.DataFrame({"parameter": ["tau_batch", "beta[x]"], "mean": ["7.80", "-0.0"]}))
    assert table.to_latex() == (
        "\\begin{table}[htbp]\n"
        "\\caption{Demo. Means at 90\\% (rounded).}\n"
        "\\label{tab:demo}\n"
        "\\begin{tabular}{lr}\n"
        "\\toprule\n"
        "Parameter & $\\hat{R}$ \\\\\n"
        "\\midrule\n"
        "tau\\_batch & 7.80 \\\\\n"
        "beta[x] & -0.0 \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n"
        "\\end{table}\n")
    assert table.to_markdown() == (
        "### Demo\n\nMeans at 90% (rounded).\n\n"
        "| parameter   |    R̂ |\n"
        "|:------------|-----:|\n"
        "| tau_batch   | 7.80 |\n"
        "| beta[x]     | -0.0 |\n")


def _gates(parameters, failing=(), divergences=0):
    """A diagnostics table (pooling.diagnostics.diagnose's columns) with R-hat failing
    for `failing`."""
    table = pd.DataFrame({"r_hat": [1.02 if p in failing else 1.0 for p in parameters],
                          "ess_bulk": 1000.0, "ess_tail": 1000.0}, index=pd.Index(parameters, name="parameter"))
    table["rhat_ok"] = ~table.index.isin(failing)
    table["ess_bulk_ok"] = table["ess_tail_ok"] = True
    table["divergences"], table["divergences_ok"] = divergences, divergences == 0
    table["ebfmi_min"], table["ebfmi_ok"] = 0.9, True
    table["treedepth_saturated"], table["treedepth_ok"] = 0.0, True
    table["passed"] = table[[c for c in table if c.endswith("_ok")]].all(axis=1)
    return table


def _record(strategy, priors, sources):
    attrs = {"strategy": strategy, "formula": "y ~ 1 + (1 | school)", "family": "gaussian",
             "priors": json.dumps(priors), "prior_sources": json.dumps(sources),
             "data_columns": json.dumps({"se": "se"}),
             "fit_config": json.dumps({"chains": 4, "warmup": 1000, "draws": 1000, "target_accept": 0.95,
                                       "max_tree_depth": 10, "seed": 1, "parameterization": "noncentered"}),
             "package_versions": json.dumps({"python": "3.11.7", "numpyro": "0.22.0", "arviz": "0.23.4"})}
    return FitRecord(attrs, rows=8, groups=8)


@pytest.fixture
def eight_schools_run():
    """Eight schools as run with a user's tau prior, partial pooling failing two gates."""
    records = {
        "no_pooling": _record("no_pooling", {"theta": "normal(8.75, 26.11)"}, {"theta": "default"}),
        "complete_pooling": _record("complete_pooling", {"mu": "normal(8.75, 26.11)"}, {"mu": "default"}),
        "partial_pooling": _record("partial_pooling", {"mu": "normal(8.75, 26.11)", "tau": "halfnormal(5)"},
                                   {"mu": "default", "tau": "user"}),
    }
    diagnostics = {"no_pooling": _gates(["theta[A]", "theta[B]"]), "complete_pooling": _gates(["mu"]),
                   "partial_pooling": _gates(["mu", "tau", "theta[A]"], failing=("tau",), divergences=3)}
    loo = pd.DataFrame({"rank": [0, 1, 2], "elpd_loo": [-30.5103, -30.8379, -34.4327],
                        "se": [1.1012, 0.9765, 0.3096], "elpd_diff": [0.0, 0.3276, 3.9224],
                        "dse": [0.0, 0.1464, 0.9918], "pareto_k_threshold": 0.7, "n_pareto_k_high": [0, 0, 6]},
                       index=pd.Index(["complete_pooling", "partial_pooling", "no_pooling"], name="strategy"))
    logo = pd.DataFrame({"factor": "group", "elpd_psis": [-30.5103, -30.9099, np.nan],
                         "se_psis": [1.1012, 0.9665, np.nan], "elpd_diff_psis": [0.0, -0.3995, np.nan],
                         "dse_psis": [0.0, 0.1575, np.nan], "n_pareto_k_high": [0, 0, np.nan],
                         "pareto_k_threshold": [0.7, 0.7, np.nan]},
                        index=pd.Index(["complete_pooling", "partial_pooling", "no_pooling"], name="strategy"))
    parts = methods.paragraphs("eight_schools", records, diagnostics, loo, logo, {"group": 8}, "9.27.1")
    return parts, methods.to_markdown(parts, "Methods"), methods.to_latex(parts, "Methods")


def test_methods_say_which_prior_the_user_set_and_which_gate_failed(eight_schools_run):
    _, markdown, _ = eight_schools_run
    assert ("Priors (on the scale of the response): `theta` ~ `normal(8.75, 26.11)` (no pooling; default: "
            "`normal(mean(y), 2.5 sd(y))`); `mu` ~ `normal(8.75, 26.11)` (complete pooling and partial pooling; "
            "default: `normal(mean(y), 2.5 sd(y))`); `tau` ~ `halfnormal(5)` (partial pooling; set by the user)."
            in markdown)
    assert " No pooling and complete pooling passed every gate." in markdown
    assert (" Partial pooling failed 2 gates: R̂ ≥ 1.01 for tau; 3 divergent transitions; its estimates "
            "should be read with that in mind." in markdown)
    assert ("(Vehtari et al. 2017; Vehtari et al. 2024): complete pooling ranked first (elpd -31 ± 1.1); "
            "partial pooling was 0.3 ± 0.15 lower and no pooling was 3.9 ± 0.99 lower. Pareto k exceeded 0.7, "
            "where PSIS is unreliable, for 6 of 8 observations under no pooling." in markdown)
    assert ("For a new group, complete pooling ranked first (elpd -31 ± 1.1); partial pooling was 0.4 ± 0.16 "
            "lower; every Pareto k was below 0.7." in markdown)
    assert "a gaussian likelihood (identity link) with known standard errors (column `se`)" in markdown
    assert "4 chains of 1000 warmup iterations and 1000 kept draws each, target acceptance probability 0.95" \
        in markdown


def test_methods_latex_cites_exactly_the_bibliography(eight_schools_run):
    parts, markdown, latex = eight_schools_run
    keys = methods.cited(parts)
    cited = {k for group in re.findall(r"\\citep\{([^}]*)\}", latex) for k in group.split(",")}
    entries = re.findall(r"^@\w+\{([^,]+),", bibliography.bibtex(keys), flags=re.M)
    assert cited == set(entries) == set(keys)
    assert "lewandowski2009lkj" not in keys and "talts2018sbc" not in keys  # no correlation prior, no SBC run
    assert {"phan2019numpyro", "bradbury2018jax", "kumar2019arviz", "molder2021snakemake", "hoffman2014nuts",
            "vehtari2017loo", "vehtari2024psis", "vehtari2021rhat"} <= set(keys)
    for key in keys:
        assert f"({bibliography.REFERENCES[key].text}" in markdown or f"; {bibliography.REFERENCES[key].text}" \
            in markdown
    assert r"\texttt{y \textasciitilde{} 1 + (1 \textbar{} school)}" in latex
    assert r"$\hat{R}$ $\geq$ 1.01 for tau" in latex


def test_an_sbc_run_joins_the_methods_with_its_citation():
    summaries = {"partial_pooling": pd.DataFrame({"quantity": ["mu", "tau"], "simulations": 200,
                                                  "uniform": [True, False]}),
                 "complete_pooling": pd.DataFrame({"quantity": ["mu"], "simulations": 200, "uniform": [True]})}
    config = {"family": "gaussian", "groups": 8, "group_size": 5, "level": 0.95}
    segments = methods.sbc_paragraph({"config": config, "summaries": summaries})
    markdown = methods.to_markdown([segments], "Methods")
    assert ("The models and sampler were checked by simulation-based calibration, SBC (Talts et al. 2018), on "
            "simulated data rather than these (gaussian family, 8 groups of 5 rows): 200 simulations per "
            "strategy (partial pooling and complete pooling), the rank of each true value among the posterior "
            "draws tested for uniformity with a simultaneous 95% ECDF band; ranks were not uniform for partial "
            "pooling (tau).") in markdown
    assert methods.cited([segments]) == ["talts2018sbc"]


def test_default_prior_rules_name_their_scale():
    assert methods.default_rule("beta[Days]", "identity") == "normal(0, 2.5 sd(y) / sd(Days))"
    assert methods.default_rule("tau_slope_state[floor]", "log") == "exponential(sd(floor))"
    assert methods.default_rule("mu", "logit") == "normal(logit(pooled share of successes), 2.5)"


def test_the_population_intercept_of_a_logit_fit_is_shown_as_a_probability():
    rng = np.random.default_rng(0)
    mu = rng.normal(-1.0, 0.3, size=(2, 500))
    idata = az.from_dict(posterior={"mu": mu, "tau": np.abs(rng.normal(0.5, 0.1, (2, 500))),
                                    "theta": rng.normal(-1.0, 0.3, (2, 500, 3))},
                         dims={"theta": ["group"]}, coords={"group": ["a", "b", "c"]})
    idata.attrs["family"] = "binomial"
    table = paper.population(idata, ["mu", "tau", "theta[a]"])
    assert list(table.index) == ["expit(mu)", "tau"]
    summary = paper.summarize(idata.posterior[["mu"]].assign(mu=expit(idata.posterior["mu"])))
    assert table.loc["expit(mu)", "mean"] == round_to_error(expit(mu).mean(), summary.loc["mu", "mcse_mean"])
    assert 0.25 < float(table.loc["expit(mu)", "mean"]) < 0.3  # the mean probability, not expit(mean)
    assert table.loc["expit(mu)", "q5"] == round_to_error(np.quantile(expit(mu), 0.05),
                                                          summary.loc["mu", "mcse_q5"])


def test_the_held_out_scores_hook_rounds_elpd_to_its_se():
    scores = pd.DataFrame({"strategy": ["no_pooling", "partial_pooling"], "rows_scored": [10, 18],
                           "elpd": [-50.123, -45.67], "se": [3.21, 2.9], "mean_lpd": [-5.0123, -2.537],
                           "rmse": [0.03123, 0.02911], "brier": np.nan, "note": ["no pooling left 8 rows out", ""]})
    frame = paper.test_scores_table(scores).frame
    assert frame.to_dict("list") == {"strategy": ["no pooling", "partial pooling"], "rows_scored": ["10", "18"],
                                     "elpd": ["-50", "-46"], "se": ["3.2", "2.9"], "mean_lpd": ["-5.0", "-2.5"],
                                     "rmse": ["0.0312", "0.0291"]}


def test_manifest_entries_hash_every_file_and_git_state_flags_a_dirty_tree(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "loo.md").write_text("| a |\n")
    (tmp_path / "methods.md").write_bytes(b"# Methods\n")
    (tmp_path / "manifest.json").write_text("{}")
    entries = paper.file_entries(tmp_path, exclude={"manifest.json"})
    assert [e["path"] for e in entries] == ["methods.md", "tables/loo.md"]
    for entry in entries:
        data = (tmp_path / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    assert paper.git_state(tmp_path) == {"commit": None, "dirty": None}
    if shutil.which("git") is None:
        return

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    git("add", "methods.md")
    git("commit", "-q", "-m", "bundle")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert paper.git_state(tmp_path) == {"commit": head, "dirty": False}  # untracked files do not count
    (tmp_path / "methods.md").write_text("changed\n")
    assert paper.git_state(tmp_path) == {"commit": head, "dirty": True}


def _markdown_rows(path):
    """The body rows of a Markdown table file, as lists of cell texts."""
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _check_parameter_gate_and_logo_tables(results, fit):
    """The bundle's population, gates and LOGO tables say what the fit, its
    diagnostics CSV and logo_compare.csv say."""
    bundle = results / "paper" / "tables"
    rows = {(r[0], r[1]): r[2:] for r in _markdown_rows(bundle / "parameters.md")}
    summary = paper.summarize(fit.posterior[["sigma"]] if "sigma" in fit.posterior else fit.posterior[["tau"]])
    name, line = next(summary.iterrows())
    assert rows[("partial pooling", name)] == [
        round_to_error(line["mean"], line["mcse_mean"]), round_to_error(line["sd"], line["mcse_sd"]),
        round_to_error(line["q5"], line["mcse_q5"]), round_to_error(line["q95"], line["mcse_q95"]),
        fixed(line["r_hat"], 2), whole(line["ess_bulk"])]

    gates = {r[0]: r for r in _markdown_rows(bundle / "diagnostics.md")}
    for path in (results / "diagnostics").glob("*.csv"):
        table = pd.read_csv(path)
        row = gates[path.stem.replace("_", " ")]
        assert row[4] == str(int(table["divergences"].iloc[0]))
        passed = all(table[gate].astype(bool).all() for gate, _ in paper.GATES)
        assert (row[-1] == "yes") == passed, (path, row)

    logo = pd.read_csv(results / "logo_compare.csv", index_col="strategy").dropna(subset=["elpd_psis"])
    rows = _markdown_rows(bundle / "logo.md")
    assert len(rows) == len(logo)
    for row, (strategy, line) in zip(rows, logo.iterrows()):
        assert row[1:4] == [strategy.replace("_", " "), round_to_error(line["elpd_psis"], line["se_psis"]),
                            error_text(line["se_psis"])]


def test_paper_target_writes_a_checkable_bundle_for_every_dataset(shipped_run):
    snakemake(shipped_run, "--cores", "2", "paper")
    assert "Nothing to be done" in snakemake(shipped_run, "-n", "--cores", "2", "paper").stdout
    for dataset, entry in read_config(shipped_run)["datasets"].items():
        bundle = shipped_run / "results" / dataset / "paper"
        fit = az.from_netcdf(shipped_run / "results" / dataset / "fits" / "partial_pooling.nc")
        methods_md = (bundle / "methods.md").read_text()
        assert f"with the formula `{fit.attrs['formula']}` and a {fit.attrs['family']} likelihood" in methods_md
        assert entry.get("family", "gaussian") == fit.attrs["family"]

        loo = pd.read_csv(shipped_run / "results" / dataset / "loo_compare.csv", index_col=0).sort_values("rank")
        rows = _markdown_rows(bundle / "tables" / "loo.md")
        assert [r[0] for r in rows] == [s.replace("_", " ") for s in loo.index]
        for row, (_, line) in zip(rows, loo.iterrows()):
            assert row[1:5] == [round_to_error(line["elpd_loo"], line["se"]), error_text(line["se"]),
                                round_to_error(line["elpd_diff"], line["dse"]), error_text(line["dse"])]
            assert row[7] == str(int(line["n_pareto_k_high"]))
        assert "\\label{tab:loo}" in (bundle / "tables" / "loo.tex").read_text()

        _check_parameter_gate_and_logo_tables(shipped_run / "results" / dataset, fit)
        versions = json.loads(fit.attrs["package_versions"])
        assert f"NumPyro {versions['numpyro']}" in methods_md and f"ArviZ {versions['arviz']}" in methods_md

        manifest = json.loads((bundle / "manifest.json").read_text())
        listed = {e["path"]: e for e in manifest["files"]}
        on_disk = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*")
                   if p.is_file() and p.name not in ("manifest.json", ".snakemake_timestamp")}
        assert set(listed) == on_disk
        for path, listed_file in listed.items():
            assert listed_file["sha256"] == hashlib.sha256((bundle / path).read_bytes()).hexdigest(), path
        data = manifest["data"]
        assert data["source_sha256"] == fit.attrs["data_sha256"] == \
            hashlib.sha256((shipped_run / data["source_csv"]).read_bytes()).hexdigest()
        assert data["prepared_sha256"] == fit.attrs["prepared_sha256"]
        if "test" in entry:  # the held-out rows whose scores the bundle publishes
            test = manifest["test_data"]
            assert test["source_csv"] == entry["test"]
            assert test["source_sha256"] == hashlib.sha256((shipped_run / entry["test"]).read_bytes()).hexdigest()
            assert test["prepared_sha256"] == hashlib.sha256(
                (shipped_run / "results" / dataset / "data" / "test.csv").read_bytes()).hexdigest()
            scores = pd.read_csv(shipped_run / "results" / dataset / "test_scores.csv", index_col="strategy")
            rows = {r[0]: r for r in _markdown_rows(bundle / "tables" / "test_scores.md")}
            for strategy, line in scores.iterrows():
                assert rows[strategy.replace("_", " ")][2] == round_to_error(line["elpd"], line["se"])
        else:
            assert manifest["test_data"] is None
        assert manifest["workflow"]["commit"] is None and manifest["workflow"]["dirty"] is None  # a copy, no git
        assert manifest["settings"]["draws"] == 300 and manifest["settings"]["family"] == fit.attrs["family"]

        pngs = sorted(p.stem for p in (shipped_run / "results" / dataset / "figures").glob("*.png"))
        pdfs = sorted((bundle / "figures").glob("*.pdf"))
        assert [p.stem for p in pdfs] == pngs
        assert all(p.read_bytes().startswith(b"%PDF") for p in pdfs)

        cited = {k for group in re.findall(r"\\citep\{([^}]*)\}", (bundle / "methods.tex").read_text())
                 for k in group.split(",")}
        assert cited == set(re.findall(r"^@\w+\{([^,]+),", (bundle / "references.bib").read_text(), flags=re.M))
    sleepstudy = (shipped_run / "results/sleepstudy/paper/references.bib").read_text()
    assert "lewandowski2009lkj" in sleepstudy  # its correlation matrix has an LKJ prior


def test_methods_say_how_held_out_rows_and_new_levels_were_scored():
    from pooling.methods import heldout_paragraph

    scores = pd.DataFrame({"strategy": ["no_pooling", "complete_pooling", "partial_pooling"],
                           "rows_scored": [168, 310, 310], "rows_new_groups": [142, 142, 142],
                           "rows_left_out": [142, 0, 0], "elpd": [-204.87, -336.31, -335.20],
                           "se": [11.97, 13.65, 13.70]})
    assert "".join(heldout_paragraph(scores, True)) == (
        "A held-out test set of 310 rows was scored from each fit's posterior draws by its log predictive "
        "density (elpd: partial pooling -340 ± 14, complete pooling -340 ± 14 and no pooling -200 ± 12 over its "
        "168 rows); the "
        "effects of levels the fit never saw (142 rows) were drawn from the population with each posterior "
        "draw, and no pooling, having no population, left them out. Partial pooling's predictions for one new "
        "level of each grouping factor draw its effects from the fitted population distribution, a fresh draw "
        "per posterior draw (brms's sample_new_levels = \"gaussian\").")
    assert heldout_paragraph(None, False) == []
