"""Benchmark: needsid.features.build against plain pandas and a numpy bincount bound.

One process, one run. Simulates N households, then at ``as_of`` (the first day of the
last simulated month) times, on the same bundle:

1. ``needsid.features.build`` (polars input, all families, and the events family only);
2. a straightforward pandas implementation of the ``events`` family (counts, sums and
   ``months_since_<kind>``), on the pandas version of the tables (conversion timed apart);
3. a hand-vectorised numpy lower bound for the event counts: one mask + ``np.bincount``
   per window over integer codes prepared beforehand (preparation not timed);
4. the same counts by one polars group-by on the same integer arrays: what the engine
   behind narwhals costs for the bound's step alone.

The events build and the bincount bound are each the fastest of ``--repeats`` runs (the
machine is shared); the integer coding that the bound is given (records attributed to
households, ids and kinds turned into codes) is timed once, apart, and reported both
ways: left out (the strict bound) and counted as the numpy version's work.

Values of 2 and 3 are checked against needsid's. Peak RSS is reported twice: for this
whole process (simulation, needsid, the pandas copy of the tables and the bincount
inputs together) and for a fresh process that only reads the bundle from Parquet and
runs ``build`` (needsid's own footprint; target < 8 GB), and for a fresh process that
builds inside DuckDB on the Parquet files within ``--duckdb-memory-limit`` (out of
core; its values are checked against polars'). Results
go to experiments/results/bench_features.json, one entry per size (the file is updated).

    .venv/bin/python experiments/bench_features.py --households 1000000 --months 24
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from _config import parse_args

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.features import load_spec

OUT = Path(__file__).parent / "results" / "bench_features.json"
NONE_SINCE = 999


# run in a child process: read the bundle written as Parquet, build, report own peak RSS
# peak RSS from VmHWM, the high-water mark of this process image: getrusage's ru_maxrss
# would carry over the parent's peak across fork and exec
CHILD = """
import json, sys, time
import needsid as ni
t = time.perf_counter()
bundle = ni.HouseholdData.read(sys.argv[1])
read_s = time.perf_counter() - t
t = time.perf_counter()
X = ni.features.build(bundle, sys.argv[2])
build_s = time.perf_counter() - t
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 2**20
print(json.dumps({"read_s": read_s, "build_s": build_s, "peak_rss_gb": peak,
                  "households": X.height, "features": X.width - 1}))
"""


# the same, out of core: DuckDB reads the Parquet files in place within a memory limit
CHILD_DUCKDB = """
import json, sys, tempfile, time
import duckdb
import needsid as ni
with tempfile.TemporaryDirectory() as spill:
    con = duckdb.connect(config={"memory_limit": sys.argv[3], "temp_directory": spill})
    con.execute("PRAGMA disable_progress_bar")
    t = time.perf_counter()
    rel = ni.features.build(ni.HouseholdData.scan(sys.argv[1], connection=con), sys.argv[2])
    rel.write_parquet(sys.argv[4])
    build_s = time.perf_counter() - t
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 2**20
print(json.dumps({"build_and_write_s": build_s, "peak_rss_gb": peak,
                  "memory_limit": sys.argv[3]}))
"""


def run_child(code: str, *argv) -> dict:
    """Run ``code`` in a fresh Python process; return the JSON its last line prints."""
    child = subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)], check=True, capture_output=True, text=True
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def rss_gb() -> float:
    """Current resident set size, GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KB on Linux


def best_of(repeats: int, fn, *args):
    """Run ``fn`` ``repeats`` times; return its output and the fastest time.

    The machine is shared: the fastest of a few runs is the least disturbed one. Used
    for the events build and the bincount bound alike, so their ratio is fair.
    """
    times = []
    for _ in range(repeats):
        out, t = timed(fn, *args)
        times.append(t)
    return out, min(times)


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def add_months(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 + k, 12)
    return dt.date(d.year + y, m + 1, 1)


def event_columns(spec) -> list[str]:
    cols = []
    for k, with_sum in spec.events.items():
        for w in spec.windows:
            cols.append(f"n_{k}_{w}m")
            if with_sum:
                cols.append(f"sum_{k}_{w}m")
        cols.append(f"months_since_{k}")
    return cols


def pandas_events(t, as_of: dt.date, spec) -> pd.DataFrame:
    """The events family, the way one would write it in pandas."""
    d = pd.Timestamp(as_of)
    hh = t.households
    alive = hh.loc[(hh.formed_on < d) & (hh.dissolved_on.isna() | (hh.dissolved_on >= d))]
    m = t.members
    spells = m.loc[(m.joined_on < d) & (m.left_on.isna() | (m.left_on >= d))]
    spells = spells[["person_id", "household_id"]].rename(columns={"household_id": "hh_now"})
    rec = t.records
    rec = rec.loc[(rec.known_date < d) & rec.kind.isin(list(spec.events))]
    rec = rec.merge(spells, on="person_id", how="left")
    rec["hh"] = rec["hh_now"].fillna(rec["household_id"])
    rec["amount"] = rec["amount"].fillna(0.0)
    rec["kind"] = rec["kind"].astype(str)

    parts = []
    for w in spec.windows:
        win = rec[rec.event_date >= d - pd.DateOffset(months=w)]
        g = win.groupby(["hh", "kind"]).agg(n=("amount", "size"), s=("amount", "sum"))
        g = g.unstack("kind", fill_value=0)
        n = g["n"].rename(columns={k: f"n_{k}_{w}m" for k in g["n"].columns})
        s = g["s"][[k for k in g["s"].columns if spec.events[k]]]
        parts += [n, s.rename(columns={k: f"sum_{k}_{w}m" for k in s.columns})]
    last = rec.groupby(["hh", "kind"])["event_date"].max()
    since = (as_of.year * 12 + as_of.month - 1) - (last.dt.year * 12 + last.dt.month - 1)
    since = since.unstack("kind").rename(columns=lambda k: f"months_since_{k}")

    out = pd.concat(parts, axis=1).reindex(alive["household_id"].sort_values())
    out = out.join(since)
    cols = event_columns(spec)
    out = out.reindex(columns=cols)
    fill = {c: (NONE_SINCE if c.startswith("months_since_") else 0) for c in cols}
    return out.fillna(fill).astype("float64")


def bincount_inputs(bundle, as_of: dt.date, ids: pl.Series):
    """Household index, kind code and event day of every known record (not timed)."""
    d = as_of
    spells = bundle.members.filter(
        (pl.col("joined_on") < d) & (pl.col("left_on").is_null() | (pl.col("left_on") >= d))
    ).select("person_id", hh_now="household_id")
    index = pl.DataFrame({"household_id": ids, "hh_idx": np.arange(len(ids), dtype=np.int64)})
    rec = (
        bundle.records.lazy()
        .filter(pl.col("known_date") < d)
        .join(spells.lazy(), on="person_id", how="left")
        .with_columns(household_id=pl.coalesce("hh_now", "household_id"))
        .join(index.lazy(), on="household_id", how="inner")
        .select("hh_idx", kind=pl.col("kind").cast(pl.String), day=pl.col("event_date"))
        .collect()
    )
    kinds = sorted(rec["kind"].unique().to_list())
    code = rec["kind"].replace_strict(kinds, list(range(len(kinds))), return_dtype=pl.Int64)
    days = rec["day"].cast(pl.Int32).to_numpy()
    return rec["hh_idx"].to_numpy(), code.to_numpy(), days, kinds


def bincount_counts(hh_idx, kc, days, n_hh: int, n_kinds: int, cuts: dict[int, int]):
    key = hh_idx * n_kinds + kc
    return {
        w: np.bincount(key[days >= c], minlength=n_hh * n_kinds).reshape(n_hh, n_kinds)
        for w, c in cuts.items()
    }


def polars_counts(frame: pl.DataFrame, cuts: dict[int, int]) -> pl.DataFrame:
    """The bound's computation in polars, on the bound's own integer inputs.

    One group-by over (household, kind) counting the records of each window: what any
    engine behind narwhals (the build is written on narwhals expressions) needs at
    least, with a sparse result where the bound fills a dense array.
    """
    return (
        frame.lazy()
        .group_by("hh", "kind")
        .agg(*[(pl.col("day") >= c).sum().alias(f"n_{w}m") for w, c in cuts.items()])
        .collect()
    )


def compare(name: str, got: dict[str, np.ndarray], want: pl.DataFrame) -> bool:
    bad = []
    for col, vals in got.items():
        ref = want[col].to_numpy()
        if not np.allclose(vals, ref, rtol=1e-9, atol=1e-6, equal_nan=True):
            diff = ~np.isclose(vals, ref, rtol=1e-9, atol=1e-6, equal_nan=True)
            i = int(np.flatnonzero(diff)[0])
            bad.append(col)
            print(
                f"  MISMATCH {name} {col}: {diff.sum():,} households differ, e.g. "
                f"{want['household_id'][i]}: {name}={vals[i]!r} needsid={ref[i]!r}"
            )
    print(
        f"{name}: values match ({len(got)} columns)"
        if not bad
        else f"{name}: {len(bad)} of {len(got)} columns DO NOT match"
    )
    return not bad


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of the events build and bincount; fastest kept",
    )
    parser.add_argument(
        "--duckdb-memory-limit",
        default="2GB",
        help="DuckDB's memory_limit for the out-of-core build (fresh process)",
    )
    args = parse_args(parser, "bench_features")
    r: dict = {
        "households": args.households,
        "months": args.months,
        "seed": args.seed,
        "repeats": args.repeats,
    }
    r["loadavg_start"] = os.getloadavg()

    pop, r["simulate_s"] = timed(ni.simulate, args.households, args.months, args.seed)
    bundle, as_of = pop.bundle, add_months(pop.start, args.months - 1)
    del pop
    gc.collect()
    r.update(
        rss_after_simulate_gb=rss_gb(),
        peak_rss_after_simulate_gb=peak_rss_gb(),
        as_of=as_of.isoformat(),
        records=bundle.records.height,
        households_total=bundle.households.height,
        members=bundle.members.height,
    )
    print(
        f"simulated {args.households:,} households x {args.months} months in "
        f"{r['simulate_s']:.1f} s: {r['records']:,} records, {r['members']:,} member "
        f"spells; RSS {r['rss_after_simulate_gb']:.2f} GB; as_of {as_of}"
    )

    # needsid's own footprint: read the Parquet folder and build, in a fresh process
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name) / "bundle"
    bundle.write(folder)
    fresh = run_child(CHILD, folder, as_of.isoformat())
    r.update(fresh_process=fresh)
    print(
        f"fresh process: read {fresh['read_s']:.1f} s + build {fresh['build_s']:.1f} s, "
        f"peak RSS {fresh['peak_rss_gb']:.2f} GB (target < 8 GB)"
    )

    duck_out = Path(tmp.name) / "duckdb_features.parquet"
    duck = run_child(CHILD_DUCKDB, folder, as_of.isoformat(), args.duckdb_memory_limit, duck_out)
    r.update(duckdb_process=duck)
    print(
        f"fresh process, DuckDB on the Parquet files (memory_limit {args.duckdb_memory_limit})"
        f": build + write {duck['build_and_write_s']:.1f} s, peak RSS {duck['peak_rss_gb']:.2f} GB"
    )

    spec = load_spec()
    ev_spec = spec.model_copy(update={"families": ("events",)})
    cols = event_columns(spec)
    X, r["needsid_s"] = timed(ni.features.build, bundle, as_of)
    Xe, r["needsid_events_s"] = best_of(args.repeats, ni.features.build, bundle, as_of, ev_spec)
    r["alive_households"], r["feature_columns"] = X.height, X.width - 1
    print(
        f"needsid build, all {X.width - 1} features:       {r['needsid_s']:7.2f} s "
        f"({X.height:,} households)"
    )
    print(f"needsid build, events family ({Xe.width - 1} cols):  {r['needsid_events_s']:7.2f} s")
    # float sums may differ in the last bits between runs (parallel summation order)
    X_all = X
    X = X.select("household_id", *cols)
    assert Xe["household_id"].equals(X["household_id"])
    r["events_only_matches_full"] = compare(
        "needsid events-only vs full", {c: Xe[c].to_numpy() for c in cols}, X
    )
    del Xe
    D = pl.read_parquet(duck_out)
    tmp.cleanup()
    assert D["household_id"].equals(X_all["household_id"]), "DuckDB covers other households"
    r["duckdb_matches"] = compare(
        "DuckDB (fresh process) vs polars", {c: D[c].to_numpy() for c in D.columns[1:]}, X_all
    )
    del D, X_all
    ids = X["household_id"]

    # numpy bincount lower bound for the counts
    # the integer coding (attribution to households, ids and kinds to codes) is timed
    # apart: the strict bound leaves it out, the second ratio counts it as numpy's work
    (hh_idx, kc, days, kinds), r["bincount_prep_s"] = timed(bincount_inputs, bundle, as_of, ids)
    epoch = dt.date(1970, 1, 1)
    cuts = {w: (add_months(as_of, -w) - epoch).days for w in spec.windows}
    ev_codes = [kinds.index(k) if k in kinds else -1 for k in spec.events]
    n_kinds = len(kinds)

    def check_counts(name, counts, codes) -> bool:
        got = {
            f"n_{k}_{w}m": (counts[w][:, c] if c >= 0 else np.zeros(len(ids)))
            for w in spec.windows
            for k, c in zip(spec.events, codes, strict=True)
        }
        return compare(name, got, X)

    counts, r["bincount_all_records_s"] = best_of(
        args.repeats, bincount_counts, hh_idx, kc, days, len(ids), n_kinds, cuts
    )
    ok_bc = check_counts("bincount (all known records)", counts, ev_codes)
    # tighter bound: only event-kind records, kinds recoded 0..len(events)-1
    sel = np.isin(kc, [c for c in ev_codes if c >= 0])
    recode = np.full(n_kinds, -1)
    recode[[c for c in ev_codes if c >= 0]] = np.arange(sum(c >= 0 for c in ev_codes))
    kc_ev = recode[kc[sel]]
    counts, r["bincount_event_kinds_s"] = best_of(
        args.repeats,
        bincount_counts,
        hh_idx[sel],
        kc_ev,
        days[sel],
        len(ids),
        len(spec.events),
        cuts,
    )
    ok_bc &= check_counts(
        "bincount (event kinds only)", counts, [int(recode[c]) if c >= 0 else -1 for c in ev_codes]
    )
    r["bincount_rows_all"], r["bincount_rows_event_kinds"] = len(kc), int(sel.sum())
    # the same counts by polars' group-by on the same integer arrays: the engine's cost
    # for the step the bound does, with no attribution, strings or output layout
    frame = pl.DataFrame({"hh": hh_idx, "kind": kc, "day": days})
    long, r["polars_counts_all_records_s"] = best_of(args.repeats, polars_counts, frame, cuts)
    totals = {w: int(long[f"n_{w}m"].sum()) for w in cuts}
    want = {w: int((days >= c).sum()) for w, c in cuts.items()}
    r["polars_counts_match"] = totals == want
    ok_bc &= r["polars_counts_match"]
    print(
        f"polars group-by on the same integer inputs: {r['polars_counts_all_records_s']:7.3f} s"
        f" (window totals {'match' if totals == want else 'DO NOT match'} the records)"
    )
    # and on the event-kind records only, the rows the build reads
    long, r["polars_counts_event_kinds_s"] = best_of(
        args.repeats, polars_counts, frame.filter(pl.Series(sel)), cuts
    )
    print(
        f"polars group-by on the event-kind integer inputs: "
        f"{r['polars_counts_event_kinds_s']:7.3f} s"
    )
    del frame, long
    print(f"integer coding for bincount (strict bound: untimed): {r['bincount_prep_s']:7.2f} s")
    print(
        f"numpy bincount, counts over {len(kc):,} known records: "
        f"{r['bincount_all_records_s']:7.3f} s"
    )
    print(
        f"numpy bincount, counts over {int(sel.sum()):,} event-kind records: "
        f"{r['bincount_event_kinds_s']:7.3f} s"
    )
    del counts, hh_idx, kc, days, sel, kc_ev
    gc.collect()

    # pandas
    pdb, r["to_pandas_s"] = timed(bundle.to_pandas)
    print(f"bundle.to_pandas() (not in pandas timing):       {r['to_pandas_s']:7.2f} s")
    P, r["pandas_s"] = timed(pandas_events, pdb, as_of, spec)
    print(f"pandas events family ({len(cols)} cols):             {r['pandas_s']:7.2f} s")
    assert list(P.index) == ids.to_list(), "pandas and needsid cover different households"
    ok_pd = compare("pandas", {c: P[c].to_numpy() for c in cols}, X)
    del pdb, P
    gc.collect()

    r["values_match"] = {"pandas": ok_pd, "bincount": ok_bc, "duckdb": r["duckdb_matches"]}
    r["pandas_over_needsid"] = r["pandas_s"] / r["needsid_s"]
    r["pandas_over_needsid_events"] = r["pandas_s"] / r["needsid_events_s"]
    r["needsid_events_over_bincount"] = r["needsid_events_s"] / r["bincount_all_records_s"]
    r["needsid_events_over_bincount_with_prep"] = r["needsid_events_s"] / (
        r["bincount_prep_s"] + r["bincount_all_records_s"]
    )
    r["polars_counts_over_bincount"] = (
        r["polars_counts_all_records_s"] / r["bincount_all_records_s"]
    )
    r["polars_counts_event_kinds_over_bincount"] = (
        r["polars_counts_event_kinds_s"] / r["bincount_all_records_s"]
    )
    r["needsid_events_over_bincount_event_kinds"] = (
        r["needsid_events_s"] / r["bincount_event_kinds_s"]
    )
    r["peak_rss_gb"] = peak_rss_gb()
    r["simulation_share_of_peak"] = r["rss_after_simulate_gb"] / r["peak_rss_gb"]
    for label, key, target in [
        # the pandas version implements the events family only: that is the like ratio
        ("pandas events / needsid events", "pandas_over_needsid_events", " (target >= 3)"),
        ("pandas events / needsid all families", "pandas_over_needsid", ""),
        ("needsid events / bincount (all)", "needsid_events_over_bincount", " (target <= 2.5)"),
        ("needsid events / bincount (events)", "needsid_events_over_bincount_event_kinds", ""),
        ("needsid events / (coding + bincount)", "needsid_events_over_bincount_with_prep", ""),
        ("polars group-by / bincount (same input)", "polars_counts_over_bincount", ""),
        ("polars group-by, event kinds / bincount", "polars_counts_event_kinds_over_bincount", ""),
    ]:
        print(f"{label:40s} = {r[key]:6.2f}x{target}")
    print(
        f"peak RSS {r['peak_rss_gb']:.2f} GB; after simulating {r['rss_after_simulate_gb']:.2f}"
        f" GB ({100 * r['simulation_share_of_peak']:.0f}% of peak; simulation's own peak "
        f"{r['peak_rss_after_simulate_gb']:.2f} GB)"
    )
    r["loadavg_end"] = os.getloadavg()  # the machine may be shared: context for the times
    r["versions"] = {m.__name__: m.__version__ for m in (pd, pl, np, ni)}

    OUT.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(OUT.read_text()) if OUT.exists() else {}
    runs[f"{args.households}x{args.months}"] = r
    write_atomic(OUT, json.dumps(runs, indent=2), mode=umask_mode())
    print(f"wrote {OUT}")
    if not (ok_pd and ok_bc and r["duckdb_matches"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
