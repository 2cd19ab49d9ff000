"""Ablation of the visible-household AUC gap between LightGBM and the simulator's oracle.

The oracle (``p_need``) is the exact probability of need given the household's latent
state (0 secure, 1 vulnerable, 2 poor) in the month before the as_of date and its
transition rates, which the simulator derives from one household trait, ``risk``. The
records show neither, so LightGBM can only approach the oracle as far as its features
reveal them. This script measures how far, on the visible households (the truth's
``invisible`` is false), by refitting the same model on several feature sets:

- all features;
- all features without ``dibao_paid_to_standard``;
- all features without the new income/asset ratios (``new_ratios`` in the config);
- all features plus the true state in the month before as_of (an upper bound: what the
  records would give if they showed the state);
- all features plus the true state and the household's ``risk``.

Same simulation and leak-free rolling-origin split as experiments/model_comparison.py
(configs/experiments/oracle_gap.yaml: 200k households x 36 months, seed 0), the model
``GBMRiskModel(max_depth=6, calibration="sigmoid")`` (configs/train/default.yaml's
settings when it was run; a calibration map does not change the booster's ranking)
fitted on the training rows, and AUC on the visible test
households with the gap oracle AUC minus model AUC.

Writes experiments/results/oracle_gap.csv (the printed table) and oracle_gap.json (command,
config, row counts, oracle AUC, each feature set's AUC and gap, wall seconds).

    .venv/bin/python experiments/oracle_gap.py
    .venv/bin/python experiments/oracle_gap.py --households 20000   # quick look
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import pandas as pd
import polars as pl
from _config import parse_args
from sklearn.metrics import roc_auc_score

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.evaluate import temporal_split
from needsid.models import CALIBRATIONS, GBMRiskModel

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
TRAIN_AS_OF = ["2024-01-01", "2024-07-01", "2025-01-01"]
NEW_RATIOS = [
    "dibao_paid_to_standard",
    "wage_pc_1m",
    "wage_1m_to_12m",
    "wage_1m_to_low_income_line",
    "wage_12m_to_low_income_line",
    "pension_to_low_income_line",
    "survey_income_to_low_income_line",
    "deposit_change_12m",
]


def add_state(frame: pd.DataFrame, monthly: pl.DataFrame) -> pd.DataFrame:
    """Join the true latent state of the month before each row's as_of."""
    as_of = frame["as_of"].drop_duplicates()
    before = {d: (d - pd.DateOffset(months=1)).date() for d in as_of}
    state = (
        monthly.filter(pl.col("month").is_in(list(before.values())))
        .select("household_id", "month", "state")
        .to_pandas()
    )
    state["month"] = pd.to_datetime(state["month"])
    keys = frame[["household_id", "as_of"]].assign(
        month=pd.to_datetime(frame["as_of"].map(before))
    )
    out = keys.merge(state, on=["household_id", "month"], how="left", validate="many_to_one")
    if out["state"].isna().any():
        raise RuntimeError(f"{int(out['state'].isna().sum())} rows have no state in the truth")
    return frame.assign(state=out["state"].to_numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0, help="simulation and split salt")
    parser.add_argument("--horizon-months", type=int, default=6)
    parser.add_argument("--train-as-of", nargs="+", default=TRAIN_AS_OF, metavar="DATE")
    parser.add_argument("--test-as-of", default="2025-07-01", metavar="DATE")
    parser.add_argument("--test-size", type=float, default=0.3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--max-depth", type=int, default=6)
    parser.add_argument(
        "--calibration",
        default="sigmoid",
        choices=sorted(CALIBRATIONS),
    )
    parser.add_argument(
        "--new-ratios",
        nargs="+",
        default=NEW_RATIOS,
        metavar="FEATURE",
        help="features dropped together in 'without the new income/asset ratios'",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    args = parse_args(parser, "oracle_gap")
    t0 = time.perf_counter()

    pop = ni.simulate(args.households, args.months, seed=args.seed, n_jobs=args.n_jobs)
    print(f"simulated {args.households:,} households x {args.months} months", flush=True)
    split = temporal_split(
        pop,
        args.train_as_of,
        args.test_as_of,
        horizon_months=args.horizon_months,
        test_size=args.test_size,
        seed=args.seed,
    )
    features = list(split.features)

    traits = pop.truth.households.select("household_id", "invisible", "risk").to_pandas()
    if traits["household_id"].duplicated().any():
        raise RuntimeError("pop.truth.households has duplicate household ids")
    train = add_state(split.train, pop.truth.monthly)
    test = add_state(split.test, pop.truth.monthly)
    train = train.merge(traits[["household_id", "risk"]], on="household_id", how="left")
    test = test.merge(traits, on="household_id", how="left")
    if train["risk"].isna().any() or test["invisible"].isna().any():
        raise RuntimeError("split households missing from pop.truth.households")
    visible = ~test["invisible"].to_numpy(dtype=bool)
    y_train = train["in_need"].to_numpy().astype(int)
    y_vis = test["in_need"].to_numpy().astype(int)[visible]
    oracle_auc = float(roc_auc_score(y_vis, test["p_need"].to_numpy()[visible]))
    print(
        f"split: {len(train):,} training rows ({len(split.train_as_of)} dates), "
        f"{len(test):,} test households, {int(visible.sum()):,} visible "
        f"(base rate {y_vis.mean():.3f}), {len(features)} features; "
        f"oracle AUC on visible {oracle_auc:.4f}",
        flush=True,
    )

    missing = [f for f in args.new_ratios if f not in features]
    if missing:
        print(f"note: not among the features, so not dropped: {missing}", flush=True)
    ratios = [f for f in args.new_ratios if f in features]
    dibao = [f for f in ("dibao_paid_to_standard",) if f in features]
    sets = {
        "all features": features,
        "without dibao_paid_to_standard": [f for f in features if f not in dibao],
        f"without the new income/asset ratios ({len(ratios)})": [
            f for f in features if f not in ratios
        ],
        "all features + true state": [*features, "state"],
        "all features + true state + household risk": [*features, "state", "risk"],
    }

    rows = []
    for name, cols in sets.items():
        t = time.perf_counter()
        model = GBMRiskModel(
            n_jobs=args.n_jobs, max_depth=args.max_depth, calibration=args.calibration
        ).fit(train[cols], y_train)
        p = model.predict_proba(test.loc[visible, cols])[:, 1]
        auc = float(roc_auc_score(y_vis, p))
        rows.append(
            {
                "feature_set": name,
                "n_features": len(cols),
                "visible_auc": auc,
                "gap_to_oracle": oracle_auc - auc,
                "fit_seconds": time.perf_counter() - t,
            }
        )
        print(
            f"{name}: {len(cols)} features, visible AUC {auc:.4f}, gap {oracle_auc - auc:.4f} "
            f"({rows[-1]['fit_seconds']:.0f} s)",
            flush=True,
        )

    table = pd.DataFrame(rows)
    wall = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(
        args.out / "oracle_gap.csv",
        lambda tmp: table.drop(columns="fit_seconds").to_csv(
            tmp, index=False, float_format="%.4f"
        ),
        mode=umask_mode(),
    )
    result = {
        "command": shlex.join(["python", "experiments/oracle_gap.py", *sys.argv[1:]]),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "n_features": len(features),
        "new_ratios_dropped": ratios,
        "new_ratios_not_found": missing,
        "train_rows": len(train),
        "test_households": len(test),
        "visible_test_households": int(visible.sum()),
        "base_rate_visible": float(y_vis.mean()),
        "oracle_auc_visible": oracle_auc,
        "feature_sets": rows,
        "wall_seconds": wall,
    }
    write_atomic(args.out / "oracle_gap.json", json.dumps(result, indent=2), mode=umask_mode())

    shown = table.drop(columns="fit_seconds").rename(
        columns={
            "feature_set": "feature set",
            "n_features": "n features",
            "visible_auc": "visible AUC",
            "gap_to_oracle": "gap to oracle",
        }
    )
    print(f"\noracle AUC on {int(visible.sum()):,} visible test households: {oracle_auc:.4f}")
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(f"\nwritten to {args.out} in {wall:.0f} s")


if __name__ == "__main__":
    main()
