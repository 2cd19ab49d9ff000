"""The rules-only baseline: which test households the rule set alone would flag for help.

Only rule kinds that point at a household *in need* count as flags: ``trigger`` (a shock
just happened: a death, a hospital bill, a disaster) and ``outreach`` (no data, and
elderly alone or severely disabled). ``cross_check`` hits (a benefit paid after a death,
an asset test failed) and ``exit`` hits (a recipient whose income recovered) point at
households that should *lose* a benefit, so counting them as "needs help" flags would
credit the rules with the opposite of what they mean.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._split import TemporalSplit

if TYPE_CHECKING:
    from ..rules import RuleHits

__all__ = ["FLAG_KINDS", "rule_flags"]

#: Rule kinds whose hits mean "this household may need help" (see the module docstring).
FLAG_KINDS = ("trigger", "outreach")
_ALL_KINDS = ("trigger", "cross_check", "exit", "outreach", "process")


def rule_flags(
    hits: RuleHits,
    households: TemporalSplit | npt.ArrayLike,
    *,
    kinds: Sequence[str] = FLAG_KINDS,
) -> npt.NDArray[np.bool_]:
    """Flag the households hit by any rule of the given kinds, aligned to ``households``.

    Feed the result to ``compare(..., rule_flags=...)`` for the "rules only" row.
    Evaluate the rules at the split's test date, preferably with ``suppress=False`` so
    that every household whose condition holds is flagged (suppression hides households
    already flagged in the months before, which a point-in-time comparison should count).

    Parameters
    ----------
    hits : needsid.rules.RuleHits
        Hits of a rule set.
    households : TemporalSplit or array-like of str
        A split (its test households; ``hits.as_of`` must equal ``split.test_as_of``) or
        household ids in the order wanted.
    kinds : sequence of str, default=("trigger", "outreach")
        Rule kinds that count as a flag.

    Returns
    -------
    ndarray of bool
        One per household, True where at least one hit of the given kinds names it.

    Raises
    ------
    ValueError
        If ``kinds`` holds an unknown rule kind or is empty, or the hits are not as of
        the split's test date.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.evaluate import rule_flags
    >>> from needsid.rules import load
    >>> pop = ni.simulate(n_households=500, months=12, seed=0)
    >>> hits = load().evaluate(pop.bundle, "2024-01-01")
    >>> flags = rule_flags(hits, pop.bundle.households["household_id"])
    >>> flags.shape == (pop.bundle.households.height,)
    True
    """
    bad = [k for k in kinds if k not in _ALL_KINDS] if not isinstance(kinds, str) else [kinds]
    if bad or not len(kinds):
        raise ValueError(
            f"Got kinds={kinds!r}; expected a non-empty sequence of rule kinds from "
            f"{list(_ALL_KINDS)!r}, e.g. {list(FLAG_KINDS)!r}."
        )
    if isinstance(households, TemporalSplit):
        as_of = hits.as_of if isinstance(hits.as_of, dt.date) else None
        if as_of != households.test_as_of:
            raise ValueError(
                f"The rule hits are as of {hits.as_of}, the split's test date is "
                f"{households.test_as_of.isoformat()}; evaluate the rules at "
                "split.test_as_of so they see the same records as the models."
            )
        ids = households.test["household_id"]
    else:
        ids = households
    ids = pd.Series(np.asarray(ids, dtype=object)).astype(str)
    frame = hits.to_frame()
    frame = frame if isinstance(frame, pd.DataFrame) else frame.to_pandas()
    hit = frame.loc[frame["kind"].isin(list(kinds)), "household_id"].astype(str).unique()
    return np.asarray(ids.isin(hit), dtype=bool)
