"""One function per report section: each returns the section's HTML body (escaped)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._html import fmt_interval, fmt_number, image, missing, note, table
from ._plots import calibration_figure, capacity_share, coverage_figure, fairness_figure

if TYPE_CHECKING:
    from ..evaluate import Comparison
    from ..fairness import FairnessAudit
    from ..models import PointsScorecard
    from ..rules import RuleHits

METRIC_LABELS = {
    "exclusion_error": "exclusion error",
    "inclusion_error": "inclusion error",
    "precision_at_k": "precision@k",
    "recall_at_k": "recall@k",
    "auc": "AUC",
    "average_precision": "average precision",
    "brier": "Brier",
}


def summary(
    meta: Mapping[str, Any] | None,
    comparison: Comparison | None,
    y_true: npt.NDArray[np.bool_] | None,
    provided: dict[str, bool],
) -> str:
    rows = [(str(k), fmt_number(v)) for k, v in (meta or {}).items()]
    if comparison is not None:
        n = len(comparison.scores)
        share = capacity_share(comparison.capacity, n)
        rows.append(("capacity", f"{fmt_number(comparison.capacity)} ({share:.1%} of {n})"))
        rows.append(("test households", str(n)))
    if y_true is not None:
        rows.append(("base rate (share in need)", fmt_number(float(np.mean(y_true)))))
    parts = []
    if rows:
        parts.append(
            table(pd.DataFrame(rows, columns=["item", "value"]), text_columns=("item", "value"))
        )
    else:
        parts.append(missing("run metadata (meta=...)"))
    absent = [name for name, ok in provided.items() if not ok]
    if absent:
        parts.append(note(f"Sections without input: {', '.join(absent)}."))
    return "\n".join(parts)


def comparison(comp: Comparison | None) -> str:
    if comp is None:
        return missing("model comparison (comparison=needsid.evaluate.compare(...))")
    t = comp.table
    models = list(dict.fromkeys(t["model"]))
    metrics = [m for m in METRIC_LABELS if m in set(t["metric"])]
    cells = {
        (r.model, r.metric): fmt_interval(r.estimate, r.lo, r.hi)
        for r in t.itertuples(index=False)
    }
    wide = pd.DataFrame(
        [[m, *[cells.get((m, k), "-") for k in metrics]] for m in models],
        columns=["model", *[METRIC_LABELS[k] for k in metrics]],
    )
    n = len(comp.scores)
    share = capacity_share(comp.capacity, n)
    return "\n".join(
        [
            note(
                f"Estimates at a capacity of {share:.1%} of {n} test households, with paired "
                "bootstrap 95% intervals in brackets. Exclusion error: households in need not "
                "flagged; inclusion error: flagged households not in need. Baselines with fixed "
                "flags (status quo, rules only) are compared at their own caseload."
            ),
            table(wide, text_columns=wide.columns),
        ]
    )


def _needs_labels(comp: Comparison | None, what: str) -> str:
    """Say what a section drawn from the test labels lacks: the comparison, else the labels."""
    if comp is None:
        return missing(f"{what} (needs comparison=... and y_true=...)")
    return missing(f"{what} (needs the test labels, y_true=...)")


def coverage(comp: Comparison | None, y_true: npt.NDArray[np.bool_] | None) -> str:
    if comp is None or y_true is None:
        return _needs_labels(comp, "coverage curves")
    return "\n".join(
        [
            note(
                "Share of households in need that are flagged as capacity grows. Baselines "
                "with fixed flags are single points at their own caseload; the dashed line is "
                "the comparison's capacity."
            ),
            image(coverage_figure(y_true, comp), "coverage curves"),
        ]
    )


def calibration(comp: Comparison | None, y_true: npt.NDArray[np.bool_] | None) -> str:
    if comp is None or y_true is None:
        return _needs_labels(comp, "calibration curves")
    return "\n".join(
        [
            note(
                "Observed rate of need against the mean predicted probability in ten quantile "
                "bands of each model's score; on the dotted line a score is a probability. "
                "Fixed-flag baselines have no score to calibrate and are left out."
            ),
            image(calibration_figure(y_true, comp), "calibration curves"),
        ]
    )


def _status(audit: FairnessAudit) -> list[str]:
    # A gap in base rates describes the population, not the flags: shown as context.
    failing = set(audit.failing().index)
    d = audit.disparities
    return [
        "context"
        if metric == "base_rate"
        else "fail"
        if i in failing
        else ("pass" if within else "warn")
        for i, metric, within in zip(d.index, d["metric"], d["within_band"], strict=True)
    ]


def fairness(audit: FairnessAudit | None) -> str:
    if audit is None:
        return missing("fairness audit (audit=needsid.fairness.audit(...))")
    by_group = audit.by_group.reset_index()
    key_cols = list(by_group.columns[: audit.by_group.index.nlevels])
    d = audit.disparities
    status = _status(audit)
    disp = pd.DataFrame(
        {
            "group": [fmt_number(g) for g in d["group"]],
            "metric": d["metric"],
            "value": d["value"],
            "reference": d["reference"],
            "ratio (95% interval)": [
                fmt_interval(*v)
                for v in zip(d["ratio"], d["ratio_lo"], d["ratio_hi"], strict=True)
            ],
            "difference (95% interval)": [
                fmt_interval(*v)
                for v in zip(d["difference"], d["difference_lo"], d["difference_hi"], strict=True)
            ],
            "small group": d["small"],
            "status": status,
        }
    )
    metric = "fnr" if "fnr" in set(d["metric"]) else "selection_rate"
    lo, hi = audit.band
    counts = {s: status.count(s) for s in ("fail", "warn", "pass")}
    return "\n".join(
        [
            note(
                f"Reference group: {fmt_number(audit.reference)}. Tolerance band for ratios: "
                f"{lo} to {hi}. fail: ratio infinite (reference rate 0), or outside the band "
                "with its interval excluding 1, or the difference's interval wholly beyond "
                f"{fmt_number(audit.difference_tolerance)} ({counts['fail']}); warn: outside "
                "the band, interval includes 1 "
                f"({counts['warn']}); pass: within the band ({counts['pass']}). Base rates "
                "describe the population, not the flags, and are shown as context. FNR is the "
                "exclusion error (households in need not flagged)."
            ),
            table(by_group, caption="By group", text_columns=key_cols),
            table(
                disp,
                caption="Disparities to the reference group",
                text_columns=(
                    "group",
                    "metric",
                    "ratio (95% interval)",
                    "difference (95% interval)",
                    "status",
                ),
                row_class=lambda i: status[i],
            ),
            image(fairness_figure(audit, metric), f"{metric} by group"),
        ]
    )


def scorecard(card: PointsScorecard | None) -> str:
    if card is None:
        return missing("points scorecard (scorecard=a fitted needsid.models.PointsScorecard)")
    rows = card.card_.copy()
    rows["feature"] = rows["feature"].where(rows["feature"].ne(rows["feature"].shift()), "")
    risk = card.risk_table_.copy()
    for col in ("observed_risk", "predicted_risk"):
        risk[col] = risk[col].map(lambda v: "-" if np.isnan(v) else f"{v:.1%}")
    return "\n".join(
        [
            note(
                "For each feature add the points of the row whose bin holds the household's "
                f"value (base points 0, total 0 to {card.max_points}; more points = more risk), "
                "then read the risk off the second table."
            ),
            table(rows, caption="Card", text_columns=("feature", "bin"))
            if len(rows)
            else note("The card has no features."),
            table(risk, caption="Total points to risk"),
        ]
    )


def rules(hits: RuleHits | None, top: int) -> str:
    if hits is None:
        return missing("rule hits (rule_hits=RuleSet.evaluate(...))")
    s = hits.summary()
    s = s if isinstance(s, pd.DataFrame) else s.to_pandas()
    s = s.sort_values(["n_hits", "n_households"], ascending=False, kind="stable")
    shown = s.head(top)
    rest = len(s) - len(shown)
    parts = [
        note(
            f"Rule set {hits.rule_set_id} v{hits.rule_set_version} evaluated at "
            f"{hits.as_of.isoformat()}: {len(hits)} hits on {hits.n_households} households, "
            f"{int((s['n_hits'] > 0).sum())} of {len(s)} rules fired. Counts only."
        ),
        table(
            shown,
            caption=f"Top {len(shown)} rules by hits",
            text_columns=("rule_id", "kind", "severity", "programme"),
        ),
    ]
    if rest:
        parts.append(note(f"{rest} more rules with fewer hits are not shown."))
    return "\n".join(parts)
