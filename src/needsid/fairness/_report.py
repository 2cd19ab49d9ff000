"""A self-contained HTML report of a fairness audit (tables and inline PNG plots)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from .._io import write_atomic


def plot_metric(audit, metric: str = "fnr", ax=None):
    """Plot one metric by group with its 95% interval (from the ratio's bootstrap)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    d = audit.disparities[audit.disparities["metric"] == metric]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(d) + 1.5))
    labels = [str(g) for g in d["group"]]
    y = np.arange(len(d))
    lo = d["difference_lo"] + d["reference"]
    hi = d["difference_hi"] + d["reference"]
    ax.errorbar(d["value"], y, xerr=[d["value"] - lo, hi - d["value"]], fmt="o", capsize=3)
    ax.axvline(d["reference"].iloc[0], color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, labels)
    ax.set_xlabel(f"{metric} (95% interval; dashed: reference group)")
    ax.figure.tight_layout()
    return ax


def plot_roc(y_true, scores, sensitive_features, *, ax=None):
    """Plot one ROC curve per group (scikit-learn's ``RocCurveDisplay``), AUC in the legend.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    scores : array-like of shape (n,)
    sensitive_features : array-like, Series, DataFrame or dict
        One or more group columns, as in :func:`audit`; several give intersections.
        Groups with only one class have no ROC curve and are listed in the title.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_roc([0, 1, 0, 1, 0, 1], [0.1, 0.9, 0.4, 0.6, 0.2, 0.3], ["a"] * 4 + ["b"] * 2)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['a (AUC = 1.00)', 'b (AUC = 1.00)']
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from sklearn.metrics import RocCurveDisplay

    from ._audit import _sensitive_frame

    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    if len(s) != len(y):
        raise ValueError(f"Got {len(s)} scores for {len(y)} labels.")
    group = _sensitive_frame(sensitive_features, len(y)).agg(" & ".join, axis=1).to_numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    skipped = []
    for key in sorted(set(group)):
        m = group == key
        if y[m].all() or not y[m].any():
            skipped.append(key)
            continue
        RocCurveDisplay.from_predictions(y[m], s[m], name=key, ax=ax)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.set_title("ROC by group" + (f" (one class only: {', '.join(skipped)})" if skipped else ""))
    ax.figure.tight_layout()
    return ax


def _png(ax) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=90)
    plt.close(ax.figure)
    return base64.b64encode(buf.getvalue()).decode()


def write_html(audit, path) -> None:
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

    def fmt(x):
        return f"{x:.3f}"

    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>Fairness audit</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:12px}}</style></head><body>
<h1>Fairness audit</h1>
<p>Reference group: {html.escape(str(audit.reference))}; tolerance band for ratios:
{audit.band[0]}-{audit.band[1]}. FNR is the exclusion error (needy not flagged).</p>
<h2 id="by-group">By group</h2>{audit.by_group.to_html(float_format=lambda x: f"{x:.3f}")}
<h2 id="failing">Disparities outside the band (interval excludes parity)</h2>
{failing.to_html(index=False, float_format=fmt) if len(failing) else "<p>None.</p>"}
<h2 id="disparities">All disparities</h2>
{audit.disparities.to_html(index=False, float_format=lambda x: f"{x:.3f}")}
<h2 id="plots">Plots</h2>{plots}
</body></html>"""
    write_atomic(path, body)
