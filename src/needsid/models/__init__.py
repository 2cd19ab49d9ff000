"""Risk models with reason codes: LightGBM, a points scorecard and an EBM comparator.

All three are scikit-learn binary classifiers (``fit``, ``predict_proba``, ``predict``)
that accept NumPy arrays and pandas or polars frames, and share one ``explain(X)``
returning per-household contributions in probability points, tagged with the
deprivation dimension of each feature (:func:`feature_dimension`).
"""

from ._base import ID_COLUMN
from ._ebm import EBMRiskModel
from ._explain import DIMENSION_RULES, REASON_COLUMNS, default_dimensions, feature_dimension
from ._gbm import GBMRiskModel
from ._scorecard import PointsScorecard

__all__ = [
    "DIMENSION_RULES",
    "EBMRiskModel",
    "GBMRiskModel",
    "ID_COLUMN",
    "PointsScorecard",
    "REASON_COLUMNS",
    "default_dimensions",
    "feature_dimension",
]
