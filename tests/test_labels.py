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
        "need_care", "need_housing", "need_employment", "need_tekun", "need_acute",
        "label_source", "weight",
    ]  # fmt: skip
    row = {r["household_id"]: r for r in y.iter_rows(named=True)}
    # H1: one wage of 4,200 in the window, 3 people, 6 months: 233 a head < 1.5 x 1,090
    assert row["H1"]["need_income"] is True and row["H1"]["in_need"] is True
    # H2: no wage, pension or survey at all: income need is unknown, not "fine"
    assert row["H2"]["need_income"] is None
    # H2 is one person aged 63 with a grade-2 snapshot but no certificate: no labour
    # capacity by age, and no wages -> tekun conditions
    assert row["H2"]["need_tekun"] is True and row["H2"]["in_need"] is True
    # care needs a certificate of grade 1-2 or an age of 80: the snapshot's grade is not one
    assert row["H2"]["need_care"] is False
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


# --- label sources a bundle really has: casework outcomes --------------------------------


def _with_casework(bundle, rows):
    """The tiny bundle plus casework records (record_id, household, kind, date, amount, value)."""
    from datetime import date

    extra = pl.DataFrame(
        [
            (rid, hh, None, "civil_affairs", kind, date.fromisoformat(d),
             date.fromisoformat(d), amount, value)
            for rid, hh, kind, d, amount, value in rows
        ],
        schema=bundle.records.schema,
        orient="row",
    )  # fmt: skip
    return ni.HouseholdData(
        bundle.regions, bundle.households, bundle.members, pl.concat([bundle.records, extra])
    )


CASEWORK = [
    # H2 (urban, dibao standard 1,090) applied on 2024-03-02: assessed at 800 a head
    ("R10", "H2", "verification", "2024-03-20", 800.0, "approved_dibao"),
    # H1 (urban): a review at 1,500, above the standard, below the low-income line 1,635;
    # its home visit's finding counts only where there is no assessment
    ("R11", "H1", "review", "2024-02-15", 1500.0, "reduce"),
    ("R12", "H1", "home_visit", "2024-02-20", None, "hardship_confirmed"),
    # H4: a visit that found nobody says nothing
    ("R13", "H4", "home_visit", "2024-05-01", None, "not_found"),
    # outside the window [2024-01-01, 2024-07-01): ignored
    ("R14", "H4", "review", "2024-07-01", 100.0, "continue"),
    ("R15", "H4", "review", "2023-12-31", 100.0, "continue"),
]


def test_verified_labels_by_hand(tiny_bundle):
    bundle = _with_casework(tiny_bundle, CASEWORK)
    y = ni.labels.make(bundle, "2024-01-01", 6, source="verified")
    assert list(y.columns) == ["household_id", "in_need", "label_source", "weight"]
    got = {r["household_id"]: (r["in_need"], r["label_source"]) for r in y.iter_rows(named=True)}
    assert got == {
        "H1": (False, "review"),
        "H2": (True, "verification"),
        "H4": (None, None),
    }
    assert y.filter(pl.col("in_need").is_null())["weight"].is_null().all()
    wide = ni.labels.make(bundle, "2024-01-01", 6, source="verified", line="low_income")
    assert wide.filter(pl.col("household_id") == "H1")["in_need"].item() is True
    # with only a home visit in the window, the visit's finding is the label
    visited = _with_casework(tiny_bundle, [(*CASEWORK[3][:5], "hardship_confirmed"), CASEWORK[5]])
    y = ni.labels.make(visited, "2024-01-01", 6, source="verified")
    h4 = y.filter(pl.col("household_id") == "H4").row(0, named=True)
    assert (h4["in_need"], h4["label_source"]) == (True, "home_visit")
    # pandas in, pandas out, same labels
    pd_y = ni.labels.make(bundle.to_pandas(), "2024-01-01", 6, source="verified")
    assert pd_y["in_need"].tolist() == [False, True, None]


def test_pu_labels_count_the_unlabeled_as_zero_and_drop_unreviewed_recipients(tiny_bundle):
    from datetime import date

    paid = ("R16", "H4", "P5", "civil_affairs", "benefit_dibao", date(2023, 12, 10),
            date(2023, 12, 12), 500.0, None)  # fmt: skip
    bundle = _with_casework(tiny_bundle, CASEWORK)
    bundle = ni.HouseholdData(
        bundle.regions, bundle.households, bundle.members,
        pl.concat([bundle.records, pl.DataFrame([paid], schema=bundle.records.schema,
                                                orient="row")]),
    )  # fmt: skip
    X = ni.features.build(bundle, "2024-01-01")
    y = ni.labels.make(bundle, "2024-01-01", 6, source="pu", features=X)
    got = {r["household_id"]: r for r in y.iter_rows(named=True)}
    assert {k: (v["in_need"], v["label_source"]) for k, v in got.items()} == {
        "H1": (False, "verified_negative"),
        "H2": (True, "verified_positive"),
        # H4 was paid dibao before as_of and has no assessment in the window: left out
        "H4": (False, "unlabeled_recipient"),
    }
    assert got["H4"]["weight"] == 0.0
    # the one recipient has no assessment: its group's propensity is floored, not 0
    assert got["H4"]["propensity"] == pytest.approx(1e-3)
    # too few labelled positives among the others to fit a propensity: weight 1
    assert got["H2"]["weight"] == 1.0 and got["H1"]["weight"] == 1.0


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("truth", "Got source='truth' for a HouseholdData bundle; only a simulated population"),
        ("oracle", "Got source='oracle'; expected one of ['truth', 'records', 'verified', 'pu'"),
        (
            "verified",
            "hold no verification or review (civil_affairs kinds ['verification', 'review']",
        ),  # fmt: skip
        ("pu", "or use source='records'"),
        ("ipw", "labels from casework need them"),
    ],
)
def test_label_source_errors_name_the_fix(tiny_bundle, source, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ni.labels.make(tiny_bundle, "2024-01-01", 6, source=source)


def test_bad_line_is_named(tiny_bundle):
    bundle = _with_casework(tiny_bundle, CASEWORK)
    with pytest.raises(ValueError, match=re.escape("Got line='median'; expected one of")):
        ni.labels.make(bundle, "2024-01-01", 6, source="verified", line="median")


def test_casework_labels_are_selective_and_better_than_records(pop):
    as_of = "2024-01-01"
    truth = ni.labels.make(pop, as_of, 6).select("household_id", pl.col("in_need").alias("t"))
    ver = ni.labels.make(pop, as_of, 6, source="verified").join(truth, on="household_id")
    rec = ni.labels.make(pop, as_of, 6, source="records").join(truth, on="household_id")
    labelled = ver.filter(pl.col("in_need").is_not_null())
    # selective: a few percent of households have an outcome in 6 months
    assert 0.01 < labelled.height / ver.height < 0.12, labelled.height / ver.height
    # the status quo labels the needy far more often than the rest
    assert labelled["t"].mean() > 5 * truth["t"].mean()
    # an assessed need is a better positive than a record-only one
    precision_verified = labelled.filter("in_need")["t"].mean()
    precision_records = rec.filter("in_need")["t"].mean()
    assert precision_verified > precision_records + 0.3, (precision_verified, precision_records)


def test_pu_propensities_track_the_true_labelling_rates(pop):
    from needsid.labels._verified import recipients

    as_of = "2024-01-01"
    X = ni.features.build(pop.bundle, as_of)
    y = ni.labels.make(pop, as_of, 6, source="pu", features=X)
    truth = ni.labels.make(pop, as_of, 6).select("household_id", pl.col("in_need").alias("t"))
    y = y.join(truth, on="household_id")
    r = y["household_id"].is_in(recipients(pop.bundle, ni._dates.as_date(as_of)).implode())
    rec, non = y.filter(r), y.filter(~r)
    # recipients: the share with an assessment in the window, computed independently
    assessed = rec.filter(pl.col("label_source") != "unlabeled_recipient").height / rec.height
    assert rec["propensity"].unique().to_list() == [pytest.approx(assessed)]
    assert (rec.filter(pl.col("label_source") == "unlabeled_recipient")["weight"] == 0).all()
    # the others: Elkan-Noto's estimate lands within a factor 2.5 of the true share of
    # the needy that the status quo labels positive (which the estimate never sees)
    e = non["propensity"].unique().item()
    true_e = non.filter("t")["in_need"].mean()
    assert true_e / 2.5 < e < true_e * 2.5, (e, true_e)
    positives = y.filter("in_need")
    assert np.allclose(positives["weight"], 1 / positives["propensity"])


def test_ipw_labels_weight_the_verified_by_their_inverse_propensity(pop):
    as_of = "2024-01-01"
    y = ni.labels.make(pop, as_of, 6, source="ipw")
    ver = ni.labels.make(pop, as_of, 6, source="verified")
    assert y.height == ver["in_need"].is_not_null().sum()
    assert y["in_need"].is_not_null().all() and (y["weight"] > 0).all()
    # stabilised: the weights average near 1 over all households (here, the verified)
    assert y["label_source"].str.ends_with("_ipw").all()
    assert y["weight"].min() < 1 < y["weight"].max()


def test_label_vocabulary_matches_the_contract():
    from needsid.data import record_values
    from needsid.labels._verified import ASSESSED_KINDS, VISIT_FINDINGS

    values = record_values()
    assert set(VISIT_FINDINGS) < set(values["home_visit"])
    assert set(ASSESSED_KINDS) <= set(values)


def test_pu_does_not_reweight_on_too_few_positives(caplog):
    from needsid.labels._verified import MIN_POSITIVES

    small = ni.simulate(n_households=1500, months=24, seed=7)
    with caplog.at_level("WARNING", logger="needsid.labels"):
        y = ni.labels.make(small, "2024-01-01", 6, source="pu")
    others = y.filter(pl.col("propensity").is_nan())
    assert others.height > 0
    assert (others["weight"] == 1.0).all()
    assert f"fewer than the {MIN_POSITIVES} that estimating" in caplog.text


def test_records_care_and_housing_labels_track_the_truth(pop):
    y = ni.labels.make(pop.bundle, as_of="2024-01-01", horizon_months=6, source="records")
    truth = ni.labels.make(pop, as_of="2024-01-01", horizon_months=6)
    both = y.join(truth, on="household_id", suffix="_true")
    for d in ("care", "housing"):
        marked = both.filter(pl.col(f"need_{d}"))
        precision = marked[f"need_{d}_true"].mean()
        recall = both.filter(pl.col(f"need_{d}_true"))[f"need_{d}"].mean()
        # from certificates, ages and the housing department's records: near the truth,
        # short of it where a disability or an unsafe house was never recorded
        assert precision > 0.95 and 0.8 < recall < 1, (d, precision, recall)
    # the care and housing labels are dimensions, not part of in_need's definition
    assert both.filter(pl.col("need_housing") & ~pl.col("in_need")).height > 0


def test_make_needs_takes_income_from_the_casework(pop):
    X = ni.features.build(pop.bundle, "2024-01-01")
    pu = ni.labels.make_needs(pop.bundle, "2024-01-01", 6, features=X)
    assert pu.columns == [
        "household_id",
        *[f"need_{d}" for d in ni.simulation.NEED_DIMENSIONS],
        "weight_income",
        "income_source",
    ]
    truth = ni.labels.make(pop, "2024-01-01", 6).select("household_id", "need_income")
    both = pu.join(truth, on="household_id", suffix="_true")
    # the pu weights estimate the population's rate of income need; wages on record
    # overstate it several times over
    weighted = (both["need_income"].cast(float) * both["weight_income"]).sum() / both[
        "weight_income"
    ].filter(both["need_income"].is_not_null()).sum()
    records = ni.labels.make_needs(pop.bundle, "2024-01-01", 6, income="records")
    true_rate = both["need_income_true"].mean()
    assert abs(weighted - true_rate) < abs(records["need_income"].mean() - true_rate) / 3
    # verified: the assessed households only, unweighted
    verified = ni.labels.make_needs(pop.bundle, "2024-01-01", 6, income="verified")
    assessed = verified.filter(pl.col("need_income").is_not_null())
    assert (assessed["weight_income"] == 1).all()
    assert (verified.filter(pl.col("need_income").is_null())["weight_income"] == 0).all()
    # the other dimensions are the records'
    rec = ni.labels.make(pop.bundle, "2024-01-01", 6, source="records")
    assert verified["need_care"].equals(rec["need_care"])
    weights = ni.models.need_weights(pu)
    assert weights.columns == ["household_id", "need_income"]
    with pytest.raises(ValueError, match="Got income='wages'; expected one of"):
        ni.labels.make_needs(pop.bundle, "2024-01-01", 6, income="wages")
    with pytest.raises(ValueError, match="no weight_<dimension> column"):
        ni.models.need_weights(rec)
