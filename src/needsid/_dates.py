"""Date helpers shared by every step that looks at time (``as_of`` dates, month windows)."""

from __future__ import annotations

import datetime as dt

__all__ = ["as_date", "months_after", "months_before"]


def as_date(as_of) -> dt.date:
    """Return ``as_of`` as a date; accepts dates, datetimes and ISO strings."""
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    try:
        return dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise ValueError(f"Got as_of={as_of!r}; expected a date such as '2025-01-01'.") from None


def months_before(d: dt.date, k: int) -> dt.date:
    """Return the date ``k`` calendar months before ``d`` (days past the 28th clipped)."""
    y, m = divmod(d.month - 1 - k, 12)
    return dt.date(d.year + y, m + 1, min(d.day, 28))


def months_after(d: dt.date, k: int) -> dt.date:
    """Return the date ``k`` calendar months after ``d`` (days past the 28th clipped)."""
    return months_before(d, -k)
