"""The exit model: a classifier of "out of need for the whole window" among recipients."""

from __future__ import annotations

from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..models._sklearn_compat import BinaryClassifierTagsMixin, validate_params

__all__ = ["RECIPIENT_FEATURES", "ExitModel"]

#: Features of ``needsid.features.build`` that show a row was paid dibao or tekun in the
#: last 12 months: a current recipient (paid last month) has one of them above 0.
RECIPIENT_FEATURES = ("months_benefit_dibao_12m", "months_benefit_tekun_12m")
ID_COLUMN = "household_id"


def _frame(X: Any) -> Any:
    """Return ``X`` as a narwhals eager frame, or None if it is not a dataframe."""
    if isinstance(X, pd.DataFrame):
        return nw.from_native(X, eager_only=True)
    frame = nw.from_native(X, pass_through=True)
    if isinstance(frame, nw.LazyFrame):
        return frame.collect()
    return frame if isinstance(frame, nw.DataFrame) else None


class ExitModel(BinaryClassifierTagsMixin, ClassifierMixin, BaseEstimator):
    """Score current recipients by the chance they are out of need for the whole window.

    A scikit-learn classifier over the feature table (``needsid.features.build``) of
    the current recipients at each date, with the label ``should_exit`` of
    :func:`needsid.labels.make_exit`. It wraps a needsid risk model (LightGBM by
    default) and adds one check: rows that cannot be recipients are refused.

    The model can only refuse what it can see. With a dataframe that has both
    ``RECIPIENT_FEATURES`` columns, a row where both are 0 (no dibao or tekun payment
    in the last 12 months) is not a recipient, and ``fit`` and ``predict_proba`` raise.
    A row paid in the year but not in the month before ``as_of`` looks the same as a
    recipient to the features, and a NumPy array has no names: such rows are scored.
    Select the rows with ``make_exit``, whose rows are exactly the current recipients.

    Parameters
    ----------
    estimator : estimator, optional
        A binary classifier with ``fit(X, y, sample_weight)`` and ``predict_proba``
        (and ``explain`` for :meth:`explain`); cloned in ``fit``. Default:
        ``needsid.models.GBMRiskModel()``.
    check_recipients : bool, default=True
        Refuse rows that are not recipients where the features show it (above).

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator``.
    classes_ : ndarray of shape (2,)
        Class labels; ``classes_[1]`` is the event (should exit).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names, when ``X`` had them.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.datasets import make_classification
    >>> from needsid.exits import ExitModel
    >>> from needsid.models import GBMRiskModel
    >>> X, y = make_classification(n_samples=300, n_features=3, n_redundant=0,
    ...                            random_state=0)
    >>> X = pd.DataFrame(X, columns=["wage_pc_3m", "months_benefit_dibao_12m", "hh_size"])
    >>> X["months_benefit_dibao_12m"] = 12.0
    >>> X["months_benefit_tekun_12m"] = 0.0
    >>> model = ExitModel(GBMRiskModel(n_estimators=20)).fit(X, y)
    >>> model.predict_proba(X.head(2)).shape
    (2, 2)
    """

    _parameter_constraints = {
        "estimator": [BaseEstimator, None],
        "check_recipients": ["boolean"],
    }

    def __init__(self, estimator: Any = None, *, check_recipients: bool = True) -> None:
        self.estimator = estimator
        self.check_recipients = check_recipients

    # -- the estimator contract ----------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ExitModel:
        """Fit the inner estimator on recipients' features and exit labels.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Features of current recipients (pandas or polars keep their names; a
            ``household_id`` column is the row id, not a feature).
        y : array-like of shape (n_samples,)
            Binary labels, e.g. ``should_exit`` of :func:`needsid.labels.make_exit`
            (rows without a label left out).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights, e.g. ``make_exit``'s ``weight``.

        Returns
        -------
        ExitModel
            The fitted model (``self``).

        Raises
        ------
        ValueError
            If a parameter is invalid, ``y`` is not binary, or a row is not a recipient
            (see the class docstring).

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.exits import ExitModel
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
        >>> ExitModel(GBMRiskModel(n_estimators=20)).fit(X, y).classes_.tolist()
        [0, 1]
        """
        validate_params(self)
        self._refuse_non_recipients(X)
        from ..models import GBMRiskModel

        inner = GBMRiskModel() if self.estimator is None else self.estimator
        self.estimator_ = clone(inner)
        if sample_weight is None:
            self.estimator_.fit(X, y)
        else:
            self.estimator_.fit(X, y, sample_weight=sample_weight)
        return self

    @property
    def classes_(self) -> np.ndarray:
        """Class labels of the fitted estimator; ``classes_[1]`` is the event."""
        classes: np.ndarray = self.estimator_.classes_
        return classes

    @property
    def n_features_in_(self) -> int:
        """Number of features seen in ``fit``."""
        return int(self.estimator_.n_features_in_)

    @property
    def feature_names_in_(self) -> np.ndarray:
        """Feature names seen in ``fit`` (absent when ``X`` had none)."""
        names: np.ndarray = self.estimator_.feature_names_in_
        return names

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return class probabilities; column 1 is the chance of should-exit.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Recipients' features, in the columns seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Each row sums to 1.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If a row is not a recipient (see the class docstring) or the features
            differ from those seen in ``fit``.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.exits import ExitModel
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
        >>> p = ExitModel(GBMRiskModel(n_estimators=20)).fit(X, y).predict_proba(X[:3])
        >>> p.shape, bool(((p >= 0) & (p <= 1)).all())
        ((3, 2), True)
        """
        check_is_fitted(self)
        self._refuse_non_recipients(X)
        proba: np.ndarray = self.estimator_.predict_proba(X)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """Return the more likely class of each row (the event above a 0.5 chance).

        A schedule of exit reviews within a capacity is :func:`needsid.exits.phase_out`'s
        decision, not this one's: a household is never exited on a score alone.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            As for :meth:`predict_proba`.

        Returns
        -------
        ndarray of shape (n_samples,)
            A label from ``classes_`` per row.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.exits import ExitModel
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
        >>> ExitModel(GBMRiskModel(n_estimators=20)).fit(X, y).predict(X[:3]).shape
        (3,)
        """
        proba = self.predict_proba(X)  # first: it checks that the model is fitted
        labels: np.ndarray = self.classes_[np.argmax(proba, axis=1)]
        return labels

    def explain(self, X: Any, top: int | None = 3, **kwargs: Any) -> pd.DataFrame:
        """Reason codes of the exit scores, from the inner estimator's ``explain``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            As for :meth:`predict_proba`; a ``household_id`` column names the rows.
        top : int or None, default=3
            The largest contributions kept per row (None keeps all).
        **kwargs
            Passed on (``dimensions``, ``by_dimension`` of the needsid models).

        Returns
        -------
        pandas.DataFrame
            ``row_id, feature, value, contribution, dimension``; a contribution is in
            probability points of should-exit (see ``needsid.models``).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        TypeError
            If the inner estimator has no ``explain``.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.datasets import make_classification
        >>> from needsid.exits import ExitModel
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=300, n_features=2, n_redundant=0,
        ...                            random_state=0)
        >>> X = pd.DataFrame(X, columns=["wage_pc_3m", "hh_size"])
        >>> X.insert(0, "household_id", [f"h{i}" for i in range(len(X))])
        >>> model = ExitModel(GBMRiskModel(n_estimators=20)).fit(X, y)
        >>> model.explain(X.head(1), top=1)[["row_id", "feature"]].to_dict("records")
        [{'row_id': 'h0', 'feature': 'wage_pc_3m'}]
        """
        check_is_fitted(self)
        if not hasattr(self.estimator_, "explain"):
            raise TypeError(
                f"Got estimator={type(self.estimator_).__name__}, which has no explain(); "
                "reason codes need a needsid model (GBMRiskModel, PointsScorecard, "
                "EBMRiskModel)."
            )
        self._refuse_non_recipients(X)
        return self.estimator_.explain(X, top=top, **kwargs)

    # -- helpers ---------------------------------------------------------------------------

    def _refuse_non_recipients(self, X: Any) -> None:
        """Raise if a row of a named frame shows no dibao or tekun payment in 12 months."""
        if not self.check_recipients:
            return
        frame = _frame(X)
        if frame is None or not set(RECIPIENT_FEATURES) <= set(frame.columns):
            return
        paid = np.zeros(len(frame), dtype=bool)
        for c in RECIPIENT_FEATURES:
            v = frame[c].to_numpy().astype(float)
            paid |= np.isnan(v) | (v > 0)  # unknown is not refused
        if paid.all():
            return
        bad = np.flatnonzero(~paid)
        ids = (
            frame[ID_COLUMN].to_numpy()[bad[:3]].tolist()
            if ID_COLUMN in frame.columns
            else [f"row {i}" for i in bad[:3]]
        )
        raise ValueError(
            f"Got {bad.size} row(s) of X that are not current recipients (e.g. {ids}): "
            f"{' and '.join(RECIPIENT_FEATURES)} are both 0, so no dibao or tekun was paid "
            "in the last 12 months. ExitModel scores recipients only: keep the rows of "
            "needsid.labels.make_exit(bundle, as_of), or pass check_recipients=False."
        )
