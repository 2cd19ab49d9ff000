"""The one place ``needsid.models`` touches private or version-dependent scikit-learn API.

Everything else in the package imports from here, so a scikit-learn upgrade that moves
these names is fixed in this file only (skrub keeps a module like this for the same reason).
"""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn.utils._param_validation import (  # private: parameter constraints
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.fixes import parse_version

__all__ = [
    "BinaryClassifierTagsMixin",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "validate_data",
    "validate_params",
]

SKLEARN_GE_1_6 = parse_version(parse_version(sklearn.__version__).base_version) >= parse_version(
    "1.6"
)


def validate_params(estimator) -> None:
    """Check ``estimator.get_params()`` against its ``_parameter_constraints``."""
    validate_parameter_constraints(
        estimator._parameter_constraints,
        estimator.get_params(deep=False),
        caller_name=type(estimator).__name__,
    )


if SKLEARN_GE_1_6:
    from sklearn.utils.validation import validate_data as _validate_data

    _NAN_OK = {"ensure_all_finite": "allow-nan"}
else:  # pragma: no cover - scikit-learn 1.4 and 1.5

    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

    _NAN_OK = {"force_all_finite": "allow-nan"}


def validate_data(estimator, X, y="no_validation", *, reset: bool):
    """Validate ``X`` (and ``y``) as float64, NaN allowed; record or check feature names."""
    return _validate_data(estimator, X, y, reset=reset, dtype=np.float64, **_NAN_OK)


class BinaryClassifierTagsMixin:
    """Declare a binary-only classifier that accepts missing values (NaN)."""

    if SKLEARN_GE_1_6:

        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.classifier_tags.multi_class = False
            tags.input_tags.allow_nan = True
            return tags

    else:  # pragma: no cover - scikit-learn 1.4 and 1.5

        def _more_tags(self):
            return {"binary_only": True, "allow_nan": True}
