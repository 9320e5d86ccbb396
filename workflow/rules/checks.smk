"""Checks before any job starts: the config files, the input paths, finished results."""

import functools
import os
import sys

from snakemake.utils import validate

sys.path.insert(0, os.path.join(workflow.current_basedir, "..", "scripts"))
from pooling.config import (
    ConfigError,
    Source,
    check_before_jobs,
    locate,
    read_source,
)
from pooling.errors import PoolingError
from pooling.fitfile import DamagedResult, check as check_fit
from pooling.priors import explicit_priors
from pooling.sbcdesign import design as sbc_design

SCHEMA = os.path.join(workflow.current_basedir, "..", "schemas", "config.schema.yaml")
WORKFLOW_CONFIG = "config/config.yaml"


def stop(error, key=(), sources=()):
    """End before any job starts with one line per problem, each naming the file that
    holds the key, without a traceback."""
    problems = error.problems if isinstance(error, ConfigError) else [(key, str(error))]
    for path, text in problems:
        where = getattr(error, "source", None) or locate(sources, path)
        print(f"Invalid config ({where}): {text}", file=sys.stderr)
    sys.exit(1)


def _shown(path):
    """A config file's name as the user wrote it: relative to the run directory."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def config_sources():
    """Every place a config key can come from, highest precedence first: --config,
    the --configfile files (last wins), then the workflow's own config/config.yaml
    unless --replace-workflow-config dropped it."""
    settings = workflow.config_settings
    sources = [Source("--config", {path: 0 for path in _key_paths(dict(settings.config))})]
    files = [str(path) for path in reversed(settings.configfiles)]
    # Snakemake drops the workflow's own file only when something replaces it.
    replaced = settings.replace_workflow_config and (settings.configfiles or settings.config)
    if not replaced and os.path.exists(WORKFLOW_CONFIG):
        files.append(WORKFLOW_CONFIG)
    sources += [_source(path) for path in dict.fromkeys(map(os.path.abspath, files))]
    return sources


@functools.lru_cache
def _source(absolute):
    """One config file's keys, read once (the configfile directive checks the workflow's
    own file first, and config_sources needs it again)."""
    try:
        return read_source(absolute, _shown(absolute))
    except ConfigError as error:
        stop(error)


def _key_paths(mapping, prefix=()):
    for key, value in mapping.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _key_paths(value, (*prefix, key))


def readable(path):
    """`path` for the configfile directive, after checking that it is YAML Snakemake can
    read (its own message names neither file nor line)."""
    if os.path.exists(path):
        _source(os.path.abspath(path))
    return path


def check_config(sources):
    """Schema, dataset-entry and prior checks, one line per problem; they stop the run
    before any job starts."""
    try:
        check_before_jobs(config, SCHEMA)
    except ConfigError as error:
        stop(error, sources=sources)


def check_paths():
    """Every dataset's CSV (and test CSV) exists or a rule makes it (call once all rules
    are defined)."""
    for name, entry in config["datasets"].items():
        for key in ("path", "test"):
            path = entry.get(key)
            if (
                path
                and not os.path.exists(path)
                and not any(r.is_producer(path) for r in workflow.rules)
            ):
                stop(
                    f"datasets.{name}.{key}: {path} not found (paths are relative to "
                    f"{os.getcwd()}); fix the path or remove the {'dataset' if key == 'path' else key}",
                    ("datasets", name, key),
                    CONFIG_SOURCES,
                )


def check_results():
    """Finished fits that no longer open (a disk that filled up, a copy cut short): named
    before any job starts, since every job that reads one would fail and Snakemake would
    delete those jobs' finished outputs. Call once common.smk is included."""
    damaged = []
    for dataset in DATASETS:
        for strategy in get_strategies(dataset):
            path = f"results/{dataset}/fits/{strategy}.nc"
            if os.path.exists(path):
                try:
                    check_fit(path)
                except DamagedResult as error:
                    damaged.append(str(error))
    for line in damaged:
        print(f"Damaged result: {line}", file=sys.stderr)
    if damaged:
        sys.exit(1)


def check_sbc(sources):
    """SBC's priors, once the schema has filled in its defaults: one for every
    parameter of the design, each factor's and predictor's of an `sbc.formula`."""
    sbc = config["sbc"]
    try:
        data = None
        if "formula" in sbc:
            data = sbc_design(
                sbc["levels"], sbc["group_size"], formula=sbc["formula"], seed=sbc["seed"]
            )
        for strategy in sbc["strategies"]:
            explicit_priors(strategy, sbc["priors"], family=sbc["family"], data=data)
    except PoolingError as error:
        stop(error, ("sbc", "priors"), sources)


configfile: readable(WORKFLOW_CONFIG)


CONFIG_SOURCES = config_sources()
check_config(CONFIG_SOURCES)
validate(config, schema="../schemas/config.schema.yaml")  # fills in the defaults
check_sbc(CONFIG_SOURCES)
