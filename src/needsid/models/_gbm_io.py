"""Save and load a fitted GBMRiskModel as JSON: LightGBM's own text format, no pickle."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Self

import numpy as np
import numpy.typing as npt
from lightgbm import Booster
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ._json import header, read_document, restore_header

if TYPE_CHECKING:  # the mixin's methods use the estimator they are mixed into
    from ._base import RiskModel as _Estimator
else:
    _Estimator = object

__all__ = ["GBMJSONMixin"]

FORMAT = "needsid.GBMRiskModel"
VERSION = 1


class _BoosterHolder:
    """Stands in for the fitted LGBMClassifier: the model only reads ``booster_``."""

    def __init__(self, booster: Booster) -> None:
        self.booster_ = booster


def _floats(a: npt.ArrayLike) -> list[float]:
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


class GBMJSONMixin(_Estimator):
    """``to_json`` / ``from_json`` for :class:`GBMRiskModel`."""

    def to_json(self, indent: int | None = None) -> str:
        """Return the fitted model as a JSON document (see :meth:`from_json`).

        The booster is stored in LightGBM's own text format, the calibration map as its
        numbers and every constructor parameter (LightGBM's included) under ``params``,
        so loading runs no pickled code and predicts exactly what this model does.

        Parameters
        ----------
        indent : int or None, default=None
            Indentation of the JSON text; None writes it on one line.

        Returns
        -------
        str
            The JSON document, with ``"format": "needsid.GBMRiskModel"``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel
        >>> X, y = make_classification(n_samples=200, n_features=4, random_state=0)
        >>> model = GBMRiskModel(n_estimators=10, subsample=0.5, n_jobs=1).fit(X, y)
        >>> loaded = GBMRiskModel.from_json(model.to_json())
        >>> loaded.subsample, bool((loaded.predict_proba(X) == model.predict_proba(X)).all())
        (0.5, True)
        """
        check_is_fitted(self)
        params = self.get_params(deep=False)
        if not isinstance(params["random_state"], int | None):
            params["random_state"] = None
        if params["monotone_constraints"] is not None:
            params["monotone_constraints"] = dict(params["monotone_constraints"])
        cal = self.calibrator_
        if cal is None:
            calibration = None
        elif isinstance(cal, IsotonicRegression):
            calibration = {
                "kind": "isotonic",
                "x": _floats(cal.X_thresholds_),
                "y": _floats(cal.y_thresholds_),
                "x_min": float(cal.X_min_),
                "x_max": float(cal.X_max_),
                "increasing": bool(cal.increasing_),
            }
        else:
            calibration = {
                "kind": "sigmoid",
                "coef": float(cal.coef_[0, 0]),
                "intercept": float(cal.intercept_[0]),
            }
        doc = {
            **header(self, FORMAT, VERSION, params),
            "feature_importances": _floats(self.feature_importances_),
            "calibration": calibration,
            "booster": self.estimator_.booster_.model_to_string(),
        }
        return json.dumps(doc, indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Rebuild a fitted model from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            The JSON document.

        Returns
        -------
        GBMRiskModel
            Fitted; ``predict_proba`` and ``explain`` work, ``fit`` starts afresh. A
            parameter missing from the document takes its default: documents saved
            before ``subsample``, ``subsample_freq``, ``colsample_bytree``,
            ``reg_lambda`` and ``monotone_constraints_method`` were parameters were
            trained with exactly those defaults.

        Raises
        ------
        ValueError
            If ``text`` is not a version-1 ``needsid.GBMRiskModel`` document.

        Examples
        --------
        >>> from needsid.models import GBMRiskModel
        >>> GBMRiskModel.from_json('{"format": "needsid.GBMRiskModel", "version": 99}')
        Traceback (most recent call last):
        ...
        ValueError: Got a needsid.GBMRiskModel document in format version 99; this needsid reads version 1. Save it again with a matching needsid.
        """  # noqa: E501
        doc = read_document(text, FORMAT, VERSION, "GBMRiskModel.to_json()")
        model = restore_header(cls, doc)
        model.feature_importances_ = np.asarray(doc["feature_importances"])
        model.estimator_ = _BoosterHolder(Booster(model_str=doc["booster"]))
        cal = doc["calibration"]
        if cal is None:
            model.calibrator_ = None
        elif cal["kind"] == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)
            x = np.asarray(cal["x"], dtype=np.float64)
            y = np.asarray(cal["y"], dtype=np.float64)
            iso.X_thresholds_, iso.y_thresholds_ = x, y
            iso.X_min_, iso.X_max_ = cal["x_min"], cal["x_max"]
            iso.increasing_ = cal["increasing"]
            iso._build_f(x, y)  # the interpolation sklearn builds in fit
            model.calibrator_ = iso
        else:
            lr = LogisticRegression(C=1e6)
            lr.classes_ = np.array([0, 1])
            lr.coef_ = np.array([[cal["coef"]]])
            lr.intercept_ = np.array([cal["intercept"]])
            lr.n_features_in_ = 1
            model.calibrator_ = lr
        return model
