"""Fit several models on one split and compare them at a fixed capacity, with intervals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.base import clone

from .._progress import step, track
from ._metrics import select_top, targeting_metrics
from ._split import TemporalSplit

__all__ = ["Comparison", "compare", "status_quo"]

METRICS = ("exclusion_error", "inclusion_error", "precision_at_k", "recall_at_k", "auc",
           "average_precision", "brier")  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """One row per model and metric: estimate and bootstrap 95% interval.

    Attributes
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
    """

    table: pd.DataFrame
    scores: pd.DataFrame  # test households x models (and baselines)
    capacity: float | int
    y_true: np.ndarray | None = None
    fixed: tuple[str, ...] = ()
    groups: np.ndarray | None = None
    fitted: dict = field(default_factory=dict)
    fit_seconds: dict = field(default_factory=dict)

    def to_frame(self, wide: bool = True) -> pd.DataFrame:
        """Return the comparison: one row per model (``wide``) or the long table."""
        if not wide:
            return self.table.copy()
        est = self.table.pivot(index="model", columns="metric", values="estimate")
        return est[[m for m in METRICS if m in est.columns]].loc[self.table["model"].unique()]

    @classmethod
    def from_scores(
        cls, scores, y_true, capacity, *, fixed=(), groups=None, n_boot: int = 200, seed: int = 0
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

    def at_capacity(self, capacity, *, n_boot: int = 200, seed: int = 0) -> Comparison:
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
        """
        if self.y_true is None:
            raise ValueError(
                "This Comparison has no y_true; build it with compare() to re-use its scores."
            )
        table = _table(self.scores, self.fixed, self.y_true, capacity, self.groups, n_boot, seed)
        return replace(self, table=table, capacity=capacity)


def _status_quo(split: TemporalSplit, bundle) -> np.ndarray:
    return status_quo(bundle, split.test["household_id"], split.test_as_of)


def status_quo(bundle, household_ids, as_of) -> np.ndarray:
    """Flag the households paid dibao or tekun in the month before ``as_of`` (1, else 0).

    This is the status quo's own targeting, the baseline every comparison reports.

    Parameters
    ----------
    bundle : HouseholdData
    household_ids : array-like of str
        The households to flag, in the order of the result.
    as_of : date or str

    Returns
    -------
    ndarray of float
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
    return pd.Series(household_ids).isin(paid.to_list()).to_numpy().astype(float)


def compare(
    models: dict,
    split: TemporalSplit,
    *,
    capacity=0.05,
    groups: str | None = None,
    bundle=None,
    rule_flags=None,
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


def _table(scores: pd.DataFrame, fixed, y, capacity, g, n_boot: int, seed: int) -> pd.DataFrame:
    """Metrics of every score column with one paired bootstrap of the households."""
    rng = np.random.default_rng(seed)
    n = len(y)
    boots = [rng.integers(0, n, n) for _ in range(n_boot)]
    rows = []
    for name in track(scores.columns, f"metrics and {n_boot} bootstrap resamples per row"):
        s = scores[name].to_numpy()
        flags = s.astype(bool) if name in fixed else None
        k = int(flags.sum()) if flags is not None else capacity

        def metrics(idx, s=s, flags=flags, k=k):
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
