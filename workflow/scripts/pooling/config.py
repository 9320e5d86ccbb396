"""Config errors as one line each that names the file, the key and what to do, instead
of a JSON-schema dump: the schema stays the single source of what is allowed.

Snakemake merges every config file (and `--config`) into one dict, losing where each
key came from, and its YAML reader keeps the last of two equal keys and turns keys such
as `2024` or `yes` into a number and a boolean. So each file is read again here, as YAML
nodes, to find those problems with their line and to name the file a bad key is in.
"""

import difflib
import json
from dataclasses import dataclass, field

import jsonschema
import yaml

from .errors import PoolingError
from .priors import check_overrides


class ConfigError(PoolingError):
    """The config cannot be used; nothing has run. `problems` holds (key path, text)
    pairs; a problem found while reading a file has the file in `source`."""

    def __init__(self, problems, source=None):
        self.problems = problems
        self.source = source
        super().__init__("\n".join(text for _, text in problems))


@dataclass
class Source:
    """One config file's keys, as paths, with the line each is on."""

    name: str
    lines: dict = field(default_factory=dict)

    def holds(self, path):
        return tuple(path) in self.lines


YAML_KINDS = {"int": "the number", "float": "the number", "bool": "the boolean", "null": "null"}


def _walk(source, node, path):
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(source, item, (*path, index))
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        kind = key_node.tag.rsplit(":", 1)[-1]
        if kind == "merge":  # `<<: *anchor`: the anchor's keys, already walked where defined
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError([(path, f"line {line}: a key must be a name, not a list or a mapping")],
                              source.name)
        if kind != "str":
            value = yaml.SafeLoader(key_node.value).get_single_data() if key_node.value else None
            raise ConfigError([(path, (
                f"line {line}: the key {key_node.value or '(empty)'} is read by YAML as "
                f"{YAML_KINDS.get(kind, kind)} {value!r}".replace(" None", "") +
                f"; quote it (\"{key_node.value}\":) so it stays a name"))], source.name)
        key = key_node.value
        if (*path, key) in source.lines:
            first = source.lines[(*path, key)]
            raise ConfigError([(path, (
                f"line {line}: key `{'.'.join(map(str, (*path, key)))}` appears twice (first on line "
                f"{first}); YAML would keep only the last, so remove or rename one"))], source.name)
        source.lines[(*path, key)] = line
        _walk(source, value_node, (*path, key))


def _is_json(text):
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def read_source(path, name):
    """The keys of config file `path` (shown as `name`), or ConfigError naming the line
    of a YAML syntax error, a key written twice or a key that YAML does not read as text."""
    source = Source(name)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if _is_json(text):  # Snakemake reads JSON first; YAML would refuse its tab indents
            text = text.expandtabs()
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "not valid YAML"
        hint = "; indent YAML with spaces, never tabs" if r"\t" in problem else ""
        raise ConfigError([((), f"line {mark.line + 1}, column {mark.column + 1}: {problem}{hint}")], name) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError([((), f"cannot read the file ({error})")], name) from None
    if root is not None:
        _walk(source, root, ())
    return source


def locate(sources, path):
    """The name of the source that sets `path` (or the nearest key above it): the first
    in `sources`, which are ordered from the highest precedence down."""
    path = tuple(path)
    for length in range(len(path), 0, -1):
        for source in sources:
            if source.holds(path[:length]):
                return source.name
    return sources[-1].name if sources else "config"


def _problems(error):
    """(key path, one line) pairs of a schema error: an unknown key is placed at itself
    and a bad dataset name at the name, so `locate` finds the file that wrote it."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        return [((*path, k), f"`{_key([*path, k])}` is not a known key{_suggest(k, known)} "
                 f"(known: {', '.join(known)})") for k in error.instance if k not in known]
    if path == ("datasets",) and error.validator in ("pattern", "maxLength"):
        return [((*path, error.instance), _describe(error))]
    return [(path, _describe(error))]


def _key(path):
    return ".".join(str(part) for part in path) or "(top level)"


def _suggest(word, choices):
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f"; did you mean `{match[0]}`?" if match else ""


def _describe(error):
    key = _key(error.absolute_path)
    value = error.instance
    if error.validator == "enum":
        return (f"`{key}`: {value!r} is not allowed{_suggest(value, error.validator_value)} "
                f"(choose from {', '.join(map(str, error.validator_value))})")
    if error.validator == "maxLength" and list(error.absolute_path) == ["datasets"]:
        return (f"dataset name {value[:20]!r}... is {len(value)} characters long; use at most "
                f"{error.validator_value} (it names folders and files under results/)")
    if error.validator == "pattern" and list(error.absolute_path) == ["datasets"]:
        return (f"dataset name {value!r} cannot be used as a folder name under results/: "
                f"use letters, digits, '_', '.' and '-', starting with a letter or digit")
    types = error.schema.get("type")
    types = types if isinstance(types, list) else [types]
    if error.validator in ("type", "minimum", "maximum") and "integer" in types:
        null = " or null" if "null" in types else ""
        upper = f" and <= {error.schema['maximum']}" if "maximum" in error.schema else ""
        return f"`{key}`: must be an integer >= {error.schema.get('minimum', '-inf')}{upper}{null}, got {value!r}"
    if error.validator in ("exclusiveMinimum", "exclusiveMaximum", "minimum", "maximum", "type"):
        bounds = [f"{op} {error.schema[b]}" for b, op in (
            ("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))
            if b in error.schema]
        return f"`{key}`: must be a {error.schema.get('type', 'value')} {' and '.join(bounds)}, got {value!r}"
    if error.validator == "required":
        return f"`{key}`: {error.message.split(' is ')[0]} is required but missing"
    if error.validator == "oneOf" and key.startswith("datasets."):
        return f"`{key}`: give exactly one of `path` (a CSV file) or `simulate` (a design)"
    return f"`{key}`: {error.message}"


def _empty_entries(config):
    """Dataset entries with nothing under them: one line each, not one per schema rule."""
    datasets = config.get("datasets")
    if not isinstance(datasets, dict):
        return {}
    return {("datasets", name): f"`datasets.{name}`: the entry is empty; give it at least `path` "
            f"(a CSV file) and `formula` (or `response`)" for name, entry in datasets.items() if entry is None}


def check_config(config, schema_path):
    """Raise ConfigError listing every problem, one line each, before any job starts."""
    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    validator = jsonschema.validators.validator_for(schema)(schema)
    empty = _empty_entries(config)
    problems, seen = list(empty.items()), set()
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        for path, text in _problems(error):
            if text not in seen and not any(path[:len(entry)] == entry for entry in empty):
                seen.add(text)
                problems.append((path, text))
    if problems:
        raise ConfigError(problems)


def check_entries(config):
    """What the schema cannot say, once it holds: prior names and strings, the name
    `sbc` (taken by results/sbc/), a simulate design's group sizes against its group
    count and SBC's design keys. Raises ConfigError listing every problem."""
    problems = []
    sbc = config.get("sbc") or {}
    overrides = [(("priors",), config.get("priors", {}), None)]
    overrides += [(("datasets", name, "priors"), entry.get("priors", {}), _factors(entry))
                  for name, entry in config["datasets"].items()]
    overrides.append((("sbc", "priors"), sbc.get("priors", {}), _factors(sbc)))
    for key, priors, factors in overrides:
        try:
            check_overrides(priors, ".".join(key), factors)
        except PoolingError as error:
            problems.append((key, str(error)))
    if "sbc" in config["datasets"]:
        problems.append((("datasets", "sbc"), "datasets.sbc: the name sbc is taken by results/sbc/ "
                         "(simulation-based calibration); rename the dataset"))
    for name, entry in config["datasets"].items():
        problems += _model_problems(name, entry)
        problems += _simulate_problems(name, entry)
        design = entry.get("simulate", {})
        sizes = design.get("group_sizes")
        if isinstance(sizes, list) and len(sizes) != design["groups"]:
            problems.append((("datasets", name, "simulate", "group_sizes"), (
                f"datasets.{name}.simulate.group_sizes: has {len(sizes)} sizes but groups is "
                f"{design['groups']}; give one size per group or a single number")))
    problems += _sbc_problems(sbc)
    if problems:
        raise ConfigError(problems)


def check_before_jobs(config, schema_path):
    """The config checks the Snakefile runs before any job starts, in its order: the
    schema's, then (once the schema holds) what it cannot say. SBC's priors are checked
    later, once Snakemake's validate has filled in the schema's defaults. Raises
    ConfigError."""
    check_config(config, schema_path)
    check_entries(config)


SHORTHAND = ("response", "group", "predictors", "group_predictors")


def _factors(entry):
    """The grouping factor names of a dataset's (or sbc's) formula (tau_<name> priors),
    None where it has none or does not parse (said elsewhere)."""
    if "formula" not in entry:
        return None
    from .formula import parse

    try:
        return [group.name for group in parse(entry["formula"]).groups]
    except PoolingError:
        return None


def _model_problems(name, entry):
    """A dataset's model keys: a formula that parses, or the shorthand's `response`,
    not both; `se` with gaussian only; binomial trials only through a formula."""
    where = f"datasets.{name}"
    family = entry.get("family", "gaussian")
    shorthand = [key for key in SHORTHAND if key in entry]
    if "formula" in entry:
        from .formula import parse  # formulae loads only for configs that use formulas

        if shorthand:
            return [((*where.split("."), shorthand[0]), f"{where}: give either `formula` or the "
                     f"shorthand keys ({', '.join(SHORTHAND)}), not both; found {', '.join(shorthand)}")]
        try:
            parse(entry["formula"], f"{where}.formula")
        except PoolingError as error:
            return [(("datasets", name, "formula"), str(error))]
    elif "response" not in entry:
        return [(("datasets", name), f"{where}: no model; give `formula` (e.g. 'y ~ 1 + (1 | group)') "
                 "or the shorthand `response` (and `group`)")]
    elif family == "binomial":
        return [(("datasets", name, "family"), f"{where}.family: binomial needs its trials: write "
                 "`formula: p(successes, trials) ~ 1 + (1 | group)` instead of `response`")]
    if "se" in entry and family != "gaussian":
        return [(("datasets", name, "se"), f"{where}.se: known standard errors are a gaussian-only "
                 f"key; remove `se` or set family: gaussian (family is {family})")]
    return []


def _simulate_problems(name, entry):
    """A simulate design whose trials, exposure or truth the dataset's family would not read."""
    from . import families
    from .simulate import check_auxiliary, check_design

    design = entry.get("simulate")
    if not design or entry.get("family", "gaussian") not in families.NAMES:
        return []
    family, where = families.named(entry.get("family", "gaussian")), f"datasets.{name}.simulate"
    try:
        check_design(family, design.get("trials"), design.get("exposure"), where)
        check_auxiliary(family, {k: design[k] for k in families.AUXILIARY if k in design}, where)
    except PoolingError as error:
        return [(("datasets", name, "simulate"), str(error))]
    return []


def _sbc_problems(sbc):
    """An `sbc.formula` SBC cannot simulate on with its `sbc.levels`, or a design key
    the design would not read (so it is an error rather than ignored)."""
    if "formula" not in sbc:
        return [(("sbc", "levels"), "sbc.levels: gives the labels of sbc.formula's grouping columns, "
                 "and there is no sbc.formula; add one, or use sbc.groups")] if "levels" in sbc else []
    if "groups" in sbc:
        return [(("sbc", "groups"), "sbc.groups: the design of sbc.formula has sbc.levels (labels per "
                 "grouping column) instead; remove groups")]
    from .sbcdesign import check

    try:
        check(sbc["formula"], sbc.get("levels", {}))
    except PoolingError as error:
        return [(("sbc",), str(error))]
    return []
