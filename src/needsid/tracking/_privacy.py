"""Salted pseudonyms: what the tracking store holds instead of household ids."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable

import numpy as np

__all__ = [
    "SALT_ENV",
    "MIN_SALT_LENGTH",
    "MIN_SALT_DISTINCT",
    "pseudonymise",
    "redact",
    "salt_from_env",
]

#: Environment variable the command line reads the salt from.
SALT_ENV = "NEEDSID_SALT"
MIN_SALT_LENGTH = 16
#: Distinct non-whitespace characters a salt needs: 16 spaces or "aaaa..." is no secret.
MIN_SALT_DISTINCT = 8


def _check_salt(salt: str | bytes) -> bytes:
    if isinstance(salt, str):
        salt = salt.encode("utf-8")
    if not isinstance(salt, bytes) or len(salt) < MIN_SALT_LENGTH:
        raise ValueError(
            f"The pseudonymisation salt must be a secret of at least {MIN_SALT_LENGTH} "
            f"characters (set {SALT_ENV}, e.g. to the output of `openssl rand -hex 32`)."
        )
    visible = "".join(salt.decode("utf-8", "replace").split())
    if len(set(visible)) < MIN_SALT_DISTINCT:
        raise ValueError(
            f"The pseudonymisation salt has fewer than {MIN_SALT_DISTINCT} distinct "
            "characters besides spaces, so it is easy to guess; use a random secret "
            f"(set {SALT_ENV}, e.g. to the output of `openssl rand -hex 32`)."
        )
    return salt


def redact(uri: str) -> str:
    """Hide the password (and a token) in a URI before it goes into a message.

    Examples
    --------
    >>> redact("postgresql://mlflow:s3cret@127.0.0.1:5432/mlflow")
    'postgresql://mlflow:***@127.0.0.1:5432/mlflow'
    >>> redact("sqlite:///mlflow.db")
    'sqlite:///mlflow.db'
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(str(uri))
    except ValueError:
        return "<a tracking URI that could not be parsed>"
    if parts.password is None and "@" not in parts.netloc:
        return str(uri)
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    netloc = f"{user}:***@{host}" if user else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def salt_from_env() -> bytes:
    """Return the salt from ``NEEDSID_SALT``; raise a clear error if unset or too short.

    Returns
    -------
    bytes
        The salt, UTF-8 encoded.

    Raises
    ------
    ValueError
        If ``NEEDSID_SALT`` is unset, shorter than 16 characters or has fewer than 8
        distinct characters.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from needsid.tracking import SALT_ENV, salt_from_env
    >>> with mock.patch.dict(os.environ, {SALT_ENV: "a-secret-of-16-chars"}):
    ...     salt_from_env()
    b'a-secret-of-16-chars'
    >>> with mock.patch.dict(os.environ, {SALT_ENV: "a" * 20}):
    ...     salt_from_env()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The pseudonymisation salt has fewer than 8 distinct characters ...
    """
    value = os.environ.get(SALT_ENV)
    if value is None:
        raise ValueError(
            f"{SALT_ENV} is not set: flag manifests hold salted pseudonyms, never raw "
            f"household ids, and the salt must come from you. Set {SALT_ENV} to a secret "
            f"of at least {MIN_SALT_LENGTH} characters and keep it out of the tracking store."
        )
    return _check_salt(value)


def pseudonymise(ids: Iterable[object], salt: str | bytes) -> np.ndarray:
    """Map ids to salted pseudonyms (HMAC-SHA256, first 32 hex characters).

    The same id and salt always give the same pseudonym, so a caseworker who holds the
    salt can find a household in a manifest; without the salt the pseudonym reveals
    nothing about the id (HMAC is a keyed hash, not a plain one that a list of known ids
    could reverse).

    Parameters
    ----------
    ids : iterable of str
        Household (or other) ids; non-strings are taken as ``str(id)``.
    salt : str or bytes
        A secret of at least 16 characters; it never leaves the caller.

    Returns
    -------
    ndarray of str
        One 32-character hexadecimal pseudonym per id, in order.

    Raises
    ------
    ValueError
        If the salt is shorter than 16 characters or easy to guess.

    Examples
    --------
    >>> p = pseudonymise(["H0000001", "H0000002"], salt="a-secret-of-16-chars")
    >>> len(p[0]), p[0] != p[1]
    (32, True)
    >>> bool(pseudonymise(["H0000001"], salt="a-secret-of-16-chars")[0] == p[0])
    True
    """
    key = _check_salt(salt)
    out = [hmac.new(key, str(i).encode("utf-8"), hashlib.sha256).hexdigest()[:32] for i in ids]
    return np.asarray(out, dtype=object).astype(str)
