"""Need by dimension from what a county holds: the records, with income from casework."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import polars as pl

from ..data import HouseholdData
from ._labels import make

__all__ = ["NEED_INCOME_SOURCES", "make_needs"]

#: Where :func:`make_needs` takes the income dimension's labels from.
NEED_INCOME_SOURCES = ("pu", "verified", "records")
_DIMENSIONS = ("income", "health", "education", "care", "housing", "employment")


def make_needs(
    data: Any,
    as_of: str | dt.date,
    horizon_months: int = 6,
    *,
    income: str = "pu",
    features: pl.DataFrame | pd.DataFrame | None = None,
    random_state: int = 0,
) -> pl.DataFrame | pd.DataFrame:
    """Label need in each dimension over ``[as_of, as_of + horizon_months)`` from a bundle.

    The training labels of :class:`needsid.models.NeedProfileModel` that a county has:
    health, education, care, housing and employment as its records show them
    (``make(..., source="records")``), and income as its own casework assessed it.
    Wage records alone miss informal income, so "low wages on record" marks far more
    households than are poor; the verification and review outcomes measure income.

    Parameters
    ----------
    data : HouseholdData or SimulatedPopulation
        The bundle (a simulated population's bundle is used; its truth is not read).
    as_of : str or datetime.date
        First day of the labels' window (a month's first day).
    horizon_months : int, default=6
        Months in the window.
    income : {"pu", "verified", "records"}, default="pu"
        ``"pu"``: every household, the verified in need positive and the rest
        unlabeled, with the selection-aware weights of ``make(..., source="pu")`` in
        ``weight_income``, so the fitted probability is calibrated to the whole
        population. ``"verified"``: the assessed households only (null elsewhere;
        calibrated to who gets assessed). ``"records"``: income on record below the
        low-income line (null without income evidence).
    features : DataFrame, optional
        Features at ``as_of`` for the ``"pu"`` propensities (default: built).
    random_state : int, default=0
        Seeds the ``"pu"`` propensity models.

    Returns
    -------
    polars.DataFrame or pandas.DataFrame
        Of the bundle's frame type: ``household_id``, ``need_<dimension>`` for the six
        dimensions (null where unknown), ``weight_income`` (the income labels' weights;
        0 where a row carries no income label) and ``income_source``.

    Raises
    ------
    ValueError
        A bad ``income``, date or horizon; a bundle without the casework records that
        ``"pu"`` and ``"verified"`` read.

    See Also
    --------
    needsid.models.need_targets, needsid.models.need_weights : Its columns, for ``fit``.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=300, months=24, seed=0)
    >>> y = ni.labels.make_needs(pop.bundle, "2023-07-01", 6)
    >>> y.columns  # doctest: +NORMALIZE_WHITESPACE
    ['household_id', 'need_income', 'need_health', 'need_education', 'need_care',
     'need_housing', 'need_employment', 'weight_income', 'income_source']
    >>> bool(y["weight_income"].min() >= 0)
    True
    """
    if income not in NEED_INCOME_SOURCES:
        raise ValueError(f"Got income={income!r}; expected one of {NEED_INCOME_SOURCES}.")
    bundle = getattr(data, "bundle", data)
    if not isinstance(bundle, HouseholdData):
        raise TypeError(
            f"Got data of type {type(data).__name__}; expected a HouseholdData bundle or a "
            "simulated population."
        )
    records = make(bundle, as_of, horizon_months, source="records")
    rec = records if isinstance(records, pl.DataFrame) else pl.from_pandas(records)
    out = rec.select("household_id", *[f"need_{d}" for d in _DIMENSIONS])
    if income == "records":
        out = out.with_columns(
            weight_income=pl.when(pl.col("need_income").is_null()).then(0.0).otherwise(1.0)
        )
    else:
        kwargs: dict[str, Any] = {}
        if income == "pu":
            kwargs = {"features": features, "random_state": random_state}
        case = make(bundle, as_of, horizon_months, source=income, **kwargs)
        case = case if isinstance(case, pl.DataFrame) else pl.from_pandas(case)
        case = case.select(
            "household_id",
            pl.col("in_need").alias("need_income"),
            pl.col("weight").cast(pl.Float64).fill_null(0.0).alias("weight_income"),
        )
        if income == "verified":  # selective labels, unweighted
            case = case.with_columns(
                weight_income=pl.when(pl.col("need_income").is_null()).then(0.0).otherwise(1.0)
            )
        out = (
            out.drop("need_income")
            .join(case, on="household_id", how="left")
            .with_columns(pl.col("weight_income").fill_null(0.0))
            .select("household_id", *[f"need_{d}" for d in _DIMENSIONS], "weight_income")
        )
    out = out.with_columns(pl.lit(income).alias("income_source")).sort("household_id")
    return out if isinstance(bundle.households, pl.DataFrame) else out.to_pandas()
