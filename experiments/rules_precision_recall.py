"""Precision and recall of the default rule set against the simulator's ground truth.

One seeded simulation (default 100k households x 36 months). The rules are evaluated
without suppression (every household a rule's condition holds for), so the numbers
measure the conditions, not the alert schedule.

- Cross-checks, at ``as_of = pop.end`` with their 36-month windows (the whole period):
  each against its injected anomaly in ``pop.truth.anomalies``, matched on household,
  and on person where the anomaly names one. Missed cases are split into households
  that are digitally invisible (their registry records are mostly absent) and others.
- Triggers, at ``as_of = end - 6 months`` (the last date ``labels.make`` can label 6
  months ahead): against need in the next 6 months (``labels.make(pop, as_of, 6)``),
  and against falling into need around the trigger: among households not in need in
  the month before the rule's window, being in need in any month from the window's
  start to 6 months after ``as_of`` (shocks and the falls they cause share a month in
  the simulator, so a fall is usually over by the time its record is known). ``any
  trigger`` pools them (with a 3-month window).
- Exits, same ``as_of``: among households paid dibao in the 6 months before ``as_of``,
  against not being in need in any of the next 6 months.
- Outreach, same ``as_of``: against being digitally invisible and in need (income or
  care) in the next 6 months.

Writes experiments/results/rules_precision_recall.csv and prints it as a markdown
table, with the hit rates by group of the "any rule" row. ``--bench-households N``
also simulates N households x ``--bench-months`` and times ``evaluate`` on them
(wall and CPU seconds; the machine's other load affects the wall time).

    .venv/bin/python experiments/rules_precision_recall.py
    .venv/bin/python experiments/rules_precision_recall.py --bench-households 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import time
from pathlib import Path

import polars as pl
from _config import markdown, parse_args

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.evaluate import CROSS_CHECK_ANOMALIES
from needsid.rules import household_attributes, load

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "configs" / "rules" / "default.yaml"
OUT = ROOT / "experiments" / "results" / "rules_precision_recall.csv"
# which injected anomaly each cross-check is meant to find
ANOMALY_OF = CROSS_CHECK_ANOMALIES
HORIZON = 6


def add_months(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 + k, 12)
    return dt.date(d.year + y, m + 1, 1)


def row(rule_id, kind, target, as_of, n_hits, n_pos, tp_hits, found, base_rate, **extra):
    precision = tp_hits / n_hits if n_hits else None
    recall = found / n_pos if n_pos else None
    return {
        "rule_id": rule_id,
        "kind": kind,
        "target": target,
        "as_of": as_of,
        "n_hits": n_hits,
        "n_positive": n_pos,
        "precision": precision,
        "recall": recall,
        "base_rate": base_rate,
        "lift": precision / base_rate if precision is not None and base_rate else None,
        "missed_invisible": extra.get("missed_invisible"),
        "missed_visible": extra.get("missed_visible"),
    }


def cross_check_rows(pop, hits: pl.DataFrame) -> list[dict]:
    """Each cross-check against its injected anomaly (the whole simulated period)."""
    anomalies = pop.truth.anomalies
    invisible = pop.truth.households.select("household_id", "invisible")
    n_households = pop.bundle.households.height
    rows = []
    for rule_id, anomaly in ANOMALY_OF.items():
        h = hits.filter(pl.col("rule_id") == rule_id).select("household_id", "person_id")
        t = anomalies.filter(pl.col("anomaly") == anomaly).select("household_id", "person_id")
        # household anomalies (asset tests) have no person; person anomalies match on both
        keys = (
            ["household_id"]
            if t["person_id"].null_count() == t.height
            else [
                "household_id",
                "person_id",
            ]
        )
        tp = h.join(t, on=keys, how="semi").height
        missed = t.join(h, on=keys, how="anti").join(invisible, on="household_id", how="left")
        rows.append(
            row(
                rule_id,
                "cross_check",
                anomaly,
                pop.end,
                h.height,
                t.height,
                tp,
                t.height - missed.height,
                t.height / n_households,
                missed_invisible=int(missed["invisible"].sum()),
                missed_visible=int((~missed["invisible"]).sum()),
            )
        )
    return rows


def labelled_rows(pop, rules, as_of: dt.date) -> list[dict]:
    """Triggers, exits and outreach against what happens in the next HORIZON months."""
    hits = rules.evaluate(pop.bundle, as_of, suppress=False).to_frame()
    y = ni.labels.make(pop, as_of, HORIZON).select("household_id", "in_need", "need_care")
    y = y.join(pop.truth.households.select("household_id", "invisible"), on="household_id")
    monthly = pop.truth.monthly.select("household_id", "month", "in_need")
    end = add_months(as_of, HORIZON)

    def falls(window: int) -> pl.DataFrame:
        """Households alive at as_of, not in need before the window, and whether they fell."""
        start = add_months(as_of, -window)
        before = monthly.filter(pl.col("month") == add_months(start, -1))
        fell = (
            monthly.filter((pl.col("month") >= start) & (pl.col("month") < end))
            .group_by("household_id")
            .agg(pl.col("in_need").any().alias("fell"))
        )
        return (
            y.select("household_id")
            .join(before.filter(~pl.col("in_need")), on="household_id", how="semi")
            .join(fell, on="household_id", how="left")
            .with_columns(pl.col("fell").fill_null(False))
        )

    dibao = (
        pop.bundle.records.filter(
            (pl.col("kind") == "benefit_dibao")
            & (pl.col("known_date") < as_of)
            & (pl.col("event_date") >= add_months(as_of, -HORIZON))
        )
        .select("household_id")
        .unique()
    )
    rows = []

    def measure(rule_id, kind, target, population: pl.DataFrame, positive: pl.Expr, hit_ids):
        pop_ = population.with_columns(pos=positive)
        flagged = pop_.join(hit_ids, on="household_id", how="semi")
        n_pos = int(pop_["pos"].sum())
        tp = int(flagged["pos"].sum())
        rows.append(
            row(
                rule_id,
                kind,
                target,
                as_of,
                flagged.height,
                n_pos,
                tp,
                tp,
                n_pos / pop_.height if pop_.height else None,
            )
        )

    triggers = [r.id for r in rules.rules if r.kind == "trigger"]
    for rule_id in [*triggers, "any trigger"]:
        ids = triggers if rule_id == "any trigger" else [rule_id]
        window = 3 if rule_id == "any trigger" else rules.rule(rule_id).window_months
        h = hits.filter(pl.col("rule_id").is_in(ids)).select("household_id").unique()
        measure(rule_id, "trigger", "in_need_next_6m", y, pl.col("in_need"), h)
        measure(rule_id, "trigger", "falls_into_need", falls(window), pl.col("fell"), h)
    recipients = y.join(dibao, on="household_id", how="semi")
    for r in (r for r in rules.rules if r.kind == "exit"):
        h = hits.filter(pl.col("rule_id") == r.id).select("household_id").unique()
        measure(r.id, "exit", "recipient_not_in_need_6m", recipients, ~pl.col("in_need"), h)
    for r in (r for r in rules.rules if r.kind == "outreach"):
        h = hits.filter(pl.col("rule_id") == r.id).select("household_id").unique()
        positive = pl.col("invisible") & (pl.col("in_need") | pl.col("need_care"))
        measure(r.id, "outreach", "invisible_and_in_need_6m", y, positive, h)
    return rows


def bench(rules, n: int, months: int, seed: int) -> None:
    t = time.perf_counter()
    pop = ni.simulate(n, months, seed=seed)
    sim_s = time.perf_counter() - t
    bundle = pop.bundle
    del pop
    gc.collect()
    print(
        f"\nbenchmark: {n:,} households x {months} months simulated in {sim_s:.1f} s; "
        f"{bundle.records.height:,} records, {bundle.households.height:,} households"
    )
    as_of = add_months(dt.date(2023, 1, 1), months)
    for suppress in (True, False):
        wall, cpu = time.perf_counter(), time.process_time()
        hits = rules.evaluate(bundle, as_of, suppress=suppress)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"evaluate(as_of={as_of}, suppress={suppress}): {wall:.1f} s wall, "
            f"{cpu:.1f} s CPU, {len(hits):,} hits"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bench-households", type=int, default=0)
    parser.add_argument("--bench-months", type=int, default=24)
    args = parse_args(parser, "rules_precision_recall")

    rules = load(RULES)
    pop = ni.simulate(args.households, args.months, seed=args.seed)
    t = time.perf_counter()
    end_hits = rules.evaluate(pop.bundle, pop.end, suppress=False)
    print(
        f"evaluate at {pop.end} ({pop.bundle.records.height:,} records): "
        f"{time.perf_counter() - t:.1f} s"
    )
    rows = cross_check_rows(pop, end_hits.to_frame())
    rows += labelled_rows(pop, rules, add_months(pop.end, -HORIZON))
    table = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.lit(args.households).alias("households"),
        pl.lit(args.months).alias("months"),
        pl.lit(args.seed).alias("seed"),
        pl.lit(rules.version).alias("rule_set_version"),
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(OUT, lambda tmp: table.write_csv(tmp, float_precision=4), mode=umask_mode())
    shown = table.drop("households", "months", "seed", "rule_set_version")
    print(
        f"\nrule set {rules.id} v{rules.version}; {args.households:,} households x "
        f"{args.months} months, seed {args.seed}\n"
    )
    print(markdown(shown))
    attrs = household_attributes(pop.bundle, pop.end)
    groups = end_hits.by_group(attrs, ["urban", "minority", "head_sex"])
    print("\nhit rates by group at the end (any rule, no suppression):\n")
    print(markdown(groups.filter(pl.col("rule_id") == "(any rule)").drop("rule_id")))
    print(f"\nwritten {OUT.relative_to(ROOT)}")
    if args.bench_households:
        del pop, end_hits
        gc.collect()
        bench(rules, args.bench_households, args.bench_months, args.seed)


if __name__ == "__main__":
    main()
