"""The HouseholdData contract: the four tables, their columns and the record vocabulary.

Everything that checks or produces data reads these constants, so the contract lives in
one place (``docs/contract.md`` is generated from them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

__all__ = [
    "TABLES",
    "ColumnSpec",
    "TableSpec",
    "PAYMENT_KINDS",
    "RECORD_KINDS",
    "nullable_value_kinds",
    "record_values",
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
def record_vocabulary() -> dict[str, dict[str, dict[str, Any]]]:
    """Return the record vocabulary: ``{source: {kind: properties}}``.

    Read from the packaged ``record_kinds.yaml``; the properties say whether a kind is a
    payment (payments may legitimately follow a death: that is what cross-checks look
    for) and what ``amount`` and ``value`` mean.

    Returns
    -------
    dict
        Sources in file order, each a dict of its kinds and their properties. The
        result is cached: copy it before changing it.

    Examples
    --------
    >>> from needsid.data import record_vocabulary
    >>> vocabulary = record_vocabulary()
    >>> list(vocabulary)[:3]
    ['civil_affairs', 'public_security', 'health']
    >>> vocabulary["civil_affairs"]["benefit_dibao"]["payment"]
    True
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


def _value_sets(
    vocabulary: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, tuple[tuple[str, ...], bool]]:
    """``{kind: (allowed values, null allowed)}`` for the kinds with a closed value set."""
    vocab = record_vocabulary() if vocabulary is None else vocabulary
    sets: dict[str, tuple[tuple[str, ...], bool]] = {}
    where: dict[str, str] = {}
    for source, kinds in vocab.items():
        for kind, props in kinds.items():
            props = props or {}
            if "values" not in props:
                continue
            values, nullable = props["values"], props.get("value_nullable", False)
            if (
                isinstance(values, str | bytes)
                or not isinstance(values, list | tuple)
                or not values
                or not all(isinstance(v, str) for v in values)
            ):
                raise ValueError(
                    f"Got values={values!r} for record kind {source}.{kind}; expected a "
                    "non-empty list of strings, e.g. [continue, reduce, exit]."
                )
            if not isinstance(nullable, bool):
                raise ValueError(
                    f"Got value_nullable={nullable!r} for record kind {source}.{kind}; "
                    "expected true or false."
                )
            entry = (tuple(values), nullable)
            if kind in sets and sets[kind] != entry:
                raise ValueError(
                    f"Record kind {kind!r} has different value sets in sources "
                    f"{where[kind]!r} and {source!r}; give it one set of values."
                )
            sets[kind], where[kind] = entry, source
    return sets


def record_values(
    vocabulary: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, tuple[str, ...]]:
    """Return the closed value sets of record kinds: ``{kind: allowed values}``.

    Only kinds whose vocabulary entry lists ``values`` appear (casework outcomes such as
    ``verification``, ``review`` and ``home_visit``); other kinds take any value. Some of
    these kinds may also leave ``value`` null: see :func:`nullable_value_kinds`.
    Validation reads the sets from here; a test checks the simulator writes only these.

    Parameters
    ----------
    vocabulary : mapping, optional
        ``{source: {kind: properties}}``; default the packaged record vocabulary.

    Returns
    -------
    dict of str to tuple of str
        Allowed values per kind, in vocabulary order.

    Raises
    ------
    ValueError
        If a kind's ``values`` is not a non-empty list of strings, its ``value_nullable``
        is not a boolean, or two sources give the same kind different value sets.

    Examples
    --------
    >>> from needsid.data import record_values
    >>> record_values()["review"]
    ('continue', 'reduce', 'exit')
    >>> record_values({"police": {"check": {"values": ["pass", "fail"]}, "death": {}}})
    {'check': ('pass', 'fail')}
    """
    return {kind: values for kind, (values, _) in _value_sets(vocabulary).items()}


def nullable_value_kinds(
    vocabulary: Mapping[str, Mapping[str, Any]] | None = None,
) -> frozenset[str]:
    """Return the kinds with a closed value set whose ``value`` may also be null.

    Parameters
    ----------
    vocabulary : mapping, optional
        ``{source: {kind: properties}}``; default the packaged record vocabulary.

    Returns
    -------
    frozenset of str
        Kinds with ``value_nullable: true`` (and ``values``) in the vocabulary.

    Examples
    --------
    >>> from needsid.data import nullable_value_kinds
    >>> sorted(nullable_value_kinds())
    ['home_visit']
    """
    return frozenset(kind for kind, (_, null) in _value_sets(vocabulary).items() if null)
