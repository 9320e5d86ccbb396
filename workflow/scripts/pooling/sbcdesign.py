"""The design simulation-based calibration simulates on, for any formula: the full
crossing of the labels of the formula's grouping columns (`sbc.levels`, a number of
labels per column), `group_size` rows per combination, and every other column the
formula names a standard normal predictor, drawn once from the seed, so that it is
the same in every simulation.

The design is prepared as a user's CSV is (pooling.formula), so SBC fits exactly the
factors, nesting, varying slopes and group-level predictors a dataset with that
formula gets. No JAX here: the config checks build it before any job starts.
"""

import itertools
import math
from dataclasses import replace

import numpy as np
import pandas as pd

from . import families
from .errors import DataError
from .simulate import check_design

# Without sbc.formula: one varying intercept over `sbc.groups` groups, as SBC was first.
DEFAULT_FORMULA = "y ~ 1 + (1 | group)"
SOURCE = "sbc.formula"  # the design's name in errors its preparation raises


def check(formula, levels):
    """The parsed `formula` if SBC can simulate on it with `levels` ({grouping column:
    number of labels}), else a one-line DataError naming the key to fix."""
    from .formula import parse

    parsed = parse(formula, "sbc.formula")
    if not parsed.groups:
        raise DataError(f"sbc.formula: {formula!r} has no group term; SBC calibrates how the "
                        f"strategies pool groups, so add one, e.g. (1 | g)")
    if parsed.trials or parsed.offset or parsed.categorical:
        raise DataError(f"sbc.formula: write {formula!r} without p(successes, trials), offset(...) and "
                        f"C(...): SBC draws every predictor as a standard normal column, and sbc.trials "
                        f"and sbc.exposure give the trials and exposure")
    columns = parsed.grouping_columns
    missing = [column for column in columns if column not in levels]
    if missing:
        raise DataError(f"sbc.levels: no number of labels for grouping column {missing[0]!r} of "
                        f"sbc.formula {formula!r}; give one per grouping column, e.g. levels: "
                        f"{{{', '.join(f'{column}: 4' for column in columns)}}}")
    extra = [column for column in levels if column not in columns]
    if extra:
        raise DataError(f"sbc.levels.{extra[0]}: not a grouping column of sbc.formula {formula!r} "
                        f"(those are {', '.join(columns)}); remove it")
    return parsed


def _table(parsed, levels, group_size, seed):
    """The design as a CSV would hold it: every combination of the grouping columns'
    labels `group_size` times, a placeholder response (each simulation draws its own)
    and the predictors."""
    from .csvfile import CsvTable

    columns = parsed.grouping_columns
    cells = list(itertools.product(*(range(levels[column]) for column in columns)))
    frame = pd.DataFrame(np.repeat(cells, group_size, axis=0).astype(str), columns=list(columns))
    frame[parsed.response] = "0"
    predictors = [name for name in parsed.variables if name not in (parsed.response, *columns)]
    values = np.random.default_rng(seed).standard_normal((len(frame), len(predictors)))
    for name, column in zip(predictors, values.T):
        frame[name] = column.astype(str)
    return CsvTable(path=SOURCE, names=list(frame.columns), cells=frame.to_numpy(dtype=object),
                    lines=np.arange(2, len(frame) + 2))


def design(groups, group_size, family="gaussian", trials=None, exposure=None, formula=None, seed=0):
    """The simulated design as a pooling.data.Prepared (its `y` a placeholder).

    `groups`: the number of groups of one varying intercept (no `formula`), or the
    number of labels of each grouping column of `formula` (sbc.levels). `trials` per
    row for binomial data (bernoulli's one trial is implied), an optional `exposure`
    per row for counts (entering as its log, an offset); `seed` draws the predictors."""
    from .data import from_table
    from .formula import prepare_formula

    check_design(families.named(family, "sbc.family"), trials, exposure, "sbc")
    levels = groups if formula else {"group": groups}
    formula = formula or DEFAULT_FORMULA
    table = _table(check(formula, levels), levels, group_size, seed)
    # the family shapes only the response, which each simulation draws
    data = from_table(prepare_formula(table, formula, families.named("gaussian")))
    rows = len(data.group)
    return replace(data, trials=None if trials is None else np.full(rows, trials, dtype=np.int64),
                   offset=None if exposure is None else np.full(rows, math.log(exposure)))
