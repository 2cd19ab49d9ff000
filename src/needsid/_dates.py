"""Date helpers shared by every step that looks at time (``as_of`` dates, month windows, ages)."""

from __future__ import annotations

import calendar
import datetime as dt

import narwhals as nw

__all__ = ["age_at", "as_date", "months_after", "months_before"]


def as_date(as_of: str | dt.date) -> dt.date:
    """Return ``as_of`` as a date; accepts dates, datetimes and ISO strings.

    Parameters
    ----------
    as_of : date, datetime or str
        A date, a datetime (its date is kept) or an ISO string such as ``'2025-01-01'``.

    Returns
    -------
    datetime.date

    Raises
    ------
    ValueError
        If ``as_of`` is not a date and does not parse as an ISO date.

    Examples
    --------
    >>> import datetime as dt
    >>> as_date("2025-01-01"), as_date(dt.datetime(2025, 1, 1, 12))
    (datetime.date(2025, 1, 1), datetime.date(2025, 1, 1))
    """
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    try:
        return dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise ValueError(f"Got as_of={as_of!r}; expected a date such as '2025-01-01'.") from None


def months_after(d: dt.date, k: int) -> dt.date:
    """Return the date ``k`` calendar months after ``d``.

    The day of the month is kept, clipped to the last day of the target month (one
    month after 31 January is 28 or 29 February); ``k = 0`` returns ``d``.

    Parameters
    ----------
    d : datetime.date
        The start date.
    k : int
        Number of months; negative goes back (see :func:`months_before`).

    Returns
    -------
    datetime.date

    Raises
    ------
    ValueError
        If the result falls outside the years 1 to 9999 that ``datetime.date`` holds.

    Examples
    --------
    >>> import datetime as dt
    >>> months_after(dt.date(2024, 1, 31), 1), months_after(dt.date(2024, 1, 30), 0)
    (datetime.date(2024, 2, 29), datetime.date(2024, 1, 30))
    >>> months_after(dt.date(2023, 11, 15), 3)
    datetime.date(2024, 2, 15)
    """
    y, m = divmod(d.month - 1 + k, 12)
    year, month = d.year + y, m + 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise ValueError(
            f"Got d={d.isoformat()!r} and k={k!r}: the result would fall in the year {year}, "
            f"outside the years {dt.MINYEAR} to {dt.MAXYEAR} a date can hold."
        )
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def months_before(d: dt.date, k: int) -> dt.date:
    """Return the date ``k`` calendar months before ``d``.

    The day of the month is kept, clipped to the last day of the target month; this is
    ``months_after(d, -k)``.

    Parameters
    ----------
    d : datetime.date
        The start date.
    k : int
        Number of months; negative goes forward.

    Returns
    -------
    datetime.date

    Raises
    ------
    ValueError
        If the result falls outside the years 1 to 9999 that ``datetime.date`` holds.

    Examples
    --------
    >>> import datetime as dt
    >>> months_before(dt.date(2024, 3, 31), 1), months_before(dt.date(2024, 3, 1), 12)
    (datetime.date(2024, 2, 29), datetime.date(2023, 3, 1))
    """
    return months_after(d, -k)


def age_at(birth: str | nw.Expr, at: dt.date | nw.Expr) -> nw.Expr:
    """Narwhals expression: completed years of age at ``at`` of someone born on ``birth``.

    One definition for features, labels and rules: the age goes up on the birthday, and
    someone born on 29 February turns a year older on 1 March in years without one.
    Polars code uses it through narwhals::

        nw.from_native(frame).with_columns(age=age_at("birth_date", as_of)).to_native()

    Parameters
    ----------
    birth : str or narwhals.Expr
        The birth date column (its name, or an expression of date or datetime type).
    at : datetime.date or narwhals.Expr
        The date the age is taken at: one date for all rows, or an expression of date
        or datetime type, e.g. ``nw.col("event_date")``, for a date per row.

    Returns
    -------
    narwhals.Expr
        Integer age (Int64 on polars); null where ``birth`` or ``at`` is null (NaN on
        pandas with NumPy dtypes).

    Raises
    ------
    TypeError
        If ``at`` is neither a date nor a narwhals expression.

    Examples
    --------
    >>> import datetime as dt
    >>> import narwhals as nw
    >>> import polars as pl
    >>> births = pl.DataFrame({"birth_date": [dt.date(2000, 6, 15), dt.date(2004, 2, 29)]})
    >>> out = nw.from_native(births).with_columns(age=age_at("birth_date", dt.date(2025, 2, 28)))
    >>> out.to_native()["age"].to_list()
    [24, 20]
    """
    b = nw.col(birth) if isinstance(birth, str) else birth
    year: int | nw.Expr
    month: int | nw.Expr
    day: int | nw.Expr
    if isinstance(at, dt.date):  # datetimes too: only their date parts are read
        year, month, day = at.year, at.month, at.day
    elif isinstance(at, nw.Expr):
        year, month, day = at.dt.year(), at.dt.month(), at.dt.day()
    else:
        raise TypeError(
            f"Got at={at!r}; expected a date, e.g. datetime.date(2025, 1, 1), or a narwhals "
            'expression such as nw.col("event_date").'
        )
    before_birthday = (b.dt.month() > month) | ((b.dt.month() == month) & (b.dt.day() > day))
    # the years are not cast: pandas holds a missing birth date's year as NaN, not null
    return year - b.dt.year() - before_birthday.cast(nw.Int64)
