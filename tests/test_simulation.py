"""The simulator: determinism, the data contract, calibration, dynamics and injected truth."""

import datetime as dt
import re

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

import needsid as ni
from needsid.data import TABLES
from needsid.simulation import NEED_DIMENSIONS, SimulationConfig, default_config


@pytest.fixture(scope="module")
def pop():
    return ni.simulate(n_households=20_000, months=36, seed=3)


def test_same_seed_same_bytes_and_different_seed_differs():
    a = ni.simulate(n_households=500, months=8, seed=11)
    b = ni.simulate(n_households=500, months=8, seed=11)
    c = ni.simulate(n_households=500, months=8, seed=12)
    assert a.bundle.fingerprint() == b.bundle.fingerprint()
    assert a.truth.monthly.equals(b.truth.monthly)
    assert a.truth.anomalies.equals(b.truth.anomalies)
    assert a.bundle.fingerprint() != c.bundle.fingerprint()


def test_threads_do_not_change_the_result(tmp_path):
    one = ni.simulate(n_households=800, months=6, seed=4, n_jobs=1)
    two = ni.simulate(n_households=800, months=6, seed=4, n_jobs=2)
    assert one.bundle.fingerprint() == two.bundle.fingerprint()
    assert one.truth.monthly.equals(two.truth.monthly)
    # same bytes on disk, too
    one.bundle.write(tmp_path / "a")
    two.bundle.write(tmp_path / "b")
    for name in ("regions", "households", "members", "records"):
        a = (tmp_path / "a" / f"{name}.parquet").read_bytes()
        assert a == (tmp_path / "b" / f"{name}.parquet").read_bytes()


def test_bundle_follows_contract_and_truth_stays_out(pop):
    ni.validate(pop.bundle)
    for name, spec in TABLES.items():
        assert tuple(getattr(pop.bundle, name).columns) == spec.column_names
    truth_only = {"state", "in_need", "invisible", "p_need", "net_income_per_capita"}
    for name in TABLES:
        assert not truth_only & set(getattr(pop.bundle, name).columns)


def test_no_record_is_known_after_the_extract(pop):
    rec = pop.bundle.records
    assert rec["known_date"].max() < pop.end
    assert (rec["known_date"] >= rec["event_date"]).all()


def test_need_income_is_income_below_the_low_income_line(pop):
    hh = pop.bundle.households.join(pop.bundle.regions, on="region_id")
    line = hh.select(
        "household_id", (pl.col("dibao_standard") * pl.col("low_income_multiplier")).alias("line")
    )
    m = pop.truth.monthly.join(line, on="household_id")
    below = m["net_income_per_capita"] < m["line"]
    assert (below == m["need_income"]).all()
    assert (m["in_need"] == m["need_income"]).all()
    assert {f"need_{d}" for d in NEED_DIMENSIONS} <= set(m.columns)


def test_every_need_dimension_occurs(pop):
    rates = pop.truth.monthly.select(pl.col(f"need_{d}").mean() for d in NEED_DIMENSIONS).row(0)
    assert all(0.001 < r < 0.5 for r in rates), rates


def test_population_changes_over_time(pop):
    start = pop.start
    hh = pop.bundle.households
    m = pop.bundle.members
    assert hh.filter(pl.col("formed_on") > start).height > 50  # splits
    assert hh.filter(pl.col("dissolved_on").is_not_null()).height > 50  # deaths, moves
    births = m.filter(
        (pl.col("birth_date") == pl.col("joined_on")) & (pl.col("birth_date") >= start)
    )
    assert births.height > 100
    movers = m.group_by("person_id").len().filter(pl.col("len") > 1)
    assert movers.height > 50
    deaths = pop.bundle.records.filter(pl.col("kind") == "death")
    assert deaths.height > 100


def test_invisible_households_leave_fewer_records(pop):
    per_hh = pop.bundle.records.group_by("household_id").len()
    hh = pop.truth.households.select("household_id", "invisible").join(
        per_hh, on="household_id", how="left"
    )
    rates = hh.group_by("invisible").agg(pl.col("len").fill_null(0).mean()).sort("invisible")
    visible_rate, invisible_rate = rates["len"].to_list()
    assert invisible_rate < 0.5 * visible_rate


def test_status_quo_has_large_targeting_errors(pop):
    month = dt.date(2024, 6, 1)
    paid = (
        pop.bundle.records.filter(
            pl.col("kind").is_in(["benefit_dibao", "benefit_tekun"])
            & (pl.col("event_date").dt.truncate("1mo") == month)
        )
        .select("household_id")
        .unique()
        .with_columns(paid=pl.lit(True))
    )
    t = pop.truth.monthly.filter(pl.col("month") == month).join(
        paid, on="household_id", how="left"
    )
    paid_mask = t["paid"].fill_null(False)
    need = t["in_need"]
    exclusion = (need & ~paid_mask).sum() / need.sum()
    inclusion = (paid_mask & ~need).sum() / paid_mask.sum()
    assert exclusion > 0.3 and inclusion > 0.2, (exclusion, inclusion)


def test_paid_after_death_has_payment_after_the_spell_ends(pop):
    anomalies = pop.truth.anomalies.filter(pl.col("anomaly") == "paid_after_death")
    assert anomalies.height > 0
    ended = pop.bundle.members.group_by("person_id").agg(pl.col("left_on").max())
    payments = pop.bundle.records.filter(
        pl.col("kind").is_in(["disability_living_subsidy", "disability_care_subsidy"])
    ).select("person_id", "event_date")
    checked = (
        anomalies.join(ended, on="person_id")
        .join(payments, on="person_id")
        .filter(pl.col("event_date") > pl.col("left_on"))
    )
    assert set(checked["person_id"]) == set(anomalies["person_id"])


def test_duplicate_benefit_means_living_subsidy_in_a_tekun_household(pop):
    dup = pop.truth.anomalies.filter(pl.col("anomaly") == "duplicate_benefit")
    assert dup.height > 0
    rec = pop.bundle.records.with_columns(m=pl.col("event_date").dt.truncate("1mo"))
    living = rec.filter(pl.col("kind") == "disability_living_subsidy").select(
        "person_id", "household_id", "m"
    )
    tekun = rec.filter(pl.col("kind") == "benefit_tekun").select("household_id", "m").unique()
    both = living.join(tekun, on=["household_id", "m"]).select("person_id").unique()
    assert set(dup["person_id"]) <= set(both["person_id"])


def test_asset_anomalies_are_recipients_with_recorded_or_hidden_assets(pop):
    kinds = set(pop.truth.anomalies["anomaly"])
    assert {"asset_vehicle", "asset_property", "asset_business", "asset_deposit"} <= kinds
    vehicles = pop.truth.anomalies.filter(pl.col("anomaly") == "asset_vehicle")
    dibao = (
        pop.bundle.records.filter(pl.col("kind") == "benefit_dibao")
        .select("household_id")
        .unique()
    )
    assert set(vehicles["household_id"]) <= set(dibao["household_id"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_households": 0}, "Got n_households=0; expected a positive integer."),
        ({"months": 0}, "Got months=0; expected a whole number of months in 1..240."),
        ({"months": 2.5}, "Got months=2.5; expected a whole number of months in 1..240."),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ni.simulate(**{"n_households": 10, "months": 3, **kwargs})


def test_config_rejects_unknown_keys_and_bad_start():
    raw = default_config().model_dump()
    with pytest.raises(ValidationError, match="bogus"):
        SimulationConfig(**raw, bogus=1)
    with pytest.raises(ValidationError, match=re.escape("start must be the first day of a month")):
        SimulationConfig(**{**raw, "start": dt.date(2023, 1, 15)})


@pytest.mark.slow
def test_calibration_targets_met_on_100k_households():
    pop = ni.simulate(n_households=100_000, months=36, seed=0)
    report = ni.simulation.calibration_report(pop)
    failing = report[~report["within"]]
    assert failing.empty, failing.to_string()
    assert len(report) == len(ni.simulation.load_calibration())


# --- casework outcomes: the selective labels a county holds ------------------------------

CASEWORK_KINDS = ["verification", "review", "home_visit"]


def test_casework_records_follow_the_status_quo_process(pop):
    rec = pop.bundle.records.with_columns(pl.col("kind").cast(pl.String))
    ver = rec.filter(pl.col("kind") == "verification")
    apps = rec.filter(pl.col("kind") == "application")
    # every verification has an earlier application of its household, known by then
    first = apps.group_by("household_id").agg(
        pl.col("event_date").min().alias("applied"), pl.col("known_date").min().alias("app_k")
    )
    joined = ver.join(first, on="household_id", how="left")
    assert joined["applied"].is_not_null().all()
    assert (joined["applied"] <= joined["event_date"]).all()
    o = pop.truth.outcomes
    # the status quo's applicants are far needier than the population
    applicants = o.filter(pl.col("process") == "verification")
    assert applicants["poor"].mean() > 5 * pop.truth.monthly["need_income"].mean()
    # a withdrawn application has no assessed income; every other assessment has one
    assessed = o.filter(pl.col("process") != "home_visit")
    withdrawn = assessed["decision"] == "withdrawn"
    assert assessed.filter(withdrawn)["assessed_income"].is_null().all()
    assert assessed.filter(~withdrawn)["assessed_income"].is_not_null().all()
    # every exit from a programme comes with a review that says so
    exits = o.filter(pl.col("reason") == "exit_review")
    assert exits.height > 0 and (exits["decision"] == "exit").all()
    # visits find the truth with the configured error rates (4 standard errors)
    a = pop.config.assessment
    visits = o.filter((pl.col("process") == "home_visit") & (pl.col("decision") != "not_found"))
    for poor, expected in ((True, 1 - a.visit_miss_rate), (False, a.visit_false_rate)):
        part = visits.filter(pl.col("poor") == poor)
        got = (part["decision"] == "hardship_confirmed").mean()
        se = (expected * (1 - expected) / part.height) ** 0.5
        assert abs(got - expected) < 4 * se, (poor, got, expected)


def test_assessment_misses_informal_income_and_nothing_else_moves():
    base = ni.simulation.default_config()
    exact = base.model_copy(
        update={"assessment": base.assessment.model_copy(
            update={"missed_informal_share": 0.0, "noise_sd": 0.0})}
    )  # fmt: skip
    a = ni.simulate(n_households=3000, months=18, seed=2)
    b = ni.simulate(n_households=3000, months=18, seed=2, config=exact)
    # an assessor who misses nothing and measures without noise reads the true income
    ob = b.truth.outcomes.filter(pl.col("assessed_income").is_not_null())
    assert ob.height > 0
    assert np.allclose(ob["assessed_income"], ob["net_income_per_capita"], atol=0.01)
    # the default assessor misses part of the informal income: it assesses lower
    oa = a.truth.outcomes.filter(pl.col("assessed_income").is_not_null())
    assert (oa["assessed_income"] / oa["net_income_per_capita"]).median() < 0.95

    # casework draws from its own stream: every other record is the same
    def others(pop):
        kind = pl.col("kind").cast(pl.String)
        # a visit's finding is casework too; the visit itself is not
        finding = pl.when(kind == "home_visit").then(None).otherwise(pl.col("value"))
        rec = pop.bundle.records.filter(~kind.is_in(["verification", "review"]))
        # categoricals as text: before polars 1.32 they sort and compare by their codes,
        # which differ between two populations
        rec = rec.with_columns(pl.col(pl.Categorical).cast(pl.String))
        return rec.with_columns(value=finding.cast(pl.String)).drop("record_id").sort(
            "household_id", "kind", "event_date", "known_date", "person_id", "amount", "value",
            nulls_last=True,
        )  # fmt: skip

    assert others(a).equals(others(b))
    assert a.truth.monthly.equals(b.truth.monthly)
