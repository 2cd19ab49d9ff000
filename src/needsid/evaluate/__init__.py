"""Validation that cannot leak, targeting metrics at a capacity, model comparison."""

from ._compare import Comparison, compare
from ._metrics import (
    TargetingMetrics,
    coverage_curve,
    reliability_table,
    select_top,
    targeting_metrics,
)
from ._split import TemporalSplit, temporal_split

__all__ = [
    "Comparison",
    "TargetingMetrics",
    "TemporalSplit",
    "compare",
    "coverage_curve",
    "reliability_table",
    "select_top",
    "targeting_metrics",
    "temporal_split",
]
