"""The parts every saved model's JSON shares: format header, version, fitted shape."""

from __future__ import annotations

import importlib
import json
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

if TYPE_CHECKING:
    from ._base import RiskModel

__all__ = ["header", "read_document", "restore_header", "risk_model_from_json"]

#: needsid's risk models by the ``format`` of their JSON document: (module, class). The
#: modules load on use, so a document of one kind does not import the others' libraries.
_RISK_MODELS = {
    "needsid.GBMRiskModel": ("._gbm", "GBMRiskModel"),
    "needsid.PointsScorecard": ("._scorecard", "PointsScorecard"),
    "needsid.EBMRiskModel": ("._ebm", "EBMRiskModel"),
}


#: The model class a document is restored into.
M = TypeVar("M", bound="RiskModel")


def header(model: RiskModel, fmt: str, version: int, params: dict[str, Any]) -> dict[str, Any]:
    """Format, version, parameters and the fitted shape of ``model``, as JSON values."""
    names = getattr(model, "feature_names_in_", None)
    return {
        "format": fmt,
        "version": version,
        "params": params,
        "classes": model.classes_.tolist(),
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": None if names is None else [str(n) for n in names],
    }


def read_document(text: str, fmt: str, version: int, writer: str) -> dict[str, Any]:
    """Parse ``text`` and check it is a ``fmt`` document of ``version``.

    Examples
    --------
    >>> read_document('{"format": "x"}', "needsid.M", 1, "M.to_json()")
    Traceback (most recent call last):
    ...
    ValueError: Got a JSON document without format='needsid.M'; expected the output of M.to_json().
    """
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise ValueError(
            f"Got a JSON document without format={fmt!r}; expected the output of {writer}."
        )
    if doc.get("version") != version:
        raise ValueError(
            f"Got a {fmt} document in format version {doc.get('version')!r}; this needsid "
            f"reads version {version}. Save it again with a matching needsid."
        )
    return doc


def restore_header(cls: type[M], doc: dict[str, Any]) -> M:
    """Return a ``cls`` with the saved parameters and fitted shape; the caller adds the rest."""
    model = cls(**doc["params"])
    model.classes_ = np.asarray(doc["classes"])
    model.n_features_in_ = doc["n_features_in"]
    if doc["feature_names_in"] is not None:
        model.feature_names_in_ = np.asarray(doc["feature_names_in"], dtype=object)
    return model


def risk_model_from_json(text: str, where: str = "") -> RiskModel:
    """Rebuild the needsid risk model a JSON document's ``format`` names.

    ``where`` (e.g. ``" for dimension 'income'"``) says in the error which document it is.

    Examples
    --------
    >>> risk_model_from_json('{"format": "needsid.Other"}', " for dimension 'care'")
    Traceback (most recent call last):
    ...
    ValueError: Unknown risk model format 'needsid.Other' for dimension 'care'; expected one of ['needsid.GBMRiskModel', 'needsid.PointsScorecard', 'needsid.EBMRiskModel'].
    """  # noqa: E501
    fmt = json.loads(text).get("format")
    if fmt not in _RISK_MODELS:
        raise ValueError(
            f"Unknown risk model format {fmt!r}{where}; expected one of {list(_RISK_MODELS)}."
        )
    module, name = _RISK_MODELS[fmt]
    cls = getattr(importlib.import_module(module, __package__), name)
    return cast("RiskModel", cls.from_json(text))
