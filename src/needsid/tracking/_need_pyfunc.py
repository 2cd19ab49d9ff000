"""The need-profile model MLflow loads: features in; probability of need by dimension out.

Logged with MLflow's models-from-code (``_need_profile_model_code.py`` names this class)
by :func:`needsid.tracking.train_needs`; its artifacts are data, not pickles: the
:class:`~needsid.models.NeedProfileModel` as JSON, the feature spec as YAML and the
settings as JSON.
"""

# no `from __future__ import annotations`: MLflow reads predict's type hints at runtime
import json
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from ..models import ID_COLUMN
from ._pyfunc import _float_features, _input_frame

__all__ = ["NeedProfilePyfunc"]


class NeedProfilePyfunc(PythonModel):
    """Predict ``household_id`` and ``need_<dimension>`` for the dimensions modelled.

    :func:`train_needs` logs and registers it; MLflow loads it with its artifacts
    (``need_model``, the JSON of ``NeedProfileModel.to_json``, ``settings`` and the
    feature spec ``features``). Dimensions the labels did not cover are not in the
    output: :func:`allocate_households` counts them as no estimated need, and says so.

    Examples
    --------
    >>> import json, tempfile, warnings
    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> from sklearn.datasets import make_classification
    >>> from needsid.models import GBMRiskModel, NeedProfileModel
    >>> from needsid.tracking import NeedProfilePyfunc
    >>> X, y = make_classification(n_samples=300, n_features=2, n_redundant=0,
    ...                            random_state=0)
    >>> X = pd.DataFrame(X, columns=["income_ratio", "hh_size"])
    >>> profile = NeedProfileModel(GBMRiskModel(n_estimators=20, n_jobs=1))
    >>> profile = profile.fit(X, pd.DataFrame({"need_income": y}))
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "need_model.json").write_text(profile.to_json())
    >>> _ = (folder / "settings.json").write_text(json.dumps({"features": list(X.columns)}))
    >>> model = NeedProfilePyfunc()
    >>> model.load_context(SimpleNamespace(artifacts={
    ...     "need_model": folder / "need_model.json", "settings": folder / "settings.json"}))
    >>> out = model.predict(None, X.head(2).assign(household_id=["H1", "H2"]))
    >>> out.columns.tolist(), out["household_id"].tolist()
    (['household_id', 'need_income'], ['H1', 'H2'])
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Load the need-profile model and settings from the model's artifacts.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext
            Its ``artifacts`` map ``need_model`` and ``settings`` to local files.

        Examples
        --------
        See :class:`NeedProfilePyfunc`: MLflow calls this when it loads the model.

        >>> from needsid.tracking import NeedProfilePyfunc
        >>> hasattr(NeedProfilePyfunc(), "need_model")  # set by load_context
        False
        """
        from ..models import NeedProfileModel

        self.artifacts: dict[str, str] = {k: str(v) for k, v in context.artifacts.items()}
        text = Path(self.artifacts["need_model"]).read_text("utf-8")
        self.need_model = NeedProfileModel.from_json(text)
        self.settings: dict[str, Any] = json.loads(
            Path(self.artifacts["settings"]).read_text("utf-8")
        )
        self.features: list[str] = list(self.settings["features"])

    def predict(
        self,
        context: PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Return ``household_id`` and ``need_<dimension>`` per input row, in its order.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext or None
            Unused (the artifacts were read by :meth:`load_context`).
        model_input : pandas.DataFrame
            ``household_id`` and the model's features (``settings["features"]``).
        params : dict, optional
            Unused.

        Returns
        -------
        pandas.DataFrame
            The probability of need in each modelled dimension.

        Raises
        ------
        ValueError
            If a column the model needs is missing, or a feature is not numeric.

        Examples
        --------
        See :class:`NeedProfilePyfunc`.

        >>> import pandas as pd
        >>> from needsid.tracking import NeedProfilePyfunc
        >>> model = NeedProfilePyfunc()
        >>> model.features = ["income_ratio"]
        >>> model.predict(None, pd.DataFrame({"household_id": ["H1"]}))
        Traceback (most recent call last):
        ...
        ValueError: The input lacks 1 columns the need-profile model needs, e.g. ['income_ratio']; build them with needsid.features.build and the model's feature spec.
        """  # noqa: E501
        df = _input_frame(model_input, self.features, "need-profile model", ValueError)
        X = _float_features(df, self.features, ValueError)
        proba = self.need_model.predict_proba(X)
        out = pd.DataFrame({ID_COLUMN: df[ID_COLUMN].astype(str).to_numpy()})
        for k, dim in enumerate(self.need_model.dimensions_):
            out[f"need_{dim}"] = proba[:, k]
        return out
