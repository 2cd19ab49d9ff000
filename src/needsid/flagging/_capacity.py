"""Capacity is the number of visits: every route that sends someone draws from it.

Triggers come first and are all kept (a death or a disaster cannot wait); outreach and
review may take at most a quota of the capacity; the model's verification visits take
the rest, by score. With groups, each group has its own capacity and quotas.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from ..evaluate._metrics import _capacity_count

logger = logging.getLogger(__name__)

#: The route of a visit booked by ``needsid.exits.phase_out`` (flag's ``exits``).
EXIT_REVIEW = "exit_review"
#: Default route quotas: the most each route may take, as a share of the capacity.
QUOTAS = {"outreach": 0.2, "review": 0.1}
#: Routes that may have a quota (triggers are always kept; the model takes the rest).
QUOTA_ROUTES = ("outreach", "review")
USAGE_COLUMNS = ("group", "route", "households", "quota", "capacity")


def check_quotas(quotas: Mapping[str, float] | None) -> dict[str, float]:
    """Return the quotas with defaults filled in; name any bad route or share."""
    if quotas is None:
        return dict(QUOTAS)
    if not isinstance(quotas, Mapping):
        raise TypeError(
            f"Got quotas={quotas!r}; expected a mapping of route to a share of the "
            f"capacity, e.g. {QUOTAS!r}."
        )
    problems = [
        f"{route!r} is not a route with a quota (expected one of {list(QUOTA_ROUTES)!r})"
        for route in quotas
        if route not in QUOTA_ROUTES
    ]
    problems += [
        f"{route}={share!r} is not a share in [0, 1]"
        for route, share in quotas.items()
        if route in QUOTA_ROUTES
        and (isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1)
    ]
    if problems:
        raise ValueError(f"Got quotas={dict(quotas)!r}: " + "; ".join(problems) + ".")
    return {**QUOTAS, **{k: float(v) for k, v in quotas.items()}}


def _quota_counts(quotas: Mapping[str, float], k: int) -> dict[str, int]:
    """Return the most households each quota route may take out of a capacity of ``k``."""
    return {r: int(np.floor(quotas[r] * k)) for r in QUOTA_ROUTES}


def allocate(
    candidates: Mapping[str, np.ndarray],
    priority: Mapping[str, np.ndarray],
    capacity: float,
    groups: np.ndarray | None,
    quotas: Mapping[str, float],
    order: tuple[str, ...] = ("trigger", "model", "outreach", "review"),
    counted: np.ndarray | None = None,
) -> np.ndarray:
    """Route households within a capacity; return each one's route.

    Routes are served in ``order``. ``trigger`` takes all its candidates, even past the
    capacity (with a warning); a quota route takes at most its quota and what room is
    left; the model takes the room left after keeping the quotas of the routes served
    after it (as far as they have candidates), and any room they leave unused.

    Parameters
    ----------
    candidates : mapping of route to bool array
        Who each route could send someone to (``trigger``, ``model``, ``outreach``,
        ``review``), all of one length.
    priority : mapping of route to float array
        Order within ``model``, ``outreach`` and ``review``, highest first.
    capacity : float or int
        A share of the counted households or a count, per group.
    groups : array, optional
        Group of each household; each has its own capacity.
    quotas : mapping of route to float
        The most ``outreach`` and ``review`` may take, as a share of the capacity.
    order : tuple of str
        The order the routes are served in (a household gets the first that takes it).
    counted : bool array, optional
        Households a share capacity is a share of (default: all).

    Returns
    -------
    ndarray of object
        The route of each household, or ``None``. :func:`capacity_usage` counts them
        against the capacity and quotas from the flag table.
    """
    n = len(next(iter(candidates.values())))
    route = np.full(n, None, dtype=object)
    counted = np.ones(n, bool) if counted is None else np.asarray(counted, bool)
    labels = np.zeros(n, dtype=object) if groups is None else np.asarray(groups)
    for g in pd.unique(labels):
        idx = np.flatnonzero(labels == g)
        k = _capacity_count(capacity, int(counted[idx].sum()))
        quota = _quota_counts(quotas, k)
        free = np.ones(len(idx), bool)

        def take(name: str, limit: int, idx: np.ndarray = idx, free: np.ndarray = free) -> int:
            pool = np.flatnonzero(candidates[name][idx] & free)
            if limit < len(pool):
                order_in = np.argsort(-priority[name][idx][pool], kind="stable")
                pool = pool[order_in[: max(limit, 0)]]
            route[idx[pool]] = name
            free[pool] = False
            return len(pool)

        used = dict.fromkeys(order, 0)
        room = k
        for i, r in enumerate(order):
            if r == "trigger":
                used[r] = take(r, len(idx))
                if used[r] > room:
                    logger.warning(
                        "%d households hit a trigger rule%s, more than the %d visits of "
                        "capacity left: all are kept (immediate assistance).",
                        used[r],
                        "" if groups is None else f" in group {g}",
                        room,
                    )
            elif r == "model":
                # keep room for the quota routes served later, as far as they have candidates
                later = sum(
                    min(quota[q], int((candidates[q][idx] & free).sum()))
                    for q in order[i + 1 :]
                    if q in QUOTA_ROUTES
                )
                used[r] = take(r, max(room - later, 0))
            else:
                used[r] = take(r, min(quota[r], max(room, 0)))
            room -= used[r]
        if room > 0:  # room a quota route kept but could not use goes back to the model
            take("model", room)
    return route


def capacity_usage(
    table: pd.DataFrame | pl.DataFrame,
    quotas: Mapping[str, float] | None = None,
    groups: pd.Series | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Count a flag table's visits per route against its capacity and quotas.

    Parameters
    ----------
    table : DataFrame
        A flag table (pandas or polars) from :func:`needsid.flagging.flag`.
    quotas : mapping of str to float, optional
        The quotas the table was made with (default :data:`QUOTAS`).
    groups : pandas.Series or mapping, optional
        Map of household_id -> group, when the table was made with ``groups``.

    Returns
    -------
    pandas.DataFrame
        ``group, route, households, quota, capacity``: per group (None without groups)
        and route (``trigger, model, outreach, review``), the households routed, the most
        the route may take (quota routes only) and the group's capacity in households.

    Examples
    --------
    >>> import pandas as pd
    >>> from needsid.flagging import capacity_usage, flag
    >>> s = pd.DataFrame({"household_id": list("abcdefghij"),
    ...                   "score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]})
    >>> usage = capacity_usage(flag(s, capacity=0.3, as_of="2025-01-01"))
    >>> print(usage[["route", "households", "quota", "capacity"]].to_string(index=False))
       route  households  quota  capacity
     trigger           0    NaN         3
       model           3    NaN         3
    outreach           0    0.0         3
      review           0    0.0         3
    """
    from ._flag import ROUTES

    quotas = check_quotas(quotas)
    t = table.to_pandas() if hasattr(table, "to_pandas") else pd.DataFrame(table)
    if t.empty:
        return pd.DataFrame(columns=list(USAGE_COLUMNS))
    capacity = t["capacity"].iloc[0]
    capacity = int(capacity) if float(capacity).is_integer() and capacity > 1 else capacity
    name_of = {v: k for k, v in ROUTES.items()} | {EXIT_REVIEW: EXIT_REVIEW}
    # exit reviews get a row only where the table has any, so other tables read as before
    routes: tuple[str, ...] = ("trigger", "model", *QUOTA_ROUTES)
    routes += (EXIT_REVIEW,) if (t["route"] == EXIT_REVIEW).any() else ()
    if groups is None:
        labels = np.zeros(len(t), dtype=object)
    else:
        labels = t["household_id"].map(pd.Series(groups)).fillna("(missing)").to_numpy()
    rows = []
    for g in pd.unique(labels):
        part = t[labels == g]
        k = _capacity_count(capacity, int(part["score"].notna().sum()))
        counts = part["route"].map(name_of).value_counts()
        quota = _quota_counts(quotas, k)
        for r in routes:
            rows.append((None if groups is None else g, r, int(counts.get(r, 0)), quota.get(r), k))
    return pd.DataFrame(rows, columns=list(USAGE_COLUMNS))
