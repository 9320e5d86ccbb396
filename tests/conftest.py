import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from pooling.jaxenv import configure_jax  # noqa: E402

# Before any test imports JAX: four host devices so four chains run in parallel.
configure_jax(chains=4, threads=2)

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
