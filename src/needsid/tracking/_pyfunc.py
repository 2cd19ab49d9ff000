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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from ..flagging import reason_text, risk_band
from ..models import ID_COLUMN
from ..models._json import risk_model_from_json

if TYPE_CHECKING:
    from mlflow.exceptions import MlflowException

    from ..models._base import RiskModel

__all__ = ["FlaggingModel", "OUTPUT_COLUMNS", "model_from_json", "model_to_json"]

OUTPUT_COLUMNS = ("household_id", "score", "risk_band", "flag", "reasons")
#: Environment variable with the most rows one request may hold (set by `needsid serve`).
MAX_ROWS_ENV = "NEEDSID_SERVE_MAX_ROWS"
# requests up to this many rows are scored on one OpenMP thread (see _threads_for)
_ONE_THREAD_ROWS = 10_000


@cache
def _openmp() -> Any:
    # built once (a fresh threadpool_limits scans the loaded libraries: ~2 ms a call);
    # needsid.models has loaded LightGBM's OpenMP by the first predict
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def _threads_for(n_rows: int) -> Iterator[None]:
    """Score a request-sized batch on one OpenMP thread; leave larger ones as they are.

    The server runs requests side by side (threads, then ``--workers`` processes), so a
    request gains nothing from a thread team of its own: on a busy 2-core machine a
    2-thread LightGBM call waits for the other core at each barrier (6-15 ms for one
    household instead of 0.05-0.5 ms; slower up to 1,000 rows, no faster at 5,000).
    Each row is scored alone, so the answers do not depend on the thread count.
    """
    if n_rows > _ONE_THREAD_ROWS:
        yield
        return
    with _openmp().limit(limits=1, user_api="openmp"):
        yield


def _bad_request(message: str, status: int = 400) -> "MlflowException":
    """Return an error the scoring server answers with HTTP ``status`` and this one line."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    class BadRequest(MlflowException):
        # MLflow's scoring server rewrites the message to "Failed to predict data
        # '<the request's rows>'. Error: ...", which would echo household rows into the
        # response and the server's log: the message here cannot be rewritten
        @property
        def message(self) -> str:
            return message

        @message.setter
        def message(self, value: str) -> None:
            pass

        def get_http_status_code(self) -> int:
            return status

    return BadRequest(message, error_code=INVALID_PARAMETER_VALUE)


def _input_frame(
    model_input: pd.DataFrame | Any,
    features: list[str],
    model: str,
    error: Callable[[str], Exception],
) -> pd.DataFrame:
    """Return the request as a frame, or raise ``error`` naming the columns it lacks."""
    df = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
    missing = [c for c in [ID_COLUMN, *features] if c not in df.columns]
    if missing:
        raise error(
            f"The input lacks {len(missing)} columns the {model} needs, e.g. {missing[:5]!r}; "
            "build them with needsid.features.build and the model's feature spec."
        )
    return df


def _float_features(
    df: pd.DataFrame, features: list[str], error: Callable[[str], Exception]
) -> pd.DataFrame:
    """Return the features as float64 in ``features`` order, or raise ``error``."""
    try:
        return df[features].astype(np.float64)
    except (TypeError, ValueError):
        raise error(
            "Some feature values are not numbers; send numbers, or null where unknown."
        ) from None


def model_to_json(model: "RiskModel") -> str:
    """Serialise a fitted risk model without pickle (GBM, scorecard or EBM).

    Parameters
    ----------
    model : GBMRiskModel, PointsScorecard or EBMRiskModel
        A fitted needsid risk model.

    Returns
    -------
    str
        The model's ``to_json()`` document.

    Raises
    ------
    TypeError
        If the model has no JSON form.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from needsid.models import GBMRiskModel
    >>> from needsid.tracking import model_to_json
    >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
    >>> text = model_to_json(GBMRiskModel(n_estimators=10).fit(X, y))
    >>> text.startswith('{"format": "needsid.GBMRiskModel"')
    True
    """
    if not hasattr(model, "to_json"):
        raise TypeError(
            f"{type(model).__name__} has no JSON form; the flagging model packages "
            "GBMRiskModel, PointsScorecard and EBMRiskModel (no pickled code in the registry)."
        )
    text: str = model.to_json()  # hasattr leaves it untyped; needsid models return str
    return text


def model_from_json(text: str) -> "RiskModel":
    """Rebuild a risk model saved by :func:`model_to_json`.

    Parameters
    ----------
    text : str
        The JSON document; its ``format`` names the model class.

    Returns
    -------
    GBMRiskModel, PointsScorecard or EBMRiskModel
        Fitted; predicts exactly as the saved model did.

    Raises
    ------
    ValueError
        If the document's format is not one of needsid's risk models.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from needsid.models import GBMRiskModel
    >>> from needsid.tracking import model_from_json, model_to_json
    >>> X, y = make_classification(n_samples=300, n_features=4, random_state=0)
    >>> model = GBMRiskModel(n_estimators=10).fit(X, y)
    >>> loaded = model_from_json(model_to_json(model))
    >>> type(loaded).__name__, bool((loaded.predict_proba(X) == model.predict_proba(X)).all())
    ('GBMRiskModel', True)
    """
    return risk_model_from_json(text)


class FlaggingModel(PythonModel):
    """Score households and give their band, flag (score >= threshold) and top reasons.

    The threshold is the score at the training run's capacity on its test households,
    so a single request can be flagged without seeing the rest of the population;
    ``needsid flag`` instead flags the top of the whole population at a capacity.
    :func:`train` logs and registers it; MLflow loads it with its artifacts
    (``risk_model``, the JSON of :func:`model_to_json`, and ``settings``).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> from needsid.tracking import model_to_json
    >>> import pandas as pd
    >>> from sklearn.datasets import make_classification
    >>> from needsid.models import GBMRiskModel
    >>> from needsid.tracking import FlaggingModel
    >>> X, y = make_classification(n_samples=300, n_features=3, n_redundant=0,
    ...                            random_state=0)
    >>> X = pd.DataFrame(X, columns=["income_ratio", "n_elderly", "hh_size"])
    >>> rows = X.head(2).assign(household_id=["H1", "H2"])
    >>> folder = Path(tempfile.mkdtemp())
    >>> risk = model_to_json(GBMRiskModel(n_estimators=20).fit(X, y))
    >>> _ = (folder / "risk_model.json").write_text(risk)
    >>> settings = {"features": list(X.columns), "threshold": 0.5,
    ...             "bands": {"low": 0.0, "high": 0.5}, "top_reasons": 1}
    >>> _ = (folder / "settings.json").write_text(json.dumps(settings))
    >>> model = FlaggingModel()
    >>> model.load_context(SimpleNamespace(artifacts={
    ...     "risk_model": folder / "risk_model.json", "settings": folder / "settings.json"}))
    >>> print(model.predict(None, rows).to_string(index=False))
    household_id    score risk_band  flag                  reasons
              H1 1.000000      high  True income_ratio (+21.5 pts)
              H2 0.928571      high  True income_ratio (+14.1 pts)
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Load the risk model and settings from the model's artifacts.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext
            Its ``artifacts`` map ``risk_model`` and ``settings`` to local files.

        Examples
        --------
        See :class:`FlaggingModel`: MLflow calls this when it loads the model.

        >>> from needsid.tracking import FlaggingModel
        >>> hasattr(FlaggingModel(), "risk_model")  # set by load_context
        False
        """
        self.artifacts: dict[str, str] = dict(context.artifacts)
        art = self.artifacts
        self.risk_model = model_from_json(Path(art["risk_model"]).read_text("utf-8"))
        self.settings: dict[str, Any] = json.loads(Path(art["settings"]).read_text("utf-8"))
        self.features: list[str] = list(self.settings["features"])

    def frame(self, model_input: pd.DataFrame | Any) -> tuple[pd.DataFrame, np.ndarray]:
        """Return the feature frame (float64, in training order) and the ids.

        Parameters
        ----------
        model_input : pandas.DataFrame or dict of columns
            ``household_id`` and the model's features.

        Returns
        -------
        tuple of (pandas.DataFrame, ndarray of str)
            The features as float64 in the training order, and the household ids.

        Raises
        ------
        mlflow.exceptions.MlflowException
            A bad request (answered with HTTP 400, or 413 for too many rows): a
            missing column, no rows, a repeated household, a value that is not a
            finite number or null.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel
        >>> from needsid.tracking import FlaggingModel
        >>> X, y = make_classification(n_samples=300, n_features=3, n_redundant=0,
        ...                            random_state=0)
        >>> X = pd.DataFrame(X, columns=["income_ratio", "n_elderly", "hh_size"])
        >>> rows = X.head(2).assign(household_id=["H1", "H2"])
        >>> model = FlaggingModel()  # what load_context sets, here by hand
        >>> model.risk_model = GBMRiskModel(n_estimators=20).fit(X, y)
        >>> model.features = list(X.columns)
        >>> model.settings = {"threshold": 0.5, "bands": {"low": 0.0, "high": 0.5},
        ...                   "top_reasons": 1}
        >>> features, ids = model.frame(rows)
        >>> features.columns.tolist(), ids.tolist()
        (['income_ratio', 'n_elderly', 'hh_size'], ['H1', 'H2'])
        >>> model.frame(rows.drop(columns="hh_size"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        needsid...BadRequest: The input lacks 1 columns the model needs, e.g. ['hh_size']; ...
        """
        df = _input_frame(model_input, self.features, "model", _bad_request)
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
        X = _float_features(df, self.features, _bad_request)
        # one pass over the block, not a Series per column (143 columns: ~5 ms a request)
        has_inf = np.isinf(X.to_numpy()).any(axis=0)
        infinite = [c for c, bad in zip(self.features, has_inf, strict=True) if bad]
        if infinite:
            raise _bad_request(
                f"Features {infinite[:5]!r} hold inf; send finite numbers, or null where unknown."
            )
        return X, ids.to_numpy()

    def predict(
        self,
        context: PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Return ``household_id, score, risk_band, flag, reasons`` per input row.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext or None
            Unused (the artifacts were read by :meth:`load_context`).
        model_input : pandas.DataFrame
            ``household_id`` and the model's features, as :meth:`frame` checks them.
        params : dict, optional
            ``{"reasons": False}`` skips the reasons (faster); default gives them.

        Returns
        -------
        pandas.DataFrame
            ``OUTPUT_COLUMNS``, one row per input row in its order; ``flag`` is
            ``score >= threshold``.

        Raises
        ------
        mlflow.exceptions.MlflowException
            A bad request, see :meth:`frame`.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import GBMRiskModel
        >>> from needsid.tracking import FlaggingModel
        >>> X, y = make_classification(n_samples=300, n_features=3, n_redundant=0,
        ...                            random_state=0)
        >>> X = pd.DataFrame(X, columns=["income_ratio", "n_elderly", "hh_size"])
        >>> rows = X.head(2).assign(household_id=["H1", "H2"])
        >>> model = FlaggingModel()  # what load_context sets, here by hand
        >>> model.risk_model = GBMRiskModel(n_estimators=20).fit(X, y)
        >>> model.features = list(X.columns)
        >>> model.settings = {"threshold": 0.5, "bands": {"low": 0.0, "high": 0.5},
        ...                   "top_reasons": 1}
        >>> out = model.predict(None, rows, params={"reasons": False})
        >>> out[["household_id", "risk_band", "flag", "reasons"]].values.tolist()
        [['H1', 'high', True, None], ['H2', 'high', True, None]]
        """
        params = params or {}
        X, ids = self.frame(model_input)
        with _threads_for(len(X)):
            score = self.risk_model.predict_proba(X)[:, 1]
            explained = None
            if params.get("reasons", True):
                # one TreeSHAP pass over the whole batch (LightGBM's pred_contrib), keyed
                # by row position, not by id: each row gets its own reasons
                explained = self.risk_model.explain(
                    X.reset_index(drop=True), top=int(self.settings["top_reasons"])
                )
        reasons = None
        if explained is not None:
            text = reason_text(explained).reindex(np.arange(len(X)).astype(str))
            reasons = text.astype(object).where(text.notna(), None).to_numpy()
        return pd.DataFrame(
            {
                "household_id": ids,
                "score": score,
                "risk_band": risk_band(score, self.settings["bands"]),
                "flag": score >= self.settings["threshold"],
                "reasons": reasons,
            }
        )
