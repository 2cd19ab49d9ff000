"""Allocation: need by dimension, then programmes under a budget (资源配置, 所救即所需).

One seeded simulation (configs/experiments/allocation.yaml: 100k households x 36
months). Need by dimension is predicted at ``--as-of`` by ``NeedProfileModel`` trained at
``--train-as-of`` three ways: on what a county holds, ``labels.make_needs`` (health,
education, care, housing and employment from the records; income from the casework's
assessments, positive-unlabeled with selection-aware weights: what ``needsid
train-needs`` does); on the records alone (income from wages on record, the earlier
default); and on the simulator's truth (research). The budget is the status quo's cash
assistance (dibao, tekun, temporary) paid in the month before ``--as-of``, times
``--budget-multiple``.

At that budget, on every household:

- the plan of ``ni.allocation.allocate`` with the default catalogue (a mixed-integer
  programme, HiGHS): its solve time, the gap to the LP bound;
- "dibao only to the top-k": dibao top-ups, at the catalogue's cost formula, to eligible
  households by P(need_income) until the budget is spent.

Each is measured against the truth over the 6 months after ``--as-of``: the share of
assigned programme-months that serve a dimension the household is truly in need of
(所救即所需), the households and the true needs (household x dimension) served.

Then, on a seeded subsample, ``budget_curve`` prices two fairness floors (each region's
and urban/rural rate of need met against the overall rate) at several budgets, with
bootstrap intervals.

Writes experiments/results/allocation.csv and allocation_fairness.csv.

    .venv/bin/python experiments/allocation.py
    .venv/bin/python experiments/allocation.py --households 20000   # quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from _config import markdown, parse_args

import needsid as ni
from needsid._dates import months_before
from needsid.allocation import NeedFloor, allocate, budget_curve, load_catalogue
from needsid.models import GBMRiskModel, NeedProfileModel, need_targets, need_weights
from needsid.simulation import NEED_DIMENSIONS

RESULTS = Path(__file__).resolve().parent / "results"
CASH = ("benefit_dibao", "benefit_tekun", "benefit_temporary")


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _need_model(pop, as_of: dt.date, horizon: int, source: str) -> NeedProfileModel:
    """Fit on the truth, or on ``make_needs(income=source)`` of the bundle alone."""
    X = ni.features.build(pop.bundle, as_of)
    if source == "truth":
        raw = ni.labels.make(pop, as_of, horizon, source="truth")
    else:
        raw = ni.labels.make_needs(pop.bundle, as_of, horizon, income=source, features=X)
    both = X.join(raw, on="household_id", how="inner")
    names = list(ni.features.describe()["name"])
    targets = list(need_targets(raw).drop("household_id").columns)
    weights = None if source == "truth" else need_weights(both).drop("household_id")
    # one thread: on a shared 2-core machine LightGBM's second thread spin-waits
    model = NeedProfileModel(GBMRiskModel(n_jobs=1, random_state=0))
    return model.fit(
        both.select(names).to_pandas(), both.select(targets).to_pandas(), sample_weight=weights
    )


def _households(pop, as_of: dt.date) -> pl.DataFrame:
    """Features at ``as_of`` with the region and its dibao standard."""
    b = pop.bundle.to_polars()
    X = ni.features.build(b, as_of)
    return X.join(b.households.select("household_id", "region_id"), on="household_id").join(
        b.regions.select("region_id", "dibao_standard"), on="region_id"
    )


def _scores(model: NeedProfileModel, frame: pl.DataFrame) -> pl.DataFrame:
    names = [str(n) for n in model.feature_names_in_]
    p = model.predict_proba(frame.select(names).to_pandas())
    probs = {f"need_{d}": p[:, i] for i, d in enumerate(model.dimensions_)}
    # a dimension the model has no labels for (records: care, housing) is unknown: 0
    for d in NEED_DIMENSIONS:
        probs.setdefault(f"need_{d}", np.zeros(frame.height))
    return frame.with_columns(**{k: pl.Series(v) for k, v in probs.items()})


def _status_quo_budget(pop, as_of: dt.date) -> float:
    r = pop.bundle.to_polars().records
    month = r.filter(
        pl.col("kind").cast(pl.String).is_in(CASH)
        & (pl.col("event_date") >= months_before(as_of, 1))
        & (pl.col("event_date") < as_of)
    )
    return float(month["amount"].sum())


def _dibao_top_k(scores: pl.DataFrame, budget: float) -> pl.DataFrame:
    """Dibao top-ups by P(need_income), at the default catalogue's cost, within budget."""
    eligible = scores.filter(pl.col("net_income_pc") < pl.col("dibao_standard")).with_columns(
        monthly_cost=(
            (pl.col("dibao_standard") - pl.col("net_income_pc").clip(lower_bound=0)).clip(
                lower_bound=0
            )
            * pl.col("hh_size")
        )
    )
    ranked = eligible.sort(["need_income", "household_id"], descending=[True, False])
    spent = ranked["monthly_cost"].cum_sum()
    return ranked.filter(spent <= budget).select(
        "household_id", pl.lit("dibao_topup").alias("programme_id"), "monthly_cost"
    )


def _against_truth(assignments: pl.DataFrame, truth: pl.DataFrame, serves: dict) -> dict:
    """Match (所救即所需) and true needs served, for assignments of any plan."""
    a = assignments.join(truth, on="household_id", how="left")
    hit = pl.any_horizontal(
        *[
            pl.col("programme_id").is_in([p for p, dims in serves.items() if d in dims])
            & pl.col(f"need_{d}").fill_null(False)
            for d in NEED_DIMENSIONS
        ]
    )
    a = a.with_columns(match=hit)
    served = (
        a.group_by("household_id")
        .agg(
            *[
                (
                    pl.col("programme_id").is_in([p for p, dims in serves.items() if d in dims])
                    & pl.col(f"need_{d}").fill_null(False)
                )
                .any()
                .alias(d)
                for d in NEED_DIMENSIONS
            ]
        )
        .select(pl.sum_horizontal(*NEED_DIMENSIONS).sum())
        .item()
    )
    return {
        "households": a["household_id"].n_unique(),
        "programme_months": a.height,
        "cost": float(a["monthly_cost"].sum()),
        "match_share": float(a["match"].mean()) if a.height else float("nan"),
        "true_needs_served": int(served or 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int)
    parser.add_argument("--months", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--train-as-of", type=_date)
    parser.add_argument("--as-of", type=_date)
    parser.add_argument("--horizon", type=int)
    parser.add_argument("--budget-multiple", type=float)
    parser.add_argument("--curve-multiples", type=float, nargs="+")
    parser.add_argument("--curve-households", type=int)
    parser.add_argument("--n-bootstrap", type=int)
    parser.add_argument("--region-floor", type=float)
    parser.add_argument("--urban-floor", type=float)
    parser.add_argument("--curve-time-limit", type=float, help="seconds per curve solve")
    args = parse_args(parser, "allocation")

    t0 = time.perf_counter()
    pop = ni.simulate(n_households=args.households, months=args.months, seed=args.seed)
    seconds = time.perf_counter() - t0
    print(f"simulated {pop.bundle.households.height:,} households in {seconds:.0f} s")
    catalogue = load_catalogue()
    serves = {p.id: set(p.dimensions) for p in catalogue.programmes}
    frame = _households(pop, args.as_of)
    truth = ni.labels.make(pop, args.as_of, args.horizon, source="truth").select(
        "household_id", *[f"need_{d}" for d in NEED_DIMENSIONS]
    )
    budget = args.budget_multiple * _status_quo_budget(pop, args.as_of)
    print(f"budget: {budget:,.0f} yuan a month ({args.budget_multiple} x the status quo's cash)")

    rows, curves = [], []
    for label, source in (
        ("bundle: records + casework income (pu)", "pu"),
        ("bundle: records only (income from wages)", "records"),
        ("true labels (research)", "truth"),
    ):
        t0 = time.perf_counter()
        model = _need_model(pop, args.train_as_of, args.horizon, source)
        print(f"{label}: need model in {time.perf_counter() - t0:.0f} s")
        scores = _scores(model, frame)
        t0 = time.perf_counter()
        plan = allocate(scores, catalogue, budget, as_of=args.as_of)
        seconds = time.perf_counter() - t0
        print(f"  plan: {plan.status}, gap {plan.gap:.2e}, {seconds:.1f} s")
        assignments = (
            pl.from_pandas(plan.assignments)
            if isinstance(plan.assignments, pd.DataFrame)
            else plan.assignments
        )
        rows.append(
            {
                "need model": label,
                "allocation": "catalogue plan (MIP)",
                "programmes": len(catalogue.programmes),
                "solve_seconds": seconds,
                "gap": plan.gap,
                "status": plan.status,
                **_against_truth(assignments, truth, serves),
            }
        )
        top = _dibao_top_k(scores, budget)
        rows.append(
            {
                "need model": label,
                "allocation": "dibao only, top-k by P(need_income)",
                "programmes": 1,
                **_against_truth(top, truth, serves),
            }
        )
        sample = scores.sample(n=min(args.curve_households, scores.height), seed=args.seed)
        # floors against the unconstrained plan's overall rate of need met at the budget
        served = sorted({d for dims in serves.values() for d in dims})
        rate = plan.objective / float(
            scores.select(pl.sum_horizontal(*[f"need_{d}" for d in served])).sum().item()
        )
        floors = [
            NeedFloor("region_id", round(args.region_floor * rate, 4)),
            NeedFloor("urban", round(args.urban_floor * rate, 4)),
        ]
        print(f"  overall rate of need met {rate:.3f}; floors {[f.describe() for f in floors]}")
        share = sample.height / scores.height
        t0 = time.perf_counter()
        curve = budget_curve(
            sample,
            catalogue,
            [m * budget * share for m in args.curve_multiples],
            fairness=floors,
            n_bootstrap=args.n_bootstrap,
            seed=args.seed,
            time_limit=args.curve_time_limit,
        )
        print(f"  budget curve: {time.perf_counter() - t0:.0f} s")
        c = curve.to_frame()
        c = pl.from_pandas(c) if isinstance(c, pd.DataFrame) else c
        curves.append(c.with_columns(pl.lit(label).alias("need model")))

    RESULTS.mkdir(exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(RESULTS / "allocation.csv", index=False)
    fairness = pl.concat(curves, how="diagonal_relaxed").to_pandas()
    fairness.to_csv(RESULTS / "allocation_fairness.csv", index=False)
    print(markdown(table))
    print(markdown(fairness))


if __name__ == "__main__":
    main()
