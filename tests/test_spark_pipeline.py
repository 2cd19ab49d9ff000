"""The province pipeline on Spark equals the in-memory one (local Spark on loopback).

Features on Spark DataFrames read from the Parquet bundle, scores from
``mlflow.pyfunc.spark_udf`` of a registered model, the top of the scores at a capacity
flagged and written as Parquet: the same features, scores and flagged households as
polars features, ``pyfunc`` scores and :func:`needsid.flagging.flag` in memory.
experiments/bench_province.py runs the one-machine version at 10M households.
"""

import numpy as np
import pandas as pd
import polars as pl
import pytest

import needsid as ni
from needsid import tracking
from needsid.features import load_spec

pytestmark = [pytest.mark.service, pytest.mark.slow]

AS_OF = "2025-07-01"
CAPACITY = 0.05
TABLES = ("regions", "households", "members", "records")


@pytest.fixture(autouse=True)
def _restore_mlflow_globals(restore_mlflow_globals):
    """Undo the MLflow global URIs (and their environment variables) a test sets."""


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """A small model trained and promoted in a throwaway SQLite store.

    On two feature families and two windows: local Spark on one core plans and runs the
    full default spec for minutes; tests/test_features.py checks that spec on Spark.
    """
    import yaml
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("spark-pipeline")
    spec = load_spec().model_copy(update={"families": ("assets", "events"), "windows": (3, 12)})
    spec_file = root / "features.yaml"
    spec_file.write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    for name in ("needsid-train", "needsid-flag"):
        client.create_experiment(name, artifact_location=(root / "artifacts").as_uri())
    train_pop = ni.simulate(n_households=1000, months=36, seed=2)
    cfg = tracking.load_train_config(
        None,
        model={"kind": "gbm", "params": {"n_estimators": 30, "num_leaves": 15, "n_jobs": 1}},
        n_boot=0,
        rules=None,
        features=str(spec_file),
    )
    res = tracking.train(train_pop.bundle, AS_OF, config=cfg, tracking_uri=uri)
    tracking.promote(res.model_name, res.model_version, "champion", tracking_uri=uri)
    return {"uri": uri, "model_uri": f"models:/{res.model_name}@champion", "spec": spec}


def spark_flags(scored, capacity: float):
    """Flag the top ``capacity`` share of a Spark ``household_id, score`` frame.

    The order :func:`needsid.flagging.flag` uses for the model route with no rule hits:
    highest score first, ties by household_id, ``round(capacity * n)`` households.
    """
    from pyspark.sql import functions as F

    k = int(round(capacity * scored.count()))
    top = (
        scored.orderBy(F.desc("score"), F.asc("household_id"))
        .limit(k)
        .select("household_id", F.lit(True).alias("flag"))
    )
    return scored.join(top, "household_id", "left").fillna(False, subset=["flag"])


def test_spark_pipeline_equals_in_memory(registered, spark, tmp_path):
    import mlflow
    from pyspark.sql import functions as F

    pop = ni.simulate(n_households=300, months=36, seed=7)
    folder = pop.bundle.write(tmp_path / "bundle")

    # on Spark: the Parquet bundle read as Spark DataFrames, as a cluster job reads it
    frames = {t: spark.read.parquet(str(folder / f"{t}.parquet")) for t in TABLES}
    sdf = ni.features.build(ni.HouseholdData(**frames), AS_OF, registered["spec"])
    mlflow.set_tracking_uri(registered["uri"])
    model = mlflow.pyfunc.load_model(registered["model_uri"])
    features = model.unwrap_python_model().features
    # cached: the scoring, the flags and the comparison below read them without rebuilding
    sdf = sdf.select("household_id", *[F.col(c).cast("double").alias(c) for c in features])
    sdf = sdf.cache()
    udf = mlflow.pyfunc.spark_udf(
        spark,
        registered["model_uri"],
        result_type="double",
        env_manager="local",
        params={"reasons": False},
    )
    scored = sdf.select("household_id", udf(F.struct(*sdf.columns)).alias("score")).cache()
    flags_dir = tmp_path / "flags"
    spark_flags(scored, CAPACITY).write.parquet(str(flags_dir))

    # in memory: polars features, pyfunc scores, needsid.flagging.flag
    X = ni.features.build(pop.bundle, AS_OF, registered["spec"])
    local = model.predict(X.select("household_id", *features).to_pandas(), {"reasons": False})
    table = ni.flagging.flag(local[["household_id", "score"]], capacity=CAPACITY, as_of=AS_OF)

    # the same features (Spark's float sums may differ in the last bits)
    got = sdf.toPandas().sort_values("household_id").reset_index(drop=True)
    assert got["household_id"].tolist() == X["household_id"].to_list()
    np.testing.assert_allclose(
        got[features].to_numpy(), X.select(features).to_numpy(), rtol=1e-9, equal_nan=True
    )
    # the same scores, read back from what Spark wrote
    flags = pd.read_parquet(flags_dir).sort_values("household_id").reset_index(drop=True)
    assert flags["household_id"].tolist() == local["household_id"].tolist()
    np.testing.assert_allclose(flags["score"].to_numpy(), local["score"].to_numpy(), rtol=1e-9)
    # the same households flagged, as many as the capacity allows
    want = table.loc[table["flag"], "household_id"].tolist()
    assert sorted(flags.loc[flags["flag"], "household_id"].tolist()) == sorted(want)
    assert len(want) == round(CAPACITY * len(local)) > 0
    assert pl.from_pandas(flags).schema == {
        "household_id": pl.String,
        "score": pl.Float64,
        "flag": pl.Boolean,
    }
