"""Fairness audits of flags and rules, by group and intersection, built on fairlearn."""

from ._audit import FairnessAudit, audit
from ._mitigate import (
    MITIGATIONS,
    MitigationComparison,
    allocate_top,
    compare_mitigations,
    reserve_outreach,
)
from ._report import plot_metric, plot_roc
from ._rules import RuleAudit, audit_rules

__all__ = [
    "MITIGATIONS",
    "FairnessAudit",
    "MitigationComparison",
    "RuleAudit",
    "allocate_top",
    "audit",
    "audit_rules",
    "compare_mitigations",
    "plot_metric",
    "plot_roc",
    "reserve_outreach",
]
