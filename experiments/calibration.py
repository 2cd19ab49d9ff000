"""Table: the simulator against each published calibration target.

.venv/bin/python experiments/calibration.py --households 100000 --seed 0
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _config import parse_args

import needsid as ni
from needsid._io import umask_mode, write_atomic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("experiments/results/calibration.csv"))
    args = parse_args(parser, "calibration")
    pop = ni.simulate(n_households=args.households, months=args.months, seed=args.seed)
    report = ni.simulation.calibration_report(pop)
    print("| target | published | tolerance | measured | within |")
    print("|---|---:|---:|---:|:---:|")
    for r in report.itertuples(index=False):
        print(
            f"| {r.target} | {r.published:g} | {r.tolerance:g} | {r.measured:.3f} | "
            f"{'yes' if r.within else 'NO'} |"
        )
    write_atomic(args.out, lambda tmp: report.to_csv(tmp, index=False), mode=umask_mode())


if __name__ == "__main__":
    main()
