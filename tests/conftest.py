"""Shared fixtures: a tiny hand-built bundle whose every value can be checked by hand."""

from __future__ import annotations

import os
import sys
from datetime import date

import polars as pl
import pytest

from needsid._compat import PANDAS_GE_3
from needsid.data import HouseholdData

D = date


def _frame(rows: list[tuple], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")


def make_tiny_bundle() -> HouseholdData:
    """Four households in two regions.

    - 001 (urban) holds H1 (a couple and a child) and H2 (a single person).
    - 002 (rural) holds H3, dissolved on 2023-05-01 after P6 died (2022-11-20), and H4,
      formed the same day by P5, who moved out of H3 (spells [2010-01-01, 2023-05-01)
      and [2023-05-01, open): touching, not overlapping) with their mother P7.
    - A dibao payment for P6 follows the death: legal data (cross-checks look for it).
    """
    regions = _frame(
        [
            ("001", True, 1090.0, 1.5, 1417.0, 81230.0),
            ("002", False, 860.5, 1.5, 1118.65, 27500.0),
        ],
        {
            "region_id": pl.String,
            "urban": pl.Boolean,
            "dibao_standard": pl.Float64,
            "low_income_multiplier": pl.Float64,
            "tekun_standard": pl.Float64,
            "disposable_income_prev_year": pl.Float64,
        },
    )
    households = _frame(
        [
            ("H1", "001", D(2015, 3, 1), None),
            ("H2", "001", D(2018, 6, 15), None),
            ("H3", "002", D(2010, 1, 1), D(2023, 5, 1)),
            ("H4", "002", D(2023, 5, 1), None),
        ],
        {
            "household_id": pl.String,
            "region_id": pl.String,
            "formed_on": pl.Date,
            "dissolved_on": pl.Date,
        },
    )
    members = _frame(
        [
            ("P1", "H1", "head", "M", D(1985, 4, 2), False, "urban", 12, 0, D(2015, 3, 1), None),
            ("P2", "H1", "spouse", "F", D(1987, 9, 30), True, "urban", 9, 0, D(2015, 3, 1), None),
            ("P3", "H1", "child", "F", D(2016, 8, 10), True, "urban", 3, 0, D(2016, 8, 10), None),
            ("P4", "H2", "head", "M", D(1960, 1, 20), False, "rural", 6, 2, D(2018, 6, 15), None),
            (
                "P5", "H3", "head", "M", D(1975, 5, 5), False, "rural", 9, 0,
                D(2010, 1, 1), D(2023, 5, 1),
            ),
            ("P5", "H4", "head", "M", D(1975, 5, 5), False, "rural", 9, 0, D(2023, 5, 1), None),
            (
                "P6", "H3", "spouse", "F", D(1950, 2, 14), False, "rural", 0, 1,
                D(2010, 1, 1), D(2022, 11, 20),
            ),
            ("P7", "H4", "parent", "F", D(1948, 7, 7), False, "rural", 0, 3, D(2023, 5, 1), None),
        ],
        {
            "person_id": pl.String,
            "household_id": pl.String,
            "relation": pl.String,
            "sex": pl.String,
            "birth_date": pl.Date,
            "minority": pl.Boolean,
            "hukou": pl.String,
            "education_years": pl.Int64,
            "disability_grade": pl.Int64,
            "joined_on": pl.Date,
            "left_on": pl.Date,
        },
    )  # fmt: skip
    ca, hr, ps = "civil_affairs", "human_resources", "public_security"
    records = _frame(
        [
            ("R01", "H1", "P1", hr, "wage", D(2024, 1, 31), D(2024, 2, 10), 4200.0, None),
            ("R02", "H2", None, ca, "application", D(2024, 3, 2), D(2024, 3, 2), None, "app"),
            ("R03", "H2", "P4", ca, "benefit_dibao", D(2024, 4, 30), D(2024, 5, 3), 1090.0, None),
            ("R04", "H3", "P6", "health", "hospitalization", D(2022, 9, 1), D(2022, 9, 20),
             18500.5, None),
            ("R05", "H3", "P6", ps, "death", D(2022, 11, 20), D(2022, 11, 25), None, None),
            # A payment after the death: legal data, found later by cross-check rules.
            ("R06", "H3", "P6", ca, "benefit_dibao", D(2022, 12, 31), D(2023, 1, 5), 860.5, None),
            ("R07", "H4", "P7", "disabled_persons_federation", "disability_certified",
             D(2023, 6, 1), D(2023, 6, 1), None, "3"),
            ("R08", "H4", None, "vehicles", "vehicle", D(2023, 8, 8), D(2023, 9, 1), 0.0,
             "private"),
            ("R09", "H1", "P3", "education", "school_enrolled", D(2022, 9, 1), D(2022, 9, 1),
             None, None),
        ],
        {
            "record_id": pl.String,
            "household_id": pl.String,
            "person_id": pl.String,
            "source": pl.String,
            "kind": pl.String,
            "event_date": pl.Date,
            "known_date": pl.Date,
            "amount": pl.Float64,
            "value": pl.String,
        },
    )  # fmt: skip
    return HouseholdData(regions, households, members, records)


@pytest.fixture
def tiny_bundle() -> HouseholdData:
    """A valid polars bundle: 2 regions, 4 households, 7 people (one moved), 9 records."""
    return make_tiny_bundle()


@pytest.fixture(params=["polars", "pandas"])
def backend(request) -> str:
    """Run a test once per DataFrame backend."""
    return request.param


def pytest_collection_modifyitems(items):
    """Let the Spark tests run on pandas 3.

    pyspark 4.x warns on every pandas <-> Spark conversion under pandas 3 ("does not yet
    fully support pandas >= 3.0.0"), and its Arrow conversions use what pandas 3.1
    deprecates for pandas 4 (``Series.values`` of a time-zone-aware column, ``copy=``):
    Pandas4Warning. The conversions these tests make (createDataFrame from pandas,
    toPandas, mlflow's pandas UDF) are checked value by value, so neither is an error here.
    """
    ignore = [
        "ignore:PySpark does not yet fully support pandas:FutureWarning",
        # pyspark 3.5.0 (the spark extra's floor) compares versions with distutils
        "ignore:distutils Version classes are deprecated:DeprecationWarning",
    ]
    if PANDAS_GE_3:  # the class exists from pandas 3 on
        ignore.append("ignore::pandas.errors.Pandas4Warning")
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            for rule in ignore:
                item.add_marker(pytest.mark.filterwarnings(rule))


@pytest.fixture(scope="session")
def spark():
    """A local Spark session (loopback only), stopped at the end of the run."""
    pyspark = pytest.importorskip("pyspark", reason="install the 'spark' extra")
    del pyspark
    from pyspark.sql import SparkSession

    # Python UDF workers (mlflow's spark_udf) must run in this interpreter (the venv), not
    # the first python3 on PATH; pyspark reads PYSPARK_PYTHON when the context starts
    old = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[1]")
        .appName("needsid-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()
    if old is None:
        os.environ.pop("PYSPARK_PYTHON", None)
    else:
        os.environ["PYSPARK_PYTHON"] = old


@pytest.fixture
def restore_mlflow_globals():
    """Undo the MLflow global URIs (and their environment variables) a test sets.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI``; left behind, it
    points every later test at a server that is stopped, or a store that is deleted.
    """
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved_env = {key: os.environ.get(key) for key in keys}
    saved = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    yield
    tracking_utils._tracking_uri, registry_utils._registry_uri = saved
    for key, value in saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
