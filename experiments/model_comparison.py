"""LightGBM, points scorecard and EBM against the status quo, the rules and the oracle.

One seeded simulation (configs/experiments/model_comparison.yaml: 200k households x 36
months), one leak-free rolling-origin split (households grouped, training label windows
end by the test date), the three risk models fitted on the same training rows, and
``needsid.evaluate.compare`` at a fixed capacity with paired-bootstrap 95% intervals.
Baselines: the status quo (households paid dibao or tekun in the month before the test
date), rules only (trigger and outreach hits of the default rule set at the test date,
without suppression; see ``needsid.evaluate.rule_flags``) and the oracle (the
simulator's true probability of need).

Headline figures (issue 5 targets):

- AUC on the households the data can see (the truth's ``invisible`` is false; in the
  simulator it is a fixed trait of a household), LightGBM vs oracle, gap with a paired
  bootstrap interval (target: gap <= 0.02); the same on invisible households, reported
  separately.
- Scorecard vs LightGBM AUC (target: within 0.03 with at most 10 features).
- Exclusion error of each model at the status quo's own caseload, vs the status quo.

Writes experiments/results/model_comparison.csv (every model x metric at the capacity
and at the status quo's caseload), model_comparison.json (headline figures) and
model_comparison_coverage.png / model_comparison_calibration.png.

    .venv/bin/python experiments/model_comparison.py
    .venv/bin/python experiments/model_comparison.py --households 20000   # quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import roc_auc_score

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.evaluate import (
    compare,
    plot_calibration,
    plot_coverage,
    rule_flags,
    temporal_split,
)
from needsid.models import EBMRiskModel, GBMRiskModel, PointsScorecard
from needsid.rules import load

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "experiments" / "model_comparison.yaml"
RESULTS = ROOT / "experiments" / "results"
MODELS = ("LightGBM", "scorecard", "EBM")

log = logging.getLogger("model_comparison")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    households: int
    months: int
    seed: int
    horizon_months: int
    train_as_of: list[dt.date]
    test_as_of: dt.date
    test_size: float
    capacity: float
    n_boot: int
    n_jobs: int
    rules: str
    gbm: dict
    scorecard: dict
    ebm: dict
    ebm_max_train_rows: int | None = None


class RowSubsample(ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on at most ``max_rows`` random training rows (for a slow model)."""

    def __init__(self, estimator, max_rows, random_state=0):
        self.estimator = estimator
        self.max_rows = max_rows
        self.random_state = random_state

    def fit(self, X, y):
        rows = np.arange(len(y))
        if len(rows) > self.max_rows:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(rows, self.max_rows, replace=False))
        Xs = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
        self.estimator_ = clone(self.estimator).fit(Xs, np.asarray(y)[rows])
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)


def save_png(fig, path: Path) -> None:
    """Save ``fig`` as PNG without ever leaving half a file at ``path``."""
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), mode=umask_mode())


def auc_gap(y, a, b, n_boot: int, seed: int) -> dict:
    """AUC of ``a`` and ``b`` and the gap b - a with a paired bootstrap 95% interval."""
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if y[i].all() or not y[i].any():
            continue
        gaps.append(roc_auc_score(y[i], b[i]) - roc_auc_score(y[i], a[i]))
    auc_a, auc_b = roc_auc_score(y, a), roc_auc_score(y, b)
    lo, hi = np.percentile(gaps, [2.5, 97.5])
    return {"auc": auc_a, "auc_reference": auc_b, "gap": auc_b - auc_a, "lo": lo, "hi": hi}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--households", type=int, help="override the config (quick runs)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%X")
    raw = yaml.safe_load(args.config.read_text())
    if args.households:
        raw["households"] = args.households
    cfg = Config.model_validate(raw)
    t0 = time.perf_counter()

    pop = ni.simulate(cfg.households, cfg.months, seed=cfg.seed, n_jobs=cfg.n_jobs)
    log.info("simulated %d households x %d months", cfg.households, cfg.months)
    split = temporal_split(
        pop,
        cfg.train_as_of,
        cfg.test_as_of,
        horizon_months=cfg.horizon_months,
        test_size=cfg.test_size,
        seed=cfg.seed,
    )
    log.info(
        "split: %d training rows (%d dates), %d test households, %d features",
        len(split.train),
        len(cfg.train_as_of),
        len(split.test),
        len(split.features),
    )
    hits = load(ROOT / cfg.rules).evaluate(pop.bundle, split.test_as_of, suppress=False)
    flags = rule_flags(hits, split)

    ebm = EBMRiskModel(**{"n_jobs": cfg.n_jobs, **cfg.ebm})
    if cfg.ebm_max_train_rows:
        ebm = RowSubsample(ebm, cfg.ebm_max_train_rows, random_state=cfg.seed)
    models = {
        "LightGBM": GBMRiskModel(**{"n_jobs": cfg.n_jobs, **cfg.gbm}),
        "scorecard": PointsScorecard(**cfg.scorecard),
        "EBM": ebm,
    }
    c = compare(
        models,
        split,
        capacity=cfg.capacity,
        bundle=pop.bundle,
        rule_flags=flags,
        n_boot=cfg.n_boot,
        seed=cfg.seed,
    )
    log.info("fit seconds: %s", {k: round(v, 1) for k, v in c.fit_seconds.items()})
    k_sq = int(c.scores["status quo"].sum())
    at_sq = c.at_capacity(k_sq, n_boot=cfg.n_boot, seed=cfg.seed)

    table = pd.concat(
        [
            c.table.assign(capacity=f"{cfg.capacity:g} of households"),
            at_sq.table.assign(capacity=f"status quo caseload ({k_sq})"),
        ],
        ignore_index=True,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(
        args.out / "model_comparison.csv",
        lambda tmp: table.to_csv(tmp, index=False, float_format="%.4f"),
        mode=umask_mode(),
    )

    # AUC by visibility: the truth's invisible flag is a fixed household trait
    invisible = pop.truth.households.select("household_id", "invisible").to_pandas()
    inv = split.test[["household_id"]].merge(invisible, on="household_id", how="left")
    if inv["invisible"].isna().any():
        raise RuntimeError("test households missing from pop.truth.households")
    inv = inv["invisible"].to_numpy(dtype=bool)
    y = c.y_true
    oracle = c.scores["oracle"].to_numpy()
    by_visibility = {}
    for part, mask in (("visible", ~inv), ("invisible", inv)):
        by_visibility[part] = {
            "n": int(mask.sum()),
            "base_rate": float(y[mask].mean()),
            "auc": {m: float(roc_auc_score(y[mask], c.scores[m][mask])) for m in c.scores},
            "gap_oracle_minus_lightgbm": auc_gap(
                y[mask], c.scores["LightGBM"].to_numpy()[mask], oracle[mask], cfg.n_boot, 1
            ),
        }
    wide, wide_sq = c.to_frame(), at_sq.to_frame()
    card = c.fitted["scorecard"]
    ebm_fitted = c.fitted["EBM"]
    ebm_rows = (
        min(len(split.train), cfg.ebm_max_train_rows)
        if cfg.ebm_max_train_rows
        else len(split.train)
    )
    headline = {
        "command": "python experiments/model_comparison.py"
        + (f" --households {args.households}" if args.households else ""),
        "config": json.loads(cfg.model_dump_json()),
        "train_rows": len(split.train),
        "test_households": len(split.test),
        "features": len(split.features),
        "base_rate_test": float(y.mean()),
        "share_invisible_test": float(inv.mean()),
        "by_visibility": by_visibility,
        "lightgbm_vs_oracle_visible_gap": by_visibility["visible"]["gap_oracle_minus_lightgbm"][
            "gap"
        ],
        "target_visible_gap_le_0.02": bool(
            by_visibility["visible"]["gap_oracle_minus_lightgbm"]["gap"] <= 0.02
        ),
        "scorecard": {
            "n_features": len(card.selected_features_),
            "features": list(card.selected_features_),
            "auc": float(wide.loc["scorecard", "auc"]),
            "auc_lightgbm": float(wide.loc["LightGBM", "auc"]),
            "gap_to_lightgbm": float(wide.loc["LightGBM", "auc"] - wide.loc["scorecard", "auc"]),
            "target_within_0.03": bool(
                wide.loc["LightGBM", "auc"] - wide.loc["scorecard", "auc"] <= 0.03
                and len(card.selected_features_) <= 10
            ),
        },
        "ebm_train_rows": ebm_rows,
        "status_quo_caseload": k_sq,
        "status_quo_share": k_sq / len(y),
        "exclusion_error_at_status_quo_caseload": {
            m: {
                "estimate": float(wide_sq.loc[m, "exclusion_error"]),
                "lo": float(
                    at_sq.table.query("model == @m and metric == 'exclusion_error'")["lo"].iloc[0]
                ),
                "hi": float(
                    at_sq.table.query("model == @m and metric == 'exclusion_error'")["hi"].iloc[0]
                ),
            }
            for m in wide_sq.index
        },
        "at_capacity": wide.to_dict(orient="index"),
        "fit_seconds": c.fit_seconds,
        "rules_only_flagged": int(flags.sum()),
        "wall_seconds": time.perf_counter() - t0,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }
    del ebm_fitted
    write_atomic(
        args.out / "model_comparison.json",
        json.dumps(headline, indent=2, default=str),
        mode=umask_mode(),
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plot_coverage(y, c.scores, capacities=np.linspace(0.005, 0.5, 100))
    ax.set_xlim(0, 0.5)
    ax.axvline(cfg.capacity, color="black", linewidth=0.8, linestyle=":")
    ax.set_title(f"Coverage, {len(y):,} test households (simulated, seed {cfg.seed})")
    ax.figure.tight_layout()
    save_png(ax.figure, args.out / "model_comparison_coverage.png")
    plt.close(ax.figure)
    probs = c.scores[[*MODELS, "oracle"]]
    ax = plot_calibration(y, probs, n_bins=15, strategy="quantile")
    ax.set_title("Calibration on the test households")
    ax.figure.tight_layout()
    save_png(ax.figure, args.out / "model_comparison_calibration.png")
    plt.close(ax.figure)

    print(f"\n{cfg.households:,} households, test {len(y):,}, base rate {y.mean():.3f}\n")
    print(f"at capacity {cfg.capacity:g}:\n{wide.round(3).to_string()}\n")
    print(f"at the status quo caseload ({k_sq}):\n{wide_sq.round(3).to_string()}\n")
    for part, v in by_visibility.items():
        g = v["gap_oracle_minus_lightgbm"]
        aucs = ", ".join(f"{m} {a:.3f}" for m, a in v["auc"].items())
        print(
            f"{part} (n={v['n']}): AUC {aucs}; oracle - LightGBM = {g['gap']:.3f} "
            f"[{g['lo']:.3f}, {g['hi']:.3f}]"
        )
    print(json.dumps(headline["scorecard"], indent=1))
    print(f"written to {args.out} in {headline['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
