"""Capacity-constrained flagging: scores and rule hits become the routed flag table."""

from ._capacity import EXIT_REVIEW, QUOTAS, capacity_usage
from ._flag import BANDS, FLAG_COLUMNS, ROUTES, flag, reason_text, risk_band

__all__ = [
    "BANDS",
    "EXIT_REVIEW",
    "FLAG_COLUMNS",
    "QUOTAS",
    "ROUTES",
    "capacity_usage",
    "flag",
    "reason_text",
    "risk_band",
]
