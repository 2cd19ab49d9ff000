"""needsid: multidimensional needs identification in social assistance.

Simulate administrative records, validate them, build point-in-time features and labels,
and score households for help (the README's "Architecture" section maps the pipeline).

Subpackages load on first use (``ni.features``, ``ni.tracking``, ...), so that
``import needsid`` stays fast and MLflow, LightGBM, fairlearn and interpret load only
when a step needs them.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import (
        allocation,
        casework,
        data,
        evaluate,
        exits,
        fairness,
        features,
        flagging,
        indicators,
        labels,
        models,
        monitoring,
        mpi,
        report,
        rules,
        simulation,
        tracking,
    )
    from .data import DataValidationError, HouseholdData, validate
    from .simulation import SimulatedPopulation, simulate

try:
    __version__ = version("needsid")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_SUBPACKAGES = (
    "allocation",
    "casework",
    "data",
    "evaluate",
    "exits",
    "fairness",
    "features",
    "flagging",
    "indicators",
    "labels",
    "models",
    "monitoring",
    "mpi",
    "report",
    "rules",
    "simulation",
    "tracking",
)
# top-level names and the subpackage each comes from
_NAMES = {
    "DataValidationError": "data",
    "HouseholdData": "data",
    "validate": "data",
    "SimulatedPopulation": "simulation",
    "simulate": "simulation",
}

__all__ = [
    "ConfigError",
    "DataValidationError",
    "HouseholdData",
    "SimulatedPopulation",
    "__version__",
    "allocation",
    "casework",
    "data",
    "evaluate",
    "exits",
    "fairness",
    "features",
    "flagging",
    "indicators",
    "labels",
    "models",
    "monitoring",
    "mpi",
    "report",
    "rules",
    "simulate",
    "simulation",
    "tracking",
    "validate",
]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        module = importlib.import_module(f".{name}", __name__)
    elif name in _NAMES:
        module = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'needsid' has no attribute {name!r}")
    globals()[name] = module  # later lookups skip this function
    return module


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
