"""The tracking store: which URI, a client bound to it, quiet MLflow calls, stale runs.

Every call goes through an ``MlflowClient`` bound to the store it was given, so a
service that calls needsid keeps its own MLflow state. One step cannot: registering a
version in a registry MLflow runs in-process, which MLflow resolves with its global URI
(:func:`_global_uris` sets it for that call alone and restores it).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._privacy import redact

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModel, Run

logger = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
#: MLflow reads it each time it would draw an artifact transfer progress bar.
PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
#: A caller who sets MLflow's log level explicitly gets MLflow's lines at that level.
LOG_LEVEL_ENV = "MLFLOW_LOGGING_LEVEL"


def _uri(tracking_uri: str | None) -> str:
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def _redact_text(text: str, uri: str) -> str:
    """Remove the store's password from a library's message that may quote the URI."""
    try:
        password = urlsplit(uri).password
    except ValueError:
        password = None
    return text.replace(uri, redact(uri)).replace(password, "***") if password else text


def _client(tracking_uri: str | None) -> tuple[MlflowClient, str]:
    """Return ``(client, uri)``: an ``MlflowClient`` bound to the store for both roles.

    The store's URI is ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else
    :data:`DEFAULT_TRACKING_URI`; it serves as the registry too. MLflow's global URIs
    are neither read nor set.
    """
    from mlflow import MlflowClient

    uri = _uri(tracking_uri)
    _init_sqlite(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri), uri


# MLflow's logger and the progress bar switch are process-wide: nested or concurrent
# needsid calls share one quiet period, set by the first to enter and restored by the
# last to leave
_QUIET_LOCK = threading.Lock()
_quiet_depth = 0
_quiet_saved: tuple[str | None, int] = (None, logging.NOTSET)


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Keep MLflow's INFO lines and artifact progress bars out of the caller's output.

    For the duration of the block, ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` is "false"
    and the ``mlflow`` logger's level is at least WARNING (unless ``MLFLOW_LOGGING_LEVEL``
    is set: the caller asked for that level). Both are restored exactly afterwards,
    including an environment variable that was absent.
    """
    global _quiet_depth, _quiet_saved
    import mlflow  # noqa: F401  (configures its loggers on import: before saving them)

    mlflow_logger = logging.getLogger("mlflow")
    with _QUIET_LOCK:
        if _quiet_depth == 0:
            _quiet_saved = (os.environ.get(PROGRESS_BAR_ENV), mlflow_logger.level)
            os.environ[PROGRESS_BAR_ENV] = "false"
            if LOG_LEVEL_ENV not in os.environ and (
                mlflow_logger.getEffectiveLevel() < logging.WARNING
            ):
                mlflow_logger.setLevel(logging.WARNING)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                env, level = _quiet_saved
                if env is None:
                    os.environ.pop(PROGRESS_BAR_ENV, None)
                else:
                    os.environ[PROGRESS_BAR_ENV] = env
                mlflow_logger.setLevel(level)


def _owner() -> dict[str, str]:
    """Tags that let a later run tell whether this one's process still runs."""
    import socket

    return {"needsid.host": socket.gethostname(), "needsid.pid": str(os.getpid())}


def _experiment_id(client: MlflowClient, name: str, uri: str) -> str:
    """Return the id of experiment ``name``, created if it does not exist."""
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name)
        except MlflowException as exc:  # another run created it meanwhile
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            exp = client.get_experiment_by_name(name)
            if exp is None:  # deleted for good since: the store's error, not a None
                raise
    if exp.lifecycle_stage == "deleted":
        raise ValueError(
            f"Experiment {name!r} in {redact(uri)} is deleted; restore it with "
            f"`mlflow experiments restore --experiment-id {exp.experiment_id}` (or delete "
            "it for good with `mlflow gc`) before logging runs to it."
        )
    return exp.experiment_id


@contextmanager
def _run(
    client: MlflowClient, experiment_id: str, tags: dict[str, str] | None = None
) -> Iterator[Run]:
    """Start a run with the client; end it FINISHED, or FAILED (KILLED) if the block raised.

    The run carries MLflow's usual source tags (user, entry point, git commit) and the
    :func:`_owner` tags.
    """
    from mlflow.tracking.context.registry import resolve_tags

    run = client.create_run(experiment_id, tags=resolve_tags({**_owner(), **(tags or {})}))
    try:
        yield run
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        try:
            client.set_terminated(run.info.run_id, status=status)
        except Exception as end_exc:  # the store that failed may fail again: keep the cause
            logger.warning("Could not mark run %s %s: %s", run.info.run_id, status, end_exc)
        raise
    client.set_terminated(run.info.run_id, status="FINISHED")


def _reap_stale_runs(client: MlflowClient, experiment_id: str) -> list[str]:
    """Mark FAILED the runs left RUNNING by a needsid process on this host that is gone."""
    import socket

    from ..data._bundle import _pid_alive

    host = socket.gethostname()
    stale = []
    for run in client.search_runs([experiment_id], "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        pid = tags.get("needsid.pid", "")
        if tags.get("needsid.host") == host and pid.isdigit() and not _pid_alive(int(pid)):
            client.set_terminated(run.info.run_id, status="FAILED")
            stale.append(run.info.run_id)
    if stale:
        logger.warning("Marked FAILED %d run(s) left RUNNING by a process that ended.", len(stale))
    return stale


_READY: set[str] = set()


def _init_sqlite(uri: str) -> None:
    """Create a SQLite store's tables under a file lock, once per process.

    MLflow creates (and migrates) a SQLite store on first use; runs that start together
    on a new store race in that migration ("table _alembic_tmp_... already exists").
    """
    if not uri.startswith("sqlite:///") or uri in _READY:
        return
    import fcntl

    from mlflow import MlflowClient

    db = Path(uri[len("sqlite:///") :])
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as lock, _quiet_mlflow():
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.search_experiments(max_results=1)
            client.search_registered_models(max_results=1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _READY.add(uri)


def _log_model(
    client: MlflowClient,
    experiment_id: str,
    run_id: str,
    workdir: Path,
    params: Mapping[str, object],
    **save_kwargs: Any,
) -> LoggedModel:
    """Save a pyfunc model and log it as the run's LoggedModel; return it (READY).

    What ``mlflow.pyfunc.log_model`` does, through the client: that function reads the
    global tracking URI and the active run.
    """
    import shutil

    import mlflow.pyfunc
    from mlflow.entities import LoggedModelOutput
    from mlflow.models import Model
    from mlflow.tracking.context.registry import resolve_tags

    model = client.create_logged_model(
        experiment_id,
        name="flagging_model",
        source_run_id=run_id,
        tags=resolve_tags(),
        params={k: str(v) for k, v in params.items()},
    )
    try:
        client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        local = Path(workdir) / "flagging_model"
        meta = Model(
            artifact_path=model.artifact_location,
            run_id=run_id,
            model_uuid=model.model_id,
            model_id=model.model_id,
        )
        mlflow.pyfunc.save_model(str(local), mlflow_model=meta, **save_kwargs)
        for cache in list(local.rglob("__pycache__")):  # save_model imports the code file
            shutil.rmtree(cache, ignore_errors=True)
        client.log_model_artifacts(model.model_id, str(local))
    except BaseException:
        try:
            client.finalize_logged_model(model.model_id, "FAILED")
        except Exception as exc:
            logger.warning("Could not mark logged model %s FAILED: %s", model.model_id, exc)
        raise
    return client.finalize_logged_model(model.model_id, "READY")


def _register(client: MlflowClient, uri: str, name: str, model: LoggedModel, run_id: str) -> str:
    """Register a LoggedModel as a new version of ``name`` (created if new); its version."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    # a registry MLflow runs in this process (SQL, files) looks the logged model up with a
    # client on the global tracking URI (mlflow 3.x: "TODO: Propagate tracking URI"); a
    # tracking server looks it up on its side
    scope = _global_uris(uri) if urlsplit(uri).scheme not in ("http", "https") else nullcontext()
    with scope:
        version = client.create_model_version(
            name, f"models:/{model.model_id}", run_id=run_id, model_id=model.model_id
        )
    return str(version.version)


#: The environment variables ``mlflow.set_tracking_uri`` / ``set_registry_uri`` write.
URI_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_GLOBALS_LOCK = threading.Lock()


@contextmanager
def _global_uris(uri: str) -> Iterator[None]:
    """Point MLflow's process-wide tracking and registry URIs at ``uri`` for one block.

    Only for the MLflow code that reads them whatever client calls it. Afterwards the
    URIs as the caller set them (or left unset) and ``MLFLOW_TRACKING_URI`` /
    ``MLFLOW_REGISTRY_URI`` are restored exactly, an absent variable removed again.
    Another thread of the process sees ``uri`` while the block runs.
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    with _GLOBALS_LOCK:
        # the raw values: get_tracking_uri() would turn "unset" into the default
        tracking, registry = tracking_utils._tracking_uri, registry_utils._registry_uri
        env = {k: os.environ.get(k) for k in URI_ENV}
        try:
            mlflow.set_tracking_uri(uri)
            mlflow.set_registry_uri(uri)
            yield
        finally:
            # None unsets them, as before the call (MLflow's annotations say str)
            mlflow.set_tracking_uri(tracking)  # type: ignore[arg-type]
            mlflow.set_registry_uri(registry)  # type: ignore[arg-type]
            for key, value in env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
