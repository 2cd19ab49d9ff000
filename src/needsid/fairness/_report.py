"""A self-contained HTML report of a fairness audit (tables and inline PNG plots)."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt

from .._io import write_atomic
from ._sensitive import SensitiveFeatures, group_label, sensitive_frame

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ._audit import FairnessAudit


def plot_metric(audit: FairnessAudit, metric: str = "fnr", ax: Axes | None = None) -> Axes:
    """Plot one metric by group, each with its own 95% bootstrap interval.

    Each group's point is its rate; its bar is the group's own bootstrap interval
    (``value_lo`` to ``value_hi`` in ``audit.disparities``), so it stays within [0, 1].
    The dashed line is the reference group's rate. Groups are labelled with their
    attributes' names, e.g. ``"region=north, urban=True"``.

    Parameters
    ----------
    audit : FairnessAudit
        From :func:`audit`.
    metric : str, default="fnr"
        A metric of ``audit.disparities``, e.g. ``"fnr"`` (exclusion error),
        ``"selection_rate"``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    ValueError
        If the audit has no such metric, or no per-group intervals (an audit made by an
        older version: run :func:`audit` again).

    Examples
    --------
    >>> from needsid.fairness import audit, plot_metric
    >>> a = audit([1, 1, 0, 1, 1, 0], [1, 0, 0, 1, 1, 1],
    ...           sensitive_features={"urban": [True] * 3 + [False] * 3}, n_boot=20)
    >>> ax = plot_metric(a, "fnr")
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['urban=False', 'urban=True']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(ax.figure)
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    d = audit.disparities
    known = list(dict.fromkeys(d["metric"]))
    if metric not in known:
        raise ValueError(f"Got metric={metric!r}; expected one of {known}.")
    if not {"value_lo", "value_hi"} <= set(d.columns):
        raise ValueError(
            "This audit has no per-group intervals (value_lo, value_hi); it was made by an "
            "older needsid: run needsid.fairness.audit again."
        )
    d = d[d["metric"] == metric]
    names = audit.by_group.index.names
    labels = [group_label(names, g) for g in d["group"]]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.4 * len(d) + 1.8))
    y = np.arange(len(d))
    ax.hlines(y, d["value_lo"], d["value_hi"], color="C0", linewidth=1.5)
    ax.plot(d["value"], y, "o", color="C0")
    ax.axvline(d["reference"].iloc[0], color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, labels)
    ax.set_xlabel(
        f"{metric} (95% bootstrap interval per group)\n"
        f"dashed: reference group {group_label(names, _key(audit.reference))}"
    )
    _figure(ax).tight_layout()
    return ax


def _key(reference: tuple[str, ...]) -> str | tuple[str, ...]:
    return reference[0] if len(reference) == 1 else reference


def plot_roc(
    y_true: npt.ArrayLike,
    scores: npt.ArrayLike,
    *,
    sensitive_features: SensitiveFeatures,
    ax: Axes | None = None,
) -> Axes:
    """Plot one ROC curve per group (scikit-learn's ``RocCurveDisplay``), AUC in the legend.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True need, 0/1 or boolean.
    scores : array-like of shape (n,)
        Risk scores; higher is riskier.
    sensitive_features : array-like, list, Series, DataFrame or dict
        The sensitive groups, in any form :func:`audit` accepts; several attributes give
        intersections. Groups are labelled ``"name=value"`` (joined by ``", "``).
        Groups with only one class have no ROC curve and are listed in the title.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    ValueError
        If the lengths of the inputs differ.

    Examples
    --------
    >>> import pandas as pd
    >>> area = pd.Series(["a"] * 4 + ["b"] * 2, name="area")
    >>> ax = plot_roc([0, 1, 0, 1, 0, 1], [0.1, 0.9, 0.4, 0.6, 0.2, 0.3],
    ...               sensitive_features=area)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['area=a (AUC = 1.00)', 'area=b (AUC = 1.00)']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(ax.figure)
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from sklearn.metrics import RocCurveDisplay

    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    if len(s) != len(y):
        raise ValueError(f"Got {len(s)} scores for {len(y)} labels.")
    sf = sensitive_frame(sensitive_features, len(y))
    names = list(sf.columns)
    keys = [tuple(row) for row in sf.itertuples(index=False)]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    skipped = []
    for key in sorted(set(keys)):
        m = np.array([k == key for k in keys])
        label = group_label(names, key)
        if y[m].all() or not y[m].any():
            skipped.append(label)
            continue
        RocCurveDisplay.from_predictions(y[m], s[m], name=label, ax=ax)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.set_title("ROC by group" + (f" (one class only: {'; '.join(skipped)})" if skipped else ""))
    _figure(ax).tight_layout()
    return ax


def _figure(ax: Axes) -> Figure:
    # the figure of axes drawn on a Figure (a SubFigure has no tight_layout or savefig)
    return cast("Figure", ax.figure)


def _png(ax: Axes) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    _figure(ax).savefig(buf, format="png", dpi=90)
    plt.close(_figure(ax))
    return base64.b64encode(buf.getvalue()).decode()


def write_html(audit: FairnessAudit, path: str | os.PathLike[str]) -> None:
    """Write the report to ``path`` through a temporary file and a rename."""
    path = Path(path)
    metrics = list(dict.fromkeys(audit.disparities["metric"]))
    plots = "".join(
        f'<h3>{html.escape(m)}</h3><img alt="{html.escape(m)} by group" '
        f'src="data:image/png;base64,{_png(plot_metric(audit, m))}">'
        for m in metrics
        if m in ("fnr", "selection_rate", "fpr", "precision")
    )
    failing = audit.failing()
    reference = group_label(audit.by_group.index.names, _key(audit.reference))
    tolerance = audit.difference_tolerance

    def fmt(x: float) -> str:
        return f"{x:.3f}"

    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>Fairness audit</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:12px}}</style></head><body>
<h1>Fairness audit</h1>
<p>Reference group: {html.escape(reference)}; tolerance band for ratios:
{audit.band[0]}-{audit.band[1]}; tolerance for differences: {tolerance}. A disparity fails
when its ratio is infinite (the reference's rate is 0), when its ratio is outside the band
and the ratio's 95% interval excludes 1, or when the difference's 95% interval lies beyond
the tolerance on either side of 0. FNR is the exclusion error (needy not flagged).</p>
<h2 id="by-group">By group</h2>{audit.by_group.to_html(float_format=lambda x: f"{x:.3f}")}
<h2 id="failing">Failing disparities</h2>
{failing.to_html(index=False, float_format=fmt) if len(failing) else "<p>None.</p>"}
<h2 id="disparities">All disparities</h2>
{audit.disparities.to_html(index=False, float_format=lambda x: f"{x:.3f}")}
<h2 id="plots">Plots</h2>{plots}
</body></html>"""
    write_atomic(path, body)
