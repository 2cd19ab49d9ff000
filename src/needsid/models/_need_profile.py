"""Need by dimension: one calibrated binary model per need dimension, with reason codes.

:class:`NeedProfileModel` predicts, for each household, the probability of need in each
of the simulator's :data:`~needsid.simulation.NEED_DIMENSIONS` (income, health,
education, care, housing, employment) that it was trained on; :func:`need_targets` turns
the output of :func:`needsid.labels.make` into its training targets.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from numbers import Integral
from typing import TYPE_CHECKING, Any, Self

import narwhals as nw
import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator, MultiOutputMixin, clone
from sklearn.utils import ClassifierTags
from sklearn.utils.validation import check_is_fitted

from ..simulation import NEED_DIMENSIONS
from ._base import ID_COLUMN, XLike, _split_ids
from ._sklearn_compat import check_sample_weight, validate_data, validate_params

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from sklearn.utils import Tags

__all__ = ["NeedProfileModel", "need_targets", "need_weights"]

#: The target column of each need dimension, as ``needsid.labels.make`` names it.
TARGET_COLUMNS = tuple(f"need_{d}" for d in NEED_DIMENSIONS)
#: A dimension with fewer labelled rows of its rarer class than this is not modelled
#: (the default model's calibration holdout needs one of each class on each side): its
#: probability is the labels' (weighted) rate.
MIN_CLASS_ROWS = 2
#: The saved form (:meth:`NeedProfileModel.to_json`) and its version.
_FORMAT = "needsid.NeedProfileModel"
_VERSION = 1
#: Columns of :meth:`NeedProfileModel.reasons`: ``need`` is the need dimension explained,
#: ``dimension`` the deprivation dimension of the feature (as in ``explain``).
NEED_REASON_COLUMNS = ("row_id", "need", "feature", "value", "contribution", "dimension")


def need_targets(labels: Any) -> Any:
    """Select the training targets of :class:`NeedProfileModel` from a labels frame.

    ``needsid.labels.make`` labels need by dimension where its source can:

    ======================  ============================================================
    source                  ``need_<dimension>`` columns
    ======================  ============================================================
    ``"truth"``             all six: income, health, education, care, housing,
                            employment
    ``"records"``           income (null where no wage, pension or income survey is on
                            record), health, education, care (from ages and disability
                            certificates), housing (an unsafe-housing record),
                            employment
    ``make_needs``          the records' six, with income from the casework outcomes
                            (positive-unlabeled, weighted: see :func:`need_weights`)
    other sources           none: they label ``in_need`` only
    ======================  ============================================================

    The records labels' ``need_tekun`` (no one able to work and no income on record, an
    eligibility category) and ``need_acute`` (large medical bills or disaster losses in
    the window) are not need dimensions and are left out, as are ``in_need``,
    ``label_source``, ``weight`` and ``p_need``.

    Parameters
    ----------
    labels : DataFrame
        The output of :func:`needsid.labels.make` (pandas or polars), or any frame with
        ``need_<dimension>`` columns.

    Returns
    -------
    DataFrame
        Of the type of ``labels``: ``household_id`` (if ``labels`` has it) and the
        ``need_<dimension>`` columns it has, in the order of ``NEED_DIMENSIONS``. Nulls
        are kept: :meth:`NeedProfileModel.fit` leaves a row out of a dimension whose
        label it lacks.

    Raises
    ------
    TypeError
        If ``labels`` is not a dataframe.
    ValueError
        If ``labels`` has no ``need_<dimension>`` column.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.models import need_targets
    >>> pop = ni.simulate(n_households=200, months=12, seed=0)
    >>> labels = ni.labels.make(pop.bundle, "2023-07-01", 3, source="records")
    >>> need_targets(labels).columns  # doctest: +NORMALIZE_WHITESPACE
    ['household_id', 'need_income', 'need_health', 'need_education', 'need_care',
     'need_housing', 'need_employment']
    """
    return _by_dimension(
        labels,
        "need_",
        "needsid.labels.make",
        f"none of {list(TARGET_COLUMNS)!r}; label need by dimension with "
        "needsid.labels.make(..., source='truth') on a simulated population or "
        "source='records' on a bundle.",
    )


def need_weights(labels: Any) -> Any:
    """Select per-dimension training weights from a labels frame, for ``fit``.

    ``needsid.labels.make_needs`` gives a ``weight_<dimension>`` column where a
    dimension's labels carry weights (its positive-unlabeled income labels). This returns
    them as ``need_<dimension>`` columns, the form :meth:`NeedProfileModel.fit` takes as
    ``sample_weight``; a dimension without a weight column weighs its rows 1.

    Parameters
    ----------
    labels : DataFrame
        The output of ``needsid.labels.make_needs`` (pandas or polars), or any frame with
        ``weight_<dimension>`` columns.

    Returns
    -------
    DataFrame
        Of the type of ``labels``: ``household_id`` (if ``labels`` has it) and one
        ``need_<dimension>`` column per ``weight_<dimension>`` column.

    Raises
    ------
    TypeError
        If ``labels`` is not a dataframe.
    ValueError
        If ``labels`` has no ``weight_<dimension>`` column.

    Examples
    --------
    >>> import polars as pl
    >>> from needsid.models import need_weights
    >>> labels = pl.DataFrame({"household_id": ["a", "b"], "need_income": [True, False],
    ...                        "weight_income": [1.0, 4.5]})
    >>> need_weights(labels).rows()
    [('a', 1.0), ('b', 4.5)]
    """
    return _by_dimension(
        labels,
        "weight_",
        "needsid.labels.make_needs",
        "no weight_<dimension> column; needsid.labels.make_needs gives them (its income "
        "labels are weighted).",
    )


def _by_dimension(labels: Any, prefix: str, maker: str, none_found: str) -> Any:
    """Return ``household_id`` (if there) and the ``prefix<dimension>`` columns of ``labels``.

    The columns are renamed ``need_<dimension>``, in the order of ``NEED_DIMENSIONS``.
    ``maker`` is the function whose output ``labels`` should be; ``none_found`` ends the
    error when there is no such column.
    """
    frame = nw.from_native(labels, eager_only=True, pass_through=True)
    if not isinstance(frame, nw.DataFrame):
        raise TypeError(
            f"Got labels of type {type(labels).__name__}; expected a pandas or polars "
            f"DataFrame, e.g. the output of {maker}."
        )
    found = [d for d in NEED_DIMENSIONS if prefix + d in frame.columns]
    if not found:
        raise ValueError(f"Got labels with columns {frame.columns!r} and {none_found}")
    keep = [ID_COLUMN] if ID_COLUMN in frame.columns else []
    return frame.select(*keep, *[nw.col(prefix + d).alias(f"need_{d}") for d in found]).to_native()


class NeedProfileModel(MultiOutputMixin, BaseEstimator):
    """Calibrated probability of need in each need dimension, with reason codes.

    One clone of ``estimator`` is fitted per dimension on that dimension's labelled
    rows: a row whose label is missing (NaN or null) for a dimension is left out of
    that dimension only, so labels from a bundle, null where the records cannot tell,
    lose no row for the other dimensions. With the default estimator each dimension's
    probability is calibrated on its own holdout (see ``GBMRiskModel``), and its reason
    codes are that model's TreeSHAP contributions.

    A dimension whose labelled rows (of positive ``sample_weight``) are all of one class
    has nothing to discriminate: its probability is that class (0.0 or 1.0) for every
    row, :attr:`constant_dimensions_` records it, it has no reason codes, and ``fit``
    warns. A dimension with a single labelled row of its rarer class (fewer than
    ``MIN_CLASS_ROWS``) is too thin to learn from: its probability is the labels'
    weighted rate, likewise. This keeps a small county's profile usable
    (``need_education`` from records is often all 0 in a few hundred households) without
    hiding the gap.

    On a simulated population the true labels cover all six dimensions, and so do a
    bundle's (``needsid.labels.make_needs``: the records' dimensions, income from the
    casework; :func:`need_targets` has the table); the model is fitted on the dimensions
    the labels have. :meth:`predict_frame` returns the profile in the form
    ``needsid.allocation`` reads.

    Parameters
    ----------
    estimator : estimator, optional
        A binary classifier with ``fit(X, y, sample_weight)``, ``predict_proba`` (column
        1 the probability of label 1) and, for :meth:`reasons`, the needsid models'
        ``explain``; cloned once per dimension in ``fit``. Default:
        ``needsid.models.GBMRiskModel()`` with its defaults.
    dimensions : sequence of str, optional
        The need dimensions to model, each one of ``NEED_DIMENSIONS``, in the order of the
        output columns. With a frame ``y``, these are taken from its ``need_<dimension>``
        columns (others are ignored); with an array ``y``, they name its columns in order.
        None: every ``need_<dimension>`` column of a frame ``y``, in the order of
        ``NEED_DIMENSIONS``, or all six for an array with six columns.

    Attributes
    ----------
    dimensions_ : tuple of str
        The dimensions modelled: the column order of :meth:`predict_proba`.
    estimators_ : dict of str to estimator
        The fitted clone of ``estimator`` per dimension, for the dimensions not constant.
    constant_dimensions_ : dict of str to float
        Dimension -> its constant probability, for dimensions whose labels had one class
        (that class) or fewer than ``MIN_CLASS_ROWS`` of the rarer one (the rate).
    n_labelled_ : dict of str to int
        Dimension -> number of rows it was fitted on (labelled, positive weight).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names, when ``X`` had them.

    See Also
    --------
    need_targets : The ``need_<dimension>`` targets of a labels frame.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.datasets import make_classification
    >>> from needsid.models import GBMRiskModel, NeedProfileModel
    >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
    >>> Y = pd.DataFrame({"need_income": y, "need_health": (X[:, 1] > 0).astype(float)})
    >>> Y.loc[:49, "need_health"] = np.nan  # unknown: left out of health only
    >>> model = NeedProfileModel(GBMRiskModel(n_estimators=20, n_jobs=1)).fit(X, Y)
    >>> model.dimensions_, model.n_labelled_
    (('income', 'health'), {'income': 300, 'health': 250})
    >>> model.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "estimator": [BaseEstimator, None],
        "dimensions": [list, tuple, None],
    }

    dimensions_: tuple[str, ...]
    estimators_: dict[str, Any]
    constant_dimensions_: dict[str, float]
    n_labelled_: dict[str, int]
    n_features_in_: int
    feature_names_in_: npt.NDArray[np.object_]

    def __init__(self, estimator: Any = None, *, dimensions: Sequence[str] | None = None) -> None:
        self.estimator = estimator
        self.dimensions = dimensions

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        # each output is a binary classification, but predict_proba is (n, n_dimensions),
        # not (n, n_classes): binary-classifier tags without the classifier type make
        # scikit-learn's checks draw two-class targets and skip the checks of single-output
        # classifiers
        tags.classifier_tags = ClassifierTags(multi_class=False)
        tags.input_tags.allow_nan = True
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    # -- fit ------------------------------------------------------------------------------

    def fit(self, X: XLike, y: Any, sample_weight: ArrayLike | None = None) -> Self:
        """Fit one model per need dimension on the rows labelled for it.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric features, e.g. ``needsid.features.build(bundle, as_of)``; NaN means
            missing. A ``household_id`` column or index is the row id, not a feature.
        y : DataFrame or array-like of shape (n_samples, n_dimensions)
            0/1 (or boolean) need labels; NaN or null where unknown. A frame names its
            columns ``need_<dimension>`` (e.g. :func:`need_targets` of
            ``needsid.labels.make``), and may have a ``household_id`` column, which must
            then match ``X``'s row by row. An array's columns are the ``dimensions``.
        sample_weight : array-like of shape (n_samples,) or DataFrame, default=None
            Non-negative weight of each row, passed to each dimension's model for its
            rows; None weighs all rows equally. A DataFrame weighs each dimension on its
            own: its ``need_<dimension>`` columns hold that dimension's weights (a
            dimension without a column weighs its rows 1), e.g. :func:`need_weights` of
            ``needsid.labels.make_needs``, whose income labels are positive-unlabeled
            and weighted.

        Returns
        -------
        NeedProfileModel
            ``self``, fitted.

        Raises
        ------
        ValueError
            If ``dimensions`` or ``y``'s columns are not need dimensions, ``y``'s values
            are not 0/1, ``y``'s rows or ids do not match ``X``'s, a dimension has no
            labelled row, or a dimension's model cannot be fitted (the message names it).

        Warns
        -----
        UserWarning
            If a dimension's labelled rows are all of one class (see the class docstring).

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel, NeedProfileModel
        >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
        >>> Y = pd.DataFrame({"need_health": 1 - y, "need_income": y})
        >>> model = NeedProfileModel(GBMRiskModel(n_estimators=20, n_jobs=1)).fit(X, Y)
        >>> model.dimensions_  # in the order of NEED_DIMENSIONS
        ('income', 'health')
        """
        validate_params(self)
        X, x_ids = _split_ids(X)
        Xa = validate_data(self, X, reset=True)
        per_dimension = _is_frame(sample_weight)
        weights = (
            None
            if sample_weight is None or per_dimension
            else check_sample_weight(sample_weight, Xa)
        )
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None; "
                "pass need labels with need_<dimension> columns, e.g. "
                "needsid.models.need_targets(needsid.labels.make(...))."
            )
        dims, labels = self._targets(y, len(Xa), x_ids)
        table = _dimension_weights(sample_weight, dims, len(Xa)) if per_dimension else None
        from ._gbm import GBMRiskModel  # LightGBM loads only when a model is fitted

        base = GBMRiskModel() if self.estimator is None else self.estimator
        self.dimensions_ = dims
        self.estimators_, self.constant_dimensions_, self.n_labelled_ = {}, {}, {}
        for k, dim in enumerate(dims):
            known = ~np.isnan(labels[:, k])
            w = weights if table is None else table[:, k]
            if w is not None:
                known &= w > 0
            rows = np.flatnonzero(known)
            if rows.size == 0:
                raise ValueError(
                    f"Got no labelled row for dimension {dim!r}: column 'need_{dim}' of y is "
                    "missing (NaN or null) in every row"
                    + ("" if w is None else " of positive sample_weight")
                    + f". Drop the column, or leave {dim!r} out of dimensions."
                )
            target = labels[rows, k].astype(np.int64)
            self.n_labelled_[dim] = int(rows.size)
            if np.unique(target).size < 2:
                self.constant_dimensions_[dim] = float(target[0])
                warnings.warn(
                    f"All {rows.size} labelled rows of dimension {dim!r} are of class "
                    f"{int(target[0])}; its probability is the constant {float(target[0])!r} "
                    "(constant_dimensions_) and it has no reason codes. Label a window or "
                    "population in which some households have this need and some do not.",
                    UserWarning,
                    stacklevel=2,
                )
                continue
            minority = int(min(target.sum(), target.size - target.sum()))
            if minority < MIN_CLASS_ROWS:
                wk = np.ones(rows.size) if w is None else w[rows]
                rate = float(np.average(target, weights=wk))
                self.constant_dimensions_[dim] = rate
                warnings.warn(
                    f"Dimension {dim!r} has {minority} labelled row(s) of its rarer class, "
                    f"fewer than {MIN_CLASS_ROWS}: too few to learn from, so its probability "
                    f"is the labels' rate, {rate:.4g}, for every row (constant_dimensions_), "
                    "with no reason codes. Label a longer window or a larger population.",
                    UserWarning,
                    stacklevel=2,
                )
                continue
            every = rows.size == len(Xa)
            est = clone(base)
            kwargs = {} if w is None else {"sample_weight": w[rows]}
            try:
                est.fit(self._features(Xa if every else Xa[rows]), target, **kwargs)
            except ValueError as exc:
                raise ValueError(
                    f"Could not fit dimension {dim!r} ({int(target.sum())} of {rows.size} "
                    f"labelled rows in need): {exc}"
                ) from exc
            self.estimators_[dim] = est
        return self

    def _targets(
        self, y: Any, n_rows: int, x_ids: npt.NDArray[Any] | None
    ) -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
        """Return the dimensions and the labels as floats (NaN where missing)."""
        if isinstance(y, pd.Series):
            y = y.to_frame()
        elif not isinstance(y, pd.DataFrame) and hasattr(y, "to_frame"):  # a polars Series
            y = y.to_frame()
        y, y_ids = _split_ids(y)
        wanted = None if self.dimensions is None else _check_dimensions(self.dimensions)
        if isinstance(y, pd.DataFrame):
            columns = [str(c) for c in y.columns]
            unknown = [c for c in columns if c not in TARGET_COLUMNS]
            if unknown:
                raise ValueError(
                    f"Got y with column(s) {unknown!r}, which are not need dimensions; "
                    f"expected columns among {list(TARGET_COLUMNS)!r} (and optionally "
                    f"{ID_COLUMN!r}). needsid.models.need_targets(labels) selects them from "
                    "the output of needsid.labels.make."
                )
            if wanted is None:
                wanted = tuple(d for d in NEED_DIMENSIONS if f"need_{d}" in columns)
                if not wanted:
                    raise ValueError(
                        "Got y without need_<dimension> columns; expected one or more of "
                        f"{list(TARGET_COLUMNS)!r}."
                    )
            absent = [f"need_{d}" for d in wanted if f"need_{d}" not in columns]
            if absent:
                raise ValueError(
                    f"Got dimensions={list(wanted)!r}, but y has no column {absent!r}; y has "
                    f"{columns!r}. Add the columns or leave those dimensions out."
                )
            raw = [y[f"need_{d}"].to_numpy() for d in wanted]
        else:
            array = np.asarray(y)
            if array.ndim != 2:
                raise ValueError(
                    f"Got y of shape {array.shape}; expected a 2-D array or frame with one "
                    "column per need dimension (for one dimension, y.reshape(-1, 1))."
                )
            if wanted is None:
                if array.shape[1] != len(NEED_DIMENSIONS):
                    raise ValueError(
                        f"Got an array y with {array.shape[1]} columns and dimensions=None; "
                        f"pass dimensions naming its columns, e.g. {list(NEED_DIMENSIONS[:2])!r}, "
                        "or a frame with need_<dimension> columns."
                    )
                wanted = tuple(NEED_DIMENSIONS)
            if array.shape[1] != len(wanted):
                raise ValueError(
                    f"Got an array y with {array.shape[1]} columns and dimensions="
                    f"{list(wanted)!r}; expected one column per dimension."
                )
            raw = [array[:, k] for k in range(array.shape[1])]
        labels = np.column_stack(
            [_as_labels(v, f"need_{d}") for v, d in zip(raw, wanted, strict=True)]
        )
        if len(labels) != n_rows:
            raise ValueError(
                f"Got y with {len(labels)} rows and X with {n_rows}; expected one label row "
                f"per row of X, in the same order: join the labels to the features on "
                f"{ID_COLUMN} first (features and labels can hold different households)."
            )
        if y_ids is not None and x_ids is not None:
            differ = np.flatnonzero(np.asarray(y_ids) != np.asarray(x_ids))
            if differ.size:
                first = int(differ[0])
                raise ValueError(
                    f"Got y whose {ID_COLUMN} differs from X's in {differ.size} rows, the "
                    f"first at row {first} ({y_ids[first]!r} in y, {x_ids[first]!r} in X); "
                    f"join the labels to the features on {ID_COLUMN} first."
                )
        return wanted, labels

    # -- predict --------------------------------------------------------------------------

    def predict_proba(self, X: XLike) -> npt.NDArray[np.float64]:
        """Return each row's calibrated probability of need in each dimension.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Features in the columns seen in ``fit``; a ``household_id`` column or index
            is ignored.

        Returns
        -------
        ndarray of shape (n_samples, n_dimensions)
            Column ``k`` is the probability of need in ``dimensions_[k]``. The
            dimensions are separate events: a row need not sum to 1.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel, NeedProfileModel
        >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
        >>> Y = pd.DataFrame({"need_income": y, "need_care": (X[:, 0] > 0).astype(int)})
        >>> model = NeedProfileModel(GBMRiskModel(n_estimators=20, n_jobs=1)).fit(X, Y)
        >>> p = model.predict_proba(X[:3])
        >>> p.shape, bool(((p >= 0) & (p <= 1)).all())
        ((3, 2), True)
        """
        check_is_fitted(self)
        Xa = self._check_X(X)[0]
        return self._proba(Xa)

    def _proba(self, Xa: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = np.empty((len(Xa), len(self.dimensions_)))
        features = self._features(Xa) if self.estimators_ else None
        for k, dim in enumerate(self.dimensions_):
            if dim in self.constant_dimensions_:
                out[:, k] = self.constant_dimensions_[dim]
            else:
                out[:, k] = self.estimators_[dim].predict_proba(features)[:, 1]
        return out

    def predict(self, X: XLike) -> npt.NDArray[np.int64]:
        """Return 1 where a dimension's probability of need is above 0.5, else 0.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            As for :meth:`predict_proba`.

        Returns
        -------
        ndarray of int64, shape (n_samples, n_dimensions)
            Columns in the order of ``dimensions_``. Who gets which programme under a
            budget is an allocation's decision, not this threshold's.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel, NeedProfileModel
        >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
        >>> Y = pd.DataFrame({"need_income": y, "need_care": 1 - y})
        >>> model = NeedProfileModel(GBMRiskModel(n_estimators=20, n_jobs=1)).fit(X, Y)
        >>> model.predict(X[:3]).tolist(), y[:3].tolist()
        ([[1, 0], [0, 1], [0, 1]], [1, 0, 0])
        """
        return (self.predict_proba(X) > 0.5).astype(np.int64)

    def predict_frame(self, X: XLike) -> pd.DataFrame | pl.DataFrame:
        """Return the need profile per household: ``household_id`` and ``need_<dimension>``.

        The table ``needsid.allocation`` reads: one row per household of ``X``, its id
        and its probability of need in each dimension.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_features + 1)
            Features as for :meth:`predict_proba`, with a ``household_id`` column (or,
            in pandas, index).

        Returns
        -------
        pandas.DataFrame or polars.DataFrame
            A pandas frame for a pandas ``X``, else polars: ``household_id`` and the
            probabilities of :meth:`predict_proba` in columns ``need_<dimension>`` (the
            labels' names, holding probabilities here), in the order of ``dimensions_``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If ``X`` has no ``household_id``.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel, NeedProfileModel
        >>> X, y = make_classification(n_samples=300, n_features=2, n_redundant=0,
        ...                            random_state=0)
        >>> X = pd.DataFrame(X, columns=["income_ratio", "hh_size"])
        >>> X.insert(0, "household_id", [f"h{i}" for i in range(len(X))])
        >>> Y = pd.DataFrame({"need_income": y})
        >>> model = NeedProfileModel(GBMRiskModel(n_estimators=20, n_jobs=1)).fit(X, Y)
        >>> profile = model.predict_frame(X.head(2))
        >>> profile.columns.tolist(), profile["household_id"].tolist()
        (['household_id', 'need_income'], ['h0', 'h1'])
        """
        check_is_fitted(self)
        Xa, ids = self._check_X(X)
        if ids is None:
            raise ValueError(
                f"Got X without a {ID_COLUMN!r} column or index; predict_frame labels each "
                f"row with its household. Add the {ID_COLUMN} column (needsid.features.build "
                "returns it), or use predict_proba for an array."
            )
        proba = self._proba(Xa)
        data = {
            ID_COLUMN: ids,
            **{f"need_{d}": proba[:, k] for k, d in enumerate(self.dimensions_)},
        }
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(data)
        return pl.DataFrame(data)

    def reasons(self, X: XLike, top: int | None = 3) -> pd.DataFrame:
        """Reason codes per dimension: the features that push each need's probability up.

        For each row and modelled dimension, the features with the largest positive
        contribution to that dimension's probability, from the dimension's model's
        ``explain`` (probability points relative to the average household; see
        ``GBMRiskModel.explain``). A row with fewer than ``top`` positive contributions to
        a dimension gets fewer reasons for it; a constant dimension gets none. Every
        feature of every dimension is computed for each row, so explain the rows that
        need it (e.g. the flagged households) rather than a whole population.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows to explain, as for :meth:`predict_proba`.
        top : int or None, default=3
            Reasons kept per row and dimension (None keeps every positive contribution).

        Returns
        -------
        pandas.DataFrame
            Long table ``row_id, need, feature, value, contribution, dimension``, sorted by
            row, then need (in the order of ``dimensions_``), then contribution descending.
            ``need`` is the need dimension explained; ``dimension`` is the feature's
            deprivation dimension (:func:`needsid.models.feature_dimension`); ``row_id``
            is the ``household_id`` of ``X`` if it has one, else the row position.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If ``top`` is not a positive int or None.
        TypeError
            If a dimension's model has no ``explain``.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel, NeedProfileModel
        >>> X, y = make_classification(n_samples=300, n_features=3, n_redundant=0,
        ...                            random_state=0)
        >>> X = pd.DataFrame(X, columns=["income_ratio", "n_elderly", "hh_size"])
        >>> Y = pd.DataFrame({"need_income": y, "need_care": (X["n_elderly"] > 0) * 1})
        >>> model = NeedProfileModel(GBMRiskModel(n_estimators=20, n_jobs=1)).fit(X, Y)
        >>> reasons = model.reasons(X.head(1), top=1)
        >>> reasons.columns.tolist()
        ['row_id', 'need', 'feature', 'value', 'contribution', 'dimension']
        >>> bool((reasons["contribution"] > 0).all())
        True
        """
        check_is_fitted(self)
        if top is not None and (not isinstance(top, Integral) or isinstance(top, bool) or top < 1):
            raise ValueError(f"Got top={top!r}; expected a positive int, e.g. 3, or None.")
        Xa, ids = self._check_X(X)
        features = self._features(Xa)
        row_ids = np.arange(len(Xa)) if ids is None else np.asarray(ids)
        parts = []
        for order, dim in enumerate(self.dimensions_):
            if dim in self.constant_dimensions_:
                continue
            est = self.estimators_[dim]
            if not hasattr(est, "explain"):
                raise TypeError(
                    f"The model of dimension {dim!r} ({type(est).__name__}) has no explain "
                    "method; reason codes need a needsid model such as GBMRiskModel."
                )
            table = est.explain(features, top=None)
            table = table[table["contribution"] > 0].assign(
                _row=lambda t: t["row_id"].to_numpy(), _order=order, need=dim
            )
            parts.append(table)
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in NEED_REASON_COLUMNS})
        out = pd.concat(parts, ignore_index=True).sort_values(
            ["_row", "_order", "contribution"], ascending=[True, True, False], kind="stable"
        )
        if top is not None:
            out = out.groupby(["_row", "_order"], sort=False).head(int(top))
        out["row_id"] = row_ids[out["_row"].to_numpy()]
        return out.loc[:, list(NEED_REASON_COLUMNS)].reset_index(drop=True)

    # -- saving ---------------------------------------------------------------------------

    def to_json(self, indent: int | None = None) -> str:
        """Return the fitted profile as a JSON document (see :meth:`from_json`).

        Each dimension's model is stored as its own ``to_json`` document, so a profile
        of needsid models (GBM, scorecard, EBM) saves and loads with no pickled code.

        Parameters
        ----------
        indent : int or None, default=None
            Indentation of the JSON text; None writes it on one line.

        Returns
        -------
        str
            The JSON document, with ``"format": "needsid.NeedProfileModel"``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        TypeError
            If a dimension's model has no ``to_json`` (it is not a needsid model).

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel, NeedProfileModel
        >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
        >>> Y = pd.DataFrame({"need_income": y, "need_care": 0})
        >>> model = NeedProfileModel(GBMRiskModel(n_estimators=20, n_jobs=1))
        >>> import warnings
        >>> with warnings.catch_warnings():  # need_care is constant: fit warns
        ...     warnings.simplefilter("ignore")
        ...     model = model.fit(X, Y)
        >>> loaded = NeedProfileModel.from_json(model.to_json())
        >>> loaded.dimensions_, loaded.constant_dimensions_
        (('income', 'care'), {'care': 0.0})
        >>> bool((loaded.predict_proba(X) == model.predict_proba(X)).all())
        True
        """
        check_is_fitted(self)
        estimators = {}
        for dim, est in self.estimators_.items():
            if not hasattr(est, "to_json"):
                raise TypeError(
                    f"The model of dimension {dim!r} ({type(est).__name__}) has no to_json; "
                    "a profile saves without pickle only with needsid models (GBMRiskModel, "
                    "PointsScorecard, EBMRiskModel)."
                )
            estimators[dim] = est.to_json()
        names = getattr(self, "feature_names_in_", None)
        doc = {
            "format": _FORMAT,
            "version": _VERSION,
            "dimensions": list(self.dimensions_),
            "constant_dimensions": dict(self.constant_dimensions_),
            "n_labelled": dict(self.n_labelled_),
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": None if names is None else [str(n) for n in names],
            "estimators": estimators,
        }
        return json.dumps(doc, indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Rebuild a fitted profile from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            The JSON document.

        Returns
        -------
        NeedProfileModel
            Fitted: ``predict_proba``, ``predict_frame`` and ``reasons`` give what the
            saved model gave; ``estimator`` is None (``fit`` would start afresh with the
            default).

        Raises
        ------
        ValueError
            If ``text`` is not a version-1 ``needsid.NeedProfileModel`` document, or a
            dimension's document is not a needsid model's.

        Examples
        --------
        >>> from needsid.models import NeedProfileModel
        >>> NeedProfileModel.from_json('{"format": "needsid.GBMRiskModel", "version": 1}')
        Traceback (most recent call last):
        ...
        ValueError: Got a JSON document without format='needsid.NeedProfileModel'; expected the output of NeedProfileModel.to_json().
        """  # noqa: E501
        from ._json import read_document, risk_model_from_json

        doc = read_document(text, _FORMAT, _VERSION, "NeedProfileModel.to_json()")
        model = cls(dimensions=list(doc["dimensions"]))
        model.dimensions_ = _check_dimensions(doc["dimensions"])
        model.constant_dimensions_ = {k: float(v) for k, v in doc["constant_dimensions"].items()}
        model.n_labelled_ = {k: int(v) for k, v in doc["n_labelled"].items()}
        model.n_features_in_ = int(doc["n_features_in"])
        if doc["feature_names_in"] is not None:
            model.feature_names_in_ = np.asarray(doc["feature_names_in"], dtype=object)
        model.estimators_ = {
            dim: risk_model_from_json(sub, f" for dimension {dim!r}")
            for dim, sub in doc["estimators"].items()
        }
        missing = [
            d
            for d in model.dimensions_
            if d not in model.estimators_ and d not in model.constant_dimensions_
        ]
        if missing:
            raise ValueError(
                f"Got a NeedProfileModel document with no model for dimension(s) {missing!r}."
            )
        return model

    # -- helpers --------------------------------------------------------------------------

    def _check_X(self, X: XLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[Any] | None]:
        X, ids = _split_ids(X)
        return validate_data(self, X, reset=False), ids

    def _features(self, Xa: npt.NDArray[np.float64]) -> npt.NDArray[np.float64] | pd.DataFrame:
        # the inner models were fitted with the feature names, if any: give them back so
        # their own checks (and reason codes) see the same columns
        if hasattr(self, "feature_names_in_"):
            return pd.DataFrame(Xa, columns=self.feature_names_in_, copy=False)
        return Xa


def _check_dimensions(dimensions: Sequence[str]) -> tuple[str, ...]:
    dims = tuple(dimensions)
    unknown = [d for d in dims if d not in NEED_DIMENSIONS]
    if unknown or not dims or len(set(dims)) != len(dims):
        raise ValueError(
            f"Got dimensions={list(dims)!r}; expected distinct names among "
            f"{list(NEED_DIMENSIONS)!r}, e.g. ['income', 'health'], or None."
        )
    return dims


def _as_labels(values: npt.NDArray[Any], column: str) -> npt.NDArray[np.float64]:
    """Return 0/1 labels as float64 with NaN where missing, or raise naming ``column``."""
    missing = np.asarray(pd.isna(values), dtype=bool)
    present = values[~missing]
    if present.dtype == object:
        ok = np.array([_is_binary(v) for v in present], dtype=bool)
    elif present.dtype.kind in "biuf":
        ok = (present == 0) | (present == 1)
    else:
        ok = np.zeros(len(present), dtype=bool)
    if not ok.all():
        bad = sorted({str(v) for v in present[~ok]})[:5]
        raise ValueError(
            f"Got y column {column!r} with value(s) {bad!r}; expected 0/1 or booleans, with "
            "NaN or null where the label is unknown."
        )
    out = np.full(len(values), np.nan)
    out[~missing] = present.astype(np.float64)
    return out


def _is_binary(value: Any) -> bool:
    return isinstance(value, bool | np.bool_ | int | np.integer | float | np.floating) and (
        value == 0 or value == 1
    )


def _is_frame(value: Any) -> bool:
    return isinstance(value, pd.DataFrame | pl.DataFrame)


def _dimension_weights(
    sample_weight: pd.DataFrame | pl.DataFrame, dims: Sequence[str], n_rows: int
) -> npt.NDArray[np.float64]:
    """Return per-dimension weights (n_rows, len(dims)) from a frame of need_<dim> columns."""
    frame = (
        sample_weight if isinstance(sample_weight, pl.DataFrame) else pl.from_pandas(sample_weight)
    )
    frame = frame.drop(ID_COLUMN, strict=False)
    unknown = [c for c in frame.columns if c not in TARGET_COLUMNS]
    if unknown:
        raise ValueError(
            f"Got sample_weight with column(s) {unknown!r}; a weights frame holds one "
            f"need_<dimension> column per weighted dimension (among {list(TARGET_COLUMNS)!r})."
        )
    if frame.height != n_rows:
        raise ValueError(
            f"Got sample_weight with {frame.height} rows for X with {n_rows}; give one row "
            "of weights per household."
        )
    out = np.ones((n_rows, len(dims)))
    for k, dim in enumerate(dims):
        column = f"need_{dim}"
        if column in frame.columns:
            values = frame[column].cast(pl.Float64).fill_null(0.0).to_numpy()
            if not np.isfinite(values).all() or (values < 0).any():
                raise ValueError(
                    f"Got sample_weight column {column!r} with negative or non-finite "
                    "values; weights are finite and 0 or more (null counts as 0)."
                )
            out[:, k] = values
    return out
