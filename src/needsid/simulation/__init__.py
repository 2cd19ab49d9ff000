"""Synthetic population of households and department records, with ground truth.

The function is re-exported as ``needsid.simulate``; this package holds its config
(with scenario shocks and process problems), calibration and truth types.
"""

from ._calibration import calibration_report
from ._config import (
    PROCESS_PROBLEMS,
    CalibrationTarget,
    ProcessProblems,
    Shock,
    SimulationConfig,
    default_config,
    load_calibration,
)
from ._simulate import NEED_DIMENSIONS, SimulatedPopulation, Truth, simulate

__all__ = [
    "NEED_DIMENSIONS",
    "PROCESS_PROBLEMS",
    "CalibrationTarget",
    "ProcessProblems",
    "Shock",
    "SimulatedPopulation",
    "SimulationConfig",
    "Truth",
    "calibration_report",
    "default_config",
    "load_calibration",
    "simulate",
]
