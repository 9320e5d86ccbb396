"""Property: any CSV a user brings either prepares to exactly the table it holds, or
stops with the project's one-line DataError naming the file's own line of the problem;
never another exception (issue #12). Files are generated with random encodings, line
endings, quoting, separators, blank lines, quoted line breaks, text labels that look
like missing values or numbers, and one injected fault at a known line."""

import csv
import io
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pooling.data import prepare
from pooling.errors import DataError

LOOKS_MISSING = ["NA", "None", "null", "N/A", "nan", "007", "7", "-", "TRUE"]
labels = st.one_of(
    st.sampled_from(LOOKS_MISSING),
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=6)
    .filter(lambda s: s.strip() == s),
)
# Free text: commas, quotes and line breaks of every kind.
notes = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)
# Within the scales the workflow accepts (tests/test_data.py checks the limits).
numbers = st.floats(-1e6, 1e6).filter(lambda v: v == 0 or abs(v) > 1e-6).map(repr)
FAULTS = [None, "non_numeric", "decimal_comma", "extra_field", "empty_label", "missing",
          "unclosed_quote", "unnamed_value"]
UNCLOSED = "__unclosed__"  # written as `"1.5` with no closing quote


def breaks(text):
    """Line breaks as an editor counts them: \\r\\n, \\n or a lone \\r."""
    return len(re.findall(r"\r\n|\r|\n", text))


@st.composite
def csv_files(draw):
    n = draw(st.integers(1, 8))
    rows = [[draw(labels), draw(notes), draw(numbers)] for _ in range(n)]
    fault = draw(st.sampled_from(FAULTS))
    at = draw(st.integers(0, n - 1))
    if fault == "non_numeric":
        rows[at][2] = "abc"
    elif fault == "decimal_comma":
        rows[at][2] = "6,5"  # quoted by the writer, so it stays one field
    elif fault == "empty_label":
        rows[at][0] = ""
    elif fault == "missing":
        rows[at][2] = draw(st.sampled_from(["", "NA", "nan"]))
    elif fault == "extra_field":
        rows[at].append("5")
    elif fault == "unclosed_quote":  # in the last cell of the last row: it swallows the rest
        at = n - 1
        rows[at][2] = UNCLOSED
    header = ["g", "note", "y"]
    if fault == "unnamed_value":  # a header ending in an empty cell, a value under it
        header.append("")
        rows = [row + ["5" if k == at else ""] for k, row in enumerate(rows)]
    separator = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    if any(breaks(str(cell)) for row in rows for cell in row):
        quoting = csv.QUOTE_ALL  # csv.writer quotes only the line terminator's own characters
    blanks = draw(st.sets(st.integers(-1, n - 1), max_size=3))  # blank line after record k
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "bom+latin-1"]))

    text, starts = io.StringIO(), []
    writer = csv.writer(text, delimiter=separator, lineterminator=ending, quoting=quoting)
    if -1 in blanks:
        text.write(ending)
    writer.writerow(header)
    for k, row in enumerate(rows):
        starts.append(breaks(text.getvalue()) + 1)
        writer.writerow(row)
        if k in blanks:
            text.write(ending)
    content = text.getvalue().replace(f'"{UNCLOSED}"', '"1.5').replace(UNCLOSED, '"1.5')
    try:
        raw = content.encode(encoding.removeprefix("bom+"))
    except UnicodeEncodeError:
        assume(False)
    if encoding.startswith("bom+"):
        raw = b"\xef\xbb\xbf" + raw
    return dict(raw=raw, rows=rows, fault=fault, at=at, starts=starts, separator=separator,
                encoding=encoding, content=content)


def expected_error(case):
    """The message's tail for the first problem the reader meets, or None."""
    starts, at, rows = case["starts"], case["at"], case["rows"]
    if "latin-1" in case["encoding"]:
        bom = len(case["raw"]) - len(case["content"])  # Latin-1: one byte per character
        try:  # Latin-1 bytes may happen to be valid UTF-8 too
            case["raw"][bom:].decode("utf-8")
        except UnicodeDecodeError as error:
            return f"line {breaks(case['content'][:error.start]) + 1} is not UTF-8"
    if case["separator"] != ",":
        name = "tab" if case["separator"] == "\t" else "semicolon"
        return f"so the file looks {name}-separated"
    # y is the third column: its line is the row's first line plus the note's line breaks.
    y_line = starts[at] + breaks(rows[at][0]) + breaks(rows[at][1])
    return {
        "unclosed_quote": f"line {starts[at]}: a quoted cell in the row that starts here is never closed",
        "unnamed_value": f"line {y_line} has a value ('5') in column 4, which has no name",
        None: None,
        "extra_field": f"line {starts[at]} has 4 fields but the header",
        "empty_label": f"empty label(s), first on line {starts[at]};",
        "non_numeric": f"first 'abc' on line {y_line};",
        "decimal_comma": f"first '6,5' on line {y_line} (a decimal comma? use '.')",
        "missing": f"missing or infinite value(s), first on line {y_line};",
    }[case["fault"]]


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_any_csv_prepares_exactly_or_names_its_line(case):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data.csv"
        path.write_bytes(case["raw"])
        expected = expected_error(case)
        if expected is None:
            table = prepare(str(path), "y", group="g")
            assert table["group"].tolist() == [row[0] for row in case["rows"]]
            assert table["y"].tolist() == [float(row[2]) for row in case["rows"]]
        else:
            with pytest.raises(DataError) as error:
                prepare(str(path), "y", group="g")
            message = str(error.value)
            assert "\n" not in message
            assert message.startswith(f"{path}: ")
            assert expected in message
