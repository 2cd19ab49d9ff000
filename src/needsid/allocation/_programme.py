"""One programme of a catalogue: the needs it serves, who is eligible, its cost and limits."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..simulation import NEED_DIMENSIONS
from ._expressions import Expression, parse

__all__ = ["Programme"]

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


def _whole(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or v != int(v):
        raise ValueError(f"Got {what}={v!r}; expected a whole number of households, 0 or more.")
    return int(v)


class Programme(BaseModel):
    """One programme or service of a catalogue. Unknown keys are errors.

    Parameters
    ----------
    id : str
        Lower-case identifier, unique in the catalogue.
    name_zh, name_en : str
        Its name in Chinese and in English.
    dimensions : tuple of str
        The need dimensions it serves, from :data:`needsid.simulation.NEED_DIMENSIONS`.
    eligibility : str
        Who may receive it: a test over the household frame's columns, e.g.
        ``"net_income_pc < dibao_standard"`` (see :func:`allocate` for the language). A
        household where the test is null (a column read is null) is not eligible.
    cost : float or str
        Yuan per household-month: a fixed amount (0 or more) or a formula over the
        columns, e.g. ``"max(0, dibao_standard - net_income_pc) * hh_size"``.
    capacity : int or dict of str to int, optional
        Most households it can serve in each region: one number for every region, or
        region_id -> number (regions not listed are not limited). None: no limit.
    excludes : tuple of str, default ()
        Programmes it cannot be combined with, in either direction.
    note : str, default ""
        Where the rule and amount come from.

    Examples
    --------
    >>> from needsid.allocation import Programme
    >>> p = Programme(id="school_meals", name_zh="营养午餐", name_en="School meals",
    ...               dimensions=["education"], eligibility="n_children >= 1",
    ...               cost="100 * n_children")
    >>> sorted(p.columns), p.capacity_in("G01")
    (['n_children'], None)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    dimensions: tuple[str, ...] = Field(min_length=1)
    eligibility: str
    cost: float | str
    capacity: int | dict[str, int] | None = None
    excludes: tuple[str, ...] = ()
    note: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(
                f"Got id={v!r}; expected lower-case letters, digits and underscores, "
                "starting with a letter, e.g. 'dibao_topup'."
            )
        return v

    @field_validator("dimensions", mode="before")
    @classmethod
    def _dimensions(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list | tuple):
            return v
        bad = [d for d in v if d not in NEED_DIMENSIONS]
        if bad:
            raise ValueError(
                f"Got unknown dimension(s) {bad!r}; expected need dimensions from "
                f"needsid.simulation.NEED_DIMENSIONS: {', '.join(NEED_DIMENSIONS)}."
            )
        if len(set(v)) != len(v):
            raise ValueError(f"Got dimensions={list(v)!r}; list each dimension once.")
        return tuple(v)

    @field_validator("eligibility", mode="before")
    @classmethod
    def _eligibility(cls, v: Any) -> Any:
        if v is True:
            return "True"  # `eligibility: true` in YAML: everyone
        if isinstance(v, str):
            parse(v, "bool")
        return v

    @field_validator("cost", mode="before")
    @classmethod
    def _cost(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"Got cost={v!r}; expected yuan per household-month or a formula.")
        if isinstance(v, int | float):
            if not math.isfinite(v) or v < 0:
                raise ValueError(
                    f"Got cost={v!r}; expected a finite amount of yuan per household-month, "
                    "0 or more, e.g. 300."
                )
            return float(v)
        if not isinstance(v, str):
            raise ValueError(
                f"Got cost={v!r}; expected yuan per household-month (e.g. 300) or a formula "
                "over the household columns (e.g. '100 * n_children')."
            )
        parse(v, "number")
        return v

    @field_validator("capacity", mode="before")
    @classmethod
    def _capacity(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k): _whole(n, f"capacity[{k!r}]") for k, n in v.items()}
        return v if v is None else _whole(v, "capacity")

    @field_validator("excludes", mode="before")
    @classmethod
    def _excludes(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @property
    def columns(self) -> frozenset[str]:
        """The household-frame columns its eligibility test and cost formula read."""
        return self._eligibility_expression.columns | (
            self._cost_expression.columns if self._cost_expression is not None else frozenset()
        )

    @property
    def _eligibility_expression(self) -> Expression:
        """The parsed eligibility test."""
        return parse(self.eligibility, "bool")

    @property
    def _cost_expression(self) -> Expression | None:
        """The parsed cost formula; None for a fixed cost."""
        return parse(self.cost, "number") if isinstance(self.cost, str) else None

    def capacity_in(self, region: str) -> int | None:
        """Return the most households it can serve in ``region``; None if not limited.

        Parameters
        ----------
        region : str
            A region_id.

        Returns
        -------
        int or None
            The capacity there, None without a limit.

        Examples
        --------
        >>> from needsid.allocation import load_catalogue
        >>> load_catalogue().programme("housing_repair").capacity_in("G01")
        5
        """
        if isinstance(self.capacity, dict):
            return self.capacity.get(region)
        return self.capacity
