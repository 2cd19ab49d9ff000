"""Time GBMRiskModel training on 1M households and reason codes for the flagged 5%.

Features are real simulator features, replicated: one simulated population (default
100k households x 24 months, seed 0), ``ni.features.build`` at the last date a 6-month
label fits, labels from ``ni.labels.make``, then rows drawn with replacement (seeded)
up to 1M. Duplicated rows cost LightGBM the same histogram work as new ones, so the
timing is that of 1M households with the simulator's feature distribution (all the
default spec's features, about 135).

Then ``GBMRiskModel(n_jobs=2, max_depth=6).fit`` on the 1M rows (depth capped as in
configs/train/default.yaml; otherwise its defaults: 300 rounds, isotonic calibration on
a 20% holdout), ``predict_proba`` on the 1M, and ``explain(top=3)`` on
the top 5% (50k rows; TreeSHAP through LightGBM's ``pred_contrib``). Wall and CPU
seconds are both printed: the machine is shared, so wall time includes others' load.

Writes experiments/results/bench_training.json.

    .venv/bin/python experiments/bench_training.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _config import parse_args

import needsid as ni
from needsid._dates import months_after
from needsid._io import umask_mode, write_atomic
from needsid.evaluate import select_top
from needsid.models import GBMRiskModel

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "results" / "bench_training.json"


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--max-depth", type=int, default=6, help="tree depth cap, as configs/train/default.yaml"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parse_args(parser, "bench_training")

    pop = ni.simulate(args.households, args.months, seed=args.seed, n_jobs=args.n_jobs)
    as_of = months_after(pop.start, args.months - 6)
    X = ni.features.build(pop.bundle, as_of)
    X = X if isinstance(X, pd.DataFrame) else X.to_pandas()
    y = ni.labels.make(pop, as_of, 6)
    y = y if isinstance(y, pd.DataFrame) else y.to_pandas()
    frame = X.merge(y[["household_id", "in_need"]], on="household_id")
    names = list(ni.features.describe()["name"])
    del pop
    load_start = os.getloadavg()[0]
    rng = np.random.default_rng(args.seed)
    rows = rng.integers(0, len(frame), args.rows)
    X1 = frame[names].iloc[rows].reset_index(drop=True).astype(np.float64)
    y1 = frame["in_need"].to_numpy()[rows].astype(int)
    print(
        f"{args.rows:,} rows x {len(names)} features (from {len(frame):,} simulated "
        f"households at {as_of}), base rate {y1.mean():.3f}; load {load_start:.1f}",
        flush=True,
    )

    model = GBMRiskModel(n_jobs=args.n_jobs, max_depth=args.max_depth)
    model, fit_wall, fit_cpu = timed(lambda: model.fit(X1, y1))
    print(f"fit: {fit_wall:.1f} s wall, {fit_cpu:.1f} s CPU", flush=True)
    p, pred_wall, pred_cpu = timed(lambda: model.predict_proba(X1)[:, 1])
    print(f"predict_proba on {args.rows:,}: {pred_wall:.1f} s wall", flush=True)
    flagged = X1[select_top(p, 0.05)]
    reasons, exp_wall, exp_cpu = timed(lambda: model.explain(flagged, top=3))
    print(
        f"explain(top=3) on {len(flagged):,} flagged rows: {exp_wall:.1f} s wall, "
        f"{exp_cpu:.1f} s CPU, {len(flagged) / exp_wall:,.0f} rows/s",
        flush=True,
    )
    _, dim_wall, _ = timed(lambda: model.explain(flagged, top=3, by_dimension=True))
    print(f"explain(by_dimension=True): {dim_wall:.1f} s wall", flush=True)
    result = {
        "command": "python experiments/bench_training.py",
        "features_source": (
            f"ni.features.build on {args.households} simulated households "
            f"({args.months} months, seed {args.seed}) at {as_of}, rows drawn with "
            f"replacement to {args.rows}"
        ),
        "rows": args.rows,
        "features": len(names),
        "n_jobs": args.n_jobs,
        "max_depth": args.max_depth,
        "cpu_count": os.cpu_count(),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg()[0],
        "fit_wall_s": fit_wall,
        "fit_cpu_s": fit_cpu,
        "fit_under_120s": fit_wall < 120,
        "predict_wall_s": pred_wall,
        "explain_rows": len(flagged),
        "explain_wall_s": exp_wall,
        "explain_cpu_s": exp_cpu,
        "explain_rows_per_s": len(flagged) / exp_wall,
        "explain_by_dimension_wall_s": dim_wall,
        "reason_rows": len(reasons),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, json.dumps(result, indent=2), mode=umask_mode())
    print(f"written {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
