"""The grouping structure a formula's group terms give its rows: each factor's label per
row, and the checks that each group term can be estimated from the data.

A nested factor's label names its parent, `A:a`, so that child labels repeated under
different parents (cask `a` of batch A and cask `a` of batch B) are different groups,
as lme4 treats `(1 | batch/cask)`.
"""

import logging

import numpy as np
import pandas as pd

from .data import group_labels
from .errors import DataError

log = logging.getLogger(__name__)


def factor_labels(table, factor, key="formula"):
    """Every row's label of `factor` (its columns, outermost first), as text."""
    parts = [group_labels(table, column, key) for column in factor]
    if len(parts) == 1:
        return parts[0]
    return np.array([":".join(labels) for labels in zip(*parts)], dtype=object)


def check(table, formula, slope_values):
    """One-line errors for group terms the data cannot inform, and a warning for a
    nesting that changes nothing. `slope_values` maps each varying slope's design
    column to its values per row: {term: {design column: values}}."""
    labels = {group.name: factor_labels(table, group.factor) for group in formula.groups}
    several = len(formula.groups) > 1
    for group in formula.groups:
        levels = pd.unique(labels[group.name])
        if several and len(levels) == 1:
            raise DataError(
                f"{table.path}: group term {group} of formula {formula.text!r} has one level "
                f"({levels[0]!r}), so it has no groups to pool or compare; drop the term"
            )
        for term in group.slopes:
            for column, values in slope_values[term].items():
                within = pd.Series(values).groupby(labels[group.name]).nunique()
                if (within == 1).all():
                    raise DataError(
                        f"{table.path}: varying slope {column!r} of group term {group} (formula "
                        f"{formula.text!r}) is constant within every {group.name} group, so a slope "
                        f"per group cannot be told from its intercept; drop {term!r} from the group term"
                    )
        if len(group.factor) > 1:
            _warn_needless_nesting(table, group, formula)


def _warn_needless_nesting(table, group, formula):
    """Child labels that never repeat under two parents make the nesting a no-op."""
    parent, child = group.factor[:-1], group.factor[-1]
    parents = factor_labels(table, parent)
    children = group_labels(table, child, "formula")
    shared = pd.Series(parents).groupby(children).nunique()
    if (shared == 1).all():
        log.warning(
            "%s: no label of column %r repeats under two %s groups, so the nesting in %s adds "
            "nothing: (1 | %s) would give the same groups (formula %r)",
            table.path, child, ":".join(parent), group, child, formula.text,
        )
