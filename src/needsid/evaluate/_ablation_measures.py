"""What a source ablation measures: data coverage, rule recall, paired exclusion errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl

from .._dates import months_before
from ..data import HouseholdData
from ._compare import Comparison
from ._metrics import select_top

if TYPE_CHECKING:
    from ..features import FeatureSpec
    from ..rules import RuleSet

__all__ = ["coverage", "cross_check_table", "paired_deltas", "recalls", "scenario_table"]


def coverage(
    bundle: HouseholdData, as_of: dt.date, spec: FeatureSpec, threshold: float
) -> tuple[float, float]:
    """Return the shares of the households alive at ``as_of`` with no data, and invisible.

    No data: no record of any department in the spec's look-back (the coverage feature
    ``n_sources_recent`` is 0). Invisible: ``invisibility_score`` (the share of the core
    departments without a record) at least ``threshold``.
    """
    alive = bundle.households.filter(
        (pl.col("formed_on") < as_of)
        & (pl.col("dissolved_on").is_null() | (pl.col("dissolved_on") >= as_of))
    ).select("household_id")
    core = list(spec.core_sources)
    seen = (
        bundle.records.filter(
            (pl.col("known_date") < as_of)
            & (pl.col("event_date") >= months_before(as_of, spec.lookback_months))
        )
        .select("household_id", pl.col("source").cast(pl.String))
        .unique()
        .group_by("household_id")
        .agg(pl.len().alias("n"), pl.col("source").is_in(core).sum().alias("core"))
    )
    j = alive.join(seen, on="household_id", how="left").fill_null(0)
    if not j.height:
        return float("nan"), float("nan")
    invisibility = 1 - j["core"].cast(pl.Float64) / max(len(core), 1)
    return float((j["n"] == 0).mean()), float((invisibility >= threshold - 1e-12).mean())


def recalls(
    rules: RuleSet | None,
    mapping: Mapping[str, str],
    bundle: HouseholdData,
    as_of: dt.date,
    anomalies: pl.DataFrame,
) -> list[dict[str, Any]]:
    """Measure each rule's recall of its injected anomalies at ``as_of``."""
    if rules is None:
        return []
    measured = rules.ids
    hits = rules.evaluate(bundle, as_of, suppress=False).to_frame()
    hits = hits if isinstance(hits, pl.DataFrame) else pl.from_pandas(hits)
    out = []
    for rule_id in measured:
        h = hits.filter(pl.col("rule_id") == rule_id).select("household_id", "person_id")
        t = anomalies.filter(pl.col("anomaly") == mapping[rule_id])
        # household anomalies (asset tests) name no person; person anomalies match on both
        by_household = t.filter(pl.col("person_id").is_null())
        by_person = t.filter(pl.col("person_id").is_not_null())
        found = (
            by_household.join(h, on="household_id", how="semi").height
            + by_person.join(
                h.drop_nulls("person_id"), on=["household_id", "person_id"], how="semi"
            ).height
        )
        out.append(
            {
                "rule_id": rule_id,
                "anomaly": mapping[rule_id],
                "anomalies": t.height,
                "found": found,
                "recall": found / t.height if t.height else float("nan"),
            }
        )
    return out


def _exclusion(
    scores: npt.NDArray[np.float64],
    y: npt.NDArray[np.bool_],
    capacity: float,
    idx: npt.NDArray[np.intp],
) -> float:
    yy = y[idx]
    needy = int(yy.sum())
    if not needy:
        return float("nan")
    flagged = select_top(scores[idx], capacity)
    return float((needy - int((yy & flagged).sum())) / needy)


def paired_deltas(
    scores: Mapping[str, npt.NDArray[np.float64]],
    y: npt.NDArray[np.bool_],
    capacity: float,
    n_boot: int,
    seed: int,
) -> dict[str, tuple[float, float, float, float]]:
    """Return each exclusion error and its change from the first, with 95% intervals.

    Returns ``name -> (estimate, delta, delta_lo, delta_hi)``; resamples are drawn as
    :class:`Comparison` draws them, from the same seed.
    """
    n = len(y)
    names = list(scores)
    rng = np.random.default_rng(seed)
    boots = [rng.integers(0, n, n) for _ in range(n_boot)]
    everyone = np.arange(n)
    point = {k: _exclusion(scores[k], y, capacity, everyone) for k in names}
    samples = np.array([[_exclusion(scores[k], y, capacity, b) for k in names] for b in boots])
    out = {}
    for j, k in enumerate(names):
        lo = hi = float("nan")
        if n_boot:
            diff = samples[:, j] - samples[:, 0]
            if np.isfinite(diff).any():
                lo, hi = (float(v) for v in np.nanpercentile(diff, [2.5, 97.5]))
        out[k] = (point[k], point[k] - point[names[0]], lo, hi)
    return out


def scenario_table(
    rows: list[dict[str, Any]],
    comparison: Comparison,
    truth: Mapping[str, tuple[float, float, float, float]],
    bundle_labels: Mapping[str, tuple[float, float, float, float]],
    checks: list[dict[str, Any]],
) -> pl.DataFrame:
    """Join one row per scenario with its metrics, their changes and the rules' changes."""
    long = comparison.table.set_index(["model", "metric"])
    first = rows[0]
    out = []
    for row in rows:
        name = row["scenario"]
        excl = long.loc[(name, "exclusion_error")]
        auc = float(long.loc[(name, "auc"), "estimate"])
        t, lab = truth[name], bundle_labels[name]
        out.append(
            {
                **row,
                "delta_no_data_share": row["no_data_share"] - first["no_data_share"],
                "delta_invisible_share": row["invisible_share"] - first["invisible_share"],
                "exclusion_error": float(excl["estimate"]),
                "exclusion_error_lo": float(excl["lo"]),
                "exclusion_error_hi": float(excl["hi"]),
                "delta_exclusion_error": t[1],
                "delta_exclusion_error_lo": t[2],
                "delta_exclusion_error_hi": t[3],
                "auc": auc,
                "delta_auc": auc - float(long.loc[(first["scenario"], "auc"), "estimate"]),
                "exclusion_error_labels": lab[0],
                "delta_exclusion_error_labels": lab[1],
                "delta_exclusion_error_labels_lo": lab[2],
                "delta_exclusion_error_labels_hi": lab[3],
            }
        )
    recall = cross_check_table(checks)
    if recall.height:
        wide = recall.pivot(on="rule_id", index="scenario", values="delta_recall")
        wide = wide.rename({c: f"delta_recall_{c}" for c in wide.columns if c != "scenario"})
        return pl.DataFrame(out, schema_overrides={"source": pl.String}).join(
            wide, on="scenario", how="left", maintain_order="left"
        )
    return pl.DataFrame(out, schema_overrides={"source": pl.String})


def cross_check_table(checks: list[dict[str, Any]]) -> pl.DataFrame:
    """Return the rules' recall per scenario, with its change from the first scenario."""
    schema = {
        "scenario": pl.String,
        "source": pl.String,
        "rule_id": pl.String,
        "anomaly": pl.String,
        "anomalies": pl.Int64,
        "found": pl.Int64,
        "recall": pl.Float64,
    }
    frame = pl.DataFrame(checks, schema=schema)
    if not frame.height:
        return frame.with_columns(delta_recall=pl.lit(None, pl.Float64))
    baseline = frame.filter(pl.col("scenario") == frame["scenario"][0]).select(
        "rule_id", pl.col("recall").alias("_base")
    )
    return (
        frame.join(baseline, on="rule_id", how="left", maintain_order="left")
        .with_columns(delta_recall=pl.col("recall") - pl.col("_base"))
        .drop("_base")
    )
