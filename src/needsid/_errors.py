"""The one family of configuration errors, shared by every loader of user settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pydantic loads only where a config is validated
    from pydantic import ValidationError

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A configuration that cannot be used: a command's YAML, a rule set, a feature or MPI spec.

    Every loader of user settings in needsid raises this class (or a subclass, such as
    :class:`needsid.rules.RuleSetError`), with every problem it found listed at once, so one
    ``except needsid.ConfigError`` handles them all. It is a :class:`ValueError`.

    Parameters
    ----------
    message : str
        The whole message, naming the source and each problem.
    problems : list of str, optional
        The problems one by one (each names its key or field), for callers that show
        them their own way.

    Examples
    --------
    >>> import needsid as ni
    >>> try:
    ...     ni.features.load_spec({"windows": [3, 3]})
    ... except ni.ConfigError as err:
    ...     print(type(err).__name__, "|", err.problems[0])
    ConfigError | windows: Got windows=[3, 3]; each window must appear once.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems is not None else [message]


ConfigError.__module__ = "needsid"  # shown as needsid.ConfigError, where users catch it


def describe(err: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as ``key: problem``."""
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"unknown key {where!r}"
    if err["type"] == "missing":
        return f"missing key {where!r}"
    msg = err["msg"].removeprefix("Value error, ")
    # pydantic's own messages do not show the value; ours (value_error) already do
    if err["type"] != "value_error" and isinstance(err.get("input"), str | int | float):
        return f"{where}: {msg} (got {err['input']!r})"
    return f"{where}: {msg}"


def from_validation(exc: ValidationError, where: str) -> ConfigError:
    """Return a :class:`ConfigError` listing every problem of a pydantic ``ValidationError``."""
    problems = [describe(e) for e in exc.errors()]
    return ConfigError(f"{where}: {'; '.join(problems)}", problems)
