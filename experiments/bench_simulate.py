"""Benchmark: simulate N households x M months; report wall time and peak memory.

Each size runs in a fresh subprocess so its peak resident memory is its own.

    .venv/bin/python experiments/bench_simulate.py --households 1000000 --months 36
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from _config import parse_args

from needsid._io import umask_mode, write_atomic

CHILD = """
import json, sys, time
import needsid as ni
n, m = int(sys.argv[1]), int(sys.argv[2])
t = time.perf_counter()
pop = ni.simulate(n_households=n, months=m, seed=0)
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "records": pop.bundle.records.height,
                  "members": pop.bundle.members.height,
                  "truth_rows": pop.truth.monthly.height}))
"""


def run(n: int, months: int) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(months)],
        check=True,
        capture_output=True,
        text=True,
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = json.loads(out.stdout.strip().splitlines()[-1])
    # ru_maxrss of children is the largest child so far; sizes run in increasing order
    res.update(households=n, months=months, peak_rss_gb=max(peak_kb, before) / 2**20)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument(
        "--out", type=Path, default=Path("experiments/results/bench_simulate.json")
    )
    args = parse_args(parser, "bench_simulate")
    rows = []
    for n in sorted(args.households):
        start = time.perf_counter()
        r = run(n, args.months)
        r["wall_with_startup_s"] = time.perf_counter() - start
        rows.append(r)
        per = r["seconds"] / (n * args.months) * 1e6
        print(
            f"{n:>9,} households x {args.months} months: {r['seconds']:6.1f} s "
            f"({per:.2f} us per household-month), peak RSS {r['peak_rss_gb']:.2f} GB, "
            f"{r['records']:,} records"
        )
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(
            f"scaling {b['households'] / a['households']:.0f}x households -> "
            f"{b['seconds'] / a['seconds']:.1f}x time, "
            f"{b['peak_rss_gb'] / a['peak_rss_gb']:.1f}x memory"
        )
    write_atomic(args.out, json.dumps(rows, indent=2), mode=umask_mode())


if __name__ == "__main__":
    main()
