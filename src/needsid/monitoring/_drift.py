"""Population stability (PSI) with a critical value that depends on the sample sizes.

The 0.1 / 0.25 rule of thumb ignores how many households were compared: on 100,000 it
misses real shifts, on 200 it cries wolf. Under "no change", and for two independent
samples of sizes ``n`` and ``m`` binned into ``B`` bins, ``PSI / (1/n + 1/m)`` is
approximately chi-squared with ``B - 1`` degrees of freedom (Yurdakul, 2018, *Statistical
properties of the population stability index*). The critical value is that quantile
scaled back. The same households appear in a county's reference and current months, so
the two samples are positively correlated and the test errs on the side of calm.

Records arrive on a calendar (wages by the month's working days, yearly income surveys,
school terms), so on a large county a month differs from the month before even when
nothing changed. :func:`psi_change` tests the month's change against the change between
the same two calendar months a year before (a seasonal difference of the shares).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["PSIResult", "psi", "psi_change", "psi_critical"]

#: Added to every bin's count before the shares are taken, so that an empty bin on one
#: side gives a large but finite term.
SMOOTHING = 0.5


@dataclass(frozen=True)
class PSIResult:
    """One population stability index and its test.

    Parameters
    ----------
    psi : float
        The index, ``sum((c - r) * ln(c / r))`` over the bins' shares.
    critical : float
        The value ``psi`` exceeds with probability ``alpha`` when nothing changed; NaN
        when both samples fall in a single bin (the same constant), where nothing can
        be tested.
    bins : int
        Bins holding a value of either sample (the reference's distinct quantile
        edges make the bins; missing values are one more).
    n_reference, n_current : int
        Sample sizes.

    Examples
    --------
    >>> from needsid.monitoring import psi
    >>> result = psi([1, 2, 3, 4] * 50, [1, 2, 3, 4] * 50, bins=4)
    >>> result.psi, result.drifted
    (0.0, False)
    """

    psi: float
    critical: float
    bins: int
    n_reference: int
    n_current: int

    @property
    def drifted(self) -> bool:
        """Whether ``psi`` exceeds the critical value."""
        return bool(self.psi > self.critical) if not math.isnan(self.critical) else False


def psi_critical(
    n_reference: int, n_current: int, bins: int, alpha: float = 0.01, *more: int
) -> float:
    """Return the PSI that ``alpha`` of unchanged samples exceed.

    Parameters
    ----------
    n_reference, n_current : int
        Sizes of the two samples (each at least 1).
    bins : int
        Number of bins (at least 2).
    alpha : float, default=0.01
        The false-alarm rate per comparison, in (0, 1).
    *more : int
        Sizes of further samples the index's expected shares were estimated from
        (:func:`psi_change`: the same two months a year before); each adds its
        ``1 / n`` to the variance.

    Returns
    -------
    float
        ``(1 / n_reference + 1 / n_current + sum(1 / n for n in more)) *
        chi2.ppf(1 - alpha, bins - 1)``.

    Raises
    ------
    ValueError
        If a size is below 1, ``bins`` below 2 or ``alpha`` outside (0, 1).

    Examples
    --------
    >>> from needsid.monitoring import psi_critical
    >>> round(psi_critical(100_000, 100_000, 10), 5)
    0.00043
    >>> round(psi_critical(200, 200, 10), 3)
    0.217
    """
    if min(n_reference, n_current, *more) < 1:
        sizes = ", ".join(str(n) for n in (n_reference, n_current, *more))
        raise ValueError(f"Got sample sizes {sizes}; expected each >= 1.")
    if bins < 2:
        raise ValueError(f"Got bins={bins}; a test needs at least 2.")
    if not 0 < alpha < 1:
        raise ValueError(f"Got alpha={alpha!r}; expected a probability in (0, 1).")
    variance = sum(1 / n for n in (n_reference, n_current, *more))
    return float(variance * stats.chi2.ppf(1 - alpha, bins - 1))


def _edges(reference: npt.NDArray[np.float64], bins: int) -> npt.NDArray[np.float64]:
    """Interior bin edges: the reference's distinct quantiles (ties merge bins)."""
    finite = reference[~np.isnan(reference)]
    if finite.size == 0:
        return np.empty(0)
    q = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1], method="lower")
    # values above the reference's largest edge fall in a last bin, empty in the
    # reference when that edge is its maximum: new values still show as drift
    return np.unique(q)


def _counts(
    values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Count the values per bin ``(-inf, e1], ..., (ek, inf)``, then the missing ones."""
    missing = np.isnan(values)
    idx = np.searchsorted(edges, values[~missing], side="left")
    counts = np.bincount(idx, minlength=edges.size + 1)
    return np.append(counts, missing.sum()).astype(np.int64)


def _as_array(values: Sequence[float] | npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numbers (missing as NaN or None): {exc}") from None
    if arr.size == 0:
        raise ValueError(f"{name} is empty; PSI needs at least one value on each side.")
    return arr


def _four(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    reference_year_before: npt.ArrayLike,
    current_year_before: npt.ArrayLike,
    bins: int,
) -> list[npt.NDArray[np.float64]]:
    """Check ``bins`` and the four samples of a change test; return them as arrays."""
    if bins < 2:
        raise ValueError(f"Got bins={bins}; PSI needs at least 2.")
    return [
        _as_array(values, name)
        for values, name in (
            (reference, "reference"),
            (current, "current"),
            (reference_year_before, "reference_year_before"),
            (current_year_before, "current_year_before"),
        )
    ]


def psi(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    bins: int = 10,
    alpha: float = 0.01,
) -> PSIResult:
    """Compare two samples of one feature with the population stability index.

    Bins are the reference's quantiles (at most ``bins``; tied quantiles merge, so a
    count feature that is mostly 0 gets few bins). Missing values are a bin of their own:
    a department that stops sending records shows up as drift.

    Parameters
    ----------
    reference, current : array-like of float
        The feature in the reference window and in the month compared; NaN or None is
        missing.
    bins : int, default=10
        Most quantile bins.
    alpha : float, default=0.01
        False-alarm rate of the test (see :func:`psi_critical`).

    Returns
    -------
    PSIResult
        The index, its critical value and whether it drifted.

    Raises
    ------
    ValueError
        If a sample is empty or ``bins`` is below 2.
    TypeError
        If a sample is not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> from needsid.monitoring import psi
    >>> rng = np.random.default_rng(0)
    >>> same = psi(rng.normal(size=5000), rng.normal(size=5000))
    >>> same.drifted
    False
    >>> shifted = psi(rng.normal(size=5000), rng.normal(0.2, size=5000))
    >>> shifted.drifted, shifted.psi > shifted.critical
    (True, True)
    """
    if bins < 2:
        raise ValueError(f"Got bins={bins}; PSI needs at least 2.")
    ref = _as_array(reference, "reference")
    cur = _as_array(current, "current")
    edges = _edges(ref, bins)
    return _psi_counts(_counts(ref, edges), _counts(cur, edges), alpha)


def _psi_counts(r: npt.NDArray[np.int64], c: npt.NDArray[np.int64], alpha: float) -> PSIResult:
    """:func:`psi` from the two samples' counts in the reference's bins."""
    n_ref, n_cur = int(r.sum()), int(c.sum())
    used = (r + c) > 0
    r, c = r[used], c[used]
    n_bins = int(used.sum())
    if n_bins < 2:
        return PSIResult(0.0, math.nan, n_bins, n_ref, n_cur)
    rs = (r + SMOOTHING) / (r + SMOOTHING).sum()
    cs = (c + SMOOTHING) / (c + SMOOTHING).sum()
    value = float(np.sum((cs - rs) * np.log(cs / rs)))
    return PSIResult(value, psi_critical(n_ref, n_cur, n_bins, alpha), n_bins, n_ref, n_cur)


def psi_change(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    reference_year_before: npt.ArrayLike,
    current_year_before: npt.ArrayLike,
    *,
    bins: int = 10,
    alpha: float = 0.01,
) -> PSIResult:
    """Test whether a month moved differently from the same month a year before.

    Bins are ``reference``'s quantiles, as in :func:`psi`; all four samples are counted
    in them. The shares expected in ``current`` repeat the year before's flows: each
    bin keeps the share of its values that it kept a year before (``min(c0 / r0, 1)``),
    and the rest go to the bins that gained a year before, in proportion to their gains
    (``max(c0 - r0, 0)``); the index is the PSI of ``current`` against these shares.
    Calendar effects that repeat every year cancel, even when a whole mass moves and its
    level differs from the year before (incomes grew); a change that did not happen a
    year before remains. Under "the same change as a year before", the index
    over the sum of the four ``1 / n`` is approximately chi-squared with ``bins - 1``
    degrees of freedom, which gives the critical value (:func:`psi_critical`).

    Parameters
    ----------
    reference, current : array-like of float
        The feature in the month before and in the month compared.
    reference_year_before, current_year_before : array-like of float
        The feature in the same two calendar months a year before.
    bins : int, default=10
        Most quantile bins.
    alpha : float, default=0.01
        False-alarm rate of the test.

    Returns
    -------
    PSIResult
        The seasonally adjusted index, its critical value and whether it drifted
        (``n_reference`` and ``n_current`` are this year's sizes).

    Raises
    ------
    ValueError
        If a sample is empty or ``bins`` is below 2.
    TypeError
        If a sample is not numeric.

    Examples
    --------
    A month that falls every year (a short February) is not a change; the same fall in
    a year when it did not happen before is:

    >>> import numpy as np
    >>> from needsid.monitoring import psi, psi_change
    >>> rng = np.random.default_rng(0)
    >>> jan, feb = rng.normal(size=20_000), rng.normal(-0.3, size=20_000)
    >>> jan0, feb0 = rng.normal(size=20_000), rng.normal(-0.3, size=20_000)
    >>> psi(jan, feb).drifted
    True
    >>> psi_change(jan, feb, jan0, feb0).drifted
    False
    >>> psi_change(jan, feb, jan0, rng.normal(size=20_000)).drifted
    True
    """
    samples = _four(reference, current, reference_year_before, current_year_before, bins)
    edges = _edges(samples[0], bins)
    return _change_counts([_counts(a, edges) for a in samples], alpha)


def _change_counts(counts: list[npt.NDArray[np.int64]], alpha: float) -> PSIResult:
    """:func:`psi_change` from the four samples' counts in the reference's bins."""
    used = np.sum(counts, axis=0) > 0
    n_bins = int(used.sum())
    sizes = [int(k.sum()) for k in counts]
    if n_bins < 2:
        return PSIResult(0.0, math.nan, n_bins, sizes[0], sizes[1])
    r, c, r0, c0 = ((k[used] + SMOOTHING) / (k[used] + SMOOTHING).sum() for k in counts)
    # The year before's flows, not its change of shares: adding ``c0 - r0`` to ``r``
    # expects last year's mass to leave this year's bins, so when a whole mass moves (a
    # yearly survey leaving a 6-month window) any difference of level or size between
    # the years stays behind in bins that are empty now, and reads as drift. Each bin
    # keeps the share of its values it kept a year before; the rest go where the year
    # before's leavers went, in proportion to the bins' gains. All shares stay positive,
    # and with ``r == r0`` this is ``c0``.
    stay = r * np.minimum(c0 / r0, 1.0)
    gained = np.maximum(c0 - r0, 0.0)
    expected = stay + (1.0 - stay.sum()) * gained / gained.sum() if gained.sum() > 0 else stay
    expected /= expected.sum()
    value = float(np.sum((c - expected) * np.log(c / expected)))
    critical = psi_critical(sizes[0], sizes[1], n_bins, alpha, sizes[2], sizes[3])
    return PSIResult(value, critical, n_bins, sizes[0], sizes[1])


def psi_and_change(
    reference: npt.NDArray[np.float64],
    current: npt.NDArray[np.float64],
    reference_year_before: npt.NDArray[np.float64],
    current_year_before: npt.NDArray[np.float64],
    *,
    bins: int = 10,
    alpha: float = 0.01,
) -> tuple[PSIResult, PSIResult]:
    """Return :func:`psi` of ``(reference, current)`` and :func:`psi_change` of all four.

    Both bin on ``reference``'s quantiles: the edges and counts are computed once.
    """
    samples = _four(reference, current, reference_year_before, current_year_before, bins)
    edges = _edges(samples[0], bins)
    counts = [_counts(a, edges) for a in samples]
    return _psi_counts(counts[0], counts[1], alpha), _change_counts(counts, alpha)
