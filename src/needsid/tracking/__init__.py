"""MLflow tracking: training runs, the model registry, flagging and allocation manifests.

The store is the ``tracking_uri`` passed in, else ``MLFLOW_TRACKING_URI`` (default: a
local ``sqlite:///mlflow.db``, no server); MLflow's process-wide URIs are left alone.
Raw household ids never enter it: flag manifests hold salted pseudonyms
(:func:`pseudonymise`, salt from ``NEEDSID_SALT``).
"""

from ._config import ConfigError, TrainConfig, load_train_config
from ._needs import (
    ALLOCATE_EXPERIMENT,
    NEEDS_MODEL_NAME,
    AllocateResult,
    NeedProfilePyfunc,
    NeedsTrainResult,
    allocate_households,
    train_needs,
)
from ._privacy import SALT_ENV, pseudonymise, salt_from_env
from ._pyfunc import OUTPUT_COLUMNS, FlaggingModel, model_from_json, model_to_json
from ._registry import PromoteResult, promote, resolve_model
from ._runs import (
    DEFAULT_MODEL_NAME,
    DEFAULT_TRACKING_URI,
    FlagResult,
    RescoreResult,
    TrackingError,
    TrainResult,
    flag_households,
    rescore,
    train,
)
from ._serving import LoadTestResult, load_test, request_body

__all__ = [
    "ALLOCATE_EXPERIMENT",
    "AllocateResult",
    "ConfigError",
    "DEFAULT_MODEL_NAME",
    "DEFAULT_TRACKING_URI",
    "FlagResult",
    "FlaggingModel",
    "LoadTestResult",
    "NEEDS_MODEL_NAME",
    "NeedProfilePyfunc",
    "NeedsTrainResult",
    "OUTPUT_COLUMNS",
    "PromoteResult",
    "RescoreResult",
    "SALT_ENV",
    "TrackingError",
    "TrainConfig",
    "TrainResult",
    "allocate_households",
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
    "train_needs",
]
