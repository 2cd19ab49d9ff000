"""The validation report: the rules it can name, its rows and the error that carries it.

Reading a folder and checking a bundle both end here, so a file problem and a contract
problem are reported in one table, in one order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ._schema import TABLES

__all__ = ["DataValidationError", "REPORT_COLUMNS", "RULES", "make_error"]

REPORT_COLUMNS = ("table", "column", "rule", "count", "examples", "note")
# Every rule a report can name, in report order: files and cells (reading a folder),
# schema, content, links, spells, dates.
RULES: tuple[str, ...] = tuple(
    """missing_table ambiguous_table unreadable_file wrong_delimiter unparsable_value
    missing_column extra_column wrong_type null_value duplicate_key unknown_category
    unknown_region unknown_household unknown_person overlapping_spells spell_ends_before_start
    dissolved_before_formed inconsistent_person event_after_death known_before_event
    negative_amount non_finite_amount unknown_kind unknown_value verification_without_application
    decision_before_application future_date""".split()
)
READ_RULES = RULES[: RULES.index("missing_column")]
N_EXAMPLES = 5
N_VALUES = 3  # offending values named in a note
MESSAGE_LINES = 10


class DataValidationError(ValueError):
    """A bundle or a bundle folder broke the data contract; ``report`` lists every failure.

    Parameters
    ----------
    report : pandas.DataFrame
        One row per failure with columns ``table, column, rule, count, examples, note``.
        ``column`` is empty for a problem with a whole table (``missing_table``,
        ``ambiguous_table``, ``unreadable_file``, ``wrong_delimiter``); ``count`` is the
        number of offending rows (1 for a table- or column-level rule such as
        ``missing_column``); ``examples`` holds up to five offending row ids (or CSV
        ``line N`` when the key column is absent); ``note`` names the file, the offending
        and the allowed values, and the fix, where there is one (else ``""``).
    reference_date : datetime.date, optional
        The date no date may be later than, when the checks ran (None: only the files were
        read).
    today : bool, default False
        Whether ``reference_date`` was taken from today's date (``reference_date=None``).
    source : str, optional
        The folder read, named in the message.

    Examples
    --------
    >>> import needsid as ni
    >>> bundle = ni.HouseholdData.empty()
    >>> bad = ni.HouseholdData(
    ...     bundle.regions, bundle.households.drop("formed_on"), bundle.members, bundle.records
    ... )
    >>> try:
    ...     ni.validate(bad, reference_date="2024-01-01")
    ... except ni.DataValidationError as err:
    ...     print(err)
    ...     print(err.report[["table", "column", "rule"]].to_string(index=False))
    HouseholdData failed validation with 1 failure (reference date 2024-01-01):
      households.formed_on: missing_column
         table    column           rule
    households formed_on missing_column
    """

    def __init__(
        self,
        report: pd.DataFrame,
        *,
        reference_date: dt.date | None = None,
        today: bool = False,
        source: str | None = None,
    ) -> None:
        self.report = report
        self.reference_date = reference_date
        self.today = today
        lines = [_line(row) for row in report.itertuples()]
        shown = lines[:MESSAGE_LINES]
        if len(lines) > MESSAGE_LINES:
            shown.append(f"... and {len(lines) - MESSAGE_LINES} more; see the .report attribute.")
        n = len(report)
        where = f" folder {source!r}" if source is not None else ""
        super().__init__(
            f"HouseholdData{where} failed validation with {n} failure{'s' if n != 1 else ''}"
            f"{reference_text(reference_date, today, ' (', ')')}:\n"
            + "\n".join(f"  {s}" for s in shown)
        )


def reference_text(
    reference_date: dt.date | None, today: bool, before: str = "", after: str = ""
) -> str:
    """Say ``reference date 2025-06-01, today's date``, wrapped in ``before``/``after``."""
    if reference_date is None:
        return ""
    text = f"reference date {reference_date.isoformat()}"
    if today:
        text += ", today's date"
    return f"{before}{text}{after}"


def _line(row: Any) -> str:
    text = f"{row.table}.{row.column}: {row.rule}" if row.column else f"{row.table}: {row.rule}"
    if row.examples:
        rows = f"{row.count} row{'s' if row.count != 1 else ''}"
        text += f" ({rows}, e.g. {', '.join(row.examples)})"
    note = getattr(row, "note", "")
    return f"{text} [{note}]" if note else text


def failure(
    table: str,
    column: str,
    rule: str,
    count: int = 1,
    examples: Iterable[str] = (),
    note: str = "",
) -> dict[str, Any]:
    """One report row, with the position it sorts by within its table and rule."""
    spec = TABLES[table]
    first = column.split(", ")[0]
    if not column:
        pos = -1
    elif first in spec.column_names:
        pos = spec.column_names.index(first)
    else:
        pos = len(spec.columns)
    values = (table, column, rule, count, list(examples), note)
    return {**dict(zip(REPORT_COLUMNS, values, strict=True)), "pos": (pos, column)}


def make_error(
    failures: list[dict[str, Any]],
    *,
    reference_date: dt.date | None = None,
    today: bool = False,
    source: str | None = None,
) -> DataValidationError:
    """Sort failures into report order (table, rule, column) and wrap them in the error."""
    order = {name: i for i, name in enumerate(TABLES)}
    failures = sorted(
        failures, key=lambda f: (order[f["table"]], RULES.index(f["rule"]), f["pos"])
    )
    report = pd.DataFrame([{c: f[c] for c in REPORT_COLUMNS} for f in failures])
    return DataValidationError(report, reference_date=reference_date, today=today, source=source)


def values_text(found: list[Any], n_found: int) -> str:
    """Name the offending values in a note: ``'a', 'b' and 3 more`` (None is null)."""
    shown = ", ".join("null" if v is None else repr(v) for v in found)
    if n_found > len(found):
        shown += f" and {n_found - len(found)} more"
    return shown
