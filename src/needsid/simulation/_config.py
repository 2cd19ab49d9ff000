"""Simulator configuration: the calibration targets and generative parameters (pydantic)."""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .._dates import months_after

__all__ = [
    "PROCESS_PROBLEMS",
    "CalibrationTarget",
    "ProcessProblems",
    "Shock",
    "SimulationConfig",
    "load_calibration",
    "default_config",
]


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


class Shock(_Strict):
    """A scenario: the job-loss and illness hazards multiplied for some months and regions.

    Listed in ``SimulationConfig.shocks``. In each month of the window and each of its
    regions, the monthly hazard of losing a (formal) job is multiplied by ``job_loss``
    and that of an illness with a hospital bill by ``illness``: the job losses and
    illnesses that cause a fall into poverty (so the latent chain falls into the poor
    state more often) and the others alike. The job losses a shock adds are not
    absorbed: the household loses the earner's share of its formal income and moves to
    the state its remaining income falls in. Overlapping shocks multiply.

    Parameters
    ----------
    start : datetime.date
        First month of the shock (the first day of a month). :func:`needsid.simulate`
        checks that it lies inside the simulated months.
    months : int
        Duration in months, at least 1. Months past the end of the run are not simulated.
    regions : list of str, optional
        The region ids it hits (``regions.region_id``, e.g. ``"G03"``);
        :func:`needsid.simulate` checks that they exist. None (the default) hits every
        region.
    job_loss : float, default=1.0
        Multiplier of the job-loss hazard (>= 0; 1 leaves it unchanged, 0 stops job losses).
    illness : float, default=1.0
        Multiplier of the hazard of an illness with a hospital bill (>= 0).

    Raises
    ------
    pydantic.ValidationError
        If ``start`` is not the first of a month, ``months`` < 1, ``regions`` is empty, a
        multiplier is negative or not finite, or a key is unknown.

    Examples
    --------
    >>> import datetime as dt
    >>> from needsid.simulation import Shock
    >>> shock = Shock(start=dt.date(2023, 7, 1), months=6, regions=["G01", "G02"], job_loss=3)
    >>> shock.end, shock.illness
    (datetime.date(2024, 1, 1), 1.0)
    """

    start: dt.date
    months: int = Field(ge=1)
    regions: list[str] | None = None
    job_loss: float = Field(1.0, ge=0, allow_inf_nan=False)
    illness: float = Field(1.0, ge=0, allow_inf_nan=False)

    @field_validator("start")
    @classmethod
    def _first_of_month(cls, v: dt.date) -> dt.date:
        if v.day != 1:
            raise ValueError(
                f"Got shock start={v.isoformat()!r}; shocks run in calendar months, so start "
                f"must be the first day of a month, e.g. {v.replace(day=1).isoformat()!r}."
            )
        return v

    @field_validator("regions")
    @classmethod
    def _some_regions(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError(
                "Got shock regions=[]; list the region ids it hits, or give None for every region."
            )
        return v

    @property
    def end(self) -> dt.date:
        """The first day after the shock's last month.

        Returns
        -------
        datetime.date
            ``start`` plus ``months`` calendar months.

        Examples
        --------
        >>> import datetime as dt
        >>> from needsid.simulation import Shock
        >>> Shock(start=dt.date(2023, 11, 1), months=3).end
        datetime.date(2024, 2, 1)
        """
        return months_after(self.start, self.months)


#: The process problems the simulator can inject (``truth.anomalies.anomaly``), named
#: after the rule templates that find them (``needsid.rules.TEMPLATES``).
PROCESS_PROBLEMS = (
    "late_decision",
    "overdue_review",
    "payment_mismatch",
    "payment_without_approval",
    "paid_after_exit",
)
_Rate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


def _process_default(name: str) -> Any:
    return _raw()["process_problems"][name]


class ProcessProblems(_Strict):
    """Process problems to inject: late decisions, overdue reviews, payment errors.

    Set as ``SimulationConfig.process_problems`` (None, the default, injects nothing and
    changes no draw). The problems are injected after the casework is drawn, with a
    random stream of their own, by changing its records; each is written to
    ``truth.anomalies`` under its name (:data:`PROCESS_PROBLEMS`, the rule template that
    finds it) with the month it first shows, and every case at risk to
    ``truth.process_cases``. A *case* is one unit a problem can strike, and a problem
    strikes a case with the rate of the case's year:

    - ``late_decision``: a decision (``verification``) whose application is moved
      earlier, so that the decision comes 1-90 days after ``decision_limit_days``;
    - ``overdue_review``: a recipient's periodic review, dropped with the other
      reviews of the next ``review_months`` months, so the household is paid more than
      ``review_months`` months after its last review (exit reviews are kept; a drop that
      leaves no overdue payment, e.g. because the household exits, is undone);
    - ``payment_mismatch``: a dibao household-year, one of whose payments checkable
      against the statute is altered by 15-50% of the standard per person;
    - ``payment_without_approval``: the approval of a new dibao or tekun spell,
      removed;
    - ``paid_after_exit``: an exit from dibao or tekun, after which 1-3 more monthly
      payments are made.

    The switch also adds the housing and medical assistance programmes
    (``benefit_housing``, ``benefit_medical``: an application, an ``approved_housing`` or
    ``approved_medical`` decision and a grant, for dibao and tekun households with unsafe
    housing or an out-of-pocket hospital bill), whose cases have a late decision or a
    removed approval at ``housing_rate`` and ``medical_rate``; and it pays dibao at the
    statutory amount, (standard - assessed income per person) x members, wherever the
    latest assessment is below the standard (the default status quo pays a top-up on the
    true income). Cases and problems are drawn only where the problem stays within the
    extract, so a few are left out near its end.

    Parameters
    ----------
    yearly_rates : tuple of float, default=(0.218, 0.040, 0.048)
        Share of dibao and tekun cases with each problem, by year of the simulation
        (the first 12 months are year 1; later years repeat the last rate). The default
        is the county-requested checks of the source paper's city in 2021, 2022 and
        2023, mapped to the simulation's first, second and third year (``calibration.yaml``).
    housing_rate : float, default=0.158
        Share of housing assistance cases with a problem (438 of 2,776 checked).
    medical_rate : float, default=0.092
        Share of medical assistance cases with a problem (75 of 813 checked).
    problems : tuple of str, default=PROCESS_PROBLEMS
        The problems to inject (some of :data:`PROCESS_PROBLEMS`).
    decision_limit_days : int, default=30
        The limit a late decision exceeds (the ``late_decision`` rule's ``days``); at
        least ``assessment.decision_days[1]``, the slowest on-time decision.
    review_months : int, default=12
        How long without a review makes one overdue (the ``overdue_review`` rule's
        ``months``); at least 12, as the status quo reviews every recipient at least
        yearly.

    Raises
    ------
    pydantic.ValidationError
        If a rate is outside [0, 1], ``yearly_rates`` is empty, a problem is unknown or
        repeated, or a key is unknown. :func:`needsid.simulate` also checks
        ``decision_limit_days`` against the config's ``assessment``.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.simulation import PROCESS_PROBLEMS, ProcessProblems, default_config
    >>> ProcessProblems().yearly_rates
    (0.218, 0.04, 0.048)
    >>> ProcessProblems(problems=["late_decision"], yearly_rates=[0.1]).problems
    ('late_decision',)
    >>> config = default_config().model_copy(update={"process_problems": ProcessProblems()})
    >>> pop = ni.simulate(n_households=1000, months=24, seed=0, config=config)
    >>> found = set(pop.truth.anomalies["anomaly"])
    >>> [p for p in PROCESS_PROBLEMS if p in found] == list(PROCESS_PROBLEMS)
    True
    >>> pop.truth.process_cases.columns
    ['household_id', 'programme', 'process', 'month', 'anomaly']
    """

    yearly_rates: tuple[_Rate, ...] = Field(
        default_factory=lambda: tuple(_process_default("yearly_rates")), min_length=1
    )
    housing_rate: _Rate = Field(default_factory=lambda: _process_default("housing_rate"))
    medical_rate: _Rate = Field(default_factory=lambda: _process_default("medical_rate"))
    problems: tuple[str, ...] = PROCESS_PROBLEMS
    decision_limit_days: int = Field(30, ge=1, le=365)
    review_months: int = Field(12, ge=12, le=60)

    @field_validator("problems")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [p for p in v if p not in PROCESS_PROBLEMS]
        if bad or not v:
            raise ValueError(
                f"Got problems={list(v)!r}; expected some of {', '.join(PROCESS_PROBLEMS)}."
            )
        dup = sorted({p for p in v if v.count(p) > 1})
        if dup:
            raise ValueError(f"Got problems={list(v)!r}; {dup!r} listed more than once.")
        return v

    def rate(self, year: int) -> float:
        """Return the share of dibao and tekun cases with a problem in a simulation year.

        Parameters
        ----------
        year : int
            0 for the first 12 simulated months, 1 for the next 12, ...

        Returns
        -------
        float
            ``yearly_rates[year]``, or the last rate for later years.

        Examples
        --------
        >>> from needsid.simulation import ProcessProblems
        >>> [ProcessProblems().rate(y) for y in range(4)]
        [0.218, 0.04, 0.048, 0.048]
        """
        return self.yearly_rates[min(year, len(self.yearly_rates) - 1)]


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
    shocks : list of Shock, default=[]
        Scenarios (:class:`Shock`), each multiplying the monthly job-loss and illness
        hazards in its regions for ``months`` months from its ``start``. More job losses
        and illnesses mean more households in the poor state (``truth.monthly.in_need``),
        in unemployment (``need_employment``) and with large hospital bills
        (``need_health``); more of their records (``unemployment_registered``,
        ``hospitalization``, ``medical_oop``; fewer ``wage``) and of the applications and
        benefits that follow need. :func:`needsid.simulate` checks that each shock starts
        inside the simulated months and names existing regions; the population keeps
        them in ``pop.config.shocks``. The empty list, the default, changes no draw, and
        the months before a shock are drawn as without it (household ids can shift: it
        changes how many households form later). The chain probabilities in
        ``truth.households`` and the oracle ``p_need`` of :func:`needsid.labels.make`
        remain those of the chain without shocks.
    process_problems : ProcessProblems, optional
        Inject process problems (late decisions, overdue reviews, payment errors; see
        :class:`ProcessProblems`) and write them to ``truth.anomalies``. None, the
        default, changes nothing: the output is that of a config without the field.

    Raises
    ------
    pydantic.ValidationError
        If a field is missing, unknown or out of range, or ``start`` is not the first
        of a month.

    Examples
    --------
    >>> import datetime as dt
    >>> import needsid as ni
    >>> import polars as pl
    >>> config = ni.simulation.default_config().model_copy(update={"n_regions": 4})
    >>> pop = ni.simulate(n_households=300, months=12, seed=0, config=config)
    >>> pop.bundle.regions.height
    4

    A scenario: job losses triple in two regions for six months from July 2023.

    >>> shock = ni.simulation.Shock(
    ...     start=dt.date(2023, 7, 1), months=6, regions=["G01", "G02"], job_loss=3.0
    ... )
    >>> scenario = config.model_copy(update={"shocks": [shock]})
    >>> hit = ni.simulate(n_households=300, months=12, seed=0, config=scenario)
    >>> hit.config.shocks[0].end
    datetime.date(2024, 1, 1)
    >>> before = pl.col("month") < shock.start  # the same draws until the shock starts
    >>> hit.truth.monthly.filter(before)["in_need"].sum() == (
    ...     pop.truth.monthly.filter(before)["in_need"].sum()
    ... )
    True
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
    shocks: list[Shock] = Field(default_factory=list)
    process_problems: ProcessProblems | None = None

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
