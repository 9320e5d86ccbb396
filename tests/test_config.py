"""Bad config stops the run before any job starts, with a message naming the key."""

import json

import pytest

from conftest import ROOT
from helpers import planned_outputs, read_config, snakemake, write_config


def dry_run_error(workdir, change):
    """The config error lines of a dry run after `change`; nothing may have run."""
    config = read_config(workdir)
    change(config)
    write_config(workdir, config)
    result = snakemake(workdir, "-n", "--cores", "1", check=False)
    assert result.returncode != 0
    assert not (workdir / "results").exists()
    output = result.stdout + result.stderr
    assert "Traceback" not in output and 'File "' not in output
    prefix = "Invalid config (config/config.yaml): "
    return [line[len(prefix):] for line in output.splitlines() if line.startswith(prefix)]


def test_shipped_config_plans_every_output(workdir):
    result = snakemake(workdir, "-n", "--cores", "4")
    for dataset in ("seed", "eight_schools", "efron_morris", "simulated"):
        for strategy in ("no_pooling", "complete_pooling", "partial_pooling"):
            assert f"results/{dataset}/fits/{strategy}.nc" in result.stdout


def datasets(change):
    return lambda config: change(config["datasets"])


BAD_CONFIGS = [
    (lambda c: c.update(strategies=["no_pooling", "partial_poling"]),
     "`strategies.1`: 'partial_poling' is not allowed; did you mean `partial_pooling`? "
     "(choose from no_pooling, complete_pooling, partial_pooling)"),
    (lambda c: c.update(sead=2),
     "`sead` is not a known key; did you mean `seed`? (known: chains, warmup, draws, "
     "target_accept, seed, max_tree_depth, parameterization, pointwise_max_rows, predictive_draws, "
     "strategies, priors, kfold, sbc, compile_cache, radon_source, datasets)"),
    (datasets(lambda d: d["eight_schools"].update(respnse="y")),
     "`datasets.eight_schools.respnse` is not a known key; did you mean `response`? (known: path, "
     "test, simulate, formula, family, response, group, se, predictors, group_predictors, priors, chains, "
     "warmup, draws, "
     "target_accept, seed, max_tree_depth, parameterization, pointwise_max_rows, predictive_draws, "
     "strategies, kfold)"),
    (datasets(lambda d: d.update({"my data": {"path": "x.csv", "response": "y"}})),
     "dataset name 'my data' cannot be used as a folder name under results/: use letters, digits, "
     "'_', '.' and '-', starting with a letter or digit"),
    (lambda c: c.update(chains=0), "`chains`: must be an integer >= 1, got 0"),
    (lambda c: c.update(warmup=-5), "`warmup`: must be an integer >= 1, got -5"),
    (lambda c: c.update(draws=1.5), "`draws`: must be an integer >= 1, got 1.5"),
    (lambda c: c.update(target_accept=1.0), "`target_accept`: must be a number > 0 and < 1, got 1.0"),
    (lambda c: c.update(target_accept=0), "`target_accept`: must be a number > 0 and < 1, got 0"),
    (lambda c: c.update(parameterization="centred"),
     "`parameterization`: 'centred' is not allowed; did you mean `centered`? (choose from noncentered, centered)"),
    (datasets(lambda d: d["eight_schools"].update(priors={"tau": "halfcauchy 5"})),
     "datasets.eight_schools.priors.tau: cannot parse prior 'halfcauchy 5'; write it as "
     "family(arguments), e.g. 'normal(0, 10)'"),
    (datasets(lambda d: d["eight_schools"].update(priors={"mu": "gaussian(0, 5)"})),
     "datasets.eight_schools.priors.mu: unknown prior family 'gaussian'; use one of normal, student_t, "
     "cauchy, halfnormal, halfcauchy, halfstudent_t, exponential, lognormal, uniform, gamma, lkj"),
    (lambda c: c.update(priors={"sigma": "halfnormal(-1)"}),
     "priors.sigma: halfnormal needs scale > 0, got -1 in 'halfnormal(-1)'"),
    (datasets(lambda d: d["eight_schools"].update(priors={"tau": "normal(0, 5)"})),
     "datasets.eight_schools.priors.tau: tau is a standard deviation, so its prior needs positive "
     "support; use e.g. halfnormal, halfcauchy, halfstudent_t, exponential, lognormal or "
     "uniform(0, upper), not 'normal(0, 5)'"),
    (datasets(lambda d: d["simulated"]["simulate"].update(group_sizes=[3, 4])),
     "datasets.simulated.simulate.group_sizes: has 2 sizes but groups is 12; give one size per "
     "group or a single number"),
    (datasets(lambda d: d["seed"].pop("response")),
     "datasets.seed: no model; give `formula` (e.g. 'y ~ 1 + (1 | group)') or the shorthand `response` (and `group`)"),
    (lambda c: c.update(sbc={"priors": {"mu": "normal(0, 5)", "sigma": "halfnormal(3)"}}),
     "sbc.priors: no prior for theta (no_pooling); SBC draws the truth from the prior, so give "
     "every parameter one"),
    (lambda c: c.update(sbc={"strategies": ["partial_pooling"],
                             "priors": {"mu": "normal(0, 5)", "sigma": "halfnormal(3)"}}),
     "sbc.priors: no prior for tau (partial_pooling); SBC draws the truth from the prior, so give "
     "every parameter one"),
    (datasets(lambda d: d.update(sbc=d.pop("seed"))),
     "datasets.sbc: the name sbc is taken by results/sbc/ (simulation-based calibration); rename the dataset"),
    (lambda c: c.update(kfold={"folds": 1}), "`kfold.folds`: must be an integer >= 2 or null, got 1"),
    # Issue #12: a seed beyond what the PRNG takes, a name too long for a file name, an
    # entry with nothing under it (one line, not one per schema rule).
    (lambda c: c.update(seed=2**64),
     "`seed`: must be an integer >= 0 and <= 4294967295, got 18446744073709551616"),
    (datasets(lambda d: d["simulated"]["simulate"].update(seed=-1)),
     "`datasets.simulated.simulate.seed`: must be an integer >= 0 and <= 4294967295, got -1"),
    (datasets(lambda d: d.update({"a" * 300: {"path": "x.csv", "response": "y"}})),
     "dataset name 'aaaaaaaaaaaaaaaaaaaa'... is 300 characters long; use at most 100 (it names "
     "folders and files under results/)"),
    (datasets(lambda d: d.update(empty=None)),
     "`datasets.empty`: the entry is empty; give it at least `path` (a CSV file) and `formula` (or `response`)"),
]
# SBC's prior checks run after Snakemake's validate has filled in the schema's defaults
SBC_PRIORS = [case for case in BAD_CONFIGS if case[1].startswith("sbc.priors")]


@pytest.mark.parametrize("change, message", [case for case in BAD_CONFIGS if case not in SBC_PRIORS])
def test_each_bad_config_gets_one_line_naming_its_key(change, message):
    """The checks the Snakefile runs on the config before any job (the schema's, then
    the dataset entries'), on the shipped config with one thing wrong."""
    from pooling.config import ConfigError, check_before_jobs

    config = read_config(ROOT)
    change(config)
    with pytest.raises(ConfigError) as error:
        check_before_jobs(config, ROOT / "workflow" / "schemas" / "config.schema.yaml")
    assert str(error.value).splitlines() == [message]


# One dry run per kind of check, through the Snakefile: a schema problem at the top
# level, in a dataset entry and in an empty entry; an entry check; SBC's prior checks.
THROUGH_SNAKEMAKE = [case for case in BAD_CONFIGS if case[1].startswith((
    "`sead`", "`datasets.eight_schools.respnse`", "`datasets.empty`", "datasets.eight_schools.priors.tau: cannot",
    "sbc.priors"))]


@pytest.mark.parametrize("change, message", THROUGH_SNAKEMAKE)
def test_bad_config_stops_before_any_job_with_one_line(workdir, change, message):
    assert dry_run_error(workdir, change) == [message]


def test_missing_csv_is_named_before_any_job_starts(workdir):
    lines = dry_run_error(workdir, datasets(lambda d: d["eight_schools"].update(path="resources/nope.csv")))
    assert lines == [f"datasets.eight_schools.path: resources/nope.csv not found (paths are relative "
                     f"to {workdir}); fix the path or remove the dataset"]


def test_missing_column_stops_only_that_dataset_with_one_line(workdir):
    config = read_config(workdir)
    config["datasets"] = {"eight_schools": {**config["datasets"]["eight_schools"], "se": "sigma"}}
    write_config(workdir, config)
    result = snakemake(workdir, "--cores", "1", "results/eight_schools/data/prepared.csv", check=False)
    assert result.returncode != 0
    log = (workdir / "logs/eight_schools/prepare_data.log").read_text().strip().splitlines()
    assert log[-1] == ("ERROR: resources/eight_schools.csv: column 'sigma' (config `se`) not found; "
                       "the file has columns 'school', 'y', 'se'")
    assert "Traceback" not in "".join(log)
    assert not (workdir / "results/eight_schools/data/prepared.csv").exists()


def test_a_minimal_dataset_entry_runs_alone(workdir):
    (workdir / "mine.csv").write_text("site,yield\na,1.0\nb,2.5\na,1.5\n")
    (workdir / "mine.yaml").write_text("datasets:\n  mine:\n    path: mine.csv\n    response: yield\n    group: site\n")
    result = snakemake(workdir, "-n", "--cores", "1", "--configfile", "mine.yaml",
                       "--replace-workflow-config")
    planned = result.stdout
    for strategy in ("no_pooling", "complete_pooling", "partial_pooling"):
        assert f"results/mine/fits/{strategy}.nc" in planned
    assert "results/eight_schools" not in planned and "results/seed" not in planned


def raw_config_error(workdir, edit, configfile="config/config.yaml", args=()):
    """Config error lines of a dry run after editing the YAML text itself (what
    yaml.safe_dump cannot write: unquoted names, repeated keys, tabs)."""
    path = workdir / configfile
    path.write_text(edit(path.read_text() if path.exists() else ""))
    result = snakemake(workdir, "-n", "--cores", "1", *args, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output and 'File "' not in output
    return [line for line in output.splitlines() if line.startswith("Invalid config")]


def add_dataset(text):
    return lambda config: config.replace("datasets:\n", "datasets:\n" + text, 1)


@pytest.mark.parametrize("edit, message", [
    (add_dataset("  2024:\n    path: resources/seed.csv\n    response: y\n"),
     "line 14: the key 2024 is read by YAML as the number 2024; quote it (\"2024\":) so it stays a name"),
    (add_dataset("  yes:\n    path: resources/seed.csv\n    response: y\n"),
     "line 14: the key yes is read by YAML as the boolean True; quote it (\"yes\":) so it stays a name"),
    (add_dataset("  seed:\n    path: resources/seed.csv\n    response: y\n"),
     "line 18: key `datasets.seed` appears twice (first on line 14); YAML would keep only the last, "
     "so remove or rename one"),
    (add_dataset("  tabbed:\n\tpath: resources/seed.csv\n"),
     "line 15, column 1: found character '\\t' that cannot start any token; indent YAML with spaces, never tabs"),
])
def test_yaml_the_schema_cannot_see_is_named_by_line(workdir, edit, message):
    assert raw_config_error(workdir, edit) == [f"Invalid config (config/config.yaml): {message}"]


def test_a_bad_key_is_named_in_the_file_that_holds_it(workdir):
    """With --configfile, the line names the file with the bad key, once."""
    mine = "datasets:\n  mine:\n    path: resources/seed.csv\n    respnse: y\n"
    lines = raw_config_error(workdir, lambda _: mine, "mine.yaml", ("--configfile", "mine.yaml"))
    assert sorted(lines) == [
        "Invalid config (mine.yaml): `datasets.mine.respnse` is not a known key; did you mean "
        "`response`? (known: path, test, simulate, formula, family, response, group, se, predictors, "
        "group_predictors, priors, chains, warmup, draws, target_accept, seed, max_tree_depth, "
        "parameterization, pointwise_max_rows, predictive_draws, strategies, kfold)",
    ]
    lines = raw_config_error(workdir, lambda text: text.replace("chains: 4", "chains: 0"),
                             args=("--configfile", "mine.yaml"))
    assert lines[0] == "Invalid config (config/config.yaml): `chains`: must be an integer >= 1, got 0"


def test_entry_checks_list_every_problem_without_snakemake():
    from pooling.config import ConfigError, check_entries

    config = {"priors": {"tau": "normal(0, 1)"}, "datasets": {
        "sbc": {"path": "x.csv", "response": "y"},
        "sim": {"simulate": {"groups": 3, "group_sizes": [2, 2], "sigma": 1.0}, "response": "y",
                "priors": {"mu": "normal 0"}},
    }}
    with pytest.raises(ConfigError) as error:
        check_entries(config)
    assert [key for key, _ in error.value.problems] == [
        ("priors",), ("datasets", "sim", "priors"), ("datasets", "sbc"),
        ("datasets", "sim", "simulate", "group_sizes")]
    assert str(error.value).splitlines() == [
        "priors.tau: tau is a standard deviation, so its prior needs positive support; use e.g. "
        "halfnormal, halfcauchy, halfstudent_t, exponential, lognormal or uniform(0, upper), not "
        "'normal(0, 1)'",
        "datasets.sim.priors.mu: cannot parse prior 'normal 0'; write it as family(arguments), "
        "e.g. 'normal(0, 10)'",
        "datasets.sbc: the name sbc is taken by results/sbc/ (simulation-based calibration); "
        "rename the dataset",
        "datasets.sim.simulate.group_sizes: has 2 sizes but groups is 3; give one size per group "
        "or a single number",
    ]
    config["datasets"] = {"sim": {"simulate": {"groups": 2, "group_sizes": 5, "sigma": 1.0}, "response": "y"}}
    config["priors"] = {}
    check_entries(config)  # a single size for every group is fine


def test_model_keys_are_checked_before_any_job():
    """Issue #13: a formula that does not parse, a formula beside the shorthand, `se`
    with another family, binomial without trials: one line each, naming the key."""
    from pooling.config import ConfigError, check_entries

    config = {"datasets": {
        "a": {"path": "a.csv", "formula": "y ~ x +"},
        "b": {"path": "b.csv", "formula": "y ~ 1 + (1 | g)", "group": "g"},
        "c": {"path": "c.csv", "response": "y", "se": "s", "family": "poisson"},
        "d": {"path": "d.csv", "response": "y", "family": "binomial"},
        "e": {"path": "e.csv", "formula": "y ~ x + (1 + x | g)", "priors": {"corr_h": "lkj(2)"}},
        "f": {"path": "f.csv", "formula": "p(s, n) ~ 1 + (1 | g)", "family": "binomial"},
        "g": {"simulate": {"groups": 2, "group_sizes": 5, "sigma": 1.0, "trials": 3}, "response": "y",
              "family": "poisson"},
    }}
    with pytest.raises(ConfigError) as error:
        check_entries(config)
    assert str(error.value).splitlines() == [
        "datasets.e.priors.corr_h: unknown parameter; priors can be set for mu, tau, tau_slope, corr, beta, "
        "gamma, theta, slope, sigma, nu, alpha, and a grouping factor's tau, tau_slope and corr with its name "
        "appended (tau_county)",
        "datasets.a.formula: formula 'y ~ x +' does not parse: Don't know how to parse ''",
        "datasets.b: give either `formula` or the shorthand keys (response, group, predictors, "
        "group_predictors), not both; found group",
        "datasets.c.se: known standard errors are a gaussian-only key; remove `se` or set family: "
        "gaussian (family is poisson)",
        "datasets.d.family: binomial needs its trials: write `formula: p(successes, trials) ~ 1 + "
        "(1 | group)` instead of `response`",
        "datasets.g.simulate.trials: family binomial needs trials per row, and no other family takes them "
        "(family is poisson)",
    ]


def test_yaml_merge_keys_and_tab_indented_json_are_read_as_snakemake_reads_them(workdir):
    config = workdir / "config" / "config.yaml"
    config.write_text(config.read_text().replace("  eight_schools:\n", "  eight_schools: &es\n")
                      + "  eight_copy:\n    <<: *es\n    seed: 3\n")
    planned = planned_outputs(snakemake(workdir, "-n", "--cores", "1").stdout)
    assert "results/eight_copy/fits/partial_pooling.nc" in planned
    (workdir / "mine.json").write_text(json.dumps(
        {"datasets": {"mine": {"path": "resources/seed.csv", "response": "y"}}}, indent="\t"))
    planned = planned_outputs(snakemake(workdir, "-n", "--cores", "1", "--configfile", "mine.json",
                                        "--replace-workflow-config").stdout)
    assert "results/mine/fits/no_pooling.nc" in planned


def test_a_bad_key_from_the_command_line_or_beside_another_file_is_placed_right(workdir):
    lines = raw_config_error(workdir, lambda text: text, args=("--config", "drawz=5"))
    assert lines == ["Invalid config (--config): `drawz` is not a known key; did you mean `draws`? "
                     "(known: chains, warmup, draws, target_accept, seed, max_tree_depth, parameterization, "
                     "pointwise_max_rows, predictive_draws, strategies, priors, kfold, sbc, compile_cache, "
                     "radon_source, datasets)"]
    (workdir / "extra.yaml").write_text("datasets:\n  eight_schools:\n    draws: 50\n")
    lines = raw_config_error(workdir, lambda text: text.replace("    se: se\n", "    se: se\n    drwas: 5\n"),
                             args=("--configfile", "extra.yaml"))
    assert len(lines) == 1
    assert lines[0].startswith("Invalid config (config/config.yaml): `datasets.eight_schools.drwas` is "
                               "not a known key; did you mean `draws`?")
