"""The grouping structure of formulas with several group terms, nested and crossed
factors and varying slopes (parsed by formulae), and the data checks that every group
term can be estimated: one line each, naming the file and the column."""

import logging

import pandas as pd
import pytest

from pooling.csvfile import read
from pooling.data import prepare
from pooling.errors import DataError
from pooling.formula import GroupTerm, parse
from pooling.structure import factor_labels

from conftest import ROOT

DATA = ROOT / "tests" / "data"
ROWS = pd.DataFrame({
    "y": [1.0, 2.0, 1.5, 2.5, 3.0, 0.5],
    "x": [0.1, 0.3, 0.2, 0.9, 0.5, 0.4],
    "batch": ["A", "A", "B", "B", "A", "B"],
    "cask": ["a", "b", "a", "b", "a", "b"],  # casks a and b in both batches: four casks
    "site": ["s1", "s2", "s3", "s4", "s1", "s3"],  # every site in one batch only
    "dose": [1, 1, 2, 2, 1, 2],  # constant within every batch
    "one": ["X"] * 6,
})


@pytest.mark.parametrize("formula, groups", [
    ("y ~ x + (1 + x | g)", [(("g",), ("1", "x"))]),
    ("y ~ (x | g)", [(("g",), ("1", "x"))]),
    ("y ~ (0 + x | g)", [(("g",), ("x",))]),
    ("y ~ (1 | a/b)", [(("a",), ("1",)), (("a", "b"), ("1",))]),
    ("y ~ (1 | a/b/c)", [(("a",), ("1",)), (("a", "b"), ("1",)), (("a", "b", "c"), ("1",))]),
    ("y ~ (1 | county) + (1 | state)", [(("county",), ("1",)), (("state",), ("1",))]),
    ("log_radon ~ floor + (1 + floor | state/county)",
     [(("state",), ("1", "floor")), (("state", "county"), ("1", "floor"))]),
])
def test_every_group_structure_parses_into_factors_and_their_terms(formula, groups):
    parsed = parse(formula)
    assert parsed.groups == tuple(GroupTerm(factor, terms) for factor, terms in groups)


def test_a_group_term_reads_as_written():
    term = parse("y ~ (1 + floor | state/county)").groups[1]
    assert (str(term), term.name, term.slopes) == ("(1 + floor | state:county)", "state:county", ("floor",))


def test_a_nested_label_names_its_parent(tmp_path):
    path = tmp_path / "d.csv"
    ROWS.to_csv(path, index=False)
    labels = factor_labels(read(path), ("batch", "cask"))
    assert list(labels) == ["A:a", "A:b", "B:a", "B:b", "A:a", "B:b"]  # cask a of A is not cask a of B


@pytest.mark.parametrize("formula, message", [
    ("y ~ (1 | batch) + (1 | one)", "group term (1 | one) of formula '{f}' has one level ('X'), so it has no "
                                    "groups to pool or compare; drop the term"),
    ("y ~ (1 + dose | batch)", "varying slope 'dose' of group term (1 + dose | batch) (formula '{f}') is "
                               "constant within every batch group, so a slope per group cannot be told "
                               "from its intercept; drop 'dose' from the group term"),
    ("y ~ (1 + x | batch) + (1 | nowhere)", "column 'nowhere' (named in formula '{f}') not found; the file "
                                            "has columns 'y', 'x', 'batch', 'cask', 'site', 'dose', 'one'"),
])
def test_a_group_term_the_data_cannot_inform_gets_one_line(tmp_path, formula, message):
    path = tmp_path / "d.csv"
    ROWS.to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        prepare(path, formula=formula)
    assert str(error.value) == f"{path}: {message.format(f=formula)}"


@pytest.mark.parametrize("child, warned", [("site", True), ("cask", False)])
def test_a_nesting_that_changes_no_group_is_said(tmp_path, caplog, child, warned):
    path = tmp_path / "d.csv"
    ROWS.to_csv(path, index=False)
    formula = f"y ~ (1 | batch/{child})"
    with caplog.at_level(logging.WARNING, logger="pooling.structure"):
        prepare(path, formula=formula)
    expected = (f"{path}: no label of column {child!r} repeats under two batch groups, so the nesting in "
                f"(1 | batch:{child}) adds nothing: (1 | {child}) would give the same groups (formula {formula!r})")
    assert [r.getMessage() for r in caplog.records if r.name == "pooling.structure"] == ([expected] if warned else [])


def test_nested_labels_are_lme4s_for_the_pastes_data():
    """lme4's Pastes (tests/data/README.md): 10 batches of 3 casks labelled a, b, c in
    every batch; the data's own `sample` column is lme4's batch:cask factor."""
    table = read(DATA / "pastes.csv")
    labels = factor_labels(table, ("batch", "cask"))
    assert list(labels) == list(pd.read_csv(DATA / "pastes.csv")["sample"])
    assert len(set(labels)) == 30


def test_crossed_factors_keep_their_own_levels_for_the_penicillin_data():
    """lme4's Penicillin: every one of 24 plates crossed with each of 6 samples."""
    table = read(DATA / "penicillin.csv")
    plate, sample = (factor_labels(table, (column,)) for column in ("plate", "sample"))
    assert (len(set(plate)), len(set(sample)), len(set(zip(plate, sample)))) == (24, 6, 144)
