"""Alkire-Foster identification (dual cutoff) and the adjusted FGT measures M0, M1, M2."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._deprecate import renamed_keywords
from ._inputs import (
    TOLERANCE,
    align_subgroups,
    as_frame,
    cardinal_mask,
    check_k,
    check_missing,
    directions,
    normalised_weights,
    per_indicator,
)
from ._result import MPIResult

__all__ = ["alkire_foster", "robustness"]


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything that does not depend on k: deprivations, weights, gaps and scores."""

    ids: pd.Index
    names: tuple[str, ...]
    cutoffs: np.ndarray
    deprived_if: tuple[str, ...]
    weights: np.ndarray  # normalised to sum to 1
    cardinal: np.ndarray  # bool per indicator
    missing_rule: str
    missing: np.ndarray  # bool, n x d
    g0: np.ndarray  # 0/1, NaN where missing under 'reweight'
    unit_weights: np.ndarray  # n x d, each row sums to 1 (0 on unobserved entries)
    gaps: np.ndarray  # normalised gaps in [0, 1] on cardinal columns, else 0
    scores: np.ndarray


@dataclass(frozen=True, eq=False)
class Measures:
    """Identification at one k and the aggregate measures."""

    k: float
    poor: np.ndarray
    censored_scores: np.ndarray
    gap_scores: np.ndarray  # per unit: censored weighted gaps (alpha=1)
    squared_gap_scores: np.ndarray  # alpha=2
    H: float
    A: float
    M0: float
    M1: float
    M2: float


def _deprived(x: np.ndarray, z: float, rule: str) -> np.ndarray:
    # NaN compares False everywhere, so missing entries come out "not deprived" here and
    # are set explicitly by the missing rule afterwards.
    if rule == "below":
        return x < z
    if rule == "at_or_below":
        return x <= z
    if rule == "above":
        return x > z
    return x >= z


def prepare(
    matrix: Any,
    cutoffs: Any,
    weights: Any = None,
    *,
    deprived_if: str | Mapping[str, str] = "below",
    missing: str = "raise",
    cardinal: Any = None,
) -> Prepared:
    """Validate the inputs and compute the k-independent part of the method."""
    frame = as_frame(matrix)
    names = tuple(frame.columns)
    z = per_indicator(cutoffs, names, "cutoffs")
    w = normalised_weights(weights, names)
    rules = directions(deprived_if, names)
    card = cardinal_mask(cardinal, names)
    bad_cut = [n for n, c, zj in zip(names, card, z, strict=True) if c and zj <= 0]
    if bad_cut:
        raise ValueError(
            f"Cardinal indicators {bad_cut!r} have a cutoff <= 0, so the normalised gap "
            "|z - x| / z is undefined; use a positive cutoff or leave them out of cardinal=."
        )
    mask = check_missing(frame, missing)
    x = frame.to_numpy()
    n, d = x.shape

    g0 = np.column_stack([_deprived(x[:, j], z[j], rules[j]) for j in range(d)]).astype(float)
    below = np.array([r in ("below", "at_or_below") for r in rules])
    with np.errstate(invalid="ignore", divide="ignore"):
        raw_gap = np.where(below, z - x, x - z) / z
    gaps = np.where(card & (g0 == 1), np.clip(raw_gap, 0.0, 1.0), 0.0)

    if missing == "deprived":
        g0[mask] = 1.0
        gaps[mask & card] = 1.0
        unit_w = np.broadcast_to(w, (n, d)).copy()
    elif missing == "reweight":
        g0[mask] = np.nan
        gaps[mask] = np.nan
        observed_w = np.where(mask, 0.0, w)
        total = observed_w.sum(axis=1)
        empty = total <= 0
        if empty.any():
            ids = frame.index[empty][:3].tolist()
            raise ValueError(
                f"With missing='reweight', {int(empty.sum())} units have no observed "
                f"indicator with a positive weight (e.g. ids {ids!r}), so they have no score; "
                "drop them or use missing='deprived'."
            )
        unit_w = observed_w / total[:, None]
    else:
        unit_w = np.broadcast_to(w, (n, d)).copy()

    scores = (unit_w * np.nan_to_num(g0, nan=0.0)).sum(axis=1)
    arrays = (z, w, card, mask, g0, unit_w, gaps, scores)
    for a in arrays:
        a.setflags(write=False)
    return Prepared(
        ids=frame.index,
        names=names,
        cutoffs=z,
        deprived_if=rules,
        weights=w,
        cardinal=card,
        missing_rule=missing,
        missing=mask,
        g0=g0,
        unit_weights=unit_w,
        gaps=gaps,
        scores=scores,
    )


def measure(prep: Prepared, k: float) -> Measures:
    """Identify the poor at k (c_i >= k, with a 1e-12 tolerance) and aggregate."""
    scores = prep.scores
    n = scores.size
    # c_i > 0 keeps units without any deprivation out when k is within the tolerance of 0.
    poor = (scores >= k - TOLERANCE) & (scores > 0)
    censored = np.where(poor, scores, 0.0)
    q = int(poor.sum())
    H = q / n
    A = float(censored.sum() / q) if q else float("nan")
    M0 = float(censored.sum() / n)

    # M1/M2 average gaps over the cardinal indicators only, with the unit's weights
    # renormalised over its (observed) cardinal indicators.
    card_w = np.where(prep.cardinal & ~np.isnan(prep.gaps), prep.unit_weights, 0.0)
    total = card_w.sum(axis=1)
    gaps = np.nan_to_num(prep.gaps, nan=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        g1 = (card_w * gaps).sum(axis=1) / total
        g2 = (card_w * gaps**2).sum(axis=1) / total
    if not prep.cardinal.any() or not (prep.weights[prep.cardinal] > 0).any():
        g1 = np.full(n, np.nan)
        g2 = np.full(n, np.nan)
    else:
        # A poor unit with no observed cardinal indicator has an unknown gap: NaN, not 0.
        g1 = np.where(poor, g1, 0.0)
        g2 = np.where(poor, g2, 0.0)
    M1 = float(g1.mean())
    M2 = float(g2.mean())
    for a in (poor, censored, g1, g2):
        a.setflags(write=False)
    return Measures(k, poor, censored, g1, g2, H, A, M0, M1, M2)


@renamed_keywords(groups="subgroups")
def alkire_foster(
    matrix: Any,
    cutoffs: Any,
    weights: Any = None,
    k: float | None = None,
    *,
    deprived_if: str | Mapping[str, str] = "below",
    missing: str = "raise",
    cardinal: Iterable[str] | Mapping[str, bool] | None = None,
    subgroups: Any = None,
    dimensions: Mapping[str, str] | None = None,
) -> MPIResult:
    """Alkire-Foster multidimensional poverty measures (dual-cutoff method).

    A unit is deprived in indicator j when its achievement x_ij falls short of the
    deprivation cutoff z_j. Its deprivation score c_i is the sum of the weights of the
    indicators it is deprived in. It is multidimensionally poor when c_i >= k (compared with
    a tolerance of 1e-12, so that e.g. three weights of 1/9 reach k=1/3). Then
    H = q / n, A = mean score of the poor and M0 = H * A = mean censored score.

    Parameters
    ----------
    matrix : pandas.DataFrame, polars.DataFrame or numpy.ndarray
        Achievements, one row per unit (household or person) and one column per indicator.
        Column names are the indicator names (``"x0"``, ``"x1"``, ... for arrays); a pandas
        index is kept as the unit ids (a polars frame or an array gets 0..n-1).
    cutoffs : mapping or sequence of float
        Deprivation cutoff z_j per indicator (mapping name -> value, or aligned with the
        columns).
    weights : mapping or sequence of float, optional
        Indicator weights, >= 0 and not all zero. They are normalised to sum to 1, so
        ``(1, 1, 2)`` and ``(0.25, 0.25, 0.5)`` are the same. Default: equal weights.
    k : float
        Poverty cutoff as a share of the weighted indicators, 0 < k <= 1 (required). The
        union approach is k <= the smallest positive weight, the intersection k = 1.
    deprived_if : str or mapping, default "below"
        When a unit is deprived: ``"below"`` (x < z), ``"at_or_below"`` (x <= z),
        ``"above"`` (x > z) or ``"at_or_above"`` (x >= z). A mapping indicator -> rule
        overrides the default ``"below"`` for some indicators, e.g. 0/1 indicators where
        1 = deprived take ``"at_or_above"`` with cutoff 1.
    missing : {"raise", "deprived", "reweight"}, default "raise"
        What a missing value (NaN) means. ``"raise"`` refuses them, naming the indicators
        and example unit ids. ``"deprived"`` counts a missing value as deprived
        (conservative; its normalised gap is 1). ``"reweight"`` renormalises the unit's
        weights over its observed indicators (its missing entries are <NA> in the
        deprivation matrices and do not count in the headcounts; a unit with nothing
        observed is an error; M1 and M2 are NaN if a poor unit has no observed cardinal
        indicator). A missing value is never silently "not deprived".
    cardinal : collection of str or mapping str -> bool, optional
        Indicators whose values are cardinal, so that the normalised gaps |z - x| / z behind
        M1 and M2 mean something. A collection lists the cardinal ones (the others are
        ordinal or binary); a mapping flags each listed one (unlisted ones stay cardinal).
        Default: all cardinal. M1 and M2 average the gaps over the cardinal indicators only,
        with the weights renormalised over them; they are NaN when none is cardinal. Gaps
        are capped at 1 (achievements are assumed non-negative, as in Alkire and Foster).
        Binary 0/1 indicators should not be cardinal: a gap is meaningless for them.
    subgroups : array-like or pandas.Series, optional
        Population subgroup label per unit (e.g. region), kept for
        :func:`decompose` and :meth:`MPIResult.by_group`. Formerly ``groups``, accepted
        for one release with a FutureWarning.
    dimensions : mapping str -> str, optional
        Indicator -> dimension, kept for :meth:`MPIResult.dimension_contributions` and
        :meth:`MPIResult.explain`.

    Returns
    -------
    MPIResult
        The measures (H, A, M0, M1, M2), the deprivation matrices, scores and
        decompositions.

    Raises
    ------
    ValueError
        For k outside (0, 1], negative or all-zero weights, missing values with
        ``missing="raise"``, unknown indicator names and other invalid input; the message
        names the parameter and the fix.

    References
    ----------
    Alkire, S. and Foster, J. (2011). Counting and multidimensional poverty measurement.
    Journal of Public Economics 95(7-8), 476-487.

    Examples
    --------
    Four households, three indicators where low values are bad:

    >>> import pandas as pd
    >>> x = pd.DataFrame(
    ...     {"income": [5, 20, 8, 30], "schooling": [3, 10, 4, 12], "rooms": [1, 1, 3, 4]},
    ...     index=["h1", "h2", "h3", "h4"],
    ... )
    >>> res = alkire_foster(x, {"income": 10, "schooling": 6, "rooms": 2}, k=2 / 3)
    >>> res.scores.round(3).tolist()
    [1.0, 0.333, 0.667, 0.0]
    >>> res.is_poor.tolist()
    [True, False, True, False]
    >>> round(res.H, 3), round(res.A, 3), round(res.M0, 3)
    (0.5, 0.833, 0.417)

    With population subgroups, for the decomposition:

    >>> res = alkire_foster(x, {"income": 10, "schooling": 6, "rooms": 2}, k=2 / 3,
    ...                     subgroups=["north", "north", "south", "south"])
    >>> res.by_group()["H"].tolist()
    [0.5, 0.5]
    """
    if k is None:
        raise TypeError(
            "alkire_foster() needs k, the poverty cutoff as a share of the weighted "
            "indicators (0 < k <= 1), e.g. k=1/3."
        )
    k = check_k(k)
    prep = prepare(
        matrix, cutoffs, weights, deprived_if=deprived_if, missing=missing, cardinal=cardinal
    )
    labels = None if subgroups is None else align_subgroups(subgroups, prep.ids)
    return MPIResult(prep, measure(prep, k), labels, _dimension_map(dimensions, prep.names))


def _dimension_map(
    dimensions: Mapping[str, str] | None, names: tuple[str, ...]
) -> dict[str, str] | None:
    if dimensions is None:
        return None
    dims = {str(i): str(d) for i, d in dimensions.items()}
    missing = [n for n in names if n not in dims]
    if missing:
        raise ValueError(
            f"dimensions misses indicators {missing!r}; map every indicator to its "
            "dimension, e.g. {'nutrition': 'health', ...}."
        )
    return {n: dims[n] for n in names}


def robustness(
    matrix: Any,
    cutoffs: Any,
    weights: Any = None,
    ks: Iterable[float] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """H, A, M0, M1 and M2 over a range of poverty cutoffs k.

    The deprivations and scores are computed once; only the identification step changes
    with k. H and M0 never increase with k.

    Parameters
    ----------
    matrix : pandas.DataFrame, polars.DataFrame or numpy.ndarray
        Achievements, as in :func:`alkire_foster`.
    cutoffs : array-like or mapping
        Deprivation cutoffs, as in :func:`alkire_foster`.
    weights : array-like or mapping, optional
        Indicator weights, as in :func:`alkire_foster`.
    ks : iterable of float, optional
        Poverty cutoffs to try, each in (0, 1]. Default: every distinct positive score in
        the data (the values of k at which H changes).
    **kwargs
        ``deprived_if``, ``missing`` and ``cardinal``, as in :func:`alkire_foster`.

    Returns
    -------
    pandas.DataFrame
        One row per k (sorted, index ``k``) with columns ``n_poor``, ``H``, ``A``, ``M0``,
        ``M1``, ``M2``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 1], [1, 1, 0]])
    >>> table = robustness(x, [1, 1, 1], ks=[1 / 3, 2 / 3, 1], deprived_if="at_or_above")
    >>> table.reset_index()[["k", "n_poor", "H", "M0"]].round(3)
           k  n_poor     H     M0
    0  0.333       4  1.00  0.667
    1  0.667       3  0.75  0.583
    2  1.000       1  0.25  0.250
    """
    allowed = {"deprived_if", "missing", "cardinal"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(
            f"robustness() got unexpected arguments {unknown!r}; it accepts {sorted(allowed)}."
        )
    prep = prepare(matrix, cutoffs, weights, **kwargs)
    if ks is None:
        positive = prep.scores[prep.scores > 0]
        ks = np.unique(np.round(positive, 12)) if positive.size else np.array([1.0])
    levels = sorted({check_k(k) for k in ks})
    rows = []
    for k in levels:
        m = measure(prep, k)
        rows.append((k, int(m.poor.sum()), m.H, m.A, m.M0, m.M1, m.M2))
    table = pd.DataFrame(rows, columns=["k", "n_poor", "H", "A", "M0", "M1", "M2"])
    return table.set_index("k")
