"""Risk models with reason codes: LightGBM, a points scorecard and an EBM comparator.

All three are scikit-learn binary classifiers (``fit``, ``predict_proba``, ``predict``)
that accept NumPy arrays and pandas or polars frames, and share one ``explain(X)``
returning per-household contributions in probability points, tagged with the
deprivation dimension of each feature (:func:`feature_dimension`).

Names load on first use: ``needsid.mpi`` imports this package's scikit-learn
compatibility module, and should not pay for importing LightGBM and interpret.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._base import ID_COLUMN
    from ._ebm import EBMRiskModel
    from ._explain import DIMENSION_RULES, REASON_COLUMNS, default_dimensions, feature_dimension
    from ._gbm import CALIBRATIONS, RANKING_CALIBRATION, GBMRiskModel
    from ._need_profile import NeedProfileModel, need_targets, need_weights
    from ._scorecard import PointsScorecard

# public name -> the private module that defines it
_NAMES = {
    "CALIBRATIONS": "_gbm",
    "RANKING_CALIBRATION": "_gbm",
    "DIMENSION_RULES": "_explain",
    "EBMRiskModel": "_ebm",
    "GBMRiskModel": "_gbm",
    "ID_COLUMN": "_base",
    "NeedProfileModel": "_need_profile",
    "PointsScorecard": "_scorecard",
    "REASON_COLUMNS": "_explain",
    "default_dimensions": "_explain",
    "feature_dimension": "_explain",
    "need_targets": "_need_profile",
    "need_weights": "_need_profile",
}

__all__ = [
    "CALIBRATIONS",
    "DIMENSION_RULES",
    "EBMRiskModel",
    "GBMRiskModel",
    "ID_COLUMN",
    "NeedProfileModel",
    "PointsScorecard",
    "RANKING_CALIBRATION",
    "REASON_COLUMNS",
    "default_dimensions",
    "feature_dimension",
    "need_targets",
    "need_weights",
]


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
