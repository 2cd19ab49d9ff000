"""Fairness constraints of an allocation: small frozen dataclasses the solver turns into rows."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["NeedFloor"]


@dataclass(frozen=True)
class NeedFloor:
    """Each group gets at least a share of its own estimated need met.

    For every value ``g`` of the column ``group``:

        need met among g's households >= share * estimated need of g's households

    where a household's estimated need is the sum of its need probabilities over the
    dimensions the catalogue serves, and need met is the allocation's expected need met
    (see :func:`allocate`). The floor is set against each group's own need, not against
    the national rate, so a region with more need is owed more. It can be infeasible: a
    group whose eligible programmes cannot reach it, or floors that together cost more
    than the budget; :func:`allocate` says which.

    Parameters
    ----------
    group : str
        A column of the household frame, e.g. ``"region_id"`` or ``"urban"``. No nulls.
    share : float
        In [0, 1].

    Examples
    --------
    >>> from needsid.allocation import NeedFloor
    >>> NeedFloor(group="region_id", share=0.3).describe()
    'NeedFloor(region_id, 30% of need)'
    """

    group: str
    share: float

    def __post_init__(self) -> None:
        if not isinstance(self.group, str) or not self.group:
            raise ValueError(
                f"Got group={self.group!r}; expected a column name such as 'region_id'."
            )
        share = self.share
        if isinstance(share, bool) or not isinstance(share, int | float):
            raise ValueError(f"Got share={share!r}; expected a number in [0, 1], e.g. 0.3.")
        if not (math.isfinite(share) and 0 <= share <= 1):
            raise ValueError(f"Got share={share!r}; expected a number in [0, 1], e.g. 0.3.")
        object.__setattr__(self, "share", float(share))

    def describe(self) -> str:
        """Return the constraint as short text, for tables and messages.

        Returns
        -------
        str
            ``NeedFloor(<group>, <share>% of need)``.

        Examples
        --------
        >>> from needsid.allocation import NeedFloor
        >>> NeedFloor("region_id", 0.25).describe()
        'NeedFloor(region_id, 25% of need)'
        """
        return f"NeedFloor({self.group}, {self.share * 100:g}% of need)"
