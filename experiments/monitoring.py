"""Monitoring month by month: false drift, a known shock, and precision without labels.

Two populations from one seed: one without a shock, one in which job loss triples in a
third of the regions from ``--shock-start`` for ``--shock-months`` months. On each, a
LightGBM risk model is trained before the monitored year with the parameters
``needsid train`` uses (``--train-config``), and ``ni.monitoring.run`` evaluates every
month. Two models, as a county would have one and a researcher the other:

- trained on the bundle's own labels (``source="pu"``, the casework outcomes): what a
  county holding only its records gets;
- trained on the simulator's true labels (research): its calibrated scores estimate
  precision against the truth.

Prints and writes (experiments/results/monitoring_*.csv):

1. no shock: the share of (month, variable) drift tests marked drifted, and the estimated
   precision at the capacity next to the true one, month by month;
2. the shock: the first month the score's drift is marked, the regions whose score drift
   is marked within two months of the start (the two runs after it, which read the
   shock's first month and first two; against the shocked regions), and the estimated
   precision before and after; and in both scenarios, the regions with an excess of
   some alert source's new alerts (``result.excess``) in those two runs, and the
   (month, region) pairs marked in the other months;
3. the time of the 12 monthly runs, with the machine's load (1-minute average) at the
   end of each.

Usage: python experiments/monitoring.py [--households 100000] [--config FILE]
A shock of another size alone: ``--scenarios shock --shock-job-loss 10`` (result files
end in ``_shock_job_loss_10``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from _config import markdown, parse_args, train_params
from _train import fit_gbm

import needsid as ni
from needsid._dates import months_after
from needsid.models import CALIBRATIONS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _true_precision(
    pop, months: list[dt.date], model, capacity: float, horizon: int
) -> list[float]:
    """Share truly in need within the label window among the top ``capacity`` each month."""
    names = [str(n) for n in model.feature_names_in_]
    out = []
    for m in months:
        X = ni.features.build(pop.bundle, m)
        s = model.predict_proba(X.select(names).to_pandas())[:, 1]
        y = ni.labels.make(pop, m, horizon, source="truth").select("household_id", "in_need")
        scored = (
            X.select("household_id").with_columns(pl.Series("score", s)).join(y, on="household_id")
        )
        k = round(capacity * scored.height)
        top = scored.sort(["score", "household_id"], descending=[True, False]).head(k)
        out.append(float(top["in_need"].mean()))
    return out


def _entries(pop, hit: list[str], start: dt.date) -> dict[str, float]:
    """Households entering need per month (truth), shocked regions and others.

    The two months before ``start`` and the first two from it: how much the shock moves
    the population the score describes.
    """
    m = (
        pop.truth.monthly.select("household_id", "month", "in_need")
        .sort("household_id", "month")
        .with_columns(before=pl.col("in_need").shift(1).over("household_id"))
        .join(pop.bundle.households.select("household_id", "region_id"), on="household_id")
        .with_columns(
            entered=(pl.col("in_need") & ~pl.col("before")).cast(pl.Int64),
            shocked=pl.col("region_id").is_in(hit),
        )
    )
    out = {}
    for name, lo, hi in (
        ("before", months_after(start, -2), start),
        ("first_2_months", start, months_after(start, 2)),
    ):
        window = m.filter((pl.col("month") >= lo) & (pl.col("month") < hi))
        for shocked, label in ((True, "shocked"), (False, "other")):
            part = window.filter(pl.col("shocked") == shocked)
            per_month = part["entered"].sum() / 2
            out[f"entered_need_per_1000_{label}_{name}"] = 1000 * per_month / (part.height / 2)
    return out


def _within_2_months(start: dt.date) -> pl.Expr:
    """The runs dated after ``start`` and at most two months after it.

    A run at ``m`` reads the records before ``m``: the run at ``start`` sees none of
    the shock, the next two see its first month and its first two.
    """
    return (pl.col("month") > start) & (pl.col("month") <= months_after(start, 2))


def _named(named: list[str], hit: list[str]) -> dict:
    """The regions a test marked within the window, against the shocked ones."""
    return {
        "regions_marked_within_2_months": " ".join(named),
        "shocked_regions_marked": len(set(named) & set(hit)),
        "other_regions_marked": len(set(named) - set(hit)),
        "shocked_regions": len(hit),
    }


def _excess_summary(result, scenario: str, label: str, hit: list[str], start: dt.date) -> dict:
    """Regions with an excess of some alert source's new alerts, in and out of the window.

    The window is the two runs after ``start`` (:func:`_within_2_months`); the same
    months are read in the scenario without the shock. Also the false alarms of a
    county that reads the table every month: the (month, region) pairs marked where no
    shock was on record (every pair without the shock; with it, the other regions and
    the shocked ones up to ``start``), and the shocked regions' marks after the window.
    """
    regions = result.excess.filter(pl.col("group").str.starts_with("region_id="))
    e = regions.filter(pl.col("marked"))
    inside = e.filter(_within_2_months(start))
    named = sorted({g.split("=", 1)[1] for g in inside["group"]})
    shocked = pl.col("group").is_in([f"region_id={r}" for r in hit]) & (pl.col("month") > start)
    calm = ~shocked if scenario == "shock" else pl.lit(True)
    pairs = ["month", "group"]
    after = shocked & (pl.col("month") > months_after(start, 2))
    first = {r: inside.filter(pl.col("group") == f"region_id={r}")["month"].min() for r in named}
    return {
        "scenario": scenario,
        "model": label,
        **_named(named, hit),
        "first_month_marked": min(first.values()) if first else None,
        "sources": " ".join(sorted(set(inside["source"]))),
        "false_alarm_region_months": e.filter(calm).select(pairs).unique().height,
        "region_months_without_shock": regions.filter(calm).select(pairs).unique().height,
        "false_alarm_sources": " ".join(sorted(set(e.filter(calm)["source"]))),
        "shocked_region_months_marked_after_window": (
            e.filter(after).select(pairs).unique().height if scenario == "shock" else None
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int)
    parser.add_argument("--months", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--sim-start",
        type=_date,
        help="first simulated month: a county with years of records (warm-up before start)",
    )
    parser.add_argument("--train-as-of", nargs="+", type=_date)
    parser.add_argument("--start", type=_date)
    parser.add_argument("--end", type=_date)
    parser.add_argument(
        "--train-config", help="training run whose model parameters are used (repo path)"
    )
    parser.add_argument(
        "--calibration",
        choices=sorted(CALIBRATIONS),
        help="replace the training run's calibration (results get it as a suffix)",
    )
    parser.add_argument("--horizon", type=int)
    parser.add_argument("--capacity", type=float)
    parser.add_argument("--shock-start", type=_date)
    parser.add_argument("--shock-months", type=int)
    parser.add_argument("--shock-job-loss", type=float)
    parser.add_argument("--shock-region-share", type=float)
    parser.add_argument("--reference", choices=list(ni.monitoring.REFERENCES))
    parser.add_argument(
        "--compare-reference",
        choices=list(ni.monitoring.REFERENCES),
        help="also run the no-shock scenario's bundle model with this reference",
    )
    parser.add_argument("--min-psi", type=float, help="practical floor reported beside")
    parser.add_argument(
        "--scenarios", nargs="+", choices=["no shock", "shock"], default=["no shock", "shock"]
    )
    args = parse_args(parser, "monitoring")

    base = ni.simulation.default_config()
    if args.sim_start is not None:
        base = base.model_copy(update={"start": args.sim_start})
    regions = [f"G{i:02d}" for i in range(1, base.n_regions + 1)]
    hit = regions[: round(args.shock_region_share * len(regions))]
    shock = ni.simulation.Shock(
        start=args.shock_start, months=args.shock_months, regions=hit, job_loss=args.shock_job_loss
    )
    register = ni.indicators.load()
    params = train_params(ROOT / args.train_config)
    if args.calibration is not None:
        params = {**params, "calibration": args.calibration}
    rows_drift, rows_perf, rows_shock, score_drift = [], [], [], []
    excess_rows: list[dict] = []
    excess_marked: list[pl.DataFrame] = []
    for scenario, config in (
        ("no shock", base),
        ("shock", base.model_copy(update={"shocks": [shock]})),
    ):
        if scenario not in args.scenarios:
            continue
        t0 = time.perf_counter()
        pop = ni.simulate(
            n_households=args.households, months=args.months, seed=args.seed, config=config
        )
        n = pop.bundle.households.height
        print(f"{scenario}: simulated {n:,} households in {time.perf_counter() - t0:.0f} s")
        models = {
            "bundle labels": fit_gbm(pop, args.train_as_of, args.horizon, "pu", params),
            "true labels (research)": fit_gbm(
                pop, args.train_as_of, args.horizon, "truth", params
            ),
        }
        runs = [(label, model, args.reference) for label, model in models.items()]
        if scenario == "no shock" and args.compare_reference:
            runs.append(("bundle labels", models["bundle labels"], args.compare_reference))
        for label, model, reference in runs:
            t0 = time.perf_counter()
            result = ni.monitoring.run(
                pop.bundle,
                args.start,
                args.end,
                model=model,
                register=register,
                capacity=args.capacity,
                reference=reference,
            )
            seconds = time.perf_counter() - t0
            load = os.getloadavg()[0]
            print(
                f"  {label}, {reference}: {len(result.months)} monthly runs in {seconds:.0f} s"
                f" (load {load:.1f})"
            )
            d = result.drift
            score_drift.append(
                d.filter(pl.col("variable") == "score").with_columns(
                    scenario=pl.lit(scenario), model=pl.lit(label), reference=pl.lit(reference)
                )
            )
            overall = d.filter(pl.col("group") == "all")
            rows_drift.append(
                {
                    "scenario": scenario,
                    "model": label,
                    "reference": reference,
                    "tests": overall.height,
                    "drifted_share": float(overall["drifted"].mean()),
                    f"drifted_share_psi_{args.min_psi}": float(
                        (overall["drifted"] & (overall["psi"] >= args.min_psi)).mean()
                    ),
                    "features_drifted_share": float(
                        overall.filter(pl.col("variable") != "score")["drifted"].mean()
                    ),
                    "score_months_drifted": int(
                        overall.filter(pl.col("variable") == "score")["drifted"].sum()
                    ),
                    "run_seconds": seconds,
                    "load_1min_at_end": load,
                }
            )
            if reference != args.reference:
                continue  # the comparison run is for drift only
            excess_rows.append(_excess_summary(result, scenario, label, hit, args.shock_start))
            excess_marked.append(
                result.excess.filter(pl.col("marked")).with_columns(
                    scenario=pl.lit(scenario), model=pl.lit(label)
                )
            )
            truth = _true_precision(pop, result.months, model, args.capacity, args.horizon)
            perf = result.performance.with_columns(pl.Series("true_precision", truth))
            for row in perf.iter_rows(named=True):
                rows_perf.append({"scenario": scenario, "model": label, **row})
            if scenario == "shock":
                score = d.filter(pl.col("variable") == "score")
                marked = score.filter((pl.col("group") == "all") & pl.col("drifted"))
                first = marked["month"].min() if marked.height else None
                window = _within_2_months(args.shock_start)
                early = score.filter(
                    pl.col("group").str.starts_with("region_id=") & pl.col("drifted") & window
                )
                named = sorted({g.split("=", 1)[1] for g in early["group"]})
                large = sorted(
                    {
                        g.split("=", 1)[1]
                        for g in early.filter(pl.col("psi") >= args.min_psi)["group"]
                    }
                )
                before = perf.filter(pl.col("month") < args.shock_start)
                after = perf.filter(window)
                rows_shock.append(
                    {
                        "model": label,
                        "first_month_score_drifted": first,
                        **_named(named, hit),
                        f"shocked_regions_marked_psi_{args.min_psi}": len(set(large) & set(hit)),
                        f"other_regions_marked_psi_{args.min_psi}": len(set(large) - set(hit)),
                        "estimated_precision_before": before["estimated_precision"].mean(),
                        "estimated_precision_within_2_months": after["estimated_precision"].mean(),
                        "true_precision_before": before["true_precision"].mean(),
                        "true_precision_within_2_months": after["true_precision"].mean(),
                        **_entries(pop, hit, args.shock_start),
                    }
                )

    RESULTS.mkdir(exist_ok=True)
    drift = pd.DataFrame(rows_drift)
    perf = pd.DataFrame(rows_perf)
    perf["gap"] = perf["estimated_precision"] - perf["true_precision"]
    shock_table = pd.DataFrame(rows_shock)
    suffix = "" if len(args.scenarios) == 2 else "_" + "_".join(args.scenarios).replace(" ", "_")
    suffix += f"_{args.calibration}" if args.calibration else ""
    if args.scenarios == ["shock"]:  # a shock of another size: its multiplier is named
        suffix += f"_job_loss_{args.shock_job_loss:g}"
    drift.to_csv(RESULTS / f"monitoring_drift{suffix}.csv", index=False)
    pl.concat(score_drift).write_csv(RESULTS / f"monitoring_score_drift{suffix}.csv")
    perf.to_csv(RESULTS / f"monitoring_precision{suffix}.csv", index=False)
    shock_table.to_csv(RESULTS / f"monitoring_shock{suffix}.csv", index=False)
    excess_table = pd.DataFrame(excess_rows)
    excess_table.to_csv(RESULTS / f"monitoring_excess{suffix}.csv", index=False)
    pl.concat(excess_marked).write_csv(RESULTS / f"monitoring_excess_marked{suffix}.csv")
    print(markdown(drift))
    gaps = perf.groupby(["scenario", "model"])["gap"].agg(lambda g: float(np.abs(g).max()))
    print("largest |estimated - true precision| by month:")
    print(markdown(gaps.to_frame("max_abs_gap").reset_index()))
    print(markdown(shock_table))
    print(markdown(excess_table))


if __name__ == "__main__":
    main()
