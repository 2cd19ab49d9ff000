"""A self-contained HTML report per run: comparison, coverage, calibration, fairness, card, rules.

``build_report(path, comparison=..., y_true=..., audit=..., scorecard=..., rule_hits=...)``
writes one file with inline CSS and base64 PNG plots that opens in a browser without a
server. Sections have stable ids (``SECTIONS``); a missing input leaves its section in
place saying "not provided".
"""

from ._build import SECTIONS, build_report

__all__ = ["SECTIONS", "build_report"]
