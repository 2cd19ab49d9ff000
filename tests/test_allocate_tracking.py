"""The need-profile model in the registry, and `needsid allocate` logged like flags."""

import hashlib
import json
import re
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

import needsid as ni
from needsid import tracking
from needsid.allocation import InfeasibleError, NeedFloor
from needsid.cli import app
from needsid.models import GBMRiskModel, NeedProfileModel
from needsid.tracking._integrity import ModelIntegrityError

pytestmark = pytest.mark.slow  # one simulation, one need model, a few small solves

AS_OF = "2025-01-01"
SALT = "a-test-salt-of-16-chars"
runner = CliRunner()


def plain(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A simulated folder, a store with a registered and promoted need-profile model."""
    folder = tmp_path_factory.mktemp("allocate")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in ("needsid-train", "needsid-allocate", "needsid-flag"):
        client.create_experiment(name, artifact_location=(folder / name).as_uri())
    pop = ni.simulate(n_households=1500, months=30, seed=1)
    pop.bundle.write(folder / "data")
    with warnings.catch_warnings():  # a rare dimension may be constant in 1,500 households
        warnings.simplefilter("ignore", UserWarning)
        trained = tracking.train_needs(
            folder / "data",
            AS_OF,
            params={"n_estimators": 30, "n_jobs": 1},
            tracking_uri=uri,
        )
    tracking.promote(trained.model_name, trained.model_version, "champion", tracking_uri=uri)
    return {"folder": folder, "uri": uri, "client": client, "trained": trained, "pop": pop}


def test_need_profile_json_round_trip_predicts_and_explains_the_same():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["income_ratio", "n_elderly", "hh_size"])
    Y = pd.DataFrame(
        {
            "need_income": (X["income_ratio"] < 0).astype(float),
            "need_health": (X["n_elderly"] > 0.5).astype(float),
            "need_care": 0.0,  # one class: a constant dimension
        }
    )
    Y.loc[:99, "need_health"] = np.nan
    with pytest.warns(UserWarning, match="dimension 'care'"):
        model = NeedProfileModel(GBMRiskModel(n_estimators=20, n_jobs=1)).fit(X, Y)
    loaded = NeedProfileModel.from_json(model.to_json())
    assert loaded.dimensions_ == model.dimensions_
    assert loaded.n_labelled_ == {"income": 400, "health": 300, "care": 400}
    assert loaded.constant_dimensions_ == {"care": 0.0}
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    pd.testing.assert_frame_equal(loaded.reasons(X.head(5)), model.reasons(X.head(5)))
    with pytest.raises(ValueError, match="format version 2"):
        NeedProfileModel.from_json(model.to_json().replace('"version": 1', '"version": 2', 1))
    doc = json.loads(model.to_json())
    doc["estimators"]["income"] = '{"format": "needsid.Other"}'
    message = "Unknown risk model format 'needsid.Other' for dimension 'income'; expected one of"
    with pytest.raises(ValueError, match=re.escape(message)):
        NeedProfileModel.from_json(json.dumps(doc))


def test_train_needs_registers_all_six_dimensions_from_the_bundle(store):
    trained = store["trained"]
    # records tell health, education, care, housing and employment; casework tells income
    assert trained.dimensions == ni.simulation.NEED_DIMENSIONS
    assert all(0 <= trained.positive_rate[d] <= 1 for d in trained.dimensions)
    # the pu weights make income's rate a population estimate, not the assessed share
    raw = ni.labels.make_needs(store["pop"].bundle, "2024-07-01", 6, income="verified")
    assessed = raw["need_income"].drop_nulls().cast(float).mean()
    assert trained.positive_rate["income"] < assessed
    version = store["client"].get_model_version(trained.model_name, trained.model_version)
    assert version.tags["needsid.model_kind"] == "need_profile"
    assert any(k.startswith("sha256.") for k in version.tags)


def test_train_needs_refuses_true_labels_on_a_bundle(store):
    with pytest.raises(ValueError, match="true labels exist for a simulated population only"):
        tracking.train_needs(store["pop"].bundle, AS_OF, labels="truth", tracking_uri=store["uri"])
    with pytest.raises(ValueError, match="expected one of"):
        tracking.train_needs(store["pop"].bundle, AS_OF, labels="ipw", tracking_uri=store["uri"])


def test_allocate_households_writes_logs_and_repeats_bytes(store, tmp_path):
    folder, uri = store["folder"], store["uri"]
    out = tmp_path / "plan.parquet"
    html = tmp_path / "plan.html"
    first = tracking.allocate_households(
        folder / "data",
        AS_OF,
        80_000,
        out=out,
        fairness=NeedFloor("region_id", 0.05),
        curve_budgets=[40_000, 80_000],
        html=html,
        salt=SALT,
        tracking_uri=uri,
    )
    table = pl.read_parquet(out)
    assert table.equals(first.table)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == first.sha256
    assert table["monthly_cost"].sum() <= 80_000 + 1e-6
    assert table["model_version"].unique().to_list() == [store["trained"].model_version]
    assert first.unmodelled == ()
    # the run: parameters, metrics, tags and a manifest of pseudonyms only
    run = store["client"].get_run(first.run_id)
    assert run.data.params["model_version"] == store["trained"].model_version
    assert run.data.params["fairness"] == NeedFloor("region_id", 0.05).describe()
    assert run.data.tags["plan.sha256"] == first.sha256
    assert run.data.metrics["gap"] == pytest.approx(first.plan.gap)
    assert run.data.metrics["cost"] == pytest.approx(table["monthly_cost"].sum())
    art = store["folder"] / "needsid-allocate" / first.run_id / "artifacts"
    names = {p.name for p in art.iterdir()}
    assert names == {
        "plan_manifest.parquet",
        "plan_summary.csv",
        "budget_curve.csv",
        "allocation.html",
    }
    ids = set(table["household_id"].to_list())
    manifest = pl.read_parquet(art / "plan_manifest.parquet")
    assert manifest.height == table.height and "household_id" not in manifest.columns
    assert not ids & set(manifest["pseudonym"].to_list())
    for path in art.iterdir():  # no raw id in any artifact, nor in the HTML page
        text = path.read_bytes().decode("latin-1")
        assert not any(i in text for i in ids), path.name
    page = html.read_text()
    assert "by-programme" in page and "budget-curve" in page
    # same data, model, budget and salt: the same bytes
    again = tracking.allocate_households(
        folder / "data",
        AS_OF,
        80_000,
        out=tmp_path / "again.parquet",
        fairness=NeedFloor("region_id", 0.05),
        salt=SALT,
        tracking_uri=uri,
    )
    assert again.sha256 == first.sha256


def test_a_flagging_model_is_not_a_need_model_and_back(store, tmp_path):
    uri, folder = store["uri"], store["folder"]
    # the need-profile model cannot be used to flag ...
    with pytest.raises(ModelIntegrityError, match="it is a need-profile model"):
        tracking.flag_households(
            folder / "data", AS_OF, model="models:/needsid-needs@champion", salt=SALT,
            tracking_uri=uri,
        )  # fmt: skip
    # ... and a flagging model cannot plan an allocation
    cfg = tracking.load_train_config(
        model={"kind": "gbm", "params": {"n_estimators": 10, "n_jobs": 1}},
        n_boot=0,
        train_origins=1,
    )
    risk = tracking.train(folder / "data", AS_OF, config=cfg, tracking_uri=uri)
    out = tmp_path / "plan.parquet"
    with pytest.raises(ModelIntegrityError, match="it is a flagging model"):
        tracking.allocate_households(
            folder / "data", AS_OF, 50_000, model=risk.model_uri, out=out, salt=SALT,
            tracking_uri=uri,
        )  # fmt: skip
    assert not out.exists()


def run(monkeypatch, store, *args):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["uri"])
    monkeypatch.setenv("NEEDSID_SALT", SALT)
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, plain(result.output)


def test_cli_allocate_prints_the_plan_and_writes_it(store, tmp_path, monkeypatch):
    out, html = tmp_path / "plan.parquet", tmp_path / "plan.html"
    code, text = run(
        monkeypatch, store, "allocate", "--data", store["folder"] / "data", "--as-of", AS_OF,
        "--budget", 60000, "--out", out, "--floor", "region_id=0.05", "--curve", "0.5,1",
        "--html", html,
    )  # fmt: skip
    assert code == 0, text
    table = pl.read_parquet(out)
    assert f"{table['household_id'].n_unique():,} households" in text
    assert "gap to the LP bound" in text
    assert "does not predict need" not in text
    assert html.read_text().count("<section") == 4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--floor", "region_id"], "expected GROUP=SHARE"),
        (["--floor", "region_id=2"], "share"),
        (["--floor", "region_id=1"], "cannot be met for region_id="),
        (["--budget", "1"], "below the cheapest eligible package"),
        (["--curve", "1,x"], "expected multiples of the budget"),
        (["--model", "models:/nobody@champion"], "nobody"),
    ],
)
def test_cli_allocate_errors_are_named_and_write_nothing(
    store, tmp_path, monkeypatch, extra, message
):
    out = tmp_path / "plan.parquet"
    args = ["--data", store["folder"] / "data", "--as-of", AS_OF, "--out", out]
    if "--budget" not in extra:
        args += ["--budget", 60000]
    code, text = run(monkeypatch, store, "allocate", *args, *extra)
    assert code == 1 and message in text, text
    assert not out.exists()


def test_infeasible_floor_is_an_error_before_solving(store):
    with pytest.raises(InfeasibleError, match="cannot be met"):
        tracking.allocate_households(
            store["folder"] / "data", AS_OF, 60_000, fairness=NeedFloor("region_id", 1.0),
            salt=SALT, tracking_uri=store["uri"],
        )  # fmt: skip
