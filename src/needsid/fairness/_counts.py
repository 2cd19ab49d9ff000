"""Confusion counts per group, vectorised, and the metrics derived from them.

The point estimates in an audit come from fairlearn's MetricFrame; the bootstrap needs
the same metrics thousands of times, so it works on per-group counts (a test checks that
both agree exactly).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import numpy.typing as npt

LABELLED = ("base_rate", "selection_rate", "tpr", "fnr", "fpr", "precision", "false_omission_rate")
UNLABELLED = ("selection_rate",)


def group_counts(
    codes: npt.NDArray[np.intp],
    n_groups: int,
    y_true: npt.ArrayLike | None,
    y_pred: npt.ArrayLike,
    weights: npt.NDArray[np.float64] | None = None,
) -> dict[str, npt.NDArray[np.float64]]:
    """TP, FP, FN, TN and n per group (``weights`` are bootstrap multiplicities)."""
    w = np.ones(len(codes)) if weights is None else weights
    p = np.asarray(y_pred, dtype=bool)
    out = {
        "n": weighted_bincount(codes, w, n_groups),
        "selected": weighted_bincount(codes, w * p, n_groups),
    }
    if y_true is not None:
        t = np.asarray(y_true, dtype=bool)
        for name, mask in (("tp", t & p), ("fp", ~t & p), ("fn", t & ~p), ("tn", ~t & ~p)):
            out[name] = weighted_bincount(codes, w * mask, n_groups)
    return out


def weighted_bincount(
    codes: npt.NDArray[np.intp], weights: npt.NDArray[np.float64], n_groups: int
) -> npt.NDArray[np.float64]:
    """``np.bincount`` with weights, typed: float64 (numpy's stubs say intp either way)."""
    return cast("npt.NDArray[np.float64]", np.bincount(codes, weights=weights, minlength=n_groups))


def _div(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def rates(c: dict[str, npt.NDArray[np.float64]]) -> dict[str, npt.NDArray[np.float64]]:
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
