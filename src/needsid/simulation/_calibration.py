"""Measure a simulated population against the published calibration targets."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd
import polars as pl

from .._dates import months_after
from ._config import load_calibration

if TYPE_CHECKING:
    from ..data import HouseholdData
    from ._simulate import SimulatedPopulation

__all__ = ["calibration_report"]


def _sum(column: pl.Series) -> float:
    total: Any = column.sum()  # polars types a sum as any scalar; these columns are numeric
    return float(total)


def _mean(column: pl.Series) -> float:
    mean: Any = column.mean()
    return float(mean)


def _people_at(bundle: HouseholdData, date: dt.date) -> pl.DataFrame:
    """Household sizes on ``date`` from the membership spells, with the region's flags."""
    b = bundle.to_polars()
    m: pl.DataFrame = b.members
    d = pl.lit(date)
    current = m.filter(
        (pl.col("joined_on") <= d) & (pl.col("left_on").is_null() | (pl.col("left_on") > d))
    )
    sizes = current.group_by("household_id").agg(pl.len().alias("size"))
    hh: pl.DataFrame = b.households.join(b.regions, on="region_id")
    return sizes.join(hh.select("household_id", "urban", "dibao_standard"), on="household_id")


def calibration_report(pop: SimulatedPopulation, month: int | None = None) -> pd.DataFrame:
    """Compare a simulated population with each published target.

    Parameters
    ----------
    pop : SimulatedPopulation
        The draw to measure.
    month : int, optional
        Month index to measure point-in-time figures at; defaults to the middle month.

    Returns
    -------
    pandas.DataFrame
        One row per target: ``target, published, tolerance, measured, within, source``.

    Raises
    ------
    ValueError
        If ``month`` leaves fewer than three months after it (the quarterly exit rate
        looks three months ahead).

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.simulation import calibration_report
    >>> report = calibration_report(ni.simulate(n_households=300, months=12, seed=0))
    >>> report[["target", "published", "tolerance"]].head(3)
                       target  published  tolerance
    0     mean_household_size       2.62       0.15
    1  urban_population_share       0.64       0.03
    2    dibao_standard_urban     788.00      24.00
    """
    months = pop.months
    k = months // 2 if month is None else month
    if not 0 <= k < months - 3:
        raise ValueError(
            f"Got month={month!r}; expected a month index in 0..{months - 4} so that the "
            "quarterly exit rate can look three months ahead."
        )
    y, mo = divmod(pop.start.month - 1 + k, 12)
    date = dt.date(pop.start.year + y, mo + 1, 1)
    b = pop.bundle.to_polars()
    people = _people_at(pop.bundle, date)
    regions: pl.DataFrame = b.regions
    truth = pop.truth.monthly.filter(pl.col("month") == date).select("household_id", "in_need")
    dib: pl.DataFrame = b.records.filter(pl.col("kind") == "benefit_dibao").with_columns(
        pl.col("event_date").dt.truncate("1mo").alias("m")
    )

    def recipients_at(d: dt.date) -> pl.DataFrame:
        return dib.filter(pl.col("m") == d).select("household_id", "amount").unique("household_id")

    rec = recipients_at(date).join(people, on="household_id")
    n_people = _sum(people["size"])
    need_people = _sum(people.join(truth, on="household_id").filter(pl.col("in_need"))["size"])
    # quarterly exits: recipients this month with no payment three months later
    later_ids = set(recipients_at(months_after(date, 3))["household_id"].to_list())
    exit_rates = []
    for j in range(max(0, k - 6), min(months - 3, k + 6)):
        d = months_after(pop.start, j)
        ids = recipients_at(d)["household_id"].to_list()
        later_ids = set(recipients_at(months_after(d, 3))["household_id"].to_list())
        if ids:
            exit_rates.append(sum(i not in later_ids for i in ids) / len(ids))

    def avg_pay(urban: bool) -> float:
        r = rec.filter(pl.col("urban") == urban)
        return _sum(r["amount"]) / max(_sum(r["size"]), 1)

    measured = {
        "mean_household_size": _mean(people["size"]),
        "urban_population_share": _sum(people.filter(pl.col("urban"))["size"]) / n_people,
        "dibao_standard_urban": _mean(regions.filter(pl.col("urban"))["dibao_standard"]),
        "dibao_standard_rural": _mean(regions.filter(~pl.col("urban"))["dibao_standard"]),
        "tekun_to_dibao_ratio": _mean(regions["tekun_standard"] / regions["dibao_standard"]),
        "low_income_population_share": need_people / n_people,
        "dibao_rural_share": (
            _sum(rec.filter(~pl.col("urban"))["size"]) / max(_sum(rec["size"]), 1)
        ),
        "dibao_quarterly_exit_rate": float(sum(exit_rates) / max(len(exit_rates), 1)),
        "dibao_share_of_low_income": _sum(rec["size"]) / max(need_people, 1),
        "dibao_avg_payment_urban": avg_pay(True),
        "dibao_avg_payment_rural": avg_pay(False),
    }
    rows = []
    for name, target in load_calibration().items():
        value = measured[name]
        rows.append(
            {
                "target": name,
                "published": target.value,
                "tolerance": target.tolerance,
                "measured": value,
                "within": abs(value - target.value) <= target.tolerance,
                "source": target.source,
            }
        )
    return pd.DataFrame(rows)
