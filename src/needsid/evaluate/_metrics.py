"""Targeting metrics at a fixed capacity: who gets flagged when only k can be verified."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

__all__ = [
    "as_capacity",
    "TargetingMetrics",
    "coverage_curve",
    "reliability_table",
    "select_top",
    "targeting_metrics",
]


def as_capacity(capacity: float) -> float | int:
    """Check a capacity and return it as a share (float) or a count of households (int).

    An int of 1 or more is a count and a number in (0, 1] a share. A whole float above 1,
    as a YAML file or a command line gives one (``500.0``), is a count.

    Parameters
    ----------
    capacity : float or int
        A share of households in (0, 1] or a whole number of them.

    Returns
    -------
    float or int
        The share as a float, or the count as an int.

    Raises
    ------
    TypeError
        If ``capacity`` is not a number (a bool is not one).
    ValueError
        If it is neither a share in (0, 1] nor a whole number of at least 1.

    Examples
    --------
    >>> from needsid.evaluate import as_capacity
    >>> as_capacity(0.05), as_capacity(500), as_capacity(500.0), as_capacity(1.0)
    (0.05, 500, 500, 1.0)
    >>> as_capacity(2.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Got capacity=2.5; expected a share in (0, 1] (e.g. 0.05) or a whole ...
    """
    if isinstance(capacity, bool) or not isinstance(capacity, Real):
        raise TypeError(f"Got capacity={capacity!r}; expected a share in (0, 1] or a count >= 1.")
    value = float(capacity)
    if isinstance(capacity, Integral) and value >= 1:
        return int(value)
    if 0 < value <= 1:
        return value
    if value > 1 and value.is_integer():
        return int(value)
    raise ValueError(
        f"Got capacity={capacity!r}; expected a share in (0, 1] (e.g. 0.05) or a whole "
        "number of households (e.g. 500)."
    )


def _capacity_count(capacity: float, n: int) -> int:
    c = as_capacity(capacity)
    return min(c, n) if isinstance(c, int) else int(round(c * n))


def select_top(
    scores: npt.ArrayLike, capacity: float, groups: npt.ArrayLike | None = None
) -> npt.NDArray[np.bool_]:
    """Flag the highest scores within a capacity, overall or per group (e.g. region).

    Parameters
    ----------
    scores : array-like of shape (n,)
        One score per household; higher is flagged first.
    capacity : float or int
        A share of households in (0, 1] or a count. With ``groups``, the share (or count)
        applies within each group.
    groups : array-like of shape (n,), optional
        Group of each household (e.g. region): every group gets its own capacity.

    Returns
    -------
    ndarray of bool
        Ties at the threshold are broken by position, so exactly the capacity is flagged.

    Raises
    ------
    TypeError, ValueError
        If ``capacity`` is not a share or a count (see :func:`as_capacity`).

    Examples
    --------
    >>> from needsid.evaluate import select_top
    >>> select_top([0.1, 0.9, 0.5, 0.7], capacity=2)
    array([False,  True, False,  True])
    >>> select_top([0.1, 0.9, 0.5, 0.7], capacity=0.5, groups=["a", "a", "b", "b"])
    array([False,  True, False,  True])
    """
    scores = np.asarray(scores, dtype=float)
    flag = np.zeros(len(scores), dtype=bool)
    if groups is None:
        k = _capacity_count(capacity, len(scores))
        flag[np.argsort(-scores, kind="stable")[:k]] = True
        return flag
    group_of = np.asarray(groups)
    for g in pd.unique(group_of):
        idx = np.flatnonzero(group_of == g)
        k = _capacity_count(capacity, len(idx))
        flag[idx[np.argsort(-scores[idx], kind="stable")[:k]]] = True
    return flag


@dataclass(frozen=True)
class TargetingMetrics:
    """Metrics of one set of flags and scores against the truth.

    Returned by :func:`targeting_metrics`; a metric that is undefined (no needy
    household, nobody flagged, one class only) is NaN.

    Parameters
    ----------
    n : int
        Households measured.
    flagged : int
        Households flagged.
    base_rate : float
        Share of the households in need.
    exclusion_error : float
        Needy households not flagged, over the needy.
    inclusion_error : float
        Flagged households not in need, over the flagged.
    precision_at_k, recall_at_k : float
        Precision and recall of the flags (one minus the inclusion and the exclusion
        error).
    auc, average_precision : float
        Ranking quality of the scores (ROC AUC and average precision).
    brier : float
        Brier score of the scores clipped to [0, 1].

    Examples
    --------
    >>> from needsid.evaluate import targeting_metrics
    >>> m = targeting_metrics([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], capacity=2)
    >>> m.flagged, m.base_rate, m.auc
    (2, 0.5, 0.75)
    """

    n: int
    flagged: int
    base_rate: float
    exclusion_error: float  # needy not flagged / needy
    inclusion_error: float  # flagged not needy / flagged
    precision_at_k: float
    recall_at_k: float
    auc: float
    average_precision: float
    brier: float

    def to_dict(self) -> dict[str, float]:
        """Return the metrics as a plain dict.

        Returns
        -------
        dict of str to float
            Field name to value, in field order.

        Examples
        --------
        >>> from needsid.evaluate import targeting_metrics
        >>> m = targeting_metrics([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], capacity=2)
        >>> list(m.to_dict())[:4]
        ['n', 'flagged', 'base_rate', 'exclusion_error']
        """
        return dict(self.__dict__)


def targeting_metrics(
    y_true: npt.ArrayLike,
    scores: npt.ArrayLike,
    capacity: float | None = None,
    *,
    flags: npt.ArrayLike | None = None,
    groups: npt.ArrayLike | None = None,
) -> TargetingMetrics:
    """Exclusion and inclusion error, precision/recall at k, AUC, AP and Brier score.

    Either ``capacity`` (flags = top scores) or ``flags`` (e.g. the status quo) is given.
    Scores that are not probabilities (e.g. a 0/1 status quo) still give AUC and AP;
    the Brier score is then the one of the 0/1 flags.

    Parameters
    ----------
    y_true : array-like of bool, shape (n,)
        Whether each household is in need.
    scores : array-like of float, shape (n,)
        Risk scores, higher first.
    capacity : float or int, optional
        A share of households in (0, 1] or a count: the top scores are flagged.
    flags : array-like of bool, shape (n,), optional
        The flags themselves, instead of ``capacity``.
    groups : array-like, shape (n,), optional
        Groups the capacity applies within (see :func:`select_top`).

    Returns
    -------
    TargetingMetrics
        The metrics of the flags and scores.

    Raises
    ------
    ValueError
        If neither ``capacity`` nor ``flags`` is given, or the capacity is invalid.

    Examples
    --------
    >>> from needsid.evaluate import targeting_metrics
    >>> m = targeting_metrics([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], capacity=2)
    >>> m.exclusion_error, m.inclusion_error, m.recall_at_k
    (0.5, 0.5, 0.5)
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    if flags is None:
        if capacity is None:
            raise ValueError("Give a capacity (share or count) or the flags themselves.")
        flags = select_top(s, capacity, groups)
    flag = np.asarray(flags).astype(bool)
    needy, flagged = y.sum(), flag.sum()
    hits = (y & flag).sum()
    both = 0 < needy < len(y)
    return TargetingMetrics(
        n=len(y),
        flagged=int(flagged),
        base_rate=float(y.mean()) if len(y) else float("nan"),
        exclusion_error=float((needy - hits) / needy) if needy else float("nan"),
        inclusion_error=float((flagged - hits) / flagged) if flagged else float("nan"),
        precision_at_k=float(hits / flagged) if flagged else float("nan"),
        recall_at_k=float(hits / needy) if needy else float("nan"),
        auc=float(roc_auc_score(y, s)) if both else float("nan"),
        average_precision=float(average_precision_score(y, s)) if both else float("nan"),
        brier=float(brier_score_loss(y, np.clip(s, 0, 1))) if len(y) else float("nan"),
    )


def reliability_table(
    y_true: npt.ArrayLike, scores: npt.ArrayLike, n_bins: int = 10, strategy: str = "quantile"
) -> pd.DataFrame:
    """Predicted vs observed rate per score band (a calibration table).

    Parameters
    ----------
    y_true : array-like of bool, shape (n,)
        Whether each household is in need.
    scores : array-like of float, shape (n,)
        Predicted probabilities.
    n_bins : int, default 10
        Bands to cut the scores into (fewer where quantiles coincide).
    strategy : {"quantile", "uniform"}, default "quantile"
        Bands of equal size, or of equal width over [0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per band holding scores: ``band, n, mean_score, observed_rate``.

    Raises
    ------
    ValueError
        If ``strategy`` is not one of the above.

    Examples
    --------
    >>> from needsid.evaluate import reliability_table
    >>> reliability_table([0, 0, 1, 1, 0, 1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9], n_bins=3)
       band  n  mean_score  observed_rate
    0     0  2        0.15            0.0
    1     1  2        0.50            1.0
    2     2  2        0.85            0.5
    """
    y = np.asarray(y_true).astype(float)
    s = np.asarray(scores, dtype=float)
    if strategy == "quantile":
        edges = np.unique(np.quantile(s, np.linspace(0, 1, n_bins + 1)))
    elif strategy == "uniform":
        edges = np.linspace(0, 1, n_bins + 1)
    else:
        raise ValueError(f"Got strategy={strategy!r}; expected 'quantile' or 'uniform'.")
    band = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"band": band, "score": s, "y": y})
    out = frame.groupby("band").agg(
        n=("y", "size"), mean_score=("score", "mean"), observed_rate=("y", "mean")
    )
    return out.reset_index()


def coverage_curve(
    y_true: npt.ArrayLike,
    scores: npt.ArrayLike,
    capacities: Iterable[float] | None = None,
    groups: npt.ArrayLike | None = None,
) -> pd.DataFrame:
    """Recall (share of the needy flagged) as capacity grows: the coverage curve.

    Parameters
    ----------
    y_true : array-like of bool, shape (n,)
        Whether each household is in need.
    scores : array-like of float, shape (n,)
        Risk scores, higher first.
    capacities : iterable of float or int, optional
        Capacities to flag at (shares or counts); default 1% to 100% in steps of 1%.
    groups : array-like, shape (n,), optional
        Groups each capacity applies within (see :func:`select_top`).

    Returns
    -------
    pandas.DataFrame
        One row per capacity: ``capacity, flagged, recall, precision``.

    Examples
    --------
    >>> from needsid.evaluate import coverage_curve
    >>> coverage_curve([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], capacities=[0.25, 0.5, 1.0])
       capacity  flagged  recall  precision
    0      0.25        1     0.5        1.0
    1      0.50        2     0.5        0.5
    2      1.00        4     1.0        0.5
    """
    y = np.asarray(y_true).astype(bool)
    caps = np.linspace(0.01, 1, 100) if capacities is None else capacities
    rows = []
    for c in caps:
        f = select_top(scores, c, groups)
        hits = (f & y).sum()
        rows.append((c, int(f.sum()), hits / max(y.sum(), 1), hits / max(f.sum(), 1)))
    return pd.DataFrame(rows, columns=["capacity", "flagged", "recall", "precision"])
