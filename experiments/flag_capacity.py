"""Flags a county can act on: how many households `flag` sends someone to, by route.

For each simulated population in the config (sizes, seeds, the date flagged), this trains
LightGBM the way a county can (default label source of a bundle, `configs/train/
default.yaml`), evaluates the packaged rule set and flags at the capacity with the route
quotas of `configs/flag/default.yaml`, then counts the flags per route and, against the
simulator's truth, how many of each route are in need and how many of the outreach are
truly invisible and in need. The rows `threshold (before)` count what routing gave before
quotas: every household with an invisibility score of at least 0.8 went to outreach.

python experiments/flag_capacity.py        (config: configs/experiments/flag_capacity.yaml)

Writes experiments/results/flag_capacity.csv.
"""

import argparse
from pathlib import Path

import pandas as pd
import polars as pl
import yaml
from _config import parse_args, train_params

import needsid as ni
from needsid._dates import as_date, months_before
from needsid._io import umask_mode, write_atomic
from needsid.flagging import flag

ROOT = Path(__file__).resolve().parents[1]


def _population(n, seed, as_of, months, params, quotas, capacity):
    pop = ni.simulate(n_households=n, months=months, seed=seed)
    as_of = as_date(as_of)
    dates = [months_before(as_of, 6 * k) for k in (2, 1)]
    parts = []
    for d in dates:
        X = ni.features.build(pop.bundle, d)
        y = ni.labels.make(pop.bundle, d, 6, features=X)
        parts.append(X.join(y, on="household_id").filter(pl.col("weight") > 0))
    train = pl.concat(parts, how="vertical_relaxed")
    names = [c for c in parts[0].columns if c not in ("household_id", "in_need",
             "label_source", "weight", "propensity")]  # fmt: skip
    model = ni.models.GBMRiskModel(**params).fit(
        train.select(names).to_pandas(),
        train["in_need"].to_numpy(),
        sample_weight=train["weight"].to_numpy(),
    )
    X = ni.features.build(pop.bundle, as_of)
    scores = X.select("household_id", "invisibility_score").with_columns(
        pl.Series("score", model.predict_proba(X.select(names).to_pandas())[:, 1])
    )
    hits = ni.rules.load(ROOT / "configs/rules/default.yaml").evaluate(pop.bundle, as_of)
    truth = ni.labels.make(pop, as_of, 6).join(
        pop.truth.households.select("household_id", "invisible"), on="household_id"
    )
    rows = []
    for how, q in (("quotas", quotas), ("threshold (before)", None)):
        if how == "quotas":
            table = flag(
                scores, hits, capacity, as_of=as_of, invisibility="invisibility_score", quotas=q
            )
        else:  # the capacity held for the model alone; rules and the threshold added more
            table = _before(scores, hits, capacity, as_of)
        t = table.join(truth, on="household_id", how="left").with_columns(
            pl.col("in_need", "invisible").fill_null(False)
        )
        for route, part in t.filter("flag").group_by("route", maintain_order=True):
            rows.append(
                {
                    "households": n,
                    "seed": seed,
                    "as_of": as_of.isoformat(),
                    "routing": how,
                    "route": route[0],
                    "flagged": part.height,
                    "share_of_households": part.height / scores.height,
                    "in_need": int(part["in_need"].sum()),
                    "invisible_and_in_need": int((part["in_need"] & part["invisible"]).sum()),
                }
            )
        rows.append(
            {
                "households": n,
                "seed": seed,
                "as_of": as_of.isoformat(),
                "routing": how,
                "route": "all",
                "flagged": int(t["flag"].sum()),
                "share_of_households": float(t["flag"].sum()) / scores.height,
                "in_need": int((t["flag"] & t["in_need"]).sum()),
                "invisible_and_in_need": int((t["flag"] & t["in_need"] & t["invisible"]).sum()),
            }
        )
    return rows


def _before(scores, hits, capacity, as_of):
    """Routing before quotas: the model's top within capacity, plus every rule hit and
    every household at or above the invisibility threshold."""
    model = flag(
        scores.with_columns(pl.lit(0.0).alias("invisibility_score")),
        None,
        capacity,
        as_of=as_of,
        invisibility="invisibility_score",
    )
    routed = model.select("household_id", "route")
    rule = hits.to_frame()
    rule = rule if isinstance(rule, pl.DataFrame) else pl.from_pandas(rule)
    kind_route = {"trigger": "immediate_assistance", "outreach": "manual_outreach",
                  "exit": "review", "cross_check": "review"}  # fmt: skip
    order = ["immediate_assistance", "verification_visit", "manual_outreach", "review"]
    extra = pl.concat(
        [
            rule.select("household_id", pl.col("kind").replace_strict(kind_route).alias("r")),
            scores.filter(pl.col("invisibility_score") >= 0.8).select(
                "household_id", pl.lit("manual_outreach").alias("r")
            ),
            routed.filter(pl.col("route") != "none").select(
                "household_id", pl.col("route").alias("r")
            ),
        ]
    ).with_columns(rank=pl.col("r").replace_strict({r: i for i, r in enumerate(order)}))
    best = extra.sort("rank").group_by("household_id").agg(pl.col("r").first().alias("route"))
    return (
        scores.select("household_id")
        .join(best, on="household_id", how="full", coalesce=True)
        .with_columns(pl.col("route").fill_null("none"))
        .with_columns(flag=pl.col("route") != "none")
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--populations", type=str, nargs="+", default=["30000:0:2025-07-01"],
                    help="households:seed:as_of, one per population")  # fmt: skip
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--capacity", type=float, default=0.05)
    ap.add_argument("--train-config", default="configs/train/default.yaml")
    ap.add_argument("--flag-config", default="configs/flag/default.yaml")
    ap.add_argument("--out", default="experiments/results/flag_capacity.csv")
    args = parse_args(ap, "flag_capacity")
    params = train_params(ROOT / args.train_config)
    quotas = yaml.safe_load((ROOT / args.flag_config).read_text("utf-8"))["quotas"]
    rows = []
    for spec in args.populations:
        n, seed, as_of = spec.split(":")
        rows += _population(int(n), int(seed), as_of, args.months, params, quotas,
                            args.capacity)  # fmt: skip
        print(f"done: {spec}", flush=True)
    table = pd.DataFrame(rows)
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, table.to_csv(index=False, float_format="%.4f"), mode=umask_mode())
    with pd.option_context("display.width", 200):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
