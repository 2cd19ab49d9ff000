"""A scikit-learn transformer: achievements in, Alkire-Foster deprivations and score out."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

# private and version-dependent scikit-learn API is reached through one module only
from ..models._sklearn_compat import Interval, StrOptions, fit_context, validate_data

__all__ = ["DeprivationTransformer"]


class DeprivationTransformer(TransformerMixin, BaseEstimator):
    """Turn indicator values into deprivation flags, a weighted score and a poverty flag.

    Parameters
    ----------
    cutoffs : array-like of shape (n_features,), default=None
        Deprivation cutoff per indicator. None learns one in ``fit``: the ``quantile``
        of each indicator (a relative deprivation line).
    quantile : float, default=0.25
        Quantile used when ``cutoffs`` is None.
    weights : array-like of shape (n_features,), default=None
        Indicator weights (normalised to sum to 1); equal if None.
    k : float, default=1/3
        Poverty cutoff as a share of the weighted indicators.
    deprived_if : {"below", "above"}, default="below"
        A unit is deprived in an indicator when its value is below (or above) the cutoff.

    Attributes
    ----------
    cutoffs_ : ndarray of shape (n_features,)
    weights_ : ndarray of shape (n_features,)
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from needsid.mpi import DeprivationTransformer
    >>> X = np.array([[1.0, 5.0], [3.0, 1.0], [0.0, 0.0]])
    >>> DeprivationTransformer(cutoffs=[2, 2], k=0.5).fit_transform(X)
    array([[1. , 0. , 0.5, 1. ],
           [0. , 1. , 0.5, 1. ],
           [1. , 1. , 1. , 1. ]])
    """

    _parameter_constraints: dict = {
        "cutoffs": ["array-like", None],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
        "weights": ["array-like", None],
        "k": [Interval(Real, 0, 1, closed="right")],
        "deprived_if": [StrOptions({"below", "above"})],
    }

    def __init__(self, cutoffs=None, quantile=0.25, weights=None, k=1 / 3, deprived_if="below"):
        self.cutoffs = cutoffs
        self.quantile = quantile
        self.weights = weights
        self.k = k
        self.deprived_if = deprived_if

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn (or check) the cutoffs and weights."""
        X = validate_data(self, X, reset=True, allow_nan=False)
        d = X.shape[1]
        if self.cutoffs is None:
            self.cutoffs_ = np.quantile(X, self.quantile, axis=0)
        else:
            self.cutoffs_ = np.asarray(self.cutoffs, dtype=np.float64).reshape(-1)
            if self.cutoffs_.shape[0] != d:
                raise ValueError(
                    f"Got {self.cutoffs_.shape[0]} cutoffs for {d} indicators; give one per "
                    "indicator, or cutoffs=None to learn them."
                )
        w = np.ones(d) if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        if w.shape != (d,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(
                f"Got weights={self.weights!r}; expected {d} non-negative weights with a "
                "positive sum."
            )
        self.weights_ = w / w.sum()
        return self

    def transform(self, X):
        """Return ``[deprived_1 .. deprived_d, score, poor]`` as floats."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, allow_nan=False)
        if self.deprived_if == "below":
            g0 = (X < self.cutoffs_).astype(np.float64)
        else:
            g0 = (X > self.cutoffs_).astype(np.float64)
        score = g0 @ self.weights_
        poor = ((score >= self.k - 1e-12) & (score > 0)).astype(np.float64)
        return np.column_stack([g0, score, poor])

    def get_feature_names_out(self, input_features=None):
        """Names: ``deprived_<feature>``..., ``deprivation_score``, ``poor``."""
        check_is_fitted(self)
        if input_features is None:
            input_features = getattr(
                self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)]
            )
        return np.asarray(
            [f"deprived_{f}" for f in input_features] + ["deprivation_score", "poor"],
            dtype=object,
        )
