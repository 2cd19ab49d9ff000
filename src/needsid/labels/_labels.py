"""Point-in-time labels over ``(as_of, as_of + horizon]`` and the simulator's oracle."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from ..data import HouseholdData

__all__ = ["make"]

BENEFIT_KINDS = ("benefit_dibao", "benefit_tekun", "benefit_temporary")


def _as_date(as_of) -> dt.date:
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    try:
        return dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise ValueError(f"Got as_of={as_of!r}; expected a date such as '2025-01-01'.") from None


def _month_index(start: dt.date, d: dt.date) -> int:
    return (d.year - start.year) * 12 + d.month - start.month


def make(data, as_of, horizon_months: int = 6):
    """Label households alive at ``as_of`` by need in the ``horizon_months`` that follow.

    Parameters
    ----------
    data : SimulatedPopulation or HouseholdData
        A simulated population gives true labels from its ground truth; a plain bundle
        gives a proxy label (the household received dibao, tekun or temporary assistance
        in the window), which measures the status quo, not need.
    as_of : date or str
        First day of a month; labels look only at the months from ``as_of`` up to
        ``as_of + horizon_months``.
    horizon_months : int, default=6
        Length of the label window.

    Returns
    -------
    DataFrame
        Of the bundle's frame type. On a simulated population: ``household_id, in_need``,
        ``need_<dimension>`` for each dimension, and ``p_need``, the exact probability of
        ``in_need`` given the simulator's latent state in the month before ``as_of``.
        On a bundle: ``household_id, in_need``.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=200, months=12, seed=0)
    >>> y = ni.labels.make(pop, as_of="2023-07-01", horizon_months=3)
    >>> {"household_id", "in_need", "p_need"} <= set(y.columns)
    True
    >>> bool(y["p_need"].is_between(0, 1).all())
    True
    """
    as_of = _as_date(as_of)
    if as_of.day != 1:
        raise ValueError(
            f"Got as_of={as_of.isoformat()!r}; labels are monthly, so as_of must be the "
            f"first day of a month, e.g. '{as_of.replace(day=1).isoformat()}'."
        )
    if not isinstance(horizon_months, int | np.integer) or horizon_months < 1:
        raise ValueError(
            f"Got horizon_months={horizon_months!r}; expected a positive number of months, e.g. 6."
        )
    # imported here: simulation imports data, labels must not import simulation at load
    from ..simulation import SimulatedPopulation

    if isinstance(data, SimulatedPopulation):
        return _from_truth(data, as_of, int(horizon_months))
    if isinstance(data, HouseholdData):
        return _from_records(data, as_of, int(horizon_months))
    raise TypeError(
        f"Got data of type {type(data).__name__}; expected a SimulatedPopulation or HouseholdData."
    )


def _from_truth(pop, as_of: dt.date, h: int):
    a = _month_index(pop.start, as_of)
    if a < 1 or a + h > pop.months:
        last = _shift(pop.start, pop.months - h)
        raise ValueError(
            f"Got as_of={as_of.isoformat()!r} with horizon_months={h}; the simulation covers "
            f"{pop.start.isoformat()} to {pop.end.isoformat()}, so as_of must lie in "
            f"{_shift(pop.start, 1).isoformat()} .. {last.isoformat()}."
        )
    monthly = pop.truth.monthly
    before = _shift(pop.start, a - 1)
    window_end = _shift(pop.start, a + h)
    hh = pop.bundle.to_polars().households
    alive = hh.filter(
        (pl.col("formed_on") < as_of)
        & (pl.col("dissolved_on").is_null() | (pl.col("dissolved_on") >= as_of))
    ).select("household_id")
    state = monthly.filter(pl.col("month") == before).select("household_id", "state")
    base = alive.join(state, on="household_id", how="inner")
    need_cols = [c for c in monthly.columns if c.startswith("need_")]
    window = (
        monthly.filter((pl.col("month") >= as_of) & (pl.col("month") < window_end))
        .group_by("household_id")
        .agg(pl.col("in_need").any(), *[pl.col(c).any() for c in need_cols])
    )
    out = base.join(window, on="household_id", how="left").with_columns(
        pl.col(c).fill_null(False) for c in ["in_need", *need_cols]
    )
    params = out.select("household_id").join(pop.truth.households, on="household_id", how="left")
    p = _absorption_probability(out["state"].to_numpy(), params, h)
    out = out.with_columns(pl.Series("p_need", p)).drop("state").sort("household_id")
    return _as_frame_of(pop.bundle, out)


def _absorption_probability(state: np.ndarray, params: pl.DataFrame, h: int) -> np.ndarray:
    """P(the chain visits the poor state within ``h`` months | current state)."""
    n = len(state)
    T = np.empty((n, 3, 3))
    g = {k: params[k].to_numpy() for k in ("t01", "t02", "t10", "t12", "t20", "t21")}
    T[:, 0, 1], T[:, 0, 2] = g["t01"], g["t02"]
    T[:, 0, 0] = 1 - g["t01"] - g["t02"]
    T[:, 1, 0], T[:, 1, 2] = g["t10"], g["t12"]
    T[:, 1, 1] = 1 - g["t10"] - g["t12"]
    T[:, 2, 0], T[:, 2, 1] = g["t20"], g["t21"]
    T[:, 2, 2] = 1 - g["t20"] - g["t21"]
    q = np.zeros((n, 3))
    q[np.arange(n), state.astype(int)] = 1.0
    absorbed = np.zeros(n)
    for _ in range(h):
        q = np.einsum("ni,nij->nj", q, T)
        absorbed += q[:, 2]
        q[:, 2] = 0.0
    return np.clip(absorbed, 0.0, 1.0)


def _from_records(bundle: HouseholdData, as_of: dt.date, h: int):
    b = bundle.to_polars()
    end = _shift(as_of, h)
    alive = b.households.filter(
        (pl.col("formed_on") < as_of)
        & (pl.col("dissolved_on").is_null() | (pl.col("dissolved_on") >= as_of))
    ).select("household_id")
    got = (
        b.records.filter(
            pl.col("kind").is_in(BENEFIT_KINDS)
            & (pl.col("event_date") >= as_of)
            & (pl.col("event_date") < end)
        )
        .select("household_id")
        .unique()
        .with_columns(pl.lit(True).alias("in_need"))
    )
    out = (
        alive.join(got, on="household_id", how="left")
        .with_columns(pl.col("in_need").fill_null(False))
        .sort("household_id")
    )
    return _as_frame_of(bundle, out)


def _as_frame_of(bundle: HouseholdData, out: pl.DataFrame):
    native = bundle.households
    if isinstance(native, pl.DataFrame):
        return out
    return out.to_pandas()


def _shift(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 + k, 12)
    return dt.date(d.year + y, m + 1, 1)
