"""Labels and the oracle probability of need."""

import re

import numpy as np
import polars as pl
import pytest

import needsid as ni
from needsid.labels._labels import _absorption_probability


@pytest.fixture(scope="module")
def pop():
    return ni.simulate(n_households=30_000, months=24, seed=5)


def test_absorption_probability_by_hand():
    # one household, two steps, from the vulnerable state
    p = pl.DataFrame(
        {"t01": [0.1], "t02": [0.05], "t10": [0.2], "t12": [0.3], "t20": [0.0], "t21": [0.4]}
    )
    got = _absorption_probability(np.array([1]), p, 2)
    # step 1: poor w.p. 0.3; else secure 0.2 or vulnerable 0.5
    # step 2: from secure 0.05, from vulnerable 0.3
    expected = 0.3 + 0.2 * 0.05 + 0.5 * 0.3
    assert got[0] == pytest.approx(expected)
    # from poor, one step: stays poor w.p. 1 - t20 - t21
    assert _absorption_probability(np.array([2]), p, 1)[0] == pytest.approx(0.6)


def test_p_need_is_calibrated_against_the_drawn_labels(pop):
    y = ni.labels.make(pop, as_of="2024-01-01", horizon_months=6)
    p = y["p_need"].to_numpy()
    need = y["in_need"].to_numpy()
    # total: the sum of independent Bernoulli(p) draws
    z = (need.sum() - p.sum()) / np.sqrt((p * (1 - p)).sum())
    assert abs(z) < 4, z
    # by band of the oracle probability
    bands = np.digitize(p, [0.02, 0.1, 0.3, 0.7, 0.95])
    for b in np.unique(bands):
        m = bands == b
        if m.sum() < 200:
            continue
        se = np.sqrt((p[m] * (1 - p[m])).sum()) + 1
        assert abs(need[m].sum() - p[m].sum()) < 4 * se, (b, need[m].mean(), p[m].mean())


def test_longer_horizon_never_lowers_p_need(pop):
    short = ni.labels.make(pop, as_of="2024-01-01", horizon_months=3)
    long = ni.labels.make(pop, as_of="2024-01-01", horizon_months=6)
    both = short.join(long, on="household_id", suffix="_long")
    assert (both["p_need_long"] >= both["p_need"] - 1e-12).all()
    assert (both["in_need_long"] | ~both["in_need"]).all()


def test_labels_cover_households_alive_at_as_of(pop):
    y = ni.labels.make(pop, as_of="2024-01-01", horizon_months=6)
    hh = pop.bundle.households
    dead = hh.filter(pl.col("dissolved_on") < pl.date(2024, 1, 1))["household_id"]
    later = hh.filter(pl.col("formed_on") >= pl.date(2024, 1, 1))["household_id"]
    ids = set(y["household_id"])
    assert not ids & set(dead) and not ids & set(later)
    assert y["household_id"].is_unique().all()


@pytest.mark.parametrize(
    ("as_of", "horizon", "message"),
    [
        ("2024-01-15", 6, "as_of must be the first day of a month, e.g. '2024-01-01'"),
        ("2023-01-01", 6, "so as_of must lie in 2023-02-01 .. 2024-07-01"),
        ("2024-12-01", 6, "so as_of must lie in 2023-02-01 .. 2024-07-01"),
        ("2024-01-01", 0, "Got horizon_months=0; expected a positive number of months, e.g. 6."),
        ("yesterday", 6, "Got as_of='yesterday'; expected a date such as '2025-01-01'."),
    ],
)
def test_bad_as_of_or_horizon(pop, as_of, horizon, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ni.labels.make(pop, as_of=as_of, horizon_months=horizon)


def test_labels_from_records_alone(tiny_bundle):
    y = ni.labels.make(tiny_bundle, as_of="2024-01-01", horizon_months=6, source="records")
    assert list(y.columns) == [
        "household_id", "in_need", "need_income", "need_health", "need_education",
        "need_employment", "need_tekun", "need_acute", "label_source", "weight",
    ]  # fmt: skip
    row = {r["household_id"]: r for r in y.iter_rows(named=True)}
    # H1: one wage of 4,200 in the window, 3 people, 6 months: 233 a head < 1.5 x 1,090
    assert row["H1"]["need_income"] is True and row["H1"]["in_need"] is True
    # H2: no wage, pension or survey at all: income need is unknown, not "fine"
    assert row["H2"]["need_income"] is None
    # H2 is one person aged 63 with a grade-2 snapshot but no certificate: no labour
    # capacity by age, and no wages -> tekun conditions
    assert row["H2"]["need_tekun"] is True and row["H2"]["in_need"] is True
    assert set(row) == {"H1", "H2", "H4"}


def test_records_labels_track_the_truth_on_a_simulation(pop):
    y = ni.labels.make(pop.bundle, as_of="2024-01-01", horizon_months=6, source="records")
    truth = ni.labels.make(pop, as_of="2024-01-01", horizon_months=6)
    both = y.join(truth, on="household_id", suffix="_true")
    judged = both.filter(pl.col("need_income").is_not_null())
    # records see wages and pensions, not informal income: the records' income need
    # over-includes, but it rarely misses true need, and a flag means far more risk
    flagged = judged.filter("need_income")["in_need_true"].mean()
    unflagged = judged.filter(~pl.col("need_income"))["in_need_true"].mean()
    assert flagged > 5 * unflagged, (flagged, unflagged)
    recall = both.filter("in_need_true")["in_need"].mean()
    assert recall > 0.8, recall
    pandas_y = ni.labels.make(
        pop.bundle.to_pandas(), as_of="2024-01-01", horizon_months=3, source="records"
    )
    polars_y = ni.labels.make(pop.bundle, "2024-01-01", 3, source="records")
    assert pandas_y["in_need"].sum() == polars_y["in_need"].sum()


def test_wrong_input_type():
    with pytest.raises(TypeError, match="expected a SimulatedPopulation or HouseholdData"):
        ni.labels.make({"a": 1}, as_of="2024-01-01")
