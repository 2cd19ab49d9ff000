"""Benchmark: one household's verification report on a large bundle already in memory.

One process, one run. Simulates N households x M months once (not timed as part of the
report), then at ``as_of = pop.end``:

1. builds one report to warm up (imports, the rule set, polars' caches);
2. times ``needsid.casework.verification_report`` for ``--reports`` households drawn at
   random (seeded), and for ``--pandas-reports`` of them on the pandas form of the same
   bundle (conversion not timed);
3. times the whole-bundle ``RuleSet.evaluate`` for comparison: the full default rule set
   as ``needsid rules`` runs it (with suppression), and the report's own rules (its
   cross-checks and exits, without suppression) on every household.

Prints median and max seconds per report (target: under 2 s) and the whole-bundle times
as ratios to the median report. Wall-clock times on a shared machine; CPU seconds are
printed beside them. Results go to experiments/results/bench_verify.json (one entry per
size; the file is updated).

    .venv/bin/python experiments/bench_verify.py
    .venv/bin/python experiments/bench_verify.py --households 20000 --months 24
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from pathlib import Path

import numpy as np
from _config import parse_args

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.casework import verification_report
from needsid.rules import load

OUT = Path(__file__).parent / "results" / "bench_verify.json"


def timed(fn):
    """Return fn's result, its wall seconds and its process CPU seconds."""
    gc.collect()
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reports", type=int, default=20)
    parser.add_argument("--pandas-reports", type=int, default=5)
    args = parse_args(parser, "bench_verify")

    pop, wall, _ = timed(
        lambda: ni.simulate(n_households=args.households, months=args.months, seed=args.seed)
    )
    bundle, as_of = pop.bundle, pop.end
    print(
        f"simulated {bundle.households.height:,} households, {bundle.records.height:,} "
        f"records ({args.months} months) in {wall:.0f} s; as_of {as_of}"
    )
    rules = load("default")
    ids = bundle.households["household_id"].to_numpy()
    rng = np.random.default_rng(args.seed)
    chosen = [str(h) for h in rng.choice(ids, size=args.reports, replace=False)]

    verification_report(bundle, chosen[0], as_of, rules=rules)  # warm-up, not counted
    walls, cpus, statuses = [], [], {}
    for hid in chosen:
        report, w, c = timed(lambda h=hid: verification_report(bundle, h, as_of, rules=rules))
        walls.append(w)
        cpus.append(c)
        for s, n in report.status_counts().items():
            statuses[s] = statuses.get(s, 0) + n
    median, worst = statistics.median(walls), max(walls)
    print(
        f"verification_report, {len(walls)} random households (polars): median "
        f"{median:.3f} s, max {worst:.3f} s (CPU median {statistics.median(cpus):.3f} s); "
        f"target < 2 s: {'met' if worst < 2 else 'MISSED'}"
    )
    print(f"  statuses over all their checks: {statuses}")

    pandas_walls: list[float] = []
    if args.pandas_reports:
        pb = bundle.to_pandas()
        verification_report(pb, chosen[0], as_of, rules=rules)
        for hid in chosen[: args.pandas_reports]:
            _, w, _ = timed(lambda h=hid: verification_report(pb, h, as_of, rules=rules))
            pandas_walls.append(w)
        del pb
        print(
            f"verification_report, {len(pandas_walls)} households (pandas bundle): median "
            f"{statistics.median(pandas_walls):.3f} s, max {max(pandas_walls):.3f} s"
        )

    _, full_wall, full_cpu = timed(lambda: rules.evaluate(bundle, as_of))
    own = rules.select(kinds=("cross_check", "exit"))
    _, own_wall, own_cpu = timed(lambda: own.evaluate(bundle, as_of, suppress=False))
    print(
        f"whole-bundle RuleSet.evaluate, default rule set with suppression: {full_wall:.2f} s "
        f"(CPU {full_cpu:.2f} s) = {full_wall / median:.0f}x the median report"
    )
    print(
        f"whole-bundle evaluate of the report's rules (cross-checks and exits, no "
        f"suppression): {own_wall:.2f} s (CPU {own_cpu:.2f} s) = {own_wall / median:.0f}x "
        "the median report"
    )

    key = f"{args.households}x{args.months}"
    results = json.loads(OUT.read_text("utf-8")) if OUT.exists() else {}
    results[key] = {
        "households": bundle.households.height,
        "records": bundle.records.height,
        "as_of": as_of.isoformat(),
        "reports": len(walls),
        "report_median_s": round(median, 4),
        "report_max_s": round(worst, 4),
        "report_pandas_median_s": (
            round(statistics.median(pandas_walls), 4) if pandas_walls else None
        ),
        "evaluate_default_s": round(full_wall, 3),
        "evaluate_report_rules_s": round(own_wall, 3),
        "ratio_default_to_report": round(full_wall / median, 1),
        "ratio_report_rules_to_report": round(own_wall / median, 1),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(OUT, json.dumps(results, indent=2) + "\n", mode=umask_mode())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
