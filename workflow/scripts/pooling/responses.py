"""What each family's response must be, checked before any fit: one line naming the
file, column and line of the first value that breaks it, and what to do."""

import numpy as np

from .errors import DataError


def _first(mask):
    return int(np.flatnonzero(mask)[0])


def _refuse(table, column, values, bad, what, todo):
    row = _first(bad)
    raise DataError(
        f"{table.path}: column {column!r} ({what}) has {int(bad.sum())} value(s) that "
        f"{todo}, first {values[row]:g} on line {table.line(row, column)}"
    )


def check(table, family, response, y, trials_column=None, trials=None):
    """Refuse responses the family cannot have produced: a non-0/1 bernoulli outcome,
    negative or non-integer counts, successes above trials, trials below 1."""
    what = f"the {family.name} response"
    if family.response == "binary":
        bad = (y != 0) & (y != 1)
        if bad.any():
            _refuse(table, response, y, bad, what, "are not 0 or 1 (bernoulli needs 0/1 "
                    "outcomes; for successes out of trials use binomial with p(successes, trials))")
    if family.response in ("count", "proportion"):
        bad = (y < 0) | (y != np.round(y))
        if bad.any():
            _refuse(table, response, y, bad, what, "are not whole numbers >= 0 (counts)")
    if family.response == "proportion":
        bad = (trials < 1) | (trials != np.round(trials))
        if bad.any():
            _refuse(table, trials_column, trials, bad, f"the {family.name} trials",
                    "are not whole numbers >= 1 (a row of 0 trials carries no data: drop it)")
        above = y > trials
        if above.any():
            row = _first(above)
            raise DataError(
                f"{table.path}: column {response!r} (successes) is above column {trials_column!r} "
                f"(trials) in {int(above.sum())} row(s), first {y[row]:g} > {trials[row]:g} on "
                f"line {table.line(row, response)}; successes count the trials that succeeded"
            )
