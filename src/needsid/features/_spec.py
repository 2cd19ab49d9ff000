"""Feature specs: which windows, kinds and families to build, validated from YAML."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .._errors import ConfigError, from_validation
from .._yaml import safe_load
from ..data import record_vocabulary

__all__ = ["FAMILIES", "FeatureSpec", "load_spec"]

FAMILIES = ("composition", "income", "assets", "events", "benefits", "coverage", "casework")
MAX_WINDOW = 120


class _IncomeWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    urban: int = Field(ge=1, le=MAX_WINDOW)
    rural: int = Field(ge=1, le=MAX_WINDOW)


class FeatureSpec(BaseModel):
    """What :func:`needsid.features.build` computes. Unknown keys are errors.

    Build one with :func:`load_spec` (from YAML, a dict or the packaged default).

    Parameters
    ----------
    windows : tuple of int
        Months back from ``as_of`` for event counts and sums, each in 1..120, distinct.
    trend_window : int
        Months of the trend: events in the last ``trend_window`` months minus the ones
        before.
    income_window : dict
        ``{"urban": months, "rural": months}``: the months of income the dibao rules
        look at.
    lookback_months : int
        Months back for assets, coverage and the latest pension, survey or deposit.
    families : tuple of str
        Feature families to build, some of :data:`FAMILIES`.
    events : dict of str to bool
        Record kinds to count, each with whether to sum its amount too.
    benefits : tuple of str
        Payment kinds to report as benefits.
    core_sources : tuple of str
        Sources whose absence marks a household as missing from the records.

    Raises
    ------
    pydantic.ValidationError
        If a key is unknown or a value out of range (:func:`load_spec` raises
        :class:`needsid.ConfigError` instead, naming every problem).

    Examples
    --------
    >>> from needsid.features import load_spec
    >>> spec = load_spec()
    >>> spec.windows, spec.max_window
    ((1, 3, 6, 12), 24)
    >>> spec.model_copy(update={"families": ("income",)}).families
    ('income',)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    windows: tuple[int, ...]
    trend_window: int = Field(ge=1, le=MAX_WINDOW)
    income_window: _IncomeWindow
    lookback_months: int = Field(ge=1, le=MAX_WINDOW)
    families: tuple[str, ...]
    events: dict[str, bool]
    benefits: tuple[str, ...]
    core_sources: tuple[str, ...]

    @field_validator("windows")
    @classmethod
    def _windows(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        bad = [w for w in v if not isinstance(w, int) or not 1 <= w <= MAX_WINDOW]
        if bad or not v:
            raise ValueError(
                f"Got windows={list(v)!r}; expected a non-empty list of whole months in "
                f"1..{MAX_WINDOW}, e.g. [1, 3, 6, 12]."
            )
        if len(set(v)) != len(v):
            raise ValueError(f"Got windows={list(v)!r}; each window must appear once.")
        return tuple(sorted(v))

    @field_validator("families")
    @classmethod
    def _families(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in v if f not in FAMILIES]
        if unknown:
            raise ValueError(f"Unknown feature families {unknown!r}; expected some of {FAMILIES}.")
        return v

    @model_validator(mode="after")
    def _kinds(self) -> FeatureSpec:
        vocab = record_vocabulary()
        kinds = {k for src in vocab.values() for k in src}
        unknown = sorted(set(self.events) - kinds) + sorted(set(self.benefits) - kinds)
        if unknown:
            raise ValueError(
                f"Unknown record kinds {unknown!r} in the feature spec; known kinds are listed "
                "in needsid/data/record_kinds.yaml."
            )
        bad_sources = sorted(set(self.core_sources) - set(vocab))
        if bad_sources:
            raise ValueError(f"Unknown sources {bad_sources!r}; expected some of {sorted(vocab)}.")
        return self

    @property
    def max_window(self) -> int:
        """The longest look-back any feature needs, in months."""
        return max(
            *self.windows,
            2 * self.trend_window,
            self.income_window.urban,
            self.income_window.rural,
            self.lookback_months,
        )


def load_spec(spec: FeatureSpec | str | Path | dict[str, Any] | None = None) -> FeatureSpec:
    """Return a :class:`FeatureSpec` from a spec, a YAML path, a dict or None (default).

    Parameters
    ----------
    spec : FeatureSpec, str, pathlib.Path, dict or None, default None
        A spec passes through; a path is read as YAML; a dict is the whole spec; None
        gives the packaged default (``needsid/features/default.yaml``).

    Returns
    -------
    FeatureSpec
        The validated spec.

    Raises
    ------
    needsid.ConfigError
        If the spec has unknown keys or bad values; every one is listed.
    FileNotFoundError
        If the path is not a file.

    Examples
    --------
    >>> from needsid.features import load_spec
    >>> load_spec().windows
    (1, 3, 6, 12)
    >>> load_spec({"windows": [3]})
    Traceback (most recent call last):
    ...
    needsid.ConfigError: feature spec: missing key 'trend_window'; missing key ...
    """
    if spec is None:
        text = resources.files("needsid.features").joinpath("default.yaml").read_text("utf-8")
        return _parse(yaml.safe_load(text), "the default feature spec")
    if isinstance(spec, FeatureSpec):
        return spec
    if isinstance(spec, dict):
        return _parse(spec, "feature spec")
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"Feature spec {str(path)!r} not found; pass a YAML file path.")
    return _parse(safe_load(path.read_text("utf-8"), repr(str(path))) or {}, str(path))


def _parse(raw: Any, where: str) -> FeatureSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values at the top level.")
    try:
        return FeatureSpec(**raw)
    except ValidationError as exc:
        raise from_validation(exc, where) from None
