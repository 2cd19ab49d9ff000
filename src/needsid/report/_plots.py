"""The report's figures, drawn with matplotlib (Agg) and returned as base64 PNG text."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt

from ..evaluate import coverage_curve, reliability_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..evaluate import Comparison
    from ..fairness import FairnessAudit

#: Fixed resolution and no "Software" tag: the same figure gives the same PNG bytes.
DPI = 90


def _use_agg() -> None:
    """Draw without a display (the caller imports ``matplotlib.pyplot`` after this)."""
    import matplotlib

    matplotlib.use("Agg", force=False)


def png_base64(fig: Figure) -> str:
    """Encode a figure as base64 PNG text and close it."""
    _use_agg()
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def is_flag_column(values: np.ndarray) -> bool:
    """Tell whether a score column only holds 0 and 1: fixed flags (a baseline), not scores."""
    finite = values[np.isfinite(values)]
    return bool(finite.size) and bool(np.isin(finite, (0.0, 1.0)).all())


def capacity_share(capacity: float, n: int) -> float:
    """Return a capacity as a share of ``n`` households (a count is divided by n)."""
    if isinstance(capacity, int | np.integer) and not isinstance(capacity, bool):
        return min(float(capacity) / max(n, 1), 1.0)
    return float(capacity)


def fixed_columns(comparison: Comparison) -> list[str]:
    """Return the score columns that are fixed 0/1 flags (status quo, rules only).

    Uses ``comparison.fixed`` when the comparison records it; otherwise a column holding
    only 0 and 1 is taken for flags.
    """
    fixed = getattr(comparison, "fixed", None)
    if fixed is not None:
        return [c for c in comparison.scores.columns if c in set(fixed)]
    return [
        c
        for c in comparison.scores.columns
        if is_flag_column(comparison.scores[c].to_numpy(dtype=float))
    ]


def coverage_figure(y_true: npt.NDArray[np.bool_], comparison: Comparison) -> str:
    """Plot recall against capacity for every scored model; fixed-flag baselines as points."""
    _use_agg()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    caps = np.linspace(0.01, 1.0, 100)
    fixed = fixed_columns(comparison)
    groups = getattr(comparison, "groups", None)  # capacity applied within groups
    for name in comparison.scores.columns:
        s = comparison.scores[name].to_numpy(dtype=float)
        if name in fixed:
            flags = s == 1.0
            recall = (flags & y_true).sum() / max(y_true.sum(), 1)
            ax.plot(
                [flags.mean()], [recall], marker="s", linestyle="none", label=f"{name} (flags)"
            )
        else:
            curve = coverage_curve(y_true, s, capacities=caps, groups=groups)
            ax.plot(curve["capacity"], curve["recall"], label=str(name))
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":", label="random")
    share = capacity_share(comparison.capacity, len(y_true))
    ax.axvline(share, color="black", linewidth=1, linestyle="--", label=f"capacity {share:.0%}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("capacity (share of households flagged)")
    ax.set_ylabel("recall (share of households in need flagged)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return png_base64(fig)


def calibration_figure(
    y_true: npt.NDArray[np.bool_], comparison: Comparison, n_bins: int = 10
) -> str:
    """Plot observed rate against mean predicted score per band, one line per model."""
    _use_agg()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    fixed = fixed_columns(comparison)
    for name in comparison.scores.columns:
        if name in fixed:
            continue
        s = comparison.scores[name].to_numpy(dtype=float)
        rel = reliability_table(y_true, s, n_bins=n_bins)
        ax.plot(rel["mean_score"], rel["observed_rate"], marker="o", label=str(name))
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":", label="perfect")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"mean predicted probability ({n_bins} quantile bands)")
    ax.set_ylabel("observed rate of need")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return png_base64(fig)


def fairness_figure(audit: FairnessAudit, metric: str) -> str:
    """Plot one metric by group with its interval (``needsid.fairness.plot_metric``)."""
    from ..fairness import plot_metric

    # without an ``ax``, plot_metric draws on a figure of its own: a Figure, not a SubFigure
    return png_base64(cast("Figure", plot_metric(audit, metric).figure))
