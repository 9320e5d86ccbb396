"""The radon rules, run for real against a local HTTP server that serves the shared copies
of the survey files: the table they build, and the one-line errors of a bad download."""

import contextlib
import errno
import functools
import hashlib
import http.server
import os
import socket
import threading

import pandas as pd
import pytest

from pooling.radon import build

from conftest import ROOT, SHARED_DATA, copy_workflow
from helpers import planned_outputs, read_config, snakemake, write_config

RADON = SHARED_DATA / "radon"  # the raw EPA files (1.8 MB) stay in shared, not in the repo
REFERENCE_TABLE = ROOT / "tests" / "data" / "radon_mn.csv"
TABLE = "resources/radon/radon_mn.csv"
PINNED = {
    "srrs2.dat": "17b11e80f3d22e2a30b283acc83c2cb7e400b96e4a70188dfe4eb3df36f184cb",
    "cty.dat": "6a02f8e28a0afce93701dd7136761b317e0b331742663b27655ae13c217e9629",
}
needs_raw_files = pytest.mark.skipif(
    not RADON.is_dir(), reason=f"the raw radon survey files are not in {RADON}"
)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(directory):
    """`directory` over HTTP on 127.0.0.1 (a port the OS picks); yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}/"
        finally:
            server.shutdown()
            thread.join()


def use_source(workdir, url):
    config = read_config(workdir)
    config["radon_source"] = {"url": url}  # the sha256 keep the schema's pinned defaults
    write_config(workdir, config)


def last_log_line(workdir, name):
    return (workdir / "logs/radon/download" / f"{name}.log").read_text().splitlines()[-1]


def read_table(path):
    return pd.read_csv(path, index_col=0)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A fresh clone that downloaded the survey files and built the table."""
    workdir = copy_workflow(tmp_path_factory.mktemp("radon"))
    with serving(RADON) as url:
        use_source(workdir, url)
        snakemake(workdir, "--cores", "1", TABLE)
    return workdir


@needs_raw_files
def test_built_table_is_the_primers(built):
    table = read_table(built / TABLE)
    pd.testing.assert_frame_equal(table, read_table(REFERENCE_TABLE))
    assert len(table) == 919 and table["county"].nunique() == 85


@needs_raw_files
def test_second_dry_run_has_nothing_to_do(built):
    result = snakemake(built, "-n", "--cores", "1", TABLE)
    assert "Nothing to be done" in result.stdout + result.stderr


@needs_raw_files
def test_corrupted_download_is_deleted_with_one_line(workdir, tmp_path_factory):
    served = tmp_path_factory.mktemp("served")
    corrupted = (RADON / "cty.dat").read_bytes().replace(b"AITKIN", b"AITKIM")
    (served / "cty.dat").write_bytes(corrupted)
    with serving(served) as url:
        use_source(workdir, url)
        result = snakemake(workdir, "--cores", "1", "resources/radon/cty.dat", check=False)
    assert result.returncode != 0
    actual = hashlib.sha256(corrupted).hexdigest()
    assert last_log_line(workdir, "cty.dat") == (
        f"ERROR: resources/radon/cty.dat: sha256 of {url}cty.dat is {actual} but config "
        f"`radon_source.sha256` expects {PINNED['cty.dat']}; the file was deleted. Check "
        f"`radon_source.url`, or pin the new sha256 if the file changed on purpose"
    )
    assert not (workdir / "resources/radon/cty.dat").exists()
    assert list(workdir.glob("resources/**/*cty.dat*")) == []  # nor a partial download


def test_unreachable_url_names_it_in_one_line(workdir):
    with socket.socket() as probe:  # a port that nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/radon/"
    use_source(workdir, url)
    result = snakemake(workdir, "--cores", "1", "resources/radon/cty.dat", check=False)
    assert result.returncode != 0
    refused = f"[Errno {errno.ECONNREFUSED}] {os.strerror(errno.ECONNREFUSED)}"
    assert last_log_line(workdir, "cty.dat") == (
        f"ERROR: cannot download {url}cty.dat ({refused}); check `radon_source.url` and the network"
    )


def test_example_config_fits_radon_alone_from_the_download(workdir):
    result = snakemake(workdir, "-n", "--configfile", "config/examples/radon.yaml",
                       "--replace-workflow-config")
    planned = planned_outputs(result.stdout)
    assert {"resources/radon/srrs2.dat", "resources/radon/cty.dat", TABLE} <= planned
    assert {path.split("/")[1] for path in planned if path.startswith("results/")} == {"radon"}


def test_held_out_example_splits_the_download_and_scores_every_strategy(workdir):
    result = snakemake(workdir, "-n", "--configfile", "config/examples/radon_heldout.yaml",
                       "--replace-workflow-config")
    planned = planned_outputs(result.stdout)
    assert {TABLE, "resources/radon/radon_mn_training.csv", "resources/radon/radon_mn_test.csv",
            "results/radon_heldout/data/test.csv", "results/radon_heldout/test_scores.csv"} <= planned
    assert {f"results/radon_heldout/fits/{s}.nc" for s in ("no_pooling", "complete_pooling",
                                                              "partial_pooling")} <= planned


@needs_raw_files
def test_build_follows_the_primers_recipe(tmp_path):
    table = build(RADON / "srrs2.dat", RADON / "cty.dat")
    assert (table["state"] == "MN").all()
    assert table["county_code"].tolist() == pd.factorize(table["county"])[0].tolist()
    assert table["county_code"].max() == 84 and not table["county"].str.endswith(" ").any()
    assert table["floor"].value_counts().to_dict() == {0: 766, 1: 153}
    table.to_csv(tmp_path / "radon_mn.csv")  # as the rule writes it
    pd.testing.assert_frame_equal(read_table(tmp_path / "radon_mn.csv"),
                                  read_table(REFERENCE_TABLE))


@needs_raw_files
def test_every_state_table_nests_counties_in_the_survey_states():
    """radon_states: 12,777 survey homes less 287 with floor code 9 and 22 without a
    county; Region 5's homes are placed in their own states (MI, MN, WI), so a county
    label is unique only within its state."""
    from pooling.radon import build_states

    table = build_states(RADON / "srrs2.dat", RADON / "cty.dat")
    assert len(table) == 12777 - 287 - 22
    assert sorted(table["state"].unique()) == ["AZ", "IN", "MA", "MI", "MN", "MO", "ND", "PA", "WI"]
    assert table.groupby(["state", "county"]).ngroups == 468
    assert set(table["floor"]) == {0, 1}
    minnesota = build(RADON / "srrs2.dat", RADON / "cty.dat")
    survey_mn = table[(table["state"] == "MN")]
    # Minnesota's own survey, every home kept, and 268 of its 269 Region 5 homes
    assert len(survey_mn) == len(minnesota) + 268
