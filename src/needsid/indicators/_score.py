"""Points and warning levels: which indicators fire, month by month, and how points fade.

Definitions:

- An indicator *fires* at a date ``d`` for a household alive at ``d`` when its feature
  condition holds on ``needsid.features.build(bundle, d)`` or its rule hits the
  household at ``d`` (``suppress=False``). Only records known before ``d`` are read, so
  what fired at ``d`` is what a monthly run at ``d`` saw: a household's history is
  reproducible from the records alone.
- At ``as_of``, an indicator that last fired ``k`` months before (``k = 0``: it fires
  now) contributes ``points * weight(k)``, a linear fade ``1 - k / decay_months`` that
  reaches 0 at ``k = decay_months`` (see :meth:`Indicator.weight`). Each indicator counts
  once, from its latest firing: a condition that holds for a year is not counted twelve
  times. Points of different indicators add up.
- The level is the highest of the level the total reaches (the register's thresholds)
  and the ``level`` of every indicator that fires now (a trigger's floor; a faded
  indicator adds points, not a floor).

The feature builder builds at one date per call, so the firing is evaluated once per
date needed: ``as_of`` and the ``max(decay_months) - 1`` month-ends before it (one
feature build and one rule evaluation each). :meth:`score_months` evaluates each date
once for all the months asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from .._dates import as_date, months_before
from .._progress import track
from ..data import HouseholdData
from ._conditions import FeatureCondition, RuleCondition
from ._spec import LEVELS

if TYPE_CHECKING:
    from ._register import IndicatorRegister

__all__ = ["IndicatorScores", "score_months"]

POINT_COLUMNS = ("as_of", "household_id", "indicator_id", "months_since", "points")
LEVEL_COLUMNS = ("as_of", "household_id", "total", "n_indicators", "points_level", "level")


@dataclass(frozen=True, repr=False)
class IndicatorScores:
    """Points and warning levels of every household at one or more dates.

    Made by :meth:`IndicatorRegister.score` and :meth:`IndicatorRegister.score_months`;
    the fields are also attributes. Frames are polars whatever the bundle's backend.

    Parameters
    ----------
    points : polars.DataFrame
        One row per household, date and indicator with points (firing or fading):
        ``as_of, household_id, indicator_id, months_since`` (0: fires at ``as_of``) and
        ``points`` (after the fade), by date, household and register order.
    levels : polars.DataFrame
        One row per household alive at each date: ``as_of, household_id, total`` (the
        sum of ``points``; 0 without any), ``n_indicators`` (indicators with points),
        ``points_level`` (the level the total reaches) and ``level`` (with the floors of
        the indicators that fire), by date and household.
    months : tuple of datetime.date
        The dates scored, in order.
    register_id, register_version : str
        The register that scored them.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> scores = ni.indicators.load().score(pop.bundle, "2023-10-01")
    >>> scores.levels.columns
    ['as_of', 'household_id', 'total', 'n_indicators', 'points_level', 'level']
    >>> set(scores.levels["level"]) <= {"none", "yellow", "orange", "red"}
    True
    """

    points: pl.DataFrame
    levels: pl.DataFrame
    months: tuple[dt.date, ...]
    register_id: str
    register_version: str

    def __repr__(self) -> str:
        counts = self.levels.group_by("level").len()
        by = dict(zip(counts["level"].to_list(), counts["len"].to_list(), strict=True))
        shown = ", ".join(f"{lv} {by.get(lv, 0)}" for lv in reversed(LEVELS))
        return (
            f"IndicatorScores(register={self.register_id!r} v{self.register_version}, "
            f"{len(self.months)} month{'s' * (len(self.months) != 1)}, {shown})"
        )

    def level_counts(self) -> pl.DataFrame:
        """Return households per date and level, every level listed.

        Returns
        -------
        polars.DataFrame
            ``as_of, level, n_households``, levels from ``red`` down to ``none``.

        Examples
        --------
        >>> import needsid as ni
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> scores = ni.indicators.load().score(pop.bundle, "2023-10-01")
        >>> counts = scores.level_counts()
        >>> counts["level"].to_list()
        ['red', 'orange', 'yellow', 'none']
        >>> int(counts["n_households"].sum()) == scores.levels.height
        True
        """
        grid = pl.DataFrame({"as_of": list(self.months)}).join(
            pl.DataFrame({"level": list(reversed(LEVELS))}), how="cross"
        )
        counts = self.levels.group_by("as_of", "level").agg(
            pl.len().cast(pl.Int64).alias("n_households")
        )
        return grid.join(counts, on=["as_of", "level"], how="left").with_columns(
            pl.col("n_households").fill_null(0)
        )


@dataclass(frozen=True)
class _Fired:
    """What one evaluation date saw: the households alive, the indicators firing."""

    alive: pl.DataFrame  # household_id
    fired: pl.DataFrame  # household_id, indicator_id


#: Features and unsuppressed hits of the default rule set at a date, computed by a caller
#: that needs them anyway (the monthly monitoring run), so each date is built once.
Inputs = Callable[[dt.date], tuple[pl.DataFrame, pl.DataFrame]]


def _evaluate(
    register: IndicatorRegister, bundle: HouseholdData, d: dt.date, inputs: Inputs | None = None
) -> _Fired:
    """Evaluate every indicator of the register at one date."""
    from .. import features
    from ..rules import load as load_rules

    given = inputs(d) if inputs is not None else None
    X = given[0] if given is not None else features.build(bundle, d)
    alive = X.select("household_id")
    frames = []
    by_feature = [
        (i.id, i.definition)
        for i in register.indicators
        if isinstance(i.definition, FeatureCondition)
    ]
    if by_feature:
        wide = X.select("household_id", *[cond.expr().alias(iid) for iid, cond in by_feature])
        frames.append(
            wide.unpivot(index="household_id", variable_name="indicator_id", value_name="_on")
            .filter(pl.col("_on"))
            .drop("_on")
        )
    by_rule = [
        (i.id, i.definition.rule)
        for i in register.indicators
        if isinstance(i.definition, RuleCondition)
    ]
    if by_rule:
        if given is not None:
            hits = given[1]
        else:
            rules = load_rules().select(ids={rule for _, rule in by_rule})
            hits = rules.evaluate(bundle, d, suppress=False).to_frame()
            assert isinstance(hits, pl.DataFrame)  # the bundle is polars here
        wanted = pl.DataFrame(by_rule, schema=["indicator_id", "rule_id"], orient="row")
        frames.append(
            hits.select("household_id", "rule_id")
            .unique()
            .join(wanted, on="rule_id")
            .join(alive, on="household_id", how="semi")
            .select("household_id", "indicator_id")
        )
    empty = pl.DataFrame(schema={"household_id": pl.String, "indicator_id": pl.String})
    fired = pl.concat([empty, *[f.cast(pl.String) for f in frames]])
    return _Fired(alive.cast(pl.String), fired.unique())


def _dates(month: dt.date, depth: int) -> list[dt.date]:
    return [months_before(month, k) for k in range(depth)]


def _month(
    register: IndicatorRegister, month: dt.date, seen: dict[dt.date, _Fired], depth: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Points and levels at one month from the evaluations of it and the months before."""
    table = register._table()
    history = pl.concat(
        [
            seen[d].fired.with_columns(months_since=pl.lit(k, pl.Int64))
            for k, d in enumerate(_dates(month, depth))
        ]
    )
    alive = seen[month].alive
    latest = (
        history.join(alive, on="household_id", how="semi")
        .group_by("household_id", "indicator_id")
        .agg(pl.col("months_since").min())
        .join(table, on="indicator_id")
        # 1 - k / decay before decay months (decay 0: only while firing), then nothing
        .filter(pl.col("months_since") < pl.max_horizontal(pl.col("decay_months"), 1))
        .with_columns(
            points=(
                pl.col("base_points")
                * (1 - pl.col("months_since") / pl.max_horizontal(pl.col("decay_months"), 1))
            ).round(6)
        )
    )
    points = latest.sort("household_id", "order").select(
        pl.lit(month, pl.Date).alias("as_of"),
        "household_id",
        "indicator_id",
        "months_since",
        "points",
    )
    floors = (
        latest.filter(pl.col("months_since") == 0)
        .group_by("household_id")
        .agg(pl.col("floor").max())
    )
    totals = latest.group_by("household_id").agg(
        pl.col("points").sum().round(6).alias("total"),
        pl.len().cast(pl.Int64).alias("n_indicators"),
    )
    t = register.thresholds
    rank = (
        pl.when(pl.col("total") >= t.red)
        .then(3)
        .when(pl.col("total") >= t.orange)
        .then(2)
        .when(pl.col("total") >= t.yellow)
        .then(1)
        .otherwise(0)
    )
    names = dict(enumerate(LEVELS))
    levels = (
        alive.join(totals, on="household_id", how="left")
        .join(floors, on="household_id", how="left")
        .with_columns(
            pl.col("total").fill_null(0.0),
            pl.col("n_indicators").fill_null(0),
            pl.col("floor").fill_null(0),
        )
        .with_columns(_rank=rank)
        .with_columns(
            points_level=pl.col("_rank").replace_strict(names, return_dtype=pl.String),
            level=pl.max_horizontal("_rank", "floor").replace_strict(
                names, return_dtype=pl.String
            ),
        )
    )
    levels = levels.sort("household_id").select(
        pl.lit(month, pl.Date).alias("as_of"), *LEVEL_COLUMNS[1:]
    )
    return points, levels


def score_months(
    register: IndicatorRegister,
    bundle: HouseholdData,
    months: Iterable[str | dt.date],
    inputs: Inputs | None = None,
    seen: dict[dt.date, _Fired] | None = None,
) -> IndicatorScores:
    """Score several dates, evaluating each date they need once (see the module).

    ``inputs(d)``, if given, returns the features at ``d`` and the unsuppressed hits of
    the default rule set there (``household_id, rule_id``), instead of building them.
    ``seen`` keeps the evaluated dates between calls (a caller scoring month by month
    evaluates each date once); it is filled in place.
    """
    if not isinstance(bundle, HouseholdData):
        raise TypeError(f"Got bundle of type {type(bundle).__name__}; expected a HouseholdData.")
    if isinstance(months, str | dt.date):
        raise TypeError(
            f"Got months={months!r}; expected a list of dates, e.g. ['2025-01-01'] "
            "(score() takes one date)."
        )
    asked = sorted({as_date(m) for m in months})
    if not asked:
        raise ValueError("Got months=[]; expected at least one date, e.g. ['2025-01-01'].")
    pb = bundle if bundle.backend == "polars" else bundle.to_polars()
    depth = max(1, *(i.decay_months for i in register.indicators))
    needed = sorted({d for m in asked for d in _dates(m, depth)})
    seen = {} if seen is None else seen
    for d in track([d for d in needed if d not in seen], "indicators by month"):
        seen[d] = _evaluate(register, pb, d, inputs)
    parts = [_month(register, m, seen, depth) for m in asked]
    points = pl.concat([p for p, _ in parts])
    levels = pl.concat([lv for _, lv in parts])
    return IndicatorScores(points, levels, tuple(asked), register.id, register.version)
