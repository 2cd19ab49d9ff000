"""Process-supervision templates: the casework (办理流程监管, 救助复核监管), shared helpers.

They check the casework's records against its own procedure: a decision made too long
after its application, a recipient paid long after the case was last reviewed. The
payment templates (救助金发放监管) are in ``_templates_payments.py``. A programme's
payments are records of kind ``benefit_<programme>`` and its approval a ``verification``
valued ``approved_<programme>`` (``benefit_dibao`` is approved by ``approved_dibao``).
Like cross-checks, hits also cover households dissolved since.

Casework records reach the platform weeks after they are made (``known_date``): with
``report_lag_days``, payments made in that many days before ``as_of`` are not checked,
since the review or approval behind them may not be known yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import polars as pl
from pydantic import Field, field_validator

from .._dates import months_before
from ..data import record_values, record_vocabulary
from ._base import FieldError, Params, Template
from ._frames import (
    Context,
    counted,
    hits_frame,
    month_label,
    month_no,
)
from ._templates_checks import payment_summary, payment_text

__all__ = [
    "PAY_COLUMNS",
    "PROCESS_TEMPLATES",
    "approval_of",
    "approval_records",
    "approved_kinds",
    "checkable",
    "latest_before",
    "per_household",
    "with_spells",
]

DECISION = "verification"  # the decision on an application, and its approval
APPLICATION = "application"
REVIEW = "review"
EXIT = "exit"  # the review decision that ends a case
PAY_COLUMNS = ("pay_id", "pay_kind", "pay_date", "pay_amount", "pay_m")


def approval_of(kind: str) -> str:
    """Return the ``verification`` value that approves payments of ``kind``.

    Parameters
    ----------
    kind : str
        A payment kind ``benefit_<programme>``.

    Returns
    -------
    str
        ``approved_<programme>``.

    Examples
    --------
    >>> from needsid.rules._templates_process import approval_of
    >>> approval_of("benefit_dibao")
    'approved_dibao'
    """
    return "approved_" + kind.removeprefix("benefit_")


def approved_kinds(field: str, kinds: tuple[str, ...]) -> tuple[str, ...]:
    """Check that each payment kind has an approval value in the vocabulary."""
    allowed = record_values().get(DECISION, ())
    bad = [k for k in kinds if not k.startswith("benefit_") or approval_of(k) not in allowed]
    if bad:
        known = [k for ks in record_vocabulary().values() for k in ks]
        approvable = [k for k in known if k.startswith("benefit_") and approval_of(k) in allowed]
        raise FieldError(
            field,
            f"{bad[0]!r} has no approval decision: a payment kind benefit_<programme> is "
            f"approved by a verification valued approved_<programme>; the vocabulary's "
            f"approvable kinds are {', '.join(approvable)}.",
        )
    dup = sorted({k for k in kinds if kinds.count(k) > 1})
    if dup:
        raise FieldError(field, f"{dup!r} listed more than once.")
    return kinds


def checkable(frame: pl.DataFrame, as_of: dt.date, window: int, lag_days: int) -> pl.DataFrame:
    """Keep payments in the window, made at least ``lag_days`` days before ``as_of``."""
    since = months_before(as_of, window)
    until = as_of - dt.timedelta(days=lag_days)
    return frame.filter((pl.col("pay_date") >= since) & (pl.col("pay_date") < until))


def with_spells(ctx: Context, kinds: Iterable[str], as_of: dt.date) -> pl.DataFrame:
    """Every known payment of ``kinds`` with its spell (``pay_*`` columns, ``spell_m``).

    A spell is a run of payments of one kind to a household in consecutive calendar
    months; ``spell_m`` is the first month of its payment's spell. ``starts`` marks the
    first payment of a spell known to begin inside the records: not in their first month
    (the earliest month with a payment of these kinds), when it may have begun before.
    All known payments are read, so a spell that began before a rule's window is seen
    whole.
    """
    kinds = list(kinds)
    pays = (
        ctx.records(kinds, as_of)
        .select(
            "household_id",
            "person_id",
            pl.col("record_id").alias("pay_id"),
            pl.col("kind").alias("pay_kind"),
            pl.col("event_date").alias("pay_date"),
            pl.col("amount").alias("pay_amount"),
        )
        .with_columns(pay_m=month_no("pay_date"))
        .sort("household_id", "pay_kind", "pay_date", "pay_id")
    )
    # restricted contexts (suppression) hold a few households: ask the whole extract
    first: int | None = ctx.root().records(kinds, as_of).select(month_no().min()).item()
    prev = pl.col("pay_m").shift(1).over("household_id", "pay_kind")
    # two steps: polars < 1.32 allows no window expression inside another's aggregation
    pays = pays.with_columns(_begins=prev.is_null() | (pl.col("pay_m") - prev > 1))
    return pays.with_columns(
        starts=pl.col("_begins") & (pl.col("pay_m") > (first if first is not None else 0)),
        spell_m=pl.when(pl.col("_begins"))
        .then(pl.col("pay_m"))
        .otherwise(None)
        .forward_fill()
        .over("household_id", "pay_kind"),
    ).drop("_begins")


def approval_records(ctx: Context, kinds: Iterable[str], as_of: dt.date) -> pl.DataFrame:
    """Approvals of payments of ``kinds``: ``household_id, pay_kind, appr_id, appr_date``."""
    mapping = {approval_of(k): k for k in kinds}
    return (
        ctx.records([DECISION], as_of)
        .filter(pl.col("value").is_in(list(mapping)))
        .select(
            "household_id",
            pl.col("value").replace_strict(mapping, return_dtype=pl.String).alias("pay_kind"),
            pl.col("record_id").alias("appr_id"),
            pl.col("event_date").alias("appr_date"),
        )
    )


def latest_before(
    left: pl.DataFrame, right: pl.DataFrame, left_on: str, right_on: str, by: list[str]
) -> pl.DataFrame:
    """For each row of ``left``, the latest row of ``right`` (same ``by``) on or before it."""
    return left.sort(left_on).join_asof(
        right.sort(right_on),
        left_on=left_on,
        right_on=right_on,
        by=by,
        strategy="backward",
        check_sortedness=False,  # sorted on the key globally, hence within each group
    )


def per_household(frame: pl.DataFrame, *aggs: pl.Expr) -> pl.DataFrame:
    """One row per household: the offending payments' summary and ``aggs``."""
    return (
        frame.sort("pay_date", "pay_id")
        .group_by("household_id", maintain_order=True)
        .agg(*aggs, *payment_summary())
    )


# --- late_decision -------------------------------------------------------------------------


class LateDecisionParams(Params):
    """A decision dated more than ``days`` days after the application it answers.

    A decision is a ``verification``; the application it answers is the household's
    latest ``application`` dated on or before it. Decisions in the window are checked.
    """

    days: int = Field(ge=1, le=366)


def _late_decision(
    ctx: Context, p: LateDecisionParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    decisions = ctx.records([DECISION], as_of, since=months_before(as_of, window)).select(
        "household_id",
        pl.col("record_id").alias("dec_id"),
        pl.col("event_date").alias("dec_date"),
        pl.col("value").alias("decision"),
    )
    apps = ctx.records([APPLICATION], as_of).select(
        "household_id",
        pl.col("record_id").alias("app_id"),
        pl.col("event_date").alias("app_date"),
    )
    late = (
        latest_before(decisions, apps, "dec_date", "app_date", ["household_id"])
        .filter(pl.col("app_id").is_not_null())
        .with_columns(days=(pl.col("dec_date") - pl.col("app_date")).dt.total_days())
        .filter(pl.col("days") > p.days)
    )
    per = (
        late.sort("dec_date", "dec_id")
        .group_by("household_id", maintain_order=True)
        .agg(
            pl.col("app_id").unique(maintain_order=True),
            pl.col("dec_id"),
            pl.len().alias("n_late"),
            # the longest wait speaks for the household
            pl.col("decision").sort_by("days").last(),
            pl.col("dec_date").sort_by("days").last(),
            pl.col("app_date").sort_by("days").last(),
            pl.col("days").max(),
        )
    )
    out = per.with_columns(
        person_id=pl.lit(None, pl.String),
        evidence_record_ids=pl.concat_list("app_id", "dec_id"),
        evidence=pl.concat_str(
            pl.lit("decision "),
            pl.col("decision"),
            pl.lit(" on "),
            pl.col("dec_date").cast(pl.String),
            pl.lit(", "),
            pl.col("days").cast(pl.String),
            pl.lit(" days after the application of "),
            pl.col("app_date").cast(pl.String),
            pl.lit(f" (limit {p.days} days)"),
            pl.when(pl.col("n_late") > 1).then(
                pl.concat_str(pl.lit("; "), counted("n_late", "late decision"))
            ),
            ignore_nulls=True,
        ),
    )
    return hits_frame(out)


# --- overdue_review ------------------------------------------------------------------------


class OverdueReviewParams(Params):
    """Payments made more than ``months`` months after the case was last looked at.

    The case was last looked at in the later of the month of the household's latest
    ``review`` (any decision) or approval of one of ``payment_kinds`` on or before the
    payment, and the first month of the payment's spell (consecutive monthly payments
    of its kind): a spell that began within ``months`` months is not overdue, and
    households paid since before the records begin are checked from their first review.
    Months are calendar months: a review in March 2024 makes a payment in April 2025
    overdue at ``months=12``.
    """

    payment_kinds: tuple[str, ...] = Field(min_length=1)
    months: int = Field(ge=1, le=60)
    report_lag_days: int = Field(default=0, ge=0, le=366)

    @field_validator("payment_kinds")
    @classmethod
    def _kinds(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return approved_kinds("payment_kinds", v)


def _overdue_review(
    ctx: Context, p: OverdueReviewParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    pays = checkable(with_spells(ctx, p.payment_kinds, as_of), as_of, window, p.report_lag_days)
    reviews = ctx.records([REVIEW], as_of).select(
        "household_id",
        pl.col("record_id").alias("dec_id"),
        pl.col("event_date").alias("dec_date"),
        pl.concat_str(pl.lit("review "), pl.col("value"), ignore_nulls=True).alias("dec_text"),
    )
    approvals = approval_records(ctx, p.payment_kinds, as_of).select(
        "household_id",
        pl.col("appr_id").alias("dec_id"),
        pl.col("appr_date").alias("dec_date"),
        pl.concat_str(pl.lit("approval of "), pl.col("pay_kind")).alias("dec_text"),
    )
    looked = pl.concat([reviews, approvals])
    matched = latest_before(pays, looked, "pay_date", "dec_date", ["household_id"])
    since = pl.max_horizontal(month_no("dec_date"), pl.col("spell_m"))
    overdue = matched.with_columns(since_m=since).filter(
        pl.col("pay_m") - pl.col("since_m") > p.months
    )
    per = per_household(
        overdue,
        pl.col("dec_id").drop_nulls().unique().sort().alias("dec_ids"),
        # the longest gap speaks for the household
        (pl.col("pay_m") - pl.col("since_m")).max().alias("gap"),
        pl.col("dec_text").sort_by(pl.col("pay_m") - pl.col("since_m")).last(),
        pl.col("dec_date").sort_by(pl.col("pay_m") - pl.col("since_m")).last(),
        pl.col("spell_m").sort_by(pl.col("pay_m") - pl.col("since_m")).last(),
    )
    last = (
        pl.when(pl.col("dec_text").is_not_null())
        .then(
            pl.concat_str(
                pl.lit("the last review or approval ("),
                pl.col("dec_text"),
                pl.lit(" of "),
                pl.col("dec_date").cast(pl.String),
                pl.lit(")"),
            )
        )
        .otherwise(pl.concat_str(pl.lit("the payments began in "), month_label(pl.col("spell_m"))))
    )
    out = per.with_columns(
        person_id=pl.lit(None, pl.String),
        evidence_record_ids=pl.concat_list("dec_ids", "pay_ids"),
        evidence=pl.concat_str(
            payment_text(),
            pl.lit(f" more than {p.months} months after "),
            last,
            pl.lit(": "),
            counted("gap", "month"),
            pl.lit(" at the latest payment"),
        ),
    )
    return hits_frame(out)


PROCESS_TEMPLATES = (
    Template(
        "late_decision",
        LateDecisionParams,
        reads=lambda p: (APPLICATION, DECISION),
        run=_late_decision,
        summary="a decision made more than N days after its application",
    ),
    Template(
        "overdue_review",
        OverdueReviewParams,
        reads=lambda p: (*p.payment_kinds, REVIEW, DECISION),
        run=_overdue_review,
        summary="payments more than N months after the case's last review or approval",
    ),
)
