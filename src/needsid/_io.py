"""Atomic file writes: a temporary file beside the target, renamed into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["umask_mode", "write_atomic"]


def umask_mode() -> int:
    """Return the mode a plain ``open()`` would give a new file (0o666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | str | Callable[[str], None],
    *,
    mode: int | None = None,
) -> None:
    """Write ``data`` to ``path`` so that ``path`` never holds a half-written file.

    Parameters
    ----------
    path : str or Path
        The target; its folder must exist.
    data : bytes, str or callable
        Bytes, text (UTF-8), or a function that writes to the temporary path it is given.
    mode : int, optional
        File mode; None keeps ``mkstemp``'s owner-only 0o600.
    """
    target = Path(path)
    fd: int | None
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if callable(data):
            os.close(fd)
            fd = None
            data(tmp)
        else:
            payload = data.encode("utf-8") if isinstance(data, str) else data
            with os.fdopen(fd, "wb") as fh:
                fd = None
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        if fd is not None:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
