"""Reading a bundle folder: find each table's file, parse the CSV cells, name every problem.

Nothing stops at the first problem: a misnamed file, a wrong delimiter and every bad cell
of every file end in one report, each with the file, the values and the fix.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ._report import N_EXAMPLES, N_VALUES, failure, values_text
from ._schema import BOOL, DATE, FLOAT, INT, STRING, TABLES, ColumnSpec

__all__ = ["BOOL_WORDS", "FORMATS", "FolderRead", "read_folder"]

FORMATS = ("parquet", "csv")
# Spellings of booleans read from CSV (lower-cased first); the writer uses true/false.
BOOL_WORDS = {
    "true": True,
    "false": False,
    "t": True,
    "f": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "1": True,
    "0": False,
}
BOOL_FIX = "use true/false (1/0, yes/no, y/n and t/f are read too)"
# Delimiters a spreadsheet may have saved instead of ',' (';' where ',' is the decimal mark).
OTHER_DELIMITERS = (";", "\t", "|")
NEAR_NAME = 0.75  # difflib ratio above which a file name is taken for a misnamed table
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_POLARS_TYPES = {DATE: pl.Date(), BOOL: pl.Boolean(), FLOAT: pl.Float64(), INT: pl.Int64()}


@dataclass
class FolderRead:
    """What reading a folder gave: a polars table per name (None if unreadable), problems.

    ``unparsed`` holds the ``(table, column)`` pairs with bad cells, which are null in the
    frame: the contract checks skip them (they are already reported).
    """

    frames: dict[str, pl.DataFrame | None] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    unparsed: set[tuple[str, str]] = field(default_factory=set)


def read_folder(folder: Path) -> FolderRead:
    """Read every table of a bundle folder, collecting every file and cell problem."""
    files = {p.name: p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    out = FolderRead()
    for name in TABLES:
        path = _find(name, files, out)
        out.frames[name] = None if path is None else _read_file(path, name, out)
    return out


def _find(name: str, files: dict[str, Path], out: FolderRead) -> Path | None:
    """Find the file of table ``name``; a misnamed one is reported and still read."""
    exact = [files[f"{name}.{fmt}"] for fmt in FORMATS if f"{name}.{fmt}" in files]
    if len(exact) > 1:
        note = f"both {name}.parquet and {name}.csv exist; remove one"
        out.problems.append(failure(name, "", "ambiguous_table", note=note))
        return None
    if exact:
        return exact[0]
    near = _near(name, files)
    if near is None:
        listed = sorted(files)
        held = ", ".join(listed[:5]) + (" ..." if len(listed) > 5 else "")
        note = f"expected {name}.csv or {name}.parquet; " + (
            f"the folder holds {held}" if listed else "the folder is empty"
        )
        out.problems.append(failure(name, "", "missing_table", note=note))
        return None
    suffix = near.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        note = f"found {near.name}: rename it to {name}.{suffix}"
        out.problems.append(failure(name, "", "missing_table", note=note))
        return near
    note = f"found {near.name}: save it as {name}.csv (comma-separated, UTF-8)"
    out.problems.append(failure(name, "", "missing_table", note=note))
    return None


def _near(name: str, files: dict[str, Path]) -> Path | None:
    """Find a file meant for table ``name``: other case, suffix or a close spelling."""
    taken = {f"{n}.{fmt}" for n in TABLES for fmt in FORMATS}
    stems: dict[str, Path] = {}
    for file_name, path in sorted(files.items()):
        stem = file_name.split(".")[0].strip().lower()
        if file_name not in taken and stem not in TABLES.keys() - {name}:
            stems.setdefault(stem, path)
    if name in stems:
        return stems[name]
    close = difflib.get_close_matches(name, stems, n=1, cutoff=NEAR_NAME)
    if close:
        return stems[close[0]]
    prefixed = [s for s in stems if re.match(rf"{name}\W|{name}_", s)]
    return stems[prefixed[0]] if prefixed else None


def _read_file(path: Path, name: str, out: FolderRead) -> pl.DataFrame | None:
    if path.suffix.lower() == ".parquet":
        try:
            return pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            note = f"{path.name}: {str(exc).splitlines()[0]}"
            out.problems.append(failure(name, "", "unreadable_file", note=note))
            return None
    delimiter = _delimiter(path)
    if delimiter != ",":
        # Read on with the file's delimiter, so its cells are checked in the same report.
        note = f"{path.name} uses {delimiter!r} as delimiter: save it with ','"
        out.problems.append(failure(name, "", "wrong_delimiter", note=note))
    try:
        raw = pl.read_csv(path, infer_schema=False, separator=delimiter)
    except pl.exceptions.NoDataError:
        columns = ",".join(TABLES[name].column_names)
        note = f"{path.name} is empty: write at least the header row ({columns})"
        out.problems.append(failure(name, "", "unreadable_file", note=note))
        return None
    except pl.exceptions.ComputeError as exc:
        out.problems.append(failure(name, "", "unreadable_file", note=_read_error(path, exc)))
        return None
    return _parse_csv(raw, name, path.name, out)


def _delimiter(path: Path) -> str:
    with open(path, "rb") as f:
        header = f.readline().decode("utf-8", errors="replace")
    if "," in header:
        return ","
    return next((d for d in OTHER_DELIMITERS if d in header), ",")


def _read_error(path: Path, exc: Exception) -> str:
    message = str(exc).splitlines()[0]
    if "utf-8" in message.lower() or "utf8" in message.lower():
        return (
            f"{path.name} is not UTF-8 text (a spreadsheet's plain 'CSV' may be GBK or "
            "Latin-1): save it as 'CSV UTF-8'"
        )
    if "more fields" in message:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            width = len(next(reader))
            ragged = [(reader.line_num, len(row)) for row in reader if len(row) > width]
        if ragged:
            line, n = ragged[0]
            more = f" (and {len(ragged) - 1} more lines)" if len(ragged) > 1 else ""
            return (
                f"{path.name}: line {line} has {n} fields, the header {width}{more}; quote "
                "values that contain ',' (\"a, b\")"
            )
    return f"{path.name}: {message}"


def parser(spec: ColumnSpec) -> pl.Expr:
    """Parse one all-string CSV column to its contract type; bad cells become null."""
    col = pl.col(spec.name)
    if spec.dtype == DATE:
        return col.str.to_date("%Y-%m-%d", strict=False)
    if spec.dtype == BOOL:
        return col.str.to_lowercase().replace_strict(
            BOOL_WORDS, default=None, return_dtype=pl.Boolean
        )
    return col.cast(_POLARS_TYPES[spec.dtype], strict=False)


def _parse_csv(raw: pl.DataFrame, name: str, file: str, out: FolderRead) -> pl.DataFrame:
    """Parse the contract columns of an all-string CSV table; report every bad cell."""
    exprs = []
    for spec in TABLES[name].columns:
        if spec.name not in raw.columns or spec.dtype == STRING:
            continue
        expr = parser(spec)
        bad = raw.select(expr.is_null() & pl.col(spec.name).is_not_null()).to_series()
        if bad.any():
            out.unparsed.add((name, spec.name))
            rows = raw.with_row_index("__index__").filter(bad)
            values = rows[spec.name].unique(maintain_order=True)
            found = values.head(N_VALUES).to_list()
            note = _cell_note(file, spec.dtype, found, len(values))
            examples = _examples(rows, name)
            out.problems.append(
                failure(name, spec.name, "unparsable_value", rows.height, examples, note)
            )
        exprs.append(expr)
    return raw.with_columns(exprs) if exprs else raw


def _examples(rows: pl.DataFrame, name: str) -> list[str]:
    """Name the first offending rows: ids as written (key cells joined by @), else lines."""
    key = TABLES[name].key
    if all(k in rows.columns for k in key):
        ids = rows.select(
            pl.concat_str([pl.col(k).fill_null("<null>") for k in key], separator="@")
        ).to_series()
        return ids.unique().sort().head(N_EXAMPLES).to_list()
    # line 1 is the header (a quoted field holding a newline shifts the count)
    return [f"line {i + 2}" for i in rows["__index__"].head(N_EXAMPLES)]


_WHAT = {
    DATE: ("is not a YYYY-MM-DD date", "are not YYYY-MM-DD dates"),
    FLOAT: ("is not a number", "are not numbers"),
    INT: ("is not a whole number", "are not whole numbers"),
    BOOL: ("is not true/false", "are not true/false values"),
}


def _cell_note(file: str, dtype: str, found: list[str], n_found: int) -> str:
    """``records.csv: '15/01/2023' is not a YYYY-MM-DD date; use YYYY-MM-DD, e.g. ...``."""
    what = _WHAT[dtype][0 if n_found == 1 else 1]
    if dtype == DATE:
        fixes = [_date_fix(v) for v in found]
    elif dtype == BOOL:
        fixes = [BOOL_FIX]
    else:
        fixes = [_number_fix(v, integer=dtype == INT) for v in found]
    return f"{file}: {values_text(found, n_found)} {what}; " + "; ".join(dict.fromkeys(fixes))


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _date_fix(value: str) -> str:
    """Suggest the fix for one unparsable date, with the date it likely means."""
    s = value.strip()
    meant: dt.date | None = None
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T].*", s):
        meant = _date(*map(int, m.groups()))
        if meant:
            return f"drop the time of day, e.g. {meant.isoformat()} for {value!r}"
    elif m := re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", s):
        a, b, year = map(int, m.groups())
        day_first, month_first = _date(year, b, a), _date(year, a, b)
        if day_first and month_first and day_first != month_first:
            return (
                f"use YYYY-MM-DD: {value!r} is {day_first.isoformat()} if the day comes "
                f"first, {month_first.isoformat()} if the month does"
            )
        meant = day_first or month_first
    elif m := re.fullmatch(r"(\d{4})[/.年](\d{1,2})[/.月](\d{1,2})日?", s):
        meant = _date(*map(int, m.groups()))
    elif m := re.fullmatch(r"(\d{4})(\d{2})(\d{2})", s):
        meant = _date(*map(int, m.groups()))
    elif re.fullmatch(r"\d{5}(\.0+)?", s):
        serial = (_EXCEL_EPOCH + dt.timedelta(days=int(float(s)))).isoformat()
        return (
            f"{value!r} looks like a spreadsheet serial date ({serial}): format the column "
            "as YYYY-MM-DD before saving"
        )
    elif re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", s):
        return f"there is no such day as {value!r}"
    if meant:
        return f"use YYYY-MM-DD, e.g. {meant.isoformat()} for {value!r}"
    return "use YYYY-MM-DD, e.g. 2023-01-15"


def _is_number(text: str) -> bool:
    return re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text) is not None


def _number_fix(value: str, integer: bool) -> str:
    """Suggest the fix for one unparsable number, with the number it likely means."""
    s = value.strip()
    meant = None
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", s):
        return f"remove the thousands separator, e.g. {s.replace(',', '')} for {value!r}"
    if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+,\d+", s):
        meant = s.replace(".", "").replace(",", ".")
        return f"remove the thousands separator and use '.' as decimal mark, e.g. {meant}"
    if re.fullmatch(r"[+-]?\d+,\d+", s):
        return f"use '.' as decimal mark, e.g. {s.replace(',', '.')} for {value!r}"
    if integer and re.fullmatch(r"[+-]?\d+\.\d*", s) and float(s).is_integer():
        return f"write whole numbers without decimals, e.g. {int(float(s))} for {value!r}"
    if s != value and _is_number(s):
        return f"remove the spaces around {value!r}"
    bare = re.sub(r"[^\d.+-]", "", s)
    if bare != s and _is_number(bare):
        return f"write the number alone, without currency sign, unit or spaces: {bare}"
    return (
        "write a plain whole number such as 9"
        if integer
        else "write a plain number such as 1978.74"
    )
