"""Gradient-boosted risk model: LightGBM with monotone constraints and calibrated risk."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from lightgbm import LGBMClassifier
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit

from ._base import RiskModel
from ._gbm_io import GBMJSONMixin, _BoosterHolder
from ._sklearn_compat import Interval, StrOptions

__all__ = ["GBMRiskModel"]

#: Share of the training rows held out to fit the calibration map.
CALIBRATION_FRACTION = 0.2
MONOTONE_VALUES = (-1, 0, 1)
MONOTONE_METHODS = ("basic", "intermediate", "advanced")


class GBMRiskModel(GBMJSONMixin, RiskModel):
    """LightGBM risk model with optional monotone constraints and calibrated probabilities.

    Calibration uses one internal stratified holdout (``CALIBRATION_FRACTION`` = 20% of
    the rows) rather than ``CalibratedClassifierCV(cv=3)``: one booster is trained
    instead of three, which keeps 1M-household training within budget, and reason
    codes then come from a single model's SHAP values instead of an average of three.
    ``fit``'s ``sample_weight`` weighs the booster's rows and the calibration map's
    holdout rows alike; the holdout is drawn from the rows of positive weight.

    Parameters
    ----------
    n_estimators : int, default=300
        Boosting rounds.
    learning_rate : float, default=0.05
        Shrinkage per round.
    num_leaves : int, default=31
        Maximum leaves per tree.
    min_child_samples : int, default=50
        Minimum households in a leaf; guards against leaves fitted to a few records.
    max_depth : int or None, default=None
        Maximum tree depth; None leaves depth to ``num_leaves``. Reason codes (TreeSHAP)
        cost grows with the square of depth, so a cap such as 6 makes ``explain`` faster.
    monotone_constraints : mapping of str to int, optional
        Feature name -> -1 (risk never rises with the feature), +1 (never falls) or 0.
        E.g. ``{"income_to_low_income_line": -1}``. Features of a NumPy array are
        named ``x0``, ``x1``, ...
    calibration : {"isotonic", "sigmoid"} or None, default="isotonic"
        Map from the booster's log-odds to probability, fitted on the holdout. None
        trains on all rows and uses the booster's own sigmoid.
    random_state : int, RandomState instance or None, default=0
        Seeds the holdout split and LightGBM's row and column subsampling.
    n_jobs : int or None, default=None
        LightGBM threads; None lets LightGBM use all cores.
    subsample : float, default=0.8
        Share of the rows each tree is grown on (LightGBM's bagging fraction); row and
        column subsampling are faster on 1M rows and a little regularising.
    subsample_freq : int, default=1
        Draw a new row subsample every ``subsample_freq`` trees; 0 turns row
        subsampling off.
    colsample_bytree : float, default=0.8
        Share of the features each tree may split on.
    reg_lambda : float, default=1.0
        L2 penalty on the leaf values.
    monotone_constraints_method : {"basic", "intermediate", "advanced"}, default="intermediate"
        How LightGBM enforces the constraints; "intermediate" loses less accuracy than
        "basic" at little cost. Unused without constraints.

    Attributes
    ----------
    estimator_ : lightgbm.LGBMClassifier
        The fitted booster (on the non-holdout rows when calibrating).
    calibrator_ : IsotonicRegression, LogisticRegression or None
        Maps the booster's raw score (log-odds) to probability.
    feature_importances_ : ndarray of shape (n_features,)
        Total split gain per feature, normalised to sum to 1.
    classes_ : ndarray of shape (2,)
        Class labels; ``classes_[1]`` is the event.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names, when ``X`` had them.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from needsid.models import GBMRiskModel
    >>> X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    >>> model = GBMRiskModel(n_estimators=20, monotone_constraints={"x0": -1}).fit(X, y)
    >>> model.predict_proba(X[:2]).shape
    (2, 2)
    >>> list(model.explain(X[:2], top=2).columns)
    ['row_id', 'feature', 'value', 'contribution', 'dimension']
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "num_leaves": [Interval(Integral, 2, None, closed="left")],
        "min_child_samples": [Interval(Integral, 1, None, closed="left")],
        "max_depth": [Interval(Integral, 1, None, closed="left"), None],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "subsample_freq": [Interval(Integral, 0, None, closed="left")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "monotone_constraints": [Mapping, None],
        "monotone_constraints_method": [StrOptions(set(MONOTONE_METHODS))],
        "calibration": [StrOptions({"isotonic", "sigmoid"}), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    estimator_: LGBMClassifier | _BoosterHolder
    calibrator_: IsotonicRegression | LogisticRegression | None
    feature_importances_: npt.NDArray[np.float64]

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        max_depth: int | None = None,
        monotone_constraints: Mapping[str, int] | None = None,
        calibration: str | None = "isotonic",
        random_state: int | np.random.RandomState | None = 0,
        n_jobs: int | None = None,
        *,
        subsample: float = 0.8,
        subsample_freq: int = 1,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        monotone_constraints_method: str = "intermediate",
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_depth = max_depth
        self.monotone_constraints = monotone_constraints
        self.calibration = calibration
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.monotone_constraints_method = monotone_constraints_method

    def _fit(
        self,
        X: npt.NDArray[np.float64],
        y: npt.NDArray[np.int64],
        sample_weight: npt.NDArray[np.float64] | None,
    ) -> None:
        monotone = self._per_feature("monotone_constraints", MONOTONE_VALUES, 0)
        params: dict[str, Any] = dict(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            max_depth=-1 if self.max_depth is None else self.max_depth,
            subsample=self.subsample,
            subsample_freq=self.subsample_freq,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbose=-1,
        )
        if any(monotone):
            params.update(
                monotone_constraints=[int(m) for m in monotone],
                monotone_constraints_method=self.monotone_constraints_method,
            )
        train = holdout = np.arange(len(y))
        if self.calibration is not None:
            split = StratifiedShuffleSplit(
                n_splits=1, test_size=CALIBRATION_FRACTION, random_state=self.random_state
            )
            train, holdout = next(split.split(X, y))
        self.estimator_ = LGBMClassifier(**params).fit(
            X[train], y[train], sample_weight=_rows(sample_weight, train)
        )
        self.calibrator_ = None
        if self.calibration == "isotonic":
            raw = self._raw(X[holdout])
            self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)
            self.calibrator_.fit(raw, y[holdout], sample_weight=_rows(sample_weight, holdout))
        elif self.calibration == "sigmoid":
            raw = self._raw(X[holdout])
            self.calibrator_ = LogisticRegression(C=1e6).fit(
                raw[:, None], y[holdout], sample_weight=_rows(sample_weight, holdout)
            )
        gain = self.estimator_.booster_.feature_importance(importance_type="gain")
        total = gain.sum()
        self.feature_importances_ = gain / total if total > 0 else np.zeros(len(gain))

    def _raw(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        # a dense X gives a dense result (LightGBM returns sparse ones for sparse input)
        return cast("npt.NDArray[np.float64]", self.estimator_.booster_.predict(X, raw_score=True))

    def _link(self, eta: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        eta = np.asarray(eta, dtype=np.float64)
        p: npt.NDArray[np.float64]
        if self.calibrator_ is None:
            p = expit(eta)
        elif isinstance(self.calibrator_, IsotonicRegression):
            p = self.calibrator_.predict(eta)
        else:
            p = self.calibrator_.predict_proba(eta[:, None])[:, 1]
        return p

    def _log_odds(
        self, X: npt.NDArray[np.float64], *, contributions: bool
    ) -> tuple[npt.NDArray[np.float64] | None, npt.NDArray[np.float64], float | None]:
        eta = self._raw(X)
        if not contributions:
            return None, eta, None
        # LightGBM's pred_contrib is TreeSHAP (path-dependent, as shap.TreeExplainer on
        # the booster computes it) run natively on all threads, and avoids importing
        # shap and matplotlib; tests check the two agree.
        shap = cast(
            "npt.NDArray[np.float64]", self.estimator_.booster_.predict(X, pred_contrib=True)
        )
        return shap[:, :-1], eta, float(shap[0, -1])


def _rows(
    sample_weight: npt.NDArray[np.float64] | None, rows: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64] | None:
    return None if sample_weight is None else sample_weight[rows]
