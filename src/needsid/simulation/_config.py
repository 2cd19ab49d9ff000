"""Simulator configuration: the calibration targets and generative parameters (pydantic)."""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CalibrationTarget", "SimulationConfig", "load_calibration", "default_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalibrationTarget(_Strict):
    """A published figure: the value, an absolute tolerance and where it comes from."""

    value: float
    tolerance: float = Field(gt=0)
    source: str


class _UrbanRural(_Strict):
    urban: float = Field(gt=0)
    rural: float = Field(gt=0)


class _HouseholdTypes(_Strict):
    names: list[str]
    urban: list[float]
    rural: list[float]

    @model_validator(mode="after")
    def _check(self) -> _HouseholdTypes:
        for side in ("urban", "rural"):
            probs = getattr(self, side)
            if len(probs) != len(self.names):
                raise ValueError(
                    f"household_types.{side} has {len(probs)} probabilities for "
                    f"{len(self.names)} names; give one per name."
                )
            if abs(sum(probs) - 1.0) > 1e-6:
                raise ValueError(f"household_types.{side} sums to {sum(probs)!r}; expected 1.")
        return self


class _Chain(_Strict):
    secure_to_vulnerable: float
    secure_to_poor: float
    vulnerable_to_poor: float
    vulnerable_to_secure: float
    poor_to_vulnerable: float
    poor_to_secure: float
    frailty_sd: float = Field(ge=0)


class _ByState(_Strict):
    secure: float = Field(ge=0, le=1)
    vulnerable: float = Field(ge=0, le=1)
    poor: float = Field(ge=0, le=1)

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.secure, self.vulnerable, self.poor)


class _Assessment(_Strict):
    """How the status quo's casework measures a household (see ``_casework.py``)."""

    missed_informal_share: float = Field(0.25, ge=0, le=1)
    noise_sd: float = Field(0.10, ge=0, le=1)
    decision_days: tuple[int, int] = (5, 30)
    withdrawn_share: float = Field(0.05, ge=0, le=1)
    reduce_above: float = Field(0.7, gt=0)
    visit_miss_rate: float = Field(0.15, ge=0, le=1)
    visit_false_rate: float = Field(0.10, ge=0, le=1)
    visit_not_found_rate: float = Field(0.03, ge=0, le=1)

    @model_validator(mode="after")
    def _days(self) -> _Assessment:
        lo, hi = self.decision_days
        if not 0 <= lo <= hi:
            raise ValueError(
                f"Got assessment.decision_days={self.decision_days!r}; expected "
                "(min, max) days from application to decision with 0 <= min <= max, e.g. (5, 30)."
            )
        return self


class SimulationConfig(_Strict):
    """Generative parameters of :func:`needsid.simulate`.

    Defaults come from the packaged ``calibration.yaml``; override any field with
    ``default_config().model_copy(update={...})``. Unknown keys are errors.
    """

    start: dt.date
    n_regions: int = Field(ge=2)
    urban_region_share: float = Field(gt=0, lt=1)
    dibao_standard: _UrbanRural
    standard_jitter: float = Field(ge=0, lt=0.5)
    tekun_multiplier: float = Field(ge=1)
    low_income_multiplier: float = Field(ge=1)
    disposable_income_prev_year: _UrbanRural
    household_types: _HouseholdTypes
    urban_people_share: float = Field(gt=0, lt=1)
    chain: _Chain
    dibao_entry: _ByState
    dibao_exit: _ByState
    invisible_entry_factor: float = Field(ge=0, le=1)
    assessment: _Assessment = _Assessment()

    @model_validator(mode="after")
    def _start_is_month(self) -> SimulationConfig:
        if self.start.day != 1:
            raise ValueError(
                f"Got start={self.start.isoformat()!r}; the simulation runs in calendar "
                "months, so start must be the first day of a month, e.g. '2023-01-01'."
            )
        return self


@cache
def _raw() -> dict:
    text = resources.files("needsid.simulation").joinpath("calibration.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def load_calibration() -> dict[str, CalibrationTarget]:
    """Return the published calibration targets, by name."""
    return {k: CalibrationTarget(**v) for k, v in _raw()["targets"].items()}


def default_config() -> SimulationConfig:
    """Return the default, calibrated simulation parameters."""
    return SimulationConfig(**_raw()["parameters"])
