"""Precision at capacity without labels: what the model's calibrated scores promise.

A calibrated score is the chance a household is in need; among the ``k`` flagged, the
expected number in need is the sum of their scores, and its variance the sum of
``p (1 - p)`` (a Poisson-binomial count). That interval covers the randomness of who
is in need given well-calibrated scores, not miscalibration: it is why the observed
precision, where verification outcomes exist, sits beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from ..evaluate._metrics import _capacity_count

__all__ = ["PrecisionEstimate", "estimated_precision", "observed_precision"]


@dataclass(frozen=True)
class PrecisionEstimate:
    """A precision with its interval.

    Parameters
    ----------
    precision : float
        The estimate (NaN when nothing was counted).
    low, high : float
        The interval's bounds.
    n : int
        Households it rests on: the flagged for the estimate, the flagged with a
        verification outcome for the observed precision.

    Examples
    --------
    >>> from needsid.monitoring import estimated_precision
    >>> estimated_precision([0.9, 0.8, 0.1, 0.05], capacity=2).n
    2
    """

    precision: float
    low: float
    high: float
    n: int


def estimated_precision(
    scores: npt.ArrayLike, capacity: float, *, confidence: float = 0.95
) -> PrecisionEstimate:
    """Estimate the precision of flagging the top ``capacity`` by calibrated score.

    Parameters
    ----------
    scores : array-like of float
        Calibrated probabilities of need, one per household scored.
    capacity : float or int
        A share of the households in (0, 1], or a count.
    confidence : float, default=0.95
        Of the normal interval around the expected count.

    Returns
    -------
    PrecisionEstimate
        The mean score among the flagged, and an interval from the Poisson-binomial
        variance of the number in need (clipped to [0, 1]).

    Raises
    ------
    ValueError
        If a score is missing or outside [0, 1], or the capacity is not a share or a
        count.

    Examples
    --------
    >>> from needsid.monitoring import estimated_precision
    >>> est = estimated_precision([0.9, 0.8, 0.1, 0.05], capacity=0.5)
    >>> round(est.precision, 2), est.n
    (0.85, 2)
    """
    p = np.asarray(scores, dtype=float).ravel()
    if p.size == 0 or np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("scores must be calibrated probabilities in [0, 1], none missing.")
    k = _capacity_count(capacity, p.size)
    top = np.sort(p)[::-1][:k]
    if k == 0:
        return PrecisionEstimate(math.nan, math.nan, math.nan, 0)
    mean = float(top.mean())
    half = float(stats.norm.ppf(0.5 + confidence / 2) * math.sqrt(np.sum(top * (1 - top))) / k)
    return PrecisionEstimate(mean, max(0.0, mean - half), min(1.0, mean + half), k)


def observed_precision(outcomes: npt.ArrayLike, *, confidence: float = 0.95) -> PrecisionEstimate:
    """Share in need among flagged households whose need was verified, Wilson interval.

    Only households a caseworker verified have an outcome, so this is the precision
    among the verified flagged. Compare it with :func:`estimated_precision` over the
    same households, not over all the flagged, when verification is selective.

    Parameters
    ----------
    outcomes : array-like of bool or None
        Verified need (True / False) of the flagged; None or NaN where not verified.
    confidence : float, default=0.95
        Of the Wilson score interval.

    Returns
    -------
    PrecisionEstimate
        NaN with ``n=0`` when nobody was verified.

    Examples
    --------
    >>> from needsid.monitoring import observed_precision
    >>> obs = observed_precision([True, True, False, None])
    >>> round(obs.precision, 3), obs.n
    (0.667, 3)
    """
    raw = np.asarray(outcomes, dtype=object).ravel()
    known = np.array([v is not None and not (isinstance(v, float) and math.isnan(v)) for v in raw])
    y = raw[known].astype(bool) if known.any() else np.empty(0, dtype=bool)
    n = int(y.size)
    if n == 0:
        return PrecisionEstimate(math.nan, math.nan, math.nan, 0)
    phat = float(y.mean())
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return PrecisionEstimate(phat, max(0.0, centre - half), min(1.0, centre + half), n)
