"""Latency of the served flagging model, and in-process batch scoring speed.

Trains a small model with configs/train/default.yaml into a throwaway SQLite store,
starts `needsid serve` (that is, `mlflow models serve --env-manager local`) on
127.0.0.1, sends N single-household requests C at a time, and reports p50/p90/p99
latency and errors. Then times in-process scoring of all households (pyfunc predict
with and without reasons) in the same run.

    python experiments/bench_serving.py --households 5000 --requests 2000 --concurrency 8
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _config import parse_args

import needsid as ni
from needsid import tracking
from needsid._io import umask_mode, write_atomic

AS_OF = "2025-07-01"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out", default="experiments/results/bench_serving.json")
    ap.add_argument(
        "--train-config",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "configs" / "train" / "default.yaml",
        help="training config of the served model (default: %(default)s)",
    )
    args = parse_args(ap, "bench_serving")

    import mlflow
    from mlflow import MlflowClient

    tmp = Path(tempfile.mkdtemp(prefix="needsid-bench-serving-"))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    for name in ("needsid-train", "needsid-flag"):
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
    cols = ["household_id", *model.unwrap_python_model().features]
    X = ni.features.build(pop.bundle, AS_OF).to_pandas()[cols]

    t = time.perf_counter()
    model.predict(X, params={"reasons": False})
    score_s = time.perf_counter() - t
    t = time.perf_counter()
    model.predict(X)
    explain_s = time.perf_counter() - t

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = str(Path(sys.executable).with_name("needsid"))
    proc = subprocess.Popen(
        [cli, "serve", "--model", "models:/needsid-risk@champion", "--port", str(port)],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(360):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        bodies = [tracking.request_body(X.iloc[[i]]) for i in range(min(500, len(X)))]
        stats = tracking.load_test(
            f"http://127.0.0.1:{port}/invocations", bodies, args.requests, args.concurrency
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    result = {
        "households": len(X),
        "train_config": str(args.train_config),
        "model_params": cfg.model.params,
        "features": len(cols) - 1,
        "in_process_score_rows_per_s": len(X) / score_s,
        "in_process_score_and_reasons_rows_per_s": len(X) / explain_s,
        "serve": stats.to_dict(),
        "load_average_1min": os.getloadavg()[0],
        "cores": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    write_atomic(args.out, json.dumps(result, indent=2) + "\n", mode=umask_mode())


if __name__ == "__main__":
    main()
