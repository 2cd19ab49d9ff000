"""Indicator registers as data: the pydantic models of a YAML register and its checks.

A register is checked indicator by indicator, so one error lists every problem at once,
each as ``indicator '<id>', field '<field>': <what is wrong and how to fix it>``. What an
indicator reads (a feature, a rule of the default rule set, a department) is checked
here, before any scoring.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._errors import ConfigError
from ..data import record_vocabulary
from ..mpi import DIMENSIONS
from ._conditions import (
    FeatureCondition,
    RuleCondition,
    _choice,
    _loc,
    _message,
    _Problems,
    _suggest,
    parse_definition,
)

__all__ = [
    "LEVELS",
    "MAX_DECAY_MONTHS",
    "SOURCES",
    "Indicator",
    "IndicatorRegisterError",
    "Thresholds",
    "check",
]

#: Warning levels from lowest to highest (``none``: no warning).
LEVELS = ("none", "yellow", "orange", "red")
#: Longest fade allowed: scoring evaluates the indicators once per month of it.
MAX_DECAY_MONTHS = 24
MAX_POINTS = 100
#: The risk categories of low-income monitoring an indicator can come from.
RISK_CATEGORIES = (
    "illness",
    "disability",
    "education",
    "disaster",
    "unemployment",
    "income_drop",
    "expenditure_surge",
    "family_change",
    "invisibility",
    "casework",
)
#: The published eligibility rules an indicator can follow.
RULE_FAMILIES = (
    "dibao",
    "tekun",
    "low_income",
    "rigid_expense",
    "medical_warning",
    "temporary_assistance",
    "asset_test",
)
#: Where an indicator can come from: ``risk:<category>``, ``rule:<family>`` or
#: ``mpi:<dimension>`` (the deprivation dimensions of :data:`needsid.mpi.DIMENSIONS`).
SOURCES = (
    *(f"risk:{c}" for c in RISK_CATEGORIES),
    *(f"rule:{r}" for r in RULE_FAMILIES),
    *(f"mpi:{d}" for d in DIMENSIONS),
)
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class IndicatorRegisterError(ConfigError):
    """An indicator register that cannot be used; ``problems`` lists every problem found.

    A :class:`needsid.ConfigError`, like every other configuration error.

    Parameters
    ----------
    source : str
        What was read, named in the message (e.g. the quoted file path).
    problems : list of str
        Every problem, each naming the indicator id and field.

    Examples
    --------
    >>> from needsid.indicators import IndicatorRegister, IndicatorRegisterError
    >>> try:
    ...     IndicatorRegister.from_dict({"id": "x"}, source="x.yaml")
    ... except IndicatorRegisterError as err:
    ...     print(err)
    Invalid indicator register x.yaml (4 problems):
      - field 'version': missing; a register needs it.
      - field 'description': missing; a register needs it.
      - field 'thresholds': missing; a register needs it.
      - field 'indicators': missing; a register needs it.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        n = len(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        message = f"Invalid indicator register {source} ({n} problem{'s' * (n != 1)}):\n{lines}"
        super().__init__(message, list(problems))


IndicatorRegisterError.__module__ = "needsid.indicators"  # where users import it from


class Thresholds(BaseModel):
    """Total points from which a household reaches each warning level.

    Parameters
    ----------
    red, orange, yellow : float
        Positive, with ``red > orange > yellow``.

    Examples
    --------
    >>> from needsid.indicators import Thresholds
    >>> t = Thresholds(red=60, orange=40, yellow=20)
    >>> t.level_of(45), t.level_of(10)
    ('orange', 'none')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    red: float = Field(gt=0)
    orange: float = Field(gt=0)
    yellow: float = Field(gt=0)

    @field_validator("red", "orange", "yellow", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"Got {v!r}; expected a positive number of points, e.g. 20.")
        return v

    def level_of(self, total: float) -> str:
        """Return the level a total of points reaches on its own.

        Parameters
        ----------
        total : float
            A household's total points.

        Returns
        -------
        str
            One of :data:`LEVELS`.

        Examples
        --------
        >>> from needsid.indicators import Thresholds
        >>> Thresholds(red=60, orange=40, yellow=20).level_of(60)
        'red'
        """
        for level in ("red", "orange", "yellow"):
            if total >= getattr(self, level):
                return level
        return "none"


class Indicator(BaseModel):
    """One warning indicator of a register. Unknown keys are errors.

    Parameters
    ----------
    id : str
        Lower-case identifier, unique in the register.
    name_zh, name_en : str
        Its name in Chinese and in English.
    department : str
        The department whose records it reads: a source of
        :func:`needsid.data.record_vocabulary`.
    definition : FeatureCondition or RuleCondition
        When it fires: ``{feature, op, value}`` or ``{rule}`` in YAML.
    points : int
        Points while it fires, a whole number in -100..100 other than 0. Negative points
        offset others (evidence against need, such as a failed asset test).
    decay_months : int
        Months over which the points fade to 0 after the indicator stops firing, in
        0..24 (0: points only while it fires). See :meth:`IndicatorRegister.score`.
    level : {"none", "yellow", "orange", "red"}
        The warning level it reaches alone: while it fires, the household's level is at
        least this (a trigger's floor). At least the level its points reach alone;
        ``"none"`` for negative points.
    source : str
        Where it comes from, one of :data:`SOURCES`: a monitoring risk category
        (``risk:illness`` ...), a published rule (``rule:dibao`` ...) or a deprivation
        dimension (``mpi:housing`` ...).

    Examples
    --------
    >>> from needsid.indicators import Indicator
    >>> ind = Indicator(id="housing_unsafe", name_zh="住房不安全", name_en="Unsafe housing",
    ...                 department="housing",
    ...                 definition={"feature": "housing_unsafe", "op": ">=", "value": 1},
    ...                 points=15, decay_months=6, level="none", source="mpi:housing")
    >>> ind.definition.describe(), ind.weight(3)
    ('housing_unsafe >= 1', 0.5)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    department: str
    definition: FeatureCondition | RuleCondition
    points: int
    decay_months: int
    level: str
    source: str

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(
                f"Got id={v!r}; expected lower-case letters, digits and underscores, "
                "starting with a letter, e.g. 'housing_unsafe'."
            )
        return v

    @field_validator("department")
    @classmethod
    def _department(cls, v: str) -> str:
        known = tuple(record_vocabulary())
        if v not in known:
            raise ValueError(
                f"Got department={v!r}; expected a source of the record vocabulary "
                f"(needsid.data.record_vocabulary()): {', '.join(known)}.{_suggest(v, known)}"
            )
        return v

    @field_validator("definition", mode="before")
    @classmethod
    def _definition(cls, v: Any) -> FeatureCondition | RuleCondition:
        return parse_definition(v)

    @field_validator("points", mode="before")
    @classmethod
    def _points(cls, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v == 0 or abs(v) > MAX_POINTS:
            raise ValueError(
                f"Got points={v!r}; expected a whole number in -{MAX_POINTS}..{MAX_POINTS} "
                "other than 0, e.g. 10 (negative points offset evidence of need)."
            )
        return v

    @field_validator("decay_months", mode="before")
    @classmethod
    def _decay(cls, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_DECAY_MONTHS:
            raise ValueError(
                f"Got decay_months={v!r}; expected a whole number of months in "
                f"0..{MAX_DECAY_MONTHS}, e.g. 6 (0: points only while the indicator fires)."
            )
        return v

    @field_validator("level")
    @classmethod
    def _level(cls, v: str) -> str:
        return _choice("level", v, LEVELS)

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        if v not in SOURCES:
            raise ValueError(
                f"Got source={v!r}; expected one of {', '.join(SOURCES)}.{_suggest(v, SOURCES)}"
            )
        return v

    def weight(self, months_since: int) -> float:
        """Return the share of the points left ``months_since`` months after it last fired.

        Linear fade: ``1 - k / decay_months`` for ``k < decay_months``, then 0; with
        ``decay_months = 0``, 1 while it fires and 0 after.

        Parameters
        ----------
        months_since : int
            Months since the latest month it fired (0: it fires now).

        Returns
        -------
        float
            In [0, 1].

        Raises
        ------
        ValueError
            If ``months_since`` is negative.

        Examples
        --------
        >>> from needsid.indicators import load
        >>> ind = load().indicator("housing_unsafe")
        >>> ind.decay_months, [ind.weight(k) for k in (0, 3, 6)]
        (6, [1.0, 0.5, 0.0])
        """
        if months_since < 0:
            raise ValueError(f"Got months_since={months_since!r}; expected 0 or more.")
        if months_since >= max(self.decay_months, 1):
            return 0.0
        return 1.0 - months_since / max(self.decay_months, 1)


def _indicator_problems(iid: str, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        error = err.get("ctx", {}).get("error")
        if isinstance(error, _Problems):
            out += [f"indicator {iid!r}, field {f!r}: {m}" for f, m in error.items]
            continue
        msg = _message(err, tuple(Indicator.model_fields), "an indicator")
        out.append(f"indicator {iid!r}, field {_loc(err['loc'])!r}: {msg}")
    return out


def _level_problems(ind: Indicator, thresholds: Thresholds) -> list[str]:
    """Check the indicator's declared level against what its points reach alone."""
    where = f"indicator {ind.id!r}, field 'level'"
    if ind.points < 0 and ind.level != "none":
        return [
            f"{where}: Got level={ind.level!r} with negative points ({ind.points}); an "
            "indicator that offsets need sets no floor: use level: none."
        ]
    alone = thresholds.level_of(ind.points)
    if LEVELS.index(ind.level) < LEVELS.index(alone):
        return [
            f"{where}: Got level={ind.level!r}, but its {ind.points} points alone reach "
            f"{alone!r} (thresholds.{alone} = {getattr(thresholds, alone):g}); set level: "
            f"{alone} or lower the points."
        ]
    return []


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = Field(min_length=1)
    thresholds: Any
    indicators: list[Any] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        if isinstance(v, int | float) and not isinstance(v, bool):
            raise ValueError(
                f"Got version={v!r}, a number; quote it so YAML keeps it as text, "
                f'e.g. version: "{v}".'
            )
        return v


def _threshold_problems(raw: Any) -> tuple[Thresholds | None, list[str]]:
    if not isinstance(raw, Mapping):
        return None, [
            f"field 'thresholds': Got {raw!r}; expected a mapping of red, orange and yellow "
            "to points, e.g. {red: 60, orange: 40, yellow: 20}."
        ]
    try:
        t = Thresholds.model_validate(dict(raw))
    except ValidationError as exc:
        what = "thresholds"
        return None, [
            f"field {'thresholds.' + _loc(e['loc'])!r}: "
            f"{_message(e, tuple(Thresholds.model_fields), what)}"
            for e in exc.errors(include_url=False)
        ]
    if not t.red > t.orange > t.yellow:
        return None, [
            f"field 'thresholds': Got red={t.red:g}, orange={t.orange:g}, "
            f"yellow={t.yellow:g}; expected red > orange > yellow, e.g. red: 60, orange: 40, "
            "yellow: 20."
        ]
    return t, []


def check(raw: Any) -> list[str]:
    """Return every problem of a raw register (a parsed YAML mapping); empty if valid."""
    if not isinstance(raw, dict):
        return [
            "expected a mapping with id, version, description, thresholds and indicators; "
            f"got {type(raw).__name__}."
        ]
    problems = []
    try:
        _Header.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if err["loc"][:1] == ("indicators",) and err["type"] != "missing":
                if not isinstance(raw.get("indicators"), list):
                    problems.append("field 'indicators': expected a list of indicators.")
                    continue
            msg = _message(err, tuple(_Header.model_fields), "a register")
            problems.append(f"field {_loc(err['loc'])!r}: {msg}")
    thresholds = None
    if "thresholds" in raw:
        thresholds, found = _threshold_problems(raw["thresholds"])
        problems += found
    listed = raw.get("indicators")
    seen: dict[str, int] = {}
    for i, item in enumerate(listed if isinstance(listed, list) else [], start=1):
        iid = item.get("id") if isinstance(item, dict) else None
        iid = iid if isinstance(iid, str) else f"#{i}"
        if not isinstance(item, dict):
            problems.append(f"indicator {iid!r}: expected a mapping of fields, got {item!r}.")
            continue
        try:
            ind = Indicator.model_validate(item)
        except ValidationError as exc:
            problems += _indicator_problems(iid, exc)
        else:
            if thresholds is not None:
                problems += _level_problems(ind, thresholds)
        if iid in seen:
            problems.append(
                f"indicator {iid!r}, field 'id': duplicate id (indicators #{seen[iid]} and "
                f"#{i}); give each indicator its own id."
            )
        seen.setdefault(iid, i)
    return problems
