"""The few household features the outreach template reads, computed as needsid.features does.

``needsid.features.build`` computes ~100 columns through narwhals and takes ~20 s on a
million households; outreach needs three of them at every evaluation date suppression
looks at. This module computes the same values (same definitions, same spec: core
sources from the default feature spec, look-back = the rule's window) directly in
polars; tests check they equal ``features.build`` on a simulated population.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import narwhals as nw
import polars as pl

from .._dates import age_at, months_before
from ._frames import Context

__all__ = ["OUTREACH_FEATURES", "outreach_features"]

OUTREACH_FEATURES = (
    "invisibility_score",
    "hh_size",
    "n_children",
    "n_elderly",
    "n_working_age",
    "elderly_alone",
    "single_parent",
    "n_disability_certified",
    "n_severe_disability",
)


@cache
def core_sources() -> tuple[str, ...]:
    """Return the departments whose silence makes a household invisible (feature spec)."""
    from ..features import load_spec

    return tuple(load_spec().core_sources)


def _current(ctx: Context, as_of: dt.date) -> pl.DataFrame:
    return ctx.members.filter(
        (pl.col("joined_on") < as_of)
        & (pl.col("left_on").is_null() | (pl.col("left_on") >= as_of))
    )


def _coverage(ctx: Context, as_of: dt.date, lookback: int, current: pl.DataFrame) -> pl.DataFrame:
    """``household_id, n_core``: core departments with a record in the look-back."""
    core = core_sources()
    rec = (
        ctx.raw_records()
        .lazy()
        .filter(
            pl.any_horizontal([pl.col("source") == s for s in core])
            & (pl.col("known_date") < as_of)
            & (pl.col("event_date") >= months_before(as_of, lookback))
        )
    )
    # unique before any cast: casting tens of millions of categories costs more
    triples = rec.select("household_id", "person_id", "source").unique()
    # a person's records count for the person's household at as_of, if any
    now = current.lazy().select("person_id", pl.col("household_id").alias("_now"))
    attributed = triples.join(now, on="person_id", how="left").select(
        pl.coalesce("_now", pl.col("household_id").cast(pl.String)).alias("household_id"),
        pl.col("source").cast(pl.String),
    )
    # one lazy query: polars' optimiser runs it several times faster than eager steps
    return attributed.unique().group_by("household_id").agg(pl.len().alias("n_core")).collect()


def outreach_features(
    ctx: Context, as_of: dt.date, lookback: int, names: tuple[str, ...]
) -> pl.DataFrame:
    """``household_id`` and ``names`` for the households alive at ``as_of``."""
    households = ctx.households.filter(
        (pl.col("formed_on") < as_of)
        & (pl.col("dissolved_on").is_null() | (pl.col("dissolved_on") >= as_of))
    ).select("household_id")
    current = _current(ctx, as_of)
    certs = ctx.records(["disability_certified"], as_of)
    grade = (
        certs.select("person_id", pl.col("value").cast(pl.Int64, strict=False).alias("grade"))
        .group_by("person_id")
        .agg(pl.col("grade").min())
    )
    m = (
        nw.from_native(current)
        .with_columns(age=age_at("birth_date", as_of))
        .to_native()
        .join(grade, on="person_id", how="left")
    )
    comp = m.group_by("household_id").agg(
        pl.len().alias("hh_size"),
        (pl.col("age") < 16).sum().alias("n_children"),
        (pl.col("age") >= 60).sum().alias("n_elderly"),
        ((pl.col("age") >= 16) & (pl.col("age") < 60)).sum().alias("n_working_age"),
        pl.col("grade").is_not_null().sum().alias("n_disability_certified"),
        (pl.col("grade").fill_null(9) <= 2).sum().alias("n_severe_disability"),
    )
    out = households.join(comp, on="household_id", how="left")
    counts = [
        "hh_size",
        "n_children",
        "n_elderly",
        "n_working_age",
        "n_disability_certified",
        "n_severe_disability",
    ]
    out = out.with_columns(pl.col(c).fill_null(0).cast(pl.Float64) for c in counts)
    size = pl.col("hh_size")
    out = out.with_columns(
        elderly_alone=((pl.col("n_elderly") == size) & (size <= 2) & (size > 0)).cast(pl.Float64),
        single_parent=((pl.col("n_children") > 0) & (pl.col("n_working_age") == 1)).cast(
            pl.Float64
        ),
    )
    if "invisibility_score" in names:
        cov = _coverage(ctx, as_of, lookback, current)
        out = out.join(cov, on="household_id", how="left").with_columns(
            invisibility_score=1 - pl.col("n_core").fill_null(0) / len(core_sources())
        )
    return out.select("household_id", *names).sort("household_id")
