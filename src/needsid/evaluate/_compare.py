"""Fit several models on one split and compare them at a fixed capacity, with intervals."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import clone

from .._progress import step, track
from ._metrics import select_top, targeting_metrics
from ._split import TemporalSplit

if TYPE_CHECKING:
    import datetime as dt

    from ..data import HouseholdData

__all__ = ["Comparison", "compare", "status_quo"]

METRICS = (
    "exclusion_error",
    "inclusion_error",
    "precision_at_k",
    "recall_at_k",
    "auc",
    "average_precision",
    "brier",
)


@dataclass(frozen=True)
class Comparison:
    """One row per model and metric: estimate and bootstrap 95% interval.

    Built by :func:`compare` or :meth:`from_scores`; the fields are what they computed.

    Parameters
    ----------
    table : pandas.DataFrame
        Long table ``model, metric, estimate, lo, hi``.
    scores : pandas.DataFrame
        Test households x models (and baselines); 0/1 for fixed-flag baselines.
    capacity : float or int
        Capacity the models were compared at.
    y_true : ndarray of bool, optional
        The test labels, so the same scores can be compared at another capacity.
    fixed : tuple of str
        Baselines whose flags are fixed (status quo, rules only): compared at their own
        caseload whatever the capacity.
    groups : ndarray, optional
        Groups the capacity applied within.
    fitted : dict
        Model name -> the estimator fitted on the training rows.
    fit_seconds : dict
        Model name -> wall seconds of its ``fit``.

    Examples
    --------
    >>> from needsid.evaluate import Comparison
    >>> c = Comparison.from_scores(
    ...     {"model": [0.9, 0.1, 0.8, 0.2], "status quo": [1, 0, 0, 1]},
    ...     [True, False, True, False],
    ...     capacity=2,
    ...     fixed=["status quo"],
    ...     n_boot=0,
    ... )
    >>> c.fixed, c.capacity
    (('status quo',), 2)
    >>> c.to_frame()[["recall_at_k", "inclusion_error"]]  # doctest: +NORMALIZE_WHITESPACE
    metric      recall_at_k  inclusion_error
    model
    model               1.0              0.0
    status quo          0.5              0.5
    """

    table: pd.DataFrame
    scores: pd.DataFrame  # test households x models (and baselines)
    capacity: float | int
    y_true: npt.NDArray[np.bool_] | None = None
    fixed: tuple[str, ...] = ()
    groups: np.ndarray | None = None
    fitted: dict[str, Any] = field(default_factory=dict)
    fit_seconds: dict[str, float] = field(default_factory=dict)

    def to_frame(self, wide: bool = True) -> pd.DataFrame:
        """Return the comparison: one row per model (``wide``) or the long table.

        Parameters
        ----------
        wide : bool, default True
            One row per model and one column per metric (the estimates), or the long
            table ``model, metric, estimate, lo, hi`` with the intervals.

        Returns
        -------
        pandas.DataFrame
            A copy; models in the order they were compared.

        Examples
        --------
        >>> from needsid.evaluate import Comparison
        >>> c = Comparison.from_scores({"a": [0.9, 0.1, 0.8, 0.2]}, [1, 0, 0, 1], 2, n_boot=0)
        >>> c.to_frame(wide=False).head(2)
          model           metric  estimate  lo  hi
        0     a  exclusion_error       0.5 NaN NaN
        1     a  inclusion_error       0.5 NaN NaN
        """
        if not wide:
            return self.table.copy()
        est = self.table.pivot(index="model", columns="metric", values="estimate")
        return est[[m for m in METRICS if m in est.columns]].loc[self.table["model"].unique()]

    @classmethod
    def from_scores(
        cls,
        scores: Mapping[str, npt.ArrayLike] | pd.DataFrame,
        y_true: npt.ArrayLike,
        capacity: float,
        *,
        fixed: Sequence[str] = (),
        groups: npt.ArrayLike | None = None,
        n_boot: int = 200,
        seed: int = 0,
    ) -> Comparison:
        """Compare scores computed elsewhere (e.g. models trained on different labels).

        Parameters
        ----------
        scores : mapping of str to array-like or pandas.DataFrame
            Name -> one score per test household, all in the order of ``y_true``.
        y_true : array-like of bool
            The labels every score is measured against.
        capacity : float or int
            A share of households or a count.
        fixed : sequence of str, default=()
            Names whose scores are 0/1 flags, compared at their own caseload.
        groups : array-like, optional
            Groups the capacity applies within.
        n_boot, seed : int
            One paired bootstrap: every name sees the same resamples.

        Returns
        -------
        Comparison
            Without fitted models (``fitted`` and ``fit_seconds`` are empty).

        Raises
        ------
        ValueError
            If the scores and ``y_true`` differ in length, or ``fixed`` names a score
            that is not there.

        Examples
        --------
        >>> import numpy as np
        >>> from needsid.evaluate import Comparison
        >>> y = np.array([True, False, True, False, False, False])
        >>> c = Comparison.from_scores(
        ...     {"a": [0.9, 0.1, 0.8, 0.2, 0.3, 0.1], "b": [0.1, 0.9, 0.2, 0.8, 0.7, 0.6]},
        ...     y, capacity=2, n_boot=0)
        >>> c.to_frame()["recall_at_k"].tolist()
        [1.0, 0.0]
        """
        frame = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in dict(scores).items()})
        y = np.asarray(y_true).astype(bool)
        if len(frame) != len(y):
            raise ValueError(
                f"Got scores for {len(frame)} households and y_true for {len(y)}; give one "
                "score per household of y_true, in its order."
            )
        unknown = [f for f in fixed if f not in frame.columns]
        if unknown:
            raise ValueError(f"Got fixed={unknown!r}, not among the scores {list(frame)!r}.")
        g = None if groups is None else np.asarray(groups)
        table = _table(frame, tuple(fixed), y, capacity, g, n_boot, seed)
        return cls(table, frame, capacity, y, tuple(fixed), g)

    def at_capacity(self, capacity: float, *, n_boot: int = 200, seed: int = 0) -> Comparison:
        """Compare the same scores at another capacity, without refitting.

        Parameters
        ----------
        capacity : float or int
            A share of test households or a count, e.g. the status quo's caseload
            ``int(c.scores["status quo"].sum())`` to compare at equal capacity.
        n_boot, seed : int
            Bootstrap resamples and their seed, as in :func:`compare`.

        Returns
        -------
        Comparison
            The same scores and models, measured at ``capacity``.

        Raises
        ------
        ValueError
            If the comparison has no ``y_true`` to measure against.

        Examples
        --------
        >>> from needsid.evaluate import Comparison
        >>> c = Comparison.from_scores({"a": [0.9, 0.1, 0.8, 0.2]}, [1, 0, 1, 0], 1, n_boot=0)
        >>> float(c.to_frame().loc["a", "recall_at_k"])
        0.5
        >>> float(c.at_capacity(2, n_boot=0).to_frame().loc["a", "recall_at_k"])
        1.0
        """
        if self.y_true is None:
            raise ValueError(
                "This Comparison has no y_true; build it with compare() to re-use its scores."
            )
        table = _table(self.scores, self.fixed, self.y_true, capacity, self.groups, n_boot, seed)
        return replace(self, table=table, capacity=capacity)


def _status_quo(split: TemporalSplit, bundle: HouseholdData) -> npt.NDArray[np.float64]:
    return status_quo(bundle, split.test["household_id"], split.test_as_of)


def status_quo(
    bundle: HouseholdData, household_ids: npt.ArrayLike, as_of: str | dt.date
) -> npt.NDArray[np.float64]:
    """Flag the households paid dibao or tekun in the month before ``as_of`` (1, else 0).

    This is the status quo's own targeting, the baseline every comparison reports.

    Parameters
    ----------
    bundle : HouseholdData
        The records to read the payments from.
    household_ids : array-like of str
        The households to flag, in the order of the result.
    as_of : date or str
        The date the flags are for: payments in the calendar month before it count.

    Returns
    -------
    ndarray of float
        1.0 for a household paid in that month, else 0.0.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.evaluate import status_quo
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> ids = pop.bundle.households["household_id"]
    >>> flags = status_quo(pop.bundle, ids, "2023-07-01")
    >>> flags.shape == (len(ids),), set(flags) <= {0.0, 1.0}
    (True, True)
    """
    import polars as pl

    first = (pd.Timestamp(as_of) - pd.offsets.MonthBegin(1)).date()
    rec = bundle.to_polars().records
    paid = (
        rec.filter(
            pl.col("kind").cast(pl.String).is_in(["benefit_dibao", "benefit_tekun"])
            & (pl.col("event_date") >= first)
            & (pl.col("event_date") < pd.Timestamp(as_of).date())
        )["household_id"]
        .cast(pl.String)
        .unique()
    )
    is_paid = np.asarray(pd.Series(household_ids).isin(paid.to_list()), dtype=bool)
    return is_paid.astype(np.float64)


def compare(
    models: Mapping[str, Any],
    split: TemporalSplit,
    *,
    capacity: float = 0.05,
    groups: str | None = None,
    bundle: HouseholdData | None = None,
    rule_flags: npt.ArrayLike | None = None,
    label: str = "in_need",
    n_boot: int = 200,
    seed: int = 0,
) -> Comparison:
    """Fit each model on ``split.train``, score ``split.test``, compare at ``capacity``.

    Baselines are added when they can be: the status quo (households paid dibao or tekun
    in the month before the test date; needs ``bundle``), rules only (``rule_flags``: a
    boolean per test household), and the oracle ``p_need`` on simulated data. Intervals
    come from one paired bootstrap of test households (every model sees the same
    resamples). Where ``split.train`` has a ``weight`` column (from label sources that
    weight their rows), it is passed to ``fit`` as ``sample_weight``.

    Parameters
    ----------
    models : mapping of str to estimator
        Name -> an unfitted scikit-learn classifier with ``predict_proba``; each is
        cloned before fitting.
    split : TemporalSplit
        The training and test rows (see :func:`temporal_split`).
    capacity : float or int, default 0.05
        A share of test households or a count.
    groups : str, optional
        A column of ``split.test`` the capacity applies within (e.g. a region).
    bundle : HouseholdData, optional
        The records, to add the status quo baseline.
    rule_flags : array-like of bool, optional
        One flag per test household in ``split.test`` order, to add the rules-only
        baseline (see :func:`rule_flags`).
    label : str, default "in_need"
        The label column of the split.
    n_boot : int, default 200
        Bootstrap resamples of the test households (0: no intervals).
    seed : int, default 0
        Seed of the resamples.

    Returns
    -------
    Comparison
        Estimates and intervals per model and metric, the test scores and the fitted
        models.

    Raises
    ------
    ValueError
        If ``rule_flags`` does not hold one flag per test household.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.evaluate import compare, temporal_split
    >>> from needsid.models import GBMRiskModel
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> split = temporal_split(pop, ["2023-03-01"], "2023-07-01", horizon_months=3)
    >>> model = GBMRiskModel(n_estimators=20, n_jobs=1)
    >>> c = compare({"gbm": model}, split, capacity=0.2, bundle=pop.bundle, n_boot=0)
    >>> list(c.to_frame().index)
    ['gbm', 'status quo', 'oracle']
    >>> float(c.to_frame().loc["oracle", "exclusion_error"])
    0.0
    """
    y = split.test[label].to_numpy().astype(bool)
    fit_params = {}
    if "weight" in split.train and not (split.train["weight"] == 1.0).all():
        fit_params["sample_weight"] = split.train["weight"].to_numpy(dtype=float)
    scores, fitted, seconds = {}, {}, {}
    for name, model in models.items():
        step(f"fitting {name} on {len(split.train):,} rows")
        start = time.perf_counter()
        fitted[name] = clone(model).fit(
            split.X_train, split.train[label].to_numpy().astype(int), **fit_params
        )
        seconds[name] = time.perf_counter() - start
        scores[name] = fitted[name].predict_proba(split.X_test)[:, 1]
    fixed = []
    if bundle is not None:
        scores["status quo"] = _status_quo(split, bundle)
        fixed.append("status quo")
    if rule_flags is not None:
        rf = np.asarray(rule_flags).astype(bool)
        if rf.shape != y.shape:
            raise ValueError(
                f"Got rule_flags of shape {rf.shape}; expected ({len(y)},), one per test "
                "household in split.test order (see needsid.evaluate.rule_flags)."
            )
        scores["rules only"] = rf.astype(float)
        fixed.append("rules only")
    if "p_need" in split.test:
        scores["oracle"] = split.test["p_need"].to_numpy()
    g = None if groups is None else split.test[groups].to_numpy()
    frame = pd.DataFrame(scores)
    table = _table(frame, tuple(fixed), y, capacity, g, n_boot, seed)
    return Comparison(table, frame, capacity, y, tuple(fixed), g, fitted, seconds)


def _table(
    scores: pd.DataFrame,
    fixed: tuple[str, ...],
    y: npt.NDArray[np.bool_],
    capacity: float,
    g: np.ndarray | None,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """Metrics of every score column with one paired bootstrap of the households."""
    rng = np.random.default_rng(seed)
    n = len(y)
    boots = [rng.integers(0, n, n) for _ in range(n_boot)]
    rows = []
    for name in track(scores.columns, f"metrics and {n_boot} bootstrap resamples per row"):
        s = scores[name].to_numpy()
        flags = s.astype(bool) if name in fixed else None
        k = int(flags.sum()) if flags is not None else capacity

        def metrics(
            idx: npt.NDArray[np.intp],
            s: np.ndarray = s,
            flags: npt.NDArray[np.bool_] | None = flags,
            k: float = k,
        ) -> dict[str, float]:
            f = (
                flags[idx]
                if flags is not None
                else select_top(s[idx], k, None if g is None else g[idx])
            )
            return targeting_metrics(y[idx], s[idx], flags=f).to_dict()

        point = metrics(np.arange(n))
        samples = pd.DataFrame([metrics(b) for b in boots])
        for m in METRICS:
            lo, hi = np.nanpercentile(samples[m], [2.5, 97.5]) if n_boot else (np.nan, np.nan)
            rows.append({"model": name, "metric": m, "estimate": point[m], "lo": lo, "hi": hi})
    return pd.DataFrame(rows)
