"""The HouseholdData contract: the four tables, their columns and the record vocabulary.

Everything that checks or produces data reads these constants, so the contract lives in
one place (see DESIGN.md, "The data contract").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

__all__ = [
    "TABLES",
    "ColumnSpec",
    "TableSpec",
    "PAYMENT_KINDS",
    "RECORD_KINDS",
    "record_vocabulary",
]

# Logical column types; validation maps them to narwhals dtypes.
STRING, DATE, BOOL, FLOAT, INT = "string", "date", "bool", "float", "int"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table."""

    name: str
    dtype: str
    nullable: bool = False
    nonnegative: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One contract table: its columns in order and its key."""

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in contract order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        """Return the spec of column ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


C = ColumnSpec
TABLES: dict[str, TableSpec] = {
    "regions": TableSpec(
        "regions",
        (
            C("region_id", STRING),
            C("urban", BOOL),
            C("dibao_standard", FLOAT, nonnegative=True),
            C("low_income_multiplier", FLOAT, nonnegative=True),
            C("tekun_standard", FLOAT, nonnegative=True),
            C("disposable_income_prev_year", FLOAT, nonnegative=True),
        ),
        key=("region_id",),
    ),
    "households": TableSpec(
        "households",
        (
            C("household_id", STRING),
            C("region_id", STRING),
            C("formed_on", DATE),
            C("dissolved_on", DATE, nullable=True),
        ),
        key=("household_id",),
    ),
    "members": TableSpec(
        "members",
        (
            C("person_id", STRING),
            C("household_id", STRING),
            C("relation", STRING),
            C("sex", STRING),
            C("birth_date", DATE),
            C("minority", BOOL),
            C("hukou", STRING),
            C("education_years", INT, nonnegative=True),
            C("disability_grade", INT, nonnegative=True),
            C("joined_on", DATE),
            C("left_on", DATE, nullable=True),
        ),
        # A person can hold several spells (moves, splits); a spell is keyed by its start.
        key=("person_id", "joined_on"),
    ),
    "records": TableSpec(
        "records",
        (
            C("record_id", STRING),
            C("household_id", STRING),
            C("person_id", STRING, nullable=True),
            C("source", STRING),
            C("kind", STRING),
            C("event_date", DATE),
            C("known_date", DATE),
            C("amount", FLOAT, nullable=True, nonnegative=True),
            C("value", STRING, nullable=True),
        ),
        key=("record_id",),
    ),
}
del C

# Allowed categorical values, checked by validation.
CATEGORIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("members", "relation"): ("head", "spouse", "child", "parent", "grandchild", "other"),
    ("members", "sex"): ("F", "M"),
    ("members", "hukou"): ("rural", "urban"),
}
DISABILITY_GRADES = (0, 1, 2, 3, 4)


@cache
def record_vocabulary() -> dict[str, dict[str, dict]]:
    """Return the record vocabulary: ``{source: {kind: properties}}``.

    Read from the packaged ``record_kinds.yaml``; the properties say whether a kind is a
    payment (payments may legitimately follow a death: that is what cross-checks look
    for) and what ``amount`` and ``value`` mean.
    """
    text = resources.files("needsid.data").joinpath("record_kinds.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return {src: {k: (v or {}) for k, v in kinds.items()} for src, kinds in raw.items()}


RECORD_KINDS: frozenset[tuple[str, str]] = frozenset(
    (src, kind) for src, kinds in record_vocabulary().items() for kind in kinds
)
PAYMENT_KINDS: frozenset[str] = frozenset(
    kind
    for kinds in record_vocabulary().values()
    for kind, props in kinds.items()
    if props.get("payment", False)
)
