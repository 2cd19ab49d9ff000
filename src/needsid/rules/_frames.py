"""The data a rule evaluation reads: known records by kind, membership spells, dates.

Everything is polars. A :class:`Context` is prepared once per evaluation at the latest
``as_of``; templates ask it for records known before an earlier date when suppression
re-evaluates a rule in the months before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import narwhals as nw
import polars as pl

from .._dates import age_at
from ..data import HouseholdData

__all__ = ["EMPTY_HITS", "Context", "hits_frame", "month_no"]


def month_index(d: dt.date) -> int:
    """Months since year 0: consecutive calendar months differ by one."""
    return d.year * 12 + d.month - 1


def month_start(k: int) -> dt.date:
    """Return the first day of month index ``k``."""
    return dt.date(k // 12, k % 12 + 1, 1)


def month_no(col: str = "event_date") -> pl.Expr:
    """Expression: the month index of a date column."""
    return pl.col(col).dt.year().cast(pl.Int64) * 12 + pl.col(col).dt.month().cast(pl.Int64) - 1


def month_label(expr: pl.Expr) -> pl.Expr:
    """Expression: ``YYYY-MM`` of a month index."""
    year = (expr // 12).cast(pl.String)
    month = (expr % 12 + 1).cast(pl.String).str.zfill(2)
    return pl.concat_str(year, pl.lit("-"), month)


def month_range(first: str, last: str) -> pl.Expr:
    """Expression: ``YYYY-MM`` or ``YYYY-MM..YYYY-MM`` from two month-index columns."""
    a, b = month_label(pl.col(first)), month_label(pl.col(last))
    return (
        pl.when(pl.col(first) == pl.col(last)).then(a).otherwise(pl.concat_str(a, pl.lit(".."), b))
    )


def counted(col: str, noun: str) -> pl.Expr:
    """Expression: a count and its noun, e.g. "1 month", "7 months"."""
    n = pl.col(col)
    return pl.concat_str(
        n.cast(pl.String), pl.when(n == 1).then(pl.lit(f" {noun}")).otherwise(pl.lit(f" {noun}s"))
    )


def fmt_month(k: int) -> str:
    """``YYYY-MM`` of a month index."""
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def fmt_amount(expr: pl.Expr) -> pl.Expr:
    """Expression: whole yuan as text (null stays null)."""
    return expr.round(0).cast(pl.Int64).cast(pl.String)


class Context:
    """Records known before ``as_of`` by kind, membership spells and region standards.

    Parameters
    ----------
    bundle : HouseholdData
        A polars bundle.
    as_of : datetime.date
        The evaluation date: only records with ``known_date < as_of`` are used.
    """

    def __init__(self, bundle: HouseholdData, as_of: dt.date) -> None:
        self.as_of = as_of
        self._records: pl.DataFrame | None = bundle.records
        self._by_kind: dict[str, pl.DataFrame] = {}
        # restricted contexts: a filter on household or person
        self._keep: pl.Expr | None = None
        regions = bundle.regions.select(
            "region_id",
            "urban",
            "dibao_standard",
            "low_income_multiplier",
            "disposable_income_prev_year",
        )
        self.households: pl.DataFrame = bundle.households.join(regions, on="region_id", how="left")
        self.members: pl.DataFrame = bundle.members.select(
            "person_id",
            "household_id",
            "relation",
            "sex",
            "birth_date",
            "minority",
            "joined_on",
            "left_on",
        )
        self._parent: Context | None = None

    def restrict(self, household_ids: pl.Series) -> Context:
        """Return a context holding only what a rule needs to evaluate these households.

        Keeps the households, the spells of anyone who was ever a member, and the records
        of those households or people (so a payment's recipient's death recorded under
        another household is still seen). Suppression re-evaluates rules on it.
        """
        hh = household_ids.unique().implode()
        persons = self.members.filter(pl.col("household_id").is_in(hh))["person_id"]
        persons = persons.unique().implode()
        child = Context.__new__(Context)
        child.as_of = self.as_of
        child._keep = pl.col("household_id").is_in(hh) | pl.col("person_id").is_in(persons)
        child._records = None
        child._by_kind = {}
        child.households = self.households.filter(pl.col("household_id").is_in(hh))
        child.members = self.members.filter(
            pl.col("household_id").is_in(hh) | pl.col("person_id").is_in(persons)
        )
        child._parent = self
        return child

    def root(self) -> Context:
        """Return the unrestricted context this one was restricted from (or itself)."""
        return self if self._parent is None else self._parent.root()

    def raw_records(self) -> pl.DataFrame:
        """Return the records table (restricted contexts: their households' records)."""
        if self._records is None:
            # only restricted contexts drop their records; they have a parent and a filter
            assert self._parent is not None and self._keep is not None
            self._records = self._parent.raw_records().filter(self._keep)
        return self._records

    def records(
        self, kinds: Iterable[str], as_of: dt.date, since: dt.date | None = None
    ) -> pl.DataFrame:
        """Return records of ``kinds`` known before ``as_of``, ``event_date >= since``."""
        frames = [self._kind(k) for k in kinds]
        out = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
        # known_date >= event_date, so this also bounds the event dates
        cond = pl.col("known_date") < as_of
        if since is not None:
            cond = cond & (pl.col("event_date") >= since)
        return out.filter(cond)

    def _kind(self, kind: str) -> pl.DataFrame:
        """Return records of one kind known before the context's ``as_of`` (cached)."""
        if kind in self._by_kind:
            return self._by_kind[kind]
        if self._parent is not None:
            assert self._keep is not None  # a restricted context always has its filter
            out = self._parent._kind(kind).filter(self._keep)
        else:
            assert self._records is not None  # only restricted contexts drop their records
            # equality on the (often categorical) kind column is much faster than is_in
            out = self._records.filter(
                (pl.col("kind") == kind) & (pl.col("known_date") < self.as_of)
            ).select(
                "record_id",
                pl.col("household_id").cast(pl.String),
                pl.col("person_id").cast(pl.String),
                pl.lit(kind).alias("kind"),
                "event_date",
                "known_date",
                pl.col("amount").cast(pl.Float64),
                pl.col("value").cast(pl.String),
            )
        self._by_kind[kind] = out
        return out

    def _members_of(self, col: str, keys: pl.Series) -> pl.DataFrame:
        # filtering the big table by a small key set beats hashing it for every join
        return self.members.filter(pl.col(col).is_in(keys.unique().implode()))

    def with_age(self, frame: pl.DataFrame, date_col: str = "event_date") -> pl.DataFrame:
        """Add ``age``: completed years of ``person_id`` at ``date_col`` (null if unknown)."""
        births = (
            self._members_of("person_id", frame["person_id"].drop_nulls())
            .group_by("person_id")
            .agg(pl.col("birth_date").min())
        )
        out = nw.from_native(frame.join(births, on="person_id", how="left"))
        age = age_at("birth_date", nw.col(date_col))
        return out.with_columns(age=age).drop("birth_date").to_native()

    def alive(self, frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
        """Keep rows whose household was formed before and not dissolved by ``as_of``."""
        alive = self.households.filter(
            pl.col("household_id").is_in(frame["household_id"].unique().implode())
            & (pl.col("formed_on") < as_of)
            & (pl.col("dissolved_on").is_null() | (pl.col("dissolved_on") >= as_of))
        ).select("household_id")
        return frame.join(alive, on="household_id", how="semi")

    def size_at(self, frame: pl.DataFrame, date_col: str) -> pl.DataFrame:
        """Add ``size``: members of ``household_id`` whose spell covers ``date_col``.

        A spell covers ``d`` when ``joined_on <= d`` and it is open or ``left_on > d``.
        """
        keys = frame.select("household_id", pl.col(date_col).alias("_d")).unique()
        spells = self._members_of("household_id", keys["household_id"])
        counted = (
            keys.join(spells.select("household_id", "joined_on", "left_on"), on="household_id")
            .filter(
                (pl.col("joined_on") <= pl.col("_d"))
                & (pl.col("left_on").is_null() | (pl.col("left_on") > pl.col("_d")))
            )
            .group_by("household_id", "_d")
            .agg(pl.len().cast(pl.Int64).alias("size"))
        )
        out = frame.join(
            counted.rename({"_d": date_col}), on=["household_id", date_col], how="left"
        )
        return out.with_columns(pl.col("size").fill_null(0))

    def current_size(self, frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
        """Add ``size``: members whose spell is open at ``as_of`` (the features' rule)."""
        sizes = (
            self._members_of("household_id", frame["household_id"])
            .filter(
                (pl.col("joined_on") < as_of)
                & (pl.col("left_on").is_null() | (pl.col("left_on") >= as_of))
            )
            .group_by("household_id")
            .agg(pl.len().cast(pl.Int64).alias("size"))
        )
        return frame.join(sizes, on="household_id", how="left").with_columns(
            pl.col("size").fill_null(0)
        )

    def with_region(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Add the household's region standards (``urban, dibao_standard`` ...)."""
        info = self.households.filter(
            pl.col("household_id").is_in(frame["household_id"].unique().implode())
        ).select(
            "household_id",
            "urban",
            "dibao_standard",
            "low_income_multiplier",
            "disposable_income_prev_year",
        )
        return frame.join(info, on="household_id", how="left")


def hits_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Select and type the columns every template returns."""
    return frame.select(
        pl.col("household_id").cast(pl.String),
        pl.col("person_id").cast(pl.String),
        pl.col("evidence_record_ids").cast(pl.List(pl.String)),
        pl.col("evidence").cast(pl.String),
    )


EMPTY_HITS = pl.DataFrame(
    schema={
        "household_id": pl.String,
        "person_id": pl.String,
        "evidence_record_ids": pl.List(pl.String),
        "evidence": pl.String,
    }
)
