"""A dataset's held-out rows (its `test` CSV) in the prepared format every fit reads,
coded against the training data, so that a held-out row means to a fit what a
training row does.

The test file is not prepared on its own: a categorical predictor's indicator columns
are formulae's coding of the *training* levels (formulae's `evaluate_new_data` on the
training design matrices: the test file's own levels could come in another order, or
lack the reference level), and each design column goes to the same `x:`, `u:`, `z:` or
`level:` column as in the training prepared CSV, whatever the test rows look like (a
test file may be one group, with every predictor constant). Group labels are kept as
they are: a label the fit never saw is a new group, scored by pooling.heldout.

A test file that cannot be read that way is a one-line DataError naming it, the column,
the line and what to do, before anything is scored: a missing column, text where the
training data have numbers, a level of a categorical predictor that the training data do
not have (its coefficient was never estimated), an empty file.
"""

import numpy as np
import pandas as pd

from . import csvfile, families
from .data import GROUP_PREDICTOR_PREFIX, MISSING, PREDICTOR_PREFIX, _numeric, known_se, varying_group
from .errors import DataError
from .formula import (
    _check_offset,
    common_matrix,
    design_columns,
    parse,
    predictor_columns,
    shorthand,
    slope_columns,
    slope_matrix,
    typed_frame,
)
from .hierarchy import LEVEL_PREFIX, SLOPE_PREFIX

KEY = "test"  # the dataset's config key naming the file
SHOWN_LEVELS = 10  # training levels an unknown-level message lists


def read(path):
    """The test CSV as pooling.csvfile reads a dataset; an empty one says what it needs."""
    try:
        return csvfile.read(path, key=KEY)
    except csvfile.EmptyFile:
        raise DataError(
            f"{path}: the test file (config `{KEY}`) has no data rows; give it the training data's "
            f"header and the held-out rows to score, or remove `{KEY}` from the dataset") from None


def prepare_test(test_csv, source_csv, prepared_csv, family="gaussian", se=None, formula=None, **keys):
    """The prepared table of `test_csv`, in the columns (and column order) of the training
    prepared CSV `prepared_csv`, made from `source_csv` by the same model: `formula`, or
    the shorthand keys `keys` (response, group, predictors, group_predictors) stand for
    (pooling.formula.shorthand, as the fits record it)."""
    text = formula or shorthand(**{key: value for key, value in keys.items() if value})
    family = families.named(family)
    model = parse(text)
    training, test = csvfile.read(source_csv), read(test_csv)
    _require_columns(test, model, se, text)
    header = list(pd.read_csv(prepared_csv, nrows=0).columns)
    train_frame = typed_frame(training, model)
    frame = pd.DataFrame({name: _typed_like(test, name, train_frame[name], source_csv)
                          for name in predictor_columns(model)}, index=range(len(test)))
    values = {"group": _group_labels(test, model)}
    values.update(_response(test, model, family))
    common = common_matrix(model, train_frame)
    with np.errstate(all="ignore"):  # a non-positive exposure is reported below, with its line
        coded = None if common is None else common.evaluate_new_data(frame)
    columns, offset = design_columns(model, coded, frame.index)
    if offset is not None:
        _check_offset(test, model, offset)
        values["offset"] = offset
    if se:
        values["se"] = known_se(test, se)
    slopes = slope_matrix(model, train_frame)
    for term in slope_columns(None if slopes is None else slopes.evaluate_new_data(frame)).values():
        values.update({SLOPE_PREFIX + name: column for name, column in term.items()})
    for name, column in columns.items():
        values[(GROUP_PREDICTOR_PREFIX if GROUP_PREDICTOR_PREFIX + name in header else PREDICTOR_PREFIX) + name] = \
            column.to_numpy()
    values.update(_levels(test, model, header))
    prepared = pd.DataFrame({name: values[name] for name in header}, index=range(len(test)))
    _check_group_predictors(test, prepared)
    return prepared


def _require_columns(test, model, se, text):
    """Every column the model reads must be in the test file."""
    needed = list(model.variables) + ([se] if se else [])
    missing = [name for name in needed if name not in test.columns]
    if missing:
        raise DataError(
            f"{test.path}: column {missing[0]!r} is not in the test file (config `{KEY}`); the model "
            f"{text!r} reads columns {', '.join(map(repr, needed))} and the test file has "
            f"{', '.join(map(repr, test.columns))}: add the column")


def _typed_like(test, name, trained, source):
    """Column `name` of the test file typed as the training data's (`trained`, its typed
    values): numbers where those are numbers, else labels among the training levels."""
    text = test.column(name).str.strip()
    if trained.dtype.kind == "O":
        labels = text.to_numpy()
        _known_levels(test, name, labels, trained, source)
        return labels
    numbers = pd.to_numeric(text, errors="coerce")
    bad = (numbers.isna() & ~text.str.lower().isin(MISSING)).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{test.path}: column {name!r} holds numbers in the training data ({source}) but "
            f"{text.iloc[row]!r} on line {test.line(row, name)} of the test file ({int(bad.sum())} such "
            f"value(s)); a test file's columns need the training data's types: fix the value or drop the row")
    values = _numeric(test, name, KEY)
    if trained.dtype.kind == "i":  # C(x) of whole numbers: its levels are numbers
        _known_levels(test, name, values, trained, source)
        return values.astype(np.int64)
    return values


def _known_levels(test, name, labels, trained, source):
    """A categorical predictor's coefficients exist for the training levels only."""
    levels = pd.unique(trained)
    unknown = ~pd.Series(labels).isin(levels).to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        shown = ", ".join(map(repr, map(str, levels[:SHOWN_LEVELS]))) + (", ..." if len(levels) > SHOWN_LEVELS else "")
        raise DataError(
            f"{test.path}: column {name!r} has level {str(labels[row])!r} on line {test.line(row, name)} of the "
            f"test file ({int(unknown.sum())} such row(s)), which the training data ({source}) do not have; a "
            f"categorical predictor has coefficients for the training levels only ({shown}): drop or recode "
            f"those rows")


def _group_labels(test, model):
    """Each test row's group (cell) label, as the training data's are made; without group
    terms every row is its own group, new to every fit (`test 1`, `test 2`, ...)."""
    from .structure import factor_labels

    if model.groups:
        return factor_labels(test, model.grouping_columns, KEY)
    return [f"test {i + 1}" for i in range(len(test))]


def _response(test, model, family):
    """{`y`[, `trials`]} of the test file, checked as the family's response."""
    from . import responses

    y = _numeric(test, model.response, KEY)
    if model.trials is not None:
        trials = _numeric(test, model.trials, KEY)
        responses.check(test, family, model.response, y, model.trials, trials)
        return {"y": y, "trials": trials}
    if family.response != "numeric":
        responses.check(test, family, model.response, y)
    return {"y": y}


def _levels(test, model, header):
    """{`level:` column of the training header: each test row's label of that factor}."""
    from .structure import factor_labels

    out = {}
    for column in (c for c in header if c.startswith(LEVEL_PREFIX)):
        name = column[len(LEVEL_PREFIX):].rpartition("|")[0]
        group = next(g for g in model.groups if g.name == name)
        out[column] = factor_labels(test, group.factor, KEY)
    return out


def _check_group_predictors(test, prepared):
    """A group-level predictor (`u:`) must be one value per group in the test rows too:
    a new group's intercept is predicted from it."""
    for column in (c for c in prepared.columns if c.startswith(GROUP_PREDICTOR_PREFIX)):
        found = varying_group(prepared[column], prepared["group"])
        if found:
            label, low, high = found
            raise DataError(
                f"{test.path}: group-level predictor {column[len(GROUP_PREDICTOR_PREFIX):]!r} varies within "
                f"group {label!r} of the test file (from {low:g} to {high:g}); it is one value per group in "
                f"the training data, so give every row of a group the same value")

