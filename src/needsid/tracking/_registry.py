"""The model registry: promote a version under an alias with who and why; resolve an alias."""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ._privacy import redact
from ._store import _client, _quiet_mlflow, _redact_text

__all__ = ["PromoteResult", "promote", "resolve_model"]

#: Recorded as ``<alias>.previous_version`` when the alias pointed at no version.
NO_PREVIOUS = "none"


@dataclass(frozen=True)
class PromoteResult:
    """An alias pointed at a model version: who did it, when, why, and what it replaced.

    Made by :func:`promote`; the fields are also attributes.

    Parameters
    ----------
    name : str
        Registered model name.
    version : str
        The version the alias now points at.
    alias : str
        E.g. ``"champion"`` or ``"challenger"``.
    previous_version : str or None
        The version the alias pointed at before; None if it pointed at none.
    promoted_by : str
        Who promoted it (a login name unless given).
    promoted_at : datetime.datetime
        UTC, to the second.
    reason : str
        Empty if none was given.

    Examples
    --------
    >>> import datetime as dt
    >>> from needsid.tracking import PromoteResult
    >>> done = PromoteResult("needsid-risk", "3", "champion", "2", "analyst",
    ...                      dt.datetime(2025, 7, 1, 9, 30, tzinfo=dt.UTC), "better recall")
    >>> done.model_uri
    'models:/needsid-risk/3'
    """

    name: str
    version: str
    alias: str
    previous_version: str | None
    promoted_by: str
    promoted_at: dt.datetime
    reason: str

    @property
    def model_uri(self) -> str:
        """The promoted version's URI, e.g. ``models:/needsid-risk/3``."""
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, str]:
        """Return the record as the version's ``<alias>.*`` tags hold it (all strings).

        ``previous_version`` is ``"none"`` where the alias pointed at no version, and
        ``promoted_at`` is ISO 8601 (``2025-07-01T09:30:00+00:00``).

        Returns
        -------
        dict of str to str
            ``name, version, alias, previous_version, promoted_by, promoted_at, reason``.

        Examples
        --------
        >>> import datetime as dt
        >>> from needsid.tracking import PromoteResult
        >>> done = PromoteResult("needsid-risk", "1", "champion", None, "analyst",
        ...                      dt.datetime(2025, 7, 1, 9, 30, tzinfo=dt.UTC), "")
        >>> record = done.to_dict()
        >>> record["previous_version"], record["promoted_at"]
        ('none', '2025-07-01T09:30:00+00:00')
        """
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "previous_version": self.previous_version or NO_PREVIOUS,
            "promoted_by": self.promoted_by,
            "promoted_at": self.promoted_at.isoformat(timespec="seconds"),
            "reason": self.reason,
        }


def promote(
    name: str,
    version: str | int,
    alias: str = "champion",
    *,
    reason: str | None = None,
    who: str | None = None,
    tracking_uri: str | None = None,
) -> PromoteResult:
    """Point ``alias`` (e.g. champion, challenger) at a model version; record who and why.

    The version gets tags ``<alias>.promoted_by``, ``<alias>.promoted_at`` (UTC),
    ``<alias>.reason`` and ``<alias>.previous_version`` (the version the alias pointed at
    before, or "none"). MLflow's global tracking and registry URIs are left as they are.

    Parameters
    ----------
    name : str
        Registered model name, e.g. ``"needsid-risk"``.
    version : str or int
        The version to promote.
    alias : str, default="champion"
        The alias to point at the version, e.g. ``"challenger"``.
    reason : str, optional
        Why; kept in the version's tags.
    who : str, optional
        Default: the login name of the process.
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``.

    Returns
    -------
    PromoteResult
        Its ``to_dict()`` gives the record as tagged (strings only).

    Raises
    ------
    ValueError
        If the registry holds no such version of ``name``.

    Examples
    --------
    >>> import tempfile
    >>> from mlflow import MlflowClient
    >>> folder = tempfile.mkdtemp()
    >>> store = f"sqlite:///{folder}/mlflow.db"
    >>> promote("demo", "1", tracking_uri=store)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: No version '1' of registered model 'demo' in sqlite:///.../mlflow.db.
    >>> client = MlflowClient(tracking_uri=store, registry_uri=store)
    >>> _ = client.create_registered_model("demo")
    >>> _ = client.create_model_version("demo", source=f"{folder}/model")
    >>> done = promote("demo", 1, reason="first model", who="analyst", tracking_uri=store)
    >>> done.version, done.previous_version, done.promoted_by
    ('1', None, 'analyst')
    >>> client.get_model_version("demo", "1").tags["champion.reason"]
    'first model'
    """
    from mlflow.exceptions import MlflowException

    client, uri = _client(tracking_uri)
    version = str(version)
    with _quiet_mlflow():
        try:
            client.get_model_version(name, version)
        except MlflowException as exc:
            raise ValueError(
                f"No version {version!r} of registered model {name!r} in {redact(uri)}."
            ) from exc
        try:
            previous = str(client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            previous = None
        result = PromoteResult(
            name=name,
            version=version,
            alias=alias,
            previous_version=previous,
            promoted_by=who or getpass.getuser(),
            promoted_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
            reason=reason or "",
        )
        record = result.to_dict()
        client.set_registered_model_alias(name, alias, version)
        for key in ("promoted_by", "promoted_at", "reason", "previous_version"):
            client.set_model_version_tag(name, version, f"{alias}.{key}", record[key])
    return result


def resolve_model(model_uri: str, tracking_uri: str | None = None) -> tuple[str | None, str, str]:
    """Return ``(name, version, pinned uri)`` for ``models:/NAME@ALIAS`` or ``/VERSION``.

    An alias is resolved once, so a promotion in the middle of a run cannot change
    which version flags. Other URIs (``runs:/``, a path) return ``(None, uri, uri)``.

    Parameters
    ----------
    model_uri : str
        ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or any other MLflow model URI.
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``.

    Returns
    -------
    tuple of (str or None, str, str)
        The registered name (None for other URIs), the version and the URI pinned to
        that version.

    Raises
    ------
    ValueError
        If the alias or model is not in the registry.

    Examples
    --------
    A pinned version needs no call to the store:

    >>> resolve_model("models:/needsid-risk/3")
    ('needsid-risk', '3', 'models:/needsid-risk/3')
    >>> resolve_model("runs:/0123/flagging_model")
    (None, 'runs:/0123/flagging_model', 'runs:/0123/flagging_model')

    An alias is looked up in the registry:

    >>> import tempfile
    >>> from mlflow import MlflowClient
    >>> from needsid.tracking import promote
    >>> folder = tempfile.mkdtemp()
    >>> store = f"sqlite:///{folder}/mlflow.db"
    >>> client = MlflowClient(tracking_uri=store, registry_uri=store)
    >>> _ = client.create_registered_model("demo")
    >>> _ = client.create_model_version("demo", source=f"{folder}/model")
    >>> _ = promote("demo", 1, who="analyst", tracking_uri=store)
    >>> resolve_model("models:/demo@champion", tracking_uri=store)
    ('demo', '1', 'models:/demo/1')
    """
    if not model_uri.startswith("models:/"):
        return None, model_uri, model_uri
    body = model_uri[len("models:/") :]
    if "@" not in body:  # a pinned version: nothing to resolve, no call to the store
        name, _, version = body.partition("/")
        return name, version, model_uri
    client, uri = _client(tracking_uri)
    name, alias = body.split("@", 1)
    with _quiet_mlflow(), _not_found_as_value_error(model_uri, uri):
        version = str(client.get_model_version_by_alias(name, alias).version)
    return name, version, f"models:/{name}/{version}"


@contextmanager
def _not_found_as_value_error(model_uri: str, uri: str) -> Iterator[None]:
    """Turn the registry's "no such model / alias / version" into a ValueError naming it."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        raise ValueError(
            f"Model {model_uri!r} is not in the registry at {redact(uri)}: "
            f"{_redact_text(exc.message, uri)} "
            "(see `needsid train` and `needsid promote`)."
        ) from None
