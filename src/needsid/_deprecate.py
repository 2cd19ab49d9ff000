"""Old keyword names accepted for one release, with a FutureWarning naming the new one."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def renamed_keywords(**old_to_new: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Let a function accept ``old=`` for one release as an alias of ``new=``, with a warning.

    The wrapped function keeps its own signature (``functools.wraps``), so a required
    keyword-only parameter stays required.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(
                        f"{func.__qualname__}() got both {old}= and {new}=; pass only {new}= "
                        f"({old}= is its old name)."
                    )
                warnings.warn(
                    f"{func.__qualname__}(): {old}= is renamed {new}=; pass {new}= instead. "
                    f"{old}= will stop working in the next release.",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate
