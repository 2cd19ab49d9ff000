"""Plumbing shared by the risk models: inputs, binary labels, predict and ``explain``.

A model implements ``_fit(X, y, sample_weight)`` on a float array, 0/1 labels and None
or positive weights, ``_log_odds(X)`` returning its additive contributions, and ``_link``
from that scale to probability.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from numbers import Integral
from typing import TYPE_CHECKING, Any, Self, TypeAlias, TypeVar

import narwhals as nw
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted

from ._explain import default_dimensions, probability_points, reason_table
from ._sklearn_compat import (
    BinaryClassifierTagsMixin,
    check_sample_weight,
    validate_data,
    validate_params,
)

if TYPE_CHECKING:
    import polars as pl
    from numpy.typing import ArrayLike

__all__ = ["ID_COLUMN", "RiskModel"]

#: What the models take as ``X``: an array or a pandas or polars frame.
XLike: TypeAlias = "ArrayLike | pd.DataFrame | pl.DataFrame | pl.LazyFrame"

#: A column (or index) with this name identifies rows in ``explain`` and is not a feature.
ID_COLUMN = "household_id"

#: A value of a per-feature parameter (``monotone``, ``monotone_constraints``).
T = TypeVar("T")


def _split_ids(X: XLike) -> tuple[ArrayLike | pd.DataFrame, npt.NDArray[Any] | None]:
    """Return ``(X without the id, ids or None)``; non-pandas frames become pandas."""
    if not isinstance(X, pd.DataFrame):
        frame = nw.from_native(X, pass_through=True)
        if isinstance(frame, nw.LazyFrame):
            frame = frame.collect()
        if isinstance(frame, nw.DataFrame):
            X = frame.to_pandas()
    if isinstance(X, pd.DataFrame):
        if ID_COLUMN in X.columns:
            return X.drop(columns=ID_COLUMN), X[ID_COLUMN].to_numpy()
        if X.index.name == ID_COLUMN:
            return X, X.index.to_numpy()
    return X, None


class RiskModel(BinaryClassifierTagsMixin, ClassifierMixin, BaseEstimator):
    """Base class of the needsid risk models (binary classifiers with reason codes)."""

    # fitted in ``fit`` (or restored by ``from_json``), as in scikit-learn
    classes_: npt.NDArray[Any]
    n_features_in_: int
    feature_names_in_: npt.NDArray[np.object_]

    if TYPE_CHECKING:  # implemented by each model

        def _fit(
            self,
            X: npt.NDArray[np.float64],
            y: npt.NDArray[np.int64],
            sample_weight: npt.NDArray[np.float64] | None,
        ) -> None:
            """Fit on validated features, 0/1 labels and None or positive weights."""

        def _log_odds(
            self, X: npt.NDArray[np.float64], *, contributions: bool
        ) -> tuple[npt.NDArray[np.float64] | None, npt.NDArray[np.float64], float | None]:
            """Return ``(phi, eta, eta_base)`` on the additive scale.

            ``eta`` is each row's total; with ``contributions``, ``phi`` (n x p) holds the
            per-feature contributions and ``eta_base`` the base value, else both are None.
            """

        def _link(self, eta: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            """Map the additive scale to the probability of ``classes_[1]``."""

    def fit(self, X: XLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> Self:
        """Fit the model.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric features; NaN means missing. pandas and polars frames keep their
            column names; a ``household_id`` column or index is used as the row id.
        y : array-like of shape (n_samples,)
            Binary labels; ``classes_[1]`` is the event (e.g. in need).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row, e.g. a survey weight or an inverse sampling
            probability; None weighs all rows equally. As in scikit-learn a weight acts
            like a count of the row (so the scale of the weights matters the way the
            number of rows does, e.g. against regularisation), and a row of weight 0 is
            left out of training, as if it were not in ``X``.

        Returns
        -------
        RiskModel
            ``self``, fitted.

        Raises
        ------
        ValueError
            If a parameter is out of range, ``y`` has other than two classes, or one
            class has no row of positive ``sample_weight``.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=300, n_features=4, n_redundant=0,
        ...                            random_state=0)
        >>> model = GBMRiskModel(n_estimators=20).fit(X, y)
        >>> model.classes_.tolist(), model.n_features_in_
        ([0, 1], 4)
        """
        validate_params(self)
        X, _ = _split_ids(X)
        X, y = validate_data(self, X, y, reset=True)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        check_classification_targets(y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        if len(self.classes_) > 2:
            raise ValueError(
                "Only binary classification is supported. The type of the target is "
                f"{type_of_target(y)}: {type(self).__name__} got classes "
                f"{self.classes_.tolist()!r}; pass a 0/1 label such as in_need."
            )
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs both classes in y; got 1 class only: "
                f"{self.classes_.tolist()!r}. Use a label window in which some households "
                "are in need and some are not."
            )
        y01 = y01.astype(np.int64)
        if sample_weight is not None and not sample_weight.all():
            # dropped rather than passed on: the libraries would still count a row of
            # weight 0 (LightGBM's min_child_samples and bin edges, the calibration split,
            # interpret's bags, optbinning's split points)
            keep = sample_weight > 0
            X, y01, sample_weight = X[keep], y01[keep], sample_weight[keep]
            if np.unique(y01).size < 2:
                only = self.classes_.tolist()[y01[0]]
                raise ValueError(
                    f"{type(self).__name__} needs both classes among the rows with a "
                    f"positive sample_weight; only class {only!r} has any. Give some rows of "
                    "each class a positive weight."
                )
        self._fit(X, y01, sample_weight)
        return self

    def predict_proba(self, X: XLike) -> npt.NDArray[np.float64]:
        """Return class probabilities; column 1 is the event.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Features in the columns (and order) seen in ``fit``; a ``household_id``
            column or index is ignored.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            ``P(classes_[0])`` and ``P(classes_[1])``; each row sums to 1.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=300, n_features=4, n_redundant=0,
        ...                            random_state=0)
        >>> proba = GBMRiskModel(n_estimators=20).fit(X, y).predict_proba(X[:3])
        >>> proba.shape, bool((proba.sum(axis=1) == 1).all())
        ((3, 2), True)
        """
        check_is_fitted(self)
        X = self._check_X(X)[0]
        p = self._link(self._log_odds(X, contributions=False)[1])
        return np.column_stack([1.0 - p, p])

    def predict(self, X: XLike) -> npt.NDArray[Any]:
        """Return the more likely class of each row.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            As passed to :meth:`predict_proba`.

        Returns
        -------
        ndarray of shape (n_samples,)
            A label from ``classes_`` per row: the event where its probability is above
            0.5. A capacity-constrained decision is :func:`needsid.flagging.flag`'s.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=300, n_features=4, n_redundant=0,
        ...                            random_state=0)
        >>> GBMRiskModel(n_estimators=20).fit(X, y).predict(X[:3]).tolist(), y[:3].tolist()
        ([0, 1, 0], [0, 1, 0])
        """
        proba = self.predict_proba(X)  # first: it checks that the model is fitted
        labels: npt.NDArray[Any] = self.classes_[np.argmax(proba, axis=1)]
        return labels

    def explain(
        self,
        X: XLike,
        top: int | None = 3,
        dimensions: Mapping[str, str] | None = None,
        by_dimension: bool = False,
    ) -> pd.DataFrame:
        """Reason codes: each row's largest contributions to its predicted risk.

        A contribution is in probability points: the change in predicted probability
        attributed to the feature relative to the average household (the model's base
        value ``p_base``). The model's additive contributions ``phi_j`` on its log-odds
        scale are converted proportionally, ``phi_j / sum(phi) * (p - p_base)``, so each
        row's contributions over all features sum to ``p - p_base``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to explain, as passed to ``predict_proba``.
        top : int or None, default=3
            Keep the ``top`` largest ``|contribution|`` per row (None keeps all).
        dimensions : mapping of str to str, optional
            Feature -> deprivation dimension, overriding the name rules of
            :func:`needsid.models.feature_dimension` for the features it lists.
        by_dimension : bool, default=False
            Sum contributions per dimension (``top`` then counts dimensions).

        Returns
        -------
        pandas.DataFrame
            Long table ``row_id, feature, value, contribution, dimension`` sorted by row
            then ``|contribution|`` descending; ``row_id, dimension, contribution`` when
            ``by_dimension``. ``row_id`` is the ``household_id`` column or index of ``X``
            if it has one, else the row position.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If ``top`` is not a positive int or None, or ``dimensions`` names a column
            that is not a feature.
        TypeError
            If ``dimensions`` is not a mapping.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=300, n_features=3, n_redundant=0,
        ...                            random_state=0)
        >>> X = pd.DataFrame(X, columns=["income_ratio", "n_elderly", "hh_size"])
        >>> X.insert(0, "household_id", [f"h{i}" for i in range(len(X))])
        >>> model = GBMRiskModel(n_estimators=20).fit(X, y)
        >>> reasons = model.explain(X.head(2), top=2)
        >>> reasons[["row_id", "feature", "dimension"]]
          row_id       feature dimension
        0     h0  income_ratio    income
        1     h0       hh_size     other
        2     h1  income_ratio    income
        3     h1       hh_size     other
        >>> model.explain(X.head(2), top=1, by_dimension=True)["dimension"].tolist()
        ['income', 'income']
        """
        check_is_fitted(self)
        if top is not None and (not isinstance(top, Integral) or isinstance(top, bool) or top < 1):
            raise ValueError(f"Got top={top!r}; expected a positive int, e.g. 3, or None.")
        if dimensions is not None and not isinstance(dimensions, Mapping):
            raise TypeError(
                f"Got dimensions={dimensions!r}; expected a mapping of feature name to "
                "dimension, e.g. {'hh_size': 'care'}, or None."
            )
        X, ids = self._check_X(X)
        names = self._feature_names()
        phi, eta, eta_base = self._log_odds(X, contributions=True)
        assert phi is not None and eta_base is not None  # contributions=True returns both
        p, p_base = self._link(eta), float(self._link(np.array([eta_base]))[0])
        h = 1e-4  # the link's slope at the base value, for rows with sum(phi) ~ 0
        slope = float(np.diff(self._link(np.array([eta_base - h, eta_base + h])))[0]) / (2 * h)
        return reason_table(
            probability_points(phi, p, p_base, slope),
            X,
            names,
            np.arange(len(X)) if ids is None else ids,
            top=None if top is None else int(top),
            dimensions=default_dimensions(names, dimensions),
            by_dimension=by_dimension,
        )

    # -- helpers for subclasses -------------------------------------------------------

    def _check_X(self, X: XLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[Any] | None]:
        X, ids = _split_ids(X)
        return validate_data(self, X, reset=False), ids

    def _feature_names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(n) for n in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _per_feature(self, param: str, allowed: tuple[T, ...], default: T) -> list[T]:
        """Resolve a ``{feature name: value}`` parameter to one value per feature."""
        mapping = getattr(self, param) or {}
        names = self._feature_names()
        unknown = [k for k in mapping if k not in names]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Got {param} for {unknown!r}, which are not features of X; X has "
                f"{len(names)} features, e.g. {names[:5]!r}.{hint}"
            )
        for name, value in mapping.items():
            if isinstance(value, bool) or value not in allowed:
                raise ValueError(
                    f"Got {param}={{{name!r}: {value!r}}}; expected one of {list(allowed)!r} "
                    "per feature."
                )
        return [mapping.get(n, default) for n in names]
