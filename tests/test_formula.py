"""Issue #13: datasets described by a formula (parsed by formulae) and a family: what
each part of a formula becomes, and one-line errors for data a family cannot have."""

import numpy as np
import pandas as pd
import pytest

from pooling.data import load_prepared, prepare
from pooling.errors import DataError
from pooling.formula import parse, shorthand


def test_parse_names_every_part_of_the_formula():
    f = parse("p(hits, at_bats) ~ 1 + x + C(c) + x:z + offset(log(hours)) + (1 | player)")
    assert (f.response, f.trials, f.group, f.offset) == ("hits", "at_bats", "player", "offset(log(hours))")
    assert f.terms == ("x", "C(c)", "x:z")
    assert f.categorical == {"c"}
    assert f.rhs == "1 + x + C(c) + x:z + offset(log(hours))"


def test_shorthand_keys_stand_for_a_formula():
    assert shorthand("y", "county", ["floor"], ["uranium"]) == "y ~ 1 + floor + uranium + (1 | county)"
    assert shorthand("y") == "y ~ 1"


@pytest.fixture
def source(tmp_path):
    rng = np.random.default_rng(7)
    n = 40
    table = pd.DataFrame({
        "g": np.repeat(["b", "a", "c", "d"], 10),
        "x": rng.normal(size=n).round(3),
        "c": rng.choice(["lo", "hi", "mid"], n),
        "hours": rng.uniform(1, 4, n).round(3),
    })
    table["u"] = table["g"].map({"a": 0.5, "b": -1.0, "c": 2.0, "d": 0.0})
    table["trials"] = rng.integers(1, 12, n)
    table["hits"] = rng.binomial(table["trials"], 0.3)
    table["count"] = rng.poisson(2, n)
    table["y"] = rng.normal(size=n).round(4)
    path = tmp_path / "data.csv"
    table.to_csv(path, index=False)
    return path, table


def test_categorical_columns_are_coded_against_their_first_level(source):
    path, table = source
    prepared = prepare(str(path), formula="count ~ 1 + x * c + (1 | g)", family="poisson")
    # levels sort as lme4 and bambi sort them: 'hi' is the reference level
    assert [c for c in prepared if c.startswith("x:")] == [
        "x:x", "x:c[lo]", "x:c[mid]", "x:x:c[lo]", "x:x:c[mid]"]
    np.testing.assert_array_equal(prepared["x:c[lo]"], (table["c"] == "lo").astype(float))
    np.testing.assert_allclose(prepared["x:x:c[mid]"], table["x"] * (table["c"] == "mid"))


def test_terms_constant_within_groups_become_group_level_predictors(source):
    path, table = source
    prepared = prepare(str(path), formula="y ~ 1 + x + u + (1 | g)")
    assert "u:u" in prepared and "x:x" in prepared and "x:u" not in prepared
    data = load_prepared_from(prepared, path)
    assert data.group_labels == ["b", "a", "c", "d"]  # order of first appearance
    np.testing.assert_array_equal(data.U[:, 0], [-1.0, 0.5, 2.0, 0.0])


def load_prepared_from(prepared, path):
    out = path.with_name("prepared.csv")
    prepared.to_csv(out, index=False)
    return load_prepared(out)


def test_binomial_trials_and_poisson_exposure_reach_the_model(source):
    path, table = source
    data = load_prepared_from(prepare(str(path), formula="p(hits, trials) ~ 1 + (1 | g)", family="binomial"), path)
    np.testing.assert_array_equal(data.trials, table["trials"])
    np.testing.assert_array_equal(data.y, table["hits"])
    data = load_prepared_from(
        prepare(str(path), formula="count ~ 1 + offset(log(hours)) + (1 | g)", family="poisson"), path)
    np.testing.assert_allclose(data.offset, np.log(table["hours"]))
    assert data.X is None


def test_the_shorthand_and_its_formula_prepare_the_same_table(source):
    path, _ = source
    short = prepare(str(path), "y", group="g", predictors=["x"], group_predictors=["u"])
    formula = prepare(str(path), formula="y ~ 1 + x + u + (1 | g)")
    pd.testing.assert_frame_equal(short, formula)


def edit(table, path, **columns):
    table = table.copy()
    for name, (row, value) in columns.items():
        table[name] = table[name].astype(object)
        table.loc[row, name] = value
    table.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("formula, family, change, message", [
    ("p(hits, trials) ~ 1 + (1 | g)", "binomial", {"hits": (4, 20)},
     "column 'hits' (successes) is above column 'trials' (trials) in 1 row(s), first 20 > {t} on line 6; "
     "successes count the trials that succeeded"),
    ("p(hits, trials) ~ 1 + (1 | g)", "binomial", {"trials": (2, 0)},
     "column 'trials' (the binomial trials) has 1 value(s) that are not whole numbers >= 1 (a row of 0 "
     "trials carries no data: drop it), first 0 on line 4"),
    ("count ~ 1 + (1 | g)", "poisson", {"count": (3, -1)},
     "column 'count' (the poisson response) has 1 value(s) that are not whole numbers >= 0 (counts), "
     "first -1 on line 5"),
    ("count ~ 1 + (1 | g)", "negativebinomial", {"count": (7, 2.5)},
     "column 'count' (the negativebinomial response) has 1 value(s) that are not whole numbers >= 0 "
     "(counts), first 2.5 on line 9"),
    ("hits ~ 1 + (1 | g)", "bernoulli", {"hits": (1, 0), "trials": (1, 1)},
     "column 'hits' (the bernoulli response) has {b} value(s) that are not 0 or 1 (bernoulli needs 0/1 "
     "outcomes; for successes out of trials use binomial with p(successes, trials)), first {v} on line {l}"),
    ("count ~ 1 + offset(log(hours)) + (1 | g)", "poisson", {"hours": (9, 0)},
     "column 'hours' (the exposure in offset(log(hours))) must be positive and finite, found '0' on line 11 "
     "(1 such row(s)); drop those rows"),
    ("y ~ 1 + nothere + (1 | g)", "gaussian", {},
     "column 'nothere' (named in formula 'y ~ 1 + nothere + (1 | g)') not found; the file has columns "
     "'g', 'x', 'c', 'hours', 'u', 'trials', 'hits', 'count', 'y'"),
    ("y ~ 1 + x + (1 | g)", "gaussian", {"x": (5, "1.2.3")},
     "column 'x' (config `formula`) is mostly numbers but has 1 non-numeric value(s), first '1.2.3' on line 7; "
     "fix them, or write C(x) to treat the column as categorical"),
    ("y ~ 1 + (1 | g)", "binomial", {},
     "family binomial needs its trials: write the response as p(successes, trials) in formula "
     "'y ~ 1 + (1 | g)'"),
    ("p(hits, trials) ~ 1 + (1 | g)", "poisson", {},
     "formula 'p(hits, trials) ~ 1 + (1 | g)' has a p(successes, trials) response, which is binomial's: "
     "set family: binomial (family is 'poisson')"),
])
def test_data_a_family_cannot_have_gets_one_line(tmp_path, source, formula, family, change, message):
    _, table = source
    path = edit(table, tmp_path / "bad.csv", **change)
    if "{b}" in message:
        values = pd.read_csv(path)["hits"].to_numpy()
        bad = np.flatnonzero((values != 0) & (values != 1))
        message = message.format(b=len(bad), v=values[bad[0]], l=bad[0] + 2)
    message = message.replace("{t}", str(table["trials"][4]))
    with pytest.raises(DataError) as error:
        prepare(path, formula=formula, family=family)
    assert str(error.value) == f"{path}: {message}"


@pytest.mark.parametrize("formula, message", [
    ("y ~ x +", "does not parse: Don't know how to parse ''"),
    ("y ~ (x", "does not parse: Expect ')' after expression."),
    ("y ~ x | g", "has a '|' outside a group term: write the group term in parentheses, e.g. (1 | group)"),
    ("log(y) ~ x", "transforms its response 'log(y)': write a column name, or p(successes, trials) for "
                   "binomial data"),
    ("y ~ 0 + x + (1 | g)", "has no intercept: the pooling strategies compare group intercepts, so keep the "
                            "'1' (drop the '0 +' or '- 1')"),
])
def test_formulas_the_workflow_cannot_fit_get_one_line(formula, message):
    with pytest.raises(DataError) as error:
        parse(formula, "datasets.d.formula")
    assert str(error.value) == f"datasets.d.formula: formula {formula!r} {message}"
