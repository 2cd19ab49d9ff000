"""A province on one machine: simulate, build features, score and flag 10M households.

Each step runs in a fresh process, so its wall time and peak RSS (VmHWM) are its own:

1. simulate: ``--parts`` processes, each ``ni.simulate`` of households/parts households
   with seed ``seed + part``; ids get the part number after their letter (``H0000001``
   of part 3 becomes ``H030000001``; regions ``G01`` become ``G0301``), so no two parts
   share an id. Each table is a folder of part files (``records/part-03.parquet``).
2. train: a model on a separate 50,000-household simulation (seed ``seed + 1000``) with
   configs/train/default.yaml, registered and promoted to ``champion`` in a throwaway
   SQLite MLflow store.
3. features: DuckDB builds the features on the part files in place, out of core within
   ``--memory-limit`` (what ``needsid features --engine duckdb --memory-limit`` does on a
   bundle of one file per table), and writes them to Parquet. At 10M households 3GB ran
   out of memory; 6GB (the default) did not.
4. score: the registered model, loaded with ``mlflow.pyfunc.load_model``, scores
   ``--batch-size`` rows at a time read from the features file; scores go to Parquet.
5. flag: ``needsid.flagging.flag`` at ``--capacity`` of the scored households; the flag
   table is written to Parquet (a temporary file renamed into place).

Only counts and a SHA-256 of the flagged ids (to check that a rerun flags the same
households) are printed or saved, never an id. The work folder (``--workdir``, default
a temporary folder) is deleted at the end unless ``--keep``; a run that stops keeps it,
and the same command with ``--workdir`` set to it goes on from the last step done
(steps.json in the folder records them). Results go to
experiments/results/bench_province.json, one entry per size (the file is updated).

    .venv/bin/python experiments/bench_province.py --households 10000000 --parts 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from needsid._io import umask_mode, write_atomic

OUT = Path(__file__).parent / "results" / "bench_province.json"
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "train" / "default.yaml"
TABLES = ("regions", "households", "members", "records")
# id column -> its letter; the part number goes right after the letter
ID_COLUMNS = {
    "region_id": "G",
    "household_id": "H",
    "person_id": "P",
    "record_id": "R",
}
TRAIN_HOUSEHOLDS = 50_000
MODEL = "needsid-risk"


def peak_rss_gb() -> float:
    """This process's peak RSS (VmHWM), GB: not carried over from the parent like ru_maxrss."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 2**20


def add_months(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 + k, 12)
    return dt.date(d.year + y, m + 1, 1)


def write_parquet_atomic(frame, path: Path) -> None:
    """Write a polars frame to ``path`` through a temporary sibling and a rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    frame.write_parquet(tmp)
    tmp.replace(path)


# --- the steps, each run in its own process ------------------------------------------


def step_simulate(args: argparse.Namespace) -> dict:
    import polars as pl

    import needsid as ni

    part, n = args.part, args.households // args.parts
    pop = ni.simulate(n, args.months, seed=args.seed + part)
    bundle, start = pop.bundle, pop.start
    del pop  # the truth is not needed: free it before rewriting the ids
    tag = f"{part:02d}"
    rows = {}
    for name, frame in bundle.tables.items():
        ids = [c for c in frame.columns if c in ID_COLUMNS]
        frame = frame.with_columns(
            pl.concat_str(pl.lit(ID_COLUMNS[c] + tag), pl.col(c).str.slice(1)).alias(c)
            for c in ids
        )
        folder = Path(args.bundle) / name
        folder.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(frame, folder / f"part-{tag}.parquet")
        rows[name] = frame.height
    return {"rows": rows, "start": start.isoformat()}


def step_train(args: argparse.Namespace) -> dict:
    from mlflow import MlflowClient

    import needsid as ni
    from needsid import tracking

    work = Path(args.workdir)
    client = MlflowClient(tracking_uri=args.tracking_uri)
    for name in ("needsid-train", "needsid-flag"):
        client.create_experiment(name, artifact_location=(work / "artifacts").as_uri())
    pop = ni.simulate(TRAIN_HOUSEHOLDS, args.months, seed=args.seed + 1000)
    cfg = tracking.load_train_config(CONFIG, n_boot=0)
    res = tracking.train(pop.bundle, args.as_of, config=cfg, tracking_uri=args.tracking_uri)
    tracking.promote(res.model_name, res.model_version, "champion", tracking_uri=args.tracking_uri)
    return {"model_version": res.model_version, "model_params": cfg.model.params}


def step_features(args: argparse.Namespace) -> dict:
    import duckdb
    import pyarrow.parquet as pq

    import needsid as ni

    work = Path(args.workdir)
    spill = work / "spill"
    spill.mkdir(exist_ok=True)
    # the build ends with a sort by household_id: the order of the scan is not needed, and
    # keeping it holds more in memory (DuckDB's advice when a query runs out of memory)
    config = {
        "memory_limit": args.memory_limit,
        "temp_directory": str(spill),
        "preserve_insertion_order": False,
    }
    con = duckdb.connect(config=config)
    con.execute("PRAGMA disable_progress_bar")
    # each table is a folder of part files: one relation over all of them
    bundle = ni.HouseholdData(
        **{t: con.read_parquet(str(Path(args.bundle) / t / "*.parquet")) for t in TABLES}
    )
    rel = ni.features.build(bundle, args.as_of)
    width = len(rel.columns) - 1
    out = work / "features.parquet"
    tmp = work / ".features.parquet.tmp"
    rel.write_parquet(str(tmp))
    tmp.replace(out)
    con.close()
    shutil.rmtree(spill, ignore_errors=True)
    rows = pq.ParquetFile(out).metadata.num_rows
    return {"households": rows, "features": width}


def step_score(args: argparse.Namespace) -> dict:
    import mlflow
    import pyarrow as pa
    import pyarrow.parquet as pq

    work = Path(args.workdir)
    mlflow.set_tracking_uri(args.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    cols = ["household_id", *model.unwrap_python_model().features]
    source = pq.ParquetFile(work / "features.parquet")
    out, tmp = work / "scores.parquet", work / ".scores.parquet.tmp"
    schema = pa.schema([("household_id", pa.string()), ("score", pa.float64())])
    rows = batches = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for batch in source.iter_batches(batch_size=args.batch_size, columns=cols):
            scored = model.predict(batch.to_pandas(), params={"reasons": False})
            writer.write_table(
                pa.Table.from_pandas(scored[["household_id", "score"]], schema, False)
            )
            rows += len(scored)
            batches += 1
    tmp.replace(out)
    return {"households": rows, "batches": batches}


def step_flag(args: argparse.Namespace) -> dict:
    import polars as pl

    import needsid as ni

    work = Path(args.workdir)
    scores = pl.read_parquet(work / "scores.parquet")
    table = ni.flagging.flag(scores, capacity=args.capacity, as_of=args.as_of, model_name=MODEL)
    del scores
    write_parquet_atomic(table, work / "flags.parquet")
    flagged = table.filter(pl.col("flag"))["household_id"].sort()
    digest = hashlib.sha256("\n".join(flagged.to_list()).encode()).hexdigest()
    return {"households": table.height, "flagged": flagged.len(), "flagged_sha256": digest}


STEPS = {
    "simulate": step_simulate,
    "train": step_train,
    "features": step_features,
    "score": step_score,
    "flag": step_flag,
}


def run_step(step: str, args: argparse.Namespace, **extra) -> dict:
    """Run one step in a fresh process; return its JSON with its wall time and peak RSS."""
    argv = [sys.executable, __file__, "--step", step]
    for key, value in {**vars(args), **extra}.items():
        if key != "step" and value is not None and value is not False:
            argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    t = time.perf_counter()
    child = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True)
    out = json.loads(child.stdout.strip().splitlines()[-1])
    out["wall_with_startup_s"] = time.perf_counter() - t
    return out


def folder_gb(path: Path) -> float:
    """Size of a file, or of the files in a folder, GB."""
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--households", type=int, default=10_000_000)
    parser.add_argument("--parts", type=int, default=10, help="simulation processes")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB's memory_limit")
    parser.add_argument("--batch-size", type=int, default=500_000, help="rows scored at once")
    parser.add_argument("--capacity", type=float, default=0.05, help="share flagged")
    parser.add_argument("--workdir", help="work folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    # set by the orchestrating process for its children
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bundle", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--tracking-uri", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step:
        t = time.perf_counter()
        out = STEPS[args.step](args)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out.update(
            seconds=time.perf_counter() - t,
            cpu_s=usage.ru_utime + usage.ru_stime,
            peak_rss_gb=peak_rss_gb(),
            loadavg_end=os.getloadavg()[0],
        )
        print(json.dumps(out))
        return

    if args.households % args.parts:
        parser.error(f"--households {args.households} is not a multiple of --parts {args.parts}")
    if not 1 <= args.parts <= 100:
        parser.error(f"--parts {args.parts}: expected 1 to 100 (two digits in the ids)")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="needsid-province-"))
    work.mkdir(parents=True, exist_ok=True)
    done_file = work / "steps.json"
    # a rerun with the same --workdir takes up where a failed run stopped
    done: dict = json.loads(done_file.read_text()) if done_file.exists() else {}
    if done and done.get("args") != vars(args) | {"workdir": None, "keep": None}:
        parser.error(f"--workdir {str(work)!r} holds a run with other options: {done['args']}")
    done["args"] = vars(args) | {"workdir": None, "keep": None}
    bundle = work / "bundle"
    uri = f"sqlite:///{work / 'mlflow.db'}"
    base = argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "keep"})
    base.workdir = str(work)

    def step(name: str, **extra) -> dict:
        if name not in done:
            done[name] = run_step(name.split(":")[0], base, **extra)
            write_atomic(done_file, json.dumps(done, indent=2), mode=umask_mode())
        return done[name]

    r: dict = {
        "households": args.households,
        "parts": args.parts,
        "months": args.months,
        "seed": args.seed,
        "memory_limit": args.memory_limit,
        "batch_size": args.batch_size,
        "capacity": args.capacity,
        "cores": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "command": "python experiments/bench_province.py "
        + f"--households {args.households} --parts {args.parts}",
    }
    try:
        parts = [step(f"simulate:{p:02d}", part=p, bundle=bundle) for p in range(args.parts)]
        rows = {name: sum(p["rows"][name] for p in parts) for name in TABLES}
        as_of = add_months(dt.date.fromisoformat(parts[0]["start"]), args.months - 1)
        r["simulate"] = {
            "seconds": sum(p["seconds"] for p in parts),
            "wall_with_startup_s": sum(p["wall_with_startup_s"] for p in parts),
            "cpu_s": sum(p["cpu_s"] for p in parts),
            "peak_rss_gb": max(p["peak_rss_gb"] for p in parts),
            "part_seconds": [p["seconds"] for p in parts],
            "loadavg_end": [p["loadavg_end"] for p in parts],
            "rows": rows,
            "parquet_gb": folder_gb(bundle),
        }
        r["as_of"] = as_of.isoformat()
        print(
            f"simulate: {args.parts} parts, {rows['households']:,} households, "
            f"{rows['records']:,} records in {r['simulate']['seconds']:.0f} s, peak RSS "
            f"{r['simulate']['peak_rss_gb']:.2f} GB, {r['simulate']['parquet_gb']:.2f} GB "
            "of Parquet",
            flush=True,
        )
        for name in ("train", "features", "score", "flag"):
            r[name] = step(name, bundle=bundle, as_of=as_of, tracking_uri=uri)
            extra = ""
            if name == "features":
                r[name]["parquet_gb"] = folder_gb(work / "features.parquet")
                extra = f", {r[name]['households']:,} households x {r[name]['features']}"
            if name == "flag":
                extra = f", {r[name]['flagged']:,} of {r[name]['households']:,} flagged"
            print(
                f"{name}: {r[name]['seconds']:.0f} s, peak RSS {r[name]['peak_rss_gb']:.2f} GB"
                + extra,
                flush=True,
            )
    except BaseException:
        print(
            f"stopped; the work folder {str(work)!r} is kept: rerun with --workdir to go on "
            "from the last step done, or delete it",
            file=sys.stderr,
        )
        raise
    r["disk_gb"] = folder_gb(work)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    steps = ("simulate", "train", "features", "score", "flag")
    r["total_s"] = sum(r[s]["seconds"] for s in steps)
    r["peak_rss_gb"] = max(r[s]["peak_rss_gb"] for s in steps)
    r["under_8gb"] = r["peak_rss_gb"] < 8
    r["loadavg_end"] = os.getloadavg()
    print(f"total {r['total_s']:.0f} s; highest peak RSS of a step {r['peak_rss_gb']:.2f} GB")
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[f"{args.households}x{args.months}"] = r
    write_atomic(OUT, json.dumps(results, indent=2) + "\n", mode=umask_mode())


if __name__ == "__main__":
    main()
