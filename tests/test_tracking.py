"""Train -> register -> promote -> flag -> re-score against a local SQLite MLflow store."""

import dataclasses
import datetime as dt
import hashlib
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

import needsid as ni
from needsid import tracking
from needsid.cli import app
from needsid.flagging import FLAG_COLUMNS, ROUTES

pytestmark = pytest.mark.slow

SALT = "test-salt-not-a-real-secret-0123"
AS_OF = "2025-07-01"
CONFIG = """
model:
  kind: gbm
  params: {n_estimators: 40, num_leaves: 15, n_jobs: 1}
n_boot: 20
capacity: 0.05
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A simulated bundle folder, a trained and promoted model, and one flagging run."""
    root = tmp_path_factory.mktemp("store")
    old_cwd, old_env = os.getcwd(), dict(os.environ)
    os.chdir(root)  # MLflow puts a SQLite store's artifacts under ./mlruns
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["NEEDSID_SALT"] = SALT
    try:
        pop = ni.simulate(n_households=2500, months=36, seed=1)
        pop.bundle.write(root / "data")
        (root / "train.yaml").write_text(CONFIG)
        runner = CliRunner()
        res = runner.invoke(app, ["train", "--data", "data", "--as-of", AS_OF,
                                  "--config", "train.yaml"])  # fmt: skip
        assert res.exit_code == 0, res.output
        tracking.promote("needsid-risk", "1", "champion", reason="first model")
        flag_args = ["flag", "--data", "data", "--as-of", AS_OF, "--model",
                     "models:/needsid-risk@champion", "--capacity", "0.05"]  # fmt: skip
        res = runner.invoke(app, [*flag_args, "--out", "flags.parquet"])
        assert res.exit_code == 0, res.output
        yield {"root": root, "pop": pop, "runner": runner, "flag_args": flag_args}
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_flag_file_is_the_flag_table_and_repeatable(store):
    root = store["root"]
    table = pl.read_parquet(root / "flags.parquet")
    assert set(FLAG_COLUMNS) <= set(table.columns)
    assert table["model_version"].unique().to_list() == ["1"]
    assert table["model_name"].unique().to_list() == ["needsid-risk"]
    assert set(table["route"].unique()) <= {*ROUTES.values(), "none"}
    assert table["flag"].sum() > 0
    alive = store["pop"].bundle.households.filter(pl.col("dissolved_on").is_null()).height
    assert table["score"].is_not_null().sum() >= 0.9 * alive
    # every route draws from the capacity: at most 5% of the scored households are
    # flagged, unless the triggers alone exceed it (then all of them, and only them)
    k = round(0.05 * table["score"].is_not_null().sum())
    triggers = (table["route"] == "immediate_assistance").sum()
    assert table["flag"].sum() == max(k, triggers)
    res = store["runner"].invoke(app, [*store["flag_args"], "--out", "again.parquet"])
    assert res.exit_code == 0, res.output
    assert sha(root / "again.parquet") == sha(root / "flags.parquet")


def _raw_ids_in(path: Path, ids: set[str], pattern=re.compile(r"[HP]\d{7,8}")) -> set[str]:
    """Raw ids found in a file, reading Parquet columns and SQLite rows as text."""
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        text = "\n".join(
            "\n".join(map(str, frame[c].to_list()))
            for c in frame.columns
            if frame[c].dtype == pl.String
        )
    elif path.suffix == ".db":
        with sqlite3.connect(path) as con:
            text = "\n".join(con.iterdump())
    else:
        text = path.read_bytes().decode("latin-1")
    return set(pattern.findall(text)) & ids


def test_store_holds_no_raw_ids(store):
    root, b = store["root"], store["pop"].bundle
    ids = set(b.households["household_id"].to_list()) | set(b.members["person_id"].to_list())
    # the scanner finds ids where they are (the local flag table holds them by design)
    assert _raw_ids_in(root / "flags.parquet", ids)
    files = [root / "mlflow.db", *(p for p in (root / "mlruns").rglob("*") if p.is_file())]
    manifests = [p for p in files if p.name == "flag_manifest.parquet"]
    assert manifests, "the flagging run logged no manifest"
    leaks = {str(p.relative_to(root)): found for p in files if (found := _raw_ids_in(p, ids))}
    assert leaks == {}
    manifest = pl.read_parquet(manifests[0])
    table = pl.read_parquet(root / "flags.parquet")
    want = set(tracking.pseudonymise(table["household_id"].to_list(), SALT))
    assert set(manifest["pseudonym"].to_list()) == want


def test_rescore_reproduces_the_run_bit_for_bit(store):
    from mlflow import MlflowClient

    runs = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("needsid-flag").experiment_id]
    )
    first = min(runs, key=lambda r: r.info.start_time)
    assert first.data.tags["flag_table.sha256"] == sha(store["root"] / "flags.parquet")
    again = tracking.rescore(first.info.run_id)
    assert again.matches
    assert again.table.equals(pl.read_parquet(store["root"] / "flags.parquet"))
    other = store["pop"].bundle.households.head(100)
    changed = ni.HouseholdData(
        regions=store["pop"].bundle.regions, households=other,
        members=store["pop"].bundle.members.head(0), records=store["pop"].bundle.records.head(0),
    )  # fmt: skip
    with pytest.raises(ValueError, match="fingerprint differs"):
        tracking.rescore(first.info.run_id, data=changed)


def test_training_run_records_what_a_regulator_asks(store):
    from mlflow import MlflowClient

    client = MlflowClient()
    mv = client.get_model_version_by_alias("needsid-risk", "champion")
    assert str(mv.version) == "1"
    assert mv.tags["champion.reason"] == "first model"
    assert mv.tags["champion.previous_version"] == "none"
    run = client.get_run(mv.tags["train.run_id"])
    assert run.data.tags["data.fingerprint"] == store["pop"].bundle.fingerprint()
    assert run.data.tags["needsid.version"] == ni.__version__
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", run.data.tags["git.commit"])
    assert {"gbm.auc", "status_quo.exclusion_error", "rules_only.exclusion_error"} <= set(
        run.data.metrics
    )
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"comparison.csv", "config.yaml", "coverage.png"} <= arts
    assert run.data.params["model.n_estimators"] == "40"


def test_challenger_then_promotion_records_previous_champion(store):
    cfg = tracking.load_train_config(
        None, model={"kind": "scorecard", "params": {"max_features": 5}}, n_boot=0
    )
    result = tracking.train(store["root"] / "data", AS_OF, config=cfg)
    assert result.model_version == "2"
    tracking.promote("needsid-risk", "2", "challenger", reason="try the card", who="analyst")
    rec = tracking.promote("needsid-risk", "2", "champion", reason="card is as good", who="lead")
    assert isinstance(rec, tracking.PromoteResult)
    assert (rec.version, rec.alias, rec.previous_version, rec.promoted_by) == (
        "2", "champion", "1", "lead"
    )  # fmt: skip
    assert rec.promoted_at.tzinfo is not None and rec.model_uri == "models:/needsid-risk/2"
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.version = "3"
    from mlflow import MlflowClient

    mv = MlflowClient().get_model_version("needsid-risk", "2")
    assert mv.tags["challenger.promoted_by"] == "analyst"
    assert mv.tags["champion.promoted_by"] == "lead"
    # to_dict() is the record as tagged
    assert {f"champion.{k}": v for k, v in rec.to_dict().items() if k not in
            ("name", "version", "alias")} == {k: v for k, v in mv.tags.items()
                                              if k.startswith("champion.")}  # fmt: skip
    assert set(MlflowClient().get_registered_model("needsid-risk").aliases) == {
        "champion", "challenger"
    }  # fmt: skip
    # the card loads from the registry without pickles and scores like the trained one
    import mlflow

    model = mlflow.pyfunc.load_model("models:/needsid-risk@challenger")
    X = ni.features.build(store["pop"].bundle, AS_OF).to_pandas()
    out = model.predict(X.head(50))
    impl = model.unwrap_python_model()
    np.testing.assert_array_equal(
        out["score"].to_numpy(),
        impl.risk_model.predict_proba(X.head(50)[impl.features])[:, 1],
    )
    assert out["reasons"].notna().all()
    tracking.promote("needsid-risk", "1", "champion", reason="back", who="lead")


def test_tracking_down_keeps_the_local_table(store, monkeypatch, tmp_path):
    import mlflow

    root = store["root"]
    model = mlflow.pyfunc.load_model("models:/needsid-risk/1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    out = tmp_path / "flags.parquet"
    with pytest.raises(tracking.TrackingError, match="is written to .*flags.parquet"):
        tracking.flag_households(
            root / "data", AS_OF, "models:/needsid-risk/1", 0.05, out,
            loaded_model=model, tracking_uri="http://127.0.0.1:9",  # nothing listens
        )  # fmt: skip
    assert sha(out) == sha(root / "flags.parquet")


def test_failed_write_leaves_no_partial_file(store, monkeypatch, tmp_path):
    from needsid.tracking import _runs

    def broken_fsync(fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", broken_fsync)  # write_atomic fsyncs before renaming
    out = tmp_path / "flags.parquet"
    with pytest.raises(OSError, match="disk full"):
        _runs._write_atomic(out, b"x" * 1000)
    assert list(tmp_path.iterdir()) == []


# the flag run writes half the table to its temporary file, says where, and waits there
_STALLED_FLAG = """
import sys, time
from pathlib import Path

import needsid.tracking._runs as runs

marker, args = Path(sys.argv[1]), sys.argv[2:]
real_write_atomic = runs.write_atomic


def stalled(path, payload, **kwargs):
    def write(tmp):
        Path(tmp).write_bytes(payload[: len(payload) // 2])
        marker.write_text(tmp)
        time.sleep(600)

    return real_write_atomic(path, write, **kwargs)


runs.write_atomic = stalled
from needsid.cli import app

sys.argv = ["needsid", *args]
app()
"""


def test_killed_flag_run_leaves_no_output(store, tmp_path):
    root = store["root"]
    out = tmp_path / "flags.parquet"
    previous = (root / "flags.parquet").read_bytes()
    out.write_bytes(previous)  # the table an earlier run wrote
    marker = tmp_path / "writing"
    args = [*store["flag_args"], "--out", str(out)]
    cmd = [sys.executable, "-c", _STALLED_FLAG, str(marker), *args]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        # the marker names the temporary file once half the table is in it
        while not (marker.is_file() and marker.read_text().endswith(".tmp")):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                output = proc.communicate()[0].decode()[-2000:]
                pytest.fail(f"the flag run never began writing (exit {proc.poll()}): {output}")
            time.sleep(0.1)
        tmp = Path(marker.read_text())
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    # killed while half the new table sat in a temporary file beside the output (the
    # same inputs make the same bytes: it is the first half of the previous table)
    assert tmp.parent == out.parent and tmp.name.startswith(".flags.parquet.")
    assert tmp.read_bytes() == previous[: len(previous) // 2]
    # the output is the previous table, whole: no partial file under the output's name
    assert out.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "flags.parquet", "writing"
    ]  # fmt: skip


def test_bad_config_and_missing_salt_are_clear_errors(store, monkeypatch, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {kind: forest}\ncapacty: 0.1\n")
    with pytest.raises(tracking.ConfigError) as err:
        tracking.load_train_config(bad)
    assert "capacty" in str(err.value) and "model.kind" in str(err.value)
    res = store["runner"].invoke(app, ["train", "--data", "data", "--as-of", AS_OF,
                                       "--config", str(bad)])  # fmt: skip
    assert res.exit_code == 1 and "capacty" in res.output
    monkeypatch.delenv("NEEDSID_SALT")
    res = store["runner"].invoke(app, [*store["flag_args"], "--out", str(tmp_path / "f.pq")])
    assert res.exit_code == 1 and "NEEDSID_SALT" in res.output
    assert not (tmp_path / "f.pq").exists()
    with pytest.raises(ValueError, match="at least 16"):
        tracking.pseudonymise(["H1"], salt="short")


def test_train_reports_its_labels_and_warns_on_record_only_labels(store):
    args = ["train", "--data", "data", "--as-of", AS_OF, "--config", "train.yaml"]
    res = store["runner"].invoke(app, [*args, "--labels", "records"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "labels: records;" in text and "of training households labelled" in text
    # record-only labels mark several times the households the county pays
    assert "warning: The 'records' labels give a base rate of" in text
    assert "--labels pu" in text
    from mlflow import MlflowClient

    client = MlflowClient()
    versions = client.search_model_versions("name='needsid-risk'")
    latest = max(versions, key=lambda v: int(v.version))
    run = client.get_run(latest.run_id)
    assert run.data.params["labels.source"] == "records"
    assert float(run.data.params["labels.base_rate"]) > 3 * float(
        run.data.params["labels.low_income_share"]
    )


def test_default_labels_are_casework_and_missing_casework_is_named(store, tmp_path):
    run = store["runner"].invoke
    # the store's first model was trained on the default labels: casework outcomes
    from mlflow import MlflowClient

    client = MlflowClient()
    first = client.get_model_version("needsid-risk", "1")
    params = client.get_run(first.run_id).data.params
    assert params["labels.source"] == ni.labels.BUNDLE_DEFAULT == "pu"
    assert 0 < float(params["labels.labelled_share"]) <= 1
    # a bundle without verifications or reviews cannot give those labels
    bundle = ni.HouseholdData.read(store["root"] / "data")
    kind = pl.col("kind").cast(pl.String)
    bare = ni.HouseholdData(
        bundle.regions, bundle.households, bundle.members,
        bundle.records.filter(~kind.is_in(["verification", "review"])),
    )  # fmt: skip
    bare.write(tmp_path / "bare")
    res = run(app, ["train", "--data", str(tmp_path / "bare"), "--as-of", AS_OF,
                    "--config", "train.yaml"])  # fmt: skip
    assert res.exit_code == 1
    text = " ".join(res.output.split())
    assert "hold no verification or review" in text and "--labels records" in text
    assert "Traceback" not in res.output


def test_flag_prints_and_logs_the_use_of_capacity_per_route(store, tmp_path):
    res = store["runner"].invoke(app, [*store["flag_args"], "--out", str(tmp_path / "f.pq")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "used / capacity" in text and "capacity" in text and "visits" in text
    for route in ("immediate_assistance", "verification_visit", "manual_outreach", "review"):
        assert route in text
    from mlflow import MlflowClient

    runs = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("needsid-flag").experiment_id],
        order_by=["attributes.start_time DESC"], max_results=1,
    )  # fmt: skip
    params, metrics = runs[0].data.params, runs[0].data.metrics
    assert params["quota.outreach"] == "0.2" and params["quota.review"] == "0.1"
    assert params["capacity_by"] == "None" and params["capacity"] == "0.05"
    table = pl.read_parquet(tmp_path / "f.pq")
    assert metrics["visits_outreach"] == (table["route"] == "manual_outreach").sum()
    assert metrics["visits_outreach"] <= 0.2 * metrics["capacity_households"]


def test_flag_with_nothing_flagged_writes_the_table(store, tmp_path):
    bundle = store["pop"].bundle
    hits = ni.rules.load(tracking._runs.DEFAULT_RULES).evaluate(bundle, AS_OF).to_frame()
    hit = set(pl.DataFrame(hits)["household_id"].to_list()) if len(hits) else set()
    alive = bundle.households.filter(pl.col("dissolved_on").is_null())
    one = next(h for h in alive["household_id"].to_list() if h not in hit)
    keep = pl.col("household_id") == one
    single = ni.HouseholdData(
        bundle.regions, bundle.households.filter(keep), bundle.members.filter(keep),
        bundle.records.filter(keep),
    )  # fmt: skip
    single.write(tmp_path / "one")
    args = ["flag", "--data", str(tmp_path / "one"), "--as-of", AS_OF, "--model",
            "models:/needsid-risk@champion", "--capacity", "0.05"]  # fmt: skip
    res = store["runner"].invoke(app, [*args, "--out", str(tmp_path / "f.pq")])
    # one household at 5%: no visit to make, and a table that says so
    assert res.exit_code == 0, res.output
    table = pl.read_parquet(tmp_path / "f.pq")
    assert table.height == 1 and not table["flag"].any()
    assert "0 of 1 households flagged" in " ".join(res.output.split())


def test_train_and_flag_refuse_broken_data_before_any_work(store, tmp_path):
    bundle = ni.HouseholdData.read(store["root"] / "data")
    records = bundle.records
    # an infinite amount and a record id used twice: each named, nothing written
    broken = records.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(float("inf")).otherwise(pl.col("amount"))
        .alias("amount")
    )  # fmt: skip
    broken = pl.concat([broken, broken.slice(1, 1)])
    ni.HouseholdData(bundle.regions, bundle.households, bundle.members, broken).write(
        tmp_path / "broken"
    )
    for args in (
        ["train", "--data", str(tmp_path / "broken"), "--as-of", AS_OF, "--config", "train.yaml"],
        [*store["flag_args"][:2], str(tmp_path / "broken"), *store["flag_args"][3:],
         "--out", str(tmp_path / "f.pq")],
    ):  # fmt: skip
        res = store["runner"].invoke(app, args)
        text = " ".join(res.output.split())
        assert res.exit_code == 1, res.output
        assert "records.amount: non_finite_amount (1 row" in text
        assert "records.record_id: duplicate_key (2 rows" in text
        assert "Traceback" not in res.output
    assert not (tmp_path / "f.pq").exists()


@pytest.mark.parametrize("salt", [" " * 16, "a" * 24, "ab" * 12 + " " * 8])
def test_a_salt_without_variety_is_refused(salt):
    with pytest.raises(ValueError, match="fewer than 8 distinct characters besides spaces"):
        tracking.pseudonymise(["H1"], salt=salt)


def test_store_passwords_never_reach_a_message(store, monkeypatch, tmp_path):
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

    from needsid.tracking._runs import _not_found_as_value_error

    secret_uri = "postgresql://mlflow:s3cretpw@127.0.0.1:5432/mlflow"
    with pytest.raises(ValueError) as err:
        with _not_found_as_value_error("models:/needsid-risk@champion", secret_uri):
            raise MlflowException(
                f"Registered Model not found in {secret_uri} (password s3cretpw)",
                error_code=RESOURCE_DOES_NOT_EXIST,
            )
    assert "s3cretpw" not in str(err.value)
    assert "mlflow:***@127.0.0.1:5432" in str(err.value)
    # a tracking server that is down, reached with a password in its URI
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    loaded = mlflow.pyfunc.load_model("models:/needsid-risk/1")
    with pytest.raises(tracking.TrackingError) as err:
        tracking.flag_households(
            store["root"] / "data", AS_OF, "models:/needsid-risk/1", 0.05, tmp_path / "f.pq",
            loaded_model=loaded, tracking_uri="http://user:s3cretpw@127.0.0.1:9",
        )  # fmt: skip
    assert "s3cretpw" not in str(err.value) and "user:***@127.0.0.1:9" in str(err.value)


def test_dates_the_data_cannot_describe_are_refused(store, tmp_path, caplog):
    args = ["flag", "--data", "data", "--model", "models:/needsid-risk@champion",
            "--out", str(tmp_path / "f.pq")]  # fmt: skip
    for as_of, said in (
        ("2099-01-01", "the latest record in the data is known on"),
        ("2005-01-01", "is not after the first record known"),
    ):
        res = store["runner"].invoke(app, [*args, "--as-of", as_of])
        assert res.exit_code == 1, res.output
        assert said in " ".join(res.output.split())
        assert not (tmp_path / "f.pq").exists()
    res = store["runner"].invoke(app, ["train", "--data", "data", "--as-of", "2005-06-01",
                                       "--config", "train.yaml"])  # fmt: skip
    assert res.exit_code == 1 and "the first training date" in " ".join(res.output.split())
    # a department missing from the extract is named
    bundle = ni.HouseholdData.read(store["root"] / "data")
    cut = (pl.col("source").cast(pl.String) == "banking") & (
        pl.col("known_date") >= dt.date(2024, 7, 1)
    )
    silent = ni.HouseholdData(
        bundle.regions, bundle.households, bundle.members, bundle.records.filter(~cut)
    )
    with caplog.at_level("WARNING", logger="needsid.tracking"):
        assert tracking._runs.check_dates(silent, dt.date(2025, 7, 1)) == ["banking"]
    assert "No record from banking known in the 12 months before 2025-07-01" in caplog.text
    assert tracking._runs.check_dates(bundle, dt.date(2025, 7, 1)) == []


@pytest.mark.filterwarnings("ignore:.*Add type hints")
def test_only_needsids_own_unchanged_models_load(store, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    from needsid.tracking._store import _global_uris

    class Pickled(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    client = MlflowClient()
    # someone else's pickled model, logged with MLflow's fluent API (globals restored after)
    with _global_uris(os.environ["MLFLOW_TRACKING_URI"]):
        with mlflow.start_run(experiment_id=client.create_experiment("someone-else")):
            info = mlflow.pyfunc.log_model(
                name="m", python_model=Pickled(), registered_model_name="needsid-risk"
            )
    client.set_registered_model_alias("needsid-risk", "evil", info.registered_model_version)
    flag_args = ["flag", "--data", "data", "--as-of", AS_OF, "--out", str(tmp_path / "f.pq")]
    for cmd in ([*flag_args, "--model", "models:/needsid-risk@evil"],
                ["serve", "--model", "models:/needsid-risk@evil", "--port", "5999"]):  # fmt: skip
        res = store["runner"].invoke(app, cmd)
        text = " ".join(res.output.split())
        assert res.exit_code == 1, res.output
        assert "Refusing to load" in text and "mlflow.pyfunc.model" in text
        assert "no sha256.* version tags" in text
    assert not (tmp_path / "f.pq").exists()
    # version 1's files carry their digests; an edited artifact is refused by name
    tags = client.get_model_version("needsid-risk", "1").tags
    assert "sha256.artifacts/risk_model.json" in tags and "sha256.MLmodel" in tags
    location = client.get_model_version_download_uri("needsid-risk", "1")
    location = location.removeprefix("file://")
    settings = Path(location) / "artifacts" / "settings.json"
    original = settings.read_bytes()
    settings.write_bytes(original.replace(b'"top_reasons": 3', b'"top_reasons": 9'))
    try:
        res = store["runner"].invoke(app, [*flag_args, "--model", "models:/needsid-risk/1"])
        text = " ".join(res.output.split())
        assert res.exit_code == 1, res.output
        assert "file 'artifacts/settings.json' was changed after registration" in text
    finally:
        settings.write_bytes(original)
    # MLflow's own meta file (written on loading models:/NAME/VERSION) must name the version
    meta = Path(location) / "registered_model_meta"
    kept = meta.read_bytes() if meta.exists() else None
    meta.write_text("model_name: needsid-risk\nmodel_version: '2'\n")
    try:
        res = store["runner"].invoke(app, [*flag_args, "--model", "models:/needsid-risk/1"])
        text = " ".join(res.output.split())
        assert res.exit_code == 1, res.output
        assert "file 'registered_model_meta' does not hold MLflow's" in text
    finally:
        meta.unlink()
        if kept is not None:
            meta.write_bytes(kept)
    mlflow.pyfunc.load_model("models:/needsid-risk/1")  # MLflow writes its meta file again
    assert meta.is_file()
    res = store["runner"].invoke(app, [*flag_args, "--model", "models:/needsid-risk/1"])
    assert res.exit_code == 0, res.output


def test_runs_that_start_together_on_a_new_sqlite_store_all_succeed(tmp_path):
    db = tmp_path / "fresh" / "mlflow.db"
    code = (
        "import sys\n"
        "from needsid.tracking._store import _client, _experiment_id, _run\n"
        "client, uri = _client(sys.argv[1])\n"
        "with _run(client, _experiment_id(client, 'race', uri)) as run:\n"
        "    client.log_metric(run.info.run_id, 'm', 1.0)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, f"sqlite:///{db}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()[-2000:]
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}")
    race = client.get_experiment_by_name("race")
    assert len(client.search_runs([race.experiment_id])) == 3


def test_flag_refuses_an_out_it_would_destroy(store, tmp_path):
    args = list(store["flag_args"])
    keep = tmp_path / "report.html"
    keep.write_text("<html>keep me</html>")
    res = store["runner"].invoke(app, [*args, "--out", str(keep)])
    assert res.exit_code == 1 and "is not a Parquet file" in " ".join(res.output.split())
    assert keep.read_text() == "<html>keep me</html>"
    res = store["runner"].invoke(app, [*args, "--out", str(tmp_path)])
    assert res.exit_code == 1 and "is a folder" in " ".join(res.output.split())


def test_served_model_answers_bad_requests_with_one_line(store, monkeypatch):
    import mlflow
    from mlflow.exceptions import MlflowException

    model = mlflow.pyfunc.load_model("models:/needsid-risk/1")
    impl = model.unwrap_python_model()
    X = (
        ni.features.build(store["pop"].bundle, AS_OF)
        .to_pandas()[["household_id", *impl.features]]
        .head(6)
    )
    # reasons belong to their row: each row's reasons are those of that row alone
    whole = impl.predict(None, X)
    for i in range(len(X)):
        alone = impl.predict(None, X.iloc[[i]])
        assert alone["reasons"].iloc[0] == whole["reasons"].iloc[i]
    cases = {
        "repeat a household_id": pd.concat([X, X.head(2)]),
        "holds no households": X.head(0),
        "hold inf": X.assign(**{impl.features[0]: np.inf}),
        "lacks 1 columns": X.drop(columns=impl.features[-1]),
    }
    for said, frame in cases.items():
        with pytest.raises(MlflowException, match=said) as err:
            impl.predict(None, frame)
        assert err.value.get_http_status_code() == 400
    monkeypatch.setenv("NEEDSID_SERVE_MAX_ROWS", "4")
    with pytest.raises(MlflowException, match="more than the 4 this server takes") as err:
        impl.predict(None, X)
    assert err.value.get_http_status_code() == 413


def test_a_run_left_running_by_a_killed_process_is_marked_failed(store, tmp_path):
    import socket

    from mlflow import MlflowClient

    client = MlflowClient()
    exp = client.get_experiment_by_name("needsid-flag")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = client.create_run(
        exp.experiment_id,
        tags={"needsid.host": socket.gethostname(), "needsid.pid": str(dead.pid)},
    )
    ours = client.create_run(  # a run of a process still alive stays RUNNING
        exp.experiment_id,
        tags={"needsid.host": socket.gethostname(), "needsid.pid": str(os.getpid())},
    )
    res = store["runner"].invoke(app, [*store["flag_args"], "--out", str(tmp_path / "f.pq")])
    assert res.exit_code == 0, res.output
    assert client.get_run(left.info.run_id).info.status == "FAILED"
    assert client.get_run(ours.info.run_id).info.status == "RUNNING"
    client.set_terminated(ours.info.run_id)


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"n_estimators": "abc"}, "The 'n_estimators' parameter of GBMRiskModel must be an int"),
        ({"learning_rate": [1, 2]}, "'learning_rate' parameter of GBMRiskModel must be a float"),
    ],
)
def test_model_params_are_typed_when_the_config_is_read(params, said):
    with pytest.raises(tracking.ConfigError, match=re.escape(said)):
        tracking.load_train_config(None, model={"kind": "gbm", "params": params})


def _mlflow_state() -> dict:
    """The caller's MLflow state: the global URIs as set (None: unset), env, log level."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    return {
        "tracking_uri set": tracking_utils._tracking_uri,
        "registry_uri set": registry_utils._registry_uri,
        "get_tracking_uri": mlflow.get_tracking_uri(),
        "get_registry_uri": mlflow.get_registry_uri(),
        "env": {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")},
        "mlflow log level": logging.getLogger("mlflow").level,
    }


def test_calls_leave_the_callers_mlflow_state_alone_and_quiet(tmp_path, monkeypatch, capsys):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.chdir(tmp_path)  # a SQLite store's artifacts go under ./mlruns
    own, theirs = (f"sqlite:///{tmp_path / name}" for name in ("own.db", "needsid.db"))
    # whatever this test sets is undone after it
    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", registry_utils._registry_uri)
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_LOGGING_LEVEL",
                "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    pop = ni.simulate(n_households=800, months=36, seed=4)
    pop.bundle.write(tmp_path / "data")
    cfg = tracking.load_train_config(
        None, model={"kind": "gbm", "params": {"n_estimators": 10, "n_jobs": 1}}, n_boot=0
    )
    # a service with its own store, set in code (which also sets MLFLOW_TRACKING_URI)
    mlflow.set_tracking_uri(own)
    before = _mlflow_state()
    assert before["env"] == {"MLFLOW_TRACKING_URI": own} and before["registry_uri set"] is None
    result = tracking.train(tmp_path / "data", AS_OF, config=cfg, tracking_uri=theirs)
    assert _mlflow_state() == before
    promoted = tracking.promote(result.model_name, result.model_version, tracking_uri=theirs)
    assert _mlflow_state() == before
    # a service configured by environment alone: both URIs, none set in code
    mlflow.set_tracking_uri(None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", own)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", own)
    before = _mlflow_state()
    assert before["tracking_uri set"] is None and before["get_registry_uri"] == own
    seen: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = seen.append
    logging.getLogger("mlflow").addHandler(handler)
    capsys.readouterr()
    try:
        flagged = tracking.flag_households(
            tmp_path / "data", AS_OF, out=tmp_path / "f.parquet", salt=SALT, tracking_uri=theirs
        )
        again = tracking.rescore(flagged.run_id, tracking_uri=theirs)
    finally:
        logging.getLogger("mlflow").removeHandler(handler)
    # nothing of MLflow's in the caller's output: no INFO lines, no download progress bars
    printed = capsys.readouterr()
    assert (printed.out, printed.err) == ("", "")
    assert [r.getMessage() for r in seen if r.levelno < logging.WARNING] == []
    assert again.matches
    assert _mlflow_state() == before
    # everything landed in needsid's store, nothing in the caller's
    client = MlflowClient(tracking_uri=theirs, registry_uri=theirs)
    assert client.get_run(result.run_id).info.status == "FINISHED"
    assert client.get_run(flagged.run_id).data.tags["flag_table.sha256"] == flagged.sha256
    champion = client.get_model_version_by_alias(promoted.name, "champion")
    assert str(champion.version) == promoted.version == result.model_version == "1"
    assert champion.tags["train.run_id"] == result.run_id
    mine = MlflowClient(tracking_uri=own, registry_uri=own)
    assert [e.name for e in mine.search_experiments()] == ["Default"]
    assert mine.search_registered_models() == []


def test_cli_promote_reports_the_version_it_replaced(store):
    # last in the file: earlier tests expect version 1 as champion, as it is again here
    res = store["runner"].invoke(app, ["promote", "--name", "needsid-risk", "--version", "1",
                                       "--alias", "champion", "--reason", "cli"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "needsid-risk@champion -> version 1 (was 1)" in " ".join(res.output.split())


def test_every_model_with_a_json_form_round_trips_through_the_registry_format():
    from needsid.models import EBMRiskModel, GBMRiskModel, PointsScorecard
    from needsid.tracking._pyfunc import model_from_json, model_to_json

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    y = (X["a"] + rng.normal(scale=0.5, size=400) > 0.5).astype(int)
    for model in (
        GBMRiskModel(n_estimators=20),
        PointsScorecard(max_features=3),
        EBMRiskModel(outer_bags=1, max_rounds=50),
    ):
        model.fit(X, y)
        loaded = model_from_json(model_to_json(model))
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    message = "Unknown risk model format 'needsid.Other'; expected one of ['needsid.GBMRiskModel'"
    with pytest.raises(ValueError, match=re.escape(message)):
        model_from_json('{"format": "needsid.Other"}')


def test_monitor_with_the_registered_model(store, tmp_path):
    res = store["runner"].invoke(app, ["monitor", "--data", "data", "--start", "2025-04-01",
                                       "--end", "2025-05-01", "--model",
                                       "models:/needsid-risk@champion", "--out",
                                       str(tmp_path / "m")])  # fmt: skip
    assert res.exit_code == 0, res.output
    perf = pl.read_parquet(tmp_path / "m" / "performance.parquet")
    assert perf.height == 2 and perf["estimated_precision"].is_between(0, 1).all()
    alerts = pl.read_parquet(tmp_path / "m" / "alerts.parquet")
    assert "model" in set(alerts["source"])


def _served_rows(store, n):
    import mlflow

    model = mlflow.pyfunc.load_model("models:/needsid-risk/1")
    impl = model.unwrap_python_model()
    X = ni.features.build(store["pop"].bundle, AS_OF).to_pandas()
    return model, impl, X[["household_id", *impl.features]].head(n).reset_index(drop=True)


@pytest.mark.parametrize("config", [None, "configs/serve/default.yaml"])
def test_a_batch_of_1000_households_is_answered_with_reasons_per_row(store, monkeypatch, config):
    import json

    from mlflow.pyfunc import scoring_server

    from needsid._cli_configs import ServeConfig, load_config

    # the limit `needsid serve` sets, from its defaults and from the shipped config
    path = None if config is None else Path(__file__).resolve().parents[1] / config
    monkeypatch.setenv("NEEDSID_SERVE_MAX_ROWS", str(load_config(ServeConfig, path).max_rows))
    model, impl, X = _served_rows(store, 1000)
    assert len(X) == 1000
    # what the scoring server runs on a POST to /invocations, in this process
    body = tracking.request_body(X)
    answer = scoring_server.invocations(body, "application/json", model,
                                        model.metadata.get_input_schema())  # fmt: skip
    assert answer.status == 200, answer.response[:300]
    out = pd.DataFrame(json.loads(answer.response)["predictions"])
    assert list(out.columns) == list(tracking.OUTPUT_COLUMNS) and len(out) == 1000
    assert out["household_id"].tolist() == X["household_id"].tolist()
    assert out["reasons"].map(lambda r: isinstance(r, str) and r.count(" pts)") == 3).all()
    # the batch's scores are the risk model's own, and each row's reasons are those the
    # row gets alone (TreeSHAP on the whole batch changes nothing)
    expected = impl.risk_model.predict_proba(X[impl.features])[:, 1]
    assert np.array_equal(out["score"].to_numpy(), expected)
    for i in np.random.default_rng(0).choice(len(X), size=25, replace=False):
        alone = impl.predict(None, X.iloc[[i]])
        assert alone["reasons"].iloc[0] == out["reasons"].iloc[i]
        assert alone["score"].iloc[0] == out["score"].iloc[i]


def test_served_answers_do_not_depend_on_the_thread_count(store, monkeypatch):
    import needsid.tracking._pyfunc as pyfunc_module

    _, impl, X = _served_rows(store, 300)
    one_thread = impl.predict(None, X)  # a request-sized batch: one OpenMP thread
    monkeypatch.setattr(pyfunc_module, "_ONE_THREAD_ROWS", 0)  # LightGBM's own threads
    pd.testing.assert_frame_equal(impl.predict(None, X), one_thread)
    # reasons keep to their rows when the batch comes in another order
    shuffled = X.sample(frac=1.0, random_state=0)
    again = impl.predict(None, shuffled).set_index("household_id").loc[X["household_id"]]
    assert again["reasons"].tolist() == one_thread["reasons"].tolist()
    assert again["score"].tolist() == one_thread["score"].tolist()


def test_one_infinite_cell_is_named_by_its_feature(store):
    from mlflow.exceptions import MlflowException

    _, impl, X = _served_rows(store, 5)
    bad = X.copy()
    bad.loc[3, impl.features[1]] = -np.inf
    with pytest.raises(
        MlflowException, match=re.escape(f"Features {[impl.features[1]]!r} hold inf")
    ):
        impl.predict(None, bad)
