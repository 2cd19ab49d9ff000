"""Notes of the validation report: the offending values, the allowed ones and the fix.

A note is either text or a function of the distinct offending values of a check (the
first ``N_VALUES``, sorted, None for null) and how many there are.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from ._report import values_text
from ._schema import BOOL, DATE, FLOAT, INT, STRING

__all__ = ["Note", "closed_note", "extra_note", "kind_note", "type_note"]

Note = str | Callable[[list[Any], int], str]
_POLARS_NAMES = {
    DATE: "pl.Date",
    BOOL: "pl.Boolean",
    FLOAT: "pl.Float64",
    INT: "pl.Int64",
    STRING: "pl.String",
}
# what pandas.api.types.infer_dtype calls the values of a column, in words
_HOLDS = {
    "string": "strings",
    "integer": "integers",
    "floating": "floats",
    "boolean": "booleans",
    "date": "datetime.date objects",
    "datetime": "datetimes",
    "datetime64": "datetimes",
    "empty": "only missing values",
    "mixed-integer-float": "numbers",
}


def _closest(value: Any, allowed: Sequence[str]) -> str | None:
    """Return the allowed value closest to ``value`` (case-insensitive), if one is close."""
    if not isinstance(value, str):
        return None
    lower = {a.lower(): a for a in allowed}
    ratios = sorted((difflib.SequenceMatcher(None, value.lower(), a).ratio(), a) for a in lower)[
        ::-1
    ]
    if not ratios or ratios[0][0] < 0.6:
        return None
    if len(ratios) > 1 and ratios[1][0] == ratios[0][0]:
        return None  # 'approved' is as close to approved_dibao as to approved_tekun
    return lower[ratios[0][1]]


def _did_you_mean(found: list[Any], allowed: Sequence[str]) -> str:
    hints = [(v, m) for v in found if (m := _closest(v, allowed)) is not None]
    if len(hints) == 1 and len(found) == 1:
        return f"; did you mean {hints[0][1]!r}?"
    if hints:
        return "; did you mean " + ", ".join(f"{m!r} for {v!r}" for v, m in hints) + "?"
    return ""


def closed_note(label: str, allowed: Sequence[Any], nullable: bool = False) -> Note:
    """Note for a closed vocabulary: ``label 'X' not in ['F', 'M']; did you mean ...?``."""

    def note(found: list[Any], n_found: int) -> str:
        text = f"{label} " if label else ""
        text += f"{values_text(found, n_found)} not in {list(allowed)!r}"
        if nullable:
            text += " (or null)"
        names = [a for a in allowed if isinstance(a, str)]
        return text + (_did_you_mean(found, names) if names else "")

    return note


def kind_note(vocab: Mapping[str, Mapping[str, Any]]) -> Note:
    """Note for unknown (source, kind) pairs: the source's kinds and the closest one."""
    home: dict[str, str] = {}
    for source, kinds in vocab.items():
        for kind in kinds:
            home.setdefault(kind, source)

    def one(pair: dict[str, str]) -> str:
        source, kind = pair["source"], pair["kind"]
        if source not in vocab:
            text = f"source {source!r} not in [{', '.join(vocab)}]"
            if kind in home:
                return f"{text}; {kind!r} is a {home[kind]} kind"
            return text + _did_you_mean([source], list(vocab))
        if kind in home:
            return f"{kind!r} is a {home[kind]} kind, not a {source} one"
        kinds = list(vocab[source])
        return f"{kind!r} is not a {source} kind ({', '.join(kinds)})" + _did_you_mean(
            [kind], kinds
        )

    def note(found: list[dict[str, str]], n_found: int) -> str:
        text = "; ".join(one(pair) for pair in found)
        if n_found > len(found):
            text += f"; and {n_found - len(found)} more source/kind pairs"
        return text

    return note


def extra_note(column: str, missing: Sequence[str]) -> str:
    """Note for an extra column: the missing contract column it may be, else drop it."""
    match = _closest(column.strip(), missing)
    if match is not None:
        return f"did you mean {match!r}? rename the column"
    return "not a contract column: drop it"


def type_note(native: Any, column: str, logical: str, got: Any) -> str:
    """Note for a wrong type: what the column holds and the call that converts it."""
    if isinstance(native, pd.DataFrame):
        return _pandas_type_note(native[column], column, logical)
    if logical == DATE and str(got) == "String":
        fix = f"pl.col({column!r}).str.to_date('%Y-%m-%d')"
    else:
        fix = f"pl.col({column!r}).cast({_POLARS_NAMES[logical]})"
    return f"expected {logical}, got {got}; convert with {fix}"


def _pandas_type_note(series: pd.Series, column: str, logical: str) -> str:
    kind = pd.api.types.infer_dtype(series, skipna=True)
    holds = f"holds {_HOLDS.get(kind, 'mixed values')} ({series.dtype})"
    ref = f"df[{column!r}]"
    if logical == DATE:
        fix = f"convert with pd.to_datetime({ref})"
    elif logical == FLOAT:
        numeric = kind in ("integer", "floating", "boolean")
        fix = (
            f"convert with {ref}.astype('float64')"
            if numeric
            else f"convert with pd.to_numeric({ref})"
        )
    elif logical == INT:
        if kind in ("floating", "mixed-integer-float"):
            fix = (
                "pandas makes an int column with missing values float: fill them, then "
                f"{ref}.astype('int64')"
            )
        else:
            fix = f"convert with pd.to_numeric({ref}).astype('int64')"
    elif logical == BOOL:
        if kind == "string":
            fix = f"convert with {ref}.str.lower().map({{'true': True, 'false': False}})"
        else:
            fix = f"fill its missing values, then {ref}.astype(bool)"
    elif kind in ("integer", "floating", "mixed-integer-float"):
        fix = (
            "ids read as numbers lose their leading zeros: read them as text, e.g. "
            f"pd.read_csv(path, dtype={{{column!r}: str}})"
        )
    else:
        fix = f"convert with {ref}.astype('string')"
    return f"{holds}, expected {logical}; {fix}"
