"""Allocation (资源配置): meet the most need with a catalogue of programmes and a budget.

``load_catalogue`` reads and validates a programme catalogue (``configs/allocation/
default.yaml``, also shipped in the package): the need dimensions each programme serves,
who is eligible, what it costs a month, its capacity per region and what it cannot be
combined with. ``allocate(need_scores, catalogue, budget)`` solves a mixed-integer
programme (HiGHS) for who gets what, under capacities, exclusions and fairness floors
(``NeedFloor``), and returns an ``AllocationPlan``; ``budget_curve`` traces need met
against the budget and prices each fairness constraint in need met lost.
"""

from ._catalogue import DEFAULT_CATALOGUE, Catalogue, CatalogueError, load_catalogue
from ._curve import BudgetCurve, budget_curve
from ._fairness import NeedFloor
from ._plan import OBJECTIVES, AllocationPlan, allocate
from ._programme import Programme
from ._solve import InfeasibleError

__all__ = [
    "DEFAULT_CATALOGUE",
    "OBJECTIVES",
    "AllocationPlan",
    "BudgetCurve",
    "Catalogue",
    "CatalogueError",
    "InfeasibleError",
    "NeedFloor",
    "Programme",
    "allocate",
    "budget_curve",
    "load_catalogue",
]
