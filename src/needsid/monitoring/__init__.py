"""Dynamic monitoring (动态监测): a county's monthly run and what changed.

``run(bundle, start, end, model=..., register=...)`` evaluates every month: warning
levels from an indicator register, alerts (new / ongoing / resolved) from indicators,
rules and the model, drift of every feature and of the score (PSI with a critical value
from the sample sizes), and the model's precision at capacity estimated without labels
next to the precision observed where flagged households were verified, and which
regions' new alerts of a source rose more than the typical region's (``excess``).
"""

from ._drift import PSIResult, psi, psi_change, psi_critical
from ._performance import PrecisionEstimate, estimated_precision, observed_precision
from ._run import (
    ALERT_COLUMNS,
    DRIFT_COLUMNS,
    EXCESS_COLUMNS,
    LEVEL_COLUMNS,
    PERFORMANCE_COLUMNS,
    REFERENCES,
    MonitoringResult,
    run,
)

__all__ = [
    "ALERT_COLUMNS",
    "DRIFT_COLUMNS",
    "EXCESS_COLUMNS",
    "LEVEL_COLUMNS",
    "PERFORMANCE_COLUMNS",
    "REFERENCES",
    "MonitoringResult",
    "PSIResult",
    "PrecisionEstimate",
    "estimated_precision",
    "observed_precision",
    "psi",
    "psi_change",
    "psi_critical",
    "run",
]
