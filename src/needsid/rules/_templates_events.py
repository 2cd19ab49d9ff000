"""Trigger templates: events in a window, costs against income, job loss, wage falls."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator

from .._dates import months_before
from ._base import Params, Template
from ._frames import (
    Context,
    counted,
    fmt_amount,
    fmt_month,
    hits_frame,
    month_index,
    month_no,
    month_start,
)

__all__ = ["EVENT_TEMPLATES"]


def record_text(ctx: Context, frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``age`` and ``text``: e.g. "death of P12 (age 41) on 2024-11-03"."""
    frame = ctx.with_age(frame) if "age" not in frame.columns else frame
    who = pl.when(pl.col("person_id").is_not_null()).then(
        pl.concat_str(
            pl.lit(" of "),
            pl.col("person_id"),
            pl.when(pl.col("age").is_not_null()).then(
                pl.concat_str(pl.lit(" (age "), pl.col("age").cast(pl.String), pl.lit(")"))
            ),
            ignore_nulls=True,
        )
    )
    text = pl.concat_str(
        pl.col("kind"),
        who,
        pl.lit(" on "),
        pl.col("event_date").cast(pl.String),
        pl.when(pl.col("amount").is_not_null()).then(
            pl.concat_str(pl.lit(", "), fmt_amount(pl.col("amount")), pl.lit(" yuan"))
        ),
        pl.when(pl.col("value").is_not_null()).then(
            pl.concat_str(pl.lit(", value "), pl.col("value"))
        ),
        ignore_nulls=True,
    )
    return frame.with_columns(text=text)


def _group_hits(
    frame: pl.DataFrame, keys: tuple[str, ...] = ("household_id", "person_id")
) -> pl.DataFrame:
    """One row per ``keys`` with the record ids and texts, in event order."""
    return (
        frame.sort("event_date", "record_id")
        .group_by(list(keys), maintain_order=True)
        .agg(
            pl.col("record_id").alias("evidence_record_ids"),
            pl.col("text").str.join("; ").alias("evidence"),
            pl.len().alias("n"),
        )
    )


# --- event -------------------------------------------------------------------------------


class EventParams(Params):
    """Records of the rule's kinds in the window, optionally filtered.

    ``min_amount``/``max_amount`` bound ``amount`` (inclusive), ``min_age``/``max_age``
    the person's completed years at the event (inclusive; records without a person or
    birth date are dropped), ``values`` the allowed ``value`` texts; a person (or, for
    records without one, the household) needs ``min_count`` such records.
    """

    min_amount: float | None = Field(default=None, ge=0)
    max_amount: float | None = Field(default=None, ge=0)
    min_age: int | None = Field(default=None, ge=0, le=130)
    max_age: int | None = Field(default=None, ge=0, le=130)
    values: tuple[str, ...] | None = None
    min_count: int = Field(default=1, ge=1)

    @field_validator("values", mode="before")
    @classmethod
    def _texts(cls, v: Any) -> Any:
        # grades written as numbers in YAML (values: [1, 2]) mean the texts "1", "2"
        if isinstance(v, list | tuple):
            return tuple(str(x) if isinstance(x, int | float) else x for x in v)
        return v


def _event(
    ctx: Context, p: EventParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    rec = ctx.records(reads, as_of, since=months_before(as_of, window))
    if p.min_amount is not None:
        rec = rec.filter(pl.col("amount") >= p.min_amount)
    if p.max_amount is not None:
        rec = rec.filter(pl.col("amount") <= p.max_amount)
    if p.values is not None:
        rec = rec.filter(pl.col("value").is_in(list(p.values)))
    rec = record_text(ctx, rec)
    if p.min_age is not None:
        rec = rec.filter(pl.col("age") >= p.min_age)
    if p.max_age is not None:
        rec = rec.filter(pl.col("age") <= p.max_age)
    out = _group_hits(rec).filter(pl.col("n") >= p.min_count)
    return hits_frame(out)


# --- event_vs_income -----------------------------------------------------------------------

REFERENCES = ("disposable_income_prev_year", "low_income_line")


class EventVsIncomeParams(Params):
    """Amounts summed over the window above ``share`` x an annual per-person reference.

    ``reference``: ``disposable_income_prev_year`` (the region's, yuan per person per
    year) or ``low_income_line`` (dibao standard x low-income multiplier x 12). With
    ``per: household`` the household's sum is compared with the reference times the
    household's size at ``as_of``.
    """

    share: float = Field(gt=0)
    reference: Literal["disposable_income_prev_year", "low_income_line"]
    per: Literal["person", "household"] = "person"


def _event_vs_income(
    ctx: Context, p: EventVsIncomeParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    rec = ctx.records(reads, as_of, since=months_before(as_of, window))
    keys = ["household_id", "person_id"] if p.per == "person" else ["household_id"]
    summed = (
        rec.sort("event_date", "record_id")
        .group_by(keys, maintain_order=True)
        .agg(
            pl.col("record_id").alias("evidence_record_ids"),
            pl.col("amount").sum().alias("total"),
            pl.len().alias("n"),
        )
    )
    summed = ctx.with_region(summed)
    if p.reference == "low_income_line":
        ref = pl.col("dibao_standard") * pl.col("low_income_multiplier") * 12
    else:
        ref = pl.col("disposable_income_prev_year")
    if p.per == "household":
        summed = ctx.current_size(summed, as_of)
        summed = summed.with_columns(person_id=pl.lit(None, pl.String))
        ref = ref * pl.col("size").fill_null(1).clip(lower_bound=1)
    who = (
        pl.concat_str(pl.lit(" of "), pl.col("person_id"))
        if p.per == "person"
        else pl.lit(" of the household")
    )
    out = summed.with_columns(limit=p.share * ref).filter(pl.col("total") > pl.col("limit"))
    out = out.with_columns(
        evidence=pl.concat_str(
            pl.lit("+".join(reads)),
            who,
            pl.lit(f" over {window} months: "),
            fmt_amount(pl.col("total")),
            pl.lit(" yuan in "),
            counted("n", "record"),
            pl.lit(f" > {p.share:g} x "),
            fmt_amount(pl.col("limit") / p.share),
            pl.lit(f" ({p.reference})"),
        )
    )
    return hits_frame(out)


# --- only_earner_unemployed ---------------------------------------------------------------


class OnlyEarnerParams(Params):
    """Unemployment registration of the only member with wages in the months before."""

    earner_months: int = Field(default=3, ge=1, le=24)


def _only_earner(
    ctx: Context, p: OnlyEarnerParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    reg = ctx.records(["unemployment_registered"], as_of, since=months_before(as_of, window))
    reg = reg.filter(pl.col("person_id").is_not_null())
    wages = (
        ctx.records(["wage"], as_of)
        .join(reg.select("household_id").unique(), on="household_id")
        .select(
            "household_id",
            pl.col("person_id").alias("earner"),
            pl.col("event_date").alias("wage_date"),
            pl.col("record_id").alias("wage_id"),
            pl.col("amount").alias("wage"),
        )
    )
    joined = reg.join(wages, on="household_id").filter(
        (pl.col("wage_date") < pl.col("event_date"))
        & (pl.col("wage_date") >= pl.col("event_date").dt.offset_by(f"-{p.earner_months}mo"))
    )
    own = pl.col("earner") == pl.col("person_id")
    per_reg = (
        joined.sort("wage_date", "wage_id")
        .group_by("record_id", maintain_order=True)
        .agg(
            pl.col("earner").n_unique().alias("n_earners"),
            own.any().alias("own"),
            pl.col("wage_id").filter(own).alias("wage_ids"),
            pl.col("wage").filter(own).mean().alias("mean_wage"),
        )
        .filter((pl.col("n_earners") == 1) & pl.col("own"))
    )
    fired = reg.join(per_reg, on="record_id")
    fired = record_text(ctx, fired).with_columns(
        text=pl.concat_str(
            pl.col("text"),
            pl.lit(f": the only member with recorded wages in the {p.earner_months} months "),
            pl.lit("before ("),
            fmt_amount(pl.col("mean_wage")),
            pl.lit(" yuan a month)"),
        ),
        ids=pl.concat_list(pl.col("record_id"), "wage_ids"),
    )
    # several registrations of one person in the window: the latest one speaks
    latest = (
        fired.sort("event_date", "record_id")
        .group_by("household_id", "person_id", maintain_order=True)
        .last()
    )
    out = latest.select(
        "household_id",
        "person_id",
        pl.col("ids").alias("evidence_record_ids"),
        pl.col("text").alias("evidence"),
    )
    return hits_frame(out)


# --- income_drop ---------------------------------------------------------------------------


class IncomeDropParams(Params):
    """Household wages of the last ``recent_months`` complete months against the months before.

    The ``lag_months`` most recent months are skipped (wages are reported weeks after the
    month, so the latest months always look like a fall). Fires when the monthly average
    fell by at least ``min_drop`` (a share) and the baseline months held wages in at
    least ``min_baseline_months`` distinct months.
    """

    recent_months: int = Field(default=3, ge=1, le=24)
    baseline_months: int = Field(default=3, ge=1, le=24)
    lag_months: int = Field(default=2, ge=0, le=12)
    min_drop: float = Field(gt=0, lt=1)
    min_baseline_months: int = Field(default=0, ge=0, le=24)


def _income_drop(
    ctx: Context, p: IncomeDropParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    hi = month_index(as_of) - p.lag_months
    mid = hi - p.recent_months
    lo = mid - p.baseline_months
    wages = (
        ctx.records(["wage"], as_of, since=month_start(lo))
        .with_columns(m=month_no())
        .filter(pl.col("m") < hi)
    )
    is_base = pl.col("m") < mid
    agg = (
        wages.sort("event_date", "record_id")
        .group_by("household_id", maintain_order=True)
        .agg(
            pl.col("amount").filter(is_base).sum().alias("base"),
            pl.col("amount").filter(~is_base).sum().alias("recent"),
            pl.col("m").filter(is_base).n_unique().alias("base_months"),
            pl.col("record_id").alias("evidence_record_ids"),
        )
        .with_columns(
            base_avg=pl.col("base") / p.baseline_months,
            recent_avg=pl.col("recent") / p.recent_months,
        )
    )
    out = agg.filter(
        (pl.col("base") > 0)
        & (pl.col("recent_avg") < (1 - p.min_drop) * pl.col("base_avg"))
        & (pl.col("base_months") >= p.min_baseline_months)
    )
    drop_pct = ((1 - pl.col("recent_avg") / pl.col("base_avg")) * 100).round(0).cast(pl.Int64)
    out = out.with_columns(
        person_id=pl.lit(None, pl.String),
        evidence=pl.concat_str(
            pl.lit("wages "),
            fmt_amount(pl.col("recent_avg")),
            pl.lit(f" yuan a month in {fmt_month(mid)}..{fmt_month(hi - 1)}, down "),
            drop_pct.cast(pl.String),
            pl.lit("% from "),
            fmt_amount(pl.col("base_avg")),
            pl.lit(f" yuan a month in {fmt_month(lo)}..{fmt_month(mid - 1)}"),
        ),
    )
    return hits_frame(out)


EVENT_TEMPLATES = (
    Template(
        "event",
        EventParams,
        reads=lambda p: None,
        run=_event,
        summary="records of the rule's kinds in the window (amount, age, value, count filters)",
    ),
    Template(
        "event_vs_income",
        EventVsIncomeParams,
        reads=lambda p: None,
        run=_event_vs_income,
        summary="amounts summed over the window above a share of an annual per-person income",
    ),
    Template(
        "only_earner_unemployed",
        OnlyEarnerParams,
        reads=lambda p: ("unemployment_registered", "wage"),
        run=_only_earner,
        summary="unemployment registration of the household's only recorded earner",
    ),
    Template(
        "income_drop",
        IncomeDropParams,
        reads=lambda p: ("wage",),
        run=_income_drop,
        summary="recorded household wages fell sharply between complete months",
        min_window=lambda p: p.lag_months + p.recent_months + p.baseline_months,
    ),
)
