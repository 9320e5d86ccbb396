import numpy as np
import pandas as pd
import pytest

from pooling.data import PREDICTOR_PREFIX, load_prepared, prepare
from pooling.errors import DataError

from conftest import ROOT

EIGHT = ROOT / "resources" / "eight_schools.csv"


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_eight_schools_keeps_rows_labels_and_standard_errors():
    table = prepare(str(EIGHT), "y", group="school", se="se")
    assert list(table.columns) == ["group", "y", "se"]
    assert table["group"].tolist() == list("ABCDEFGH")
    assert table["y"].tolist() == [28, 8, -3, 7, -1, 1, 18, 12]
    assert table["se"].tolist() == [15, 10, 16, 11, 9, 11, 10, 18]


def test_without_group_column_every_row_is_its_own_group(tmp_path):
    table = prepare(write(tmp_path, "y\n10\n12\n9\n11\n8\n"), "y")
    assert table["group"].tolist() == ["1", "2", "3", "4", "5"]


def test_prepared_round_trip_codes_groups_in_order_of_appearance(tmp_path):
    source = write(tmp_path, "county,y,floor\nb,1.0,0\na,2.0,1\nb,3.0,1\n007,4.0,0\n")
    prepared = tmp_path / "prepared.csv"
    prepare(source, "y", group="county", predictors=["floor"]).to_csv(prepared, index=False)
    assert pd.read_csv(prepared).columns.tolist() == ["group", "y", PREDICTOR_PREFIX + "floor"]
    data = load_prepared(prepared)
    assert data.group_labels == ["b", "a", "007"]  # labels stay strings: no "7"
    assert data.group.tolist() == [0, 1, 0, 2]
    assert data.group_sizes.tolist() == [2, 1, 1]
    assert data.predictor_names == ["floor"]
    np.testing.assert_array_equal(data.X[:, 0], [0, 1, 1, 0])
    assert data.se is None


@pytest.mark.parametrize("text, kwargs, message", [
    ("school,y\nA,1\n", {"group": "school", "se": "sigma"},
     "column 'sigma' (config `se`) not found; the file has columns 'school', 'y'"),
    ("g,y\nA,1\nB,x\nC,zz\n", {"group": "g"},
     "column 'y' (config `response`) has 2 non-numeric value(s), first 'x' on line 3; fix or remove them"),
    ("g,y\nA,1\nB,\nC,inf\n", {"group": "g"},
     "column 'y' (config `response`) has 2 missing or infinite value(s), first on line 3; drop or impute those rows"),
    ("g,y,s\nA,1,1\nB,2,0\n", {"group": "g", "se": "s"},
     "column 's' (config `se`) must be > 0 (known standard errors), found 0 on line 3"),
    ("g,y,x\nA,1,2\nB,2,2\n", {"group": "g", "predictors": ["x"]},
     "predictors column 'x' has the same value 2 in every row, so its coefficient cannot be estimated; remove it from `predictors`"),
    ("g,y\nA,1\n ,2\n", {"group": "g"},
     "column 'g' (config `group`) has 1 empty label(s), first on line 3; give every row a group"),
    ("g,y,u\nA,1,0.5\nB,2,0.7\nB,3,0.9\n", {"group": "g", "group_predictors": ["u"]},
     "group predictor 'u' (config `group_predictors`) varies within group 'B' (from 0.7 to 0.9); "
     "a group-level predictor needs one value per group, so move it to `predictors` or fix the data"),
    ("g,y,y\nA,1,2\n", {"group": "g"},
     "column 'y' appears twice in the header; rename one"),
    ("", {}, "the file is empty; it needs a header row and data rows"),
    ("g,y\n", {"group": "g"}, "the file has a header but no data rows"),
])
def test_bad_data_gets_one_line_naming_file_and_column(tmp_path, text, kwargs, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as error:
        prepare(path, "y", **kwargs)
    assert str(error.value) == f"{path}: {message}"


def test_group_predictors_become_one_row_per_group(tmp_path):
    source = write(tmp_path, "county,y,uranium\nb,1.0,0.2\na,2.0,0.9\nb,3.0,0.2\n")
    prepared = tmp_path / "prepared.csv"
    prepare(source, "y", group="county", group_predictors=["uranium"]).to_csv(prepared, index=False)
    data = load_prepared(prepared)
    assert data.group_predictor_names == ["uranium"]
    np.testing.assert_array_equal(data.U, [[0.2], [0.9]])  # groups b, a in order of appearance
    assert data.X is None


def test_missing_file_names_the_config_key(tmp_path):
    path = str(tmp_path / "nope.csv")
    with pytest.raises(DataError) as error:
        prepare(path, "y")
    assert str(error.value) == f"{path}: file not found; check the dataset's `path` in the config"


def test_unparseable_csv_names_the_file(tmp_path):
    path = write(tmp_path, 'g,y\nA,1\nB,2,3,4\n')
    with pytest.raises(DataError) as error:
        prepare(path, "y", group="g")
    assert str(error.value).startswith(f"{path}: cannot parse as CSV (")
    assert str(error.value).endswith("); save it as comma-separated UTF-8")


def test_designs_that_need_care_are_warned_about(tmp_path, caplog):
    rows = "".join(f"big,{i}\n" for i in range(25)) + "small,1\n"
    path = write(tmp_path, "g,y\n" + rows)
    with caplog.at_level("WARNING"):
        prepare(path, "y", group="g")
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: 1 of 2 groups have a single observation; their no-pooling estimates rest on "
        "one value each and their PSIS-LOO Pareto k will be high",
        f"{path}: very unbalanced groups (1 to 25 rows; 'big' is the largest); partial pooling "
        "handles this, but small groups' estimates lean on the population mean",
    ]


def test_partial_pooling_of_one_group_is_refused_with_what_to_do(tmp_path):
    from pooling.fit import fit_to_netcdf

    source = write(tmp_path, "g,y\nA,1\nA,2\n")
    prepared = tmp_path / "prepared.csv"
    prepare(source, "y", group="g").to_csv(prepared, index=False)
    with pytest.raises(DataError) as error:
        fit_to_netcdf(prepared, source, tmp_path / "fit.nc", "d", "partial_pooling", {}, {}, {})
    assert str(error.value) == (
        f"{source}: only one group ('A'), so partial pooling cannot estimate how much groups "
        "differ (tau); set `strategies` for dataset 'd' to no_pooling and/or complete_pooling, "
        "or configure a `group` column with several groups")
    assert not (tmp_path / "fit.nc").exists()
