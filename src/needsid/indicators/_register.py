"""IndicatorRegister: load a YAML register of warning indicators and score households."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field

from .._yaml import safe_load
from ..data import HouseholdData
from ._score import IndicatorScores, score_months
from ._spec import LEVELS, Indicator, IndicatorRegisterError, Thresholds, check

__all__ = ["DEFAULT_REGISTER", "IndicatorRegister", "load"]

#: The register shipped in the package (``configs/indicators/default.yaml`` is a copy).
DEFAULT_REGISTER = Path(__file__).with_name("default.yaml")


class IndicatorRegister(BaseModel):
    """A versioned register of warning indicators (积分制): points, fade, levels.

    Build one with :func:`load` (a YAML file) or :meth:`from_dict`, which report every
    problem at once with the indicator id and field. The fields are also attributes.

    Parameters
    ----------
    id, version, description : str
        Identify the register.
    thresholds : Thresholds
        Total points from which a household is ``yellow``, ``orange`` and ``red``.
    indicators : tuple of Indicator
        In register (and output) order.

    Examples
    --------
    >>> from needsid.indicators import load
    >>> register = load()
    >>> register.id, len(register.indicators) >= 75, len(register.departments) >= 10
    ('default', True, True)
    >>> register.thresholds.red
    120.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: str
    description: str
    thresholds: Thresholds
    indicators: tuple[Indicator, ...] = Field(min_length=1)

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<dict>") -> IndicatorRegister:
        """Validate a parsed register; raise :class:`IndicatorRegisterError` listing every problem.

        Parameters
        ----------
        raw : dict
            ``id, version, description, thresholds, indicators`` as read from YAML.
        source : str, default="<dict>"
            Named in the error message (e.g. the file path).

        Returns
        -------
        IndicatorRegister
            The validated register.

        Raises
        ------
        IndicatorRegisterError
            Listing every problem, each naming the indicator id and field.

        Examples
        --------
        >>> from needsid.indicators import IndicatorRegister
        >>> ind = {"id": "unsafe", "name_zh": "住房不安全", "name_en": "Unsafe housing",
        ...        "department": "housing",
        ...        "definition": {"feature": "housing_unsafe", "op": ">=", "value": 1},
        ...        "points": 20, "decay_months": 6, "level": "yellow", "source": "mpi:housing"}
        >>> raw = {"id": "mine", "version": "1", "description": "One indicator.",
        ...        "thresholds": {"red": 60, "orange": 40, "yellow": 20}, "indicators": [ind]}
        >>> IndicatorRegister.from_dict(raw).ids
        ['unsafe']
        >>> bad = {**raw, "indicators": [{**ind, "department": "housing_bureau"}]}
        >>> IndicatorRegister.from_dict(bad, source="mine.yaml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        needsid.indicators.IndicatorRegisterError: Invalid indicator register mine.yaml ...
          - indicator 'unsafe', field 'department': Got department='housing_bureau'; ...
        """
        problems = check(raw)
        if problems:
            raise IndicatorRegisterError(source, problems)
        return cls.model_validate(raw)

    @property
    def ids(self) -> list[str]:
        """Indicator ids in order."""
        return [i.id for i in self.indicators]

    @property
    def departments(self) -> list[str]:
        """The departments the indicators read, in order of first appearance."""
        return list(dict.fromkeys(i.department for i in self.indicators))

    def indicator(self, indicator_id: str) -> Indicator:
        """Return the indicator with id ``indicator_id``.

        Parameters
        ----------
        indicator_id : str
            One of :attr:`ids`.

        Returns
        -------
        Indicator
            The indicator of that id.

        Raises
        ------
        KeyError
            If the register has no indicator of that id.

        Examples
        --------
        >>> from needsid.indicators import load
        >>> ind = load().indicator("death_working_age")
        >>> ind.department, ind.definition.describe(), ind.level
        ('public_security', 'rule death_working_age', 'orange')
        """
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(f"No indicator {indicator_id!r} in register {self.id!r}; see .ids.")

    def to_frame(self) -> pl.DataFrame:
        """Return one row per indicator, as the register's reference page shows it.

        Returns
        -------
        polars.DataFrame
            ``id, name_zh, name_en, department, definition`` (as text), ``points,
            decay_months, level, source``, in register order.

        Examples
        --------
        >>> from needsid.indicators import load
        >>> table = load().to_frame()
        >>> table.columns[:4]
        ['id', 'name_zh', 'name_en', 'department']
        >>> table.height == len(load().indicators)
        True
        """
        rows = [
            {
                "id": i.id,
                "name_zh": i.name_zh,
                "name_en": i.name_en,
                "department": i.department,
                "definition": i.definition.describe(),
                "points": i.points,
                "decay_months": i.decay_months,
                "level": i.level,
                "source": i.source,
            }
            for i in self.indicators
        ]
        return pl.DataFrame(rows)

    def _table(self) -> pl.DataFrame:
        """Per indicator what scoring needs: points, fade, floor rank and order."""
        return pl.DataFrame(
            {
                "indicator_id": self.ids,
                "base_points": [float(i.points) for i in self.indicators],
                "decay_months": [i.decay_months for i in self.indicators],
                "floor": [LEVELS.index(i.level) for i in self.indicators],
                "order": list(range(len(self.indicators))),
            },
            schema={
                "indicator_id": pl.String,
                "base_points": pl.Float64,
                "decay_months": pl.Int64,
                "floor": pl.Int64,
                "order": pl.Int64,
            },
        )

    def score(self, bundle: HouseholdData, as_of: str | dt.date) -> IndicatorScores:
        """Return each household's points by indicator, total and warning level at ``as_of``.

        Each indicator that fired at ``as_of`` or in the months before contributes
        ``points * (1 - k / decay_months)``, ``k`` the months since it last fired (linear
        fade to 0 at ``k = decay_months``); the level is the highest of the level the
        total reaches and the ``level`` of every indicator firing at ``as_of`` (积分 +
        触发). The indicators are evaluated at ``as_of`` and at the ``max(decay_months) -
        1`` dates one month apart before it, each on the records known before that date
        (one feature build and one rule evaluation per date): the history is
        reproducible from the records alone.

        Parameters
        ----------
        bundle : HouseholdData
            The records (pandas or polars; converted to polars for the work).
        as_of : date or str
            Only records known before it are read.

        Returns
        -------
        IndicatorScores
            ``points`` (household x indicator) and ``levels`` (one row per household alive
            at ``as_of``), polars DataFrames.

        Raises
        ------
        TypeError
            If ``bundle`` is not a :class:`needsid.data.HouseholdData`.
        ValueError
            If ``as_of`` is not a date.

        Examples
        --------
        >>> import needsid as ni
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> register = ni.indicators.load()
        >>> scores = register.score(pop.bundle, "2023-10-01")
        >>> scores.points.columns
        ['as_of', 'household_id', 'indicator_id', 'months_since', 'points']
        >>> alive = ni.features.build(pop.bundle, "2023-10-01").height
        >>> scores.levels.height == alive
        True
        """
        return score_months(self, bundle, [as_of])

    def score_months(
        self, bundle: HouseholdData, months: Iterable[str | dt.date]
    ) -> IndicatorScores:
        """Score several dates at once, evaluating each date their fades need only once.

        The result equals :meth:`score` at each date; the evaluations at the months
        shared by several dates' fades are done once (scoring 12 consecutive months with
        a 6-month fade takes 17 evaluations, not 72).

        Parameters
        ----------
        bundle : HouseholdData
            The records (pandas or polars).
        months : iterable of date or str
            The dates to score (duplicates are scored once; the result is in date order).

        Returns
        -------
        IndicatorScores
            ``points`` and ``levels`` of every date, told apart by their ``as_of``.

        Raises
        ------
        TypeError
            If ``bundle`` is not a HouseholdData, or ``months`` is one date.
        ValueError
            If ``months`` is empty or holds something that is not a date.

        Examples
        --------
        >>> import needsid as ni
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> register = ni.indicators.load()
        >>> scores = register.score_months(pop.bundle, ["2023-09-01", "2023-10-01"])
        >>> [d.isoformat() for d in scores.months]
        ['2023-09-01', '2023-10-01']
        >>> one = register.score(pop.bundle, "2023-10-01").levels
        >>> scores.levels.filter(scores.levels["as_of"] == one["as_of"][0]).equals(one)
        True
        """
        return score_months(self, bundle, months)


def load(path: str | os.PathLike[str] | None = None) -> IndicatorRegister:
    """Read and validate a YAML indicator register.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A YAML file with top-level ``id``, ``version`` (quoted text), ``description``,
        ``thresholds`` and ``indicators``; see ``configs/indicators/default.yaml``. None
        is the register shipped inside the package (the same file).

    Returns
    -------
    IndicatorRegister
        The validated register.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    IndicatorRegisterError
        Listing every problem, each naming the indicator id and field (unknown feature,
        department or rule id, bad points, fade or level, bad thresholds, duplicate id).

    Examples
    --------
    >>> from needsid.indicators import load
    >>> register = load("configs/indicators/default.yaml")
    >>> register.id, register.version
    ('default', '2026.1')
    >>> load().ids == register.ids
    True
    """
    path = DEFAULT_REGISTER if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Indicator register {str(path)!r} not found; pass a YAML file path."
        )
    source = repr(str(path))
    try:
        raw = safe_load(path.read_text("utf-8"), source)
    except yaml.YAMLError as exc:
        raise IndicatorRegisterError(source, [f"not valid YAML: {exc}"]) from None
    return IndicatorRegister.from_dict(raw, source=source)
