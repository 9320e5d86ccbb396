"""Config errors as one line each that names the key and says what to do, instead of
a JSON-schema dump: the schema stays the single source of what is allowed."""

import difflib

import jsonschema
import yaml

from .errors import PoolingError


class ConfigError(PoolingError):
    """The config cannot be used; nothing has run."""


def _key(path):
    return ".".join(str(part) for part in path) or "(top level)"


def _suggest(word, choices):
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f"; did you mean `{match[0]}`?" if match else ""


def _describe(error):
    key = _key(error.absolute_path)
    value = error.instance
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        extra = [k for k in value if k not in known]
        return "; ".join(
            f"`{_key([*error.absolute_path, k])}` is not a known key{_suggest(k, known)} "
            f"(known: {', '.join(known)})" for k in extra
        )
    if error.validator == "enum":
        return (f"`{key}`: {value!r} is not allowed{_suggest(value, error.validator_value)} "
                f"(choose from {', '.join(map(str, error.validator_value))})")
    if error.validator == "pattern" and list(error.absolute_path) == ["datasets"]:
        return (f"dataset name {value!r} cannot be used as a folder name under results/: "
                f"use letters, digits, '_', '.' and '-', starting with a letter or digit")
    types = error.schema.get("type")
    types = types if isinstance(types, list) else [types]
    if error.validator in ("type", "minimum") and "integer" in types:
        null = " or null" if "null" in types else ""
        return f"`{key}`: must be an integer >= {error.schema.get('minimum', '-inf')}{null}, got {value!r}"
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


def check_config(config, schema_path):
    """Raise ConfigError listing every problem, one line each, before any job starts."""
    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise ConfigError("\n".join(dict.fromkeys(_describe(e) for e in errors)))
