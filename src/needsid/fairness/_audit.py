"""``needsid.fairness.audit``: per-group error rates of flags, with intervals, on fairlearn."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score

from ..evaluate import reliability_table, select_top
from ._counts import LABELLED, UNLABELLED, group_counts, rates
from ._sensitive import SensitiveFeatures, group_label, sensitive_frame

__all__ = ["FairnessAudit", "audit"]


def _base_rate(y_true: npt.NDArray[np.bool_], y_pred: npt.NDArray[np.bool_]) -> float:
    return float(np.mean(y_true)) if len(y_true) else np.nan


def _precision(y_true: npt.NDArray[np.bool_], y_pred: npt.NDArray[np.bool_]) -> float:
    precision: float = precision_score(y_true, y_pred, zero_division=np.nan)
    return precision


def _false_omission_rate(y_true: npt.NDArray[np.bool_], y_pred: npt.NDArray[np.bool_]) -> float:
    t, p = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    neg = (~p).sum()
    return float((t & ~p).sum() / neg) if neg else np.nan


def _confusion(name: str) -> Callable[[npt.NDArray[np.bool_], npt.NDArray[np.bool_]], int]:
    def f(y_true: npt.NDArray[np.bool_], y_pred: npt.NDArray[np.bool_]) -> int:
        t, p = np.asarray(y_true, bool), np.asarray(y_pred, bool)
        return int({"tp": t & p, "fp": ~t & p, "fn": t & ~p, "tn": ~t & ~p}[name].sum())

    return f


#: Default tolerance for a difference in rates: five percentage points.
DIFFERENCE_TOLERANCE = 0.05


@dataclass(frozen=True)
class FairnessAudit:
    """Per-group metrics and disparities to a reference group, with bootstrap intervals.

    Made by :func:`audit`; the fields are also attributes.

    Parameters
    ----------
    by_group : pandas.DataFrame
        One row per group (per intersection when several sensitive features are
        given), indexed by the sensitive features' names: n, confusion counts, base
        rate, selection rate, TPR, FNR (exclusion error), FPR, precision, false omission
        rate, and ``small`` (n below ``min_group_size``: shown, not hidden).
    disparities : pandas.DataFrame
        One row per group and metric: ``value`` with the group's own 95% bootstrap
        interval (``value_lo``, ``value_hi``), the ``reference`` value, ``ratio`` and
        ``difference`` to it with their 95% bootstrap intervals, ``within_band`` (the
        ratio is inside ``band``), ``fails`` (see :meth:`failing`) and ``small``.
    reference : tuple
        The reference group's key (one label per sensitive feature).
    band : (float, float)
        Tolerance band for ratios.
    calibration : pandas.DataFrame or None, default=None
        Reliability per score band per group, when scores were given.
    metric_frame : fairlearn.metrics.MetricFrame or None, default=None
        The MetricFrame behind ``by_group``.
    difference_tolerance : float, default=0.05
        Tolerance for differences in rates (see :meth:`failing`).

    Examples
    --------
    >>> from needsid.fairness import audit
    >>> y = [1] * 40 + [0] * 20 + [1] * 4
    >>> flag = [1] * 40 + [0] * 20 + [0] * 4  # the group "b" is never flagged
    >>> a = audit(y, flag, sensitive_features=["a"] * 60 + ["b"] * 4, n_boot=50)
    >>> a.reference, a.band
    (('a',), (0.8, 1.25))
    >>> a.by_group.loc["b", ["n", "tp", "fn", "small"]].to_dict()
    {'n': 4, 'tp': 0, 'fn': 4, 'small': True}
    """

    by_group: pd.DataFrame
    disparities: pd.DataFrame
    reference: tuple[str, ...]
    band: tuple[float, float]
    calibration: pd.DataFrame | None = None
    metric_frame: MetricFrame | None = field(default=None, repr=False)
    difference_tolerance: float = DIFFERENCE_TOLERANCE

    def failing(self) -> pd.DataFrame:
        """Return the disparities that fail (the rows of ``disparities`` with ``fails``).

        The rule is stated in :func:`audit`: an infinite ratio fails; so does a ratio
        outside ``band`` whose interval excludes 1, and a difference whose interval lies
        beyond ``difference_tolerance`` on either side of 0.

        Returns
        -------
        pandas.DataFrame
            The failing rows of ``disparities``, with their index.

        Examples
        --------
        >>> from needsid.fairness import audit
        >>> y = [1] * 40 + [0] * 20 + [1] * 4
        >>> flag = [1] * 40 + [0] * 20 + [0] * 4  # the group "b" is never flagged
        >>> a = audit(y, flag, sensitive_features=["a"] * 60 + ["b"] * 4, n_boot=50)
        >>> a.failing().query("metric == 'fnr'")[["group", "value", "reference", "ratio"]]
          group  value  reference  ratio
        7     b    1.0        0.0    inf
        """
        return self.disparities[self.disparities["fails"]]

    def to_frame(self) -> pd.DataFrame:
        """Return the disparities table.

        Returns
        -------
        pandas.DataFrame
            A copy of ``disparities``: one row per group and metric.

        Examples
        --------
        >>> from needsid.fairness import audit
        >>> y = [1] * 40 + [0] * 20 + [1] * 4
        >>> flag = [1] * 40 + [0] * 20 + [0] * 4  # the group "b" is never flagged
        >>> a = audit(y, flag, sensitive_features=["a"] * 60 + ["b"] * 4, n_boot=50)
        >>> frame = a.to_frame()
        >>> rows = frame.query("metric == 'selection_rate'")
        >>> print(rows[["group", "value", "ratio", "fails"]].to_string(index=False))
        group    value  ratio  fails
            a 0.666667    1.0  False
            b 0.000000    0.0   True
        """
        return self.disparities.copy()

    def to_html(self, path: str | os.PathLike[str]) -> None:
        """Write a self-contained HTML report (tables and plots) atomically.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write; its folder must exist.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from needsid.fairness import audit
        >>> y = [1] * 40 + [0] * 20 + [1] * 4
        >>> flag = [1] * 40 + [0] * 20 + [0] * 4  # the group "b" is never flagged
        >>> a = audit(y, flag, sensitive_features=["a"] * 60 + ["b"] * 4, n_boot=50)
        >>> path = Path(tempfile.mkdtemp()) / "audit.html"
        >>> a.to_html(path)
        >>> path.read_text().startswith("<!doctype html>")
        True
        """
        from ._report import write_html

        write_html(self, path)


def audit(
    y_true: npt.ArrayLike | None,
    y_pred: npt.ArrayLike | None = None,
    *,
    sensitive_features: SensitiveFeatures,
    reference: str | tuple[str, ...] | None = None,
    scores: npt.ArrayLike | None = None,
    capacity: float | None = None,
    capacity_groups: npt.ArrayLike | None = None,
    min_group_size: int = 30,
    band: tuple[float, float] = (0.8, 1.25),
    difference_tolerance: float = DIFFERENCE_TOLERANCE,
    n_boot: int = 500,
    seed: int = 0,
) -> FairnessAudit:
    """Audit flags (or scores at a capacity) by group: who is excluded, who is burdened.

    A disparity (a group's metric against the reference group's) fails when any of:

    1. its ratio is infinite: the reference's rate is 0 and the group's is not;
    2. its ratio is outside ``band`` and the ratio's 95% bootstrap interval excludes 1;
    3. the difference's 95% bootstrap interval lies entirely beyond the tolerance, i.e.
       ``difference_lo > difference_tolerance`` or
       ``difference_hi < -difference_tolerance``: the interval excludes 0 by more than
       the tolerance.

    Rule 3 does not rely on the ratio, whose interval is unstable when the reference
    rate is near 0. A ratio of 0/0 (both rates 0) or a rate that is undefined (NaN, e.g.
    the FNR of a group without needy households) does not fail.

    Parameters
    ----------
    y_true : array-like or None
        True need; None audits selection rates only (outcomes not known yet).
    y_pred : array-like of bool, optional
        The flags. Give either ``y_pred`` or ``scores`` and ``capacity``.
    sensitive_features : array-like, list, Series, DataFrame or dict
        The sensitive groups, one row per household: a 1-D array, list or Series for
        one attribute; a 2-D array, DataFrame or dict of columns (also polars) for
        several, which form intersections. Named like fairlearn's ``MetricFrame``: a
        Series or column keeps its name, an unnamed one is ``"sensitive_feature_0"``,
        ``"sensitive_feature_1"``, ... Labels are ``str(value)`` (``"True"``,
        ``"False"`` for booleans); a missing value is the group ``"<missing>"``.
    reference : str or tuple, optional
        Reference group's label (a tuple with several attributes). Default: the largest
        group.
    scores, capacity : optional
        Flag the top ``capacity`` (share or count) by ``scores``, overall or within
        ``capacity_groups`` (e.g. region).
    capacity_groups : array-like, optional
        One value per household (e.g. region): each gets its own capacity.
    min_group_size : int, default=30
        Groups smaller than this are marked ``small``.
    band : (low, high), default=(0.8, 1.25)
        Tolerance band for ratios to the reference.
    difference_tolerance : float, default=0.05
        Tolerance for differences to the reference (rule 3 above).
    n_boot : int, default=500
        Bootstrap resamples for the intervals.
    seed : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    FairnessAudit
        Per-group metrics and disparities to the reference group.

    Raises
    ------
    ValueError
        If the lengths of the inputs differ, the reference group does not exist, or
        neither flags nor scores with a capacity are given.
    TypeError
        If ``sensitive_features`` is missing.

    Examples
    --------
    >>> import numpy as np
    >>> from needsid.fairness import audit
    >>> y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    >>> flag = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    >>> a = audit(y, flag, sensitive_features=["a"] * 4 + ["b"] * 4, n_boot=50)
    >>> [float(v) for v in a.by_group.loc["a", ["tp", "fn", "fnr"]]]
    [1.0, 1.0, 0.5]
    >>> a.by_group.index.name
    'sensitive_feature_0'
    """
    if y_pred is None:
        if scores is None or capacity is None:
            raise ValueError("Give the flags (y_pred) or scores together with a capacity.")
        y_pred = select_top(scores, capacity, capacity_groups)
    y_pred = np.asarray(y_pred).astype(bool)
    n = len(y_pred)
    labelled = y_true is not None
    truth: npt.NDArray[np.bool_] | None = None
    if labelled:
        truth = np.asarray(y_true).astype(bool)
        if len(truth) != n:
            raise ValueError(f"Got {len(truth)} labels for {n} predictions.")
    if difference_tolerance < 0:
        raise ValueError(
            f"Got difference_tolerance={difference_tolerance!r}; expected a difference in "
            "rates >= 0, e.g. 0.05."
        )
    sf = sensitive_frame(sensitive_features, n)
    metrics = {"n": count, "selection_rate": selection_rate}
    if labelled:
        metrics |= {
            "tp": _confusion("tp"),
            "fp": _confusion("fp"),
            "fn": _confusion("fn"),
            "tn": _confusion("tn"),
            "base_rate": _base_rate,
            "tpr": true_positive_rate,
            "fnr": false_negative_rate,
            "fpr": false_positive_rate,
            "precision": _precision,
            "false_omission_rate": _false_omission_rate,
        }
    yt = truth if truth is not None else np.zeros(n, dtype=bool)
    mf = MetricFrame(metrics=metrics, y_true=yt, y_pred=y_pred, sensitive_features=sf)
    by_group = mf.by_group.copy()
    for c in ("n", "tp", "fp", "fn", "tn"):
        if c in by_group:
            by_group[c] = by_group[c].astype(int)
    by_group["small"] = by_group["n"] < min_group_size
    if reference is None:
        reference = by_group["n"].idxmax()
    elif not isinstance(reference, tuple) and by_group.index.nlevels > 1:
        raise ValueError(f"Got reference={reference!r}; with several features give a tuple.")
    if reference not in by_group.index:
        labels = [group_label(by_group.index.names, k) for k in by_group.index]
        raise ValueError(
            f"Got reference={reference!r}; expected one of {list(by_group.index)} "
            f"({'; '.join(labels)})."
        )
    names = LABELLED if labelled else UNLABELLED
    disparities = _disparities(
        sf,
        by_group,
        reference,
        truth,
        y_pred,
        names,
        band,
        difference_tolerance,
        n_boot,
        seed,
    )
    calibration = None
    if scores is not None and truth is not None:
        calibration = _calibration(sf, truth, np.asarray(scores, dtype=float))
    ref = reference if isinstance(reference, tuple) else (reference,)
    return FairnessAudit(
        by_group,
        disparities,
        ref,
        (float(band[0]), float(band[1])),
        calibration,
        mf,
        difference_tolerance=difference_tolerance,
    )


def fails(
    ratio: npt.ArrayLike,
    ratio_lo: npt.ArrayLike,
    ratio_hi: npt.ArrayLike,
    difference_lo: npt.ArrayLike,
    difference_hi: npt.ArrayLike,
    band: tuple[float, float],
    tolerance: float,
) -> npt.NDArray[np.bool_]:
    """Apply the pass/fail rule of :func:`audit` elementwise; NaN never fails."""
    ratio, ratio_lo, ratio_hi = (np.asarray(v, float) for v in (ratio, ratio_lo, ratio_hi))
    d_lo, d_hi = np.asarray(difference_lo, float), np.asarray(difference_hi, float)
    with np.errstate(invalid="ignore"):
        infinite = np.isposinf(ratio)
        outside = np.isfinite(ratio) & ((ratio < band[0]) | (ratio > band[1]))
        ratio_sure = (ratio_lo > 1) | (ratio_hi < 1)
        difference_sure = (d_lo > tolerance) | (d_hi < -tolerance)
    failing: npt.NDArray[np.bool_] = infinite | (outside & ratio_sure) | difference_sure
    return failing


def _disparities(
    sf: pd.DataFrame,
    by_group: pd.DataFrame,
    reference: Hashable,
    y_true: npt.NDArray[np.bool_] | None,
    y_pred: npt.NDArray[np.bool_],
    names: tuple[str, ...],
    band: tuple[float, float],
    tolerance: float,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    keys = list(by_group.index)
    key_of_row = pd.MultiIndex.from_frame(sf) if sf.shape[1] > 1 else pd.Index(sf.iloc[:, 0])
    codes = pd.Index(keys).get_indexer(key_of_row)
    ref = keys.index(reference)
    g = len(keys)
    point = rates(group_counts(codes, g, y_true, y_pred))
    rng = np.random.default_rng(seed)
    n = len(codes)
    value_s = {m: np.empty((n_boot, g)) for m in names}
    ratio_s = {m: np.empty((n_boot, g)) for m in names}
    diff_s = {m: np.empty((n_boot, g)) for m in names}
    for b in range(n_boot):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        r = rates(group_counts(codes, g, y_true, y_pred, w))
        for m in names:
            value_s[m][b] = r[m]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio_s[m][b] = r[m] / r[m][ref]
            diff_s[m][b] = r[m] - r[m][ref]
    parts = []
    for m in names:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = point[m] / point[m][ref]
        vlo, vhi = _ci(value_s[m])
        rlo, rhi = _ci(ratio_s[m])
        dlo, dhi = _ci(diff_s[m])
        parts.append(
            pd.DataFrame(
                {
                    "group": pd.Series(keys, dtype=object),
                    "metric": m,
                    "value": point[m],
                    "value_lo": vlo,
                    "value_hi": vhi,
                    "reference": point[m][ref],
                    "ratio": ratio,
                    "ratio_lo": rlo,
                    "ratio_hi": rhi,
                    "difference": point[m] - point[m][ref],
                    "difference_lo": dlo,
                    "difference_hi": dhi,
                    "within_band": np.isfinite(ratio) & (band[0] <= ratio) & (ratio <= band[1]),
                    "fails": fails(ratio, rlo, rhi, dlo, dhi, band, tolerance),
                    "small": by_group["small"].to_numpy(dtype=bool),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _ci(
    samples: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    finite = np.where(np.isfinite(samples), samples, np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no interval
            return np.nanpercentile(finite, 2.5, axis=0), np.nanpercentile(finite, 97.5, axis=0)


def _calibration(
    sf: pd.DataFrame, y_true: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]
) -> pd.DataFrame | None:
    parts = []
    group = sf.astype(str).agg(" & ".join, axis=1)
    for key in sorted(group.unique()):
        m = (group == key).to_numpy()
        if m.sum() < 2:
            continue
        t = reliability_table(y_true[m], scores[m], n_bins=5)
        t.insert(0, "group", key)
        parts.append(t)
    return pd.concat(parts, ignore_index=True) if parts else None
