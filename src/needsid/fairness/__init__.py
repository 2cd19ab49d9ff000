"""Fairness audits of flags and rules, by group and intersection, built on fairlearn."""

from ._audit import FairnessAudit, audit
from ._report import plot_metric

__all__ = ["FairnessAudit", "audit", "plot_metric"]
