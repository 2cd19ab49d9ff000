"""Process-supervision templates for payments (救助金发放监管).

A dibao payment that is not the statutory amount, a payment with no approval behind it,
and benefits that continue after an exit decision. Conventions and helpers (approvals,
spells of monthly payments, the reporting lag) are those of ``_templates_process.py``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from pydantic import Field, field_validator, model_validator

from ._base import FieldError, Params, Template
from ._frames import Context, counted, fmt_amount, hits_frame, month_no, month_range
from ._templates_checks import payment_text, payments
from ._templates_process import (
    APPLICATION,
    DECISION,
    EXIT,
    PAY_COLUMNS,
    REVIEW,
    approval_records,
    approved_kinds,
    checkable,
    latest_before,
    per_household,
    with_spells,
)

__all__ = ["PAYMENT_TEMPLATES"]


# --- payment_mismatch ----------------------------------------------------------------------


class PaymentMismatchParams(Params):
    """Dibao paid that is not the standard minus the assessed income, times the size.

    The statute sets a household's monthly dibao at (dibao standard - assessed net income
    per person) x members. For each ``benefit_dibao`` payment, the assessed income is the
    amount of the household's latest ``verification`` or ``review`` on or before it, and
    the members are those whose spell covers the payment date. A payment more than
    ``tolerance`` x the standard per person away from that amount fires. Payments of
    households assessed at or above the standard are not checked (the statute gives
    them no amount: that is a question for a review, see the exit rules), nor payments
    with no assessment before them or no member on record.
    """

    tolerance: float = Field(gt=0, le=1, allow_inf_nan=False)
    report_lag_days: int = Field(default=0, ge=0, le=366)


def _payment_mismatch(
    ctx: Context, p: PaymentMismatchParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    pays = payments(ctx, ["benefit_dibao"], as_of, window)
    pays = checkable(pays, as_of, window, p.report_lag_days)
    assessed = (
        ctx.records([DECISION, REVIEW], as_of)
        .filter(pl.col("amount").is_not_null())
        .select(
            "household_id",
            pl.col("record_id").alias("ass_id"),
            pl.col("kind").alias("ass_kind"),
            pl.col("event_date").alias("ass_date"),
            pl.col("amount").alias("assessed"),
        )
    )
    matched = latest_before(pays, assessed, "pay_date", "ass_date", ["household_id"])
    matched = ctx.with_region(
        ctx.size_at(matched.filter(pl.col("ass_id").is_not_null()), "pay_date")
    )
    std = pl.col("dibao_standard")
    expected = ((std - pl.col("assessed")) * pl.col("size")).alias("expected")
    off = (pl.col("pay_amount") - pl.col("expected")).abs()
    bad = (
        matched.filter((pl.col("assessed") < std) & (pl.col("size") > 0))
        .with_columns(expected)
        .filter(off > p.tolerance * std * pl.col("size"))
        .with_columns(off=off)
    )
    worst = pl.col("off")
    per = per_household(
        bad,
        pl.col("ass_id").unique().sort().alias("ass_ids"),
        *[
            pl.col(c).sort_by(worst).last()
            for c in ("pay_date", "pay_amount", "expected", "size", "assessed", "ass_kind")
        ],
        pl.col("ass_date").sort_by(worst).last(),
        std.sort_by(worst).last(),
    )
    out = per.with_columns(
        person_id=pl.lit(None, pl.String),
        evidence_record_ids=pl.concat_list("ass_ids", "pay_ids"),
        evidence=pl.concat_str(
            pl.lit("benefit_dibao of "),
            fmt_amount(pl.col("pay_amount")),
            pl.lit(" yuan paid "),
            pl.col("pay_date").cast(pl.String),
            pl.lit(" to "),
            counted("size", "member"),
            pl.lit("; the statute gives "),
            fmt_amount(pl.col("expected")),
            pl.lit(" (standard "),
            fmt_amount(std),
            pl.lit(" minus "),
            fmt_amount(pl.col("assessed")),
            pl.lit(" assessed per person in the "),
            pl.col("ass_kind"),
            pl.lit(" of "),
            pl.col("ass_date").cast(pl.String),
            pl.lit(f", tolerance {p.tolerance:g} x the standard per person); "),
            counted("n_pay", "payment"),
            pl.lit(" off ("),
            month_range("first_m", "last_m"),
            pl.lit(")"),
        ),
    )
    return hits_frame(out)


# --- payment_without_approval --------------------------------------------------------------


class PaymentWithoutApprovalParams(Params):
    """A payment with no approval of its kind in the ``lookback_days`` days before it.

    The approval of ``benefit_<programme>`` is a ``verification`` valued
    ``approved_<programme>``, dated from ``lookback_days`` days before the payment to
    ``grace_days`` days after it (benefits paid from the month of the decision). Each
    payment of a one-off kind is checked. Payments of ``monthly_kinds`` continue their
    spell's approval: only the first payment of a spell (no payment of the kind in the
    month before) is checked, and only when the household applied (an ``application``)
    in the ``lookback_days`` days before it, so spells running since before the records
    begin are not.
    """

    payment_kinds: tuple[str, ...] = Field(min_length=1)
    monthly_kinds: tuple[str, ...] = ()
    lookback_days: int = Field(ge=1, le=366)
    grace_days: int = Field(default=0, ge=0, le=92)
    report_lag_days: int = Field(default=0, ge=0, le=366)

    @field_validator("payment_kinds")
    @classmethod
    def _kinds(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return approved_kinds("payment_kinds", v)

    @model_validator(mode="after")
    def _subset(self) -> PaymentWithoutApprovalParams:
        extra = sorted(set(self.monthly_kinds) - set(self.payment_kinds))
        if extra:
            raise FieldError(
                "monthly_kinds",
                f"monthly_kinds {extra!r} are not in payment_kinds "
                f"{list(self.payment_kinds)!r}; list them in payment_kinds too.",
            )
        return self


def _payment_without_approval(
    ctx: Context,
    p: PaymentWithoutApprovalParams,
    reads: tuple[str, ...],
    window: int,
    as_of: dt.date,
) -> pl.DataFrame:
    pays = checkable(with_spells(ctx, p.payment_kinds, as_of), as_of, window, p.report_lag_days)
    monthly = pl.col("pay_kind").is_in(list(p.monthly_kinds))
    pays = pays.filter(~monthly | pl.col("starts"))
    lookback = pl.col("pay_date").dt.offset_by(f"-{p.lookback_days}d")
    if p.monthly_kinds:
        apps = ctx.records([APPLICATION], as_of).select(
            "household_id",
            pl.col("record_id").alias("app_id"),
            pl.col("event_date").alias("app_date"),
        )
        pays = latest_before(pays, apps, "pay_date", "app_date", ["household_id"]).filter(
            ~monthly | (pl.col("app_date") >= lookback)
        )
    else:
        pays = pays.with_columns(app_id=pl.lit(None, pl.String), app_date=pl.lit(None, pl.Date))
    approvals = approval_records(ctx, p.payment_kinds, as_of)
    keyed = pays.with_columns(key=pl.col("pay_date").dt.offset_by(f"{p.grace_days}d"))
    matched = latest_before(keyed, approvals, "key", "appr_date", ["household_id", "pay_kind"])
    bad = matched.filter(pl.col("appr_date").is_null() | (pl.col("appr_date") < lookback))
    per = per_household(
        bad,
        pl.col("app_id").drop_nulls().unique().sort().alias("app_ids"),
        pl.col("app_date").drop_nulls().max().alias("app_date"),
    )
    applied = pl.when(pl.col("app_date").is_not_null()).then(
        pl.concat_str(
            pl.lit(" (the household applied on "), pl.col("app_date").cast(pl.String), pl.lit(")")
        )
    )
    out = per.with_columns(
        person_id=pl.lit(None, pl.String),
        evidence_record_ids=pl.concat_list("app_ids", "pay_ids"),
        evidence=pl.concat_str(
            payment_text(),
            pl.lit(" with no approval decision of the programme from "),
            pl.lit(f"{p.lookback_days} days before to {p.grace_days} days after the payment"),
            applied,
            ignore_nulls=True,
        ),
    )
    return hits_frame(out)


# --- paid_after_exit -----------------------------------------------------------------------


class PaidAfterExitParams(Params):
    """Benefits of a programme continue after an exit decision ends the case.

    An exit is a ``review`` valued ``exit``; it ends the programmes of ``payment_kinds``
    the household was paid in the calendar month before the exit's month (or in its
    month, before its date). A later payment of such a kind fires unless the household applied
    (an ``application``) or was approved for the kind (up to ``grace_days`` days after
    the payment) after the exit: a new case, which ``payment_without_approval`` checks.
    """

    payment_kinds: tuple[str, ...] = Field(min_length=1)
    grace_days: int = Field(default=0, ge=0, le=92)
    report_lag_days: int = Field(default=0, ge=0, le=366)

    @field_validator("payment_kinds")
    @classmethod
    def _kinds(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return approved_kinds("payment_kinds", v)


def _paid_after_exit(
    ctx: Context, p: PaidAfterExitParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    everything = with_spells(ctx, p.payment_kinds, as_of)
    exits = (
        ctx.records([REVIEW], as_of)
        .filter(pl.col("value") == EXIT)
        .select(
            "household_id",
            pl.col("record_id").alias("exit_id"),
            pl.col("event_date").alias("exit_date"),
        )
        .with_columns(exit_m=month_no("exit_date"))
    )
    # the programmes each exit ends: those paid in the month before it, or earlier in its month
    ended = (
        exits.join(everything.select("household_id", *PAY_COLUMNS), on="household_id")
        .filter(
            (pl.col("pay_m") == pl.col("exit_m") - 1)
            | ((pl.col("pay_m") == pl.col("exit_m")) & (pl.col("pay_date") < pl.col("exit_date")))
        )
        .select("household_id", "pay_kind", "exit_id", "exit_date")
        .unique()
    )
    pays = checkable(everything, as_of, window, p.report_lag_days)
    # the latest exit before each payment that ended the payment's programme
    after = pays.sort("pay_date").join_asof(
        ended.sort("exit_date"),
        left_on="pay_date",
        right_on="exit_date",
        by=["household_id", "pay_kind"],
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    after = after.filter(pl.col("exit_id").is_not_null())
    apps = ctx.records([APPLICATION], as_of).select(
        "household_id", pl.col("event_date").alias("app_date")
    )
    after = latest_before(after, apps, "pay_date", "app_date", ["household_id"])
    keyed = after.with_columns(key=pl.col("pay_date").dt.offset_by(f"{p.grace_days}d"))
    approvals = approval_records(ctx, p.payment_kinds, as_of)
    after = latest_before(keyed, approvals, "key", "appr_date", ["household_id", "pay_kind"])
    renewed = (pl.col("app_date") > pl.col("exit_date")).fill_null(False) | (
        pl.col("appr_date") > pl.col("exit_date")
    ).fill_null(False)
    bad = after.filter(~renewed)
    per = per_household(
        bad,
        pl.col("exit_id").unique().sort().alias("exit_ids"),
        pl.col("exit_date").min().alias("exit_date"),
    )
    out = per.with_columns(
        person_id=pl.lit(None, pl.String),
        evidence_record_ids=pl.concat_list("exit_ids", "pay_ids"),
        evidence=pl.concat_str(
            pl.lit("exit decided on "),
            pl.col("exit_date").cast(pl.String),
            pl.lit("; then "),
            payment_text(),
            pl.lit(" with no new application or approval"),
        ),
    )
    return hits_frame(out)


PAYMENT_TEMPLATES = (
    Template(
        "payment_mismatch",
        PaymentMismatchParams,
        reads=lambda p: ("benefit_dibao", DECISION, REVIEW),
        run=_payment_mismatch,
        summary="dibao paid that is not (standard - assessed income) x members",
    ),
    Template(
        "payment_without_approval",
        PaymentWithoutApprovalParams,
        reads=lambda p: (
            *p.payment_kinds,
            DECISION,
            *((APPLICATION,) if p.monthly_kinds else ()),
        ),
        run=_payment_without_approval,
        summary="a payment (or a spell's first payment) with no approval of its programme",
    ),
    Template(
        "paid_after_exit",
        PaidAfterExitParams,
        reads=lambda p: (*p.payment_kinds, REVIEW, APPLICATION, DECISION),
        run=_paid_after_exit,
        summary="benefits that continue after an exit decision, with no new case",
    ),
)
