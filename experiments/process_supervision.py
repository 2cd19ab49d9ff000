"""Precision and recall of the process-supervision rules against injected process problems.

One seeded simulation with ``SimulationConfig(process_problems=ProcessProblems())``
(default 50k households x 36 months): late decisions, overdue reviews, altered dibao
amounts, removed approvals and payments after exits are injected at the source paper's
case rates (county-requested checks: 21.8%, 4.0%, 4.8% of cases in 2021-2023, mapped to
the simulation's years 1-3; housing and medical assistance checks: 15.8% and 9.2%), and
written to ``pop.truth.anomalies`` under the names of the rule templates that find them.

The five process rules (the default rule set's ``process`` rules and
``configs/rules/process_payments.yaml``) are evaluated at ``as_of = pop.end`` with their
36-month windows and no suppression, and each is matched with its anomaly by household.
The rules leave payments of the last 60 days unchecked (the decision behind them may
not be known yet): ``missed_recent`` counts the problems first shown in the last two
months, ``recall_before_lag`` leaves them out.

The realised share of cases with each problem, by programme and simulation year, is
compared with the configured rate in ``experiments/results/process_supervision_rates.csv``.
The same seed without the switch gives the default world, where the default set's
process rules should be silent; the script prints how many dibao households the
statutory payment check would flag there, the cross-checks' precision and recall in
both worlds (the injection must not disturb them), and the average dibao paid per
person in both worlds (the switch pays the statutory amount where the statute defines
one).

Writes experiments/results/process_supervision.csv and prints both tables (markdown).

    nice .venv/bin/python experiments/process_supervision.py
    nice .venv/bin/python experiments/process_supervision.py --households 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import polars as pl
from _config import markdown, parse_args
from rules_precision_recall import cross_check_rows

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.rules import RuleSet, load
from needsid.simulation import PROCESS_PROBLEMS, ProcessProblems, default_config

ROOT = Path(__file__).resolve().parents[1]
PAYMENTS = ROOT / "configs" / "rules" / "process_payments.yaml"
OUT = ROOT / "experiments" / "results" / "process_supervision.csv"
RATES = ROOT / "experiments" / "results" / "process_supervision_rates.csv"
LAG_MONTHS = 2  # the rules' report_lag_days (60), in whole months


def add_months(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 + k, 12)
    return dt.date(d.year + y, m + 1, 1)


def process_rules() -> RuleSet:
    """The default set's process rules with the statutory payment check."""
    default = load().select(kinds=["process"])
    rules = default.rules + load(PAYMENTS).rules
    return RuleSet(
        id="process_supervision",
        version=default.version,
        description="The process-supervision rules.",
        rules=rules,
    )


def precision_recall(pop, hits: pl.DataFrame) -> pl.DataFrame:
    """One row per template: hits, injected problems, precision and recall."""
    truth = pop.truth.anomalies
    recent = pl.col("month") >= add_months(pop.end, -LAG_MONTHS)
    rows = []
    for name in PROCESS_PROBLEMS:
        h = hits.filter(pl.col("rule_id") == name).select("household_id").unique()
        t = truth.filter(pl.col("anomaly") == name).select("household_id", "month")
        tp = h.join(t, on="household_id", how="semi").height
        found = t.join(h, on="household_id", how="semi")
        missed = t.join(h, on="household_id", how="anti")
        older = t.filter(~recent)
        rows.append(
            {
                "template": name,
                "n_hits": h.height,
                "n_positive": t.height,
                "precision": tp / h.height if h.height else None,
                "recall": found.height / t.height if t.height else None,
                "missed_recent": missed.filter(recent).height,
                "missed_older": missed.filter(~recent).height,
                "recall_before_lag": (
                    older.join(h, on="household_id", how="semi").height / older.height
                    if older.height
                    else None
                ),
            }
        )
    return pl.DataFrame(rows)


def realised_rates(pop, process: ProcessProblems) -> pl.DataFrame:
    """Share of cases with a problem by programme, process and year, against the rate."""
    cases = pop.truth.process_cases.with_columns(
        year=((pl.col("month").dt.year() - pop.start.year) * 12 + pl.col("month").dt.month() - 1)
        // 12
        + 1
    )
    per = (
        cases.group_by("programme", "process", "year")
        .agg(pl.len().alias("cases"), pl.col("anomaly").is_not_null().sum().alias("problems"))
        .sort("programme", "process", "year")
    )
    target = {"housing": process.housing_rate, "medical": process.medical_rate}
    return per.with_columns(
        realised=pl.col("problems") / pl.col("cases"),
        target=pl.struct("programme", "year").map_elements(
            lambda r: target.get(r["programme"], process.rate(r["year"] - 1)),
            return_dtype=pl.Float64,
        ),
    )


def avg_dibao(pop) -> dict[bool, float]:
    """Average dibao paid per person per month, urban and rural (members at payment)."""
    b = pop.bundle
    pays = b.records.filter(pl.col("kind").cast(pl.String) == "benefit_dibao").select(
        "household_id", "event_date", "amount"
    )
    sizes = (
        pays.select("household_id", "event_date")
        .unique()
        .join(b.members.select("household_id", "joined_on", "left_on"), on="household_id")
        .filter(
            (pl.col("joined_on") <= pl.col("event_date"))
            & (pl.col("left_on").is_null() | (pl.col("left_on") > pl.col("event_date")))
        )
        .group_by("household_id", "event_date")
        .len("size")
    )
    urban = b.households.join(b.regions, on="region_id").select("household_id", "urban")
    per = pays.join(sizes, on=["household_id", "event_date"]).join(urban, on="household_id")
    out = per.group_by("urban").agg((pl.col("amount").sum() / pl.col("size").sum()).alias("pp"))
    return dict(out.rows())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    args = parse_args(parser, "process_supervision")

    process = ProcessProblems()
    config = default_config().model_copy(update={"process_problems": process})
    t = time.perf_counter()
    pop = ni.simulate(args.households, args.months, seed=args.seed, config=config)
    sim_s = time.perf_counter() - t
    rules = process_rules()
    t = time.perf_counter()
    hits = rules.evaluate(pop.bundle, pop.end, suppress=False).to_frame()
    eval_s = time.perf_counter() - t
    print(
        f"simulated {args.households:,} households x {args.months} months with process "
        f"problems in {sim_s:.1f} s ({pop.bundle.records.height:,} records); evaluated "
        f"{len(rules.rules)} process rules at {pop.end} in {eval_s:.1f} s"
    )
    table = precision_recall(pop, hits).with_columns(
        pl.lit(pop.end).alias("as_of"),
        pl.lit(args.households).alias("households"),
        pl.lit(args.months).alias("months"),
        pl.lit(args.seed).alias("seed"),
        pl.lit(rules.version).alias("rule_set_version"),
    )
    rates = realised_rates(pop, process).with_columns(
        pl.lit(args.households).alias("households"), pl.lit(args.seed).alias("seed")
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(OUT, lambda tmp: table.write_csv(tmp, float_precision=4), mode=umask_mode())
    write_atomic(RATES, lambda tmp: rates.write_csv(tmp, float_precision=4), mode=umask_mode())
    print(f"\n{args.households:,} households x {args.months} months, seed {args.seed}\n")
    print(markdown(table.drop("as_of", "households", "months", "seed", "rule_set_version")))
    print("\nshare of cases with a problem, by programme and simulation year\n")
    print(markdown(rates.drop("households", "seed")))

    # the same seed without the switch: the default world
    t = time.perf_counter()
    base = ni.simulate(args.households, args.months, seed=args.seed)
    base_s = time.perf_counter() - t
    silent = load().select(kinds=["process"]).evaluate(base.bundle, base.end, suppress=False)
    statute = load(PAYMENTS).evaluate(base.bundle, base.end, suppress=False)
    dibao = base.bundle.records.filter(pl.col("kind").cast(pl.String) == "benefit_dibao")
    print(
        f"\ndefault world (same seed, switch off; simulated in {base_s:.1f} s): the default "
        f"set's process rules hit {len(silent)} households; the statutory payment check "
        f"would flag {statute.n_households:,} of {dibao['household_id'].n_unique():,} dibao "
        "households (its status quo pays a calibrated top-up, not the statute)"
    )
    checks = load().select(kinds=["cross_check"])
    measured = []
    for name, world in (("off", base), ("on", pop)):
        found = checks.evaluate(world.bundle, world.end, suppress=False).to_frame()
        measured.append(
            pl.DataFrame(cross_check_rows(world, found)).select(
                "rule_id",
                pl.col("n_hits").alias(f"hits_{name}"),
                pl.col("precision").alias(f"precision_{name}"),
                pl.col("recall").alias(f"recall_{name}"),
            )
        )
    print("\ncross-checks against their anomalies, switch off and on\n")
    print(markdown(measured[0].join(measured[1], on="rule_id", maintain_order="left")))
    on, off = avg_dibao(pop), avg_dibao(base)
    print(
        "average dibao paid per person per month (published: urban 408 +-80, rural 248 +-60): "
        f"switch off urban {off[True]:.0f}, rural {off[False]:.0f}; "
        f"switch on urban {on[True]:.0f}, rural {on[False]:.0f}"
    )
    print(f"\nwritten {OUT.relative_to(ROOT)}, {RATES.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
