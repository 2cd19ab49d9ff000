"""The training configuration: a YAML file validated by pydantic (unknown keys are errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["ConfigError", "TrainConfig", "load_train_config"]


class ConfigError(ValueError):
    """A configuration file has unknown keys or bad values (all listed at once)."""


class ModelConfig(BaseModel):
    """Which risk model, and its parameters (passed to the estimator)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["gbm", "scorecard"] = "gbm"
    params: dict[str, Any] = Field(default_factory=dict)


class TrainConfig(BaseModel):
    """What ``needsid train`` does; every field has a default.

    The test date is ``as_of - horizon`` (its labels end by ``as_of``); the training
    dates step back from it by ``step_months``, the first one ``horizon`` months earlier
    so no training label overlaps the test features.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: ModelConfig = Field(default_factory=ModelConfig)
    horizon_months: int = Field(6, ge=1, le=24)
    train_origins: int = Field(2, ge=1, le=12)
    step_months: int = Field(6, ge=1, le=24)
    test_size: float = Field(0.3, gt=0, lt=1)
    seed: int = 0
    capacity: float = Field(0.05, gt=0)
    features: str | None = None
    rules: str | None = "default"
    bands: dict[str, float] = Field(
        default_factory=lambda: {"low": 0.0, "medium": 0.2, "high": 0.5}
    )
    invisibility_threshold: float = Field(0.8, ge=0, le=1)
    top_reasons: int = Field(3, ge=1, le=20)
    n_boot: int = Field(100, ge=0, le=2000)

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, v: float) -> float:
        if v > 1 and v != int(v):
            raise ValueError(
                f"capacity={v!r}: a share in (0, 1] (e.g. 0.05) or a whole number of households"
            )
        return v


def _describe(err: dict) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    return f"{where}: {err['msg']}"


def load_train_config(path=None, **overrides) -> TrainConfig:
    """Read a training config YAML (or defaults), apply overrides, validate.

    Parameters
    ----------
    path : str or Path, optional
        YAML file; see ``configs/train/default.yaml``.
    **overrides
        Top-level fields to replace (None values are ignored).

    Raises
    ------
    ConfigError
        Naming the file and every unknown key or bad value.
    """
    raw: dict = {}
    where = "defaults"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"Training config {str(p)!r} not found.")
        raw = yaml.safe_load(p.read_text("utf-8")) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{p}: expected a mapping of keys to values at the top level.")
        where = str(p)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig(**raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{where}: {problems}") from None
