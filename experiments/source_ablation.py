"""Which departments to connect first: each department's records taken away, model refitted.

One seeded simulation (configs/experiments/source_ablation.yaml: 100k households x 36
months). ``ni.evaluate.source_ablation`` removes one department's records at a time from
the bundle (``--modes add``: adds one at a time to the civil-affairs base), refits the
LightGBM of ``configs/train/default.yaml`` on the county's own labels (positive-unlabeled,
``ni.labels.BUNDLE_DEFAULT``, made once from the full bundle) at the training dates, and
scores the held-out households at the test date against the simulator's truth. Per
department: the change in exclusion error at the capacity (95% paired-bootstrap interval
over test households; the refit's own variation is not in it), the same against the
bundle's labels (what a county could measure), the change in the share of households
with no record of any department in the features' 24-month look-back and of those the
flag table treats as invisible (invisibility score >= 0.8), and the change in each
cross-check's recall of the injected anomalies (rules at the extraction date, no
suppression, as experiments/rules_precision_recall.py).

    nice .venv/bin/python experiments/source_ablation.py
    .venv/bin/python experiments/source_ablation.py --households 20000   # quick look

``--threads`` (default 1) caps LightGBM's and scikit-learn's OpenMP threads (the label
propensity models): on two cores shared with other work their threads spin-wait, and a
fit on 28k rows took 19 s on two threads against 2 s on one.

Writes experiments/results/source_ablation.csv (one row per mode and scenario),
source_ablation_cross_checks.csv (recall per scenario and cross-check) and
source_ablation.json (settings, seconds), and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import polars as pl
from _config import parse_args, train_params
from threadpoolctl import threadpool_limits

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.evaluate import source_ablation

ROOT = Path(__file__).resolve().parents[1]
# short column names for the printed cross-check table
SHORT = {
    "disability_subsidy_with_tekun": "dup. subsidy",
    "paid_after_death": "after death",
    "paid_in_prison": "in prison",
    "dibao_asset_vehicle": "vehicle",
    "dibao_asset_business": "business",
    "dibao_asset_property": "property",
    "dibao_asset_deposit": "deposit",
}


def _ci(est: float, lo: float, hi: float, signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(est)} [{f.format(lo)}, {f.format(hi)}]"


def markdown(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main_table(t: pl.DataFrame) -> str:
    header = [
        "scenario",
        "records",
        "no data",
        "Δ no data",
        "Δ invisible",
        "exclusion error [95% CI]",
        "Δ exclusion error [95% CI]",
        "Δ AUC",
        "Δ excl. (bundle labels) [95% CI]",
    ]
    rows = []
    for r in t.iter_rows(named=True):
        rows.append(
            [
                r["scenario"],
                f"{r['records']:,}",
                f"{r['no_data_share']:.3f}",
                f"{r['delta_no_data_share']:+.3f}",
                f"{r['delta_invisible_share']:+.3f}",
                _ci(r["exclusion_error"], r["exclusion_error_lo"], r["exclusion_error_hi"]),
                _ci(
                    r["delta_exclusion_error"],
                    r["delta_exclusion_error_lo"],
                    r["delta_exclusion_error_hi"],
                    signed=True,
                ),
                f"{r['delta_auc']:+.3f}",
                _ci(
                    r["delta_exclusion_error_labels"],
                    r["delta_exclusion_error_labels_lo"],
                    r["delta_exclusion_error_labels_hi"],
                    signed=True,
                ),
            ]
        )
    return markdown(rows, header)


def recall_table(checks: pl.DataFrame) -> str:
    rules = list(dict.fromkeys(checks["rule_id"]))
    first = checks.filter(pl.col("scenario") == checks["scenario"][0])
    n = dict(zip(first["rule_id"], first["anomalies"], strict=True))
    header = ["scenario", *[f"{SHORT.get(r, r)} (n={n[r]})" for r in rules]]
    rows = []
    for name in dict.fromkeys(checks["scenario"]):
        part = checks.filter(pl.col("scenario") == name)
        recall = dict(zip(part["rule_id"], part["recall"], strict=True))
        rows.append([name, *[f"{recall[r]:.3f}" for r in rules]])
    return markdown(rows, header)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", nargs="+", choices=["remove", "add"], default=["remove"])
    ap.add_argument("--base", nargs="*", default=["civil_affairs"])
    ap.add_argument("--train-as-of", nargs="+", default=["2024-07-01", "2025-01-01"])
    ap.add_argument("--test-as-of", default="2025-07-01")
    ap.add_argument("--horizon", type=int, default=6)
    ap.add_argument("--test-size", type=float, default=0.3)
    ap.add_argument("--capacity", type=float, default=0.05)
    ap.add_argument("--label-source", default=ni.labels.BUNDLE_DEFAULT)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--train-config", default="configs/train/default.yaml")
    ap.add_argument("--out", default="experiments/results")
    args = parse_args(ap, "source_ablation")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%X")
    started = time.perf_counter()
    seconds = {}
    params = train_params(ROOT / args.train_config)
    params["n_jobs"] = args.threads
    threadpool_limits(limits=args.threads)
    pop = ni.simulate(n_households=args.households, months=args.months, seed=args.seed)
    seconds["simulate"] = round(time.perf_counter() - started, 1)
    tables, checks = [], []
    for mode in args.modes:
        t0 = time.perf_counter()
        res = source_ablation(
            pop,
            mode=mode,
            base=args.base if mode == "add" else None,
            model=ni.models.GBMRiskModel(**params),
            capacity=args.capacity,
            train_as_of=args.train_as_of,
            test_as_of=args.test_as_of,
            horizon_months=args.horizon,
            test_size=args.test_size,
            label_source=args.label_source,
            n_boot=args.n_boot,
            seed=args.seed,
        )
        seconds[mode] = round(time.perf_counter() - t0, 1)
        tables.append(res.table.insert_column(0, pl.lit(mode).alias("mode")))
        checks.append(res.cross_checks.insert_column(0, pl.lit(mode).alias("mode")))
        print(
            f"\n### mode={mode}: {args.households:,} households x {args.months} months, "
            f"seed {args.seed}; trained on {res.label_source!r} labels at "
            f"{', '.join(map(str, res.train_as_of))}; test {res.test_as_of}, capacity "
            f"{res.capacity}; {seconds[mode]} s\n"
        )
        print(main_table(res.table))
        print(f"\ncross-check recall of the injected anomalies (rules at {res.rules_as_of}):\n")
        print(recall_table(res.cross_checks))
    seconds["total"] = round(time.perf_counter() - started, 1)
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    mode_ = umask_mode()
    for name, frame in (
        ("source_ablation.csv", pl.concat(tables, how="diagonal")),
        ("source_ablation_cross_checks.csv", pl.concat(checks)),
    ):
        write_atomic(
            out / name, lambda tmp, f=frame: f.write_csv(tmp, float_precision=4), mode=mode_
        )
    summary = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "model_params": params,
        "records": pop.bundle.records.height,
        "seconds": seconds,
    }
    write_atomic(
        out / "source_ablation.json", json.dumps(summary, indent=2, default=str) + "\n", mode=mode_
    )
    print(f"\n{seconds['total']} s; written {out}/source_ablation*.csv")


if __name__ == "__main__":
    main()
