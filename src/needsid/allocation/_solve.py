"""Solve an allocation: the LP relaxation for the bound, then the integer programme with milp.

Each household picks at most one package (:mod:`._packages`), so a need met twice counts
once and exclusions hold by construction. The steps:

1. the LP relaxation (``linprog``, HiGHS): its objective is the plan's ``bound``, its
   reduced costs say how much need any plan loses by moving a package off its LP value;
2. the LP solution rounded down (a fractional household gets nothing) is a plan; if
   it meets the floors, its need met ``z_inc`` is a lower bound on the optimum;
3. reduced-cost fixing: a package whose reduced cost exceeds ``bound - z_inc`` cannot be
   in any plan better than ``z_inc``, so it is fixed at its LP value (the classic exact
   reduction of branch and bound); households left with one choice are decided;
4. ``milp`` (HiGHS branch and cut) solves the households left, with a relative gap set
   so that the whole plan is within ``mip_gap`` of the bound.

When the rounded plan misses a floor, there is nothing to fix against yet: step 3 starts
from a small threshold (``1e-6 * bound``: a small core) and widens it tenfold until
``milp`` finds a plan (after six rounds, nothing is fixed); unless that plan is already
within ``mip_gap`` of the bound, it is the ``z_inc`` of an exact fixing and one more
solve. Either way the reported gap is measured against the LP bound, never assumed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from ._fairness import NeedFloor
from ._model import Fixed, Model, build, run_lp, run_mip
from ._packages import Packages, packages
from ._problem import Problem

__all__ = ["InfeasibleError", "Solution", "need_met", "solve"]

_STATUS = {0: "optimal", 1: "time limit", 2: "infeasible", 3: "unbounded", 4: "numerical"}
_TOL = 1e-9


class InfeasibleError(ValueError):
    """The budget, capacities and fairness floors cannot all hold.

    A :class:`ValueError`; its message names the fairness constraints involved.

    Examples
    --------
    >>> from needsid.allocation import InfeasibleError
    >>> issubclass(InfeasibleError, ValueError)
    True
    """


InfeasibleError.__module__ = "needsid.allocation"  # where users import it from


@dataclass(frozen=True)
class Solution:
    """The chosen pairs, the need they meet, the LP bound and how the solve went."""

    chosen: np.ndarray
    need_met: float
    bound: float
    status: str


def need_met(problem: Problem, chosen: np.ndarray) -> np.ndarray:
    """Return the expected need met by each chosen pair (a need met twice is split evenly)."""
    n_dims = problem.need.shape[1]
    pairs = np.nonzero(chosen)[0]
    jj, dd = np.nonzero(problem.serves[problem.pair_programme[pairs]])
    hd = problem.pair_household[pairs][jj] * n_dims + dd
    share = problem.need.ravel()[hd] / np.bincount(hd, minlength=problem.n * n_dims)[hd]
    out = np.zeros(len(chosen))
    out[pairs] = np.bincount(jj, weights=share, minlength=len(pairs))
    return out


def _fixed(
    problem: Problem, pk: Packages, taken: np.ndarray, floors: Sequence[NeedFloor]
) -> Fixed:
    """Budget, capacity and need met per group used by the packages ``taken``."""
    n_regions = max(len(problem.region_names), 1)
    capacity = np.zeros((len(problem.catalogue.ids), n_regions))
    if problem.region is not None and len(taken):
        for i in range(len(problem.catalogue.ids)):
            users = taken[pk.members[taken, i]]
            capacity[i] = np.bincount(problem.region[pk.household[users]], minlength=n_regions)
    met = {}
    for f in floors:
        codes, names = problem.groups[f.group]
        met[f.group] = np.bincount(codes[pk.household[taken]], pk.value[taken], len(names))
    return Fixed(cost=float(pk.cost[taken].sum()), capacity=capacity, met=met)


def _meets_floors(
    problem: Problem, pk: Packages, taken: np.ndarray, floors: Sequence[NeedFloor]
) -> bool:
    met = _fixed(problem, pk, taken, floors).met
    need = problem.need.sum(axis=1)
    for f in floors:
        codes, names = problem.groups[f.group]
        floor = f.share * np.bincount(codes, need, len(names))
        if np.any(met[f.group] < floor - _TOL * (1 + floor)):
            return False
    return True


def _diagnosis(
    problem: Problem, pk: Packages, budget: float, floors: Sequence[NeedFloor], integral: bool
) -> str:
    def feasible(kept: Sequence[NeedFloor]) -> bool:
        none = _fixed(problem, pk, np.zeros(0, int), kept)
        model = build(problem, pk, np.arange(len(pk)), budget, kept, none)
        res = run_mip(model, 1.0, 60.0) if integral else run_lp(model, 60.0)
        return bool(res.status != 2)

    culprits = [f for f in floors if feasible([g for g in floors if g is not f])]
    if culprits:
        named = ", ".join(f.describe() for f in culprits)
        which = "any one of " if len(culprits) > 1 else ""
        return f"dropping {which}{named} makes it feasible; lower the share or raise the budget"
    return (
        "no single fairness constraint is to blame: together, "
        + ", ".join(f.describe() for f in floors)
        + " ask more than the budget and capacities allow; lower their shares or raise the budget"
    )


def _canonical(problem: Problem, pk: Packages, choice: np.ndarray) -> np.ndarray:
    """Give the packages of interchangeable households to the first by household_id.

    Two households are interchangeable when they have the same packages (the same
    programmes, need met and cost), the same fairness groups and, if a programme has a
    capacity, the same region: swapping what they get keeps every constraint and the
    objective. Within each such set the chosen packages are sorted (more programmes
    first, then in enumeration order, which follows the catalogue) and handed out in
    household_id order, so the plan does not depend on which of several optimal plans
    HiGHS returns. ``choice`` is the package index per household (-1: none).
    """
    if len(pk) == 0:
        return choice
    packages = pl.DataFrame(
        {
            "h": pk.household.astype(np.int64),
            "p": pl.Series(pk.kind[:, 1]).cast(pl.String)
            + ":"
            + pl.Series(pk.value.view(np.int64)).cast(pl.String)
            + ":"
            + pl.Series(pk.cost.view(np.int64)).cast(pl.String),
        }
    )
    keys = packages.group_by("h", maintain_order=True).agg(pl.col("p").str.join(","))
    columns: dict[str, np.ndarray] = {"set": np.full(problem.n, -1)}
    columns["set"][pk.household] = pk.kind[:, 0]
    capacities = any(p.capacity is not None for p in problem.catalogue.programmes)
    if capacities and problem.region is not None:
        columns["region"] = problem.region
    columns |= {f"group{i}": codes for i, (codes, _) in enumerate(problem.groups.values())}
    chosen = np.maximum(choice, 0)
    columns["size"] = np.where(choice >= 0, pk.members[chosen].sum(axis=1), -1)
    columns["subset"] = np.where(choice >= 0, pk.kind[chosen, 1], -1)
    frame = pl.DataFrame(columns).with_row_index("h").with_columns(pl.col("h").cast(pl.Int64))
    frame = frame.join(keys, on="h", how="inner")
    by = [c for c in frame.columns if c not in ("h", "size", "subset")]
    sets = (
        frame.group_by(by)
        .agg(pl.col("h"), pl.col("size"), pl.col("subset"))
        .filter(pl.col("subset").list.n_unique() > 1)
    )
    out = choice.copy()
    starts = np.searchsorted(pk.household, np.arange(problem.n + 1))
    for households, sizes, subsets in sets.select("h", "size", "subset").iter_rows():
        ordered = sorted(zip(sizes, subsets, strict=True), key=lambda t: (-t[0], t[1] < 0, t[1]))
        for h, (_, sub) in zip(sorted(households), ordered, strict=True):
            own = np.arange(starts[h], starts[h + 1])
            out[h] = -1 if sub < 0 else own[pk.kind[own, 1] == sub][0]
    return out


def _pairs(problem: Problem, pk: Packages, choice: np.ndarray) -> np.ndarray:
    """Return the chosen (household, programme) pairs of a package choice per household."""
    slot = np.full((problem.n, len(problem.catalogue.ids)), -1)
    slot[problem.pair_household, problem.pair_programme] = np.arange(len(problem.pair_cost))
    households = np.nonzero(choice >= 0)[0]
    h, p = np.nonzero(pk.members[choice[households]])
    chosen = np.zeros(len(problem.pair_cost), bool)
    chosen[slot[households[h], p]] = True
    return chosen


def _core(
    x: np.ndarray,
    reduced: np.ndarray,
    dual: np.ndarray,
    lp: Model,
    pk: Packages,
    n: int,
    tau: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fix what reduced costs above ``tau`` decide: (packages taken, core packages, must).

    A package at 0 whose reduced cost exceeds ``tau`` stays out; one at 1 stays in (its
    household is decided); a household row whose dual exceeds ``tau`` must take a package,
    and with only one left, takes it.
    """
    free = reduced <= tau + _TOL
    kept = (x > 0.5) & ~free
    must = np.zeros(n, bool)
    must[lp.households] = dual > tau + _TOL
    household = pk.household
    settled = np.zeros(n, bool)
    settled[household[kept]] = True
    only = must & ~settled & (np.bincount(household[free], minlength=n) == 1)
    taken = np.nonzero(kept | (free & only[household]))[0]
    core = np.nonzero(free & ~(settled | only)[household])[0]
    return taken, core, must


def solve(
    problem: Problem,
    budget: float,
    floors: Sequence[NeedFloor] = (),
    *,
    time_limit: float | None = None,
    mip_gap: float = 1e-3,
    canonical: bool = True,
) -> Solution:
    """Solve the LP relaxation and the integer programme; raise if infeasible."""
    start = time.perf_counter()

    def left() -> float | None:
        return None if time_limit is None else time_limit - (time.perf_counter() - start)

    pk = packages(problem, budget)
    none = _fixed(problem, pk, np.zeros(0, int), floors)
    lp_model = build(problem, pk, np.arange(len(pk)), budget, floors, none)
    lp = run_lp(lp_model, left())
    if lp.status == 2:
        why = _diagnosis(problem, pk, budget, floors, integral=False)
        raise InfeasibleError(
            f"No allocation meets every constraint within budget={budget:,.0f} "
            f"(HiGHS: {lp.message}); {why}."
        )
    if lp.status != 0 or lp.x is None:  # the bound and reduced costs need the optimum
        raise RuntimeError(
            f"HiGHS did not solve the LP relaxation ({lp.message}); "
            f"raise time_limit={time_limit!r}."
        )
    bound = float(-lp.fun)
    k = len(pk)
    x = lp.x[:k]
    reduced = np.abs(lp.lower.marginals[:k] + lp.upper.marginals[:k])
    dual = np.abs(lp.ineqlin.marginals[: len(lp_model.households)])
    rounded = np.nonzero(x > 1 - 1e-7)[0]
    exact = _meets_floors(problem, pk, rounded, floors)
    # without a plan to fix against, start from a small threshold (a small core) and widen
    tau = bound - float(pk.value[rounded].sum()) if exact else 1e-6 * max(bound, 1.0)
    rounds = 0
    while True:
        taken, core, must = _core(x, reduced, dual, lp_model, pk, problem.n, max(tau, 0.0))
        fixed = _fixed(problem, pk, taken, floors)
        base = float(pk.value[taken].sum())
        gap = min(mip_gap * bound / max(bound - base, 1.0), 0.5) if mip_gap else 0.0
        model = build(problem, pk, core, budget, floors, fixed, must)
        res = run_mip(model, gap, left()) if len(core) else None
        status = res.status if res is not None else 0
        if res is not None and res.x is not None:
            taken = np.concatenate([taken, core[res.x[: len(core)] > 0.5]])
        found = res is None or res.x is not None
        met = float(pk.value[taken].sum())
        everything = tau >= max(reduced.max(initial=0.0), dual.max(initial=0.0))
        remaining = left()
        if exact or everything or (remaining is not None and remaining <= 0):
            break
        if found:
            if bound - met <= mip_gap * bound + _TOL:
                break
            # the plan found is an incumbent: fix exactly against it, and solve once more
            tau, exact = bound - met, True
            continue
        # no plan in this core: ten times wider, and everything after a few rounds
        rounds += 1
        tau = np.inf if rounds >= 6 else 10 * tau
    if status == 2 and everything:
        why = _diagnosis(problem, pk, budget, floors, integral=True)
        raise InfeasibleError(
            "No allocation with whole programmes meets every constraint within "
            f"budget={budget:,.0f} (HiGHS: {res.message if res is not None else ''}); {why}."
        )
    if not found:
        raise RuntimeError(
            f"HiGHS found no allocation in time ({_STATUS.get(status, status)}); "
            f"raise time_limit={time_limit!r}."
        )
    choice = np.full(problem.n, -1)
    choice[pk.household[taken]] = taken
    if canonical:
        choice = _canonical(problem, pk, choice)
    chosen = _pairs(problem, pk, choice)
    message = res.message if res is not None else "decided by the LP relaxation"
    decided = problem.n - len(np.unique(pk.household[core]))
    return Solution(
        chosen=chosen,
        need_met=float(need_met(problem, chosen).sum()),
        bound=max(bound, met),
        status=(
            f"{_STATUS.get(status, 'other')}: {message}; reduced-cost fixing decided "
            f"{decided:,} of {problem.n:,} households"
        ),
    )
