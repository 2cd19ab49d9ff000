"""The casework family: what the county's own verifications, reviews and visits found.

These are civil affairs' outcome records (see ``needsid.labels``, which reads the ones
after ``as_of`` as labels); the features read only those known before ``as_of``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import narwhals as nw

from .._dates import months_before
from ._spec import FeatureSpec

ASSESSED = ["verification", "review"]

ROWS: list[tuple[str, int | str | None, str]] = [
    (
        "assessed_income_to_low_income_line",
        "lookback",
        "latest assessed income per person (verification or review) / the low-income line "
        "(null if never assessed)",
    ),
    ("months_since_assessment", None, "months since the latest assessment (999 if none)"),
    ("n_declined_or_exit", "lookback", "applications declined and reviews that ended in exit"),
    (
        "home_visit_finding",
        "lookback",
        "latest home visit: 1 hardship confirmed, -1 no hardship, 0 none or nobody found",
    ),
]


def casework_parts(
    records: nw.LazyFrame[Any],
    as_of: dt.date,
    spec: FeatureSpec,
    lit: Callable[[dt.date], nw.Expr],
    month_no: Callable[[str], nw.Expr],
) -> list[nw.LazyFrame[Any]]:
    """Return the casework parts, one row per household with any casework record."""
    cut = lit(months_before(as_of, spec.lookback_months))
    kind = nw.col("kind")
    value = nw.col("value").cast(nw.String)
    rec = records.filter(
        kind.is_in([*ASSESSED, "home_visit"]) & (nw.col("event_date") >= cut)
    ).with_columns(
        _neg=((value == "declined") | (value == "exit")).fill_null(False).cast(nw.Int64),
        _finding=nw.when(value == "hardship_confirmed")
        .then(1)
        .otherwise(nw.when(value == "no_hardship").then(-1).otherwise(0)),
    )
    a_no = as_of.year * 12 + as_of.month - 1
    assessed = rec.filter(kind.is_in(ASSESSED) & ~nw.col("amount").is_null())
    last = assessed.group_by("household_id").agg(nw.col("event_date").max().alias("_d"))
    latest = (
        assessed.join(last, on="household_id", how="inner")
        .filter(nw.col("event_date") == nw.col("_d"))
        .group_by("household_id")
        .agg(nw.col("amount").max().alias("_assessed"), nw.col("_d").max())
        .with_columns(months_since_assessment=nw.lit(a_no) - month_no("_d"))
        .drop("_d")
    )
    negatives = rec.group_by("household_id").agg(nw.col("_neg").sum().alias("n_declined_or_exit"))
    visits = rec.filter(kind == "home_visit")
    seen = visits.group_by("household_id").agg(nw.col("event_date").max().alias("_v"))
    finding = (
        visits.join(seen, on="household_id", how="inner")
        .filter(nw.col("event_date") == nw.col("_v"))
        .group_by("household_id")
        .agg(nw.col("_finding").min().alias("home_visit_finding"))
    )
    return [latest, negatives, finding]
