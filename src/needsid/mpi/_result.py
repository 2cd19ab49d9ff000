"""MPIResult: the measures, matrices and scores of one Alkire-Foster computation."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._deprecate import renamed_keywords

if TYPE_CHECKING:
    from ._alkire_foster import Measures, Prepared

__all__ = ["MPIResult"]

MEASURES = ("H", "A", "M0", "M1", "M2")


class MPIResult:
    """Read-only result of :func:`needsid.mpi.alkire_foster`.

    Scalars: ``H`` (headcount ratio, share of units that are poor), ``A`` (average
    intensity: mean score of the poor; NaN when nobody is poor), ``M0 = H * A`` (adjusted
    headcount ratio: mean censored score), ``M1`` (adjusted poverty gap) and ``M2``
    (adjusted FGT, squared gaps), both over the cardinal indicators only (NaN if none),
    ``k`` and ``n``.

    Per unit (indexed by the unit ids): ``scores`` (c_i), ``censored_scores`` (c_i(k)),
    ``is_poor``, ``deprivation_matrix`` (g0) and ``censored_deprivation_matrix`` (g0(k)).
    Per indicator: ``weights`` (normalised), ``cutoffs``, ``uncensored_headcounts``,
    ``censored_headcounts`` and ``contributions``.

    Parameters
    ----------
    prepared, measures : object
        The validated inputs and the computed measures, as
        :func:`needsid.mpi.alkire_foster` builds them (an MPIResult is not built by hand).
    subgroups : pandas.Series, optional
        Subgroup label per unit, for :meth:`by_group`.
    dimensions : dict of str to str, optional
        Indicator -> dimension, for :meth:`dimension_contributions` and :meth:`explain`.

    Examples
    --------
    >>> import numpy as np
    >>> from needsid.mpi import alkire_foster
    >>> res = alkire_foster(np.array([[0, 1], [0, 0], [2, 2]]), [1, 1], k=1)
    >>> res
    MPIResult(n=3, indicators=2, k=1, H=0.333333, A=1, M0=0.333333, M1=0.333333, M2=0.333333)
    >>> res.to_frame()
           value
    H   0.333333
    A   1.000000
    M0  0.333333
    M1  0.333333
    M2  0.333333
    """

    __slots__ = ("_dimensions", "_m", "_p", "_subgroups")
    _p: Prepared
    _m: Measures
    _subgroups: pd.Series | None
    _dimensions: dict[str, str] | None

    def __init__(
        self,
        prepared: Prepared,
        measures: Measures,
        subgroups: pd.Series | None = None,
        dimensions: dict[str, str] | None = None,
    ) -> None:
        object.__setattr__(self, "_p", prepared)
        object.__setattr__(self, "_m", measures)
        object.__setattr__(self, "_subgroups", subgroups)
        object.__setattr__(self, "_dimensions", dimensions)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"MPIResult is read-only; cannot set {name!r}.")

    def __repr__(self) -> str:
        values = ", ".join(f"{m}={getattr(self, m):.6g}" for m in MEASURES)
        return (
            f"MPIResult(n={self.n}, indicators={len(self.indicators)}, k={self.k:.6g}, {values})"
        )

    # -- scalars ---------------------------------------------------------------------------
    @property
    def H(self) -> float:
        """Headcount ratio: share of units that are multidimensionally poor."""
        return self._m.H

    @property
    def A(self) -> float:
        """Average intensity: mean deprivation score of the poor (NaN if nobody is poor)."""
        return self._m.A

    @property
    def M0(self) -> float:
        """Adjusted headcount ratio: mean censored score, equal to H * A (0 if nobody poor)."""
        return self._m.M0

    @property
    def M1(self) -> float:
        """Adjusted poverty gap: mean censored weighted normalised gap (cardinal only)."""
        return self._m.M1

    @property
    def M2(self) -> float:
        """Adjusted FGT measure: mean censored weighted squared gap (cardinal only)."""
        return self._m.M2

    @property
    def k(self) -> float:
        """Poverty cutoff, as a share of the weighted indicators."""
        return self._m.k

    @property
    def n(self) -> int:
        """Number of units."""
        return int(self._p.scores.size)

    @property
    def indicators(self) -> tuple[str, ...]:
        """Indicator names, in column order."""
        return self._p.names

    @property
    def missing(self) -> str:
        """The missing-value rule used: "raise", "deprived" or "reweight"."""
        return self._p.missing_rule

    @property
    def cardinal(self) -> tuple[str, ...]:
        """Indicators treated as cardinal (behind M1 and M2)."""
        return tuple(n for n, c in zip(self._p.names, self._p.cardinal, strict=True) if c)

    @property
    def deprived_if(self) -> dict[str, str]:
        """Deprivation rule per indicator."""
        return dict(zip(self._p.names, self._p.deprived_if, strict=True))

    @property
    def dimensions(self) -> dict[str, str] | None:
        """Indicator -> dimension, when given to :func:`alkire_foster` or by a spec."""
        return None if self._dimensions is None else dict(self._dimensions)

    @property
    def subgroups(self) -> pd.Series | None:
        """Population subgroup labels given to :func:`alkire_foster`, if any."""
        return None if self._subgroups is None else self._subgroups.copy()

    @property
    def groups(self) -> pd.Series | None:
        """Deprecated: renamed :attr:`subgroups`."""
        warnings.warn(
            "MPIResult.groups is renamed subgroups; use subgroups. groups will stop working "
            "in the next release.",
            FutureWarning,
            stacklevel=2,
        )
        return self.subgroups

    # -- per indicator ---------------------------------------------------------------------
    def _per_indicator(self, values: np.ndarray, name: str) -> pd.Series:
        return pd.Series(np.array(values, dtype=float), index=list(self._p.names), name=name)

    @property
    def weights(self) -> pd.Series:
        """Indicator weights, normalised to sum to 1."""
        return self._per_indicator(self._p.weights, "weight")

    @property
    def cutoffs(self) -> pd.Series:
        """Deprivation cutoffs z_j."""
        return self._per_indicator(self._p.cutoffs, "cutoff")

    @property
    def uncensored_headcounts(self) -> pd.Series:
        """Share of all units deprived in each indicator, poor or not."""
        g0 = np.nan_to_num(self._p.g0, nan=0.0)
        return self._per_indicator(g0.mean(axis=0), "uncensored_headcount")

    @property
    def censored_headcounts(self) -> pd.Series:
        """Share of all units that are poor and deprived in each indicator."""
        g0k = np.nan_to_num(self._p.g0, nan=0.0) * self._m.poor[:, None]
        return self._per_indicator(g0k.mean(axis=0), "censored_headcount")

    @property
    def contributions(self) -> pd.Series:
        """Each indicator's share of M0, ``w_j * CH_j / M0``; sums to 1 (NaN if M0 = 0).

        With ``missing="reweight"`` a unit's own renormalised weights are used, so the
        shares still add up to 1 exactly.
        """
        g0k = np.nan_to_num(self._p.g0, nan=0.0) * self._m.poor[:, None]
        part = (self._p.unit_weights * g0k).sum(axis=0) / self.n
        share = part / self.M0 if self.M0 > 0 else np.full(part.shape, np.nan)
        return self._per_indicator(share, "contribution")

    # -- per unit --------------------------------------------------------------------------
    def _per_unit(self, values: np.ndarray, name: str) -> pd.Series:
        return pd.Series(np.array(values), index=self._p.ids.copy(), name=name)

    @property
    def scores(self) -> pd.Series:
        """Deprivation score c_i: sum of the weights of the indicators a unit is deprived in."""
        return self._per_unit(self._p.scores, "score")

    @property
    def censored_scores(self) -> pd.Series:
        """Censored score c_i(k): the score of the poor, 0 for the non-poor."""
        return self._per_unit(self._m.censored_scores, "censored_score")

    @property
    def is_poor(self) -> pd.Series:
        """Whether each unit is multidimensionally poor (c_i >= k)."""
        return self._per_unit(self._m.poor, "is_poor")

    def _matrix(self, values: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(values, index=self._p.ids.copy(), columns=list(self._p.names))
        return frame.astype("Int8")

    @property
    def deprivation_matrix(self) -> pd.DataFrame:
        """Deprivation matrix g0: 1 where a unit is deprived in an indicator, else 0.

        A nullable Int8 frame, one row per unit and one column per indicator.

        <NA> marks a missing value under ``missing="reweight"``; under ``"deprived"`` it is 1.
        """
        return self._matrix(self._p.g0)

    @property
    def censored_deprivation_matrix(self) -> pd.DataFrame:
        """Censored deprivation matrix g0(k): the rows of the non-poor set to 0."""
        return self._matrix(np.where(self._m.poor[:, None], self._p.g0, 0.0))

    # -- tables and decompositions -----------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Return the measures as a table.

        Returns
        -------
        pandas.DataFrame
            One row per measure (H, A, M0, M1, M2) in a column ``value``.

        Examples
        --------
        >>> import numpy as np
        >>> from needsid.mpi import alkire_foster
        >>> res = alkire_foster(np.array([[0, 1], [0, 0], [2, 2]]), [1, 1], k=1)
        >>> res.to_frame().loc[["H", "M0"], "value"].round(3).tolist()
        [0.333, 0.333]
        """
        return pd.DataFrame(
            {"value": [getattr(self, m) for m in MEASURES]}, index=pd.Index(MEASURES)
        )

    @renamed_keywords(groups="subgroups")
    def by_group(self, subgroups: Any = None) -> pd.DataFrame:
        """Subgroup decomposition; see :func:`needsid.mpi.decompose`.

        Parameters
        ----------
        subgroups : array-like or pandas.Series, optional
            Subgroup label per unit. Default: the ``subgroups`` given to
            :func:`needsid.mpi.alkire_foster`. Formerly ``groups``, accepted for one
            release with a FutureWarning.

        Returns
        -------
        pandas.DataFrame
            One row per subgroup, as :func:`needsid.mpi.decompose` returns.

        Raises
        ------
        ValueError
            If there are no subgroups, or the labels do not match the units.

        Examples
        --------
        >>> import numpy as np
        >>> from needsid.mpi import alkire_foster
        >>> res = alkire_foster(np.array([[0, 0], [0, 1], [1, 1]]), [1, 1], k=0.5,
        ...                     subgroups=["a", "a", "b"])
        >>> res.by_group()["H"].to_dict()
        {'a': 1.0, 'b': 0.0}
        """
        from ._decompose import decompose

        return decompose(self, subgroups)

    def dimension_contributions(self, dimensions: Mapping[str, str] | None = None) -> pd.Series:
        """Sum the indicators' contributions to M0 by dimension.

        See :func:`needsid.mpi.dimension_contributions`.

        Parameters
        ----------
        dimensions : mapping of str to str, optional
            Indicator -> dimension. Default: the ``dimensions`` given to
            :func:`needsid.mpi.alkire_foster`.

        Returns
        -------
        pandas.Series
            Contribution per dimension (summing to 1), named ``contribution``.

        Raises
        ------
        ValueError
            If there are no dimensions, or they do not name every indicator.

        Examples
        --------
        >>> import numpy as np
        >>> from needsid.mpi import alkire_foster
        >>> res = alkire_foster(np.array([[0, 1], [0, 0], [2, 2]]), [1, 1], k=1)
        >>> res.dimension_contributions({"x0": "health", "x1": "education"}).to_dict()
        {'health': 0.5, 'education': 0.5}
        """
        from ._decompose import dimension_contributions

        return dimension_contributions(self, dimensions)

    def explain(
        self, unit_ids: Any = None, dimensions: Mapping[str, str] | None = None
    ) -> pd.Series:
        """Return a short reason text per unit: poor or not, and deprived in what.

        See :func:`needsid.mpi.explain`.

        Parameters
        ----------
        unit_ids : label or list of labels, optional
            Units to explain (default all), by the ids of the result's index.
        dimensions : mapping of str to str, optional
            Indicator -> dimension, to name dimensions (with their indicators) rather
            than indicators. Default: the ``dimensions`` given to
            :func:`needsid.mpi.alkire_foster`, else indicators only.

        Returns
        -------
        pandas.Series
            One text per unit, named ``explanation``.

        Raises
        ------
        KeyError
            If a unit id is not in the result.

        Examples
        --------
        >>> import numpy as np
        >>> from needsid.mpi import alkire_foster
        >>> res = alkire_foster(np.array([[0, 1], [0, 0], [2, 2]]), [1, 1], k=1)
        >>> res.explain(2).iloc[0]
        'not poor: no deprivations (score 0.00 < k 1.00)'
        """
        from ._decompose import explain

        return explain(self, unit_ids, dimensions)
