"""Real services on loopback: PostgreSQL + `mlflow server`, `mlflow models serve`, Spark.

Each test starts what it needs and stops it afterwards. In CI (the CI variable set) a
missing PostgreSQL is a failure, not a skip: `.ci/run` installs it.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

import needsid as ni
from needsid import tracking

pytestmark = [pytest.mark.service, pytest.mark.slow]

AS_OF = "2025-07-01"
SALT = "service-test-salt-0123456789"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{proc.args[:3]} exited with {proc.returncode} before {url} came up"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(autouse=True)
def _restore_mlflow_globals(restore_mlflow_globals):
    """Undo the MLflow global URIs (and their environment variables) a test sets."""


def small_config(kind="gbm"):
    params = {"n_estimators": 30, "num_leaves": 15, "n_jobs": 1} if kind == "gbm" else {}
    return tracking.load_train_config(None, model={"kind": kind, "params": params}, n_boot=0)


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory):
    """A local store with a trained, promoted model and the test date's features."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("svc")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    for name in ("needsid-train", "needsid-flag"):
        client.create_experiment(name, artifact_location=(root / "artifacts").as_uri())
    pop = ni.simulate(n_households=2000, months=36, seed=2)
    pop.bundle.write(root / "data")
    res = tracking.train(root / "data", AS_OF, config=small_config(), tracking_uri=uri)
    promoted = tracking.promote(res.model_name, res.model_version, "champion", tracking_uri=uri)
    assert promoted.version == res.model_version and promoted.previous_version is None
    X = ni.features.build(pop.bundle, AS_OF).to_pandas()
    return {"root": root, "uri": uri, "pop": pop, "X": X, "version": res.model_version}


def test_models_serve_scores_over_http_under_load(sqlite_store, capsys):
    import mlflow

    mlflow.set_tracking_uri(sqlite_store["uri"])
    model = mlflow.pyfunc.load_model("models:/needsid-risk@champion")
    cols = ["household_id", *model.unwrap_python_model().features]
    X = sqlite_store["X"][cols]
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": sqlite_store["uri"]}
    serve_cfg = sqlite_store["root"] / "serve.yaml"
    serve_cfg.write_text("max_rows: 100\n")
    proc = subprocess.Popen(
        [str(BIN / "needsid"), "serve", "--model", "models:/needsid-risk@champion",
         "--port", str(port), "--config", str(serve_cfg)],
        env=env, cwd=sqlite_store["root"], start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", proc)
        url = f"http://127.0.0.1:{port}/invocations"
        # correctness: 64 households in one request score exactly as in-process
        batch = X.head(64)
        req = urllib.request.Request(
            url, data=tracking.request_body(batch), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            served = pd.DataFrame(json.loads(r.read())["predictions"])
        local = model.predict(batch)
        assert served["household_id"].tolist() == local["household_id"].tolist()
        np.testing.assert_array_equal(served["score"].to_numpy(), local["score"].to_numpy())
        assert served["reasons"].tolist() == local["reasons"].tolist()
        assert served["flag"].tolist() == local["flag"].tolist()

        # bad requests get a 400 naming the problem, with no stack trace or internal path
        def raw_body(rows):  # json with Infinity, as a careless client sends it
            clean = rows.astype(object).where(rows.notna(), None)
            split = {"columns": list(rows.columns), "data": clean.to_numpy().tolist()}
            return json.dumps({"dataframe_split": split}).encode()

        for bad, said, status in (
            (pd.concat([batch.head(3), batch.head(1)]), "repeat a household_id", 400),
            (batch.head(2).assign(**{cols[1]: np.inf}), "hold inf", 400),
            (batch.head(0), "holds no households", 400),
            (X.head(101), "more than the 100 this server takes", 413),
        ):
            req = urllib.request.Request(url, data=raw_body(bad),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(req, timeout=60)
            assert err.value.code == status
            body = json.loads(err.value.read())
            # one line of ours: no rows of the request echoed back
            assert said in body["message"] and body["error_code"] == "INVALID_PARAMETER_VALUE"
            assert "\n" not in body["message"] and "Failed to predict" not in body["message"]
            assert str(batch["household_id"].iloc[0]) not in json.dumps(body)
            assert "stack_trace" not in body and "Traceback" not in json.dumps(body)
        # bounded load: 2,000 single-household requests, 8 at a time
        bodies = [tracking.request_body(X.iloc[[i]]) for i in range(200)]
        stats = tracking.load_test(url, bodies, n_requests=2000, concurrency=8)
        with capsys.disabled():
            print(f"\nmlflow models serve, 2000 requests x 8 concurrent: {stats.to_dict()}")
        # every request answered 200, with one row of the model's columns per household
        assert stats.statuses == {200: 2000}, stats.first_error
        assert (stats.n_requests, stats.n_ok, stats.errors) == (2000, 2000, 0), stats.first_error
        latencies = [stats.p50_ms, stats.p90_ms, stats.p99_ms, stats.max_ms]
        assert all(np.isfinite(v) and v > 0 for v in [*latencies, stats.requests_per_s])
        # the checks can fail: a served model that dropped a column is counted as errors
        short = tracking.load_test(url, bodies[:4], n_requests=4, concurrency=2,
                                   columns=[*tracking.OUTPUT_COLUMNS, "missing"])  # fmt: skip
        assert (short.n_ok, short.errors, short.statuses) == (0, 4, {200: 4})
        assert short.first_error.startswith("200 but columns")
    finally:
        stop(proc)


def spark_bundle(spark, bundle):
    from pyspark.sql import functions as F

    frames = []
    for t in ("regions", "households", "members", "records"):
        table = getattr(bundle, t)
        sdf = spark.createDataFrame(
            table.with_columns(pl.col(pl.Categorical).cast(pl.String)).to_pandas()
        )
        for name, dtype in table.schema.items():
            if dtype == pl.Date:
                sdf = sdf.withColumn(name, F.to_date(name))
        frames.append(sdf)
    return ni.HouseholdData(*frames)


def test_spark_udf_scores_spark_features_like_in_process(sqlite_store, spark):
    import mlflow
    from pyspark.sql import functions as F

    mlflow.set_tracking_uri(sqlite_store["uri"])
    uri = f"models:/needsid-risk/{sqlite_store['version']}"
    model = mlflow.pyfunc.load_model(uri)
    features = model.unwrap_python_model().features
    # a small population keeps local Spark's plan and heap small; the model is the same
    pop = ni.simulate(n_households=400, months=36, seed=5)
    sdf = ni.features.build(spark_bundle(spark, pop.bundle), AS_OF)
    sdf = sdf.select("household_id", *[F.col(c).cast("double").alias(c) for c in features])
    udf = mlflow.pyfunc.spark_udf(spark, uri, result_type="double", env_manager="local")
    scored = sdf.withColumn("score", udf(F.struct(*[F.col(c) for c in sdf.columns])))
    got = scored.toPandas().sort_values("household_id").reset_index(drop=True)
    # in-process on the very feature values Spark computed: bit-identical scores
    local = model.predict(got.drop(columns="score"), params={"reasons": False})
    np.testing.assert_array_equal(got["score"].to_numpy(), local["score"].to_numpy())
    # and the Spark features agree with the in-memory ones
    X = ni.features.build(pop.bundle, AS_OF).to_pandas()
    assert got["household_id"].tolist() == X["household_id"].tolist()
    pandas_scores = model.predict(X[["household_id", *features]], params={"reasons": False})
    np.testing.assert_allclose(got["score"].to_numpy(), pandas_scores["score"].to_numpy(),
                               rtol=1e-9)  # fmt: skip


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if found:
        return Path(found[-1]).parent
    exe = shutil.which("postgres")
    return Path(exe).parent if exe else None


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL cluster on 127.0.0.1, run as the postgres user if root."""
    pg = _pg_bin()
    if pg is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL server binaries not found (Debian package postgresql)")
    # not under pytest's tmp folder: its parent is private to root, and the server runs
    # as the postgres user
    root = Path(tempfile.mkdtemp(prefix="needsid-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, str(pg / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [*as_user, str(pg / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
         "-k", str(sock)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(120):
            ok = subprocess.run([str(pg / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                                capture_output=True)  # fmt: skip
            if ok.returncode == 0:
                break
            time.sleep(0.5)
        else:
            raise TimeoutError("PostgreSQL did not start")
        subprocess.run([str(pg / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                        "postgres", "mlflow"], check=True, capture_output=True)  # fmt: skip
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/mlflow"
    finally:
        stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def start_mlflow_server(backend: str, artifacts: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--backend-store-uri", backend,
         "--artifacts-destination", str(artifacts), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", proc)
    return proc, url


def test_mlflow_server_on_postgres_train_register_promote_flag(postgres, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    proc, url = start_mlflow_server(postgres, tmp_path / "artifacts")
    try:
        pop = ni.simulate(n_households=1500, months=36, seed=3)
        pop.bundle.write(tmp_path / "data")
        (tmp_path / "train.yaml").write_text(
            "model: {kind: gbm, params: {n_estimators: 20, n_jobs: 1}}\nn_boot: 0\n"
        )
        env = {**os.environ, "MLFLOW_TRACKING_URI": url, "NEEDSID_SALT": SALT}
        cli = str(BIN / "needsid")

        def run(*args):
            done = subprocess.run([cli, *args], env=env, cwd=tmp_path, capture_output=True,
                                  text=True, timeout=600)  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout

        run("train", "--data", "data", "--as-of", AS_OF, "--config", "train.yaml")
        run("promote", "--name", "needsid-risk", "--version", "1", "--alias", "champion",
            "--reason", "postgres test")  # fmt: skip
        run("flag", "--data", "data", "--as-of", AS_OF, "--model", "models:/needsid-risk@champion",
            "--capacity", "0.05", "--out", "flags.parquet")  # fmt: skip
        table = pl.read_parquet(tmp_path / "flags.parquet")
        assert table["model_version"].unique().to_list() == ["1"]
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        mv = client.get_model_version_by_alias("needsid-risk", "champion")
        assert mv.tags["champion.reason"] == "postgres test"
        runs = client.search_runs([client.get_experiment_by_name("needsid-flag").experiment_id])
        assert len(runs) == 1 and runs[0].data.params["model_version"] == "1"
        assert any(a.path == "flag_manifest.parquet"
                   for a in client.list_artifacts(runs[0].info.run_id))  # fmt: skip
        # the server stops mid-run: the table is still written, the error says where
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        model = mlflow.pyfunc.load_model("models:/needsid-risk/1")
        stop(proc)
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        try:
            with pytest.raises(tracking.TrackingError, match="is written to"):
                tracking.flag_households(
                    tmp_path / "data", AS_OF, "models:/needsid-risk/1", 0.05,
                    tmp_path / "offline.parquet", loaded_model=model, tracking_uri=url,
                    salt=SALT,
                )  # fmt: skip
        finally:
            del os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
        assert pl.read_parquet(tmp_path / "offline.parquet").equals(table)
    finally:
        stop(proc)
