"""``allocate``: who gets which programme under a monthly budget, as an ``AllocationPlan``."""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import polars as pl

from .._dates import as_date
from ._catalogue import Catalogue, load_catalogue
from ._fairness import NeedFloor
from ._problem import Problem, as_polars, prepare
from ._solve import InfeasibleError, need_met, solve

__all__ = ["OBJECTIVES", "AllocationPlan", "allocate"]

#: What an allocation maximises (one objective today; the keyword leaves room for more).
OBJECTIVES = ("expected_need_met",)
_Frame: TypeAlias = pl.DataFrame | pd.DataFrame


@dataclass(frozen=True, eq=False)
class AllocationPlan:
    """Who gets which programme, what it costs and how much need it meets.

    Returned by :func:`allocate`; the tables are pandas if the scores were pandas,
    polars otherwise.

    Parameters
    ----------
    assignments : DataFrame
        One row per household and programme given: household_id, region_id (when the
        scores have it), programme_id, monthly_cost (yuan) and expected_need_met.
    summary : DataFrame
        Per programme and region: households, cost and need_met.
    objective : float
        Expected need met by the plan (the sum of ``expected_need_met``).
    bound : float
        The LP relaxation's objective: no plan meets more need.
    gap : float
        ``(bound - objective) / bound``, 0 when the bound is 0.
    status : str
        HiGHS's status of the integer solve, e.g. ``"optimal: ..."`` or ``"time limit:
        ..."``, and how many households reduced-cost fixing decided.
    budget : float
        The monthly budget, yuan.
    cost : float
        What the plan spends a month, yuan.
    total_need : float
        Estimated need of all households (the sum of their probabilities).
    as_of : datetime.date or None
        The date the plan is for.
    fairness : tuple of NeedFloor
        The fairness constraints it meets.
    catalogue : Catalogue
        The catalogue used.

    Examples
    --------
    >>> import polars as pl
    >>> from needsid.allocation import allocate, load_catalogue
    >>> catalogue = load_catalogue().select(["medical_assistance"])
    >>> scores = pl.DataFrame({"household_id": ["a", "b", "c"], "need_health": [0.9, 0.2, 0.6],
    ...                        "net_income_pc": [300.0, 400.0, 500.0],
    ...                        "dibao_standard": [700.0, 700.0, 700.0]})
    >>> plan = allocate(scores, catalogue, budget=600)
    >>> plan.assignments["household_id"].to_list(), round(plan.objective, 2), plan.cost
    (['a', 'c'], 1.5, 600.0)
    """

    assignments: _Frame
    summary: _Frame
    objective: float
    bound: float
    gap: float
    status: str
    budget: float
    cost: float
    total_need: float
    as_of: dt.date | None
    fairness: tuple[NeedFloor, ...]
    catalogue: Catalogue

    def to_frame(self) -> _Frame:
        """Return the assignments with the programmes' names and the plan's date.

        Returns
        -------
        DataFrame
            The assignments plus name_zh, name_en and as_of (pandas or polars, as the
            scores were).

        Examples
        --------
        >>> import polars as pl
        >>> from needsid.allocation import allocate, load_catalogue
        >>> scores = pl.DataFrame({"household_id": ["a"], "need_health": [0.9],
        ...                        "net_income_pc": [300.0], "dibao_standard": [700.0]})
        >>> plan = allocate(scores, load_catalogue().select(["medical_assistance"]), 300,
        ...                 as_of="2025-01-01")
        >>> plan.to_frame().select("household_id", "name_en", "as_of").row(0)
        ('a', 'Medical assistance', datetime.date(2025, 1, 1))
        """
        frame = _to_polars(self.assignments)
        names = self.catalogue.to_frame().select("id", "name_zh", "name_en")
        names = names.rename({"id": "programme_id"})
        out = frame.join(names, on="programme_id", how="left", maintain_order="left")
        out = out.with_columns(pl.lit(self.as_of, pl.Date).alias("as_of"))
        return out.to_pandas() if isinstance(self.assignments, pd.DataFrame) else out


def _to_polars(frame: _Frame) -> pl.DataFrame:
    return pl.from_pandas(frame) if isinstance(frame, pd.DataFrame) else frame


def _floors(fairness: NeedFloor | Sequence[NeedFloor] | None) -> tuple[NeedFloor, ...]:
    floors = (fairness,) if isinstance(fairness, NeedFloor) else tuple(fairness or ())
    bad = [f for f in floors if not isinstance(f, NeedFloor)]
    if bad:
        raise TypeError(
            f"Got fairness={fairness!r}; expected a NeedFloor or a list of them, e.g. "
            "[NeedFloor(group='region_id', share=0.3)]."
        )
    return floors


def _catalogue(catalogue: Catalogue | str | os.PathLike[str] | None) -> Catalogue:
    return catalogue if isinstance(catalogue, Catalogue) else load_catalogue(catalogue)


def _check_budget(problem: Problem, budget: float) -> None:
    if len(problem.pair_cost) == 0:
        raise ValueError(
            "No household of need_scores is eligible for a programme of the catalogue that "
            "serves a need it has (probability > 0); check the eligibility tests and the "
            "columns they read."
        )
    j = int(np.argmin(problem.pair_cost))
    cheapest = problem.pair_cost[j]
    if budget < cheapest:
        p = problem.catalogue.programmes[problem.pair_programme[j]]
        raise ValueError(
            f"Got budget={budget:g}, below the cheapest eligible package: {p.id!r} "
            f"({p.name_en}) at {cheapest:,.2f} yuan a month for household "
            f"{problem.ids[problem.pair_household[j]]!r}, so no household can be helped. "
            f"Raise the budget to at least {cheapest:,.2f}."
        )


def _min_costs(
    group: np.ndarray, value: np.ndarray, cost: np.ndarray, floor: np.ndarray
) -> np.ndarray:
    """Least cost of reaching each group's ``floor`` with fractions of its items.

    Items taken best need per yuan first (the fractional knapsack): a lower bound on what
    whole packages cost, since an item's value is at least what it adds to a plan.
    """
    order = np.lexsort((cost / np.maximum(value, 1e-300), group))
    group, value, cost = group[order], value[order], cost[order]
    edges = np.searchsorted(group, np.arange(len(floor) + 1))
    out = np.zeros(len(floor))
    for g in np.nonzero(floor > 0)[0]:
        v, c = value[edges[g] : edges[g + 1]], cost[edges[g] : edges[g + 1]]
        reached = np.cumsum(v)
        i = int(np.searchsorted(reached, floor[g]))
        if i >= len(v):
            out[g] = math.inf
            continue
        before = reached[i - 1] if i else 0.0
        out[g] = c[:i].sum() + c[i] * (floor[g] - before) / v[i]
    return out


def _check_floors(problem: Problem, budget: float, floors: Sequence[NeedFloor]) -> None:
    """Find floors no plan can meet, before solving (necessary conditions only)."""
    ok = problem.pair_cost <= budget
    hh, pg, cost = problem.pair_household[ok], problem.pair_programme[ok], problem.pair_cost[ok]
    servable = np.zeros(problem.need.shape)
    np.add.at(servable, hh, problem.serves[pg])
    reach = (problem.need * (servable > 0)).sum(axis=1)
    # a pair's need met if it were the household's only programme: never less than it adds
    value = (problem.need[hh] * problem.serves[pg]).sum(axis=1)
    for f in floors:
        codes, names = problem.groups[f.group]
        floor = f.share * np.bincount(codes, problem.need.sum(axis=1), len(names))
        most = np.bincount(codes, reach, len(names))
        short = np.nonzero(floor > most + 1e-9 * (1 + most))[0]
        if len(short):
            g = short[0]
            raise InfeasibleError(
                f"{f.describe()} cannot be met for {f.group}={names[g]!r}"
                f"{f' and {len(short) - 1} other groups' if len(short) > 1 else ''}: its floor "
                f"is {floor[g]:.4g} expected needs, but every programme its households are "
                f"eligible for within budget={budget:g} would meet at most {most[g]:.4g}. "
                "Lower share or widen eligibility."
            )
        least = _min_costs(codes[hh], value, cost, floor)
        if least.sum() > budget * (1 + 1e-9) + 1e-9:
            worst = np.argsort(-least, kind="stable")[:3]
            costly = ", ".join(f"{f.group}={names[g]!r} ({least[g]:,.0f})" for g in worst)
            raise InfeasibleError(
                f"{f.describe()} needs at least {least.sum():,.0f} yuan a month (the cheapest "
                f"way to reach each group's floor), more than budget={budget:g}; the costliest "
                f"groups: {costly}. Lower share or raise the budget."
            )


def _check_args(budget: Any, objective: str, time_limit: Any, mip_gap: Any) -> float:
    if isinstance(budget, bool) or not isinstance(budget, int | float | np.number):
        raise TypeError(f"Got budget={budget!r}; expected yuan per month, e.g. 500_000.")
    if not (math.isfinite(budget) and budget >= 0):
        raise ValueError(f"Got budget={budget!r}; expected a finite amount, 0 or more.")
    if objective not in OBJECTIVES:
        raise ValueError(f"Got objective={objective!r}; expected one of {OBJECTIVES}.")
    if time_limit is not None and not (isinstance(time_limit, int | float) and time_limit > 0):
        raise ValueError(f"Got time_limit={time_limit!r}; expected seconds > 0, or None.")
    if not (isinstance(mip_gap, int | float) and 0 <= mip_gap < 1):
        raise ValueError(f"Got mip_gap={mip_gap!r}; expected a number in [0, 1), e.g. 1e-3.")
    return float(budget)


def _tables(
    problem: Problem, chosen: np.ndarray, regions: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    pairs = np.nonzero(chosen)[0]
    households = problem.pair_household[pairs]
    frame = pl.DataFrame(
        {
            "household_id": pl.Series(problem.ids[households], dtype=pl.String),
            "region_id": pl.Series(
                [problem.region_names[r] for r in problem.region[households]]
                if regions and problem.region is not None
                else [None] * len(pairs),
                dtype=pl.String,
            ),
            "programme_id": [problem.catalogue.ids[i] for i in problem.pair_programme[pairs]],
            "monthly_cost": problem.pair_cost[pairs],
            "expected_need_met": need_met(problem, chosen)[pairs],
        }
    )
    order = {p: i for i, p in enumerate(problem.catalogue.ids)}
    summary = (
        frame.with_columns(pl.lit(1).alias("households"))
        .group_by("programme_id", "region_id")
        .agg(
            pl.col("households").sum(),
            pl.col("monthly_cost").sum().alias("cost"),
            pl.col("expected_need_met").sum().alias("need_met"),
        )
        .sort(pl.col("programme_id").replace_strict(order, return_dtype=pl.Int64), "region_id")
    )
    if not regions:
        frame, summary = frame.drop("region_id"), summary.drop("region_id")
    return frame, summary


def allocate(
    need_scores: _Frame,
    catalogue: Catalogue | str | os.PathLike[str] | None,
    budget: float,
    *,
    as_of: str | dt.date | None = None,
    fairness: NeedFloor | Sequence[NeedFloor] | None = None,
    objective: str = "expected_need_met",
    time_limit: float | None = None,
    mip_gap: float = 1e-3,
) -> AllocationPlan:
    """Give programmes to households to meet the most expected need within a budget.

    **Expected need met.** A household given programme ``p`` has each need dimension
    ``p`` serves met. A plan's expected need met is the sum, over households and need
    dimensions, of ``P(need_d)`` for every dimension at least one of the household's
    programmes serves: a need met twice counts once, and all dimensions weigh the same.
    An assignment's ``expected_need_met`` is its share of that (a need two of the
    household's programmes serve is split evenly between them).

    **The programme.** Maximise expected need met subject to: total monthly cost <=
    ``budget``; each programme's capacity in each region; no household gets two
    programmes that exclude each other; only eligible households get a programme; and
    the ``fairness`` floors. Each household chooses one *package* (a set of programmes
    it is eligible for with no exclusion inside; dominated packages dropped), which makes
    the need met of a choice exact and linear. The LP relaxation (``scipy.optimize.
    linprog``, HiGHS) gives the ``bound``; reduced-cost fixing against the rounded LP
    plan decides the households whose choice no better plan can change (an exact
    reduction); ``scipy.optimize.milp`` (HiGHS branch and cut) solves the rest, sparse
    throughout. The plan's ``gap`` is measured against the LP bound, so it includes the
    integrality gap: on a few hundred households, whole programmes that do not fit the
    budget exactly can leave more than ``mip_gap``.

    **Expressions.** Eligibility tests and cost formulas are expressions over the
    columns of ``need_scores``: column names, numbers, quoted text, ``+ - * /``,
    comparisons (chains too), ``and``/``or``/``not``, parentheses and ``min``, ``max``,
    ``abs``. They are parsed, never run as Python. A test that is null (a column read
    is null) is false.

    **Ties.** Households that are interchangeable (the same packages at the same need
    met and cost, fairness groups and, when a programme has a capacity, region) get the
    packages in household_id order. With one programme at a fixed cost, no other
    constraint and ``mip_gap=0``, the plan is the top ``budget // cost`` households by
    probability, the earlier household_id first among equal probabilities.

    Parameters
    ----------
    need_scores : pandas.DataFrame or polars.DataFrame
        One row per household: ``household_id``; ``need_<dimension>`` probabilities in
        [0, 1] for every dimension the catalogue serves (e.g. from a need-profile model);
        ``region_id`` when a programme has a capacity; the fairness groups' columns; and
        every column the catalogue's tests and costs read (the default catalogue reads
        features of :func:`needsid.features.build` and the region's ``dibao_standard``).
    catalogue : Catalogue, str, os.PathLike or None
        The programmes (:func:`load_catalogue`), a YAML path, or None for the default.
    budget : float
        Yuan per month, 0 or more.
    as_of : str or datetime.date, optional
        The date the plan is for; recorded on it.
    fairness : NeedFloor or list of NeedFloor, optional
        Floors on the need met per group (see :class:`NeedFloor`).
    objective : {"expected_need_met"}, default "expected_need_met"
        What to maximise (:data:`OBJECTIVES`).
    time_limit : float, optional
        Seconds the solve may take in all (the LP, then the integer programme); the best
        plan found by then is returned, with its gap and status.
    mip_gap : float, default 1e-3
        Relative gap to the optimum at which the integer solve stops (HiGHS's
        ``mip_rel_gap``, set so that the whole plan is within it); 0 asks for a proven
        optimum.

    Returns
    -------
    AllocationPlan
        The assignments, a summary per programme and region, the objective, bound, gap
        and status.

    Raises
    ------
    ValueError
        Before solving: a missing column (named with the programmes that read it), a
        repeated household_id, a probability outside [0, 1], a cost that is missing or
        negative, a budget below the cheapest eligible package (named).
    InfeasibleError
        A fairness floor that cannot be met (found before solving where possible; else
        the floors whose removal makes the problem feasible are named).
    RuntimeError
        If ``time_limit`` runs out before the LP relaxation is solved or a plan is found.

    Examples
    --------
    >>> import polars as pl
    >>> from needsid.allocation import NeedFloor, allocate, load_catalogue
    >>> catalogue = load_catalogue().select(["medical_assistance"])
    >>> scores = pl.DataFrame({"household_id": ["a", "b", "c", "d"],
    ...                        "region_id": ["R1", "R1", "R2", "R2"],
    ...                        "need_health": [0.9, 0.8, 0.3, 0.1],
    ...                        "net_income_pc": [300.0] * 4, "dibao_standard": [700.0] * 4})
    >>> allocate(scores, catalogue, budget=600).assignments["household_id"].to_list()
    ['a', 'b']
    >>> fair = allocate(scores, catalogue, 600, fairness=NeedFloor("region_id", 0.5))
    >>> fair.assignments["household_id"].to_list(), round(fair.objective, 2)
    (['a', 'c'], 1.2)
    """
    budget = _check_args(budget, objective, time_limit, mip_gap)
    floors = _floors(fairness)
    frame, backend = as_polars(need_scores)
    cat = _catalogue(catalogue)
    problem = prepare(frame, cat, floors)
    _check_budget(problem, budget)
    _check_floors(problem, budget, floors)
    solution = solve(problem, budget, floors, time_limit=time_limit, mip_gap=mip_gap)
    assignments, summary = _tables(problem, solution.chosen, "region_id" in frame.columns)
    bound = max(solution.bound, solution.need_met)
    to = (lambda f: f.to_pandas()) if backend == "pandas" else (lambda f: f)
    return AllocationPlan(
        assignments=to(assignments),
        summary=to(summary),
        objective=solution.need_met,
        bound=bound,
        gap=(bound - solution.need_met) / bound if bound > 0 else 0.0,
        status=solution.status,
        budget=budget,
        cost=float(problem.pair_cost[solution.chosen].sum()),
        total_need=problem.total_need,
        as_of=None if as_of is None else as_date(as_of),
        fairness=floors,
        catalogue=cat,
    )
