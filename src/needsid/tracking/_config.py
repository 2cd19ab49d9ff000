"""The training configuration: a YAML file validated by pydantic (unknown keys are errors).

It shares the loader, the model entry and :class:`ConfigError` with the other commands'
configs (``needsid._cli_configs``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._cli_configs import Capacity, ConfigError, ModelEntry, load_config

__all__ = ["ConfigError", "TrainConfig", "TrainModel", "load_train_config"]


class TrainModel(ModelEntry):
    """The registered model: its kind and the estimator's keyword arguments.

    Only kinds with a pickle-free saved form can be registered: LightGBM (its own text
    format) and the points scorecard (JSON). A LightGBM model's calibration defaults to
    ``"sigmoid"`` here: the flagging model ranks households against a capacity, and a
    strictly increasing map keeps the booster's ranking, where isotonic calibration's
    plateaus tie many households at the top (ties would then be broken by row order).
    """

    kind: Literal["gbm", "scorecard"] = "gbm"

    @model_validator(mode="before")
    @classmethod
    def _ranking_calibration(cls, data):
        if isinstance(data, dict) and data.get("kind", "gbm") == "gbm":
            params = dict(data.get("params") or {})
            params.setdefault("calibration", "sigmoid")
            data = {**data, "params": params}
        return data


class TrainConfig(BaseModel):
    """What ``needsid train`` does; every field has a default.

    The test date is ``as_of - horizon`` (its labels end by ``as_of``); the training
    dates step back from it by ``step_months``, the first one ``horizon`` months earlier
    so no training label overlaps the test features.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: TrainModel = Field(default_factory=TrainModel)
    horizon_months: int = Field(6, ge=1, le=24)
    train_origins: int = Field(2, ge=1, le=12)
    step_months: int = Field(6, ge=1, le=24)
    test_size: float = Field(0.3, gt=0, lt=1)
    seed: int = 0
    capacity: Capacity = 0.05
    # where the labels come from (needsid.labels.make's source; None = its bundle default)
    labels: Literal["records", "verified", "pu", "ipw"] | None = None
    label_line: Literal["dibao", "low_income"] = "dibao"
    features: str | None = None
    rules: str | None = "default"
    bands: dict[str, float] = Field(
        default_factory=lambda: {"low": 0.0, "medium": 0.2, "high": 0.5}
    )
    invisibility_threshold: float = Field(0.8, ge=0, le=1)
    top_reasons: int = Field(3, ge=1, le=20)
    n_boot: int = Field(100, ge=0, le=2000)


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

    Examples
    --------
    >>> load_train_config(capacity=500).capacity  # a count of households
    500
    >>> load_train_config().model.params
    {'calibration': 'sigmoid'}
    >>> try:
    ...     load_train_config(model={"kind": "ebm"})
    ... except ConfigError as err:
    ...     print(str(err).split(": ", 1)[1])
    model.kind: Input should be 'gbm' or 'scorecard' (got 'ebm')
    """
    return load_config(TrainConfig, path, **overrides)
