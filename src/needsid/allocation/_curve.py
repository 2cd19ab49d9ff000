"""``budget_curve``: need met against the budget, and what each fairness constraint costs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import polars as pl

from ._catalogue import Catalogue
from ._fairness import NeedFloor
from ._plan import _catalogue, _check_args, _check_floors, _floors
from ._problem import Problem, as_polars, prepare
from ._solve import InfeasibleError, solve

__all__ = ["BudgetCurve", "budget_curve"]

_Frame: TypeAlias = pl.DataFrame | pd.DataFrame


@dataclass(frozen=True, eq=False)
class BudgetCurve:
    """Need met at each budget, without and with each fairness constraint, and its price.

    Returned by :func:`budget_curve`.

    Parameters
    ----------
    table : DataFrame
        One row per budget and constraint (``"none"``: no fairness constraint; one row
        per constraint alone; ``"all"``: all together when there are several): budget,
        constraint, need_met, share_met (of the total estimated need), cost, price (need
        met lost against ``"none"`` at the same budget), price_low and price_high (the
        bootstrap interval, null without a bootstrap) and status (``"optimal"``,
        ``"infeasible"``, ...). pandas if the scores were pandas, polars otherwise.
    total_need : float
        Estimated need of all households.
    n_bootstrap : int
        Bootstrap replicates behind the price intervals (0: none).
    confidence : float
        Level of the intervals.

    Examples
    --------
    >>> import polars as pl
    >>> from needsid.allocation import NeedFloor, budget_curve, load_catalogue
    >>> scores = pl.DataFrame({"household_id": ["a", "b", "c", "d"],
    ...                        "region_id": ["R1", "R1", "R2", "R2"],
    ...                        "need_health": [0.9, 0.8, 0.3, 0.1],
    ...                        "net_income_pc": [300.0] * 4, "dibao_standard": [700.0] * 4})
    >>> curve = budget_curve(scores, load_catalogue().select(["medical_assistance"]),
    ...                      [300, 600], fairness=NeedFloor("region_id", 0.5))
    >>> table = curve.to_frame().select("budget", "constraint", "need_met", "price")
    >>> table.with_columns(pl.col("need_met", "price").round(2)).rows()
    ... # doctest: +NORMALIZE_WHITESPACE
    [(300.0, 'none', 0.9, 0.0), (300.0, 'NeedFloor(region_id, 50% of need)', None, None),
     (600.0, 'none', 1.7, 0.0), (600.0, 'NeedFloor(region_id, 50% of need)', 1.2, 0.5)]
    """

    table: _Frame
    total_need: float
    n_bootstrap: int
    confidence: float

    def to_frame(self) -> _Frame:
        """Return the curve as a table (a copy).

        Returns
        -------
        DataFrame
            The ``table``, pandas or polars as the scores were.

        Examples
        --------
        >>> import polars as pl
        >>> from needsid.allocation import budget_curve, load_catalogue
        >>> scores = pl.DataFrame({"household_id": ["a", "b"], "need_health": [0.9, 0.4],
        ...                        "net_income_pc": [300.0] * 2, "dibao_standard": [700.0] * 2})
        >>> curve = budget_curve(scores, load_catalogue().select(["medical_assistance"]),
        ...                      [0, 300, 600])
        >>> curve.to_frame()["need_met"].round(2).to_list()
        [0.0, 0.9, 1.3]
        """
        return self.table.copy() if isinstance(self.table, pd.DataFrame) else self.table.clone()


def _need_met(
    problem: Problem, budget: float, floors: Sequence[NeedFloor], **options: Any
) -> tuple[float | None, float | None, str]:
    """Return need met, cost and status of the best plan; None and "infeasible" if none."""
    if len(problem.pair_cost) == 0 or budget < problem.pair_cost.min():  # nothing affordable
        if any(f.share > 0 for f in floors):
            return None, None, "infeasible"
        return 0.0, 0.0, "optimal"
    try:
        _check_floors(problem, budget, floors)
        solution = solve(problem, budget, floors, canonical=False, **options)
    except InfeasibleError:
        return None, None, "infeasible"
    cost = float(problem.pair_cost[solution.chosen].sum())
    return solution.need_met, cost, solution.status.split(":")[0]


def budget_curve(
    need_scores: _Frame,
    catalogue: Catalogue | str | os.PathLike[str] | None,
    budgets: Sequence[float],
    *,
    fairness: NeedFloor | Sequence[NeedFloor] | None = None,
    n_bootstrap: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
    time_limit: float | None = None,
    mip_gap: float = 1e-3,
) -> BudgetCurve:
    """Trace need met against the budget and price each fairness constraint.

    At each budget, :func:`allocate`'s problem is solved without fairness constraints,
    with each constraint alone and, when there are several, with all of them. A
    constraint's **price** is the expected need met it costs at that budget: need met
    without it minus need met with it (0 when it does not bind; null where it is
    infeasible).

    With ``n_bootstrap > 0``, the households are resampled with replacement
    ``n_bootstrap`` times (seeded) and every solve is repeated on each replicate; the
    price interval is the percentile interval of the replicates' prices. Each replicate
    costs ``len(budgets) * (1 + number of constraints)`` integer solves, so a few dozen
    replicates (e.g. 50) on a few thousand households is the intended use.

    Parameters
    ----------
    need_scores : pandas.DataFrame or polars.DataFrame
        As for :func:`allocate`.
    catalogue : Catalogue, str, os.PathLike or None
        As for :func:`allocate`.
    budgets : sequence of float
        Monthly budgets, yuan, each 0 or more.
    fairness : NeedFloor or list of NeedFloor, optional
        The constraints to price.
    n_bootstrap : int, default 0
        Bootstrap replicates for the price intervals (0: no intervals).
    confidence : float, default 0.95
        Level of the intervals.
    seed : int, default 0
        Seed of the resampling.
    time_limit : float, optional
        Seconds HiGHS may take for each solve.
    mip_gap : float, default 1e-3
        HiGHS's relative gap at which each integer solve stops.

    Returns
    -------
    BudgetCurve
        One row per budget and constraint; see :class:`BudgetCurve`.

    Raises
    ------
    ValueError
        On the input problems :func:`allocate` reports, an empty ``budgets`` or a bad
        ``n_bootstrap`` or ``confidence``.

    Examples
    --------
    >>> import polars as pl
    >>> from needsid.allocation import NeedFloor, budget_curve, load_catalogue
    >>> scores = pl.DataFrame({"household_id": list("abcdef"),
    ...                        "region_id": ["R1"] * 3 + ["R2"] * 3,
    ...                        "need_health": [0.9, 0.8, 0.7, 0.4, 0.2, 0.1],
    ...                        "net_income_pc": [300.0] * 6, "dibao_standard": [700.0] * 6})
    >>> curve = budget_curve(scores, load_catalogue().select(["medical_assistance"]),
    ...                      [900], fairness=NeedFloor("region_id", 0.3), n_bootstrap=20)
    >>> row = curve.to_frame().row(1, named=True)
    >>> round(row["price"], 2), row["price_low"] <= row["price"] <= row["price_high"]
    (0.3, True)
    """
    if not isinstance(budgets, Sequence | np.ndarray) or len(budgets) == 0:
        raise ValueError(f"Got budgets={budgets!r}; expected a list of budgets, e.g. [1e5, 2e5].")
    values = [_check_args(b, "expected_need_met", time_limit, mip_gap) for b in budgets]
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ValueError(f"Got n_bootstrap={n_bootstrap!r}; expected 0 or more, e.g. 50.")
    if not 0 < confidence < 1:
        raise ValueError(f"Got confidence={confidence!r}; expected a level in (0, 1), e.g. 0.95.")
    floors = _floors(fairness)
    frame, backend = as_polars(need_scores)
    problem = prepare(frame, _catalogue(catalogue), floors)
    variants: list[tuple[str, tuple[NeedFloor, ...]]] = [("none", ())]
    variants += [(f.describe(), (f,)) for f in floors]
    if len(floors) > 1:
        variants.append(("all", floors))
    options = {"time_limit": time_limit, "mip_gap": mip_gap}

    rows = []
    for b in values:
        base = None
        for name, kept in variants:
            met, cost, status = _need_met(problem, b, kept, **options)
            base = met if name == "none" else base
            price = None if met is None or base is None else base - met
            rows.append((b, name, met, cost, price, status))
    low = np.full(len(rows), np.nan)
    high = np.full(len(rows), np.nan)
    if n_bootstrap:
        rng = np.random.default_rng(seed)
        prices = np.full((n_bootstrap, len(rows)), np.nan)
        for r in range(n_bootstrap):
            replicate = problem.take(rng.integers(0, problem.n, problem.n))
            i = 0
            for b in values:
                base = None
                for name, kept in variants:
                    met = _need_met(replicate, b, kept, **options)[0]
                    base = met if name == "none" else base
                    if met is not None and base is not None:
                        prices[r, i] = base - met
                    i += 1
        alpha = (1 - confidence) / 2
        for i in range(len(rows)):
            done = prices[:, i][~np.isnan(prices[:, i])]
            if len(done):
                low[i], high[i] = np.quantile(done, [alpha, 1 - alpha])
    table = pl.DataFrame(
        rows,
        schema={
            "budget": pl.Float64,
            "constraint": pl.String,
            "need_met": pl.Float64,
            "cost": pl.Float64,
            "price": pl.Float64,
            "status": pl.String,
        },
        orient="row",
    ).with_columns(
        (pl.col("need_met") / problem.total_need if problem.total_need else pl.lit(0.0)).alias(
            "share_met"
        ),
        pl.Series("price_low", low).fill_nan(None),
        pl.Series("price_high", high).fill_nan(None),
    )
    table = table.select(
        "budget",
        "constraint",
        "need_met",
        "share_met",
        "cost",
        "price",
        "price_low",
        "price_high",
        "status",
    )
    return BudgetCurve(
        table=table.to_pandas() if backend == "pandas" else table,
        total_need=problem.total_need,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
    )
