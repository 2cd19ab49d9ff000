"""needsid: multidimensional needs identification in social assistance.

Simulate administrative records, validate them, build point-in-time features and labels,
and score households for help (see DESIGN.md for the pipeline).
"""

from importlib.metadata import PackageNotFoundError, version

from . import (
    data,
    evaluate,
    fairness,
    features,
    flagging,
    labels,
    models,
    mpi,
    report,
    rules,
    simulation,
)
from .data import DataValidationError, HouseholdData, validate
from .simulation import SimulatedPopulation, simulate

try:
    __version__ = version("needsid")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DataValidationError",
    "HouseholdData",
    "SimulatedPopulation",
    "__version__",
    "data",
    "evaluate",
    "fairness",
    "features",
    "flagging",
    "labels",
    "models",
    "mpi",
    "report",
    "rules",
    "simulate",
    "simulation",
    "validate",
]
