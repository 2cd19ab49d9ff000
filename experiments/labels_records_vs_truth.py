"""How record-only labels compare with the simulator's truth.

python experiments/labels_records_vs_truth.py --households 3000 --as-of 2025-01-01
"""

import argparse
import json

import polars as pl
from _config import parse_args

import needsid as ni


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=3000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--as-of", default="2025-01-01")
    ap.add_argument("--horizon", type=int, default=6)
    args = parse_args(ap, "labels_records_vs_truth")
    pop = ni.simulate(n_households=args.households, months=args.months, seed=args.seed)
    truth = ni.labels.make(pop, as_of=args.as_of, horizon_months=args.horizon)
    records = ni.labels.make(
        pop.bundle, as_of=args.as_of, horizon_months=args.horizon, source="records"
    )
    both = truth.select("household_id", pl.col("in_need").alias("truth")).join(
        records.select("household_id", pl.col("in_need").alias("records")), on="household_id"
    )
    out = {
        "households": both.height,
        "in_need_truth": both["truth"].mean(),
        "in_need_records": both["records"].mean(),
        "records_given_truth": both.filter(pl.col("truth"))["records"].mean(),
        "truth_given_records": both.filter(pl.col("records"))["truth"].mean(),
        **{f"records_{c}": records[c].mean() for c in records.columns if c.startswith("need_")},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
