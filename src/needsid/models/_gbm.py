"""Gradient-boosted risk model: LightGBM with monotone constraints and calibrated risk.

With ``tuning="inner_cv"`` (the :meth:`GBMRiskModel.small_data` preset) ``fit`` also
chooses the regularisation and the number of trees by grouped inner cross-validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Self, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from lightgbm import LGBMClassifier
from scipy.special import expit
from sklearn.base import clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import ParameterGrid, StratifiedShuffleSplit

from ._base import RiskModel
from ._gbm_io import GBMJSONMixin, _BoosterHolder
from ._gbm_tuning import SMALL_DATA_GRID, TUNABLE, inner_folds, search_grid
from ._sklearn_compat import Interval, StrOptions, validate_params

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ._base import XLike

__all__ = ["CALIBRATIONS", "RANKING_CALIBRATION", "GBMRiskModel"]

#: Share of the training rows held out to fit the calibration map.
CALIBRATION_FRACTION = 0.2
MONOTONE_VALUES = (-1, 0, 1)
MONOTONE_METHODS = ("basic", "intermediate", "advanced")
#: The calibration maps ``GBMRiskModel(calibration=...)`` can fit (or None: none).
CALIBRATIONS = ("isotonic", "sigmoid", "centered_isotonic")
#: The map for a model that ranks households against a capacity: ``needsid train``'s
#: default (:class:`needsid.tracking.TrainModel`) and :func:`needsid.evaluate.source_ablation`'s.
RANKING_CALIBRATION = "centered_isotonic"

#: Parameters of :meth:`GBMRiskModel.small_data` (the grid varies some of them).
SMALL_DATA_PRESET: dict[str, Any] = {
    "tuning": "inner_cv",
    "n_estimators": 2000,
    "learning_rate": 0.03,
    "min_child_samples": 20,
    "calibration": "sigmoid",
}


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
    calibration : {"isotonic", "sigmoid", "centered_isotonic"} or None, default="isotonic"
        Map from the booster's log-odds to probability, fitted on the holdout. None
        trains on all rows and uses the booster's own sigmoid. ``"isotonic"`` is a step
        function: households on one step share a probability, and a capacity that
        falls inside a step leaves the choice among them to their order.
        ``"sigmoid"`` is strictly increasing but has two parameters.
        ``"centered_isotonic"`` interpolates between the centres of the isotonic
        steps (the mean log-odds of the holdout rows on each; Oron and Flournoy,
        2017, *Centered isotonic regression*): as flexible as isotonic, and strictly
        increasing between the first and the last centre.
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
    tuning : {"inner_cv"} or None, default=None
        None fits the parameters as given. "inner_cv" first scores every candidate of
        ``param_grid`` by stratified ``inner_folds``-fold cross-validation on the
        training rows (grouped by ``fit``'s ``groups``), each with early stopping on the
        folds' mean log loss and ``n_estimators`` as the most rounds, then refits the
        best candidate on all rows with its number of rounds. The calibration map is
        then fitted on the inner folds' out-of-fold scores instead of a holdout, so the
        booster sees every row (sensible when rows are few). See :meth:`small_data`.
    param_grid : dict of str to list, optional
        With ``tuning="inner_cv"``, values to try for some of ``TUNABLE``
        (``learning_rate``, ``num_leaves``, ``min_child_samples``, ``max_depth``,
        ``subsample``, ``colsample_bytree``, ``reg_lambda``); every combination is a
        candidate, and unlisted parameters keep their values. None searches
        ``SMALL_DATA_GRID``.
    inner_folds : int, default=3
        Inner cross-validation folds with ``tuning="inner_cv"``; fewer when a class has
        fewer groups than that.

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
    best_params_ : dict
        With ``tuning="inner_cv"`` only: the chosen candidate, ``n_estimators`` (the
        rounds early stopping kept) included.
    cv_results_ : pandas.DataFrame
        With ``tuning="inner_cv"`` only: one row per candidate, its parameters,
        ``n_estimators``, the folds' mean and standard deviation of the log loss
        (``log_loss``, ``log_loss_sd``) and ``rank`` (1 is chosen).

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
        "calibration": [StrOptions(set(CALIBRATIONS)), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "tuning": [StrOptions({"inner_cv"}), None],
        "param_grid": [Mapping, None],
        "inner_folds": [Interval(Integral, 2, None, closed="left")],
    }

    estimator_: LGBMClassifier | _BoosterHolder
    calibrator_: IsotonicRegression | LogisticRegression | None
    feature_importances_: npt.NDArray[np.float64]
    best_params_: dict[str, Any]
    cv_results_: pd.DataFrame
    # fit's groups, for _fit (the base class's fit passes X, y and weights only)
    _fit_groups: npt.NDArray[Any] | None

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
        tuning: str | None = None,
        param_grid: Mapping[str, Sequence[Any]] | None = None,
        inner_folds: int = 3,
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
        self.tuning = tuning
        self.param_grid = param_grid
        self.inner_folds = inner_folds

    @classmethod
    def small_data(cls, **overrides: Any) -> Self:
        """Return the preset for small tabular data (a few thousand households).

        On a few thousand rows the defaults (300 trees of 31 leaves, an isotonic map
        fitted on a 20% holdout) overfit and waste data. The preset chooses the leaves,
        L2 penalty and column sampling from ``SMALL_DATA_GRID`` and the number
        of trees (up to 2000, at ``learning_rate=0.03``) by grouped inner cross-validation
        in ``fit`` (``tuning="inner_cv"``), and calibrates with a sigmoid fitted on the
        out-of-fold scores: isotonic regression overfits below about a thousand rows and
        its steps tie households the booster ranks apart. Pass ``fit(..., groups=...)``
        when a household has several rows.

        Parameters
        ----------
        **overrides
            Any :class:`GBMRiskModel` parameter, replacing the preset's value, e.g.
            ``monotone_constraints={"rooms": -1}``, ``param_grid={"num_leaves": [4, 8]}``
            or ``n_jobs=1``.

        Returns
        -------
        GBMRiskModel
            Unfitted: ``SMALL_DATA_PRESET`` updated with ``overrides``.

        Raises
        ------
        TypeError
            If an override is not a :class:`GBMRiskModel` parameter.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
        >>> model = GBMRiskModel.small_data(param_grid={"num_leaves": [4, 8]}, n_jobs=1)
        >>> model.tuning, model.calibration
        ('inner_cv', 'sigmoid')
        >>> model.fit(X, y).best_params_["num_leaves"] in (4, 8)
        True
        >>> list(model.cv_results_.columns)
        ['num_leaves', 'n_estimators', 'log_loss', 'log_loss_sd', 'rank']
        """
        names = sorted(cls().get_params(deep=False))
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise TypeError(
                f"Got {unknown!r}, which are not GBMRiskModel parameters; small_data takes "
                f"overrides of {names!r}."
            )
        return cls(**{**SMALL_DATA_PRESET, **overrides})

    def fit(
        self,
        X: XLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        groups: ArrayLike | None = None,
    ) -> Self:
        """Fit the model.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric features; NaN means missing. pandas and polars frames keep their
            column names; a ``household_id`` column or index is used as the row id.
        y : array-like of shape (n_samples,)
            Binary labels; ``classes_[1]`` is the event (e.g. in need).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row, e.g. a survey weight; None weighs all rows
            equally. A weight acts like a count of the row, and a row of weight 0 is
            left out of training, as if it were not in ``X``.
        groups : array-like of shape (n_samples,), default=None
            Group of each row, e.g. the household id when a household has several rows.
            Rows of one group stay on one side of every split ``fit`` makes: the inner
            folds of ``tuning="inner_cv"`` and the calibration holdout. None: each row is
            its own group. In a :class:`~sklearn.pipeline.Pipeline`, pass it as
            ``<step>__groups``.

        Returns
        -------
        GBMRiskModel
            ``self``, fitted.

        Raises
        ------
        ValueError
            If a parameter is out of range, ``y`` has other than two classes, ``groups``
            is not one label per row, or a class has too few groups to split.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
        >>> household = np.repeat(np.arange(100), 3)  # three members per household
        >>> model = GBMRiskModel.small_data(param_grid={"num_leaves": [4]}, n_jobs=1)
        >>> model.fit(X, y, groups=household).best_params_["n_estimators"] > 0
        True
        """
        self._fit_groups = None if groups is None else _groups(groups, y, sample_weight)
        try:
            return super().fit(X, y, sample_weight)
        finally:
            del self._fit_groups

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
        groups = getattr(self, "_fit_groups", None)
        if self.tuning == "inner_cv":
            self._fit_tuned(params, X, y, sample_weight, groups)
        else:
            if self.param_grid is not None:
                raise ValueError(
                    f"Got param_grid={self.param_grid!r} with tuning={self.tuning!r}; the "
                    "grid is searched only with tuning='inner_cv'. Pass tuning='inner_cv' "
                    "(or GBMRiskModel.small_data()), or drop param_grid."
                )
            train = holdout = np.arange(len(y))
            if self.calibration is not None and groups is None:
                split = StratifiedShuffleSplit(
                    n_splits=1, test_size=CALIBRATION_FRACTION, random_state=self.random_state
                )
                train, holdout = next(split.split(X, y))
            elif self.calibration is not None:
                n_splits = round(1 / CALIBRATION_FRACTION)
                train, holdout = inner_folds(y, groups, n_splits, self.random_state)[0]
            self.estimator_ = LGBMClassifier(**params).fit(
                X[train], y[train], sample_weight=_rows(sample_weight, train)
            )
            if self.calibration is not None:
                self._fit_calibrator(
                    self._raw(X[holdout]), y[holdout], _rows(sample_weight, holdout)
                )
            else:
                self.calibrator_ = None
        gain = self.estimator_.booster_.feature_importance(importance_type="gain")
        total = gain.sum()
        self.feature_importances_ = gain / total if total > 0 else np.zeros(len(gain))

    def _fit_calibrator(
        self,
        raw: npt.NDArray[np.float64],
        y: npt.NDArray[np.int64],
        sample_weight: npt.NDArray[np.float64] | None,
    ) -> None:
        self.calibrator_ = None
        if self.calibration in ("isotonic", "centered_isotonic"):
            self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)
            self.calibrator_.fit(raw, y, sample_weight=sample_weight)
            if self.calibration == "centered_isotonic":
                self.calibrator_ = _centered(self.calibrator_, raw, sample_weight)
        elif self.calibration == "sigmoid":
            self.calibrator_ = LogisticRegression(C=1e6).fit(
                raw[:, None], y, sample_weight=sample_weight
            )

    def _fit_tuned(
        self,
        params: dict[str, Any],
        X: npt.NDArray[np.float64],
        y: npt.NDArray[np.int64],
        sample_weight: npt.NDArray[np.float64] | None,
        groups: npt.NDArray[Any] | None,
    ) -> None:
        """Choose a candidate and the rounds by inner CV, refit on all rows, calibrate."""
        folds = inner_folds(y, groups, self.inner_folds, self.random_state)
        search = search_grid(
            params, self._grid(), X, y, sample_weight, folds, self.n_estimators, self.random_state
        )
        self.best_params_, self.cv_results_ = search.best_params, search.results
        chosen = {**search.best_params}
        if "max_depth" in chosen and chosen["max_depth"] is None:
            chosen["max_depth"] = -1
        self.estimator_ = LGBMClassifier(**{**params, **chosen}).fit(
            X, y, sample_weight=sample_weight
        )
        self._fit_calibrator(search.oof_raw, y, sample_weight)

    def _grid(self) -> ParameterGrid:
        """``param_grid`` (or ``SMALL_DATA_GRID``), checked against the parameter rules."""
        grid = SMALL_DATA_GRID if self.param_grid is None else self.param_grid
        unknown = [k for k in grid if k not in TUNABLE]
        if unknown:
            raise ValueError(
                f"Got param_grid with {unknown!r}, which inner CV does not tune; expected "
                f"keys among {list(TUNABLE)!r}. n_estimators is chosen by early stopping: "
                "set the most rounds with n_estimators=."
            )
        for name, values in grid.items():
            if isinstance(values, str) or not isinstance(values, Sequence) or not values:
                raise ValueError(
                    f"Got param_grid[{name!r}]={values!r}; expected a non-empty list of "
                    "values, e.g. [8, 16]."
                )
        candidates = ParameterGrid(dict(grid))
        for candidate in candidates:
            validate_params(clone(self).set_params(**candidate))
        return candidates

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


def _centered(
    steps: IsotonicRegression,
    raw: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None,
) -> IsotonicRegression:
    """Return the map through the centres of a fitted isotonic map's steps.

    Each step's centre is the weighted mean log-odds of the rows it was fitted on;
    an isotonic fit through the centres (already increasing) interpolates linearly
    between them and is flat beyond the first and the last, as ``steps`` is.
    """
    w = np.ones_like(raw) if sample_weight is None else np.asarray(sample_weight, float)
    on = w > 0
    values, step = np.unique(steps.predict(raw[on]), return_inverse=True)
    centres = np.bincount(step, weights=w[on] * raw[on]) / np.bincount(step, weights=w[on])
    return IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(centres, values)


def _rows(
    sample_weight: npt.NDArray[np.float64] | None, rows: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64] | None:
    return None if sample_weight is None else sample_weight[rows]


def _groups(groups: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None) -> npt.NDArray[Any]:
    """Check ``fit``'s groups and keep those of the rows the base class keeps (weight > 0)."""
    labels = np.asarray(groups)
    n_rows = np.shape(y)[0] if np.ndim(y) else 0
    if labels.shape != (n_rows,):
        raise ValueError(
            f"Got groups of shape {labels.shape}; expected ({n_rows},), one group label "
            "(e.g. the household id) per row of X and y, in the same order."
        )
    if sample_weight is not None:
        try:
            positive = np.asarray(sample_weight, dtype=np.float64) > 0
        except (TypeError, ValueError):  # RiskModel.fit reports the bad weights
            return labels
        if positive.shape == labels.shape:
            labels = labels[positive]
    return labels
