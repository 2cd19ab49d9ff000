"""Fit several models on one split and compare them at a fixed capacity, with intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from ._metrics import select_top, targeting_metrics
from ._split import TemporalSplit

__all__ = ["Comparison", "compare"]

METRICS = ("exclusion_error", "inclusion_error", "precision_at_k", "recall_at_k", "auc",
           "average_precision", "brier")  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """One row per model and metric: estimate and bootstrap 95% interval."""

    table: pd.DataFrame
    scores: pd.DataFrame  # test households x models (and baselines)
    capacity: float | int

    def to_frame(self, wide: bool = True) -> pd.DataFrame:
        """Return the comparison: one row per model (``wide``) or the long table."""
        if not wide:
            return self.table.copy()
        est = self.table.pivot(index="model", columns="metric", values="estimate")
        return est[[m for m in METRICS if m in est.columns]].loc[self.table["model"].unique()]


def _status_quo(split: TemporalSplit, bundle) -> np.ndarray:
    """1 where the household was paid dibao or tekun in the month before the test date."""
    import polars as pl

    first = pd.Timestamp(split.test_as_of) - pd.offsets.MonthBegin(1)
    rec = bundle.to_polars().records
    paid = rec.filter(
        pl.col("kind").cast(pl.String).is_in(["benefit_dibao", "benefit_tekun"])
        & (pl.col("event_date") >= first.date())
        & (pl.col("event_date") < split.test_as_of)
    )["household_id"].unique()
    return split.test["household_id"].isin(paid.to_list()).to_numpy().astype(float)


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
    resamples).
    """
    y = split.test[label].to_numpy().astype(bool)
    scores = {}
    for name, model in models.items():
        fitted = clone(model).fit(split.X_train, split.train[label].to_numpy().astype(int))
        scores[name] = fitted.predict_proba(split.X_test)[:, 1]
    fixed_flags = {}
    if bundle is not None:
        sq = _status_quo(split, bundle)
        scores["status quo"] = sq
        fixed_flags["status quo"] = sq.astype(bool)
    if rule_flags is not None:
        rf = np.asarray(rule_flags).astype(bool)
        scores["rules only"] = rf.astype(float)
        fixed_flags["rules only"] = rf
    if "p_need" in split.test:
        scores["oracle"] = split.test["p_need"].to_numpy()
    g = None if groups is None else split.test[groups].to_numpy()
    rng = np.random.default_rng(seed)
    n = len(y)
    boots = [rng.integers(0, n, n) for _ in range(n_boot)]
    rows = []
    for name, s in scores.items():
        flags = fixed_flags.get(name)
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
    return Comparison(pd.DataFrame(rows), pd.DataFrame(scores), capacity)
