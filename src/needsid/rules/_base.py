"""What a template is: its parameter model, the kinds it reads and its implementation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict

from ._frames import Context

__all__ = ["FieldError", "Params", "Template"]


class FieldError(ValueError):
    """A threshold problem that names its field (raised inside parameter validators)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Params(BaseModel):
    """Base of the per-template threshold models: frozen, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Template:
    """A vectorised rule implementation.

    ``run(ctx, params, reads, window_months, as_of)`` returns one row per hit with
    ``household_id, person_id, evidence_record_ids, evidence`` (see ``_frames.hits_frame``).
    ``reads(params)`` lists the record kinds (or, for feature templates, the features) the
    rule reads, and the rule's ``reads`` field must list exactly these; ``None`` means the
    rule's ``reads`` are themselves the record kinds to look at. ``min_window(params)`` is
    the shortest window (months) in which the template can fire.
    """

    name: str
    params: type[Params]
    # each template takes its own Params subclass: ``Any`` stands for "this template's"
    reads: Callable[[Any], tuple[str, ...] | None]
    run: Callable[[Context, Any, tuple[str, ...], int, dt.date], pl.DataFrame]
    summary: str
    reads_features: bool = False
    min_window: Callable[[Any], int] = lambda p: 1
