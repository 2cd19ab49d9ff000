"""Confusion counts per group, vectorised, and the metrics derived from them.

The point estimates in an audit come from fairlearn's MetricFrame; the bootstrap needs
the same metrics thousands of times, so it works on per-group counts (a test checks that
both agree exactly).
"""

from __future__ import annotations

import numpy as np

LABELLED = ("base_rate", "selection_rate", "tpr", "fnr", "fpr", "precision", "false_omission_rate")
UNLABELLED = ("selection_rate",)


def group_counts(codes: np.ndarray, n_groups: int, y_true, y_pred, weights=None) -> dict:
    """TP, FP, FN, TN and n per group (``weights`` are bootstrap multiplicities)."""
    w = np.ones(len(codes)) if weights is None else weights
    p = np.asarray(y_pred, dtype=bool)
    out = {
        "n": np.bincount(codes, weights=w, minlength=n_groups),
        "selected": np.bincount(codes, weights=w * p, minlength=n_groups),
    }
    if y_true is not None:
        t = np.asarray(y_true, dtype=bool)
        for name, mask in (("tp", t & p), ("fp", ~t & p), ("fn", t & ~p), ("tn", ~t & ~p)):
            out[name] = np.bincount(codes, weights=w * mask, minlength=n_groups)
    return out


def _div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def rates(c: dict) -> dict[str, np.ndarray]:
    """Return the per-group rates, by the standard definitions.

    TPR = TP/(TP+FN), FNR = 1-TPR (exclusion error), FPR = FP/(FP+TN), precision =
    TP/(TP+FP), false omission rate = FN/(FN+TN).
    """
    out = {"selection_rate": _div(c["selected"], c["n"])}
    if "tp" in c:
        tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
        out |= {
            "base_rate": _div(tp + fn, c["n"]),
            "tpr": _div(tp, tp + fn),
            "fnr": _div(fn, tp + fn),
            "fpr": _div(fp, fp + tn),
            "precision": _div(tp, tp + fp),
            "false_omission_rate": _div(fn, fn + tn),
        }
    return out
