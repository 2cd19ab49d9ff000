"""The flagging model MLflow serves: features in; score, risk band, flag and reasons out.

It is logged with MLflow's models-from-code (the tiny ``_flagging_model_code.py`` file
names this class), and its artifacts are data, not pickles: the risk model as JSON
(LightGBM's own text format inside, or the scorecard's card), the feature spec and rule
set as YAML, and the settings as JSON. Loading it needs ``pip install needsid`` and
nothing from the training run.
"""

# no `from __future__ import annotations`: MLflow reads predict's type hints at runtime
import json
import os
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from ..flagging import reason_text, risk_band
from ..models import ID_COLUMN, EBMRiskModel, GBMRiskModel, PointsScorecard

__all__ = ["FlaggingModel", "OUTPUT_COLUMNS", "model_from_json", "model_to_json"]

OUTPUT_COLUMNS = ("household_id", "score", "risk_band", "flag", "reasons")
#: Environment variable with the most rows one request may hold (set by `needsid serve`).
MAX_ROWS_ENV = "NEEDSID_SERVE_MAX_ROWS"


def _bad_request(message: str, status: int = 400):
    """Return an error the scoring server answers with HTTP ``status`` and this one line."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    class BadRequest(MlflowException):
        # MLflow's scoring server rewrites the message to "Failed to predict data
        # '<the request's rows>'. Error: ...", which would echo household rows into the
        # response and the server's log: the message here cannot be rewritten
        @property
        def message(self):
            return message

        @message.setter
        def message(self, value):
            pass

        def get_http_status_code(self):
            return status

    return BadRequest(message, error_code=INVALID_PARAMETER_VALUE)


_LOADERS = {
    "needsid.GBMRiskModel": GBMRiskModel,
    "needsid.PointsScorecard": PointsScorecard,
    "needsid.EBMRiskModel": EBMRiskModel,
}


def model_to_json(model) -> str:
    """Serialise a fitted risk model without pickle (GBM, scorecard or EBM)."""
    if not hasattr(model, "to_json"):
        raise TypeError(
            f"{type(model).__name__} has no JSON form; the flagging model packages "
            "GBMRiskModel, PointsScorecard and EBMRiskModel (no pickled code in the registry)."
        )
    return model.to_json()


def model_from_json(text: str):
    """Rebuild a risk model saved by :func:`model_to_json`."""
    fmt = json.loads(text).get("format")
    if fmt not in _LOADERS:
        raise ValueError(f"Unknown risk model format {fmt!r}; expected one of {list(_LOADERS)}.")
    return _LOADERS[fmt].from_json(text)


class FlaggingModel(mlflow.pyfunc.PythonModel):
    """Score households and give their band, flag (score >= threshold) and top reasons.

    The threshold is the score at the training run's capacity on its test households,
    so a single request can be flagged without seeing the rest of the population;
    ``needsid flag`` instead flags the top of the whole population at a capacity.
    """

    def load_context(self, context):
        """Load the risk model and settings from the model's artifacts."""
        art = self.artifacts = dict(context.artifacts)
        self.risk_model = model_from_json(Path(art["risk_model"]).read_text("utf-8"))
        self.settings = json.loads(Path(art["settings"]).read_text("utf-8"))
        self.features = list(self.settings["features"])

    def frame(self, model_input) -> tuple[pd.DataFrame, np.ndarray]:
        """Return the feature frame (float64, in training order) and the ids."""
        df = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [c for c in [ID_COLUMN, *self.features] if c not in df.columns]
        if missing:
            raise _bad_request(
                f"The input lacks {len(missing)} columns the model needs, e.g. {missing[:5]!r}; "
                "build them with needsid.features.build and the model's feature spec."
            )
        if len(df) == 0:
            raise _bad_request("The request holds no households; send at least one row.")
        limit = os.environ.get(MAX_ROWS_ENV)
        if limit and len(df) > int(limit):
            raise _bad_request(
                f"The request holds {len(df):,} rows, more than the {int(limit):,} this server "
                "takes at once; send smaller batches.",
                status=413,  # Payload Too Large
            )
        ids = df[ID_COLUMN].astype(str)
        repeated = int(ids.duplicated().sum())
        if repeated:
            raise _bad_request(
                f"{repeated} rows repeat a household_id already in the request; send each "
                "household once."
            )
        try:
            X = df[self.features].astype(np.float64)
        except (TypeError, ValueError):
            raise _bad_request(
                "Some feature values are not numbers; send numbers, or null where unknown."
            ) from None
        infinite = [c for c in self.features if np.isinf(X[c].to_numpy()).any()]
        if infinite:
            raise _bad_request(
                f"Features {infinite[:5]!r} hold inf; send finite numbers, or null where unknown."
            )
        return X, ids.to_numpy()

    def predict(self, context, model_input: pd.DataFrame, params=None):
        """Return ``household_id, score, risk_band, flag, reasons`` per input row."""
        params = params or {}
        X, ids = self.frame(model_input)
        score = self.risk_model.predict_proba(X)[:, 1]
        out = pd.DataFrame(
            {
                "household_id": ids,
                "score": score,
                "risk_band": risk_band(score, self.settings["bands"]),
                "flag": score >= self.settings["threshold"],
            }
        )
        out["reasons"] = None
        if params.get("reasons", True) and len(X):
            # keyed by row position, not by id: each row gets its own reasons
            explained = self.risk_model.explain(
                X.reset_index(drop=True), top=int(self.settings["top_reasons"])
            )
            text = reason_text(explained)
            out["reasons"] = [text.get(str(i)) for i in range(len(X))]
        return out
