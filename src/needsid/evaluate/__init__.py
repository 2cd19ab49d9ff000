"""Validation that cannot leak, targeting metrics at a capacity, model comparison."""

from ._ablation import CROSS_CHECK_ANOMALIES, SourceAblation, source_ablation
from ._compare import Comparison, compare, status_quo
from ._metrics import (
    TargetingMetrics,
    as_capacity,
    coverage_curve,
    reliability_table,
    select_top,
    targeting_metrics,
)
from ._plot import plot_calibration, plot_coverage
from ._rule_flags import FLAG_KINDS, rule_flags
from ._split import TemporalSplit, temporal_split

__all__ = [
    "CROSS_CHECK_ANOMALIES",
    "FLAG_KINDS",
    "Comparison",
    "SourceAblation",
    "TargetingMetrics",
    "TemporalSplit",
    "as_capacity",
    "compare",
    "coverage_curve",
    "plot_calibration",
    "plot_coverage",
    "reliability_table",
    "rule_flags",
    "select_top",
    "source_ablation",
    "status_quo",
    "targeting_metrics",
    "temporal_split",
]
