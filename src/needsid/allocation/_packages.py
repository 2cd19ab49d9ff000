"""Packages: the combinations of programmes one household can get, and the dominated ones dropped.

A package is a set of programmes a household is eligible for with no two that exclude
each other. Its need met is exact (a need two of its programmes serve counts once) and
its cost is the sum of its programmes' costs. Households with the same eligible set share
one enumeration, so the work is one matrix product per distinct set.

A package is dropped when another of the same household meets at least as much need,
costs no more and uses no capacity the first does not (a tie keeps the first): swapping
it in keeps every constraint and does not lower the objective, so no optimum is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._problem import Problem

__all__ = ["MAX_COMBINATIONS", "Packages", "packages"]

#: Most packages one household's eligible set may give (a household eligible for 12
#: programmes that exclude nothing has 4,096).
MAX_COMBINATIONS = 4096


@dataclass(frozen=True)
class Packages:
    """The packages kept, sorted by household: value (need met), cost and programmes.

    ``members`` is a packages x programmes 0/1 matrix. ``kind`` is (eligible-set id,
    subset index): two households with the same eligible set and the same ``kind``
    hold the same programmes.
    """

    household: np.ndarray
    value: np.ndarray
    cost: np.ndarray
    members: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return len(self.household)


def _subsets(programmes: list[int], excludes: np.ndarray) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()]
    for p in programmes:
        out += [s + (p,) for s in out if not excludes[p, list(s)].any()]
        if len(out) > MAX_COMBINATIONS:
            raise ValueError(
                f"A household is eligible for {len(programmes)} programmes that give more than "
                f"{MAX_COMBINATIONS:,} combinations; the allocation enumerates each "
                "household's combinations. Split the catalogue or narrow the eligibility."
            )
    return out


def _undominated(value: np.ndarray, cost: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Which packages (columns) no allowed other package of the same row dominates."""
    keep = np.zeros(value.shape, bool)
    for used in np.unique(capacity):
        allowed = np.nonzero((capacity & ~used) == 0)[0]  # uses no capacity `used` does not
        v, c = value[:, allowed], cost[:, allowed]
        # order each row by cost up, value down, index up; a package is dominated iff
        # something before it meets at least as much need
        by_value = np.argsort(-v, axis=1, kind="stable")
        order = np.take_along_axis(
            by_value,
            np.argsort(np.take_along_axis(c, by_value, 1), axis=1, kind="stable"),
            1,
        )
        ordered = np.take_along_axis(v, order, 1)
        before = np.maximum.accumulate(
            np.concatenate([np.full((len(v), 1), -np.inf), ordered[:, :-1]], 1), axis=1
        )
        undominated = np.zeros(v.shape, bool)
        np.put_along_axis(undominated, order, ordered > before, 1)
        targets = capacity[allowed] == used
        keep[:, allowed[targets]] = undominated[:, targets]
    return keep


def packages(problem: Problem, budget: float) -> Packages:
    """Enumerate every household's packages within ``budget`` and drop dominated ones."""
    n_prog = len(problem.catalogue.ids)
    ids = problem.catalogue.ids
    excludes = np.zeros((n_prog, n_prog), bool)
    for a, b in problem.catalogue.exclusions:
        excludes[ids.index(a), ids.index(b)] = True
    capacitated = np.array([p.capacity is not None for p in problem.catalogue.programmes])
    eligible = np.zeros((problem.n, n_prog), bool)
    eligible[problem.pair_household, problem.pair_programme] = True
    cost = np.zeros((problem.n, n_prog))
    cost[problem.pair_household, problem.pair_programme] = problem.pair_cost
    sets, which = np.unique(eligible, axis=0, return_inverse=True)
    parts: list[tuple[np.ndarray, ...]] = []
    for s, row in enumerate(sets):
        if not row.any():
            continue
        subsets = _subsets([int(p) for p in np.nonzero(row)[0]], excludes)
        members = np.zeros((len(subsets), n_prog), bool)
        for i, subset in enumerate(subsets):
            members[i, list(subset)] = True
        serves = (members.astype(float) @ problem.serves) > 0
        capacity = members[:, capacitated] @ (1 << np.arange(int(capacitated.sum())))
        households = np.nonzero(which.ravel() == s)[0]
        value = problem.need[households] @ serves.T
        total = cost[households] @ members.T.astype(float)
        keep = _undominated(value, total, capacity) & (total <= budget) & (value > 0)
        rows, cols = np.nonzero(keep)
        kind = np.column_stack([np.full(len(cols), s), cols])
        parts.append((households[rows], value[rows, cols], total[rows, cols], members[cols], kind))
    if not parts:
        empty = np.zeros(0)
        none = np.zeros((0, n_prog), bool)
        return Packages(empty.astype(int), empty, empty, none, np.zeros((0, 2), int))
    household, value, total, members, kind = (np.concatenate(x) for x in zip(*parts, strict=True))
    order = np.argsort(household, kind="stable")
    return Packages(household[order], value[order], total[order], members[order], kind[order])
