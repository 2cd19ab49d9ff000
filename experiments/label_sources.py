"""Labels on real data: each label source a bundle offers, scored against the truth.

A county has no true labels. This trains the same LightGBM (``configs/train/default.yaml``)
on each label source of ``ni.labels.make`` and scores every model on the test households
against the simulator's truth, which no training path sees, at one capacity, with one
paired bootstrap. Research rows (they use the truth): the model trained on true labels
and the oracle. A second table measures who the status quo labels and how wrong its
assessments are.

python experiments/label_sources.py        (config: configs/experiments/label_sources.yaml)

Writes experiments/results/label_sources.csv (the comparison), label_sources_selection.csv
(the selection) and label_sources.json (settings, figures, seconds).
"""

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import pandas as pd
import polars as pl
from _config import parse_args, train_params

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.evaluate import Comparison, select_top, status_quo
from needsid.evaluate._split import _in_test_group
from needsid.labels._verified import recipients

ROOT = Path(__file__).resolve().parents[1]
# (row name, label source, line, use the weight column)
PATHS = (
    ("records (proxy, no casework)", "records", "dibao", False),
    ("verified only", "verified", "dibao", False),
    ("verified, inverse-propensity weighted", "ipw", "dibao", True),
    ("positive-unlabeled, unweighted", "pu", "dibao", False),
    ("positive-unlabeled, selection-aware", "pu", "dibao", True),
    ("positive-unlabeled, selection-aware, low-income line", "pu", "low_income", True),
)


def _frames(pop, dates, test_date, horizon, test_size, seed):
    """Features at every date, and the training / test households (grouped)."""
    X = {d: ni.features.build(pop.bundle, d) for d in [*dates, test_date]}
    test_group = {d: _in_test_group(X[d]["household_id"].to_pandas(), test_size, seed) for d in X}
    return X, test_group


def _train_rows(pop, X, test_group, dates, horizon, source, line, seed):
    parts = []
    for d in dates:
        data = pop if source == "truth" else pop.bundle
        y = ni.labels.make(
            data, d, horizon, source=source, features=X[d], line=line, random_state=seed
        )
        f = X[d].filter(pl.Series(~test_group[d])).join(y, on="household_id", how="inner")
        parts.append(f.filter(pl.col("in_need").is_not_null()))
    return pl.concat(parts, how="vertical_relaxed")


def _selection(pop, as_of: dt.date, horizon: int, cfg) -> pd.DataFrame:
    """Who the status quo labels in a 12-month window, and how its assessments err."""
    end = ni._dates.months_after(as_of, 12)
    o = pop.truth.outcomes.filter((pl.col("month") >= as_of) & (pl.col("month") < end))
    labelled = o["household_id"].unique()
    truth = ni.labels.make(pop, as_of, horizon)
    inv = pop.truth.households.select("household_id", "invisible")
    t = truth.join(inv, on="household_id").with_columns(
        labelled=pl.col("household_id").is_in(labelled.implode())
    )
    assessed = o.filter(pl.col("assessed_income").is_not_null())
    regions = pop.bundle.households.join(pop.bundle.regions, on="region_id").select(
        "household_id", "dibao_standard", "low_income_multiplier"
    )
    a = assessed.join(regions, on="household_id")
    below_std = a.filter(pl.col("assessed_income") < pl.col("dibao_standard"))
    below_line = a.filter(
        pl.col("assessed_income") < pl.col("dibao_standard") * pl.col("low_income_multiplier")
    )
    rows = {
        "households alive at as_of": t.height,
        "with a casework outcome in the 12 months from as_of (share)": t["labelled"].mean(),
        "in need (truth, 6 months): all households": t["in_need"].mean(),
        "in need: households with an outcome": t.filter("labelled")["in_need"].mean(),
        "in need: households without one": t.filter(~pl.col("labelled"))["in_need"].mean(),
        "truly in need who get an outcome (share)": t.filter("in_need")["labelled"].mean(),
        "invisible: all households": t["invisible"].mean(),
        "invisible: households with an outcome": t.filter("labelled")["invisible"].mean(),
        "invisible and in need who get an outcome (share)": t.filter(
            pl.col("in_need") & pl.col("invisible")
        )["labelled"].mean(),
        "assessments (verifications and reviews)": a.height,
        "assessed / true net income per capita (median)": (
            a["assessed_income"] / a["net_income_per_capita"]
        ).median(),
        "assessed below the dibao standard: truly poor that month (share)": below_std[
            "poor"
        ].mean(),
        "assessed below the low-income line: truly poor that month (share)": below_line[
            "poor"
        ].mean(),
        "config: mean share of informal income the assessor misses": (
            cfg.assessment.missed_informal_share
        ),
    }
    return pd.DataFrame({"measure": list(rows), "value": list(rows.values())})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=200_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-as-of", nargs="+", default=["2024-01-01", "2024-07-01", "2025-01-01"])
    ap.add_argument("--test-as-of", default="2025-07-01")
    ap.add_argument("--horizon", type=int, default=6)
    ap.add_argument("--test-size", type=float, default=0.3)
    ap.add_argument("--capacity", type=float, default=0.05)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--train-config", default="configs/train/default.yaml")
    ap.add_argument("--out", default="experiments/results")
    args = parse_args(ap, "label_sources")
    started = time.perf_counter()
    params = train_params(ROOT / args.train_config)
    pop = ni.simulate(n_households=args.households, months=args.months, seed=args.seed)
    dates = [ni._dates.as_date(d) for d in args.train_as_of]
    test_date = ni._dates.as_date(args.test_as_of)
    X, test_group = _frames(pop, dates, test_date, args.horizon, args.test_size, args.seed)
    truth = ni.labels.make(pop, test_date, args.horizon)
    test = (
        X[test_date]
        .filter(pl.Series(test_group[test_date]))
        .join(truth.select("household_id", "in_need", "p_need"), on="household_id")
    )
    names = [c for c in X[test_date].columns if c != "household_id"]
    Xt = test.select(names).to_pandas()
    scores, info = {}, {}
    for name, source, line, weighted in (("true labels (research)", "truth", None, False),
                                         *PATHS):  # fmt: skip
        t0 = time.perf_counter()
        rows = _train_rows(pop, X, test_group, dates, args.horizon, source, line, args.seed)
        w = rows["weight"].to_numpy().astype(float) if weighted else None
        model = ni.models.GBMRiskModel(**params)
        model.fit(rows.select(names).to_pandas(), rows["in_need"].to_numpy(), sample_weight=w)
        scores[name] = model.predict_proba(Xt)[:, 1]
        info[name] = {
            "source": source,
            "line": line,
            "weighted": weighted,
            "training_rows": rows.height,
            "labelled_positive_share": float(rows["in_need"].mean()),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"{name}: {rows.height:,} rows, {info[name]['seconds']} s", flush=True)
    scores["status quo (dibao/tekun paid last month)"] = status_quo(
        pop.bundle, test["household_id"].to_list(), test_date
    )
    scores["oracle (research)"] = test["p_need"].to_numpy()
    comparison = Comparison.from_scores(
        scores,
        test["in_need"].to_numpy(),
        args.capacity,
        fixed=["status quo (dibao/tekun paid last month)"],
        n_boot=args.n_boot,
        seed=args.seed,
    )
    # where each path spends the capacity: the share of its flags on current recipients
    recipient = test["household_id"].is_in(recipients(pop.bundle, test_date).implode())
    recipient = recipient.to_numpy()
    for name in info:
        flagged = select_top(scores[name], args.capacity)
        info[name]["flagged_recipient_share"] = round(float(recipient[flagged].mean()), 4)
    table = comparison.table
    keep = table[table["metric"].isin(["auc", "exclusion_error", "precision_at_k"])]
    selection = _selection(pop, dates[-1], args.horizon, pop.config)
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    mode = umask_mode()
    write_atomic(
        out / "label_sources.csv", keep.to_csv(index=False, float_format="%.4f"), mode=mode
    )
    write_atomic(
        out / "label_sources_selection.csv",
        selection.to_csv(index=False, float_format="%.4f"),
        mode=mode,
    )
    summary = {
        "settings": {k: v for k, v in vars(args).items() if k != "config"},
        "test_households": test.height,
        "test_base_rate": float(test["in_need"].mean()),
        "test_recipient_share": float(recipient.mean()),
        "paths": info,
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_atomic(
        out / "label_sources.json", json.dumps(summary, indent=2, default=str) + "\n", mode=mode
    )
    wide = keep.pivot(index="model", columns="metric", values="estimate")
    print(wide.loc[list(scores)].to_string(float_format="%.3f"))
    print(selection.to_string(index=False))


if __name__ == "__main__":
    main()
