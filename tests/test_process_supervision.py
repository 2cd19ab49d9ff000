"""Process supervision (issue #19 part 2): the five ``process`` rule templates on hand-built
cases and their clean counterparts, and the simulator's process problems: off by default
(byte-for-byte the same output), found by the rules when on, validated by field."""

from __future__ import annotations

import datetime as dt
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

import needsid as ni
from needsid.data import HouseholdData
from needsid.rules import RuleSet, RuleSetError, load
from needsid.simulation import (
    PROCESS_PROBLEMS,
    ProcessProblems,
    SimulationConfig,
    default_config,
)
from needsid.simulation._casebook import CASE_KINDS

from .conftest import make_tiny_bundle

D = date
CA = "civil_affairs"
ROOT = Path(__file__).resolve().parents[1]
PAYMENTS = ROOT / "configs" / "rules" / "process_payments.yaml"
RECORD_SCHEMA = dict(HouseholdData.empty().records.schema)


def bundle_of(rows: list[tuple]) -> HouseholdData:
    """The tiny fixture's households and members (see conftest) with these records.

    H1 (urban region 001, dibao standard 1090): 3 members; H2 (001): 1 member, P4.
    A row is ``(id, household, person, kind, event_date, amount, value)``: civil affairs
    records known on their event date.
    """
    tiny = make_tiny_bundle()
    full = [(i, h, p, CA, k, d, d, a, v) for i, h, p, k, d, a, v in rows]
    records = pl.DataFrame(full, schema=RECORD_SCHEMA, orient="row")
    return HouseholdData(tiny.regions, tiny.households, tiny.members, records)


def monthly(prefix: str, household: str, person: str, kind: str, months, amount: float):
    """Payments on the 10th of each (year, month)."""
    return [
        (f"{prefix}{i:02d}", household, person, kind, D(y, m, 10), amount, None)
        for i, (y, m) in enumerate(months)
    ]


def months_from(year: int, month: int, n: int) -> list[tuple[int, int]]:
    k = year * 12 + month - 1
    return [((k + i) // 12, (k + i) % 12 + 1) for i in range(n)]


def process_rule(template: str, reads: list[str], **thresholds) -> RuleSet:
    rule = {
        "id": "p",
        "kind": "process",
        "description": "A process rule.",
        "template": template,
        "reads": reads,
        "window_months": 36,
        "thresholds": thresholds,
        "severity": "medium",
        "programme": "process_supervision",
    }
    return RuleSet.from_dict({"id": "t", "version": "1", "description": "T.", "rules": [rule]})


def hits(rules: RuleSet, bundle: HouseholdData, as_of: str) -> list[tuple]:
    frame = rules.evaluate(bundle, as_of, suppress=False).to_frame()
    return frame.select("household_id", "evidence_record_ids", "evidence").rows()


# --- the templates on hand-built cases ------------------------------------------------------


LATE = process_rule("late_decision", ["application", "verification"], days=30)


def test_late_decision_fires_past_the_limit_and_not_within_it():
    app = ("A1", "H1", None, "application", D(2024, 1, 5), None, "app")
    late = ("V1", "H1", None, "verification", D(2024, 2, 20), 300.0, "approved_dibao")
    on_time = ("V1", "H1", None, "verification", D(2024, 2, 4), 300.0, "approved_dibao")
    assert hits(LATE, bundle_of([app, late]), "2024-06-01") == [
        (
            "H1",
            ["A1", "V1"],
            "decision approved_dibao on 2024-02-20, 46 days after the application of "
            "2024-01-05 (limit 30 days)",
        )
    ]
    # 30 days is on time; a decision answers the latest application before it
    assert hits(LATE, bundle_of([app, on_time]), "2024-06-01") == []
    reapplied = ("A2", "H1", None, "application", D(2024, 2, 1), None, "community")
    assert hits(LATE, bundle_of([app, reapplied, late]), "2024-06-01") == []


OVERDUE = process_rule(
    "overdue_review",
    ["benefit_dibao", "review", "verification"],
    payment_kinds=["benefit_dibao"],
    months=12,
)


def test_overdue_review_fires_a_year_after_the_last_review():
    pays = monthly("B", "H2", "P4", "benefit_dibao", months_from(2023, 1, 18), 500.0)
    review = ("V1", "H2", None, "review", D(2023, 3, 15), 600.0, "continue")
    # paid since the records begin (2023-01): the first review (2023-03) is the clock;
    # 2024-04 .. 2024-06 are more than 12 months after it
    (row,) = hits(OVERDUE, bundle_of([*pays, review]), "2024-09-01")
    assert row[0] == "H2" and row[1] == ["V1", "B15", "B16", "B17"]
    assert row[2] == (
        "benefit_dibao paid in 3 months (2024-04..2024-06, 1500 yuan) more than 12 months "
        "after the last review or approval (review continue of 2023-03-15): 15 months at "
        "the latest payment"
    )
    reviewed = ("V2", "H2", None, "review", D(2024, 3, 20), 600.0, "continue")
    assert hits(OVERDUE, bundle_of([*pays, review, reviewed]), "2024-09-01") == []
    # without any review, the clock starts with the payments: 18 months is overdue too
    (row,) = hits(OVERDUE, bundle_of(pays), "2024-09-01")
    assert row[1] == ["B13", "B14", "B15", "B16", "B17"]
    assert "after the payments began in 2023-01" in row[2]


def test_overdue_review_leaves_the_last_report_lag_unchecked():
    lagged = process_rule(
        "overdue_review",
        ["benefit_dibao", "review", "verification"],
        payment_kinds=["benefit_dibao"],
        months=12,
        report_lag_days=60,
    )
    pays = monthly("B", "H2", "P4", "benefit_dibao", months_from(2023, 1, 18), 500.0)
    review = ("V1", "H2", None, "review", D(2023, 3, 15), 600.0, "continue")
    # on 2024-07-01, payments from 2024-05-02 on are too recent to check
    (row,) = hits(lagged, bundle_of([*pays, review]), "2024-07-01")
    assert row[1] == ["V1", "B15"]


MISMATCH = load(PAYMENTS)


def test_payment_mismatch_compares_with_the_standard_minus_the_assessed_income():
    review = ("V1", "H2", None, "review", D(2024, 1, 15), 590.0, "continue")
    right = ("B1", "H2", "P4", "benefit_dibao", D(2024, 2, 10), 500.0, None)  # 1090 - 590
    near = ("B2", "H2", "P4", "benefit_dibao", D(2024, 3, 10), 540.0, None)  # within 54.5
    wrong = ("B3", "H2", "P4", "benefit_dibao", D(2024, 4, 10), 700.0, None)
    assert hits(MISMATCH, bundle_of([review, right, near]), "2024-08-01") == []
    assert hits(MISMATCH, bundle_of([review, right, near, wrong]), "2024-08-01") == [
        (
            "H2",
            ["V1", "B3"],
            "benefit_dibao of 700 yuan paid 2024-04-10 to 1 member; the statute gives 500 "
            "(standard 1090 minus 590 assessed per person in the review of 2024-01-15, "
            "tolerance 0.05 x the standard per person); 1 payment off (2024-04)",
        )
    ]
    # H1 has 3 members: 3 x (1090 - 90) = 3000 is right; 1000 is one person's share
    h1 = ("V2", "H1", None, "verification", D(2024, 1, 5), 90.0, "approved_dibao")
    h1_pay = ("B4", "H1", "P1", "benefit_dibao", D(2024, 2, 10), 3000.0, None)
    assert hits(MISMATCH, bundle_of([h1, h1_pay]), "2024-08-01") == []
    short = ("B4", "H1", "P1", "benefit_dibao", D(2024, 2, 10), 1000.0, None)
    assert [h for h, *_ in hits(MISMATCH, bundle_of([h1, short]), "2024-08-01")] == ["H1"]
    # assessed at or above the standard, or never assessed: the statute sets no amount
    above = ("V1", "H2", None, "review", D(2024, 1, 15), 1200.0, "reduce")
    assert hits(MISMATCH, bundle_of([above, wrong]), "2024-08-01") == []
    assert hits(MISMATCH, bundle_of([wrong]), "2024-08-01") == []


WITHOUT = process_rule(
    "payment_without_approval",
    ["benefit_dibao", "benefit_medical", "verification", "application"],
    payment_kinds=["benefit_dibao", "benefit_medical"],
    monthly_kinds=["benefit_dibao"],
    lookback_days=90,
    grace_days=20,
)
# the records begin in 2023-06 (another household's payment): later spells start inside
EARLIER = ("B00", "H2", "P4", "benefit_dibao", D(2023, 6, 10), 500.0, None)


def test_payment_without_approval_checks_a_new_spell_after_an_application():
    app = ("A1", "H1", None, "application", D(2024, 1, 5), None, "app")
    pays = monthly("B", "H1", "P1", "benefit_dibao", months_from(2024, 2, 3), 900.0)
    assert hits(WITHOUT, bundle_of([EARLIER, app, *pays]), "2024-08-01") == [
        (
            "H1",
            ["A1", "B00"],
            "benefit_dibao paid in 1 month (2024-02, 900 yuan) with no approval decision of "
            "the programme from 90 days before to 20 days after the payment (the household "
            "applied on 2024-01-05)",
        )
    ]
    # approved up to 20 days after the first payment: paid from the decision's month
    approved = ("V1", "H1", None, "verification", D(2024, 2, 28), 300.0, "approved_dibao")
    assert hits(WITHOUT, bundle_of([EARLIER, app, *pays, approved]), "2024-08-01") == []
    # another programme's approval does not count
    other = ("V1", "H1", None, "verification", D(2024, 2, 1), 300.0, "approved_tekun")
    assert [h for h, *_ in hits(WITHOUT, bundle_of([EARLIER, app, *pays, other]), "2024-08-01")]
    # no application before the spell: it may have begun before the records, unchecked
    assert hits(WITHOUT, bundle_of([EARLIER, *pays]), "2024-08-01") == []
    # the records' first month: unchecked even after an application
    assert hits(WITHOUT, bundle_of([app, *pays]), "2024-08-01") == []


def test_payment_without_approval_checks_every_one_off_grant():
    grant = ("G1", "H2", "P4", "benefit_medical", D(2024, 3, 20), 2000.0, None)
    (row,) = hits(WITHOUT, bundle_of([grant]), "2024-08-01")
    assert row[:2] == ("H2", ["G1"])
    approval = ("V1", "H2", None, "verification", D(2024, 3, 5), None, "approved_medical")
    assert hits(WITHOUT, bundle_of([grant, approval]), "2024-08-01") == []
    stale = ("V1", "H2", None, "verification", D(2023, 11, 5), None, "approved_medical")
    assert [h for h, *_ in hits(WITHOUT, bundle_of([grant, stale]), "2024-08-01")] == ["H2"]


AFTER_EXIT = process_rule(
    "paid_after_exit",
    ["benefit_dibao", "benefit_tekun", "review", "application", "verification"],
    payment_kinds=["benefit_dibao", "benefit_tekun"],
    grace_days=20,
)


def test_paid_after_exit_fires_when_the_exited_benefit_continues():
    pays = monthly("B", "H2", "P4", "benefit_dibao", months_from(2024, 1, 4), 500.0)
    exit_ = ("V1", "H2", None, "review", D(2024, 2, 20), 900.0, "exit")
    assert hits(AFTER_EXIT, bundle_of([*pays, exit_]), "2024-08-01") == [
        (
            "H2",
            ["V1", "B02", "B03"],
            "exit decided on 2024-02-20; then benefit_dibao paid in 2 months (2024-03..2024-04, "
            "1000 yuan) with no new application or approval",
        )
    ]
    # the payments stop: clean; or a new case opens (an application) after the exit
    assert hits(AFTER_EXIT, bundle_of([*pays[:2], exit_]), "2024-08-01") == []
    reapplied = ("A1", "H2", None, "application", D(2024, 2, 25), None, "walk_in")
    assert hits(AFTER_EXIT, bundle_of([*pays, exit_, reapplied]), "2024-08-01") == []


def test_an_exit_ends_only_the_programme_paid_before_it():
    tekun = monthly("T", "H2", "P4", "benefit_tekun", months_from(2024, 1, 2), 1400.0)
    exit_ = ("V1", "H2", None, "review", D(2024, 2, 20), 900.0, "exit")
    # the household left tekun and was approved for dibao, paid from the exit's month
    app = ("A1", "H2", None, "application", D(2024, 2, 1), None, "app")
    dibao_ok = ("V2", "H2", None, "verification", D(2024, 2, 12), 400.0, "approved_dibao")
    dibao = monthly("B", "H2", "P4", "benefit_dibao", months_from(2024, 3, 3), 690.0)
    assert hits(AFTER_EXIT, bundle_of([*tekun, exit_, app, dibao_ok, *dibao]), "2024-08-01") == []
    # tekun paid after the exit is found
    more = ("T09", "H2", "P4", "benefit_tekun", D(2024, 4, 10), 1400.0, None)
    rows = hits(AFTER_EXIT, bundle_of([*tekun, exit_, app, dibao_ok, *dibao, more]), "2024-08-01")
    assert [r[1] for r in rows] == [["V1", "T09"]]


def test_process_hits_cover_dissolved_households():
    # H3 was dissolved on 2023-05-01: its late decision is still a finding
    app = ("A1", "H3", None, "application", D(2023, 1, 5), None, "app")
    late = ("V1", "H3", None, "verification", D(2023, 3, 20), 300.0, "declined")
    assert [h for h, *_ in hits(LATE, bundle_of([app, late]), "2024-06-01")] == ["H3"]


@pytest.mark.parametrize(
    ("template", "thresholds", "message"),
    [
        (
            "overdue_review",
            {"payment_kinds": ["pension"], "months": 12},
            "rule 'p', field 'thresholds.payment_kinds': 'pension' has no approval decision: "
            "a payment kind benefit_<programme> is approved by a verification valued "
            "approved_<programme>; the vocabulary's approvable kinds are benefit_dibao, "
            "benefit_tekun, benefit_housing, benefit_medical.",
        ),
        (
            "payment_without_approval",
            {
                "payment_kinds": ["benefit_dibao"],
                "monthly_kinds": ["benefit_tekun"],
                "lookback_days": 90,
            },
            "rule 'p', field 'thresholds.monthly_kinds': monthly_kinds ['benefit_tekun'] are "
            "not in payment_kinds ['benefit_dibao']; list them in payment_kinds too.",
        ),
        (
            "late_decision",
            {},
            "rule 'p', field 'thresholds.days': missing threshold; the 'late_decision' "
            "template needs it.",
        ),
        (
            "payment_mismatch",
            {"tolerance": 0},
            "rule 'p', field 'thresholds.tolerance': Input should be greater than 0",
        ),
    ],
)
def test_bad_thresholds_name_the_rule_and_field(template, thresholds, message):
    reads = {
        "overdue_review": ["pension", "review", "verification"],
        "payment_without_approval": ["benefit_dibao", "verification", "application"],
        "late_decision": ["application", "verification"],
        "payment_mismatch": ["benefit_dibao", "verification", "review"],
    }[template]
    with pytest.raises(RuleSetError, match=re.escape(message)):
        process_rule(template, reads, **thresholds)


# --- the simulator: off by default, on behind the switch ------------------------------------


def _same(a, b):
    assert a.bundle.fingerprint() == b.bundle.fingerprint()
    for name, table in a.bundle.tables.items():
        assert table.equals(b.bundle.tables[name]), name
    for name in ("monthly", "households", "anomalies", "outcomes"):
        assert getattr(a.truth, name).equals(getattr(b.truth, name)), name


def test_the_switch_off_draws_exactly_what_a_config_without_the_field_draws():
    raw = default_config().model_dump()
    without = SimulationConfig(**{k: v for k, v in raw.items() if k != "process_problems"})
    off = SimulationConfig(**{**raw, "process_problems": None})
    assert "process_problems" not in without.model_fields_set
    a = ni.simulate(n_households=2000, months=24, seed=0, config=without)
    b = ni.simulate(n_households=2000, months=24, seed=0, config=off)
    _same(a, b)
    assert a.truth.process_cases is None and b.config.process_problems is None


def _with(**fields) -> SimulationConfig:
    return default_config().model_copy(update={"process_problems": ProcessProblems(**fields)})


@pytest.fixture(scope="module")
def runs():
    base = ni.simulate(n_households=3000, months=36, seed=1)
    on = ni.simulate(n_households=3000, months=36, seed=1, config=_with(yearly_rates=[0.3]))
    return base, on


def test_the_switch_changes_only_the_casework_records(runs):
    base, on = runs
    for name in ("regions", "households", "members"):
        assert base.bundle.tables[name].equals(on.bundle.tables[name]), name
    kind = pl.col("kind").cast(pl.String)
    other = ~kind.is_in([*CASE_KINDS, "benefit_housing", "benefit_medical"])
    # categoricals as text: before polars 1.32 they compare by their codes
    text = pl.col(pl.Categorical).cast(pl.String)
    assert (
        base.bundle.records.filter(other).with_columns(text)
        .equals(on.bundle.records.filter(other).with_columns(text))
    )  # fmt: skip
    for name in ("monthly", "households", "outcomes"):
        assert getattr(base.truth, name).equals(getattr(on.truth, name)), name
    # the earlier anomalies are all kept; the new ones are the process problems
    before = base.truth.anomalies
    keys = {"on": before.columns, "how": "anti", "nulls_equal": True}
    assert before.join(on.truth.anomalies, **keys).height == 0
    new = on.truth.anomalies.join(before, **keys)
    assert set(new["anomaly"]) == set(PROCESS_PROBLEMS)
    assert new["person_id"].null_count() == new.height
    ni.validate(on.bundle)  # the changed extract is still valid data
    assert on.config.process_problems == ProcessProblems(yearly_rates=[0.3])


def test_the_grants_are_written_as_the_vocabulary_documents(runs):
    _, on = runs
    records = on.bundle.records.with_columns(pl.col("kind").cast(pl.String))
    for kind, approval in (
        ("benefit_housing", "approved_housing"),
        ("benefit_medical", "approved_medical"),
    ):
        grants = records.filter(pl.col("kind") == kind)
        assert grants.height > 0, kind
        assert grants["amount"].null_count() == 0 and grants["value"].null_count() == grants.height
        approvals = records.filter(pl.col("value").cast(pl.String) == approval)
        assert approvals.height > 0 and approvals["amount"].null_count() == approvals.height
    cases = on.truth.process_cases
    assert set(cases["programme"]) == {"dibao_tekun", "dibao", "housing", "medical"}
    assert set(cases["process"]) == {*PROCESS_PROBLEMS, "grant"}


def test_injected_problems_are_found_by_the_rules(runs):
    _, on = runs
    process = load().select(kinds=["process"])
    rules = RuleSet(
        id="process", version="1", description="All.", rules=process.rules + MISMATCH.rules
    )
    found = rules.evaluate(on.bundle, on.end, suppress=False).to_frame()
    # the rules leave payments of the last 60 days unchecked (their decisions may not be
    # known yet): problems first shown in the last two months can be found only later
    shown = pl.col("month") < dt.date(2025, 11, 1)
    truth = on.truth.anomalies
    assert truth.filter(~shown).height > 0
    for name in PROCESS_PROBLEMS:
        hit = set(found.filter(pl.col("rule_id") == name)["household_id"])
        named = truth.filter(pl.col("anomaly") == name)
        true = set(named.filter(shown)["household_id"])
        assert len(true) >= 8, name
        assert len(hit & true) / len(true) >= 0.95, (name, len(true - hit), len(true))
        # a hit is a household with that problem (some shown only in the last months)
        anywhere = set(named["household_id"])
        assert len(hit & anywhere) / len(hit) >= 0.95, (name, len(hit - anywhere), len(hit))


def test_rates_by_year_follow_the_config(runs):
    _, on = runs
    cases = on.truth.process_cases.filter(pl.col("programme") != "housing")
    rates = cases.group_by("process").agg(pl.col("anomaly").is_not_null().mean(), pl.len())
    for process, rate, n in rates.rows():
        target = 0.092 if process == "grant" else 0.3
        # binomial noise (candidates are struck more often where few cases can carry one)
        assert abs(rate - target) < 3.5 * (target * (1 - target) / n) ** 0.5 + 0.02, (
            process,
            rate,
            n,
        )


def test_each_problem_can_be_injected_alone():
    config = _with(problems=["late_decision"], yearly_rates=[0.5])
    pop = ni.simulate(n_households=800, months=24, seed=2, config=config)
    new = set(pop.truth.anomalies["anomaly"]) & set(PROCESS_PROBLEMS)
    assert new == {"late_decision"}


def test_the_default_rule_sets_process_rules_are_silent_on_the_default_simulation():
    pop = ni.simulate(n_households=2000, months=24, seed=0)
    process = load().select(kinds=["process"])
    assert len(process.evaluate(pop.bundle, pop.end, suppress=False)) == 0


# --- configuration errors name the field ---------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"yearly_rates": [0.2, 1.5]}, "process_problems.yearly_rates.1\n  Input should be less"),
        ({"yearly_rates": []}, "process_problems.yearly_rates\n  Tuple should have at least 1"),
        ({"medical_rate": -0.1}, "process_problems.medical_rate\n  Input should be greater"),
        (
            {"problems": ["late_decision", "slow_payment"]},
            "process_problems.problems\n  Value error, Got problems=['late_decision', "
            "'slow_payment']; expected some of late_decision, overdue_review, "
            "payment_mismatch, payment_without_approval, paid_after_exit.",
        ),
        (
            {"problems": ["late_decision", "late_decision"]},
            "Got problems=['late_decision', 'late_decision']; ['late_decision'] listed more "
            "than once.",
        ),
        ({"review_months": 6}, "process_problems.review_months\n  Input should be greater"),
        ({"rates": [0.1]}, "process_problems.rates\n  Extra inputs are not permitted"),
    ],
)
def test_process_problems_fields_are_validated_by_name(fields, message):
    raw = default_config().model_dump()
    with pytest.raises(ValidationError, match=re.escape(message)):
        SimulationConfig(**{**raw, "process_problems": fields})


def test_a_decision_limit_below_the_slowest_decision_is_refused_by_simulate():
    config = default_config().model_copy(update={"process_problems": {"decision_limit_days": 20}})
    message = (
        "Got process_problems.decision_limit_days=20; the status quo decides up to "
        "assessment.decision_days[1]=30 days after an application, so decisions on time "
        "would count as late: give at least 30."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        ni.simulate(n_households=50, months=6, seed=0, config=config)


def test_rates_beyond_the_listed_years_repeat_the_last():
    problems = ProcessProblems(yearly_rates=[0.5, 0.1])
    assert [problems.rate(y) for y in range(4)] == [0.5, 0.1, 0.1, 0.1]
    assert ProcessProblems().yearly_rates == (0.218, 0.040, 0.048)
    assert (ProcessProblems().housing_rate, ProcessProblems().medical_rate) == (0.158, 0.092)
