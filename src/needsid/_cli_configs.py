"""Configs of the ``needsid`` commands: YAML files validated by pydantic, unknown keys are errors.

``needsid compare`` reads a :class:`CompareConfig` (``configs/experiments/compare.yaml``),
``needsid audit`` an optional :class:`AuditConfig` (``configs/experiments/audit.yaml``);
``needsid features --spec`` reads a feature spec, reported the same way.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, cast

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ._dates import months_after
from ._errors import ConfigError, from_validation
from ._errors import describe as _describe
from ._yaml import safe_load

if TYPE_CHECKING:
    from .features import FeatureSpec
    from .models._base import RiskModel
    from .simulation import SimulationConfig

#: A command's config class (what :func:`load_config` validates against and returns).
_Config = TypeVar("_Config", bound=BaseModel)

QuotaRoute = Literal["outreach", "review"]
#: the defaults of needsid.flagging.QUOTAS (not imported: configs load without pandas)
_DEFAULT_QUOTAS: dict[QuotaRoute, float] = {"outreach": 0.2, "review": 0.1}

__all__ = [
    "AUDIT_COLUMNS",
    "MODEL_KINDS",
    "AuditConfig",
    "CompareConfig",
    "ConfigError",
    "FlagConfig",
    "ModelEntry",
    "ServeConfig",
    "SimulateConfig",
    "load_config",
    "load_feature_spec",
]

#: Model kinds ``needsid compare`` can fit, and the estimator class of each (by name).
MODEL_KINDS = {"gbm": "GBMRiskModel", "scorecard": "PointsScorecard", "ebm": "EBMRiskModel"}
#: Rows ``needsid compare`` adds itself; a model may not take one of these names.
_BASELINES = ("status quo", "rules only", "oracle")
#: Household attributes an audit can group by (``needsid.rules.household_attributes``).
AUDIT_COLUMNS = ("region_id", "urban", "minority", "head_sex")


def _estimator_class(kind: str) -> type[RiskModel]:
    from . import models

    cls: type[RiskModel] = getattr(models, MODEL_KINDS[kind])
    return cls


class ModelEntry(BaseModel):
    """One model of a comparison: its kind and the estimator's keyword arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["gbm", "scorecard", "ebm"]
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_params(self) -> ModelEntry:
        cls = _estimator_class(self.kind)
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        unknown = [p for p in self.params if p not in allowed]
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown!r} for kind {self.kind!r}; "
                f"{cls.__name__} takes {allowed!r}"
            )
        # the estimator's own declared types, checked now rather than after the data is read
        from .models._sklearn_compat import validate_params

        try:
            validate_params(cls(**self.params))
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)[:300]) from None
        return self

    def estimator(self) -> RiskModel:
        """Return the unfitted estimator."""
        return _estimator_class(self.kind)(**self.params)


def _as_capacity(v: float) -> float | int:
    from .evaluate import as_capacity

    return as_capacity(v)  # a ValueError here becomes the config error naming the key


#: A config's capacity: a share in (0, 1] (float) or, above 1, a whole count (made an int).
Capacity = Annotated[float, Field(gt=0), AfterValidator(_as_capacity)]


class CompareConfig(BaseModel):
    """What ``needsid compare`` does; see ``configs/experiments/compare.yaml``.

    Every training label window ``[date, date + horizon_months)`` must end by
    ``test_as_of`` so that nothing leaks into the test households' features.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    train_as_of: list[dt.date] = Field(min_length=1)
    test_as_of: dt.date
    horizon_months: int = Field(6, ge=1, le=24)
    test_size: float = Field(0.3, gt=0, lt=1)
    seed: int = 0
    capacity: Capacity = 0.05
    models: dict[str, ModelEntry] = Field(min_length=1)
    n_boot: int = Field(200, ge=0, le=2000)
    features: str | None = None
    rules: str | None = "default"
    out: Path
    report: Path | None = None

    @field_validator("models")
    @classmethod
    def _names(cls, v: dict[str, ModelEntry]) -> dict[str, ModelEntry]:
        taken = [n for n in v if n in _BASELINES]
        if taken:
            raise ValueError(
                f"model name(s) {taken!r} are the baselines' rows {list(_BASELINES)!r}; "
                "choose other names"
            )
        return v

    @model_validator(mode="after")
    def _no_leak(self) -> CompareConfig:
        late = [
            d.isoformat()
            for d in self.train_as_of
            if months_after(d, self.horizon_months) > self.test_as_of
        ]
        if late:
            raise ValueError(
                f"train_as_of {late} have label windows of horizon_months="
                f"{self.horizon_months} that reach past test_as_of="
                f"{self.test_as_of.isoformat()}; use earlier training dates or a shorter horizon"
            )
        return self


class AuditConfig(BaseModel):
    """What ``needsid audit`` does; every field has a default (the config file is optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: list[str] = Field(default_factory=lambda: ["urban", "minority"], min_length=1)
    band: tuple[float, float] = (0.8, 1.25)
    min_group_size: int = Field(30, ge=1)
    n_boot: int = Field(200, ge=0, le=2000)
    seed: int = 0

    @field_validator("by")
    @classmethod
    def _columns(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if c not in AUDIT_COLUMNS]
        if bad:
            raise ValueError(
                f"{bad!r} not household attribute(s); expected some of {list(AUDIT_COLUMNS)!r}"
            )
        if len(set(v)) != len(v):
            raise ValueError(f"{v!r} names a column twice")
        return v

    @field_validator("band")
    @classmethod
    def _band(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] < 1 < v[1]:
            raise ValueError(f"{list(v)!r}: expected [low, high] with 0 < low < 1 < high")
        return v


class FlagConfig(BaseModel):
    """What ``needsid flag`` does; see ``configs/flag/default.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field("models:/needsid-risk@champion", min_length=1)
    capacity: Capacity = 0.05
    by: str | None = None
    # the most outreach and review may take, as a share of the capacity
    quotas: dict[QuotaRoute, float] = Field(default_factory=lambda: dict(_DEFAULT_QUOTAS))

    @field_validator("quotas")
    @classmethod
    def _shares(cls, v: dict[QuotaRoute, float]) -> dict[QuotaRoute, float]:
        from .flagging._capacity import check_quotas

        # the check flag() makes, here before any work (route names are str: a Mapping's
        # key type is invariant, so dict[QuotaRoute, float] is not a Mapping[str, float])
        check_quotas(cast("dict[str, float]", v))
        return v


class ServeConfig(BaseModel):
    """What ``needsid serve`` starts; see ``configs/serve/default.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field("models:/needsid-risk@champion", min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(5001, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    # the most households one request may hold (a larger one is answered with a 413)
    max_rows: int = Field(10_000, ge=1, le=1_000_000)


def _merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class SimulateConfig(BaseModel):
    """What ``needsid simulate`` draws; see ``configs/simulate/default.yaml``.

    ``parameters`` overrides any of the calibrated generative parameters
    (:class:`needsid.simulation.SimulationConfig`), nested keys included.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    households: int = Field(50_000, ge=1)
    months: int = Field(36, ge=1, le=240)
    seed: int = 0
    parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, v: dict[str, Any]) -> dict[str, Any]:
        from .simulation import SimulationConfig, default_config

        merged = _merge(default_config().model_dump(), v)
        try:
            SimulationConfig(**merged)
        except ValidationError as exc:
            raise ValueError("; ".join(_describe(e) for e in exc.errors())) from None
        return v

    def simulation_config(self) -> SimulationConfig:
        """Return the calibrated defaults with ``parameters`` applied."""
        from .simulation import SimulationConfig, default_config

        return SimulationConfig(**_merge(default_config().model_dump(), self.parameters))


def _read_yaml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} {str(p)!r} not found.")
    try:
        raw = safe_load(p.read_text("utf-8"), str(p)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping of keys to values at the top level.")
    return raw


def _validate(cls: type[_Config], raw: Mapping[str, Any], where: str) -> _Config:
    try:
        return cls(**raw)
    except ValidationError as exc:
        raise from_validation(exc, where) from None


def load_config(
    cls: type[_Config], path: str | os.PathLike[str] | None = None, **overrides: Any
) -> _Config:
    """Read a YAML config (or the defaults), apply overrides, validate.

    Parameters
    ----------
    cls : CompareConfig or AuditConfig
        The model to validate against.
    path : str or Path, optional
        The YAML file; None uses the model's defaults.
    **overrides
        Top-level keys to replace (None values are ignored), e.g. command-line options.

    Raises
    ------
    ConfigError
        Naming the file and every unknown key or bad value.

    Examples
    --------
    >>> load_config(AuditConfig, by=["urban"]).by
    ['urban']
    >>> load_config(AuditConfig, colour="red")
    Traceback (most recent call last):
    ...
    needsid.ConfigError: defaults: unknown key 'colour'
    """
    raw = _read_yaml(path, f"{cls.__name__} file") if path is not None else {}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return _validate(cls, raw, str(path) if path is not None else "defaults")


def load_feature_spec(path: str | os.PathLike[str] | None = None) -> FeatureSpec:
    """Read a feature spec YAML (None: the packaged default), errors as :class:`ConfigError`."""
    from .features import FeatureSpec, load_spec

    if path is None:
        return load_spec(None)
    return _validate(FeatureSpec, _read_yaml(path, "Feature spec"), str(path))
