"""A user's CSV file as written: every cell as text, and the file's own line numbers.

pandas' reader renumbers rows (blank lines and quoted line breaks shift its counts),
reads labels such as `NA` or `None` as missing, and turns the first field into an
index when every row has one field more than the header (decimal commas). Error
messages must point at the line a user opens in an editor, and group labels are text,
so the file is read here with the standard `csv` module, which counts physical lines
(a line ends at `\\r\\n`, `\\n` or a lone `\\r`), and nothing is converted:
`pooling.data` decides what each column must hold.
"""

import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import DataError

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
LINE_BREAK = re.compile(r"\r\n|\r|\n")
BYTE_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def _not_utf8(path, raw, error):
    """The line and character of the first byte that is not UTF-8."""
    breaks = list(BYTE_LINE_BREAK.finditer(raw, 0, error.start))
    line_start = breaks[-1].end() if breaks else 0
    character = len(raw[line_start:error.start].decode("utf-8", errors="replace")) + 1
    byte = raw[error.start:error.start + 1].hex()
    return DataError(
        f"{path}: line {len(breaks) + 1} is not UTF-8 (byte 0x{byte} at character {character}); save "
        f"the file as CSV UTF-8 (e.g. from a Latin-1 or Windows-1252 export)")


class EmptyFile(DataError):
    """A file with no data rows (zero bytes, blank lines, or a header alone)."""


def _text(path, key="path"):
    """The file decoded: UTF-8 (with or without a byte-order mark), UTF-16 with a
    byte-order mark, either one gzip-compressed. `key`: the config key naming it."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; check the dataset's `{key}` in the config") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error.strerror}); check the dataset's `{key}`") from None
    if raw.startswith(b"\x1f\x8b"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: a damaged gzip file ({error}); compress it again or give the plain CSV") from None
    if raw.startswith(b"PK\x03\x04"):
        raise DataError(f"{path}: a ZIP archive (an Excel .xlsx workbook?), not a CSV; "
                        f"export the sheet as CSV UTF-8 (comma-separated)")
    if raw.startswith(UTF16_BOMS):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise DataError(f"{path}: starts like UTF-16 but does not decode as UTF-16; save it as CSV UTF-8") from None
    raw = raw.removeprefix(UTF8_BOM)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8(path, raw, error) from None


def _check_separator(path, text):
    """A first line without commas but with tabs or semicolons (a European spreadsheet's
    export, whose decimal commas would otherwise split every row). Checked on the text,
    before the CSV reader, which can fail on such a file's quotes first."""
    header = next((line for line in io.StringIO(text, newline="") if line.strip()), "")
    if "," not in header:
        for separator, name in (("\t", "tab"), (";", "semicolon")):
            if separator in header:
                raise DataError(f"{path}: the header has no commas but {name}s, so the file looks "
                                f"{name}-separated; save it as comma-separated CSV with '.' for decimals")


@dataclass(frozen=True)
class CsvTable:
    """The header row's names, the data rows' cells (text, one column per header
    field, short rows padded with empty cells) and the line where each row begins."""

    path: str
    names: list  # header fields in file order, "" for an unnamed column
    cells: np.ndarray  # object array of str, rows x len(names), rows in file order
    lines: np.ndarray  # 1-based line of the file where each data row begins

    @property
    def columns(self):
        """The named columns, in file order (unnamed ones, such as the empty header
        cells of an Excel export, cannot be configured)."""
        return [name for name in self.names if name]

    def __len__(self):
        return len(self.cells)

    def column(self, name):
        return pd.Series(self.cells[:, self.names.index(name)], dtype="str")

    def line(self, row, name=None):
        """The line where data row `row` (0-based) begins or, with `name`, where that
        cell is: a quoted cell with line breaks moves the cells after it down."""
        return self._line(row, self.names.index(name) if name is not None else 0)

    def _line(self, row, position):
        return int(self.lines[row]) + sum(len(LINE_BREAK.findall(cell)) for cell in self.cells[row, :position])


def _records(path, text):
    """Every record with the line it ends on (a blank line is an empty record)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, ends = [], []
    try:
        for fields in reader:
            records.append(fields)
            ends.append(reader.line_num)
    except csv.Error as error:
        start = ends[-1] + 1 if ends else 1
        if "unexpected end of data" in str(error):
            raise DataError(
                f"{path}: line {start}: a quoted cell in the row that starts here is never closed; "
                f"close the quote (\") or remove it") from None
        raise DataError(f"{path}: line {reader.line_num}: {error}; quote the whole cell, and double "
                        f"any quote inside it (\"\")") from None
    return records, np.asarray(ends, dtype=np.int64)


def _filled(records):
    """Which records carry a value: not blank lines, nor rows of empty or blank cells
    (spreadsheets export these)."""
    return np.fromiter(map(bool, map(str.strip, map("".join, records))), bool, count=len(records))


def read(path, key="path"):
    """Read `path` (the dataset's config key `key`) or raise a one-line DataError naming
    the file and line (EmptyFile where it has no data rows)."""
    text = _text(path, key)
    _check_separator(path, text)
    records, ends = _records(path, text)
    starts = np.concatenate(([1], ends[:-1] + 1)).astype(np.int64)
    filled = np.flatnonzero(_filled(records))
    if not len(filled):
        raise EmptyFile(f"{path}: the file is empty; it needs a header row and data rows")
    header, header_line, width = records[filled[0]], int(starts[filled[0]]), len(records[filled[0]])
    seen = set()
    for name in header:
        if name in seen and name:
            raise DataError(f"{path}: column {name!r} appears twice in the header; rename one")
        seen.add(name)
    kept = filled[1:]
    if not len(kept):
        raise EmptyFile(f"{path}: the file has a header but no data rows")
    rows = [records[i] for i in kept]
    widths = np.fromiter(map(len, rows), int, count=len(rows))
    too_long = []  # (line, fields) of rows with values beyond the header's last column
    for k in np.flatnonzero(widths != width):
        fields = rows[k]
        if "".join(fields[width:]).strip():
            too_long.append((int(starts[kept[k]]), len(fields)))
        rows[k] = fields[:width] + [""] * (width - len(fields))
    if too_long:
        (line, count), more = too_long[0], len(too_long) - 1
        raise _extra_values(path, line, f"has {count} fields but the header (line {header_line}) has "
                            f"{width}", more)
    cells = np.empty((len(rows), width), dtype=object)
    cells[:] = rows
    table = CsvTable(path=path, names=list(header), cells=cells, lines=starts[kept])
    _check_unnamed(table, header_line)
    return table


def _extra_values(path, line, what, more):
    others = f" (and {more} more line{'s' * (more > 1)})" if more else ""
    return DataError(
        f"{path}: line {line} {what}{others}; a decimal comma or an unquoted comma inside "
        f"a value? Use '.' for decimals and quote values that contain commas")


def _check_unnamed(table, header_line):
    """Unnamed columns after the last named one (a header such as `group,y,` from a
    spreadsheet) may only hold empty cells: a value there is a row that split where it
    should not (decimal commas again). An unnamed column before them, such as the row
    index pandas and R write first, is data nobody configured: ignored."""
    last_named = max((k for k, name in enumerate(table.names) if name), default=-1)
    for position in range(last_named + 1, len(table.names)):
        used = np.flatnonzero(pd.Series(table.cells[:, position], dtype="str").str.strip() != "")
        if len(used):
            row = int(used[0])
            raise _extra_values(
                table.path, table._line(row, position),
                f"has a value ({table.cells[row, position].strip()!r}) in column {position + 1}, which has "
                f"no name in the header (line {header_line})", len(used) - 1)
