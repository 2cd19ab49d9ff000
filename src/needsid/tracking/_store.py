"""The tracking store: which URI, created once under a lock, and runs left behind."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ._privacy import redact

logger = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def _uri(tracking_uri: str | None) -> str:
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def _redact_text(text: str, uri: str) -> str:
    """Remove the store's password from a library's message that may quote the URI."""
    from urllib.parse import urlsplit

    try:
        password = urlsplit(uri).password
    except ValueError:
        password = None
    return text.replace(uri, redact(uri)).replace(password, "***") if password else text


def _use_store(tracking_uri: str | None) -> str:
    import mlflow

    uri = _uri(tracking_uri)
    _init_sqlite(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _owner() -> dict[str, str]:
    """Tags that let a later run tell whether this one's process still runs."""
    import socket

    return {"needsid.host": socket.gethostname(), "needsid.pid": str(os.getpid())}


def _reap_stale_runs(experiment_id: str) -> list[str]:
    """Mark FAILED the runs left RUNNING by a needsid process on this host that is gone."""
    import socket

    from mlflow import MlflowClient

    from ..data._bundle import _pid_alive

    client = MlflowClient()
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
    with open(db.with_name(db.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.search_experiments(max_results=1)
            client.search_registered_models(max_results=1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _READY.add(uri)
