"""MLflow tracking: training runs, the model registry, the flagging model, flag manifests.

The store comes from ``MLFLOW_TRACKING_URI`` (default: a local ``sqlite:///mlflow.db``,
no server). Raw household ids never enter it: flag manifests hold salted pseudonyms
(:func:`pseudonymise`, salt from ``NEEDSID_SALT``).
"""

from ._config import ConfigError, TrainConfig, load_train_config
from ._privacy import SALT_ENV, pseudonymise, salt_from_env
from ._pyfunc import OUTPUT_COLUMNS, FlaggingModel, model_from_json, model_to_json
from ._runs import (
    DEFAULT_MODEL_NAME,
    DEFAULT_TRACKING_URI,
    FlagResult,
    RescoreResult,
    TrackingError,
    TrainResult,
    flag_households,
    promote,
    rescore,
    resolve_model,
    train,
)
from ._serving import load_test, request_body

__all__ = [
    "ConfigError",
    "DEFAULT_MODEL_NAME",
    "DEFAULT_TRACKING_URI",
    "FlagResult",
    "FlaggingModel",
    "OUTPUT_COLUMNS",
    "RescoreResult",
    "SALT_ENV",
    "TrackingError",
    "TrainConfig",
    "TrainResult",
    "flag_households",
    "load_test",
    "load_train_config",
    "model_from_json",
    "model_to_json",
    "promote",
    "request_body",
    "pseudonymise",
    "rescore",
    "resolve_model",
    "salt_from_env",
    "train",
]
