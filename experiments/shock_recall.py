"""Who finds the households a job-loss shock pushes into need, at a fixed capacity.

One seed, one population per job-loss multiplier (1 = no shock): job loss is multiplied
in a third of the regions from ``--shock-start`` for ``--shock-months`` months, as in
experiments/monitoring.py. A LightGBM risk model is trained before the shock with the
parameters ``needsid train`` uses, on the bundle's own labels (``source="pu"``: what a
county has) and on the simulator's truth (research). At each ``--as-of`` date after the
shock starts, each route spends the same capacity (``--capacity`` of the households
alive):

- ``model``: the county model's top scores;
- ``model (true labels)``: the truth-trained model's top scores (research);
- ``points``: the indicator register's warning level, then its points;
- ``flags``: ``needsid.flagging.flag`` with the county model's scores and the default
  rule set's hits (triggers first, then the model, outreach and review), as
  ``needsid flag`` does;
- ``triggers``: the default rule set's trigger hits alone, at no capacity (a count).

The "newly needy" are the households the truth has out of need in the month before the
shock starts and in need in some month from its start to the month before ``as_of``.
For each route: the share of them it flags (recall, with a 95% Wilson interval), in the
shocked regions and the others, and the share of its flagged households in need within
``--horizon`` months of ``as_of`` (precision) and the share of all those in need it
flags (``recall_in_need``: one minus the exclusion error): research figures, since they
read the truth. Beside
them, what a county sees with its bundle alone: flags per 1,000 households by route, in
the shocked regions and the others.

Writes experiments/results/shock_recall.csv (one row per multiplier, date, route and
region group) and shock_recall_seen.csv (flags per 1,000 households, no truth).

    nice .venv/bin/python experiments/shock_recall.py
    .venv/bin/python experiments/shock_recall.py --households 10000   # quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import polars as pl
from _config import markdown, parse_args, train_params
from _train import fit_gbm
from scipy import stats

import needsid as ni
from needsid._dates import months_after
from needsid.indicators import LEVELS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _top(frame: pl.DataFrame, by: list[str], k: int) -> pl.Series:
    """household_id of the ``k`` first rows by ``by`` (descending), ties by household_id."""
    order = frame.sort([*by, "household_id"], descending=[True] * len(by) + [False])
    return order.head(k)["household_id"]


def _newly_needy(pop, shock_start: dt.date, as_of: dt.date) -> pl.DataFrame:
    monthly = pop.truth.monthly.select("household_id", "month", "in_need")
    before = monthly.filter(pl.col("month") == months_after(shock_start, -1)).select(
        "household_id", was=pl.col("in_need")
    )
    after = (
        monthly.filter((pl.col("month") >= shock_start) & (pl.col("month") < as_of))
        .group_by("household_id")
        .agg(now=pl.col("in_need").any())
    )
    return before.join(after, on="household_id").filter(~pl.col("was") & pl.col("now"))


def _routes(
    pop, as_of: dt.date, models: dict, register, rules, capacity: float
) -> tuple[dict, pl.Series]:
    """household_id flagged by each route at ``as_of``, and of the households alive."""
    X = ni.features.build(pop.bundle, as_of)
    k = round(capacity * X.height)
    out = {}
    scores = {}
    for label, model in models.items():
        names = [str(n) for n in model.feature_names_in_]
        s = X.select("household_id").with_columns(
            score=pl.Series(model.predict_proba(X.select(names).to_pandas())[:, 1])
        )
        scores[label] = s
        out[label] = _top(s, ["score"], k)
    levels = register.score(pop.bundle, as_of).levels
    rank = levels.with_columns(
        level_rank=pl.col("level").replace_strict({lv: i for i, lv in enumerate(LEVELS)})
    )
    out["points"] = _top(rank, ["level_rank", "total"], k)
    hits = rules.evaluate(pop.bundle, as_of)
    flag_scores = scores["model"].join(
        X.select("household_id", "invisibility_score"), on="household_id"
    )
    table = ni.flagging.flag(
        flag_scores, hits, capacity, as_of=as_of, invisibility="invisibility_score"
    )
    out["flags"] = table.filter(pl.col("flag"))["household_id"]
    frame = hits.to_frame()
    out["triggers"] = frame.filter(pl.col("kind") == "trigger")["household_id"].unique()
    return out, X["household_id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int)
    parser.add_argument("--months", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--sim-start", type=_date)
    parser.add_argument("--train-as-of", nargs="+", type=_date)
    parser.add_argument("--train-config", help="training run whose parameters are used")
    parser.add_argument("--horizon", type=int)
    parser.add_argument("--capacity", type=float)
    parser.add_argument("--shock-start", type=_date)
    parser.add_argument("--shock-months", type=int)
    parser.add_argument("--job-loss", nargs="+", type=float, help="multipliers; 1 = no shock")
    parser.add_argument("--shock-region-share", type=float)
    parser.add_argument("--as-of", nargs="+", type=_date, help="dates the routes flag at")
    args = parse_args(parser, "shock_recall")

    base = ni.simulation.default_config().model_copy(update={"start": args.sim_start})
    regions = [f"G{i:02d}" for i in range(1, base.n_regions + 1)]
    hit = regions[: round(args.shock_region_share * len(regions))]
    register, rules = ni.indicators.load(), ni.rules.load()
    params = train_params(ROOT / args.train_config)
    rows, seen = [], []
    for mult in args.job_loss:
        t0 = time.perf_counter()
        shock = ni.simulation.Shock(
            start=args.shock_start, months=args.shock_months, regions=hit, job_loss=mult
        )
        config = base.model_copy(update={"shocks": [shock] if mult != 1 else []})
        pop = ni.simulate(
            n_households=args.households, months=args.months, seed=args.seed, config=config
        )
        models = {
            "model": fit_gbm(pop, args.train_as_of, args.horizon, "pu", params),
            "model (true labels)": fit_gbm(pop, args.train_as_of, args.horizon, "truth", params),
        }
        region = pop.bundle.households.select(
            "household_id", shocked=pl.col("region_id").is_in(hit)
        )
        for as_of in args.as_of:
            flagged, alive = _routes(pop, as_of, models, register, rules, args.capacity)
            truth = ni.labels.make(pop, as_of, args.horizon, source="truth")
            base_rows = (
                alive.to_frame()
                .join(region, on="household_id")
                .join(truth.select("household_id", "in_need"), on="household_id", how="left")
                .with_columns(pl.col("in_need").fill_null(False))
            )
            new = _newly_needy(pop, args.shock_start, as_of).join(region, on="household_id")
            # the two region groups, and all regions together (shocked = None)
            base_rows = pl.concat([base_rows, base_rows.with_columns(shocked=pl.lit(None))])
            new = pl.concat([new, new.with_columns(shocked=pl.lit(None))])
            for route, ids in flagged.items():
                mark = pl.col("household_id").is_in(ids.implode())
                by_new = new.group_by("shocked").agg(
                    newly_needy=pl.len(), reached=mark.cast(pl.Int64).sum()
                )
                by_all = base_rows.group_by("shocked").agg(
                    households=pl.len(),
                    flags_per_1000=1000 * mark.cast(pl.Float64).mean(),
                    flagged=mark.sum(),
                    precision=pl.col("in_need").filter(mark).mean(),
                    recall_in_need=mark.filter(pl.col("in_need")).cast(pl.Float64).mean(),
                )
                joined = by_new.join(by_all, on="shocked", nulls_equal=True)
                for r in joined.iter_rows(named=True):
                    group = {True: "shocked", False: "other", None: "all"}[r["shocked"]]
                    common = {"job_loss": mult, "as_of": as_of, "route": route, "regions": group}
                    n, k = r["newly_needy"], r["reached"]
                    ci = stats.binomtest(k, n).proportion_ci(method="wilson")
                    rows.append(
                        {
                            **common,
                            "newly_needy": n,
                            "recall": k / n,
                            "recall_low": ci.low,
                            "recall_high": ci.high,
                            "flagged": r["flagged"],
                            "precision": r["precision"],
                            "recall_in_need": r["recall_in_need"],
                        }
                    )
                    if route != "model (true labels)":
                        seen.append(
                            {
                                **common,
                                "households": r["households"],
                                "flags_per_1000": r["flags_per_1000"],
                            }
                        )
        print(f"job loss x{mult:g}: {time.perf_counter() - t0:.0f} s")

    RESULTS.mkdir(exist_ok=True)
    sort = ["job_loss", "as_of", "route", "regions"]
    table = pl.DataFrame(rows).sort(sort)
    seen_table = pl.DataFrame(seen).sort(sort)
    table.write_csv(RESULTS / "shock_recall.csv")
    seen_table.write_csv(RESULTS / "shock_recall_seen.csv")
    print(markdown(table))
    print(markdown(seen_table, digits=1))
    wide = table.pivot(on="route", index=["job_loss", "as_of", "regions"], values="recall")
    print(markdown(wide.sort(["job_loss", "as_of", "regions"])))


if __name__ == "__main__":
    main()
