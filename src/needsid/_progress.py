"""Progress of long steps, reported as log records so that the library itself stays quiet.

Library code marks a step with :func:`step` ("fitting LightGBM") or walks a loop with
:func:`track` ("bootstrap", 200 resamples). Both only write records to the
``needsid.progress`` logger, which nothing shows unless asked, and cost one level check
when nobody listens. The command line shows them as progress bars with
:func:`show_progress`; a notebook or a service can attach any logging handler instead.
Messages name steps and counts, never households.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # rich loads only when the bars are shown
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn

__all__ = ["show_progress", "step", "track"]

logger = logging.getLogger("needsid.progress")
T = TypeVar("T")


def step(message: str) -> None:
    """Start a step of unknown length (the previous one is done)."""
    logger.info(message, extra={"needsid_total": None})


def track(items: Iterable[T], message: str, total: int | None = None) -> Iterator[T]:
    """Yield ``items``, reporting a step of ``total`` parts and each part done.

    Examples
    --------
    >>> [x * 2 for x in track([1, 2, 3], "doubling")]
    [2, 4, 6]
    """
    if total is None:
        total = len(items) if isinstance(items, Sized) else None
    logger.info(message, extra={"needsid_total": total})
    verbose = logger.isEnabledFor(logging.DEBUG)
    for item in items:
        yield item
        if verbose:
            logger.debug(message, extra={"needsid_advance": 1})


class _RichHandler(logging.Handler):
    """Turn ``needsid.progress`` records into rows of a ``rich.progress.Progress``."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(level=logging.DEBUG)
        self.progress = progress
        self.task: Any = None  # rich's TaskID of the step on screen

    def finish(self) -> None:
        if self.task is not None:
            t = self.progress.tasks[self.task]
            done = t.total if t.total is not None else 1
            self.progress.update(self.task, total=done, completed=done)
            self.task = None

    def emit(self, record: logging.LogRecord) -> None:
        advance = getattr(record, "needsid_advance", None)
        if advance:
            if self.task is not None:
                self.progress.advance(self.task, advance)
            return
        self.finish()
        total = getattr(record, "needsid_total", None)
        self.task = self.progress.add_task(
            record.getMessage(), total=total, loop=total is not None
        )


def _count_column() -> ProgressColumn:
    """``done/total`` for a loop; nothing for a step of unknown length."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class CountColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            if task.total is None or not task.fields.get("loop", False):
                return Text("")
            return Text(f"{task.completed:.0f}/{task.total:.0f}", style="progress.download")

    return CountColumn()


@contextmanager
def show_progress(console: Console | None = None) -> Iterator[Progress]:
    """Show the library's steps as rich progress bars while the block runs.

    Each step stays on screen with its time; loops get a bar with done / total.

    Parameters
    ----------
    console : rich.console.Console, optional
        Where to draw the bars; default rich's console on standard output.

    Yields
    ------
    rich.progress.Progress
        The progress display, live for the block.

    Examples
    --------
    >>> import io
    >>> from rich.console import Console
    >>> with show_progress(Console(file=io.StringIO())) as bars:
    ...     total = sum(track(range(3), "counting"))
    >>> total, [task.description for task in bars.tasks]
    (3, ['counting'])
    """
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        SpinnerColumn(finished_text="[green]✓"),
        TextColumn("{task.description}"),
        BarColumn(),
        _count_column(),
        TimeElapsedColumn(),
        console=console,
    )
    handler = _RichHandler(progress)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # the bars replace the records; no duplicate log lines
    try:
        with progress:
            yield progress
            handler.finish()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
