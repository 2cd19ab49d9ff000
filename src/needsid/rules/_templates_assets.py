"""Asset-test template: benefit recipients whose asset records fail the means test.

A payment fails when the asset condition held at its date (vehicle, business and
property records count from their event date; deposits by the latest balance reported
in or before the payment's month).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import polars as pl
from pydantic import Field, model_validator

from ._base import FieldError, Params, Template
from ._frames import Context, fmt_amount, hits_frame, month_no
from ._templates_checks import payment_summary, payment_text, payments

__all__ = ["ASSET_TEMPLATES"]

ASSET_KINDS = {
    "vehicle": "vehicle",
    "business": "business_registered",
    "property": "property",
    "deposit": "deposit_balance",
}
_NEEDS = {"vehicle": "min_value", "property": "min_count", "deposit": "deposit_months"}
_ONLY = {"values": "vehicle", "max_report_age_months": "deposit"}


class AssetTestParams(Params):
    """Households paid one of ``benefit_kinds`` while their records fail an asset test.

    ``asset``: ``vehicle`` (a vehicle record worth more than ``min_value``, with a value in
    ``values`` if given, e.g. ``[private]``), ``business`` (a business registration),
    ``property`` (at least ``min_count`` property records) or ``deposit`` (the latest
    balance reported in or before the payment's month above ``deposit_months`` x the
    region's dibao standard x the household's size at the balance date; with
    ``max_report_age_months``, a balance reported longer ago than that is too old to
    judge by and the payment is not flagged). Asset records count from their event date
    on; a payment fails the test when the condition held at its date.
    """

    benefit_kinds: tuple[str, ...] = Field(min_length=1)
    asset: Literal["vehicle", "business", "property", "deposit"]
    min_value: float | None = Field(default=None, ge=0)
    values: tuple[str, ...] | None = None
    min_count: int | None = Field(default=None, ge=1)
    deposit_months: float | None = Field(default=None, gt=0)
    max_report_age_months: int | None = Field(default=None, ge=0, le=120)

    @model_validator(mode="after")
    def _needed(self) -> AssetTestParams:
        needed = _NEEDS.get(self.asset)
        if needed and getattr(self, needed) is None:
            raise FieldError(
                needed,
                f"missing: asset={self.asset!r} needs the threshold {needed!r}.",
            )
        only = {**{v: k for k, v in _NEEDS.items()}, **_ONLY}
        for name, asset in only.items():
            if asset != self.asset and getattr(self, name) is not None:
                raise FieldError(name, f"{name!r} does not apply to asset={self.asset!r}.")
        return self


def _asset_since(
    ctx: Context, p: AssetTestParams, as_of: dt.date, recipients: pl.Series
) -> pl.DataFrame:
    """Per recipient household: the date from which the asset test fails, and the evidence."""
    assets = (
        ctx.records([ASSET_KINDS[p.asset]], as_of)
        .filter(pl.col("household_id").is_in(recipients.unique().implode()))
        .sort("event_date", "record_id")
    )
    if p.asset == "vehicle":
        assets = assets.filter(pl.col("amount") > p.min_value)
        if p.values is not None:
            assets = assets.filter(pl.col("value").is_in(list(p.values)))
    agg = assets.group_by("household_id", maintain_order=True).agg(
        pl.col("record_id").alias("asset_ids"),
        pl.col("event_date").alias("dates"),
        pl.col("amount").max().alias("value_max"),
        pl.col("value").drop_nulls().unique().sort().str.join(", ").alias("values"),
    )
    # validation requires min_count for property
    k = (p.min_count or 1) if p.asset == "property" else 1
    agg = agg.filter(pl.col("dates").list.len() >= k).with_columns(
        since=pl.col("dates").list.get(k - 1)
    )
    if p.asset == "vehicle":
        text = pl.concat_str(
            pl.lit("vehicle worth "),
            fmt_amount(pl.col("value_max")),
            pl.lit(" yuan ("),
            pl.col("values"),
            pl.lit(") recorded "),
            pl.col("since").cast(pl.String),
        )
    elif p.asset == "property":
        text = pl.concat_str(
            pl.col("dates").list.len().cast(pl.String),
            pl.lit(" property records, the "),
            pl.lit(f"{k}{'st' if k == 1 else 'nd' if k == 2 else 'rd' if k == 3 else 'th'}"),
            pl.lit(" dated "),
            pl.col("since").cast(pl.String),
        )
    else:
        text = pl.concat_str(pl.lit("business registered "), pl.col("since").cast(pl.String))
    return agg.select("household_id", "asset_ids", "since", asset_text=text)


def _deposit_pays(
    ctx: Context, p: AssetTestParams, pays: pl.DataFrame, as_of: dt.date
) -> pl.DataFrame:
    """Payments whose latest balance (reported in or before their month) is over the limit."""
    dep = ctx.records(["deposit_balance"], as_of).filter(
        pl.col("household_id").is_in(pays["household_id"].unique().implode())
    )
    dep = ctx.with_region(ctx.size_at(dep, "event_date"))
    dep = (
        dep.with_columns(
            dep_m=month_no(),
            limit=p.deposit_months * pl.col("dibao_standard") * pl.col("size").clip(1),
        )
        .sort("event_date", "record_id")
        .group_by("household_id", "dep_m", maintain_order=True)
        .last()
        .select(
            "household_id",
            "dep_m",
            pl.col("record_id").alias("dep_id"),
            pl.col("event_date").alias("dep_date"),
            pl.col("amount").alias("balance"),
            "limit",
            "size",
            "dibao_standard",
        )
        .sort("dep_m")
    )
    # sorted by the month globally, hence within each household
    matched = pays.sort("pay_m").join_asof(
        dep,
        left_on="pay_m",
        right_on="dep_m",
        by="household_id",
        strategy="backward",
        check_sortedness=False,
    )
    bad = pl.col("balance") > pl.col("limit")
    if p.max_report_age_months is not None:
        bad = bad & (pl.col("pay_m") - pl.col("dep_m") <= p.max_report_age_months)
    return matched.filter(bad)


def _asset_test(
    ctx: Context, p: AssetTestParams, reads: tuple[str, ...], window: int, as_of: dt.date
) -> pl.DataFrame:
    pays = payments(ctx, p.benefit_kinds, as_of, window)
    if p.asset == "deposit":
        bad = _deposit_pays(ctx, p, pays, as_of)
        per = (
            bad.sort("pay_date", "pay_id")
            .group_by("household_id", maintain_order=True)
            .agg(
                pl.col("dep_id").unique().sort().alias("asset_ids"),
                # the largest excess speaks for the household
                pl.col("dep_date").sort_by(pl.col("balance") / pl.col("limit")).last(),
                pl.col("balance").sort_by(pl.col("balance") / pl.col("limit")).last(),
                pl.col("size").sort_by(pl.col("balance") / pl.col("limit")).last(),
                pl.col("dibao_standard").sort_by(pl.col("balance") / pl.col("limit")).last(),
                *payment_summary(),
            )
        )
        asset_text = pl.concat_str(
            pl.lit("deposit balance "),
            fmt_amount(pl.col("balance")),
            pl.lit(" yuan on "),
            pl.col("dep_date").cast(pl.String),
            pl.lit(f" > {p.deposit_months:g} x "),
            fmt_amount(pl.col("dibao_standard")),
            pl.lit(" x "),
            pl.col("size").cast(pl.String),
            pl.lit(" = "),
            fmt_amount(p.deposit_months * pl.col("dibao_standard") * pl.col("size").clip(1)),
        )
    else:
        since = _asset_since(ctx, p, as_of, pays["household_id"])
        bad = pays.join(since, on="household_id").filter(pl.col("pay_date") >= pl.col("since"))
        per = (
            bad.sort("pay_date", "pay_id")
            .group_by("household_id", maintain_order=True)
            .agg(
                pl.col("asset_ids").first(),
                pl.col("asset_text").first(),
                *payment_summary(),
            )
        )
        asset_text = pl.col("asset_text")
    out = per.with_columns(
        person_id=pl.lit(None, pl.String),
        evidence_record_ids=pl.concat_list("asset_ids", "pay_ids"),
        evidence=pl.concat_str(asset_text, pl.lit("; "), payment_text()),
    )
    return hits_frame(out)


ASSET_TEMPLATES = (
    Template(
        "asset_test",
        AssetTestParams,
        reads=lambda p: (*p.benefit_kinds, ASSET_KINDS[p.asset]),
        run=_asset_test,
        summary="benefit recipients whose vehicle, business, property or deposit records fail",
    ),
)
