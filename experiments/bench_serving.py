"""Latency of the served flagging model against plain LightGBM served by MLflow.

Trains a small model with configs/train/default.yaml into a throwaway SQLite store and
fits a plain ``lightgbm.LGBMClassifier`` with the same hyperparameters on the same
households and features (labels: the flagging model's top 30%; latency does not depend
on them), logged with MLflow's own ``mlflow.lightgbm`` flavour. Then, in one run:

1. in-process: where one request's time goes (MLflow's scoring-server function, timed
   per stage) for one household and for a batch, and rows/s of pyfunc predict;
2. starts ``needsid serve`` with 1 and with 2 workers, and ``mlflow models serve`` on the
   plain model (1 worker), all ``--env-manager local`` on 127.0.0.1;
3. sends single-household requests C at a time in alternating rounds (needsid 1 worker,
   plain, needsid 2 workers, so that the others' load on the shared machine falls on all
   three alike), then 50 one at a time to needsid and plain: p50 is the median of the
   rounds' p50s, and the ratio is needsid's over plain's;
4. sends batches of ``--batch-rows`` households with reasons, one at a time.

The plain model gets the same rows and features without ``household_id`` (its
signature has no such column). Both run LightGBM on one thread per request: the
plain model through ``n_jobs=1``, needsid's through its serving default.

    .venv/bin/python experiments/bench_serving.py --households 5000 --requests 2000 \\
        --concurrency 8
"""

import argparse
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from _config import parse_args

import needsid as ni
from needsid import tracking
from needsid._io import umask_mode, write_atomic

AS_OF = "2025-07-01"
SPLITS = ("one", "plain_one", "batch", "plain_batch")
STAGES = {
    "parse": "request JSON -> DataFrame (MLflow, with its schema casts)",
    "schema": "MLflow pyfunc input check (signature)",
    "frame": "feature alignment and frame checks (FlaggingModel.frame)",
    "proba": "predict_proba with calibration",
    "treeshap": "TreeSHAP and top reasons (explain)",
    "reason_text": "reason text",
    "assemble": "bands, flag, output frame",
    "respond": "response -> JSON (MLflow)",
    "other": "rest of MLflow's invocations()",
}
PLAIN_STAGES = {
    k: STAGES.get(k, "LGBMClassifier.predict")
    for k in ("parse", "schema", "predict", "respond", "other")
}


def _timed(inner: Callable[..., Any], stage: str, spent: Counter[str]) -> Callable[..., Any]:
    # wraps: MLflow reads the signature (does predict take params?) through __wrapped__
    @functools.wraps(inner)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[stage] += time.perf_counter() - start

    return timed


@contextmanager
def _timers(model: Any, needsid: bool) -> Iterator[Counter[str]]:
    """Wrap the stages of one scoring-server request in timers; restore them on exit.

    The names wrapped are MLflow 3's internals (read on 3.17): if one moves, getattr
    fails here rather than a stage silently reading 0.
    """
    from mlflow.pyfunc import scoring_server

    import needsid.tracking._pyfunc as pyfunc_module

    spent: Counter[str] = Counter()
    wrapped = [
        (scoring_server, "_parse_json_data", "parse"),
        (scoring_server, "predictions_to_json", "respond"),
        (scoring_server, "invocations", "total"),
        (model, "predict", "pyfunc"),
    ]
    if needsid:
        impl = model.unwrap_python_model()
        wrapped += [
            (impl, "predict", "model"),
            (impl, "frame", "frame"),
            (impl.risk_model, "predict_proba", "proba"),
            (impl.risk_model, "explain", "treeshap"),
            (pyfunc_module, "reason_text", "reason_text"),
        ]
    else:  # mlflow.lightgbm's pyfunc wrapper calls LGBMClassifier.predict
        wrapped.append((model._model_impl.lgb_model, "predict", "model"))
    saved = []
    for owner, name, stage in wrapped:
        saved.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, _timed(getattr(owner, name), stage, spent))
    try:
        yield spent
    finally:
        for owner, name, original in reversed(saved):
            if original is None:  # an instance attribute shadowing the class's method
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def stage_split(
    model: Any, bodies: list[bytes], repeat: int, *, needsid: bool = True
) -> dict[str, float]:
    """Milliseconds per request in each stage of MLflow's ``invocations`` (in-process)."""
    from mlflow.pyfunc import scoring_server

    schema = model.metadata.get_input_schema()
    scoring_server.invocations(bodies[0], "application/json", model, schema)  # warm up
    n = 0
    with _timers(model, needsid) as spent:
        for _ in range(repeat):
            for body in bodies:
                answer = scoring_server.invocations(body, "application/json", model, schema)
                assert answer.status == 200, answer.response[:300]
                n += 1
    ms = {k: v * 1000 / n for k, v in spent.items()}
    own = ("frame", "proba", "treeshap", "reason_text") if needsid else ()
    split = {k: ms[k] for k in ("parse", *own, "respond")}
    split["schema"] = ms["pyfunc"] - ms["model"]
    split["assemble" if needsid else "predict"] = ms["model"] - sum(split[k] for k in own)
    split["other"] = ms["total"] - ms["parse"] - ms["pyfunc"] - ms["respond"]
    stages = STAGES if needsid else PLAIN_STAGES
    return {"total": ms["total"], **{k: split[k] for k in stages}}


def _mean(splits: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([s[k] for s in splits])) for k in splits[0]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # the servers' logs are dropped: they would hold nothing the benchmark reports
    return subprocess.Popen(
        args, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait(port: int) -> None:
    for _ in range(360):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"no server answered on port {port} within 3 minutes")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=2000, help="per server, all rounds")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--batch-rows", type=int, default=1000)
    ap.add_argument("--batch-requests", type=int, default=10)
    ap.add_argument("--out", default="experiments/results/bench_serving.json")
    ap.add_argument(
        "--train-config",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "configs" / "train" / "default.yaml",
        help="training config of the served model (default: %(default)s)",
    )
    args = parse_args(ap, "bench_serving")

    import lightgbm
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    tmp = Path(tempfile.mkdtemp(prefix="needsid-bench-serving-"))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    for name in ("needsid-train", "needsid-flag", "plain-lightgbm"):
        MlflowClient(tracking_uri=uri).create_experiment(
            name, artifact_location=(tmp / "artifacts").as_uri()
        )
    pop = ni.simulate(n_households=args.households, months=36, seed=0)
    # the model `needsid train` makes by default (depth cap, sigmoid calibration)
    cfg = tracking.load_train_config(args.train_config, n_boot=0)
    res = tracking.train(pop.bundle, AS_OF, config=cfg, tracking_uri=uri)
    tracking.promote(res.model_name, res.model_version, "champion", tracking_uri=uri)
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/needsid-risk@champion")
    features = list(model.unwrap_python_model().features)
    X = ni.features.build(pop.bundle, AS_OF).to_pandas()[["household_id", *features]]

    t = time.perf_counter()
    scored = model.predict(X, params={"reasons": False})
    score_s = time.perf_counter() - t
    t = time.perf_counter()
    model.predict(X)
    explain_s = time.perf_counter() - t

    # plain LightGBM: the same hyperparameters, rows and features; no calibration
    plain_params = {k: v for k, v in cfg.model.params.items() if k != "calibration"}
    plain_params.update(n_jobs=1, verbosity=-1)
    Xf = X[features].astype(np.float64)
    y = (scored["score"] >= scored["score"].quantile(0.7)).astype(int).to_numpy()
    plain = lightgbm.LGBMClassifier(**plain_params).fit(Xf, y)
    mlflow.set_experiment("plain-lightgbm")
    with mlflow.start_run():
        plain_info = mlflow.lightgbm.log_model(
            plain,
            name="model",
            signature=infer_signature(Xf.head(5), plain.predict(Xf.head(5))),
            serialization_format="cloudpickle",  # our own model in a throwaway store
            pip_requirements=[f"lightgbm=={lightgbm.__version__}"],
        )

    n_single = min(500, len(X))
    bodies = [tracking.request_body(X.iloc[[i]]) for i in range(n_single)]
    plain_bodies = [tracking.request_body(Xf.iloc[[i]]) for i in range(n_single)]
    n_batches = max(1, min(5, len(X) // args.batch_rows))
    chunks = [X.iloc[i * args.batch_rows : (i + 1) * args.batch_rows] for i in range(n_batches)]
    batch_bodies = [tracking.request_body(c) for c in chunks]
    plain_batch_bodies = [tracking.request_body(c[features]) for c in chunks]
    plain_model = mlflow.pyfunc.load_model(plain_info.model_uri)
    splits: dict[str, list[dict[str, float]]] = {k: [] for k in SPLITS}
    for _ in range(2):  # alternating, as the served rounds below
        splits["one"].append(stage_split(model, bodies[:100], repeat=1))
        splits["plain_one"].append(
            stage_split(plain_model, plain_bodies[:100], repeat=1, needsid=False)
        )
        splits["batch"].append(stage_split(model, batch_bodies[:1], repeat=1))
        splits["plain_batch"].append(
            stage_split(plain_model, plain_batch_bodies[:1], repeat=1, needsid=False)
        )
    split = {k: _mean(v) for k, v in splits.items()}

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    ports = {"needsid": _free_port(), "plain": _free_port(), "needsid_2_workers": _free_port()}
    needsid_cli = [str(bin_dir / "needsid"), "serve", "--model", "models:/needsid-risk@champion"]
    procs = [
        _start([*needsid_cli, "--port", str(ports["needsid"]), "--workers", "1"], env),
        _start([*needsid_cli, "--port", str(ports["needsid_2_workers"]), "--workers", "2"], env),
        _start(
            [str(bin_dir / "mlflow"), "models", "serve", "-m", plain_info.model_uri,
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(ports["plain"]), "-w", "1"],
            env,
        ),
    ]  # fmt: skip
    url = {k: f"http://127.0.0.1:{p}/invocations" for k, p in ports.items()}
    single = {"needsid": bodies, "plain": plain_bodies, "needsid_2_workers": bodies}
    columns: dict[str, Any] = {"needsid": tracking.OUTPUT_COLUMNS, "plain": None}
    columns["needsid_2_workers"] = tracking.OUTPUT_COLUMNS
    rounds: dict[str, list[dict[str, Any]]] = {k: [] for k in ports}
    try:
        for port in ports.values():
            _wait(port)
        per_round = max(1, args.requests // args.rounds)
        alone: dict[str, list[dict[str, Any]]] = {"needsid": [], "plain": []}
        for _ in range(args.rounds):
            for key in ports:
                stats = tracking.load_test(
                    url[key], single[key], per_round, args.concurrency, columns=columns[key]
                )
                rounds[key].append(stats.to_dict())
            # one request at a time: a request's own time, without the queue
            for key in alone:
                stats = tracking.load_test(url[key], single[key], 50, 1, columns=columns[key])
                alone[key].append(stats.to_dict())
        batch = {
            key: tracking.load_test(
                url[key], bodies_, args.batch_requests, 1, timeout=60.0, columns=columns[key]
            ).to_dict()
            for key, bodies_ in (("needsid", batch_bodies), ("plain", plain_batch_bodies))
        }
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)

    def median(runs: list[dict[str, Any]], field: str) -> float:
        return float(np.median([r[field] for r in runs]))

    p50 = {k: median(v, "p50_ms") for k, v in rounds.items()}
    rps = {k: median(v, "requests_per_s") for k, v in rounds.items()}
    alone_p50 = {k: median(v, "p50_ms") for k, v in alone.items()}
    result = {
        "households": len(X),
        "train_config": str(args.train_config),
        "model_params": cfg.model.params,
        "plain_lightgbm_params": plain_params,
        "features": len(features),
        "in_process_score_rows_per_s": len(X) / score_s,
        "in_process_score_and_reasons_rows_per_s": len(X) / explain_s,
        "stage_ms_one_household": {"needsid": split["one"], "plain": split["plain_one"]},
        "stage_ms_batch": {
            "rows": args.batch_rows,
            "needsid": split["batch"],
            "plain": split["plain_batch"],
        },
        "single_household": {
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "requests_per_round": per_round,
            "p50_ms": p50,
            "requests_per_s": rps,
            "p50_ratio_needsid_over_plain": p50["needsid"] / p50["plain"],
            "throughput_ratio_2_workers_over_1": rps["needsid_2_workers"] / rps["needsid"],
            "errors": {k: sum(r["errors"] for r in v) for k, v in rounds.items()},
            "by_round": rounds,
        },
        "single_household_one_at_a_time": {
            "p50_ms": alone_p50,
            "p50_ratio_needsid_over_plain": alone_p50["needsid"] / alone_p50["plain"],
            "errors": {k: sum(r["errors"] for r in v) for k, v in alone.items()},
            "by_round": alone,
        },
        "batch_with_reasons": {"rows": args.batch_rows, **batch},
        "load_average_1min": os.getloadavg()[0],
        "cores": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    for title, key, stages in (
        ("needsid, one household", "one", STAGES),
        ("plain LightGBM, one household", "plain_one", PLAIN_STAGES),
        (f"needsid, {args.batch_rows} households with reasons", "batch", STAGES),
        (f"plain LightGBM, {args.batch_rows} households", "plain_batch", PLAIN_STAGES),
    ):
        print(f"\nIn-process request ({title}): {split[key]['total']:.1f} ms")
        for stage, what in stages.items():
            ms = split[key][stage]
            print(f"  {what:<58} {ms:8.2f} ms {ms / split[key]['total']:6.1%}")
    print(
        f"\nSingle households, {args.concurrency} at a time, p50 (median of {args.rounds} "
        f"rounds): needsid {p50['needsid']:.1f} ms, plain LightGBM {p50['plain']:.1f} ms, "
        f"ratio {p50['needsid'] / p50['plain']:.2f}"
    )
    print(
        f"One at a time, p50: needsid {alone_p50['needsid']:.1f} ms, plain "
        f"{alone_p50['plain']:.1f} ms, ratio {alone_p50['needsid'] / alone_p50['plain']:.2f}"
    )
    print(
        f"Throughput: 1 worker {rps['needsid']:.1f} requests/s, 2 workers "
        f"{rps['needsid_2_workers']:.1f} requests/s "
        f"({rps['needsid_2_workers'] / rps['needsid']:.2f}x)"
    )
    print(
        f"{args.batch_rows} households with reasons per request: p50 "
        f"{batch['needsid']['p50_ms']:.0f} ms, max {batch['needsid']['max_ms']:.0f} ms "
        f"(plain LightGBM, no reasons: p50 {batch['plain']['p50_ms']:.0f} ms)"
    )
    write_atomic(args.out, json.dumps(result, indent=2) + "\n", mode=umask_mode())


if __name__ == "__main__":
    main()
