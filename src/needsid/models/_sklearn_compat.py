"""The one place needsid touches private or version-dependent scikit-learn API.

Everything else in the package (the risk models, ``needsid.mpi``'s transformer) imports
from here, so a scikit-learn upgrade that moves these names is fixed in this file only
(skrub keeps a module like this for the same reason).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt
import sklearn
from sklearn.base import _fit_context  # private: validates parameters once per fit
from sklearn.utils._param_validation import (  # private: parameter constraints
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.fixes import parse_version
from sklearn.utils.validation import _check_sample_weight  # private: weight conversion

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    # the tags mixin extends the tags of the estimator it is mixed into
    from sklearn.base import BaseEstimator as _Estimator
    from sklearn.utils import Tags
else:
    _Estimator = object

__all__ = [
    "BinaryClassifierTagsMixin",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "check_sample_weight",
    "fill_empty_columns",
    "fit_context",
    "l1_penalty",
    "validate_data",
    "validate_params",
]

SKLEARN_GE_1_6 = parse_version(parse_version(sklearn.__version__).base_version) >= parse_version(
    "1.6"
)


SKLEARN_GE_1_8 = parse_version(parse_version(sklearn.__version__).base_version) >= parse_version(
    "1.8"
)


def l1_penalty() -> dict[str, object]:
    """Return ``LogisticRegression`` keyword arguments for a pure L1 (lasso) penalty.

    scikit-learn 1.8 deprecates ``penalty`` (removed in 1.10) for ``l1_ratio=1``; before
    1.8, ``l1_ratio`` is read for ``penalty="elasticnet"`` only.
    """
    return {"l1_ratio": 1.0} if SKLEARN_GE_1_8 else {"penalty": "l1"}


def validate_params(estimator: BaseEstimator) -> None:
    """Check ``estimator.get_params()`` against its ``_parameter_constraints``."""
    validate_parameter_constraints(
        estimator._parameter_constraints,
        estimator.get_params(deep=False),
        caller_name=type(estimator).__name__,
    )


if SKLEARN_GE_1_6:
    from sklearn.utils.validation import validate_data as _validate_data

    _FINITE = "ensure_all_finite"
else:  # pragma: no cover - scikit-learn 1.4 and 1.5

    def _validate_data(estimator: BaseEstimator, *args: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(*args, **kwargs)

    _FINITE = "force_all_finite"

#: ``fit_context(prefer_skip_nested_validation=...)`` decorates ``fit``: it checks the
#: ``_parameter_constraints`` once, then skips the checks of nested estimators.
fit_context = _fit_context


@overload
def validate_data(
    estimator: BaseEstimator, X: npt.ArrayLike, *, reset: bool, allow_nan: bool = True
) -> npt.NDArray[np.float64]: ...


@overload
def validate_data(
    estimator: BaseEstimator,
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    reset: bool,
    allow_nan: bool = True,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[Any]]: ...


def validate_data(
    estimator: BaseEstimator,
    X: npt.ArrayLike,
    y: npt.ArrayLike = "no_validation",
    *,
    reset: bool,
    allow_nan: bool = True,
) -> npt.NDArray[np.float64] | tuple[npt.NDArray[np.float64], npt.NDArray[Any]]:
    """Validate ``X`` (and ``y``) as float64 and record or check the feature names.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator whose ``n_features_in_`` and ``feature_names_in_`` are set
        (``reset=True``, in ``fit``) or checked (``reset=False``, after ``fit``).
    X : array-like or DataFrame of shape (n_samples, n_features)
        Numeric input.
    y : array-like of shape (n_samples,), optional
        Targets; left out, only ``X`` is validated and returned.
    reset : bool
        True in ``fit``, False in ``predict`` and ``transform``.
    allow_nan : bool, default=True
        Accept NaN (missing values) in ``X``; infinite values are refused either way.

    Returns
    -------
    X : ndarray of float64
        Or ``(X, y)`` when ``y`` is given.

    Raises
    ------
    ValueError
        If ``X`` is not numeric, holds infinite values (or NaN with
        ``allow_nan=False``), or has other features than seen in ``fit``.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> est = BaseEstimator()
    >>> validate_data(est, [[1, 2], [3, float("nan")]], reset=True)
    array([[ 1.,  2.],
           [ 3., nan]])
    >>> est.n_features_in_
    2
    >>> X = [[1, float("nan")]]
    >>> validate_data(est, X, reset=False, allow_nan=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Input X contains NaN...
    """
    finite: dict[str, str | bool] = {_FINITE: "allow-nan" if allow_nan else True}
    validated: npt.NDArray[np.float64] | tuple[npt.NDArray[np.float64], npt.NDArray[Any]]
    validated = _validate_data(estimator, X, y, reset=reset, dtype=np.float64, **finite)
    return validated


def check_sample_weight(
    sample_weight: npt.ArrayLike, X: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Return ``sample_weight`` as float64 of shape (n_samples,), or raise a ValueError.

    The checks and their wording (what is wrong, how to fix it) are ours; the conversion
    is scikit-learn's ``_check_sample_weight``. Everything wrong with the values is
    reported at once.
    """
    n_samples = X.shape[0]
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Got sample_weight that is not numeric ({exc}); expected one non-negative "
            "number per row of X, e.g. np.ones(len(X))."
        ) from exc
    if weights.shape != (n_samples,):
        raise ValueError(
            f"Got sample_weight of shape {weights.shape}; expected shape ({n_samples},), one "
            "weight per row of X. Pass one weight per row, in the order of the rows of X and y."
        )
    problems = []
    bad = np.flatnonzero(~np.isfinite(weights))
    if bad.size:
        problems.append(
            f"{bad.size} NaN or infinite value(s), the first at row {bad[0]}: fill them, e.g. "
            "with 1.0, or drop those rows from X and y."
        )
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        problems.append(
            f"{negative.size} negative value(s), the first {float(weights[negative[0]])!r} at "
            f"row {negative[0]}: weights must be >= 0; use 0 to leave a row out."
        )
    if problems:
        raise ValueError("Got sample_weight with " + " Also ".join(problems))
    if not weights.any():
        raise ValueError(
            f"Got sample_weight with all {n_samples} weights zero, so no row is left to "
            "learn from. Give the rows to learn from a positive weight, or pass "
            "sample_weight=None to weigh all rows equally."
        )
    checked: npt.NDArray[np.float64] = _check_sample_weight(weights, X, dtype=np.float64)
    return checked


def fill_empty_columns(
    X: npt.NDArray[np.float64], min_values: int = 20, value: float = 0.0
) -> npt.NDArray[np.float64]:
    """Return ``X`` with every column of fewer than ``min_values`` values set to ``value``.

    scikit-learn 1.9's ``HistGradientBoosting*.fit`` fails to bin a column that holds no
    value ("window shape cannot be larger than input array shape"); 1.7 and earlier
    accept it. A nearly empty column can become one inside ``fit`` (early stopping holds
    out rows). With ``min_samples_leaf=min_values`` (20 by default) no split can use a
    column of fewer values, so setting it to a constant leaves the fitted model the same.

    Examples
    --------
    >>> X = np.array([[1.0, np.nan], [np.nan, np.nan], [2.0, 5.0]])
    >>> fill_empty_columns(X, min_values=2)
    array([[ 1.,  0.],
           [nan,  0.],
           [ 2.,  0.]])
    """
    sparse = (~np.isnan(X)).sum(axis=0) < min_values
    if not sparse.any():
        return X
    X = X.copy()
    X[:, sparse] = value
    return X


class BinaryClassifierTagsMixin(_Estimator):
    """Declare a binary-only classifier that accepts missing values (NaN)."""

    if SKLEARN_GE_1_6:

        def __sklearn_tags__(self) -> Tags:
            tags = super().__sklearn_tags__()
            tags.classifier_tags.multi_class = False
            tags.input_tags.allow_nan = True
            return tags

    else:  # pragma: no cover - scikit-learn 1.4 and 1.5

        def _more_tags(self) -> dict[str, bool]:
            return {"binary_only": True, "allow_nan": True}
