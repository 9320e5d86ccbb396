import gzip

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
     "predictors column 'x' has the same value 2 in every row, so its coefficient cannot be estimated; "
     "remove it from `predictors`"),
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


# Issue #12: inputs that used to give a wrong line, a wrong column or a silent misread.
@pytest.mark.parametrize("content, kwargs, message", [
    # Decimal commas in every row: each row has one field more than the header.
    (b"g,y\nA,6,566\nB,2,5\nC,3,1\n", {},
     "line 2 has 3 fields but the header (line 1) has 2 (and 2 more lines); a decimal comma or "
     "an unquoted comma inside a value? Use '.' for decimals and quote values that contain commas"),
    (b"g,y\nA,1\nB,2,3,4\n", {},
     "line 3 has 4 fields but the header (line 1) has 2; a decimal comma or an unquoted comma "
     "inside a value? Use '.' for decimals and quote values that contain commas"),
    (b'g,y\nA,"6,566"\n', {},
     "column 'y' (config `response`) has 1 non-numeric value(s), first '6,566' on line 2 "
     "(a decimal comma? use '.'); fix or remove them"),
    (b"g;y\nA;6,5\n", {},
     "the header has no commas but semicolons, so the file looks semicolon-separated; save it "
     "as comma-separated CSV with '.' for decimals"),
    (b"g\ty\nA\t6.5\n", {},
     "the header has no commas but tabs, so the file looks tab-separated; save it as "
     "comma-separated CSV with '.' for decimals"),
    # Line numbers are the file's own: blank lines and quoted line breaks count.
    (b"g,y\nA,1\n\nB,2\nC,3\nD,4\nE,5\nF,6\nG,7\nH,8\nI,9\nJ,10\nK,bad\n", {},
     "column 'y' (config `response`) has 1 non-numeric value(s), first 'bad' on line 13; fix or remove them"),
    (b'g,note,y\nA,"two\nlines",1\nB,x,2\nC,y,bad\n', {},
     "column 'y' (config `response`) has 1 non-numeric value(s), first 'bad' on line 5; fix or remove them"),
    (b'g,note,y\nA,"two\nlines",bad\n', {},
     "column 'y' (config `response`) has 1 non-numeric value(s), first 'bad' on line 3; fix or remove them"),
    (b"g,y\n" + b"A,1\n" * 3000 + b"B\xe9,2\n", {},
     "line 3002 is not UTF-8 (byte 0xe9 at character 2); save the file as CSV UTF-8 (e.g. from "
     "a Latin-1 or Windows-1252 export)"),
    (b"\xef\xbb\xbfg,y\nA,1\n\xe9,2\n", {},  # after a byte-order mark
     "line 3 is not UTF-8 (byte 0xe9 at character 1); save the file as CSV UTF-8 (e.g. from "
     "a Latin-1 or Windows-1252 export)"),
    (b"g,y\rA,1\rB\xe9,2\r", {},  # old Mac line endings: a lone carriage return ends a line
     "line 3 is not UTF-8 (byte 0xe9 at character 2); save the file as CSV UTF-8 (e.g. from "
     "a Latin-1 or Windows-1252 export)"),
    (b'g,note,y\rA,"two\rlines",1\rB,x,bad\r', {},
     "column 'y' (config `response`) has 1 non-numeric value(s), first 'bad' on line 4; fix or remove them"),
    # An unclosed quote would swallow every row after it.
    (b'g,y,note\nA,1,x\nB,2,"oops\nC,3,y\nD,4,z\n', {},
     "line 3: a quoted cell in the row that starts here is never closed; close the quote (\") or remove it"),
    (b'g,y\nA,"1"2\n', {},
     "line 2: ',' expected after '\"'; quote the whole cell, and double any quote inside it (\"\")"),
    # Decimal commas under a header that ends in an empty cell: the split lands there.
    (b"g,y,\nA,6,566\nB,7,1\nC,8,\n", {},
     "line 2 has a value ('566') in column 3, which has no name in the header (line 1) (and 1 more "
     "line); a decimal comma or an unquoted comma inside a value? Use '.' for decimals and quote "
     "values that contain commas"),
    (b"PK\x03\x04rest of a workbook", {},
     "a ZIP archive (an Excel .xlsx workbook?), not a CSV; export the sheet as CSV UTF-8 (comma-separated)"),
    # Scales that float32 draws cannot hold.
    (b"g,y\nA,1e300\nB,2e300\n", {},
     "column 'y' (config `response`) has values as large as 2e+300 (line 3); the workflow handles "
     "magnitudes up to 1e+30: rescale the column, e.g. divide it by 1e+300"),
    (b"g,y\nA,1e-300\nB,3e-300\n", {},
     "column 'y' (config `response`) has a scale of only 1e-300 (standard deviation 1e-300); the "
     "workflow resolves scales down to 1e-30: rescale the column, e.g. multiply it by 1e+300"),
    (b"g,y\nA,1700000000\nB,1700000010\n", {},
     "column 'y' (config `response`) varies by only 5 (standard deviation) around 1700000005; draws "
     "are stored as 32-bit floats (about 7 significant digits), which cannot resolve that: subtract "
     "a constant near 1.7e+09 from the column"),
    (b"g,y\nA,0\nB,5e-324\n", {},
     "column 'y' (config `response`) has a scale of only 4.94e-324 (standard deviation 0); "
     "the workflow resolves scales down to 1e-30: rescale the column, e.g. multiply it by 1e+307"),
    (b"g,y,s\nA,1,1e-40\nB,2,1\n", {"se": "s"},
     "column 's' (config `se`) has values as small as 1e-40 (line 2); the workflow resolves scales "
     "down to 1e-30: rescale the response and `se` together"),
])
def test_file_level_problems_name_the_files_own_line(tmp_path, content, kwargs, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        prepare(str(path), "y", group="g", **kwargs)
    assert str(error.value) == f"{path}: {message}"


@pytest.mark.parametrize("content", [
    "\ufeffg,y\r\nA,1\r\nB,2\r\n".encode(),  # Excel's CSV UTF-8: BOM and CRLF
    "g,y\nA,1\nB,2\n".encode("utf-16"),  # UTF-16 with its byte-order mark
    gzip.compress(b"g,y\nA,1\nB,2\n", mtime=0),  # a fixed header: the same test id on every worker
    b"g,y,,\nA,1,,\n\n,,,\n , \nB,2,,\n",  # empty header cells, blank line, rows of empty cells
    b"g,y\nA,1,\nB,2,\n",  # trailing commas: empty fields past the header
    b",g,y\n0,A,1\n1,B,2\n",  # a row index (pandas' to_csv, R's write.csv) in an unnamed column
])
def test_common_exports_read_as_the_same_table(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    table = prepare(str(path), "y", group="g")
    assert table.to_dict("list") == {"group": ["A", "B"], "y": [1.0, 2.0]}


def test_group_labels_are_text_only_an_empty_cell_is_missing(tmp_path):
    source = write(tmp_path, "g,y\nNA,1\nNone,2\nnull,3\nN/A,4\nNA,5\n")
    prepared = tmp_path / "prepared.csv"
    table = prepare(source, "y", group="g")
    assert table["group"].tolist() == ["NA", "None", "null", "N/A", "NA"]
    table.to_csv(prepared, index=False)
    data = load_prepared(prepared)
    assert data.group_labels == ["NA", "None", "null", "N/A"]
    assert data.group.tolist() == [0, 1, 2, 3, 0]


def test_missing_numbers_are_named_as_missing(tmp_path):
    path = write(tmp_path, "g,y\nA,1\nB,NA\nC,\n")
    with pytest.raises(DataError) as error:
        prepare(path, "y", group="g")
    assert str(error.value) == (f"{path}: column 'y' (config `response`) has 2 missing or infinite "
                                "value(s), first on line 3; drop or impute those rows")


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
