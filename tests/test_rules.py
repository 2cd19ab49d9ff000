"""Rule engine: YAML validation, each template on hand-built records, point-in-time,
suppression, expiry, the hit table, and cross-checks against injected truth at scale."""

from __future__ import annotations

import datetime as dt
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

import needsid as ni
from needsid._dates import months_before
from needsid.data import HouseholdData
from needsid.rules import RuleHits, RuleSet, RuleSetError, household_attributes, load
from needsid.rules._coverage import OUTREACH_FEATURES, outreach_features
from needsid.rules._engine import _fire
from needsid.rules._frames import Context

from .conftest import make_tiny_bundle

D = date
DEFAULT = Path(__file__).resolve().parents[1] / "configs" / "rules" / "default.yaml"
CA, HR, PS = "civil_affairs", "human_resources", "public_security"
MI, OOP = "medical_insurance", "medical_oop"
DPF = "disabled_persons_federation"
# the contract's record columns and polars types
RECORD_SCHEMA = dict(HouseholdData.empty().records.schema)


def bundle_with(rows: list[tuple], keep_tiny: bool = False) -> HouseholdData:
    """The tiny fixture's households and members with these records (R90.. ids if unset).

    A row is ``(household, person, source, kind, event_date, known_date, amount, value)``
    or the same with a record id first.
    """
    tiny = make_tiny_bundle()
    full = [r if len(r) == 9 else (f"R{90 + i:03d}", *r) for i, r in enumerate(rows)]
    records = pl.DataFrame(full, schema=RECORD_SCHEMA, orient="row")
    if keep_tiny:
        records = pl.concat([tiny.records, records])
    return HouseholdData(tiny.regions, tiny.households, tiny.members, records)


def rule(**changes) -> dict:
    base = {
        "id": "r",
        "kind": "trigger",
        "description": "A test rule.",
        "template": "event",
        "reads": ["death"],
        "window_months": 3,
        "severity": "high",
        "programme": "temporary_assistance",
    }
    base.update(changes)
    return base


def ruleset(*rules: dict) -> RuleSet:
    return RuleSet.from_dict(
        {"id": "test", "version": "0.1", "description": "Tests.", "rules": list(rules)}
    )


def hits_of(rs: RuleSet, bundle, as_of, **kw) -> list[tuple]:
    frame = rs.evaluate(bundle, as_of, **kw).to_frame()
    return frame.select("household_id", "person_id", "evidence_record_ids", "evidence").rows()


# --- the shipped rule set ------------------------------------------------------------------


def test_default_rule_set_loads_and_covers_the_issue():
    rs = load(DEFAULT)
    assert (rs.id, rs.version) == ("default", "2026.2")
    kinds = {r.kind for r in rs.rules}
    assert kinds == {"trigger", "cross_check", "exit", "outreach", "process"}
    assert len(set(rs.ids)) == len(rs.ids)
    templates = {r.template for r in rs.rules}
    assert {
        "event",
        "event_vs_income",
        "only_earner_unemployed",
        "income_drop",
        "overlap",
        "paid_after_death",
        "paid_in_prison",
        "asset_test",
        "exit_income",
        "exit_employment",
        "outreach",
        "late_decision",
        "overdue_review",
        "payment_without_approval",
        "paid_after_exit",
    } <= templates


def test_default_asset_thresholds_match_the_simulator():
    from needsid.simulation._programmes import ASSET_VEHICLE_VALUE, DEPOSIT_MONTHS

    rs = load(DEFAULT)
    assert rs.rule("dibao_asset_vehicle").params.min_value == ASSET_VEHICLE_VALUE
    assert rs.rule("dibao_asset_deposit").params.deposit_months == DEPOSIT_MONTHS
    assert rs.rule("dibao_asset_property").params.min_count == 2


def test_default_numeric_thresholds_carry_a_comment():
    """Each number in thresholds says where it comes from (inline or just above)."""
    lines = DEFAULT.read_text("utf-8").splitlines()
    numeric = re.compile(r"^\s+(\w+):\s*-?[0-9.]+\s*(#.*)?$")
    undocumented = []
    for i, line in enumerate(lines):
        m = numeric.match(line)
        if not m or m.group(1) in {"window_months", "suppress_months", "expires_months"}:
            continue
        above = lines[i - 1].strip()
        if not m.group(2) and not above.startswith("#"):
            undocumented.append(line.strip())
    assert not undocumented


# --- YAML errors: each names the rule id and the field -------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"kind": "trigga"},
            "rule 'r', field 'kind': Got kind='trigga'; expected one of trigger, "
            "cross_check, exit, outreach, process.",
        ),
        (
            {"template": "regex"},
            "rule 'r', field 'template': Got template='regex'; expected one of event, ",
        ),
        (
            {"reads": ["deaht"]},
            "rule 'r', field 'reads': unknown record kind 'deaht'; the known kinds are "
            "listed by needsid.data.record_vocabulary(). Did you mean 'death'?",
        ),
        (
            {"window_months": 0},
            "rule 'r', field 'window_months': Got window_months=0; expected a whole number "
            "of months in 1..120, e.g. 3.",
        ),
        (
            {"window_months": "3"},
            "rule 'r', field 'window_months': Got window_months='3'; expected a whole number",
        ),
        (
            {"template": "income_drop", "reads": ["wage"], "thresholds": {"lag_months": 2}},
            "rule 'r', field 'thresholds.min_drop': missing threshold; the 'income_drop' "
            "template needs it.",
        ),
        (
            {
                "template": "income_drop",
                "reads": ["wage"],
                "window_months": 4,
                "thresholds": {"min_drop": 0.5},
            },
            "rule 'r', field 'window_months': Got window_months=4; the 'income_drop' template "
            "with these thresholds looks at 8 months, so the window must be at least 8.",
        ),
        (
            {"thresholds": {"min_agee": 16}},
            "rule 'r', field 'thresholds.min_agee': unknown field; the 'event' template takes "
            "min_amount, max_amount, min_age, max_age, values, min_count.",
        ),
        (
            {
                "template": "asset_test",
                "kind": "cross_check",
                "reads": ["benefit_dibao", "vehicle"],
                "thresholds": {"benefit_kinds": ["benefit_dibao"], "asset": "vehicle"},
            },
            "rule 'r', field 'thresholds.min_value': missing: asset='vehicle' needs the "
            "threshold 'min_value'.",
        ),
        (
            {
                "template": "overlap",
                "kind": "cross_check",
                "reads": ["benefit_tekun", "wagez"],
                "thresholds": {"person_kinds": ["wagez"], "household_kinds": ["benefit_tekun"]},
            },
            "rule 'r', field 'reads': unknown record kind 'wagez'",
        ),
        (
            {
                "template": "paid_after_death",
                "kind": "cross_check",
                "reads": ["benefit_dibao"],
                "thresholds": {"payment_kinds": ["benefit_dibao"]},
            },
            "rule 'r', field 'reads': the 'paid_after_death' template with these thresholds "
            "reads ['benefit_dibao', 'death'], but reads lists ['benefit_dibao']; list exactly "
            "the kinds it reads.",
        ),
        (
            {"severity": "urgent"},
            "rule 'r', field 'severity': Got severity='urgent'; expected one of low, medium, "
            "high.",
        ),
        (
            {"colour": "red"},
            "rule 'r', field 'colour': unknown field; a rule takes id, kind, description,",
        ),
    ],
)
def test_malformed_rules_name_rule_and_field(changes, message):
    with pytest.raises(RuleSetError, match=re.escape(message)):
        ruleset(rule(**changes))


def test_missing_rule_field_is_named():
    bad = rule()
    del bad["programme"]
    with pytest.raises(RuleSetError, match=re.escape("rule 'r', field 'programme': missing;")):
        ruleset(bad)


def test_duplicate_ids_and_every_problem_reported_at_once():
    with pytest.raises(RuleSetError) as info:
        ruleset(rule(), rule(window_months=-1), rule(id="s", kind="nope"))
    text = str(info.value)
    assert "(3 problems)" in text
    assert re.search(
        re.escape(
            "rule 'r', field 'id': duplicate id (rules #1 and #2); give each rule its own id."
        ),
        text,
    )
    assert "rule 'r', field 'window_months': Got window_months=-1" in text
    assert "rule 's', field 'kind': Got kind='nope'" in text
    assert len(info.value.problems) == 3


def test_rule_set_header_errors(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        yaml.safe_dump(
            {"id": "x", "version": 2026.1, "description": "d", "rules": [rule()], "owner": "me"}
        )
    )
    with pytest.raises(RuleSetError) as info:
        load(path)
    text = str(info.value)
    assert text.startswith(f"Invalid rule set {str(path)!r} (2 problems):")
    assert re.search(re.escape("field 'version': Got version=2026.1, a number; quote it"), text)
    owner = "field 'owner': unknown field; a rule set takes id, version, description, rules."
    assert owner in text
    path.write_text("rules: [unclosed")
    with pytest.raises(RuleSetError, match="not valid YAML"):
        load(path)
    with pytest.raises(FileNotFoundError, match=re.escape("not found; pass a YAML file path")):
        load(tmp_path / "missing.yaml")


# --- templates on hand-built records --------------------------------------------------------

P1_DEATH = ("H1", "P1", PS, "death", D(2024, 3, 10), D(2024, 3, 15), None, None)


def test_event_working_age_death():
    rs = ruleset(rule(thresholds={"min_age": 16, "max_age": 59}))
    b = bundle_with([P1_DEATH], keep_tiny=True)  # P6 (72) died in the tiny fixture too
    assert hits_of(rs, b, "2024-04-01") == [
        ("H1", "P1", ["R090"], "death of P1 (age 38) on 2024-03-10")
    ]
    # P6 (72) is not of working age; a rule for older people finds P6 while H3 existed
    assert hits_of(
        ruleset(rule(window_months=24, thresholds={"min_age": 60})), b, "2023-01-01"
    ) == [("H3", "P6", ["R05"], "death of P6 (age 72) on 2022-11-20")]


def test_event_filters_amount_value_and_count():
    rows = [
        ("H2", "P4", MI, OOP, D(2024, 1, 5), D(2024, 2, 1), 12000.4, None),
        ("H2", "P4", MI, OOP, D(2024, 2, 5), D(2024, 3, 1), 900.0, None),
        ("H4", "P7", DPF, "disability_certified", D(2024, 1, 3), D(2024, 1, 9), None, "2"),
        ("H4", "P5", DPF, "disability_certified", D(2024, 1, 3), D(2024, 1, 9), None, "3"),
    ]
    b = bundle_with(rows)
    big = ruleset(rule(reads=["medical_oop"], thresholds={"min_amount": 10000}))
    assert hits_of(big, b, "2024-04-01") == [
        ("H2", "P4", ["R090"], "medical_oop of P4 (age 63) on 2024-01-05, 12000 yuan")
    ]
    twice = ruleset(rule(reads=["medical_oop"], thresholds={"min_count": 2}))
    assert [h[:3] for h in hits_of(twice, b, "2024-04-01")] == [("H2", "P4", ["R090", "R091"])]
    grade = ruleset(rule(reads=["disability_certified"], thresholds={"values": [1, 2]}))
    assert hits_of(grade, b, "2024-04-01") == [
        ("H4", "P7", ["R092"], "disability_certified of P7 (age 75) on 2024-01-03, value 2")
    ]


def test_event_vs_income_person_and_household():
    oop = [
        ("H2", "P4", MI, OOP, D(2024, 1, 5), D(2024, 2, 1), 25000.0, None),
        ("H2", "P4", MI, OOP, D(2024, 3, 5), D(2024, 4, 1), 20000.0, None),
    ]
    thresholds = {"share": 0.5, "reference": "disposable_income_prev_year"}
    rs = ruleset(
        rule(
            template="event_vs_income",
            reads=["medical_oop"],
            window_months=12,
            thresholds=thresholds,
        )
    )
    assert hits_of(rs, bundle_with(oop), "2024-06-01") == [
        (
            "H2",
            "P4",
            ["R090", "R091"],
            "medical_oop of P4 over 12 months: 45000 yuan in 2 "
            "records > 0.5 x 81230 (disposable_income_prev_year)",
        )
    ]
    assert hits_of(rs, bundle_with(oop[:1]), "2024-06-01") == []  # 25000 < 40615
    # the household's sum against the low-income line x its 3 members (1090 x 1.5 x 12 x 3)
    h1 = [("H1", "P2", MI, OOP, D(2024, 1, 5), D(2024, 2, 1), 30000.0, None)]
    per_hh = {"share": 0.5, "reference": "low_income_line", "per": "household"}
    rs = ruleset(
        rule(
            template="event_vs_income", reads=["medical_oop"], window_months=12, thresholds=per_hh
        )
    )
    assert hits_of(rs, bundle_with(h1), "2024-06-01") == [
        (
            "H1",
            None,
            ["R090"],
            "medical_oop of the household over 12 months: 30000 yuan in 1 "
            "record > 0.5 x 58860 (low_income_line)",
        )
    ]


def _wages(household, person, amounts: dict[tuple[int, int], float]) -> list[tuple]:
    rows = []
    for (y, m), amount in amounts.items():
        d = dt.date(y, m, 28)
        rows.append((household, person, HR, "wage", d, d + dt.timedelta(days=20), amount, None))
    return rows


def test_only_earner_unemployed():
    reg = ("H1", "P1", HR, "unemployment_registered", D(2024, 4, 10), D(2024, 4, 12), None, None)
    wages = _wages("H1", "P1", {(2024, 1): 4200.0, (2024, 2): 4300.0})
    rs = ruleset(
        rule(template="only_earner_unemployed", reads=["unemployment_registered", "wage"])
    )
    assert hits_of(rs, bundle_with([reg, *wages]), "2024-05-01") == [
        (
            "H1",
            "P1",
            ["R090", "R091", "R092"],
            "unemployment_registered of P1 (age 39) on 2024-04-10: the only member with recorded "
            "wages in the 3 months before (4250 yuan a month)",
        )
    ]
    spouse = _wages("H1", "P2", {(2024, 2): 3000.0})
    assert hits_of(rs, bundle_with([reg, *wages, *spouse]), "2024-05-01") == []


def test_income_drop_skips_incomplete_months():
    before = {(2024, m): 6000.0 for m in (1, 2, 3)}
    after = {(2024, m): 1000.0 for m in (4, 5, 6)}
    rows = _wages("H1", "P1", {**before, **after})
    thresholds = {"min_drop": 0.5, "min_baseline_months": 3}
    rs = ruleset(
        rule(template="income_drop", reads=["wage"], window_months=8, thresholds=thresholds)
    )
    (hit,) = hits_of(rs, bundle_with(rows), "2024-09-01")
    assert hit[:2] == ("H1", None)
    assert hit[2] == [f"R{90 + i:03d}" for i in range(6)]
    assert hit[3] == (
        "wages 1000 yuan a month in 2024-04..2024-06, down 83% from 6000 yuan a "
        "month in 2024-01..2024-03"
    )
    # steady wages whose latest month is not known yet: a fall only if the lag is ignored
    steady = _wages("H1", "P1", {(2024, m): 6000.0 for m in range(1, 8)})  # July known 08-17
    for lag, expected in ((0, 1), (2, 0)):
        th = {"min_drop": 0.3, "lag_months": lag}
        lagged = ruleset(
            rule(template="income_drop", reads=["wage"], window_months=8, thresholds=th)
        )
        assert len(hits_of(lagged, bundle_with(steady), "2024-08-01")) == expected
    # a baseline with a gap is not a stable income that fell
    gappy = _wages("H1", "P1", {(2024, 1): 6000.0, (2024, 3): 6000.0, **after})
    assert hits_of(rs, bundle_with(gappy), "2024-09-01") == []


def test_overlap_same_month_only():
    rows = [
        ("H2", "P4", CA, "disability_living_subsidy", D(2024, 2, 15), D(2024, 2, 16), 100.0, None),
        ("H2", "P4", CA, "benefit_tekun", D(2024, 2, 10), D(2024, 2, 11), 1417.0, None),
        ("H2", "P4", CA, "disability_living_subsidy", D(2024, 3, 15), D(2024, 3, 16), 100.0, None),
        ("H1", "P2", CA, "disability_living_subsidy", D(2024, 2, 15), D(2024, 2, 16), 100.0, None),
    ]
    thresholds = {
        "person_kinds": ["disability_living_subsidy"],
        "household_kinds": ["benefit_tekun"],
    }
    rs = ruleset(
        rule(
            kind="cross_check",
            template="overlap",
            window_months=12,
            reads=["disability_living_subsidy", "benefit_tekun"],
            thresholds=thresholds,
        )
    )
    assert hits_of(rs, bundle_with(rows), "2024-06-01") == [
        (
            "H2",
            "P4",
            ["R090", "R091"],
            "disability_living_subsidy to P4 while the household "
            "received benefit_tekun in 1 month (2024-02)",
        )
    ]


PAID_AFTER_DEATH = rule(
    kind="cross_check",
    template="paid_after_death",
    reads=["benefit_dibao", "death"],
    window_months=36,
    thresholds={"payment_kinds": ["benefit_dibao"]},
)


def test_paid_after_death_on_the_tiny_fixture():
    rs = ruleset(PAID_AFTER_DEATH)
    expected = [
        (
            "H3",
            "P6",
            ["R05", "R06"],
            "death of P6 (age 72) on 2022-11-20; then benefit_dibao "
            "paid in 1 month (2022-12, 860 yuan)",
        )
    ]
    # a cross-check also reports H3, dissolved since 2023-05-01
    assert hits_of(rs, make_tiny_bundle(), "2024-06-01") == expected
    # not before the payment was known (2023-01-05)
    assert hits_of(rs, make_tiny_bundle(), "2023-01-05") == []
    grace = {
        **PAID_AFTER_DEATH,
        "thresholds": {"payment_kinds": ["benefit_dibao"], "grace_days": 60},
    }
    assert hits_of(ruleset(grace), make_tiny_bundle(), "2024-06-01") == []


def _monthly(kind, household, person, months, day=10, amount=1090.0):
    return [
        (household, person, CA, kind, D(2024, m, day), D(2024, m, day + 2), amount, None)
        for m in months
    ]


def test_paid_in_prison_whole_months_and_one_person_households():
    rows = [
        ("H2", "P4", PS, "imprisonment_start", D(2024, 1, 15), D(2024, 1, 20), None, None),
        ("H2", "P4", PS, "imprisonment_end", D(2024, 5, 20), D(2024, 5, 25), None, None),
        ("H1", "P1", PS, "imprisonment_start", D(2024, 1, 15), D(2024, 1, 20), None, None),
        *_monthly("benefit_dibao", "H2", "P4", range(1, 7)),  # R093..R098
        *_monthly("benefit_dibao", "H1", "P1", range(1, 7)),  # three members: not flagged
        *_monthly("disability_living_subsidy", "H1", "P1", [3], amount=100.0),  # R105
    ]
    kinds = ["benefit_dibao", "disability_living_subsidy"]
    thresholds = {"payment_kinds": kinds, "household_kinds": ["benefit_dibao"]}
    base = rule(
        kind="cross_check",
        template="paid_in_prison",
        window_months=12,
        reads=[*kinds, "imprisonment_start", "imprisonment_end"],
        thresholds=thresholds,
    )
    assert hits_of(ruleset(base), bundle_with(rows), "2024-07-01") == [
        (
            "H1",
            "P1",
            ["R092", "R105"],
            "P1 imprisoned from 2024-01-15, still imprisoned; "
            "disability_living_subsidy paid in 1 month (2024-03, 100 yuan)",
        ),
        (
            "H2",
            "P4",
            ["R090", "R091", "R094", "R095", "R096"],
            "P4 imprisoned from 2024-01-15, "
            "released 2024-05-20; benefit_dibao paid in 3 months (2024-02..2024-04, 3270 yuan)",
        ),
    ]
    by_date = {**base, "thresholds": {**thresholds, "whole_months": False}}
    h2 = [h for h in hits_of(ruleset(by_date), bundle_with(rows), "2024-07-01") if h[0] == "H2"]
    assert h2[0][2] == ["R090", "R091", "R094", "R095", "R096", "R097"]  # May 10 < May 20


def _asset_rule(asset: str, kind: str, **thresholds) -> dict:
    return rule(
        id=f"asset_{asset}",
        kind="cross_check",
        template="asset_test",
        reads=["benefit_dibao", kind],
        window_months=24,
        thresholds={"benefit_kinds": ["benefit_dibao"], "asset": asset, **thresholds},
    )


def test_asset_tests_vehicle_business_property():
    pay = _monthly("benefit_dibao", "H4", "P5", [7, 8, 9], amount=500.0)  # R090..R092
    rows = [
        *pay,
        ("H4", None, "vehicles", "vehicle", D(2024, 8, 1), D(2024, 8, 5), 60000.0, "private"),
        ("H4", None, "vehicles", "vehicle", D(2024, 1, 1), D(2024, 1, 5), 90000.0, "disability"),
        (
            "H4",
            None,
            "market_regulation",
            "business_registered",
            D(2020, 1, 1),
            D(2020, 2, 1),
            None,
            None,
        ),
        ("H4", None, "housing", "property", D(2019, 1, 1), D(2019, 2, 1), None, "residential"),
        ("H4", None, "housing", "property", D(2024, 9, 1), D(2024, 9, 5), None, "residential"),
        ("H1", None, "housing", "property", D(2019, 1, 1), D(2019, 2, 1), None, "residential"),
        ("H1", None, "housing", "property", D(2019, 1, 1), D(2019, 2, 1), None, "residential"),
    ]
    rs = ruleset(
        _asset_rule("vehicle", "vehicle", min_value=50000, values=["private"]),
        _asset_rule("business", "business_registered"),
        _asset_rule("property", "property", min_count=2),
    )
    frame = rs.evaluate(bundle_with(rows), "2024-12-01").to_frame()
    got = frame.select("rule_id", "household_id", "evidence_record_ids", "evidence").rows()
    assert got == [
        (
            "asset_vehicle",
            "H4",
            ["R093", "R091", "R092"],
            "vehicle worth 60000 yuan (private) "
            "recorded 2024-08-01; benefit_dibao paid in 2 months (2024-08..2024-09, 1000 yuan)",
        ),
        (
            "asset_business",
            "H4",
            ["R095", "R090", "R091", "R092"],
            "business registered "
            "2020-01-01; benefit_dibao paid in 3 months (2024-07..2024-09, 1500 yuan)",
        ),
        (
            "asset_property",
            "H4",
            ["R096", "R097", "R092"],
            "2 property records, the 2nd dated "
            "2024-09-01; benefit_dibao paid in 1 month (2024-09, 500 yuan)",
        ),
    ]


def test_asset_test_deposit_latest_balance_and_staleness():
    # H4 has 2 members from 2023-05-01; region 002: 24 x 860.5 x 2 = 41304
    rows = [
        *_monthly("benefit_dibao", "H4", "P5", [5, 6, 7], amount=500.0),  # R090..R092
        ("H4", None, "banking", "deposit_balance", D(2024, 6, 20), D(2024, 7, 10), 50000.0, None),
        ("H4", None, "banking", "deposit_balance", D(2023, 6, 20), D(2023, 7, 10), 90000.0, None),
    ]
    rs = ruleset(_asset_rule("deposit", "deposit_balance", deposit_months=24))
    # the June payment (10th) already falls under the balance reported in June (20th)
    assert hits_of(rs, bundle_with(rows), "2024-08-01") == [
        (
            "H4",
            None,
            ["R093", "R094", "R090", "R091", "R092"],
            "deposit balance 90000 yuan on "
            "2023-06-20 > 24 x 860 x 2 = 41304; benefit_dibao paid in 3 months (2024-05..2024-07, "
            "1500 yuan)",
        )
    ]
    stale = ruleset(
        _asset_rule("deposit", "deposit_balance", deposit_months=24, max_report_age_months=6)
    )
    (hit,) = hits_of(stale, bundle_with(rows), "2024-08-01")
    assert hit[2] == ["R093", "R091", "R092"]  # May's payment relied on an 11-month-old balance
    # a balance not yet known at as_of does not count
    assert hits_of(rs, bundle_with(rows[:4]), "2024-07-01") == []


def test_exit_income_needs_three_months_above_the_line_and_receipt():
    # H2: one member, region 001: exit line 1090 x 1.5 = 1635; 0.9 x 2000 = 1800 above it
    wages = _wages("H2", "P4", {(2024, 1): 2000.0, (2024, 2): 2000.0, (2024, 3): 2000.0})
    thresholds = {
        "months": 3,
        "lag_months": 2,
        "job_cost_share": 0.1,
        "receiving_kinds": ["benefit_dibao"],
    }
    rs = ruleset(
        rule(
            kind="exit",
            template="exit_income",
            reads=["wage", "benefit_dibao"],
            window_months=6,
            programme="exit_review",
            thresholds=thresholds,
        )
    )
    b = bundle_with([*wages, *make_tiny_bundle().records.rows()])  # R03: dibao 2024-04-30
    assert hits_of(rs, b, "2024-06-01") == [
        (
            "H2",
            None,
            ["R090", "R091", "R092", "R03"],
            "net wages per person above the exit line of 1635 yuan in each month of "
            "2024-01..2024-03 (lowest 1800); last benefit_dibao paid 2024-04-30",
        )
    ]
    low = _wages("H2", "P4", {(2024, 1): 2000.0, (2024, 2): 1700.0, (2024, 3): 2000.0})
    assert hits_of(rs, bundle_with([*low, *make_tiny_bundle().records.rows()]), "2024-06-01") == []
    assert hits_of(rs, bundle_with(wages), "2024-06-01") == []  # not a recipient


def test_exit_employment():
    rows = [
        ("H4", "P5", HR, "employment_started", D(2024, 1, 5), D(2024, 1, 20), None, None),
        *_wages("H4", "P5", {(2024, 1): 3000.0, (2024, 2): 3000.0, (2024, 3): 3000.0}),
        *_monthly("benefit_dibao", "H4", "P5", [2]),
    ]
    rs = ruleset(
        rule(
            kind="exit",
            template="exit_employment",
            reads=["employment_started", "wage", "benefit_dibao"],
            window_months=6,
            thresholds={"receiving_kinds": ["benefit_dibao"]},
        )
    )
    assert hits_of(rs, bundle_with(rows), "2024-05-01") == [
        (
            "H4",
            "P5",
            ["R090", "R091", "R092", "R093", "R094"],
            "employment_started of P5 on "
            "2024-01-05, then wages in 3 months (2024-01..2024-03); last benefit_dibao paid "
            "2024-02-10",
        )
    ]
    # two wage months known so far
    assert hits_of(rs, bundle_with(rows), "2024-04-01") == []


OUTREACH = rule(
    id="o",
    kind="outreach",
    template="outreach",
    reads=["invisibility_score", "elderly_alone", "n_severe_disability"],
    window_months=24,
    programme="manual_outreach",
    thresholds={"min_invisibility_score": 0.8, "any_of": ["elderly_alone", "n_severe_disability"]},
)


def test_outreach_invisible_elderly_alone():
    rs = ruleset(OUTREACH)
    assert hits_of(rs, make_tiny_bundle(), "2024-06-01") == [
        ("H2", None, [], "invisibility_score 1.0 >= 0.8; elderly_alone 1; n_severe_disability 0")
    ]
    wage = _wages("H2", "P4", {(2024, 1): 1000.0})  # human_resources: 5 of 6 silent
    assert len(hits_of(rs, bundle_with(wage, keep_tiny=True), "2024-06-01")) == 1
    bank = ("H2", None, "banking", "deposit_balance", D(2024, 2, 1), D(2024, 2, 2), 10.0, None)
    assert hits_of(rs, bundle_with([*wage, bank], keep_tiny=True), "2024-06-01") == []


@pytest.mark.parametrize("as_of", ["2023-07-01", "2023-12-15"])
def test_outreach_features_equal_the_feature_builder(as_of):
    pop = ni.simulate(n_households=1_500, months=12, seed=3)
    d = dt.date.fromisoformat(as_of)
    built = ni.features.build(pop.bundle, d).select("household_id", *OUTREACH_FEATURES)
    ours = outreach_features(Context(pop.bundle, d), d, 24, OUTREACH_FEATURES)
    assert ours.equals(built)


# --- point in time, suppression, expiry ----------------------------------------------------


def test_records_known_at_or_after_as_of_never_fire():
    late = ("H1", "P1", PS, "death", D(2024, 3, 10), D(2024, 4, 1), None, None)
    rs = ruleset(rule())
    assert hits_of(rs, bundle_with([late]), "2024-04-01") == []  # known on as_of: not before
    assert len(hits_of(rs, bundle_with([late]), "2024-04-02")) == 1


@pytest.mark.parametrize("as_of", ["2023-09-01", "2023-12-17"])
def test_records_known_after_as_of_change_nothing(as_of):
    """Dropping every record not known before as_of leaves every rule's hits unchanged."""
    pop = ni.simulate(n_households=2_000, months=12, seed=2)
    b = pop.bundle
    d = dt.date.fromisoformat(as_of)
    known = HouseholdData(
        b.regions, b.households, b.members, b.records.filter(pl.col("known_date") < d)
    )
    rs = load(DEFAULT)
    full = rs.evaluate(b, d).to_frame()
    assert full.height > 0
    assert full.equals(rs.evaluate(known, d).to_frame())


def test_suppression_fires_once_per_household_episode():
    second = ("H1", "P2", PS, "death", D(2024, 4, 20), D(2024, 4, 25), None, None)
    rs = ruleset(rule(suppress_months=6))
    b = bundle_with([P1_DEATH, second])
    # first evaluation after the death was known: fires
    assert [h[:2] for h in hits_of(rs, b, "2024-04-01")] == [("H1", "P1")]
    # a month later P1's death is still in the window, and P2 died: the household was
    # flagged last month, so nothing fires
    assert hits_of(rs, b, "2024-05-01") == []
    assert [h[:2] for h in hits_of(rs, b, "2024-05-01", suppress=False)] == [
        ("H1", "P1"),
        ("H1", "P2"),
    ]
    # without suppression the same household fires every month its evidence is in the window
    assert [h[:2] for h in hits_of(ruleset(rule()), b, "2024-05-01")] == [
        ("H1", "P1"),
        ("H1", "P2"),
    ]


def test_suppression_on_restricted_data_equals_full_reevaluation():
    pop = ni.simulate(n_households=2_000, months=12, seed=1)
    rs = load(DEFAULT)
    as_of = dt.date(2024, 1, 1)
    ctx = Context(pop.bundle, as_of)
    got = rs.evaluate(pop.bundle, as_of).to_frame()
    for r in rs.rules:
        now = _fire(ctx, r, as_of)
        before = pl.concat(
            [_fire(ctx, r, months_before(as_of, k)) for k in range(1, r.suppress_months + 1)]
        )
        expected = now.join(before.select("household_id"), on="household_id", how="anti")
        mine = got.filter(pl.col("rule_id") == r.id)
        assert sorted(mine["household_id"].to_list()) == sorted(
            expected["household_id"].to_list()
        ), r.id


def test_expiry_and_hit_columns():
    rs = ruleset(rule(expires_months=3), rule(id="s", window_months=12))
    hits = rs.evaluate(bundle_with([P1_DEATH]), "2024-04-01")
    frame = hits.to_frame()
    assert frame.columns == [
        "household_id",
        "person_id",
        "rule_id",
        "kind",
        "rule_set_id",
        "rule_set_version",
        "as_of",
        "severity",
        "programme",
        "evidence_record_ids",
        "evidence",
        "expires_on",
    ]
    assert frame.select("rule_id", "as_of", "expires_on").rows() == [
        ("r", D(2024, 4, 1), D(2024, 7, 1)),
        ("s", D(2024, 4, 1), None),
    ]
    assert set(frame["rule_set_version"]) == {"0.1"}
    assert isinstance(hits, RuleHits) and len(hits) == 2 and hits.n_households == 1
    assert repr(hits) == "RuleHits(rule_set='test' v0.1, as_of=2024-04-01, 2 hits, 1 households)"


def test_triggers_skip_dissolved_households():
    old = ruleset(rule(window_months=12, thresholds={"min_age": 60}))
    assert len(hits_of(old, make_tiny_bundle(), "2023-01-01")) == 1
    assert hits_of(old, make_tiny_bundle(), "2023-06-01") == []  # H3 dissolved 2023-05-01


# --- the result object ---------------------------------------------------------------------


def test_pandas_bundle_gives_pandas_frames_with_the_same_hits():
    rs = ruleset(PAID_AFTER_DEATH, OUTREACH)
    polars_hits = rs.evaluate(make_tiny_bundle(), "2024-06-01")
    pandas_hits = rs.evaluate(make_tiny_bundle().to_pandas(), "2024-06-01")
    frame = pandas_hits.to_frame()
    assert type(frame).__module__.startswith("pandas")
    assert str(frame["as_of"].dtype) == "datetime64[ns]"
    assert frame["evidence_record_ids"].tolist() == [["R05", "R06"], []]
    back = pl.from_pandas(frame.drop(columns=["evidence_record_ids"])).with_columns(
        pl.col("as_of", "expires_on").cast(pl.Date)
    )
    assert back.equals(polars_hits.to_frame().drop("evidence_record_ids"))
    assert type(pandas_hits.summary()).__module__.startswith("pandas")


def test_summary_lists_every_rule():
    rs = ruleset(PAID_AFTER_DEATH, rule(id="deaths"))
    summary = rs.evaluate(make_tiny_bundle(), "2024-06-01").summary()
    assert summary.rows() == [
        ("r", "cross_check", "high", "temporary_assistance", 1, 1),
        ("deaths", "trigger", "high", "temporary_assistance", 0, 0),
    ]


def test_by_group_hit_rates():
    b = make_tiny_bundle()
    hits = ruleset(OUTREACH).evaluate(b, "2024-06-01")
    attrs = household_attributes(b, "2024-06-01")
    assert attrs.rows() == [
        ("H1", "001", True, True, "M"),
        ("H2", "001", True, False, "M"),
        ("H4", "002", False, False, "M"),
    ]
    table = hits.by_group(attrs, ["urban", "minority"])
    assert table.columns == [
        "rule_id",
        "column",
        "group",
        "n_households",
        "n_hit",
        "hit_rate",
        "rate_ratio",
    ]
    r = table.filter(pl.col("rule_id") == "o").select(
        "column", "group", "n_households", "n_hit", "hit_rate", "rate_ratio"
    )
    assert r.rows() == [
        ("minority", "False", 2, 1, 0.5, 1.5),
        ("minority", "True", 1, 0, 0.0, 0.0),
        ("urban", "False", 1, 0, 0.0, 0.0),
        ("urban", "True", 2, 1, 0.5, 1.5),
    ]
    assert set(table["rule_id"]) == {"o", "(any rule)"}
    pandas_table = hits.by_group(attrs.to_pandas(), "urban")
    assert type(pandas_table).__module__.startswith("pandas")
    with pytest.raises(ValueError, match=re.escape("Columns ['region'] are not in the")):
        hits.by_group(attrs, ["region"])


def test_evaluate_rejects_bad_inputs():
    rs = ruleset(rule())
    with pytest.raises(TypeError, match="expected a HouseholdData"):
        rs.evaluate(make_tiny_bundle().records, "2024-01-01")
    with pytest.raises(ValueError, match=re.escape("Got as_of='soon'; expected a date")):
        rs.evaluate(make_tiny_bundle(), "soon")


# --- at scale: cross-checks find the injected anomalies ------------------------------------

ANOMALY_OF = {
    "disability_subsidy_with_tekun": "duplicate_benefit",
    "paid_after_death": "paid_after_death",
    "paid_in_prison": "paid_in_prison",
    "dibao_asset_vehicle": "asset_vehicle",
    "dibao_asset_business": "asset_business",
    "dibao_asset_property": "asset_property",
    "dibao_asset_deposit": "asset_deposit",
}


@pytest.mark.slow
def test_cross_checks_find_injected_anomalies():
    pop = ni.simulate(n_households=100_000, months=36, seed=0)
    rs = load(DEFAULT).select(kinds=["cross_check"])
    assert set(rs.ids) == set(ANOMALY_OF)
    hits = rs.evaluate(pop.bundle, pop.end, suppress=False).to_frame()
    report = {}
    for rule_id, anomaly in ANOMALY_OF.items():
        h = hits.filter(pl.col("rule_id") == rule_id).select("household_id", "person_id")
        t = pop.truth.anomalies.filter(pl.col("anomaly") == anomaly)
        keys = (
            ["household_id"]
            if t["person_id"].null_count() == t.height
            else [
                "household_id",
                "person_id",
            ]
        )
        assert t.height > 0, anomaly
        precision = h.join(t, on=keys, how="semi").height / max(h.height, 1)
        recall = t.join(h, on=keys, how="semi").height / t.height
        report[rule_id] = (t.height, round(precision, 3), round(recall, 3))
    failing = {k: v for k, v in report.items() if v[1] < 0.9 or v[2] < 0.95}
    assert not failing, report
