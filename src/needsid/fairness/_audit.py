"""``needsid.fairness.audit``: per-group error rates of flags, with intervals, on fairlearn."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
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

__all__ = ["FairnessAudit", "audit"]

MISSING = "<missing>"


def _base_rate(y_true, y_pred):
    return float(np.mean(y_true)) if len(y_true) else np.nan


def _precision(y_true, y_pred):
    return precision_score(y_true, y_pred, zero_division=np.nan)


def _false_omission_rate(y_true, y_pred):
    t, p = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    neg = (~p).sum()
    return float((t & ~p).sum() / neg) if neg else np.nan


def _confusion(name):
    def f(y_true, y_pred):
        t, p = np.asarray(y_true, bool), np.asarray(y_pred, bool)
        return int({"tp": t & p, "fp": ~t & p, "fn": t & ~p, "tn": ~t & ~p}[name].sum())

    return f


def _sensitive_frame(sensitive_features, n: int) -> pd.DataFrame:
    if isinstance(sensitive_features, pd.Series):
        frame = sensitive_features.to_frame()
    elif isinstance(sensitive_features, pd.DataFrame):
        frame = sensitive_features.copy()
    elif isinstance(sensitive_features, dict):
        frame = pd.DataFrame(sensitive_features)
    else:
        arr = np.asarray(sensitive_features, dtype=object)
        frame = pd.DataFrame(arr.reshape(n, -1) if arr.ndim > 1 else {"group": arr})
    if len(frame) != n:
        raise ValueError(f"Got {len(frame)} rows of sensitive features for {n} predictions.")
    frame = frame.reset_index(drop=True)
    # a missing value is a group of its own, never dropped
    return frame.astype(object).where(frame.notna(), MISSING).astype(str)


@dataclass(frozen=True)
class FairnessAudit:
    """Per-group metrics and disparities to a reference group, with bootstrap intervals.

    Attributes
    ----------
    by_group : pandas.DataFrame
        One row per group (per intersection when several sensitive features are
        given): n, confusion counts, base rate, selection rate, TPR, FNR (exclusion
        error), FPR, precision, false omission rate, and ``small`` (n below
        ``min_group_size``: shown, not hidden).
    disparities : pandas.DataFrame
        One row per group and metric: value, reference value, ratio and difference
        with 95% bootstrap intervals, and ``within_band`` for the ratio.
    calibration : pandas.DataFrame or None
        Reliability per score band per group, when scores were given.
    """

    by_group: pd.DataFrame
    disparities: pd.DataFrame
    reference: tuple
    band: tuple[float, float]
    calibration: pd.DataFrame | None = None
    metric_frame: MetricFrame | None = field(default=None, repr=False)

    def failing(self) -> pd.DataFrame:
        """Disparities outside the tolerance band whose interval also excludes 1."""
        d = self.disparities
        return d[~d["within_band"] & ((d["ratio_lo"] > 1) | (d["ratio_hi"] < 1))]

    def to_frame(self) -> pd.DataFrame:
        """Return the disparities table."""
        return self.disparities.copy()

    def to_html(self, path) -> None:
        """Write a self-contained HTML report (tables and plots) atomically."""
        from ._report import write_html

        write_html(self, path)


def audit(
    y_true,
    y_pred=None,
    sensitive_features=None,
    reference=None,
    scores=None,
    capacity=None,
    *,
    capacity_groups=None,
    min_group_size: int = 30,
    band: tuple[float, float] = (0.8, 1.25),
    n_boot: int = 500,
    seed: int = 0,
) -> FairnessAudit:
    """Audit flags (or scores at a capacity) by group: who is excluded, who is burdened.

    Parameters
    ----------
    y_true : array-like or None
        True need; None audits selection rates only (outcomes not known yet).
    y_pred : array-like of bool, optional
        The flags. Give either ``y_pred`` or ``scores`` and ``capacity``.
    sensitive_features : array-like, Series, DataFrame or dict
        One or more group columns; several give intersections.
    reference : tuple or str, optional
        Reference group (default: the largest group).
    scores, capacity : optional
        Flag the top ``capacity`` (share or count) by ``scores``, overall or within
        ``capacity_groups`` (e.g. region).
    min_group_size : int, default=30
        Groups smaller than this are marked ``small``.
    band : (low, high), default=(0.8, 1.25)
        Tolerance band for ratios to the reference.
    n_boot : int, default=500
        Bootstrap resamples for the intervals.

    Examples
    --------
    >>> import numpy as np
    >>> from needsid.fairness import audit
    >>> y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    >>> flag = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    >>> a = audit(y, flag, sensitive_features=["a"] * 4 + ["b"] * 4, n_boot=50)
    >>> [float(v) for v in a.by_group.loc["a", ["tp", "fn", "fnr"]]]
    [1.0, 1.0, 0.5]
    """
    if y_pred is None:
        if scores is None or capacity is None:
            raise ValueError("Give the flags (y_pred) or scores together with a capacity.")
        y_pred = select_top(scores, capacity, capacity_groups)
    y_pred = np.asarray(y_pred).astype(bool)
    n = len(y_pred)
    labelled = y_true is not None
    if labelled:
        y_true = np.asarray(y_true).astype(bool)
        if len(y_true) != n:
            raise ValueError(f"Got {len(y_true)} labels for {n} predictions.")
    if sensitive_features is None:
        raise ValueError("Give sensitive_features: one or more group columns.")
    sf = _sensitive_frame(sensitive_features, n)
    metrics = {"n": count, "selection_rate": selection_rate}
    if labelled:
        metrics |= {
            "tp": _confusion("tp"), "fp": _confusion("fp"), "fn": _confusion("fn"),
            "tn": _confusion("tn"), "base_rate": _base_rate, "tpr": true_positive_rate,
            "fnr": false_negative_rate, "fpr": false_positive_rate, "precision": _precision,
            "false_omission_rate": _false_omission_rate,
        }  # fmt: skip
    yt = y_true if labelled else np.zeros(n, dtype=bool)
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
        raise ValueError(f"Got reference={reference!r}; expected one of {list(by_group.index)}.")
    names = LABELLED if labelled else UNLABELLED
    disparities = _disparities(sf, by_group, reference, y_true if labelled else None, y_pred,
                               names, band, n_boot, seed)  # fmt: skip
    calibration = None
    if scores is not None and labelled:
        calibration = _calibration(sf, y_true, np.asarray(scores, dtype=float))
    ref = reference if isinstance(reference, tuple) else (reference,)
    return FairnessAudit(by_group, disparities, ref, tuple(band), calibration, mf)


def _disparities(sf, by_group, reference, y_true, y_pred, names, band, n_boot, seed):
    keys = list(by_group.index)
    key_of_row = pd.MultiIndex.from_frame(sf) if sf.shape[1] > 1 else pd.Index(sf.iloc[:, 0])
    codes = pd.Index(keys).get_indexer(key_of_row)
    ref = keys.index(reference)
    g = len(keys)
    point = rates(group_counts(codes, g, y_true, y_pred))
    rng = np.random.default_rng(seed)
    n = len(codes)
    ratio_s = {m: np.empty((n_boot, g)) for m in names}
    diff_s = {m: np.empty((n_boot, g)) for m in names}
    for b in range(n_boot):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        r = rates(group_counts(codes, g, y_true, y_pred, w))
        for m in names:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio_s[m][b] = r[m] / r[m][ref]
            diff_s[m][b] = r[m] - r[m][ref]
    rows = []
    for m in names:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = point[m] / point[m][ref]
        diff = point[m] - point[m][ref]
        rlo, rhi = _ci(ratio_s[m])
        dlo, dhi = _ci(diff_s[m])
        for i, key in enumerate(keys):
            rows.append({
                "group": key, "metric": m, "value": point[m][i], "reference": point[m][ref],
                "ratio": ratio[i], "ratio_lo": rlo[i], "ratio_hi": rhi[i],
                "difference": diff[i], "difference_lo": dlo[i], "difference_hi": dhi[i],
                "within_band": bool(np.isfinite(ratio[i]) and band[0] <= ratio[i] <= band[1]),
                "small": bool(by_group["small"].iloc[i]),
            })  # fmt: skip
    return pd.DataFrame(rows)


def _ci(samples: np.ndarray):
    finite = np.where(np.isfinite(samples), samples, np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no interval
            return np.nanpercentile(finite, 2.5, axis=0), np.nanpercentile(finite, 97.5, axis=0)


def _calibration(sf, y_true, scores) -> pd.DataFrame:
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
