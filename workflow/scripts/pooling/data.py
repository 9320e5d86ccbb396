"""From a user's CSV to the checked table every fit reads, and back into arrays.

The prepared CSV has fixed column names so that nothing downstream depends on the
user's: `group` (label), `y`, optional `se`, one `x:<name>` per predictor and one
`u:<name>` per group-level predictor (constant within each group).
Rows keep the order of the source file, which LOO relies on.
"""

import hashlib
import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import csvfile
from .errors import DataError

log = logging.getLogger(__name__)
PREDICTOR_PREFIX = "x:"
GROUP_PREDICTOR_PREFIX = "u:"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _first_row(mask):
    """0-based index of the first True row."""
    return int(np.flatnonzero(np.asarray(mask))[0])


def _require_columns(table, columns):
    for key, name in columns:
        if name not in table.columns:
            raise DataError(
                f"{table.path}: column {name!r} (config `{key}`) not found; "
                f"the file has columns {', '.join(map(repr, table.columns))}"
            )


MISSING = {"", "na", "n/a", "nan", "null", "none", "#n/a", "<na>", "-nan"}
SCALE_LIMIT = 1e30  # draws are stored as float32, whose range ends near 3.4e38
RESOLUTION = 1e-5  # smallest spread / mean of a response that float32 draws resolve well


def _numeric(table, name, key):
    text = table.column(name).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    missing = text.str.lower().isin(MISSING).to_numpy()
    bad = np.isnan(values) & ~missing
    if bad.any():
        row = _first_row(bad)
        value = text.iloc[row]
        hint = " (a decimal comma? use '.')" if re.fullmatch(r"[-+]?\d+,\d+", value) else ""
        raise DataError(
            f"{table.path}: column {name!r} (config `{key}`) has {int(bad.sum())} non-numeric "
            f"value(s), first {value!r} on line {table.line(row, name)}{hint}; fix or remove them"
        )
    finite = np.isfinite(values)
    if not finite.all():
        row = _first_row(~finite)
        raise DataError(
            f"{table.path}: column {name!r} (config `{key}`) has {int((~finite).sum())} missing or "
            f"infinite value(s), first on line {table.line(row, name)}; drop or impute those rows"
        )
    _check_scale(table, name, key, values)
    return values


def _check_scale(table, name, key, values):
    """Values whose size or spread float32 draws (and float64 squares) cannot hold."""
    largest = np.abs(values).max()
    if largest > SCALE_LIMIT:
        row = int(np.argmax(np.abs(values)))
        raise DataError(
            f"{table.path}: column {name!r} (config `{key}`) has values as large as "
            f"{values[row]:.3g} (line {table.line(row, name)}); the workflow handles magnitudes "
            f"up to {SCALE_LIMIT:g}: rescale the column, e.g. divide it by {_power(largest):g}"
        )
    spread = np.std(values / largest) * largest if largest > 0 else 0.0
    scale = spread if spread > 0 else largest
    if 0 < scale < 1 / SCALE_LIMIT:
        raise DataError(
            f"{table.path}: column {name!r} (config `{key}`) has a scale of only {scale:.3g} "
            f"(standard deviation {spread:.3g}); the workflow resolves scales down to "
            f"{1 / SCALE_LIMIT:g}: rescale the column, e.g. multiply it by {1 / _power(scale):g}"
        )


def _check_resolution(table, name, values):
    """A response whose spread is tiny beside its mean: float32 draws of mu and theta
    (about 7 significant digits) would be a few rounding steps apart."""
    mean, spread = float(np.mean(values)), float(np.std(values))
    if 0 < spread < RESOLUTION * abs(mean):
        raise DataError(
            f"{table.path}: column {name!r} (config `response`) varies by only {spread:.3g} (standard "
            f"deviation) around {mean:.10g}; draws are stored as 32-bit floats (about 7 significant "
            f"digits), which cannot resolve that: subtract a constant near {mean:.3g} from the column"
        )


def _power(value):
    """The power of ten at or below `value`, within float64's range."""
    return 10.0 ** np.clip(np.floor(np.log10(value)), -307, 307)


def varying_group(values, groups):
    """(label, min, max) of the first group (in order of appearance) within which
    `values` vary; None where every group has one value."""
    spread = pd.Series(values).groupby(np.asarray(groups), sort=False).agg(["min", "max"])
    varies = spread[spread["min"] != spread["max"]]
    return (varies.index[0], *varies.iloc[0]) if len(varies) else None


def _constant_within_groups(path, name, values, groups):
    found = varying_group(values, groups)
    if found:
        label, low, high = found
        raise DataError(
            f"{path}: group predictor {name!r} (config `group_predictors`) varies within "
            f"group {label!r} (from {low:g} to {high:g}); a group-level predictor needs one "
            f"value per group, so move it to `predictors` or fix the data"
        )


def _predictor(table, name, key):
    values = _numeric(table, name, key)
    if np.ptp(values) == 0:
        raise DataError(
            f"{table.path}: {key} column {name!r} has the same value {values[0]:g} in every row, "
            f"so its coefficient cannot be estimated; remove it from `{key}`"
        )
    return values


def group_labels(table, group, key="group"):
    """The group label of every row, as text; an empty label is an error with its line."""
    labels = table.column(group).str.strip()
    empty = labels == ""
    if empty.any():
        row = _first_row(empty)
        raise DataError(
            f"{table.path}: column {group!r} (config `{key}`) has {int(empty.sum())} empty "
            f"label(s), first on line {table.line(row, group)}; give every row a group"
        )
    return labels.to_numpy()


def known_se(table, se):
    """The known standard errors of the `se` column: positive, within float range."""
    values = _numeric(table, se, "se")
    if (values <= 0).any():
        row = _first_row(values <= 0)
        raise DataError(
            f"{table.path}: column {se!r} (config `se`) must be > 0 (known standard errors), "
            f"found {values[row]:g} on line {table.line(row, se)}"
        )
    if values.min() < 1 / SCALE_LIMIT:
        row = int(np.argmin(values))
        raise DataError(
            f"{table.path}: column {se!r} (config `se`) has values as small as {values[row]:.3g} "
            f"(line {table.line(row, se)}); the workflow resolves scales down to "
            f"{1 / SCALE_LIMIT:g}: rescale the response and `se` together"
        )
    return values


def response_values(table, family, response, key="response"):
    """The response column, checked as `family` (a pooling.families.Family) needs it."""
    from . import responses

    values = _numeric(table, response, key)
    if family.response == "numeric":
        _check_resolution(table, response, values)
    else:
        responses.check(table, family, response, values)
    return values


def finish(table, prepared, grouped):
    """Log the design's shape and warn about group sizes that need care."""
    sizes = prepared.groupby("group", sort=False).size()
    if "trials" in prepared:  # a binomial row of 45 trials is 45 observations
        sizes = prepared.groupby("group", sort=False)["trials"].sum()
    if grouped and "se" not in prepared:
        _warn_about_sizes(table.path, sizes)
    log.info("%s: %d rows, %d groups", table.path, len(prepared), len(sizes))
    return prepared


def prepare(path, response=None, group=None, se=None, predictors=(), group_predictors=(),
            formula=None, family="gaussian"):
    """Check the source CSV against the dataset's config and return the prepared table.

    A `formula` describes the model (pooling.formula); otherwise the shorthand keys
    name the response, group, known se and predictors directly."""
    from . import families

    family = families.named(family)
    table = csvfile.read(path)
    if formula is not None:
        from .formula import prepare_formula

        return prepare_formula(table, formula, family, se)
    if se and family.name != "gaussian":
        raise DataError(f"{path}: `se` (known standard errors) is a gaussian-only key; "
                        f"remove it or set family: gaussian (family is {family.name!r})")
    if family.response == "proportion":
        raise DataError(f"{path}: family binomial needs trials: write a formula "
                        f"'p(successes, trials) ~ 1 + (1 | group)' instead of `response`")
    columns = [("response", response)]
    columns += [("group", group)] if group else []
    columns += [("se", se)] if se else []
    columns += [("predictors", name) for name in predictors]
    columns += [("group_predictors", name) for name in group_predictors]
    _require_columns(table, columns)

    prepared = pd.DataFrame(index=range(len(table)))
    prepared["group"] = group_labels(table, group) if group else [str(i + 1) for i in range(len(table))]
    prepared["y"] = response_values(table, family, response)
    if se:
        prepared["se"] = known_se(table, se)
    for name in predictors:
        prepared[PREDICTOR_PREFIX + name] = _predictor(table, name, "predictors")
    for name in group_predictors:
        values = _predictor(table, name, "group_predictors")
        _constant_within_groups(path, name, values, prepared["group"])
        prepared[GROUP_PREDICTOR_PREFIX + name] = values
    return finish(table, prepared, bool(group))


UNBALANCED = 20  # largest / smallest group size above which a warning is logged


def _warn_about_sizes(path, sizes):
    """Designs that fit but whose results need care: say so in the log."""
    if (sizes == 1).any():
        log.warning(
            "%s: %d of %d groups have a single observation; their no-pooling estimates "
            "rest on one value each and their PSIS-LOO Pareto k will be high",
            path, int((sizes == 1).sum()), len(sizes),
        )
    if sizes.max() > UNBALANCED * sizes.min():
        log.warning(
            "%s: very unbalanced groups (%d to %d rows; %r is the largest); partial pooling "
            "handles this, but small groups' estimates lean on the population mean",
            path, sizes.min(), sizes.max(), sizes.idxmax(),
        )


@dataclass(frozen=True)
class Prepared:
    """The arrays a model needs, with the labels that become coords."""

    y: np.ndarray
    group: np.ndarray  # index into group_labels, one per row
    group_labels: list
    se: np.ndarray | None
    X: np.ndarray | None
    predictor_names: list
    U: np.ndarray | None  # one row per group
    group_predictor_names: list
    trials: np.ndarray | None = None  # binomial trials per row
    offset: np.ndarray | None = None  # added to each row's linear predictor (log exposure)
    factors: tuple = ()  # pooling.hierarchy.Factor each; () for one varying intercept over group
    Z: np.ndarray | None = None  # (rows, varying slopes) the varying slopes' design columns
    slope_names: tuple = ()

    @property
    def n_groups(self):
        return len(self.group_labels)

    @property
    def group_sizes(self):
        return np.bincount(self.group, minlength=self.n_groups)


def _columns(table, prefix):
    names = [c[len(prefix):] for c in table.columns if c.startswith(prefix)]
    return names, table[[prefix + n for n in names]].to_numpy(dtype=float) if names else None


def read_labelled(path, dtype=None, **kwargs):
    """A CSV the workflow wrote with a `group` column: labels stay text (`NA`, `None`
    and `007` are labels, not missing values or numbers); only empty cells are missing."""
    return pd.read_csv(path, dtype={"group": str, **(dtype or {})}, keep_default_na=False,
                       na_values=[""], **kwargs)


def load_prepared(path):
    from .hierarchy import LEVEL_PREFIX

    return from_table(read_labelled(path, dtype={c: str for c in _header(path) if c.startswith(LEVEL_PREFIX)}))


def from_table(table):
    """The Prepared arrays of a prepared table (labels as text), as read from its CSV
    or as prepared in memory (the design of pooling.sbcdesign)."""
    from .hierarchy import SLOPE_PREFIX, read_factors

    codes, labels = pd.factorize(table["group"], sort=False)
    names, X = _columns(table, PREDICTOR_PREFIX)
    group_names, U_rows = _columns(table.drop_duplicates("group"), GROUP_PREDICTOR_PREFIX)
    slope_names, Z = _columns(table, SLOPE_PREFIX)
    return Prepared(
        y=table["y"].to_numpy(dtype=float),
        group=codes.astype(np.int32),
        group_labels=[str(label) for label in labels],
        se=_optional(table, "se"),
        X=X,
        predictor_names=names,
        U=U_rows,
        group_predictor_names=group_names,
        trials=_optional(table, "trials"),
        offset=_optional(table, "offset"),
        factors=read_factors(table, codes),
        Z=Z,
        slope_names=tuple(slope_names),
    )


def _header(path):
    return pd.read_csv(path, nrows=0).columns


def level_counts(path):
    """{grouping factor: its number of levels} of a prepared CSV, as the fits and the
    kfold refits count them (labels as text; `group` for one varying intercept)."""
    from .hierarchy import LEVEL_PREFIX, SINGLE

    columns = [c for c in _header(path) if c.startswith(LEVEL_PREFIX)] or ["group"]
    table = read_labelled(path, usecols=columns, dtype={c: str for c in columns})
    return {SINGLE if c == "group" else c[len(LEVEL_PREFIX):].rpartition("|")[0]: table[c].nunique()
            for c in columns}


def _optional(table, name):
    return table[name].to_numpy(dtype=float) if name in table else None


def stored_arrays(idata):
    """The model's arrays back from a fit's InferenceData (observed and constant data),
    for the jobs that score a fit without refitting it."""
    constant = idata.constant_data

    def get(name):
        return constant[name].values if name in constant else None

    return dict(y=idata.observed_data["y"].values, group=get("group_index"),
                n_groups=idata.posterior.sizes["group"], se=get("se"), X=get("X"), U=get("U"),
                trials=get("trials"), offset=get("offset"), Z=get("Z"))


def subset_groups(data, keep):
    """The rows of the groups `keep` (indices into data.group_labels), groups
    renumbered in that order: the training data of a K-fold refit."""
    from .hierarchy import subset_factors

    keep = list(keep)
    rows = np.flatnonzero(np.isin(data.group, keep))
    renumber = np.full(data.n_groups, -1, dtype=np.int32)
    renumber[keep] = np.arange(len(keep), dtype=np.int32)
    return Prepared(
        y=data.y[rows],
        group=renumber[data.group[rows]],
        group_labels=[data.group_labels[g] for g in keep],
        se=None if data.se is None else data.se[rows],
        X=None if data.X is None else data.X[rows],
        predictor_names=data.predictor_names,
        U=None if data.U is None else data.U[keep],
        group_predictor_names=data.group_predictor_names,
        trials=None if data.trials is None else data.trials[rows],
        offset=None if data.offset is None else data.offset[rows],
        factors=subset_factors(data.factors, keep),
        Z=None if data.Z is None else data.Z[rows],
        slope_names=data.slope_names,
    )



def for_strategy(data, strategy):
    """What `strategy` (a pooling.strategies name) fits of prepared `data`. Complete
    pooling drops every group term (its fit keeps the factors' levels of each cell,
    for leave-one-group-out per factor, but samples nothing over them and no varying
    slope); no pooling drops the
    group-level predictors and the common terms of the varying slopes, which are
    collinear with its free cell coefficients; partial pooling fits everything."""
    from dataclasses import replace

    from . import strategies

    strategy = strategies.named(strategy)
    if not strategy.group_terms:
        return replace(data, Z=None, slope_names=())
    if not strategy.group_predictors:
        keep = [k for k, name in enumerate(data.predictor_names) if name not in data.slope_names]
        return replace(data, U=None, group_predictor_names=[],
                       X=data.X[:, keep] if keep else None,
                       predictor_names=[data.predictor_names[k] for k in keep])
    return data
