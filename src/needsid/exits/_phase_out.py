"""Phased exit (渐进式退出): exit scores become a schedule of exit reviews within a capacity.

A score never exits anyone. It books an ``exit_review``: a caseworker's visit, drawn from
the same capacity as the flag table's routes. Only if that review finds income above the
line do benefits stop, and then only after a grace period.
"""

from __future__ import annotations

import datetime as dt
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from .._dates import as_date, months_after
from ..evaluate import as_capacity
from ..evaluate._metrics import _capacity_count
from ..flagging import EXIT_REVIEW, reason_text
from ..flagging._flag import _scores_frame as _check_scores

__all__ = ["EXIT_ROUTE", "SCHEDULE_COLUMNS", "THRESHOLD", "phase_out"]

#: The route of a household booked for an exit review (a flag route, see ``flagging``).
EXIT_ROUTE = EXIT_REVIEW
#: The default least exit score for a review: a 9 in 10 modelled chance of being out of
#: need for the whole label window.
THRESHOLD = 0.9
#: Columns of the schedule, in order.
SCHEDULE_COLUMNS = ("household_id", "exit_score", "route", "review_by", "earliest_exit", "reasons")


def _scores_frame(scores: Any) -> pl.DataFrame:
    checked = _check_scores(
        scores, "exit scores", " (ExitModel.predict_proba[:, 1]) of current recipients"
    )
    return checked.select("household_id", "score")


def _months(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(
            f"Got {name}={value!r}; expected a whole number of months >= {low}, e.g. 3."
        )
    return int(value)


def _reasons(reasons: Any) -> dict[str, str]:
    if reasons is None:
        return {}
    if isinstance(reasons, pl.DataFrame):
        reasons = reasons.to_pandas()
    if {"household_id", "reasons"} <= set(reasons.columns):
        ids, text = reasons["household_id"].astype(str), reasons["reasons"].astype(str)
        return dict(zip(ids, text, strict=True))
    out: dict[str, str] = reason_text(reasons).to_dict()
    return out


def phase_out(
    scores: Any,
    *,
    as_of: dt.date | str,
    capacity: float | int,
    grace_months: int = 3,
    threshold: float = THRESHOLD,
    review_months: int = 1,
    reasons: Any = None,
) -> Any:
    """Turn exit scores into a schedule of exit reviews and the earliest exit dates.

    A household is never exited on a score alone. The recipients whose exit score is
    at least ``threshold`` are booked, highest score first, for an ``exit_review``: a
    caseworker's visit, due within ``review_months`` of ``as_of``, drawn from the
    capacity as every route of :func:`needsid.flagging.flag` is. Benefits stop only if
    that review finds income above the line, and then not before ``grace_months``
    full months after the review month (渐进式退出, a gradual exit): ``earliest_exit``.
    A household not booked keeps its benefits and has no exit date.

    The exit reviews are visits like every flag route: pass the schedule to
    :func:`needsid.flagging.flag` (``exits=``) and they count against the flag
    table's capacity, the other routes sharing what they leave.

    Parameters
    ----------
    scores : DataFrame or pandas.Series
        One row per current recipient: ``household_id`` and ``score``, the chance of
        should-exit (``ExitModel().predict_proba(X)[:, 1]``). A Series is read as
        scores indexed by household_id.
    as_of : date or str
        The date the scores describe.
    capacity : float or int
        Exit-review visits: a share in (0, 1] of the scored recipients, or a count.
    grace_months : int, default=3
        Full months benefits continue after the review month.
    threshold : float, default=THRESHOLD
        The least exit score that may be booked for a review.
    review_months : int, default=1
        The review is due within this many months of ``as_of``.
    reasons : DataFrame, optional
        ``ExitModel.explain(X)`` output (``row_id`` = household_id) or ready-made
        ``household_id, reasons`` text; kept for booked households only.

    Returns
    -------
    DataFrame
        A polars frame (pandas if ``scores`` was pandas) with one row per scored household,
        highest ``exit_score`` first, with :data:`SCHEDULE_COLUMNS`: ``route`` is
        ``exit_review`` or ``none``; ``review_by`` (the last day the review may take
        place) and ``earliest_exit`` are dates for booked households and null for
        the others.

    Raises
    ------
    ValueError
        A bad capacity, threshold or number of months; scores with missing, repeated
        or out-of-range values.
    TypeError
        ``scores`` is not a DataFrame or a Series.

    Examples
    --------
    >>> import pandas as pd
    >>> from needsid.exits import phase_out
    >>> s = pd.DataFrame({"household_id": ["a", "b", "c", "d"],
    ...                   "score": [0.97, 0.95, 0.92, 0.40]})
    >>> plan = phase_out(s, as_of="2025-01-01", capacity=2, grace_months=3)
    >>> print(plan[["household_id", "route", "review_by", "earliest_exit"]].to_string(index=False))
    household_id       route  review_by earliest_exit
               a exit_review 2025-01-31    2025-05-01
               b exit_review 2025-01-31    2025-05-01
               c        none        NaT           NaT
               d        none        NaT           NaT
    """
    as_of = as_date(as_of)
    cap = as_capacity(capacity)
    grace = _months("grace_months", grace_months, 0)
    within = _months("review_months", review_months, 1)
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not 0 <= threshold <= 1:
        raise ValueError(
            f"Got threshold={threshold!r}; expected an exit score in [0, 1], e.g. 0.9."
        )
    pandas_out = isinstance(scores, pd.DataFrame | pd.Series)
    s = _scores_frame(scores).sort("household_id")
    ids = s["household_id"].to_numpy().astype(str)
    score = s["score"].to_numpy()
    k = _capacity_count(cap, len(s))
    booked = np.zeros(len(s), bool)
    order = np.flatnonzero(score >= threshold)
    booked[order[np.argsort(-score[order], kind="stable")][:k]] = True
    review_by = months_after(as_of, within) - dt.timedelta(days=1)
    exit_on = months_after(as_of, within + grace)
    text = _reasons(reasons)
    out = pl.DataFrame(
        {
            "household_id": ids,
            "exit_score": score,
            "route": np.where(booked, EXIT_ROUTE, "none").astype(str),
            "review_by": [review_by if b else None for b in booked],
            "earliest_exit": [exit_on if b else None for b in booked],
            "reasons": [text.get(i) if b else None for i, b in zip(ids, booked, strict=True)],
        },
        schema={
            "household_id": pl.String,
            "exit_score": pl.Float64,
            "route": pl.String,
            "review_by": pl.Date,
            "earliest_exit": pl.Date,
            "reasons": pl.String,
        },
    ).sort(["exit_score", "household_id"], descending=[True, False])
    return out.to_pandas() if pandas_out else out
