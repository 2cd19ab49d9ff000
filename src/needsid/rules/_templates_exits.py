"""Exit templates (income above the line, stable employment) and feature-based outreach."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import polars as pl
from pydantic import Field, field_validator

from .._dates import months_before
from ._base import FieldError, Params, Template
from ._coverage import OUTREACH_FEATURES, outreach_features
from ._frames import (
    Context,
    counted,
    fmt_amount,
    fmt_month,
    hits_frame,
    month_index,
    month_no,
    month_range,
    month_start,
)

__all__ = ["EXIT_TEMPLATES"]


def _receiving(ctx: Context, kinds: Iterable[str], as_of: dt.date, window: int) -> pl.DataFrame:
    """Per household paid one of ``kinds`` in the window: the latest such payment."""
    return (
        ctx.records(kinds, as_of, since=months_before(as_of, window))
        .sort("event_date", "record_id")
        .group_by("household_id", maintain_order=True)
        .last()
        .select(
            "household_id",
            pl.col("record_id").alias("recv_id"),
            pl.concat_str(
                pl.lit("last "),
                pl.col("kind"),
                pl.lit(" paid "),
                pl.col("event_date").cast(pl.String),
            ).alias("recv_text"),
        )
    )


# --- exit_income ---------------------------------------------------------------------------


class ExitIncomeParams(Params):
    """Recipients whose recorded wages put them above the low-income line for a run of months.

    Hysteresis: only households paid one of ``receiving_kinds`` in the window are looked
    at, and the exit line (``line_multiple`` x the low-income line, i.e. x the dibao
    standard x the low-income multiplier) lies above the entry line (the dibao standard).
    Wages net of ``job_cost_share`` per member (members at ``as_of``) must exceed it in
    each of the ``months`` complete months before the ``lag_months`` most recent ones.
    """

    months: int = Field(default=3, ge=1, le=24)
    lag_months: int = Field(default=2, ge=0, le=12)
    line_multiple: float = Field(default=1.0, gt=0)
    job_cost_share: float = Field(default=0.0, ge=0, lt=1)
    receiving_kinds: tuple[str, ...] = Field(min_length=1)


def _exit_income(
    ctx: Context, p: ExitIncomeParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    hi = month_index(as_of) - p.lag_months
    lo = hi - p.months
    recv = _receiving(ctx, p.receiving_kinds, as_of, window)
    wages = (
        ctx.records(["wage"], as_of, since=month_start(lo))
        .with_columns(m=month_no())
        .filter(pl.col("m") < hi)
        .join(recv.select("household_id"), on="household_id")
    )
    line = pl.col("dibao_standard") * pl.col("low_income_multiplier") * p.line_multiple
    monthly = wages.group_by("household_id", "m").agg(pl.col("amount").sum().alias("wages"))
    monthly = ctx.with_region(ctx.current_size(monthly, as_of)).with_columns(
        net_pc=pl.col("wages") * (1 - p.job_cost_share) / pl.col("size").fill_null(1).clip(1),
        line=line,
    )
    per = (
        monthly.sort("m")
        .group_by("household_id", maintain_order=True)
        .agg(
            (pl.col("net_pc") > pl.col("line")).sum().alias("n_above"),
            pl.col("net_pc").min().alias("lowest"),
            pl.col("line").first(),
        )
        .filter(pl.col("n_above") == p.months)
        .join(recv, on="household_id")
    )
    ids = (
        wages.join(per.select("household_id"), on="household_id")
        .sort("event_date", "record_id")
        .group_by("household_id")
        .agg(pl.col("record_id").alias("wage_ids"))
    )
    per = per.join(ids, on="household_id")
    out = per.with_columns(
        person_id=pl.lit(None, pl.String),
        evidence_record_ids=pl.concat_list("wage_ids", pl.col("recv_id")),
        evidence=pl.concat_str(
            pl.lit("net wages per person above the exit line of "),
            fmt_amount(pl.col("line")),
            pl.lit(f" yuan in each month of {fmt_month(lo)}..{fmt_month(hi - 1)} (lowest "),
            fmt_amount(pl.col("lowest")),
            pl.lit("); "),
            pl.col("recv_text"),
        ),
    )
    return hits_frame(out)


# --- exit_employment -----------------------------------------------------------------------


class ExitEmploymentParams(Params):
    """A member starts a job and then has wages in at least ``min_wage_months`` months.

    With ``receiving_kinds``, only households paid one of them in the window count.
    """

    min_wage_months: int = Field(default=3, ge=1, le=24)
    receiving_kinds: tuple[str, ...] = ()


def _exit_employment(
    ctx: Context, p: ExitEmploymentParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    starts = ctx.records(["employment_started"], as_of, since=months_before(as_of, window))
    starts = starts.filter(pl.col("person_id").is_not_null())
    if p.receiving_kinds:
        recv = _receiving(ctx, p.receiving_kinds, as_of, window)
        starts = starts.join(recv, on="household_id")
    else:
        starts = starts.with_columns(
            recv_id=pl.lit(None, pl.String), recv_text=pl.lit(None, pl.String)
        )
    wages = (
        ctx.records(["wage"], as_of)
        .join(starts.select("person_id").unique(), on="person_id")
        .select(
            "person_id",
            pl.col("record_id").alias("wage_id"),
            pl.col("event_date").alias("wage_date"),
        )
    )
    joined = starts.join(wages, on="person_id").filter(pl.col("wage_date") >= pl.col("event_date"))
    per_start = (
        joined.with_columns(wm=month_no("wage_date"))
        .sort("wage_date", "wage_id")
        .group_by("record_id", maintain_order=True)
        .agg(
            pl.col("wm").n_unique().alias("n_months"),
            pl.col("wm").min().alias("first_m"),
            pl.col("wm").max().alias("last_m"),
            pl.col("wage_id").alias("wage_ids"),
        )
        .filter(pl.col("n_months") >= p.min_wage_months)
    )
    fired = starts.join(per_start, on="record_id")
    latest = (
        fired.sort("event_date", "record_id")
        .group_by("household_id", "person_id", maintain_order=True)
        .last()
    )
    out = latest.with_columns(
        evidence_record_ids=pl.concat_list(
            pl.col("record_id"),
            "wage_ids",
            pl.col("recv_id"),
        ).list.drop_nulls(),
        evidence=pl.concat_str(
            pl.lit("employment_started of "),
            pl.col("person_id"),
            pl.lit(" on "),
            pl.col("event_date").cast(pl.String),
            pl.lit(", then wages in "),
            counted("n_months", "month"),
            pl.lit(" ("),
            month_range("first_m", "last_m"),
            pl.lit(")"),
            pl.concat_str(pl.lit("; "), pl.col("recv_text")),
            ignore_nulls=True,
        ),
    )
    return hits_frame(out)


# --- outreach ------------------------------------------------------------------------------


class OutreachParams(Params):
    """Households the coverage features call digitally invisible whose composition signals risk.

    Fires when ``invisibility_score >= min_invisibility_score`` and any feature of
    ``any_of`` (composition features of ``needsid.features``, see ``OUTREACH_FEATURES``)
    is positive. Features are computed at ``as_of`` as ``needsid.features.build`` does,
    with the rule's window as the coverage look-back (``lookback_months``).
    """

    min_invisibility_score: float = Field(ge=0, le=1)
    any_of: tuple[str, ...] = Field(min_length=1)

    @field_validator("any_of")
    @classmethod
    def _features(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        allowed = [f for f in OUTREACH_FEATURES if f != "invisibility_score"]
        bad = [f for f in v if f not in allowed]
        if bad:
            raise FieldError(
                "any_of", f"unknown feature {bad[0]!r}; expected some of {', '.join(allowed)}."
            )
        return v


def _outreach(
    ctx: Context, p: OutreachParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    risk = pl.any_horizontal([pl.col(c) > 0 for c in p.any_of])
    x = outreach_features(ctx, as_of, window, p.any_of).filter(risk)
    # coverage needs every record of the look-back: count it for the households at risk
    # only (exact for them: restrict keeps their records and their members' records)
    sub = ctx.restrict(x["household_id"]) if x.height else ctx
    score = outreach_features(sub, as_of, window, ("invisibility_score",))
    x = x.join(score, on="household_id", how="left")
    out = x.filter(pl.col("invisibility_score") >= p.min_invisibility_score)
    parts = [pl.lit("invisibility_score "), pl.col("invisibility_score").round(2).cast(pl.String)]
    parts.append(pl.lit(f" >= {p.min_invisibility_score:g}"))
    for c in p.any_of:
        parts += [pl.lit(f"; {c} "), pl.col(c).cast(pl.Int64).cast(pl.String)]
    out = out.with_columns(
        person_id=pl.lit(None, pl.String),
        evidence_record_ids=pl.lit([], pl.List(pl.String)),
        evidence=pl.concat_str(parts),
    )
    return hits_frame(out)


EXIT_TEMPLATES = (
    Template(
        "exit_income",
        ExitIncomeParams,
        reads=lambda p: ("wage", *p.receiving_kinds),
        run=_exit_income,
        summary="recipients with net wages per person above the exit line for N months",
        min_window=lambda p: p.lag_months + p.months,
    ),
    Template(
        "exit_employment",
        ExitEmploymentParams,
        reads=lambda p: ("employment_started", "wage", *p.receiving_kinds),
        run=_exit_employment,
        summary="a member starts a job followed by wages in several months",
        min_window=lambda p: p.min_wage_months,
    ),
    Template(
        "outreach",
        OutreachParams,
        reads=lambda p: ("invisibility_score", *p.any_of),
        run=_outreach,
        summary="digitally invisible households whose composition signals risk (features)",
        reads_features=True,
    ),
)
