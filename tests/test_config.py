"""Bad config stops the run before any job starts, with a message naming the key."""

import pytest

from helpers import read_config, snakemake, write_config


def dry_run_error(workdir, change):
    config = read_config(workdir)
    change(config)
    write_config(workdir, config)
    result = snakemake(workdir, "-n", "--cores", "1", check=False)
    assert result.returncode != 0
    assert not (workdir / "results").exists()
    return result.stdout + result.stderr


def test_shipped_config_plans_every_output(workdir):
    result = snakemake(workdir, "-n", "--cores", "4")
    for dataset in ("seed", "eight_schools", "simulated"):
        for strategy in ("no_pooling", "complete_pooling", "partial_pooling"):
            assert f"results/{dataset}/fits/{strategy}.nc" in result.stdout


def test_typo_in_strategy_names_the_value_and_the_choices(workdir):
    output = dry_run_error(workdir, lambda c: c.update(strategies=["no_pooling", "partial_poling"]))
    assert "'partial_poling' is not one of ['no_pooling', 'complete_pooling', 'partial_pooling']" in output


def test_unknown_key_is_rejected(workdir):
    output = dry_run_error(workdir, lambda c: c["datasets"]["eight_schools"].update(respnse="y"))
    assert "Additional properties are not allowed ('respnse' was unexpected)" in output


def test_bad_prior_names_its_config_key(workdir):
    output = dry_run_error(
        workdir, lambda c: c["datasets"]["eight_schools"].update(priors={"tau": "normal(0, 5)"}))
    assert ("Invalid config: datasets.eight_schools.priors.tau: tau is a standard deviation, "
            "so its prior needs positive support") in output


@pytest.mark.parametrize("key, value", [("chains", 0), ("draws", 1.5), ("target_accept", 1.0)])
def test_sampler_settings_are_range_checked(workdir, key, value):
    output = dry_run_error(workdir, lambda c: c.update({key: value}))
    assert "Error validating config file" in output and str(value) in output


def test_group_sizes_must_match_the_number_of_groups(workdir):
    output = dry_run_error(
        workdir, lambda c: c["datasets"]["simulated"]["simulate"].update(group_sizes=[3, 4]))
    assert ("Invalid config: datasets.simulated.simulate.group_sizes: has 2 sizes but groups "
            "is 12; give one size per group or a single number") in output


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
