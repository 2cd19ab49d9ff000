"""Cross-check templates: overlapping benefits, payments after death or in prison.

Cross-checks compare payments with other departments' records. A payment's household is
the one named on the payment record (the household that was paid), so hits also cover
households dissolved since.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import polars as pl
from pydantic import Field, model_validator

from .._dates import months_before
from ._base import FieldError, Params, Template
from ._frames import Context, counted, fmt_amount, hits_frame, month_no, month_range

__all__ = ["CHECK_TEMPLATES", "payment_summary", "payment_text", "payments"]


def payment_summary() -> list[pl.Expr]:
    """Return aggregations describing the offending payments of a group."""
    return [
        pl.col("pay_id").alias("pay_ids"),
        pl.col("pay_id").len().alias("n_pay"),
        pl.col("pay_m").n_unique().alias("n_months"),
        pl.col("pay_m").min().alias("first_m"),
        pl.col("pay_m").max().alias("last_m"),
        pl.col("pay_amount").sum().alias("pay_total"),
        pl.col("pay_kind").unique().sort().str.join(", ").alias("pay_kinds"),
    ]


def payment_text() -> pl.Expr:
    """E.g. "benefit_dibao paid in 7 months (2024-06..2024-12, 4060 yuan)"."""
    return pl.concat_str(
        pl.col("pay_kinds"),
        pl.lit(" paid in "),
        counted("n_months", "month"),
        pl.lit(" ("),
        month_range("first_m", "last_m"),
        pl.lit(", "),
        fmt_amount(pl.col("pay_total")),
        pl.lit(" yuan)"),
    )


def payments(ctx: Context, kinds: Iterable[str], as_of: dt.date, window: int) -> pl.DataFrame:
    """Return payments of ``kinds`` in the window, columns renamed ``pay_*``."""
    return (
        ctx.records(kinds, as_of, since=months_before(as_of, window))
        .select(
            "household_id",
            "person_id",
            pl.col("record_id").alias("pay_id"),
            pl.col("kind").alias("pay_kind"),
            pl.col("event_date").alias("pay_date"),
            pl.col("amount").alias("pay_amount"),
        )
        .with_columns(pay_m=month_no("pay_date"))
    )


# --- overlap -------------------------------------------------------------------------------


class OverlapParams(Params):
    """A person paid one benefit while the household is paid another, in the same month.

    The person is paid one of ``person_kinds`` and the household one of
    ``household_kinds`` in at least ``min_months`` calendar months.
    """

    person_kinds: tuple[str, ...] = Field(min_length=1)
    household_kinds: tuple[str, ...] = Field(min_length=1)
    min_months: int = Field(default=1, ge=1)


def _overlap(
    ctx: Context, p: OverlapParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    a = payments(ctx, p.person_kinds, as_of, window).filter(pl.col("person_id").is_not_null())
    b = payments(ctx, p.household_kinds, as_of, window).select(
        "household_id",
        "pay_m",
        pl.col("pay_id").alias("b_id"),
        pl.col("pay_kind").alias("b_kind"),
    )
    joined = a.join(b, on=["household_id", "pay_m"])
    per = (
        joined.sort("pay_date", "pay_id")
        .group_by("household_id", "person_id", maintain_order=True)
        .agg(
            pl.col("pay_m").n_unique().alias("n_months"),
            pl.col("pay_m").min().alias("first_m"),
            pl.col("pay_m").max().alias("last_m"),
            pl.col("pay_kind").unique().sort().str.join(", ").alias("a_kinds"),
            pl.col("b_kind").unique().sort().str.join(", ").alias("b_kinds"),
            pl.col("pay_id").unique().alias("a_ids"),
            pl.col("b_id").unique().alias("b_ids"),
        )
        .filter(pl.col("n_months") >= p.min_months)
    )
    out = per.with_columns(
        evidence_record_ids=pl.concat_list("a_ids", "b_ids").list.unique().list.sort(),
        evidence=pl.concat_str(
            pl.col("a_kinds"),
            pl.lit(" to "),
            pl.col("person_id"),
            pl.lit(" while the household received "),
            pl.col("b_kinds"),
            pl.lit(" in "),
            counted("n_months", "month"),
            pl.lit(" ("),
            month_range("first_m", "last_m"),
            pl.lit(")"),
        ),
    )
    return hits_frame(out)


# --- paid_after_death ----------------------------------------------------------------------


class PaidAfterDeathParams(Params):
    """Payments naming a person dated more than ``grace_days`` after that person's death."""

    payment_kinds: tuple[str, ...] = Field(min_length=1)
    grace_days: int = Field(default=0, ge=0, le=366)


def _paid_after_death(
    ctx: Context, p: PaidAfterDeathParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    deaths = (
        ctx.records(["death"], as_of)
        .filter(pl.col("person_id").is_not_null())
        .sort("event_date", "record_id")
        .group_by("person_id", maintain_order=True)
        .first()
    )
    deaths = ctx.with_age(deaths).select(
        "person_id",
        pl.col("record_id").alias("death_id"),
        pl.col("event_date").alias("death_date"),
        "age",
    )
    pays = (
        payments(ctx, p.payment_kinds, as_of, window)
        .join(deaths, on="person_id")
        .filter(pl.col("pay_date") > pl.col("death_date").dt.offset_by(f"{p.grace_days}d"))
    )
    per = (
        pays.sort("pay_date", "pay_id")
        .group_by("household_id", "person_id", maintain_order=True)
        .agg(
            pl.col("death_id").first(),
            pl.col("death_date").first(),
            pl.col("age").first(),
            *payment_summary(),
        )
    )
    out = per.with_columns(
        evidence_record_ids=pl.concat_list(pl.col("death_id"), "pay_ids"),
        evidence=pl.concat_str(
            pl.lit("death of "),
            pl.col("person_id"),
            pl.when(pl.col("age").is_not_null()).then(
                pl.concat_str(pl.lit(" (age "), pl.col("age").cast(pl.String), pl.lit(")"))
            ),
            pl.lit(" on "),
            pl.col("death_date").cast(pl.String),
            pl.lit("; then "),
            payment_text(),
            ignore_nulls=True,
        ),
    )
    return hits_frame(out)


# --- paid_in_prison ------------------------------------------------------------------------


class PaidInPrisonParams(Params):
    """Payments naming a person during that person's imprisonment.

    A spell runs from an ``imprisonment_start`` to the first ``imprisonment_end`` on or
    after it (open if none is known). With ``whole_months`` (the default) only payments
    dated in calendar months strictly between the start and end months count: a monthly
    benefit for a month spent only partly in prison is not an overpayment. Payments of
    ``household_kinds`` (benefits of the whole household) count only when the household
    had one member at the payment date.
    """

    payment_kinds: tuple[str, ...] = Field(min_length=1)
    household_kinds: tuple[str, ...] = ()
    whole_months: bool = True

    @model_validator(mode="after")
    def _subset(self) -> PaidInPrisonParams:
        extra = sorted(set(self.household_kinds) - set(self.payment_kinds))
        if extra:
            raise FieldError(
                "household_kinds",
                f"household_kinds {extra!r} are not in payment_kinds "
                f"{list(self.payment_kinds)!r}; list them in payment_kinds too.",
            )
        return self


def _paid_in_prison(
    ctx: Context, p: PaidInPrisonParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    starts = (
        ctx.records(["imprisonment_start"], as_of)
        .filter(pl.col("person_id").is_not_null())
        .select(
            "person_id", pl.col("record_id").alias("start_id"), pl.col("event_date").alias("start")
        )
    )
    ends = ctx.records(["imprisonment_end"], as_of).select(
        "person_id", pl.col("record_id").alias("end_id"), pl.col("event_date").alias("end")
    )
    first_end = (
        starts.join(ends, on="person_id")
        .filter(pl.col("end") >= pl.col("start"))
        .sort("end", "end_id")
        .group_by("start_id", maintain_order=True)
        .agg(pl.col("end").first(), pl.col("end_id").first())
    )
    spells = starts.join(first_end, on="start_id", how="left")
    pays = payments(ctx, p.payment_kinds, as_of, window).join(spells, on="person_id")
    if p.whole_months:
        inside = (pay_m := pl.col("pay_m")) > month_no("start")
        inside = inside & (pl.col("end").is_null() | (pay_m < month_no("end")))
    else:
        inside = pl.col("pay_date") > pl.col("start")
        inside = inside & (pl.col("end").is_null() | (pl.col("pay_date") < pl.col("end")))
    pays = pays.filter(inside)
    if p.household_kinds:
        pays = ctx.size_at(pays, "pay_date").filter(
            ~pl.col("pay_kind").is_in(list(p.household_kinds)) | (pl.col("size") == 1)
        )
    per = (
        pays.sort("pay_date", "pay_id")
        .group_by("household_id", "person_id", maintain_order=True)
        .agg(
            pl.col("start").min(),
            pl.col("start_id").unique().sort().alias("start_ids"),
            pl.col("end_id").drop_nulls().unique().sort().alias("end_ids"),
            pl.col("end").is_null().any().alias("open"),
            pl.col("end").max(),
            *payment_summary(),
        )
    )
    released = (
        pl.when(pl.col("open"))
        .then(pl.lit(", still imprisoned"))
        .otherwise(pl.concat_str(pl.lit(", released "), pl.col("end").cast(pl.String)))
    )
    out = per.with_columns(
        evidence_record_ids=pl.concat_list("start_ids", "end_ids", "pay_ids"),
        evidence=pl.concat_str(
            pl.col("person_id"),
            pl.lit(" imprisoned from "),
            pl.col("start").cast(pl.String),
            released,
            pl.lit("; "),
            payment_text(),
        ),
    )
    return hits_frame(out)


CHECK_TEMPLATES = (
    Template(
        "overlap",
        OverlapParams,
        reads=lambda p: (*p.person_kinds, *p.household_kinds),
        run=_overlap,
        summary="a person paid one benefit while the household is paid another, same month",
    ),
    Template(
        "paid_after_death",
        PaidAfterDeathParams,
        reads=lambda p: (*p.payment_kinds, "death"),
        run=_paid_after_death,
        summary="payments naming a person dated after that person's recorded death",
    ),
    Template(
        "paid_in_prison",
        PaidInPrisonParams,
        reads=lambda p: (*p.payment_kinds, "imprisonment_start", "imprisonment_end"),
        run=_paid_in_prison,
        summary="payments naming a person during that person's recorded imprisonment",
    ),
)
