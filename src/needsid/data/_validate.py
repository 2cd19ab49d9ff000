"""Validation of a HouseholdData bundle against the data contract.

Every check runs (vectorised, in polars) and every failure is reported at once, so one
run tells the data owner all that is wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import narwhals as nw
import polars as pl

from ._bundle import HouseholdData
from ._notes import Note, closed_note, extra_note, kind_note, type_note
from ._report import (
    N_EXAMPLES,
    N_VALUES,
    REPORT_COLUMNS,
    RULES,
    DataValidationError,
    failure,
    make_error,
    reference_text,
)
from ._schema import (
    BOOL,
    CATEGORIES,
    DATE,
    DISABILITY_GRADES,
    FLOAT,
    INT,
    STRING,
    TABLES,
    nullable_value_kinds,
    record_values,
    record_vocabulary,
)

__all__ = ["DataValidationError", "validate", "RULES", "REPORT_COLUMNS"]

_NULL = "<null>"
_ROW = "__row__"
_OPEN_END = dt.date(9999, 12, 31)
# A casework decision answers an application of the same household.
_DECISION, _APPLICATION = "verification", "application"


def validate(
    bundle: HouseholdData,
    *,
    reference_date: str | dt.date | None = None,
    vocabulary: Mapping[str, Mapping[str, Any]] | None = None,
) -> HouseholdData:
    """Check a bundle against the data contract and return it unchanged.

    Checks column presence and types, nulls, keys, categories, links between tables
    (regions, households, persons), membership spells, dates (order, events after a
    death, dates after ``reference_date``), signs of amounts and the record vocabulary:
    known kinds, values within a kind's closed set (``values`` in the vocabulary), and
    each ``verification`` answering an earlier or same-day ``application`` of its
    household (skipped when the vocabulary lacks either kind). Payments (kinds with
    ``payment: true`` in the vocabulary) may follow a death: that is legal data which
    the cross-check rules look for. Nothing is coerced or dropped.

    Parameters
    ----------
    bundle : HouseholdData
        The bundle to check.
    reference_date : str or datetime.date, optional
        No date may be later than this; default today's date (the report says which
        date that was: give the extract's date to get the same answer tomorrow).
    vocabulary : mapping, optional
        ``{source: {kind: properties}}`` replacing the packaged record vocabulary; it
        drives the kind, value and casework checks.

    Returns
    -------
    HouseholdData
        ``bundle`` itself.

    Raises
    ------
    DataValidationError
        With ``.report``: one row per failed rule and column (see ``RULES``), its
        ``note`` naming the offending values, the allowed ones and the fix; and
        ``.reference_date``, the date used (also stated in the message).

    Examples
    --------
    >>> from datetime import date
    >>> import polars as pl
    >>> from needsid.data import DataValidationError, HouseholdData, validate
    >>> empty = HouseholdData.empty()
    >>> households = pl.DataFrame(
    ...     {"household_id": ["h1"], "region_id": ["r9"], "formed_on": [date(2020, 5, 1)],
    ...      "dissolved_on": [date(2020, 1, 1)]}
    ... )
    >>> bad = HouseholdData(empty.regions, households, empty.members, empty.records)
    >>> try:
    ...     validate(bad)
    ... except DataValidationError as err:
    ...     print(err.report[["column", "rule", "examples"]].to_string(index=False))
    ...     print(err.reference_date == date.today(), err.today)
          column                    rule examples
       region_id          unknown_region     [h1]
    dissolved_on dissolved_before_formed     [h1]
    True True
    """
    if not isinstance(bundle, HouseholdData):
        raise TypeError(f"Expected a HouseholdData bundle; got {type(bundle).__name__}.")
    vocab = _check_vocabulary(vocabulary)
    ref, today = _as_date(reference_date), reference_date is None
    failures = _Checks(bundle.tables, ref, today, vocab).run()
    if failures:
        raise make_error(failures, reference_date=ref, today=today)
    return bundle


def _check_vocabulary(vocabulary: Any) -> Mapping:
    vocab = record_vocabulary() if vocabulary is None else vocabulary
    if not isinstance(vocab, Mapping) or not all(isinstance(k, Mapping) for k in vocab.values()):
        raise TypeError(
            f"Got vocabulary={vocabulary!r}; expected a mapping {{source: {{kind: properties}}}}."
        )
    record_values(vocab)  # a malformed value set is the caller's error: raise before checking
    return vocab


def _as_date(value: Any) -> dt.date:
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(
        f"Got reference_date={value!r}; expected a date or an ISO string, e.g. '2025-01-01'."
    )


def _key(columns: list[str] | tuple[str, ...]) -> pl.Expr:
    return pl.struct(columns) if len(columns) > 1 else pl.col(columns[0])


def _repeated(rows: pl.LazyFrame, columns: list[str] | tuple[str, ...]) -> pl.LazyFrame:
    """Rows whose key hash occurs more than once: a cheap exact superset of repeated keys.

    Hashing to u64 and sorting is an order of magnitude faster than hashing strings for
    ``is_duplicated`` on tens of millions of ids; collisions only add candidates.
    """
    hashes = rows.select(_key(columns).hash().alias("__hash__")).sort("__hash__")
    repeated = hashes.filter(pl.col("__hash__") == pl.col("__hash__").shift(1)).unique()
    return (
        rows.with_columns(_key(columns).hash().alias("__hash__"))
        .join(repeated, on="__hash__", how="semi")
        .drop("__hash__")
    )


def _fits(dtype: Any, logical: str) -> bool:
    """Whether a narwhals or polars dtype holds values of a contract logical type."""
    if logical == STRING:
        # categorical text (what large extracts and the simulator use) holds strings too
        return dtype in (nw.String, pl.String) or dtype in (
            nw.Categorical,
            nw.Enum,
            pl.Categorical,
            pl.Enum,
        )
    if logical == DATE:
        return dtype in (nw.Date, pl.Date) or dtype in (nw.Datetime, pl.Datetime)
    if logical == BOOL:
        return dtype in (nw.Boolean, pl.Boolean)
    if logical == FLOAT:
        return dtype in (nw.Float64, nw.Float32, pl.Float64, pl.Float32)
    if logical == INT:
        return bool(dtype.is_integer())
    raise AssertionError(logical)


class _Checks:
    """One validation run: polars copies of the usable columns and the failures found."""

    def __init__(
        self,
        tables: Mapping[str, Any],
        reference_date: dt.date,
        today: bool,
        vocab: Mapping,
        skip: set[tuple[str, str]] | None = None,
    ) -> None:
        self.reference_date, self.today = reference_date, today
        self.vocab = vocab
        # columns already reported by the reader (unparsable cells): left out, not reported
        self.skip = skip or set()
        self.failures: list[dict[str, Any]] = []
        # Row-level checks are queued as lazy queries and collected together, so polars
        # reads only the columns each needs and runs them in parallel.
        self.pending: list[tuple[str, str, str, pl.LazyFrame, Note, pl.Expr | None]] = []
        self.frames = {name: self._schema(name, f) for name, f in tables.items()}

    def fail(
        self,
        table: str,
        column: str,
        rule: str,
        rows: pl.LazyFrame | None,
        note: Note = "",
        values: pl.Expr | None = None,
    ) -> None:
        """Queue a check of offending ``rows``, or record a column-level failure (None).

        A callable ``note`` is given the distinct ``values`` (default the column) of the
        offending rows.
        """
        if rows is not None:
            self.pending.append((table, column, rule, rows, note, values))
        else:
            assert isinstance(note, str), "a column-level failure has no offending values"
            self.failures.append(failure(table, column, rule, 1, [], note))

    def _collect(self) -> None:
        queries = []
        for table, column, _, rows, note, values in self.pending:
            aggs = [
                pl.len().alias("count"),
                self._id(table).unique().bottom_k(N_EXAMPLES).sort().implode().alias("examples"),
            ]
            if callable(note):
                c = pl.col(column) if values is None else values
                aggs.append(c.unique().sort().head(N_VALUES).implode().alias("values"))
                aggs.append(c.n_unique().alias("n_values"))
            queries.append(rows.select(aggs))
        for (table, column, rule, _, note, _), result in zip(
            self.pending, pl.collect_all(queries), strict=True
        ):
            count, examples, *found = result.row(0)
            if count:
                text = note(*found) if callable(note) else note
                self.failures.append(failure(table, column, rule, count, examples, text))
        self.pending = []

    def _id(self, table: str) -> pl.Expr:
        """Row id: the table key (``person_id@joined_on`` for members) or ``#row``."""
        key = TABLES[table].key
        if not self.has(table, *key):
            return pl.lit("#") + pl.col(_ROW).cast(pl.String)
        parts = [pl.col(k).cast(pl.String).fill_null(_NULL) for k in key]
        return pl.concat_str(parts, separator="@")

    def has(self, table: str, *columns: str) -> bool:
        """Whether every column is present with the contract type (so content checks run)."""
        return all(c in self.frames[table].columns and c != _ROW for c in columns)

    def _schema(self, name: str, native: Any) -> pl.DataFrame:
        """Check columns and types on the caller's frame; return a polars copy of the good ones."""
        spec = TABLES[name]
        frame = nw.from_native(native, eager_only=True)
        schema = frame.schema
        good = []
        for col in spec.columns:
            if col.name not in schema:
                self.fail(name, col.name, "missing_column", None)
            elif (name, col.name) in self.skip:
                continue
            elif not _fits(schema[col.name], col.dtype):
                note = type_note(native, col.name, col.dtype, schema[col.name])
                self.fail(name, col.name, "wrong_type", None, note)
            else:
                good.append(col.name)
        missing = [c for c in spec.column_names if c not in schema]
        for extra in sorted(set(schema) - set(spec.column_names), key=list(schema).index):
            self.fail(name, extra, "extra_column", None, extra_note(extra, missing))
        copy: pl.DataFrame = frame.select(good).to_polars()
        for column in list(copy.columns):
            logical = spec.column(column).dtype
            if not _fits(copy.schema[column], logical):
                note = type_note(
                    native, column, logical, f"{copy.schema[column]} after conversion"
                )
                self.fail(name, column, "wrong_type", None, note)
                copy = copy.drop(column)
            elif logical == DATE and copy.schema[column] != pl.Date:
                copy = copy.with_columns(pl.col(column).cast(pl.Date))
            elif logical == STRING and copy.schema[column] != pl.String:
                copy = copy.with_columns(pl.col(column).cast(pl.String))
        if copy.width and not all(k in copy.columns for k in spec.key):
            copy = copy.with_row_index(_ROW)
        elif not copy.width:
            copy = pl.DataFrame({_ROW: pl.Series([], dtype=pl.UInt32)})
        return copy

    def run(self) -> list[dict[str, Any]]:
        """Run every content and link check; return the failures."""
        for name in TABLES:
            self._columns(name)
        self._links()
        self._spells()
        self._records()
        self._collect()
        return self.failures

    def _where(
        self, table: str, column: str, rule: str, mask: pl.Expr, *needs: str, note: Note = ""
    ) -> None:
        if self.has(table, column, *needs):
            self.fail(table, column, rule, self.frames[table].lazy().filter(mask), note)

    def _columns(self, name: str) -> None:
        """Check single columns and the key of one table."""
        spec, df = TABLES[name], self.frames[name].lazy()
        for col in spec.columns:
            c = pl.col(col.name)
            if not col.nullable:
                missing = c.is_null() | c.is_nan() if col.dtype == FLOAT else c.is_null()
                self._where(name, col.name, "null_value", missing)
            if col.nonnegative:
                self._where(name, col.name, "negative_amount", c < 0)
            if col.dtype == FLOAT:
                # inf, or NaN where null would say "no amount": features and rules would
                # carry it into sums and comparisons
                bad = c.is_infinite() | (c.is_nan() if col.nullable else pl.lit(False))
                self._where(
                    name,
                    col.name,
                    "non_finite_amount",
                    bad,
                    note="NaN or inf; leave an unknown amount empty (null) and give a finite "
                    "number otherwise",
                )
            if col.dtype == DATE:
                ref = reference_text(self.reference_date, self.today)
                self._where(
                    name, col.name, "future_date", c > self.reference_date, note=f"after the {ref}"
                )
            allowed: tuple[object, ...] | None = CATEGORIES.get((name, col.name))
            if col.name == "disability_grade":
                allowed = DISABILITY_GRADES
            if allowed is not None:
                self._where(
                    name,
                    col.name,
                    "unknown_category",
                    ~c.is_in(allowed),
                    note=closed_note("", allowed),
                )
        if self.has(name, *spec.key):
            complete = df.filter(pl.all_horizontal(pl.col(spec.key).is_not_null()))
            dup = _repeated(complete, spec.key).filter(_key(spec.key).is_duplicated())
            self.fail(name, ", ".join(spec.key), "duplicate_key", dup)

    def _anti(self, table: str, column: str, rule: str, ref: str, ref_column: str) -> None:
        """Rows whose ``column`` (when not null) has no match in ``ref.ref_column``."""
        if not (self.has(table, column) and self.has(ref, ref_column)):
            return
        # is_in on an imploded list is faster than an anti-join on large string columns.
        known = self.frames[ref].get_column(ref_column).implode()
        unknown = pl.col(column).is_not_null() & ~pl.col(column).is_in(known)
        self.fail(table, column, rule, self.frames[table].lazy().filter(unknown))

    def _links(self) -> None:
        self._anti("households", "region_id", "unknown_region", "regions", "region_id")
        self._anti("members", "household_id", "unknown_household", "households", "household_id")
        self._anti("records", "household_id", "unknown_household", "households", "household_id")
        self._anti("records", "person_id", "unknown_person", "members", "person_id")
        after = pl.col("dissolved_on") < pl.col("formed_on")
        self._where("households", "dissolved_on", "dissolved_before_formed", after, "formed_on")

    def _spells(self) -> None:
        before = pl.col("left_on") < pl.col("joined_on")
        self._where("members", "left_on", "spell_ends_before_start", before, "joined_on")
        if not self.has("members", "person_id"):
            return
        # Only people with several spells can overlap or disagree with themselves.
        people = self.frames["members"].lazy().filter(pl.col("person_id").is_not_null())
        m = _repeated(people, ["person_id"])
        if self.has("members", "joined_on", "left_on"):
            # A spell overlaps if it starts before the latest end of the person's earlier
            # spells ([joined_on, left_on), open when left_on is null).
            end = pl.col("left_on").fill_null(_OPEN_END)
            latest = end.cum_max().shift(1).over("person_id")
            spells = m.filter(pl.col("joined_on").is_not_null()).sort("person_id", "joined_on")
            overlap = spells.filter(pl.col("joined_on") < latest)
            note: Note = ""
            values: pl.Expr | None = None
            if self.has("members", "household_id"):
                # the earlier spell overlapped: the one holding the latest end so far
                holder = pl.when(end == end.cum_max())
                earlier = [
                    holder.then(pl.col(c).cast(pl.String))
                    .forward_fill()
                    .shift(1)
                    .over("person_id")
                    for c in ("household_id", "joined_on")
                ]
                overlap = spells.with_columns(
                    __hh__=earlier[0], __since__=earlier[1], __until__=latest.cast(pl.String)
                ).filter(pl.col("joined_on") < latest)
                values = pl.format(
                    "{} joined {} on {} while in {} (since {}, until {})",
                    *[
                        pl.col(c).cast(pl.String).fill_null("?")
                        for c in ("person_id", "household_id", "joined_on", "__hh__", "__since__")
                    ],
                    pl.col("__until__").replace(str(_OPEN_END), "no end"),
                )
                note = _list_note
            self.fail("members", "joined_on, left_on", "overlapping_spells", overlap, note, values)
        for col in ("sex", "birth_date", "minority"):
            if self.has("members", col):
                n = m.group_by("person_id").agg(pl.col(col).drop_nulls().n_unique().alias("n"))
                bad = m.join(n.filter(pl.col("n") > 1), on="person_id", how="semi")
                self.fail("members", col, "inconsistent_person", bad)

    def _records(self) -> None:
        r = self.frames["records"].lazy()
        early = pl.col("known_date") < pl.col("event_date")
        self._where("records", "known_date", "known_before_event", early, "event_date")
        if self.has("records", "person_id", "kind", "event_date"):
            payments = sorted(
                kind
                for kinds in self.vocab.values()
                for kind, props in kinds.items()
                if (props or {}).get("payment", False)
            )
            with_person = r.filter(pl.col("person_id").is_not_null())
            deaths = (
                with_person.filter(pl.col("kind") == "death")
                .group_by("person_id")
                .agg(pl.col("event_date").min().alias("__death__"))
            )
            later = (
                with_person.filter(~pl.col("kind").is_in(payments) & (pl.col("kind") != "death"))
                .join(deaths, on="person_id", how="inner")
                .filter(pl.col("event_date") > pl.col("__death__"))
            )
            self.fail("records", "event_date", "event_after_death", later)
        if self.has("records", "source", "kind"):
            pairs = [(s, k) for s, kinds in self.vocab.items() for k in kinds]
            known = pl.LazyFrame(
                {"source": [p[0] for p in pairs], "kind": [p[1] for p in pairs]},
                schema={"source": pl.String, "kind": pl.String},
            )
            named = r.filter(pl.col("source").is_not_null() & pl.col("kind").is_not_null())
            unknown = named.join(known, on=["source", "kind"], how="anti")
            self.fail(
                "records",
                "source, kind",
                "unknown_kind",
                unknown,
                kind_note(self.vocab),
                pl.struct("source", "kind"),
            )
        self._values()
        self._decisions()

    def _values(self) -> None:
        """Find records of a kind with a closed value set whose value lies outside it."""
        nullable = nullable_value_kinds(self.vocab)
        for kind, allowed in sorted(record_values(self.vocab).items()):
            value = pl.col("value")
            outside = value.is_not_null() & ~value.is_in(allowed)
            bad = outside if kind in nullable else outside | value.is_null()
            note = closed_note(f"{kind}.value", allowed, kind in nullable)
            self._where(
                "records",
                "value",
                "unknown_value",
                (pl.col("kind") == kind) & bad,
                "kind",
                note=note,
            )

    def _decisions(self) -> None:
        """Verifications must answer an application of their household, made no later."""
        kinds = {k for kinds in self.vocab.values() for k in kinds}
        if {_DECISION, _APPLICATION} - kinds or not self.has("records", "household_id", "kind"):
            return  # a vocabulary without either kind has no such decisions to check
        r = self.frames["records"].lazy().filter(pl.col("household_id").is_not_null())
        decisions = r.filter(pl.col("kind") == _DECISION)
        applications = r.filter(pl.col("kind") == _APPLICATION)
        orphans = decisions.join(applications, on="household_id", how="anti")
        self.fail("records", "household_id", "verification_without_application", orphans)
        if self.has("records", "event_date"):
            # Before the household's first application: no application is on or before it.
            first = applications.group_by("household_id").agg(
                pl.col("event_date").min().alias("__first__")
            )
            early = decisions.join(first, on="household_id", how="inner").filter(
                pl.col("event_date") < pl.col("__first__")
            )
            self.fail("records", "event_date", "decision_before_application", early)


def _list_note(found: list[str], n_found: int) -> str:
    """Join the offending cases, as the check's value expression describes them."""
    more = f"; and {n_found - len(found)} more" if n_found > len(found) else ""
    return "; ".join(found) + more
