"""Tests for precise exit: exit labels, the exit model and the phased-exit schedule."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import needsid as ni
from needsid._dates import months_after
from needsid.data import HouseholdData
from needsid.evaluate import status_quo
from needsid.exits import EXIT_ROUTE, RECIPIENT_FEATURES, SCHEDULE_COLUMNS, ExitModel, phase_out
from needsid.labels import make_exit
from needsid.models import GBMRiskModel

from .conftest import make_tiny_bundle

D = dt.date
AS_OF = D(2024, 1, 1)
H = 6


@pytest.fixture(scope="module")
def pop():
    return ni.simulate(n_households=3000, months=24, seed=0)


@pytest.fixture(scope="module")
def features(pop):
    return ni.features.build(pop.bundle, AS_OF)


@pytest.fixture(scope="module")
def truth(pop):
    return make_exit(pop, AS_OF, H)


@pytest.fixture(scope="module")
def reviews(pop, features):
    return make_exit(pop.bundle, AS_OF, H, features=features)


def _with_records(bundle: HouseholdData, rows: list[tuple]) -> HouseholdData:
    b = bundle.to_polars()
    extra = pl.DataFrame(rows, schema=b.records.schema, orient="row")
    return HouseholdData(b.regions, b.households, b.members, pl.concat([b.records, extra]))


# --- labels: rows ------------------------------------------------------------------------


def test_rows_are_exactly_the_current_recipients(pop, truth, reviews):
    alive = ni.labels.make(pop, AS_OF, H)["household_id"].to_list()
    paid = status_quo(pop.bundle, alive, AS_OF).astype(bool)
    expected = sorted(np.asarray(alive)[paid].tolist())
    assert truth["household_id"].to_list() == expected
    assert reviews["household_id"].to_list() == expected
    # by hand from the records: dibao or tekun paid in December 2023, known before as_of
    r = pop.bundle.records.with_columns(pl.col("kind").cast(pl.String))
    by_hand = r.filter(
        pl.col("kind").is_in(["benefit_dibao", "benefit_tekun"])
        & (pl.col("event_date") >= D(2023, 12, 1))
        & (pl.col("known_date") < AS_OF)
    )["household_id"].unique()
    assert set(expected) == set(by_hand.to_list()) & set(alive)
    assert 50 < len(expected) < 600  # a caseload, not everyone


def test_a_payment_known_on_as_of_does_not_make_a_recipient(pop, truth):
    alive = ni.labels.make(pop, AS_OF, H)["household_id"].to_list()
    outsider = sorted(set(alive) - set(truth["household_id"].to_list()))[0]
    row = ("RX1", outsider, None, "civil_affairs", "benefit_dibao", D(2023, 12, 20))

    def rows_with(known: dt.date) -> list[str]:
        bundle = _with_records(pop.bundle, [(*row, known, 900.0, None)])
        return make_exit(bundle, AS_OF, H, features=None)["household_id"].to_list()

    assert outsider not in rows_with(AS_OF)
    assert outsider in rows_with(D(2023, 12, 31))


# --- labels: the truth -------------------------------------------------------------------


def test_truth_labels_agree_with_truth_monthly_by_hand(pop, truth):
    monthly = pop.truth.monthly
    positives = truth.filter(pl.col("should_exit"))["household_id"].to_list()[:3]
    negatives = truth.filter(~pl.col("should_exit"))["household_id"].to_list()[:3]
    assert len(positives) == 3 and len(negatives) == 3
    window = [months_after(AS_OF, k) for k in range(H)]
    for hh in positives + negatives:
        months = monthly.filter(pl.col("household_id") == hh).sort("month")
        in_window = months.filter(pl.col("month").is_in(window))
        assert in_window.height == H
        by_hand = not any(in_window["in_need"].to_list())
        assert truth.filter(pl.col("household_id") == hh)["should_exit"].item() is by_hand
    assert truth["label_source"].unique().to_list() == ["truth"]
    assert truth["p_exit"].is_between(0, 1).all()
    # the oracle ranks: should-exit households have the higher p_exit on average
    assert (
        positives
        and truth.group_by("should_exit")
        .agg(pl.col("p_exit").mean())
        .sort("should_exit")["p_exit"]
        .is_sorted()
    )


def test_truth_labels_refuse_a_bundle_and_bad_windows(pop):
    with pytest.raises(ValueError, match=re.escape("Got source='truth' for a HouseholdData")):
        make_exit(pop.bundle, AS_OF, H, source="truth")
    with pytest.raises(ValueError, match=re.escape("as_of must be the first day of a month")):
        make_exit(pop, "2024-01-15")
    with pytest.raises(ValueError, match=re.escape("Got horizon_months=0; expected a positive")):
        make_exit(pop, AS_OF, 0)
    with pytest.raises(ValueError, match=re.escape("Got source='pu'; expected one of")):
        make_exit(pop, AS_OF, source="pu")
    with pytest.raises(ValueError, match=re.escape("Got line='median'; expected one of")):
        make_exit(pop.bundle, AS_OF, line="median")
    with pytest.raises(TypeError, match=re.escape("Got data of type dict")):
        make_exit({}, AS_OF)


# --- labels: the county's reviews --------------------------------------------------------


def _expected_from_reviews(bundle: HouseholdData, ids: list[str], as_of, h, line="low_income"):
    """Recompute the review labels row by row, without the library's joins."""
    b = bundle.to_polars()
    end = months_after(as_of, h)
    regions = {r["region_id"]: r for r in b.regions.iter_rows(named=True)}
    region_of = dict(b.households.select("household_id", "region_id").iter_rows())
    rev = b.records.with_columns(pl.col("kind").cast(pl.String), pl.col("value").cast(pl.String))
    rev = rev.filter(
        (pl.col("kind") == "review")
        & (pl.col("event_date") >= as_of)
        & (pl.col("event_date") < end)
        & (pl.col("known_date") < end)
    )
    found: dict[str, list[bool]] = {}
    for r in rev.iter_rows(named=True):
        reg = regions[region_of[r["household_id"]]]
        limit = reg["dibao_standard"] * (
            reg["low_income_multiplier"] if line == "low_income" else 1
        )
        out = r["value"] == "exit" or (r["amount"] is not None and r["amount"] >= limit)
        found.setdefault(r["household_id"], []).append(out)
    return [all(found[i]) if i in found else None for i in ids]


def test_bundle_labels_from_reviews(pop, reviews, features):
    ids = reviews["household_id"].to_list()
    assert reviews["should_exit"].to_list() == _expected_from_reviews(pop.bundle, ids, AS_OF, H)
    labelled = reviews["should_exit"].is_not_null()
    assert 0.2 < labelled.mean() < 0.95  # reviews are selective
    assert (reviews.filter(~labelled)["weight"] == 0).all()
    assert (reviews.filter(labelled)["weight"] == 1).all()  # unweighted by default
    assert set(reviews.filter(~labelled)["label_source"]) == {"unreviewed"}
    assert set(reviews.filter(labelled)["label_source"]) <= {
        "review_exit",
        "review_above_line",
        "review_below_line",
    }
    assert "propensity" not in reviews.columns
    weighted = make_exit(pop.bundle, AS_OF, H, features=features, reweight=True)
    assert weighted["should_exit"].to_list() == reviews["should_exit"].to_list()
    assert weighted["propensity"].is_between(0, 1).all()
    assert (weighted.filter(labelled)["weight"] > 0).all()
    assert weighted.filter(labelled)["weight"].n_unique() > 1
    dibao = make_exit(pop.bundle, AS_OF, H, line="dibao")
    assert dibao["should_exit"].to_list() == _expected_from_reviews(
        pop.bundle, ids, AS_OF, H, "dibao"
    )
    # the dibao standard is the lower line: it never says "stay" where the other says exit
    both = reviews.join(dibao, on="household_id").filter(pl.col("should_exit"))
    assert both["should_exit_right"].all()


def test_review_labels_by_hand_on_a_tiny_bundle():
    """H2 and H4 are paid in May 2024; H1 is not; reviews come in the 3 months after June."""
    ca = "civil_affairs"
    bundle = _with_records(
        make_tiny_bundle(),
        [
            ("X1", "H2", None, ca, "benefit_dibao", D(2024, 5, 5), D(2024, 5, 8), 900.0, None),
            ("X2", "H4", None, ca, "benefit_tekun", D(2024, 5, 5), D(2024, 5, 8), 700.0, None),
            # H2: assessed below the low-income line (1090 x 1.5) -> stays
            ("X3", "H2", None, ca, "review", D(2024, 7, 10), D(2024, 8, 1), 1200.0, "continue"),
            # H4: the review decided exit -> should exit
            ("X4", "H4", None, ca, "review", D(2024, 6, 20), D(2024, 7, 2), 500.0, "exit"),
            # H4: a review in the window known only after it: never read
            ("X5", "H4", None, ca, "review", D(2024, 8, 20), D(2024, 9, 1), 10.0, "continue"),
            # H1 is no recipient: its review is not a label
            ("X6", "H1", None, ca, "review", D(2024, 7, 1), D(2024, 7, 9), 9000.0, "continue"),
        ],
    )
    y = make_exit(bundle, "2024-06-01", 3)
    assert y["household_id"].to_list() == ["H2", "H4"]
    assert y["should_exit"].to_list() == [False, True]
    assert y["label_source"].to_list() == ["review_below_line", "review_exit"]
    # with too few recipients to model who gets reviewed, the labelled weigh 1
    assert y["weight"].to_list() == [1.0, 1.0]
    # known before the window's end, the same review says H4 stays: then it is read
    late = bundle.records.with_columns(
        known_date=pl.when(pl.col("record_id") == "X5")
        .then(pl.lit(D(2024, 8, 31)))
        .otherwise(pl.col("known_date"))
    )
    b2 = HouseholdData(bundle.regions, bundle.households, bundle.members, late)
    assert make_exit(b2, "2024-06-01", 3)["should_exit"].to_list() == [False, False]
    # H2 assessed at or above the low-income line: should exit
    above = late.with_columns(
        amount=pl.when(pl.col("record_id") == "X3").then(1635.0).otherwise(pl.col("amount"))
    )
    b3 = HouseholdData(bundle.regions, bundle.households, bundle.members, above)
    assert make_exit(b3, "2024-06-01", 3)["label_source"].to_list() == [
        "review_above_line",
        "review_below_line",
    ]
    # the frame type follows the bundle
    pandas_bundle = HouseholdData(
        *(t.to_pandas() for t in (bundle.regions, bundle.households, bundle.members, late))
    )
    assert isinstance(make_exit(pandas_bundle, "2024-06-01", 3), pd.DataFrame)


def test_labels_are_point_in_time(pop, reviews):
    """A review known on the window's last day is read; known the day after, it is not."""
    unreviewed = reviews.filter(pl.col("should_exit").is_null())["household_id"][0]
    end = months_after(AS_OF, H)
    row = ("RX2", unreviewed, None, "civil_affairs", "review", D(2024, 6, 15))
    cols = ["household_id", "should_exit", "label_source"]
    for known, expected in ((end, None), (end - dt.timedelta(days=1), True)):
        bundle = _with_records(pop.bundle, [(*row, known, 99_999.0, "exit")])
        y = make_exit(bundle, AS_OF, H)
        assert y.filter(pl.col("household_id") == unreviewed)["should_exit"].item() is expected
        others = pl.col("household_id") != unreviewed
        assert y.filter(others).select(cols).equals(reviews.filter(others).select(cols))


# --- the exit model ----------------------------------------------------------------------

EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "delegated to GBMRiskModel, which fails it for a stated reason (tests/test_models.py): "
        "a weight of k is not k copies of a row for its calibration holdout and LightGBM's "
        "row subsampling."
    ),
}


@parametrize_with_checks(
    [ExitModel(GBMRiskModel(n_estimators=30, n_jobs=1))],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_default_estimator_is_the_gbm():
    model = ExitModel()
    assert model.get_params()["estimator"] is None
    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    assert isinstance(model.fit(X, y).estimator_, GBMRiskModel)
    assert "estimator__n_estimators" in ExitModel(GBMRiskModel()).get_params()


def test_exit_model_refuses_rows_that_are_not_recipients(pop, features, truth):
    rows = features.join(truth, on="household_id", how="inner")
    names = [c for c in features.columns if c != "household_id"]
    X = rows.select(["household_id", *names])
    y = rows["should_exit"].to_numpy().astype(int)
    model = ExitModel(GBMRiskModel(n_estimators=30, n_jobs=1)).fit(X, y)
    assert model.predict_proba(X).shape == (rows.height, 2)
    reasons = model.explain(X.head(3), top=2)
    assert set(reasons["row_id"]) == set(X["household_id"].head(3))
    outsiders = features.join(truth, on="household_id", how="anti").filter(
        (pl.col(RECIPIENT_FEATURES[0]) == 0) & (pl.col(RECIPIENT_FEATURES[1]) == 0)
    )
    first = outsiders["household_id"][0]
    msg = "row(s) of X that are not current recipients (e.g. ['" + first
    with pytest.raises(ValueError, match=re.escape(msg)):
        model.predict_proba(pl.concat([outsiders.select(X.columns), X]))
    with pytest.raises(ValueError, match=re.escape("not current recipients")):
        ExitModel(GBMRiskModel(n_estimators=30)).fit(
            pl.concat([outsiders.select(X.columns).head(5), X]), np.r_[np.zeros(5, int), y]
        )
    # it can only refuse what it can see: without names, or when told not to check
    bare = ExitModel(GBMRiskModel(n_estimators=30, n_jobs=1)).fit(X.select(names).to_numpy(), y)
    bare.predict_proba(outsiders.select(names).to_numpy())
    unchecked = ExitModel(GBMRiskModel(n_estimators=30), check_recipients=False).fit(X, y)
    unchecked.predict_proba(outsiders.select(X.columns))


def test_exit_model_learns_exits_among_recipients(pop, features, truth):
    from sklearn.metrics import roc_auc_score

    rows = features.join(truth, on="household_id", how="inner")
    names = [c for c in features.columns if c != "household_id"]
    half = np.arange(rows.height) % 2 == 0
    X, y = rows.select(names).to_pandas(), rows["should_exit"].to_numpy().astype(int)
    model = ExitModel(GBMRiskModel(n_estimators=50, min_child_samples=10, n_jobs=1))
    p = model.fit(X[half], y[half]).predict_proba(X[~half])[:, 1]
    assert roc_auc_score(y[~half], p) > 0.7


# --- phased exit -------------------------------------------------------------------------


def _scores(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"household_id": [f"H{i:04d}" for i in range(n)], "score": rng.random(n)})


@pytest.mark.parametrize("seed", range(5))
def test_phase_out_never_exits_without_a_review_and_keeps_the_capacity(seed):
    rng = np.random.default_rng(100 + seed)
    s = _scores(int(rng.integers(1, 300)), seed)
    capacity = [0.1, 0.5, 1.0, 7, 40][seed]
    grace = int(rng.integers(0, 7))
    threshold = float(rng.choice([0.0, 0.5, 0.9]))
    plan = phase_out(s, as_of="2025-01-01", capacity=capacity, grace_months=grace,
                     threshold=threshold)  # fmt: skip
    assert list(plan.columns) == list(SCHEDULE_COLUMNS)
    assert sorted(plan["household_id"]) == sorted(s["household_id"])
    booked = plan["route"] == EXIT_ROUTE
    assert set(plan["route"]) <= {EXIT_ROUTE, "none"}
    # no exit without a review: an exit date only where an exit review is booked
    assert plan.loc[plan["earliest_exit"].notna(), "route"].eq(EXIT_ROUTE).all()
    assert plan.loc[booked, "review_by"].notna().all()
    assert plan.loc[~booked, ["review_by", "earliest_exit"]].isna().all().all()
    # capacity: never more reviews than it allows
    k = capacity if isinstance(capacity, int) else round(capacity * len(s))
    assert booked.sum() <= k
    assert (plan.loc[booked, "exit_score"] >= threshold).all()
    # the highest scores first: nobody unbooked above the threshold outscores a booked one
    if booked.any():
        waiting = plan.loc[~booked & (plan["exit_score"] >= threshold), "exit_score"]
        assert waiting.empty or waiting.max() <= plan.loc[booked, "exit_score"].min()
    # grace: benefits run for `grace` full months after the review month
    for review_by, exit_on in plan.loc[booked, ["review_by", "earliest_exit"]].itertuples(
        index=False
    ):
        assert review_by.date() == D(2025, 1, 31)
        assert exit_on.date() == months_after(D(2025, 2, 1), grace)


def test_phase_out_grace_and_review_window():
    s = pl.DataFrame({"household_id": ["a", "b"], "score": [0.99, 0.2]})
    text = pd.DataFrame({"household_id": ["a", "b"], "reasons": ["wage up", "x"]})
    plan = phase_out(s, as_of="2025-03-01", capacity=1.0, grace_months=6, review_months=2,
                     threshold=0.9, reasons=text)  # fmt: skip
    assert isinstance(plan, pl.DataFrame)
    a = plan.row(0, named=True)
    assert (a["household_id"], a["route"]) == ("a", EXIT_ROUTE)
    assert a["review_by"] == D(2025, 4, 30)
    assert a["earliest_exit"] == D(2025, 11, 1)  # May..October paid: 6 months of grace
    assert a["reasons"] == "wage up"
    assert plan.row(1, named=True)["reasons"] is None  # not booked: no reasons


@pytest.mark.parametrize("capacity", [10, 0.2])
def test_exit_reviews_count_against_the_flag_capacity(capacity):
    need = _scores(100, 0)
    exit_scores = _scores(30, 1)  # recipients: the first 30 households
    plan = phase_out(exit_scores, as_of="2025-01-01", capacity=4, threshold=0.0)
    assert (plan["route"] == EXIT_ROUTE).sum() == 4
    before = ni.flagging.flag(need, capacity=capacity, as_of="2025-01-01")
    table = ni.flagging.flag(need, capacity=capacity, as_of="2025-01-01", exits=plan)
    k = 10 if capacity == 10 else 20
    assert (before["route"] != "none").sum() == k
    assert (table["route"] != "none").sum() == k  # the exit reviews took 4 of the visits
    booked = set(plan.loc[plan["route"] == EXIT_ROUTE, "household_id"])
    assert set(table.loc[table["route"] == EXIT_ROUTE, "household_id"]) == booked
    assert (table["route"] == "verification_visit").sum() == k - 4
    usage = ni.flagging.capacity_usage(table).set_index("route")
    assert usage.loc[EXIT_ROUTE, "households"] == 4
    assert usage["households"].sum() <= usage["capacity"].iloc[0]
    # a table without exits reads as before: no exit_review row
    assert EXIT_ROUTE not in set(ni.flagging.capacity_usage(before)["route"])


def test_a_trigger_wins_over_an_exit_review():
    need = _scores(20, 0)
    plan = phase_out(_scores(20, 1), as_of="2025-01-01", capacity=1.0, threshold=0.0)
    hit = plan["household_id"].iloc[0]

    class Hits:  # the two things flag() reads of a RuleHits
        rule_set_version = "test"

        def to_frame(self):
            return pl.DataFrame({"household_id": [hit], "rule_id": ["disaster_loss"],
                                 "kind": ["trigger"]})  # fmt: skip

    table = ni.flagging.flag(need, Hits(), capacity=20, as_of="2025-01-01", exits=plan)
    routes = table.set_index("household_id")["route"]
    assert routes[hit] == "immediate_assistance"
    assert (routes == EXIT_ROUTE).sum() == 19
    with pytest.raises(ValueError, match=re.escape("exit reviews share an overall capacity")):
        ni.flagging.flag(need.assign(region_id="r"), capacity=5, as_of="2025-01-01",
                         groups="region_id", exits=plan)  # fmt: skip


def test_phase_out_errors_name_the_fix():
    s = pd.DataFrame({"household_id": ["a", "a"], "score": [0.5, 1.5]})
    with pytest.raises(ValueError, match=re.escape("scores: 2 rows repeat a household_id; 1 ")):
        phase_out(s, as_of="2025-01-01", capacity=1)
    ok = s.iloc[:1]
    with pytest.raises(ValueError, match=re.escape("Got grace_months=-1; expected a whole")):
        phase_out(ok, as_of="2025-01-01", capacity=1, grace_months=-1)
    with pytest.raises(ValueError, match=re.escape("Got threshold=2; expected an exit score")):
        phase_out(ok, as_of="2025-01-01", capacity=1, threshold=2)
    with pytest.raises(ValueError, match=re.escape("Got capacity=2.5; expected a share")):
        phase_out(ok, as_of="2025-01-01", capacity=2.5)
    with pytest.raises(TypeError, match=re.escape("Got scores of type list")):
        phase_out([0.5], as_of="2025-01-01", capacity=1)
