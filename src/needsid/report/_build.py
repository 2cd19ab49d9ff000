"""``build_report``: one self-contained HTML file per run, readable without a server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike

from . import _sections
from ._html import page, write_atomic

if TYPE_CHECKING:
    from ..evaluate import Comparison
    from ..fairness import FairnessAudit
    from ..models import PointsScorecard
    from ..rules import RuleHits

__all__ = ["SECTIONS", "build_report"]

#: Section ids (stable anchors, ``report.html#fairness``) and headings, in page order.
SECTIONS = {
    "summary": "Summary",
    "comparison": "Model comparison",
    "coverage": "Coverage curves",
    "calibration": "Calibration",
    "fairness": "Fairness by group",
    "scorecard": "Points scorecard",
    "rules": "Top rule hits",
}


def _expect(value: object, name: str, attrs: tuple[str, ...], what: str) -> None:
    if value is not None and not all(hasattr(value, a) for a in attrs):
        raise TypeError(f"Got {name} of type {type(value).__name__}; expected {what} or None.")


def _check_inputs(
    comparison: Comparison | None,
    y_true: ArrayLike | None,
    audit: FairnessAudit | None,
    scorecard: PointsScorecard | None,
    rule_hits: RuleHits | None,
    title: str,
    meta: Mapping[str, Any] | None,
    top_rules: int,
) -> npt.NDArray[np.bool_] | None:
    """Check the inputs' types and values; return the test labels as bools, if any."""
    _expect(
        comparison,
        "comparison",
        ("table", "scores", "capacity"),
        "a needsid.evaluate.Comparison (from needsid.evaluate.compare)",
    )
    _expect(
        audit,
        "audit",
        ("by_group", "disparities", "failing"),
        "a needsid.fairness.FairnessAudit (from needsid.fairness.audit)",
    )
    _expect(
        rule_hits,
        "rule_hits",
        ("summary", "rule_set_id", "as_of"),
        "a needsid.rules.RuleHits (from RuleSet.evaluate)",
    )
    if scorecard is not None and not hasattr(scorecard, "card_"):
        raise TypeError(
            f"Got scorecard of type {type(scorecard).__name__}; expected a fitted "
            "needsid.models.PointsScorecard (call .fit first) or None."
        )
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"Got title={title!r}; expected a non-empty string.")
    if meta is not None and not isinstance(meta, Mapping):
        raise TypeError(
            f"Got meta of type {type(meta).__name__}; expected a mapping such as "
            "{'run_id': ..., 'model': ..., 'as_of': ...} or None."
        )
    if isinstance(top_rules, bool) or not isinstance(top_rules, Integral) or top_rules < 1:
        raise ValueError(
            f"Got top_rules={top_rules!r}; expected a positive whole number, e.g. 15."
        )
    if y_true is None:  # a comparison may carry its test labels
        y_true = getattr(comparison, "y_true", None)
    if y_true is None:
        return None
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"Got y_true with shape {y.shape}; expected one label per household.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("Got y_true with values other than 0/1 or False/True; expected labels.")
    if comparison is not None and len(y) != len(comparison.scores):
        raise ValueError(
            f"Got y_true with {len(y)} labels for {len(comparison.scores)} scored test "
            "households in comparison.scores; pass the labels of the same test set, e.g. "
            "split.test['in_need']."
        )
    return y.astype(bool)


def build_report(
    path: str | os.PathLike[str],
    *,
    comparison: Comparison | None = None,
    y_true: ArrayLike | None = None,
    audit: FairnessAudit | None = None,
    scorecard: PointsScorecard | None = None,
    rule_hits: RuleHits | None = None,
    title: str = "needsid run report",
    meta: Mapping[str, Any] | None = None,
    top_rules: int = 15,
) -> Path:
    """Write one self-contained HTML report of a run: tables, plots, no server needed.

    The file holds its own CSS and its plots as base64 PNG images; it loads nothing
    from the network. Every input is optional: a section whose input is missing is
    still present (its id is stable) and says "not provided". All text is HTML-escaped
    and only aggregates are shown (no household ids). Written through a temporary file
    in the same folder and a rename, so a reader never sees half a report. The same
    inputs give the same bytes (nothing time-dependent is added; put a date in ``meta``).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.html`` file to write; its folder must exist.
    comparison : needsid.evaluate.Comparison, optional
        Table with intervals (section ``#comparison``); its ``scores`` with ``y_true``
        give the coverage (``#coverage``) and calibration (``#calibration``) plots.
    y_true : array-like of bool, optional
        Labels of the comparison's test households, in the same order
        (e.g. ``split.test["in_need"]``). Defaults to ``comparison.y_true`` when the
        comparison carries its labels.
    audit : needsid.fairness.FairnessAudit, optional
        By-group table, disparities with intervals (fail/warn/pass), FNR plot
        (section ``#fairness``).
    scorecard : needsid.models.PointsScorecard, optional
        A fitted card: the points table and the points-to-risk table (``#scorecard``).
    rule_hits : needsid.rules.RuleHits, optional
        Rules with the most hits, from ``RuleHits.summary()`` (``#rules``).
    title : str, default="needsid run report"
        The page title and top heading.
    meta : mapping, optional
        Shown in ``#summary`` as given, e.g. run id, model name and version, data
        fingerprint, ``as_of``, capacity.
    top_rules : int, default=15
        Rules listed in ``#rules``.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileNotFoundError
        If the folder of ``path`` does not exist.
    TypeError
        If an input is not of the type named above.
    ValueError
        If ``title`` is empty, ``top_rules`` is not a positive whole number, or
        ``y_true`` is not 0/1 labels of the comparison's test households.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from needsid.report import build_report
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> out = build_report(folder / "run.html", meta={"run_id": "demo"})
    >>> text = out.read_text()
    >>> 'id="fairness"' in text and "not provided" in text
    True

    With the inputs of a run (a fairness audit here):

    >>> from needsid.fairness import audit
    >>> a = audit([1, 1, 0, 0, 1, 1, 0, 0], [1, 0, 0, 0, 1, 1, 1, 0],
    ...           sensitive_features=["a"] * 4 + ["b"] * 4, n_boot=20)
    >>> text = build_report(folder / "audit.html", audit=a, title="Audit").read_text()
    >>> fairness = text.split('<section id="fairness">')[1].split("</section>")[0]
    >>> "not provided" in fairness, "Reference group: a." in fairness
    (False, True)
    >>> import shutil; shutil.rmtree(folder)
    """
    path = Path(os.fspath(path))
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Got path={str(path)!r}; its folder {str(path.parent)!r} does not exist. "
            "Create it first."
        )
    y = _check_inputs(comparison, y_true, audit, scorecard, rule_hits, title, meta, top_rules)
    provided = {
        "comparison": comparison is not None,
        "coverage and calibration": comparison is not None and y is not None,
        "fairness": audit is not None,
        "scorecard": scorecard is not None,
        "rules": rule_hits is not None,
    }
    bodies = {
        "summary": _sections.summary(meta, comparison, y, provided),
        "comparison": _sections.comparison(comparison),
        "coverage": _sections.coverage(comparison, y),
        "calibration": _sections.calibration(comparison, y),
        "fairness": _sections.fairness(audit),
        "scorecard": _sections.scorecard(scorecard),
        "rules": _sections.rules(rule_hits, top_rules),
    }
    write_atomic(path, page(title, [(k, SECTIONS[k], bodies[k]) for k in SECTIONS]))
    return path
