import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from pooling.jaxenv import configure_jax  # noqa: E402

# Before any test imports JAX: four host devices so four chains run in parallel, and one
# compilation cache for the whole session, which workflow runs inherit through the
# environment (cached programs are the same programs: draws do not change).
configure_jax(chains=4, threads=2, cache_dir=tempfile.mkdtemp(prefix="jax-cache-"))

WORKFLOW_FILES = ("Snakefile", "workflow", "config", "resources", "profiles", "environment.yml")


def copy_workflow(target):
    """A fresh clone's files in `target`, as a new user would have them."""
    for name in WORKFLOW_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)
    shutil.rmtree(target / "resources" / "radon", ignore_errors=True)  # downloaded, git-ignored
    return target


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
    """The whole workflow run locally on the shipped config with small settings."""
    from helpers import snakemake

    workdir = small_copy(tmp_path_factory.mktemp("run"))
    snakemake(workdir, "--cores", "2")
    return workdir
