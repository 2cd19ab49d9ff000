"""The package model's sparse rows, and the two HiGHS calls (``linprog`` and ``milp``).

Columns: one per package (``z``: the household gets it), then one per budget chunk.
Rows: at most one package per household; the budget, written as chunk sums
(``sum cost * z <= s_c`` over a thousand packages, ``sum s_c <= budget``) because
HiGHS's simplex is far slower on one row that touches every column; each programme's
capacity in each region; each fairness floor in each group.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ._fairness import NeedFloor
from ._packages import Packages
from ._problem import Problem

if TYPE_CHECKING:  # scipy loads when something is solved
    from scipy import sparse
    from scipy.optimize import OptimizeResult

__all__ = ["CHUNK", "Fixed", "Model", "build", "run_lp", "run_mip"]

#: Packages per budget chunk row.
CHUNK = 1000


@dataclass(frozen=True)
class Fixed:
    """What packages decided outside the model use: budget, capacity, need met per group."""

    cost: float
    capacity: np.ndarray  # programmes x regions: households already served
    met: dict[str, np.ndarray]  # fairness group column -> need met per group


@dataclass(frozen=True)
class Model:
    """A model over some packages (``columns``): rows, bounds and the GUB rows' households."""

    columns: np.ndarray
    households: np.ndarray  # the household of each GUB row (rows 0 .. len - 1)
    objective: np.ndarray
    matrix: sparse.csr_matrix
    lower: np.ndarray
    upper: np.ndarray
    n_chunks: int


class _Rows:
    """Sparse rows collected block by block, each block with its lower and upper bounds."""

    def __init__(self) -> None:
        self.n = 0
        self.entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []

    def add(
        self,
        entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        lower: ArrayLike,
        upper: ArrayLike,
    ) -> None:
        """Add rows; entries are (row within the block, column, value) arrays."""
        self.entries += [(self.n + r, c, np.asarray(v, float)) for r, c, v in entries]
        self.lower.append(np.asarray(lower, float))
        self.upper.append(np.asarray(upper, float))
        self.n += len(self.lower[-1])

    def matrix(self, n_cols: int) -> sparse.csr_matrix:
        """Return the rows as one CSR matrix."""
        from scipy import sparse

        rows, cols, vals = (np.concatenate(x) for x in zip(*self.entries, strict=True))
        return sparse.csr_matrix((vals, (rows, cols)), shape=(self.n, n_cols))


def build(
    problem: Problem,
    pk: Packages,
    columns: np.ndarray,
    budget: float,
    floors: Sequence[NeedFloor],
    fixed: Fixed,
    must: np.ndarray | None = None,
) -> Model:
    """Rows over the packages ``columns``, with what ``fixed`` already uses taken off.

    ``must`` (per household, optional) makes a household take one of its packages.
    """
    k = len(columns)
    households, gub = np.unique(pk.household[columns], return_inverse=True)
    cost, value = pk.cost[columns], pk.value[columns]
    n_chunks = max(1, -(-k // CHUNK))
    scale = max(budget, 1.0)
    ones, at = np.ones, np.arange
    rows = _Rows()
    take = (
        np.full(len(households), -np.inf)
        if must is None
        else np.where(must[households], 1, -np.inf)
    )
    rows.add([(gub, at(k), ones(k))], take, ones(len(households)))
    # the budget in chunks (see the module docstring): spend of chunk c <= s_c
    rows.add(
        [(at(k) // CHUNK, at(k), cost / scale), (at(n_chunks), k + at(n_chunks), -ones(n_chunks))],
        np.full(n_chunks, -np.inf),
        np.zeros(n_chunks),
    )
    rows.add(
        [(np.zeros(n_chunks, int), k + at(n_chunks), ones(n_chunks))],
        [-np.inf],
        [(budget - fixed.cost) / scale],
    )
    region = problem.region
    for i, programme in enumerate(problem.catalogue.programmes):
        if programme.capacity is None or region is None:
            continue
        js = np.nonzero(pk.members[columns, i])[0]
        codes = region[pk.household[columns[js]]]
        for code in np.unique(codes):
            cap = programme.capacity_in(problem.region_names[code])
            members = js[codes == code]
            if cap is not None and cap - fixed.capacity[i, code] < len(members):
                left = cap - fixed.capacity[i, code]
                rows.add(
                    [(np.zeros(len(members), int), members, ones(len(members)))], [-np.inf], [left]
                )
    household_need = problem.need.sum(axis=1)
    for f in floors:
        codes, names = problem.groups[f.group]
        floor = f.share * np.bincount(codes, household_need, len(names)) - fixed.met[f.group]
        group = codes[pk.household[columns]]
        binding = np.nonzero(floor > 1e-12)[0]
        position = np.full(len(names), -1)
        position[binding] = at(len(binding))
        mask = position[group] >= 0
        rows.add(
            [(position[group[mask]], at(k)[mask], value[mask])],
            floor[binding],
            np.full(len(binding), np.inf),
        )
    return Model(
        columns=columns,
        households=households,
        objective=np.concatenate([value, np.zeros(n_chunks)]),
        matrix=rows.matrix(k + n_chunks),
        lower=np.concatenate(rows.lower),
        upper=np.concatenate(rows.upper),
        n_chunks=n_chunks,
    )


def _options(time_limit: float | None) -> dict[str, Any]:
    # presolve off: HiGHS's presolve spends far longer on these models than it saves
    options: dict[str, Any] = {"presolve": False}
    if time_limit is not None:
        options["time_limit"] = max(float(time_limit), 0.1)
    return options


def _upper(model: Model) -> np.ndarray:
    return np.concatenate([np.ones(len(model.columns)), np.full(model.n_chunks, np.inf)])


def run_lp(model: Model, time_limit: float | None) -> OptimizeResult:
    """Solve the LP relaxation with ``linprog`` (HiGHS dual simplex), for its duals."""
    from scipy import sparse
    from scipy.optimize import linprog

    # linprog takes A_ub x <= b_ub and A_eq x = b_eq; the LP has no ranged rows
    equal = model.lower == model.upper
    below = np.isfinite(model.upper) & ~equal
    above = np.isfinite(model.lower) & ~equal & ~below
    a_ub = sparse.vstack([model.matrix[below], -model.matrix[above]]).tocsr()
    b_ub = np.concatenate([model.upper[below], -model.lower[above]])
    return linprog(
        -model.objective,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=model.matrix[equal],
        b_eq=model.upper[equal],
        # z <= 1 is implied by the household rows, but dual simplex is an order of
        # magnitude faster with boxed columns
        bounds=np.column_stack([np.zeros(len(model.objective)), _upper(model)]),
        method="highs-ds",
        options=_options(time_limit),
    )


def run_mip(model: Model, mip_gap: float, time_limit: float | None) -> OptimizeResult:
    """Solve the model with whole packages with ``milp`` (HiGHS branch and cut)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    k = len(model.columns)
    integrality = np.concatenate([np.ones(k), np.zeros(model.n_chunks)])
    with _no_solver_prints():
        return milp(
            -model.objective,
            constraints=LinearConstraint(model.matrix, model.lower, model.upper),
            integrality=integrality,
            bounds=Bounds(np.zeros(k + model.n_chunks), _upper(model)),
            options=_options(time_limit) | {"mip_rel_gap": mip_gap},
        )


@contextmanager
def _no_solver_prints() -> Iterator[None]:
    """Keep HiGHS's C++ debug lines off the process's standard output during a solve.

    Some HiGHS builds print ``HighsMipSolverData::transformNewIntegerFeasibleSolution``
    to file descriptor 1 whatever ``disp`` says; a command's output, or a notebook's,
    should not fill with them. Python's own ``sys.stdout`` is flushed first and left as
    it is; where fd 1 cannot be redirected (no such descriptor), nothing is done.
    """
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            try:
                yield
            finally:
                os.dup2(saved, 1)
    finally:
        os.close(saved)
