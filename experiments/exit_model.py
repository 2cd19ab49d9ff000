"""Precise exit: the exit rules and the exit model among current recipients, against the truth.

One seeded simulation. Current recipients (paid dibao or tekun in the month before the
date, ``ni.labels.make_exit``) are labelled ``should_exit`` when they are not in need in
any of the next 6 months. Households are split once (a salted hash, as
``ni.evaluate.temporal_split`` does): the exit model trains on the training households'
recipients at the training dates and is scored on the held-out households' recipients
at the test date, against the simulator's truth. Rows:

- (a) the exit rules of ``configs/rules/default.yaml`` (kind ``exit``), without
  suppression: fixed flags, one operating point;
- (b) ``ExitModel`` trained on the truth (research: no county has these labels);
- (c) ``ExitModel`` trained on the bundle's own review outcomes (what a county gets),
  weighted for the review calendar (``make_exit``'s default), and (c') unweighted;
- the oracle ``p_exit`` (research: the simulator's exact probability).

Each model's operating point is the highest score threshold at which recall among the
test recipients reaches ``--target-recall``; it is chosen on the test truth, so it is
the best a county could pick, not what it would pick. The row at ``--threshold`` (the
default of ``ni.exits.phase_out``) needs no truth. Intervals: 95%, from one bootstrap
of the test recipients at the fixed thresholds. The wrongful-exit rate (flagged for
exit, in need within 6 months) by group uses ``ni.fairness.audit`` with ``y_true`` =
in need, so its ``precision`` is the wrongful-exit rate.

    .venv/bin/python experiments/exit_model.py   (config: configs/experiments/exit_model.yaml)

Writes experiments/results/exit_model.csv (operating points), exit_model_pr.csv
(precision-recall curves), exit_model_groups.csv (wrongful exits by group) and
exit_model.json (settings, label quality, counts, seconds), each atomically.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from _config import parse_args, train_params
from sklearn.metrics import average_precision_score, precision_recall_curve

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.evaluate._split import _in_test_group
from needsid.exits import ExitModel
from needsid.rules import household_attributes, load

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("urban", "minority", "head_sex", "region_id", "invisible")
RULES_ROW = "(a) exit rules (default rule set)"
TRUTH_ROW = "(b) ExitModel, truth labels (research)"
REVIEWS_ROW = "(c) ExitModel, review labels (county), calendar-weighted"
UNWEIGHTED_ROW = "(c') ExitModel, review labels (county), unweighted"
ORACLE_ROW = "oracle p_exit (research)"


def _operating_point(score: np.ndarray, y: np.ndarray, target_recall: float) -> float:
    """The highest threshold at which recall reaches ``target_recall`` (flag ``>=``)."""
    order = np.sort(np.unique(score))[::-1]
    pos = y.sum()
    for t in order:
        if (y & (score >= t)).sum() >= target_recall * pos:
            return float(t)
    return float(order[-1])


def _pr(flag: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    n = flag.sum()
    precision = float((flag & y).sum() / n) if n else float("nan")
    return precision, float((flag & y).sum() / y.sum())


def _boot(flag: np.ndarray, y: np.ndarray, n_boot: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    n = len(y)
    p, r = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        w = np.bincount(rng.integers(0, n, n), minlength=n)
        tp = (w * (flag & y)).sum()
        p[b] = tp / (w * flag).sum() if (w * flag).sum() else np.nan
        r[b] = tp / (w * y).sum()
    # nothing flagged in any resample (a rule that never fires): no precision interval
    p_ci = np.nanpercentile(p, [2.5, 97.5]) if np.isfinite(p).any() else [np.nan, np.nan]
    r_ci = np.nanpercentile(r, [2.5, 97.5])
    return {
        "precision_lo": p_ci[0],
        "precision_hi": p_ci[1],
        "recall_lo": r_ci[0],
        "recall_hi": r_ci[1],
    }


def _max_recall_at(score: np.ndarray, y: np.ndarray, min_precision: float) -> float:
    precision, recall, _ = precision_recall_curve(y, score)
    ok = precision >= min_precision
    return float(recall[ok].max()) if ok.any() else 0.0


def _row(name, flag, y, n_boot, seed, **extra) -> dict:
    precision, recall = _pr(flag, y)
    return {
        "model": name,
        "flagged": int(flag.sum()),
        "precision": precision,
        "recall": recall,
        **_boot(flag, y, n_boot, seed),
        **extra,
    }


def _curve(name: str, score: np.ndarray, y: np.ndarray, points: int) -> pd.DataFrame:
    precision, recall, thr = precision_recall_curve(y, score)
    frame = pd.DataFrame({"threshold": thr, "precision": precision[:-1], "recall": recall[:-1]})
    # one point per 1/points of recall: the highest threshold that reaches it
    keep = []
    for r in np.linspace(0, 1, points + 1)[1:]:
        reach = frame[frame["recall"] >= r - 1e-12]
        if len(reach):
            keep.append(reach.index[-1])
    out = frame.loc[sorted(set(keep))].sort_values("recall")
    out.insert(0, "model", name)
    return out


def _label_quality(pop, dates, X) -> list[dict]:
    """How the review labels of each line agree with the truth, per training date."""
    rows = []
    for d in dates:
        truth = ni.labels.make_exit(pop, d).select(
            "household_id", pl.col("should_exit").alias("t")
        )
        for line in ("low_income", "dibao"):
            r = ni.labels.make_exit(pop.bundle, d, features=X[d], line=line)
            j = r.join(truth, on="household_id")
            lab = j.filter(pl.col("should_exit").is_not_null())
            said = lab.filter(pl.col("should_exit"))
            rows.append(
                {
                    "as_of": str(d),
                    "line": line,
                    "recipients": j.height,
                    "reviewed_share": lab.height / j.height,
                    "truth_should_exit_all": float(j["t"].mean()),
                    "truth_should_exit_reviewed": float(lab["t"].mean()),
                    "truth_should_exit_reviewed_weighted": float(
                        np.average(lab["t"].to_numpy(), weights=lab["weight"].to_numpy())
                    ),
                    "label_agrees_with_truth": float((lab["should_exit"] == lab["t"]).mean()),
                    "truth_among_label_exit": float(said["t"].mean()) if said.height else None,
                    "label_sources": dict(
                        zip(
                            *j["label_source"].value_counts().to_dict(as_series=False).values(),
                            strict=True,
                        )
                    ),  # fmt: skip
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-as-of", nargs="+", default=["2024-01-01", "2024-07-01"])
    ap.add_argument("--test-as-of", default="2025-01-01")
    ap.add_argument("--horizon", type=int, default=6)
    ap.add_argument("--test-size", type=float, default=0.3)
    ap.add_argument("--target-recall", type=float, default=0.5)
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--threshold", type=float, default=ni.exits.THRESHOLD)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--curve-points", type=int, default=20)
    ap.add_argument("--rules", default="configs/rules/default.yaml")
    ap.add_argument("--train-config", default="configs/train/default.yaml")
    ap.add_argument("--out", default="experiments/results")
    args = parse_args(ap, "exit_model")
    started = time.perf_counter()
    seconds = {}
    params = train_params(ROOT / args.train_config)
    pop = ni.simulate(n_households=args.households, months=args.months, seed=args.seed)
    seconds["simulate"] = round(time.perf_counter() - started, 1)
    dates = [ni._dates.as_date(d) for d in args.train_as_of]
    test_date = ni._dates.as_date(args.test_as_of)
    t0 = time.perf_counter()
    X = {d: ni.features.build(pop.bundle, d) for d in [*dates, test_date]}
    names = [c for c in X[test_date].columns if c != "household_id"]
    seconds["features"] = round(time.perf_counter() - t0, 1)

    def held_out(frame: pl.DataFrame) -> np.ndarray:
        return _in_test_group(frame["household_id"].to_pandas(), args.test_size, args.seed)

    # --- training rows: recipients of the training households at each training date ----
    t0 = time.perf_counter()
    train = {"truth": [], "reviews": []}
    for d in dates:
        for source, data in (("truth", pop), ("reviews", pop.bundle)):
            # the calendar weights for row (c); row (c') ignores them (the default)
            y = ni.labels.make_exit(
                data, d, args.horizon, features=X[d], reweight=True, random_state=args.seed
            )
            y = y.filter(pl.Series(~held_out(y)))
            train[source].append(X[d].join(y, on="household_id", how="inner"))
    train = {k: pl.concat(v, how="vertical_relaxed") for k, v in train.items()}
    seconds["labels"] = round(time.perf_counter() - t0, 1)

    # --- test rows: held-out recipients at the test date, with the truth ---------------
    truth = ni.labels.make_exit(pop, test_date, args.horizon)
    truth = truth.filter(pl.Series(held_out(truth)))
    test = X[test_date].join(truth, on="household_id", how="inner").sort("household_id")
    y = test["should_exit"].to_numpy().astype(bool)
    Xt = test.select(["household_id", *names]).to_pandas()

    t0 = time.perf_counter()
    scores = {}
    fits = {
        TRUTH_ROW: (train["truth"], False),
        REVIEWS_ROW: (train["reviews"].filter(pl.col("should_exit").is_not_null()), True),
        UNWEIGHTED_ROW: (train["reviews"].filter(pl.col("should_exit").is_not_null()), False),
    }
    fitted = {}
    for name, (rows, weighted) in fits.items():
        model = ExitModel(ni.models.GBMRiskModel(**params))
        w = rows["weight"].to_numpy() if weighted else None
        model.fit(
            rows.select(["household_id", *names]).to_pandas(),
            rows["should_exit"].to_numpy().astype(int),
            sample_weight=w,
        )
        scores[name] = model.predict_proba(Xt)[:, 1]
        fitted[name] = {
            "training_rows": rows.height,
            "positive_share": float(rows["should_exit"].mean()),
        }
    scores[ORACLE_ROW] = test["p_exit"].to_numpy()
    seconds["models"] = round(time.perf_counter() - t0, 1)

    # --- (a) the exit rules at the test date ---------------------------------------------
    t0 = time.perf_counter()
    rules = load(ROOT / args.rules)
    hits = rules.evaluate(pop.bundle, test_date, suppress=False).to_frame()
    exit_hits = hits.filter(pl.col("kind") == "exit")
    rule_flag = test["household_id"].is_in(exit_hits["household_id"].implode()).to_numpy()
    per_rule = {
        r.id: test["household_id"]
        .is_in(exit_hits.filter(pl.col("rule_id") == r.id)["household_id"].implode())
        .to_numpy()
        for r in rules.rules
        if r.kind == "exit"
    }
    seconds["rules"] = round(time.perf_counter() - t0, 1)

    # --- operating points ---------------------------------------------------------------
    rows, flags = [], {}
    common = {"test_recipients": len(y), "should_exit_share": float(y.mean())}
    fixed = {**common, "operating_point": "fixed flags"}
    for rule_id, f in per_rule.items():
        rows.append(_row(f"exit rule {rule_id}", f, y, args.n_boot, args.seed, **fixed))
    rows.append(_row(RULES_ROW, rule_flag, y, args.n_boot, args.seed, **fixed))
    flags[RULES_ROW] = rule_flag
    for name, s in scores.items():
        t = _operating_point(s, y, args.target_recall)
        flags[name] = s >= t
        extra = {
            **common,
            "operating_point": f"recall >= {args.target_recall:g}",
            "threshold": t,
            "average_precision": float(average_precision_score(y, s)),
            f"max_recall_at_precision_{args.target_precision:g}": _max_recall_at(
                s, y, args.target_precision
            ),
        }
        rows.append(_row(name, flags[name], y, args.n_boot, args.seed, **extra))
        at = s >= args.threshold
        extra = {**common, "operating_point": f"score >= {args.threshold:g}"}
        extra["threshold"] = args.threshold
        rows.append(_row(name, at, y, args.n_boot, args.seed, **extra))
    table = pd.DataFrame(rows)
    table["meets_target"] = (table["recall"] >= args.target_recall) & (
        table["precision"] >= args.target_precision
    )
    curves = pd.concat(
        [_curve(n, s, y, args.curve_points) for n, s in scores.items()], ignore_index=True
    )

    # --- wrongful exits by group ----------------------------------------------------------
    t0 = time.perf_counter()
    attrs = household_attributes(pop.bundle, test_date)
    attrs = attrs if isinstance(attrs, pl.DataFrame) else pl.from_pandas(attrs)
    groups = (
        test.select("household_id")
        .join(attrs, on="household_id", how="left")
        .join(pop.truth.households.select("household_id", "invisible"), on="household_id")
        .to_pandas()
    )
    in_need = ~y
    parts = []
    for name in (RULES_ROW, TRUTH_ROW, REVIEWS_ROW, UNWEIGHTED_ROW):
        for g in GROUPS:
            a = ni.fairness.audit(
                in_need,
                flags[name],
                sensitive_features=groups[g].astype(str).rename(g),
                n_boot=args.n_boot,
                seed=args.seed,
            )
            d = a.disparities[a.disparities["metric"] == "precision"]
            by = a.by_group
            parts.append(
                pd.DataFrame(
                    {
                        "model": name,
                        "attribute": g,
                        "group": d["group"].astype(str).to_numpy(),
                        "recipients": by.loc[d["group"], "n"].to_numpy(),
                        "flagged_for_exit": (by.loc[d["group"], "tp"] + by.loc[d["group"], "fp"])
                        .to_numpy()
                        .astype(int),
                        "wrongful_exit_rate": d["value"].to_numpy(),
                        "wrongful_exit_lo": d["value_lo"].to_numpy(),
                        "wrongful_exit_hi": d["value_hi"].to_numpy(),
                        "reference": d["reference"].to_numpy(),
                        "fails": d["fails"].to_numpy(),
                    }
                )
            )
    by_group = pd.concat(parts, ignore_index=True)
    seconds["groups"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    quality = _label_quality(pop, dates, X)
    seconds["label_quality"] = round(time.perf_counter() - t0, 1)
    seconds["total"] = round(time.perf_counter() - started, 1)

    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    mode = umask_mode()
    for name, frame in (
        ("exit_model.csv", table),
        ("exit_model_pr.csv", curves),
        ("exit_model_groups.csv", by_group),
    ):
        write_atomic(out / name, frame.to_csv(index=False, float_format="%.4f"), mode=mode)
    summary = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "model_params": params,
        "test_recipients": len(y),
        "test_should_exit_share": float(y.mean()),
        "training": fitted,
        "review_label_quality": quality,
        "seconds": seconds,
    }
    write_atomic(
        out / "exit_model.json", json.dumps(summary, indent=2, default=str) + "\n", mode=mode
    )
    show = ["model", "operating_point", "flagged", "precision", "precision_lo", "precision_hi"]
    show += ["recall", "recall_lo", "recall_hi", "meets_target"]
    print(table[show].to_string(index=False, float_format="%.3f"))
    print(f"{seconds['total']} s")


if __name__ == "__main__":
    main()
