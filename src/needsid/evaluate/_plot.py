"""Coverage and calibration plots of several models' scores on the same households."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._metrics import coverage_curve, reliability_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# model name -> scores, or a DataFrame with one column per model
Scores: TypeAlias = "Mapping[str, npt.ArrayLike] | pd.DataFrame"

__all__ = ["plot_calibration", "plot_coverage"]

INSTALL_HINT = "pip install 'needsid[notebooks]'"


def _pyplot() -> ModuleType:
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - matplotlib is in the dev extra
        raise ImportError(f"Plotting needs matplotlib: {INSTALL_HINT}") from err
    return plt


def _as_scores(scores: Scores, n: int) -> dict[str, np.ndarray]:
    """Model name -> scores, from a mapping or a DataFrame (e.g. ``Comparison.scores``)."""
    if isinstance(scores, pd.DataFrame):
        scores = {str(c): scores[c] for c in scores.columns}
    if not isinstance(scores, Mapping) or not scores:
        raise TypeError(
            f"Got scores of type {type(scores).__name__}; expected a non-empty mapping of "
            "model name to scores, or a DataFrame with one column per model (e.g. "
            "Comparison.scores)."
        )
    out = {}
    for name, values in scores.items():
        s = np.asarray(values, dtype=float)
        if s.shape != (n,):
            raise ValueError(
                f"Scores of model {name!r} have shape {s.shape}; expected ({n},), one per "
                "household of y_true."
            )
        out[str(name)] = s
    return out


def _is_flags(s: np.ndarray) -> bool:
    return bool(np.isin(s, (0.0, 1.0)).all())


def plot_coverage(
    y_true: npt.ArrayLike,
    scores: Scores,
    *,
    capacities: Iterable[float] | None = None,
    groups: npt.ArrayLike | None = None,
    random: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Plot recall (share of the needy flagged) against capacity, one line per model.

    Scores that are only 0 and 1 (fixed flags such as the status quo or the rules-only
    baseline) cannot be re-ranked at another capacity: each is drawn as one point at
    its own caseload.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Whether each household is in need.
    scores : mapping of str to array-like, or DataFrame
        Model name -> scores of the same households (``Comparison.scores`` works).
    capacities : sequence of float, optional
        Shares of households flagged; default 1%, 2%, ..., 100% (see
        :func:`coverage_curve`).
    groups : array-like of shape (n,), optional
        Capacity applies within each group (e.g. region), as in :func:`select_top`.
    random : bool, default=True
        Also draw random targeting (recall = capacity) as a dashed line.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made if None.

    Returns
    -------
    matplotlib.axes.Axes
        One line per model (plus the random line), labelled with the model name.

    Raises
    ------
    TypeError
        If ``scores`` is not a non-empty mapping or DataFrame.
    ValueError
        If a model's scores are not one per household of ``y_true``.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> ax = plot_coverage([1, 0, 1, 0], {"m": [0.9, 0.8, 0.3, 0.1]}, capacities=[0.5, 1])
    >>> [line.get_label() for line in ax.lines]
    ['m', 'random']
    """
    y = np.asarray(y_true).astype(bool)
    named = _as_scores(scores, len(y))
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    for name, s in named.items():
        if _is_flags(s):
            flags = s.astype(bool)
            recall = (flags & y).sum() / max(y.sum(), 1)
            ax.plot([flags.mean()], [recall], marker="D", linestyle="none", label=name)
            continue
        curve = coverage_curve(y, s, capacities=capacities, groups=groups)
        ax.plot(curve["capacity"], curve["recall"], label=name)
    if random:
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="random")
    ax.set_xlabel("capacity (share of households flagged)")
    ax.set_ylabel("recall (share of households in need flagged)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right")
    return ax


def plot_calibration(
    y_true: npt.ArrayLike,
    scores: Scores,
    *,
    n_bins: int = 10,
    strategy: str = "quantile",
    ax: Axes | None = None,
) -> Axes:
    """Plot observed rate against mean predicted risk per score band, one line per model.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Whether each household is in need.
    scores : mapping of str to array-like, or DataFrame
        Model name -> predicted probabilities in [0, 1]. Pass probability models only:
        fixed 0/1 flags have no calibration curve.
    n_bins : int, default=10
        Score bands per model.
    strategy : {"quantile", "uniform"}, default="quantile"
        Band edges, as in :func:`reliability_table`.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made if None.

    Returns
    -------
    matplotlib.axes.Axes
        One line per model plus the diagonal of perfect calibration.

    Raises
    ------
    TypeError
        If ``scores`` is not a non-empty mapping or DataFrame.
    ValueError
        If a model's scores are not one per household of ``y_true`` or not
        probabilities, or ``strategy`` is unknown.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> ax = plot_calibration([1, 0, 1, 0], {"m": [0.9, 0.2, 0.7, 0.1]}, n_bins=2)
    >>> [line.get_label() for line in ax.lines]
    ['m', 'perfectly calibrated']
    """
    y = np.asarray(y_true).astype(bool)
    named = _as_scores(scores, len(y))
    for name, s in named.items():
        outside = np.flatnonzero(~((s >= 0) & (s <= 1)))
        if len(outside):
            raise ValueError(
                f"Scores of model {name!r} are not probabilities: {len(outside)} values "
                f"outside [0, 1] (e.g. row {outside[0]}: {s[outside[0]]!r}). Pass "
                "predict_proba(X)[:, 1]."
            )
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    top = 0.0
    for name, s in named.items():
        table = reliability_table(y, s, n_bins=n_bins, strategy=strategy)
        ax.plot(table["mean_score"], table["observed_rate"], marker="o", label=name)
        top = max(top, table["mean_score"].max(), table["observed_rate"].max())
    top = min(1.0, 1.05 * top) if top > 0 else 1.0
    ax.plot(
        [0, top], [0, top], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated"
    )
    ax.set_xlabel("mean predicted risk in band")
    ax.set_ylabel("observed rate of need in band")
    ax.legend(loc="upper left")
    return ax
