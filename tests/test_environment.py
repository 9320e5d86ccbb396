import re

import yaml

from conftest import ROOT


def pip_pins():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def conda_pins():
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for dependency in spec["dependencies"]:
        name, version = re.fullmatch(r"([\w.-]+)=([\w.]+)", dependency).groups()
        pins[name.lower()] = version
    return pins


def test_pip_and_conda_environments_pin_the_same_versions():
    conda = conda_pins()
    assert conda.pop("python") == "3.11"
    assert pip_pins() == conda


def test_every_pin_is_exact():
    assert all(re.fullmatch(r"\d+(\.\d+)+", version) for version in pip_pins().values())
