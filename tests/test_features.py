"""Point-in-time features: hand-checked values, backends, leakage properties, specs."""

import datetime as dt
import re

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import needsid as ni
from needsid.data import HouseholdData, record_vocabulary
from needsid.features import FeatureSpec, build, describe, load_spec

from .conftest import make_tiny_bundle

AS_OF = dt.date(2024, 6, 1)


def _row(X: pl.DataFrame, hh: str) -> dict:
    return X.filter(pl.col("household_id") == hh).row(0, named=True)


def test_hand_computed_values_on_the_tiny_bundle(tiny_bundle):
    X = build(tiny_bundle, AS_OF)
    assert X["household_id"].to_list() == ["H1", "H2", "H4"]  # H3 was dissolved in 2023
    h1, h2, h4 = (_row(X, h) for h in ("H1", "H2", "H4"))
    assert (h1["hh_size"], h1["n_children"], h1["n_working_age"], h1["n_elderly"]) == (3, 1, 2, 0)
    assert (h1["head_age"], h1["head_female"], h1["head_education_years"]) == (39, 0, 12)
    assert h1["minority"] == 1 and h1["urban"] == 1 and h1["rural_hukou_share"] == 0
    # one wage of 4,200 on 2024-01-31, known 2024-02-10: in the 12-month window only
    assert h1["wage_pc_12m"] == pytest.approx(4200 / 3 / 12)
    assert h1["wage_pc_3m"] == 0 and h1["wage_pc_rule"] == 0  # urban rule: last 3 months
    assert h1["months_since_wage"] == 5
    assert h2["hh_size"] == 1 and h2["n_elderly"] == 1 and h2["elderly_alone"] == 1
    # the snapshot says grade 2, but no certificate is on record: not counted
    assert h2["n_severe_disability"] == 0
    assert h2["months_benefit_dibao_12m"] == 1 and h2["n_programmes_12m"] == 1
    # dibao of 1,090 for one person in one month, against the standard of 1,090
    assert h2["dibao_paid_to_standard"] == pytest.approx(1.0)
    assert h1["dibao_paid_to_standard"] is None  # not on dibao: unknown, not zero
    # no wage last month, against a 12-month average of 4,200 / 12
    assert h1["wage_pc_1m"] == 0 and h1["wage_1m_to_12m"] == 0
    assert h1["wage_12m_to_low_income_line"] == pytest.approx(4200 / 3 / 12 / (1090 * 1.5))
    assert h2["wage_1m_to_12m"] is None  # no wage in 12 months: no baseline to compare
    assert h1["deposit_change_12m"] is None  # no bank report at all
    assert (h2["n_application_1m"], h2["n_application_3m"]) == (0, 1)
    assert (h4["hh_size"], h4["n_elderly"], h4["n_disability_certified"]) == (2, 1, 1)
    assert h4["n_severe_disability"] == 0  # certified grade 3
    assert h4["months_since_record"] == 2024 * 12 + 5 - (2023 * 12 + 7)  # vehicle, Aug 2023
    assert h4["n_properties"] == 0 and h4["vehicle_value"] == 0


def test_deposit_change_compares_the_latest_report_with_the_one_before(tiny_bundle):
    def deposit(rid, day, amount):
        return tiny_bundle.records.head(1).with_columns(
            record_id=pl.lit(rid), household_id=pl.lit("H1"), person_id=pl.lit(None),
            source=pl.lit("banking"), kind=pl.lit("deposit_balance"),
            event_date=pl.lit(day), known_date=pl.lit(day + dt.timedelta(days=2)),
            amount=pl.lit(amount),
        )  # fmt: skip

    extra = [deposit("R90", dt.date(2023, 6, 10), 10_000.0),
             deposit("R91", dt.date(2024, 5, 20), 4_000.0)]  # fmt: skip
    records = pl.concat([tiny_bundle.records, *extra], how="vertical_relaxed")
    b = HouseholdData(tiny_bundle.regions, tiny_bundle.households, tiny_bundle.members, records)
    # both reports fall in the last 12 months: the latest (4,000) against the one before
    assert _row(build(b, AS_OF), "H1")["deposit_change_12m"] == pytest.approx(0.4)
    # the newer report not yet known: only the old one, so no change to report
    assert _row(build(b, dt.date(2024, 5, 21)), "H1")["deposit_change_12m"] is None


def test_records_follow_the_person_to_the_household_of_the_day(tiny_bundle):
    # P5 lived in H3 until 2023-05-01, then in H4; a hospital stay from 2022 recorded on H3
    extra = tiny_bundle.records.head(1).with_columns(
        record_id=pl.lit("R99"), household_id=pl.lit("H3"), person_id=pl.lit("P5"),
        source=pl.lit("health"), kind=pl.lit("hospitalization"),
        event_date=pl.lit(dt.date(2022, 10, 1)), known_date=pl.lit(dt.date(2022, 10, 5)),
        amount=pl.lit(5000.0),
    )  # fmt: skip
    b = HouseholdData(tiny_bundle.regions, tiny_bundle.households, tiny_bundle.members,
                      pl.concat([tiny_bundle.records, extra]))  # fmt: skip
    before = build(b, dt.date(2023, 1, 1))
    after = build(b, dt.date(2023, 9, 1))
    assert _row(before, "H3")["n_hospitalization_12m"] == 2  # P6's and P5's
    assert _row(after, "H4")["n_hospitalization_12m"] == 1  # P5's stay moved with P5
    assert "H3" not in after["household_id"].to_list()


def test_describe_lists_exactly_the_built_columns(tiny_bundle):
    X = build(tiny_bundle, AS_OF)
    table = describe()
    assert list(X.columns[1:]) == list(table["name"])
    assert set(table["family"]) == set(ni.features.FAMILIES)
    assert table["meaning"].str.len().min() > 5


def test_pandas_input_gives_pandas_output_with_equal_values(tiny_bundle):
    X = build(tiny_bundle, AS_OF)
    Xp = build(tiny_bundle.to_pandas(), AS_OF)
    assert isinstance(Xp, pd.DataFrame)
    pd.testing.assert_frame_equal(Xp.reset_index(drop=True), X.to_pandas(), check_dtype=False)


@pytest.fixture(scope="module")
def small_pop():
    return ni.simulate(n_households=400, months=18, seed=8)


# in memory, the events family is written into dense columns; DuckDB runs one wide
# group-by: the specs differ in whether the trend's two windows are among the windows
@pytest.mark.parametrize(
    "spec",
    [
        None,  # windows 1, 3, 6, 12; trend 3 against the 3 before: both counts are there
        "configs/features/quick.yaml",  # windows 3, 12: the trend needs a 6-month count
        # windows 1, 12; trend 2 against the 2 before: neither count is a window
        {
            **load_spec().model_dump(),
            "windows": [1, 12],
            "trend_window": 2,
            "families": ["events", "coverage"],
        },  # fmt: skip
    ],
)
def test_duckdb_relations_give_equal_values(small_pop, spec):
    import duckdb

    con = duckdb.connect()
    b = small_pop.bundle
    rel = HouseholdData(*(con.from_arrow(getattr(b, t).to_arrow()) for t in
                          ("regions", "households", "members", "records")))  # fmt: skip
    out = build(rel, "2024-03-01", spec=spec)
    assert isinstance(out, duckdb.DuckDBPyRelation)
    got = pl.from_arrow(out.arrow())
    expected = build(b, "2024-03-01", spec=spec)
    assert got.columns == expected.columns
    np.testing.assert_allclose(got.drop("household_id").to_numpy(),
                               expected.drop("household_id").to_numpy(), rtol=1e-9)  # fmt: skip


@pytest.mark.slow
def test_spark_dataframes_give_equal_values(small_pop, spark):
    from pyspark.sql import functions as F

    b = small_pop.bundle
    frames = []
    for t in ("regions", "households", "members", "records"):
        pdf = getattr(b, t).with_columns(pl.col(pl.Categorical).cast(pl.String)).to_pandas()
        sdf = spark.createDataFrame(pdf)
        for name, dtype in getattr(b, t).schema.items():
            if dtype == pl.Date:
                sdf = sdf.withColumn(name, F.to_date(name))
        frames.append(sdf)
    out = build(HouseholdData(*frames), "2024-03-01")
    got = pl.from_pandas(out.toPandas())
    expected = build(b, "2024-03-01")
    assert got.columns == expected.columns
    assert got["household_id"].to_list() == expected["household_id"].to_list()
    np.testing.assert_allclose(got.drop("household_id").to_numpy(),
                               expected.drop("household_id").to_numpy(), rtol=1e-9)  # fmt: skip


_KINDS = sorted((s, k) for s, kinds in record_vocabulary().items() for k in kinds)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["H1", "H2", "H3", "H4"]),
            st.sampled_from([None, "P1", "P4", "P5", "P7"]),
            st.sampled_from(_KINDS),
            st.integers(-800, 300),  # event date offset from as_of, days
            st.integers(0, 200),  # known this many days on or after as_of
            st.one_of(st.none(), st.floats(0, 1e6)),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_records_known_on_or_after_as_of_change_nothing(rows):
    bundle = make_tiny_bundle()
    base = build(bundle, AS_OF)
    extra = pl.DataFrame(
        [
            (f"X{i}", hh, p, src, kind, AS_OF + dt.timedelta(days=e),
             max(AS_OF, AS_OF + dt.timedelta(days=e)) + dt.timedelta(days=k), amt, None)
            for i, (hh, p, (src, kind), e, k, amt) in enumerate(rows)
        ],
        schema=bundle.records.schema,
        orient="row",
    )  # fmt: skip
    b2 = HouseholdData(bundle.regions, bundle.households, bundle.members,
                       pl.concat([bundle.records, extra]))  # fmt: skip
    assert build(b2, AS_OF).equals(base)


def _with_p1(bundle: HouseholdData, spells, home, events) -> HouseholdData:
    """The tiny bundle with P1's spells replaced and ``events`` of P1 added.

    Every record of P1, old and new, names ``home(event_date)``: the household P1 lives
    in on the record's day, as a department would write it.
    """
    p1 = bundle.members.filter(pl.col("person_id") == "P1")
    rows = [p1.with_columns(household_id=pl.lit(h), joined_on=pl.lit(a), left_on=pl.lit(b))
            for h, a, b in spells]  # fmt: skip
    members = pl.concat([bundle.members.filter(pl.col("person_id") != "P1"), *rows])
    extra = pl.DataFrame(
        [(f"M{i}", None, "P1", src, kind, day, known, amt, None)
         for i, ((src, kind), day, known, amt) in enumerate(events)],
        schema=bundle.records.schema, orient="row",
    )  # fmt: skip
    records = pl.concat([bundle.records, extra])
    named = pl.Series([home(day) for day in records["event_date"]], dtype=pl.String)
    records = records.with_columns(
        household_id=pl.when(pl.col("person_id") == "P1")
        .then(named)
        .otherwise(pl.col("household_id"))
    )
    return HouseholdData(bundle.regions, bundle.households, members, records)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    move=st.integers(-700, 200),  # P1 moves from H1 to H2 this many days after AS_OF
    events=st.lists(
        st.tuples(
            st.sampled_from(_KINDS),
            st.integers(-900, -1),  # event date, days from AS_OF
            st.integers(0, 60),  # known this many days later
            st.one_of(st.none(), st.floats(0, 1e5)),
        ),
        max_size=8,
    ),
)
def test_a_persons_records_move_with_them_at_the_spell_boundary(move, events):
    # P1 lives in H1 from 2015-03-01 and moves to H2 on `moved`. At AS_OF, P1's records
    # (a wage in the tiny bundle, plus `events`) must count where P1 lives then, exactly
    # as if P1 had always lived there.
    bundle, moved, start = make_tiny_bundle(), AS_OF + dt.timedelta(days=move), dt.date(2015, 3, 1)
    events = [(kind, AS_OF + dt.timedelta(days=e), AS_OF + dt.timedelta(days=e + k), amt)
              for kind, e, k, amt in events]  # fmt: skip
    mover = _with_p1(
        bundle,
        [("H1", start, moved), ("H2", moved, None)],
        lambda day: "H1" if day < moved else "H2",
        events,
    )
    # features describe the day before AS_OF: the spell [joined_on, left_on) holding then
    home = "H1" if AS_OF <= moved else "H2"
    stayer = _with_p1(bundle, [(home, start, None)], lambda day: home, events)
    assert build(mover, AS_OF).equals(build(stayer, AS_OF))


def test_a_smaller_spec_builds_fewer_columns(tiny_bundle):
    spec = load_spec("configs/features/quick.yaml")
    X = build(tiny_bundle, AS_OF, spec=spec)
    assert list(X.columns[1:]) == list(describe(spec)["name"])
    assert "invisibility_score" not in X.columns and "n_death_12m" in X.columns


def _spec_dict(**changes):
    raw = load_spec().model_dump()
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"windows": [0, 3]},
            "Got windows=[0, 3]; expected a non-empty list of whole months in 1..120",
        ),
        ({"windows": [3, 3]}, "Got windows=[3, 3]; each window must appear once."),
        ({"families": ["income", "astrology"]}, "Unknown feature families ['astrology']"),
        ({"events": {"wedding": False}}, "Unknown record kinds ['wedding'] in the feature spec"),
        ({"core_sources": ["tax_office"]}, "Unknown sources ['tax_office']"),
    ],
)
def test_bad_specs_are_rejected_with_the_field_named(changes, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        FeatureSpec(**_spec_dict(**changes))


def test_unknown_spec_key_is_an_error(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("windows: [3]\nwindowz: [6]\n")
    with pytest.raises(ni.ConfigError, match="unknown key 'windowz'") as err:
        load_spec(path)
    assert "unknown key 'windowz'" in err.value.problems
    with pytest.raises(FileNotFoundError, match=re.escape("nope.yaml")):
        load_spec(tmp_path / "nope.yaml")


def test_missing_and_mistyped_columns_are_all_named_at_once(tiny_bundle):
    b = tiny_bundle
    bad = HouseholdData(
        b.regions.drop("dibao_standard"),
        b.households,
        b.members.drop("birth_date"),
        b.records.with_columns(pl.col("event_date").cast(pl.String), pl.col("amount").cast(str)),
    )
    expected = (
        "Cannot build features: regions.dibao_standard is missing; members.birth_date is "
        "missing; records.event_date should hold date values, not String; records.amount "
        "should hold float values, not String."
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        build(bad, AS_OF)
    # only the columns the builders read are required
    assert build(HouseholdData(b.regions, b.households, b.members,
                               b.records.drop("record_id")), AS_OF).height == 3  # fmt: skip


def test_bad_as_of_is_named(tiny_bundle):
    with pytest.raises(ValueError, match=re.escape("Got as_of='soon'; expected a date")):
        build(tiny_bundle, "soon")


def test_same_input_same_bytes(small_pop):
    a = build(small_pop.bundle, "2024-03-01")
    assert all(a.equals(build(small_pop.bundle, "2024-03-01")) for _ in range(3))
