"""Simulator configuration: the calibration targets and generative parameters (pydantic)."""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CalibrationTarget", "SimulationConfig", "load_calibration", "default_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalibrationTarget(_Strict):
    """A published figure: the value, an absolute tolerance and where it comes from.

    Parameters
    ----------
    value : float
        The published figure.
    tolerance : float
        How far a simulated draw may be from ``value`` and still match it (positive).
    source : str
        Who published the figure, and when.

    Examples
    --------
    >>> from needsid.simulation import CalibrationTarget
    >>> target = CalibrationTarget(value=2.62, tolerance=0.15, source="2020 census")
    >>> abs(2.7 - target.value) <= target.tolerance
    True
    """

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
    ``default_config().model_copy(update={...})``. Unknown keys are errors. The nested
    groups are validated models of their own: build them by passing dicts.

    Parameters
    ----------
    start : datetime.date
        First day of the first simulated month (the first of a month).
    n_regions : int
        Regions (counties) in the province, at least 2.
    urban_region_share : float
        Share of the regions that are urban, in (0, 1).
    dibao_standard : dict
        ``{"urban": ..., "rural": ...}``: the monthly dibao line, yuan per person.
    standard_jitter : float
        Relative spread of the line between regions of one kind, in [0, 0.5).
    tekun_multiplier : float
        The tekun (extreme poverty) standard as a multiple of the dibao line (>= 1).
    low_income_multiplier : float
        The low-income line as a multiple of the dibao line (>= 1).
    disposable_income_prev_year : dict
        ``{"urban": ..., "rural": ...}``: the regions' disposable income per capita in
        the year before ``start``, yuan.
    household_types : dict
        ``{"names": [...], "urban": [...], "rural": [...]}``: household types and their
        probabilities in urban and rural regions (each list sums to 1).
    urban_people_share : float
        Share of people living in urban regions, in (0, 1).
    chain : dict
        Base logits of the monthly transitions of the latent need chain
        (``secure_to_vulnerable``, ..., ``poor_to_secure``) and ``frailty_sd``, the
        spread of the households' risk.
    dibao_entry, dibao_exit : dict
        ``{"secure": ..., "vulnerable": ..., "poor": ...}``: the status quo's monthly
        hazards of entering and leaving dibao by latent state.
    invisible_entry_factor : float
        How much less often digitally invisible households enter dibao, in [0, 1].
    assessment : dict, optional
        How the status quo's casework measures a household: ``missed_informal_share``,
        ``noise_sd``, ``decision_days``, ``withdrawn_share``, ``reduce_above``,
        ``visit_miss_rate``, ``visit_false_rate``, ``visit_not_found_rate``.

    Raises
    ------
    pydantic.ValidationError
        If a field is missing, unknown or out of range, or ``start`` is not the first
        of a month.

    Examples
    --------
    >>> import datetime as dt
    >>> import needsid as ni
    >>> config = ni.simulation.default_config().model_copy(update={"n_regions": 4})
    >>> pop = ni.simulate(n_households=300, months=12, seed=0, config=config)
    >>> pop.bundle.regions.height
    4
    >>> config.model_validate({**config.model_dump(), "start": dt.date(2023, 1, 15)})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for SimulationConfig
    ...
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
def _raw() -> dict[str, Any]:
    text = resources.files("needsid.simulation").joinpath("calibration.yaml").read_text("utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    return raw


def load_calibration() -> dict[str, CalibrationTarget]:
    """Return the published calibration targets, by name.

    Returns
    -------
    dict of str to CalibrationTarget
        The figures :func:`calibration_report` measures a simulation against, from the
        packaged ``calibration.yaml``.

    Examples
    --------
    >>> from needsid.simulation import load_calibration
    >>> targets = load_calibration()
    >>> targets["mean_household_size"].value
    2.62
    >>> targets["mean_household_size"].source
    '2020 census, average family household size (3.10 in 2010)'
    """
    return {k: CalibrationTarget(**v) for k, v in _raw()["targets"].items()}


def default_config() -> SimulationConfig:
    """Return the default, calibrated simulation parameters.

    Returns
    -------
    SimulationConfig
        The parameters :func:`needsid.simulate` uses when given no ``config``.

    Examples
    --------
    >>> from needsid.simulation import default_config
    >>> config = default_config()
    >>> config.start, config.n_regions
    (datetime.date(2023, 1, 1), 20)
    >>> config.model_copy(update={"n_regions": 4}).n_regions
    4
    """
    return SimulationConfig(**_raw()["parameters"])
