"""Save and load a fitted PointsScorecard as JSON: readable, diffable, no pickle."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Self

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._json import header, read_document, restore_header

if TYPE_CHECKING:  # the mixin's methods use the estimator they are mixed into
    from ._base import RiskModel as _Estimator
else:
    _Estimator = object

__all__ = ["FORMAT", "ScorecardJSONMixin"]

FORMAT = "needsid.PointsScorecard"
VERSION = 1


class ScorecardJSONMixin(_Estimator):
    """``to_json`` / ``from_json`` for :class:`PointsScorecard`."""

    def to_json(self, indent: int | None = 2) -> str:
        """Return the fitted scorecard as a JSON document (see :meth:`from_json`).

        Floats are written with Python's shortest round-trip repr, so a loaded card
        predicts exactly what this one does.

        Parameters
        ----------
        indent : int or None, default=2
            Indentation of the JSON text; None writes it on one line.

        Returns
        -------
        str
            The JSON document, with ``"format": "needsid.PointsScorecard"``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        >>> import json
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import PointsScorecard
        >>> X, y = make_classification(n_samples=300, n_features=4, n_redundant=0,
        ...                            random_state=0)
        >>> doc = json.loads(PointsScorecard(max_features=2).fit(X, y).to_json())
        >>> doc["format"], [f["name"] for f in doc["features"]]
        ('needsid.PointsScorecard', ['x0', 'x3'])
        """
        check_is_fitted(self)
        params = self.get_params(deep=False)
        if not isinstance(params["random_state"], int | None):
            params["random_state"] = None  # a RandomState instance has no JSON form
        if params["monotone"] is not None:
            params["monotone"] = dict(params["monotone"])
        names = self._feature_names()
        table = self.risk_table_.astype(object).where(self.risk_table_.notna(), None)
        doc = {
            **header(self, FORMAT, VERSION, params),
            "information_values": {k: float(v) for k, v in self.information_values_.items()},
            "features": [
                {
                    "name": names[f["column"]],
                    "column": int(f["column"]),
                    "splits": [float(s) for s in f["splits"]],
                    "integer": bool(f["integer"]),
                    "points": [int(p) for p in f["points"]],
                }
                for f in self.features_
            ],
            "card": self.card_.to_dict(orient="records"),
            "mean_points": [float(m) for m in self.mean_points_],
            "risk": {"intercept": self.risk_intercept_, "slope": self.risk_slope_},
            "risk_table": table.to_dict(orient="records"),
        }
        return json.dumps(doc, indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Rebuild a fitted scorecard from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            The JSON document.

        Returns
        -------
        PointsScorecard
            Fitted; predicts exactly as the saved card did.

        Raises
        ------
        ValueError
            If ``text`` is not a PointsScorecard document of this format version.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import PointsScorecard
        >>> X, y = make_classification(n_samples=300, n_features=4, n_redundant=0,
        ...                            random_state=0)
        >>> card = PointsScorecard(max_features=2).fit(X, y)
        >>> loaded = PointsScorecard.from_json(card.to_json())
        >>> bool((loaded.predict_proba(X) == card.predict_proba(X)).all())
        True
        """
        doc = read_document(text, FORMAT, VERSION, "PointsScorecard.to_json()")
        model = restore_header(cls, doc)
        model.information_values_ = pd.Series(doc["information_values"], name="iv")
        model._set_features(
            [
                dict(
                    column=f["column"],
                    splits=np.asarray(f["splits"], dtype=np.float64),
                    integer=f["integer"],
                    points=np.asarray(f["points"], dtype=np.int64),
                )
                for f in doc["features"]
            ]
        )
        model.mean_points_ = np.asarray(doc["mean_points"], dtype=np.float64)
        model.risk_intercept_ = doc["risk"]["intercept"]
        model.risk_slope_ = doc["risk"]["slope"]
        model.risk_table_ = pd.DataFrame(doc["risk_table"]).astype(
            {"observed_risk": np.float64, "predicted_risk": np.float64}
        )
        return model
