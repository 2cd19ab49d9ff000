"""The training configuration: a YAML file validated by pydantic (unknown keys are errors).

It shares the loader, the model entry and :class:`ConfigError` with the other commands'
configs (``needsid._cli_configs``).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._cli_configs import Capacity, ConfigError, ModelEntry, load_config

__all__ = ["ConfigError", "TrainConfig", "TrainModel", "load_train_config"]


class TrainModel(ModelEntry):
    """The registered model: its kind and the estimator's keyword arguments.

    Only kinds with a pickle-free saved form can be registered: LightGBM (its own text
    format) and the points scorecard (JSON). A LightGBM model's calibration defaults to
    :data:`needsid.models.RANKING_CALIBRATION` (``"centered_isotonic"``) here. The
    flagging model ranks households against a capacity: isotonic calibration's steps tie
    thousands of households at one probability (the capacity would then cut a step in
    row order), and a sigmoid keeps the ranking but, with two parameters, misjudges the
    top few percent, where the estimated precision of :func:`needsid.monitoring.run` is
    read. The centered map is as flexible as isotonic and strictly increasing between
    its first and last step.
    """

    kind: Literal["gbm", "scorecard"] = "gbm"

    @model_validator(mode="before")
    @classmethod
    def _ranking_calibration(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kind", "gbm") == "gbm":
            from ..models import RANKING_CALIBRATION  # LightGBM loads only for a gbm entry

            params = dict(data.get("params") or {})
            params.setdefault("calibration", RANKING_CALIBRATION)
            data = {**data, "params": params}
        return data


class TrainConfig(BaseModel):
    """What ``needsid train`` does; every field has a default.

    The test date is ``as_of - horizon`` (its labels end by ``as_of``); the training
    dates step back from it by ``step_months``, the first one ``horizon`` months earlier
    so no training label overlaps the test features. The fields are also attributes;
    unknown fields are errors.

    Parameters
    ----------
    model : TrainModel, default=gbm with centered isotonic calibration
        ``kind`` (``"gbm"`` or ``"scorecard"``) and ``params``, the estimator's keyword
        arguments.
    horizon_months : int, default=6
        Label window after each date, 1 to 24 months.
    train_origins : int, default=2
        Training dates, 1 to 12.
    step_months : int, default=6
        Months between training dates.
    test_size : float, default=0.3
        Share of households held out for the test.
    seed : int, default=0
        Seeds the split, the model and the bootstrap.
    capacity : float or int, default=0.05
        A share of households or a count, for the comparison and the flag threshold.
    labels : {"records", "verified", "pu", "ipw"} or None, default=None
        Label source (:func:`needsid.labels.make`); None is its bundle default.
    label_line : {"dibao", "low_income"}, default="dibao"
        The income line the labels measure need against.
    features : str or None, default=None
        A feature spec YAML; None is the packaged spec.
    rules : str or None, default="default"
        A rule set YAML, ``"default"`` for the packaged one, None for no rules.
    bands : dict of str to float, default={"low": 0.0, "medium": 0.2, "high": 0.5}
        Risk bands (:func:`needsid.flagging.risk_band`).
    invisibility_threshold : float, default=0.8
        An invisibility score from which a household is routed to outreach.
    top_reasons : int, default=3
        Reasons the flagging model gives per household, 1 to 20.
    n_boot : int, default=100
        Bootstrap resamples for the comparison's intervals, 0 to 2000.

    Raises
    ------
    pydantic.ValidationError
        If a field is unknown or out of range (:func:`load_train_config` raises a
        :class:`ConfigError` naming the file instead).

    Examples
    --------
    >>> from needsid.tracking import TrainConfig
    >>> cfg = TrainConfig(capacity=500, n_boot=0)
    >>> cfg.capacity, cfg.model.kind, cfg.horizon_months
    (500, 'gbm', 6)
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


def load_train_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> TrainConfig:
    """Read a training config YAML (or defaults), apply overrides, validate.

    Parameters
    ----------
    path : str or Path, optional
        YAML file; see ``configs/train/default.yaml``.
    **overrides
        Top-level fields to replace (None values are ignored).

    Returns
    -------
    TrainConfig
        The validated configuration.

    Raises
    ------
    ConfigError
        Naming the file and every unknown key or bad value.

    Examples
    --------
    >>> load_train_config(capacity=500).capacity  # a count of households
    500
    >>> load_train_config().model.params
    {'calibration': 'centered_isotonic'}
    >>> try:
    ...     load_train_config(model={"kind": "ebm"})
    ... except ConfigError as err:
    ...     print(str(err).split(": ", 1)[1])
    model.kind: Input should be 'gbm' or 'scorecard' (got 'ebm')
    """
    return load_config(TrainConfig, path, **overrides)
