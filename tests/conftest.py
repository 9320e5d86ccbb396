import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from pooling.jaxenv import configure_jax  # noqa: E402

from helpers import copy_workflow  # noqa: E402,F401  (tests import it from here too)

# Before any test imports JAX: four host devices so four chains run in parallel, and one
# compilation cache for the whole session, which workflow runs inherit through the
# environment (cached programs are the same programs: draws do not change).
configure_jax(chains=4, threads=2, cache_dir=tempfile.mkdtemp(prefix="jax-cache-"))

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The suite runs on two pytest-xdist workers (pytest.ini), each test module on one
    of them so its module-scoped fits are made once, and every test that reads the one
    shared workflow run (shipped_run) on the same worker, so that run is made once. A
    module that names its own group (test_slurm, whose module-scoped run is compared with
    the shared one) keeps it, so its module-scoped fixtures are not made on both workers."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        group = "shipped_run" if "shipped_run" in item.fixturenames else item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def workdir(tmp_path):
    return copy_workflow(tmp_path)


SMALL = {"chains": 2, "warmup": 300, "draws": 300}


def small_copy(target):
    """A copy of the workflow with the shipped config and small sampler settings."""
    from helpers import read_config, write_config

    workdir = copy_workflow(target)
    config = read_config(workdir)
    config.update(SMALL)
    write_config(workdir, config)
    return workdir


@pytest.fixture(scope="session")
def shipped_run(tmp_path_factory):
    """The whole workflow run locally on the shipped config with small settings, one fit
    at a time: the other pytest worker keeps a core busy, and two fits at once beside it
    made the suite a minute slower (26 min 1 s against 25 min 2 s)."""
    from helpers import snakemake

    workdir = small_copy(tmp_path_factory.mktemp("run"))
    snakemake(workdir, "--cores", "2", "--set-threads", f"fit={SMALL['chains']}")
    return workdir
