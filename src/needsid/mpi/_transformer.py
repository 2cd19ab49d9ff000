"""A scikit-learn transformer: achievements in, Alkire-Foster deprivations and score out."""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
import numpy.typing as npt
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
        The cutoffs used: given, or learnt in ``fit``.
    weights_ : ndarray of shape (n_features,)
        The weights, normalised to sum to 1.
    n_features_in_ : int
        Indicators seen in ``fit``.

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

    _parameter_constraints: dict[str, list[Any]] = {
        "cutoffs": ["array-like", None],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
        "weights": ["array-like", None],
        "k": [Interval(Real, 0, 1, closed="right")],
        "deprived_if": [StrOptions({"below", "above"})],
    }

    def __init__(
        self,
        cutoffs: npt.ArrayLike | None = None,
        quantile: float = 0.25,
        weights: npt.ArrayLike | None = None,
        k: float = 1 / 3,
        deprived_if: str = "below",
    ) -> None:
        self.cutoffs = cutoffs
        self.quantile = quantile
        self.weights = weights
        self.k = k
        self.deprived_if = deprived_if

    # scikit-learn ships no type hints, so its decorator is untyped
    @fit_context(prefer_skip_nested_validation=True)  # type: ignore[untyped-decorator]
    def fit(self, X: npt.ArrayLike, y: object = None) -> DeprivationTransformer:
        """Learn (or check) the cutoffs and weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Indicator values, one row per unit; no missing values.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        DeprivationTransformer
            The fitted transformer.

        Raises
        ------
        ValueError
            If there is not one cutoff or one weight per indicator, or the weights are
            negative or sum to zero (the parameters' ranges are checked too).

        Examples
        --------
        >>> import numpy as np
        >>> from needsid.mpi import DeprivationTransformer
        >>> X = np.array([[1.0, 5.0], [3.0, 1.0], [0.0, 0.0], [4.0, 2.0]])
        >>> t = DeprivationTransformer(quantile=0.5).fit(X)
        >>> t.cutoffs_, t.weights_
        (array([2. , 1.5]), array([0.5, 0.5]))
        """
        values: np.ndarray = validate_data(self, X, reset=True, allow_nan=False)
        d = values.shape[1]
        if self.cutoffs is None:
            self.cutoffs_ = np.quantile(values, self.quantile, axis=0)
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

    def transform(self, X: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Return ``[deprived_1 .. deprived_d, score, poor]`` as floats.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Indicator values, with the indicators seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_features + 2)
            1.0 where a unit is deprived in an indicator, then the weighted score and
            1.0 where the unit is poor (score at least ``k`` and above 0).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the transformer is not fitted.

        Examples
        --------
        >>> import numpy as np
        >>> from needsid.mpi import DeprivationTransformer
        >>> t = DeprivationTransformer(cutoffs=[2, 2], k=0.5).fit([[0.0, 0.0]])
        >>> t.transform([[1.0, 5.0], [3.0, 3.0]])
        array([[1. , 0. , 0.5, 1. ],
               [0. , 0. , 0. , 0. ]])
        """
        check_is_fitted(self)
        values: np.ndarray = validate_data(self, X, reset=False, allow_nan=False)
        if self.deprived_if == "below":
            g0 = (values < self.cutoffs_).astype(np.float64)
        else:
            g0 = (values > self.cutoffs_).astype(np.float64)
        score = g0 @ self.weights_
        poor = ((score >= self.k - 1e-12) & (score > 0)).astype(np.float64)
        return np.column_stack([g0, score, poor])

    def get_feature_names_out(
        self, input_features: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.object_]:
        """Return the output column names.

        Parameters
        ----------
        input_features : array-like of str, optional
            Indicator names; default the names seen in ``fit`` (else ``x0``, ``x1``, ...).

        Returns
        -------
        ndarray of str
            ``deprived_<feature>`` per indicator, then ``deprivation_score`` and ``poor``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the transformer is not fitted.

        Examples
        --------
        >>> import pandas as pd
        >>> from needsid.mpi import DeprivationTransformer
        >>> X = pd.DataFrame({"meals": [1.0, 3.0], "school": [0.0, 6.0]})
        >>> DeprivationTransformer(cutoffs=[2, 5]).fit(X).get_feature_names_out()
        array(['deprived_meals', 'deprived_school', 'deprivation_score', 'poor'],
              dtype=object)
        """
        check_is_fitted(self)
        names = (
            getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)])
            if input_features is None
            else np.asarray(input_features)
        )
        return np.asarray(
            [f"deprived_{f}" for f in names] + ["deprivation_score", "poor"], dtype=np.object_
        )
