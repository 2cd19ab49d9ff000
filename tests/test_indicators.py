"""The warning-indicator register: validation, the default register, points, fade, levels.

If test_docs_page_is_generated fails, regenerate the page with

    python -m needsid.indicators > docs/pages/indicators.md
"""

from __future__ import annotations

import copy
import re
import runpy
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml

import needsid as ni
from needsid._dates import months_before
from needsid.data import HouseholdData, record_vocabulary
from needsid.indicators import (
    DEFAULT_REGISTER,
    IndicatorRegister,
    IndicatorRegisterError,
    load,
    register_reference,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "indicators" / "default.yaml"
PAGE = ROOT / "docs" / "pages" / "indicators.md"
AS_OF = "2025-01-01"
D = date


def _indicator(iid: str = "hosp", **changes) -> dict:
    base = {
        "id": iid,
        "name_zh": "近一个月住院",
        "name_en": "A hospital stay last month",
        "department": "health",
        "definition": {"feature": "n_hospitalization_1m", "op": ">=", "value": 1},
        "points": 30,
        "decay_months": 3,
        "level": "orange",
        "source": "risk:illness",
    }
    return {**base, **changes}


def _raw(*indicators: dict, **changes) -> dict:
    base = {
        "id": "test",
        "version": "1",
        "description": "A test register.",
        "thresholds": {"red": 60, "orange": 40, "yellow": 20},
        "indicators": list(indicators) or [_indicator()],
    }
    return {**base, **changes}


def _problems(raw: dict) -> list[str]:
    with pytest.raises(IndicatorRegisterError) as err:
        IndicatorRegister.from_dict(raw, source="t.yaml")
    return err.value.problems


@pytest.fixture(scope="module")
def pop():
    return ni.simulate(n_households=1_500, months=36, seed=3)


@pytest.fixture(scope="module")
def scores(pop):
    return load().score(pop.bundle, AS_OF)


# -- the default register --------------------------------------------------------------


def test_default_register_has_75_indicators_from_10_departments():
    register = load()
    assert len(register.indicators) >= 75
    assert len(register.departments) >= 10
    assert set(register.departments) <= set(record_vocabulary())
    assert len(set(register.ids)) == len(register.ids)
    features = set(ni.features.describe()["name"])
    rules = set(ni.rules.load().ids)
    for ind in register.indicators:
        d = ind.definition
        assert (d.feature in features) if hasattr(d, "feature") else (d.rule in rules), ind.id
    sources = {ind.source.split(":")[0] for ind in register.indicators}
    assert sources == {"risk", "rule", "mpi"}
    # every deprivation dimension has an indicator
    assert {f"mpi:{d}" for d in ni.mpi.DIMENSIONS} <= {i.source for i in register.indicators}
    # triggers that set a floor, and indicators that offset need
    assert {i.level for i in register.indicators} == {"none", "yellow", "orange", "red"}
    assert any(i.points < 0 for i in register.indicators)


def test_packaged_register_and_config_copy_are_identical():
    assert CONFIG.read_bytes() == DEFAULT_REGISTER.read_bytes(), (
        "configs/indicators/default.yaml and src/needsid/indicators/default.yaml differ: "
        "edit one and copy it over the other"
    )
    assert load(CONFIG) == load()


def test_docs_page_is_generated():
    assert PAGE.read_text(encoding="utf-8") == register_reference(), (
        "docs/pages/indicators.md is out of date: run "
        "`python -m needsid.indicators > docs/pages/indicators.md`"
    )


def test_the_module_prints_the_page(capsys):
    runpy.run_module("needsid.indicators", run_name="__main__")
    assert capsys.readouterr().out == register_reference()


def test_page_lists_every_indicator_with_its_fields():
    page = register_reference()
    register = load()
    for ind in register.indicators:
        row = (
            f"| `{ind.id}` | {ind.name_zh} | {ind.name_en} | {ind.department} | "
            f"`{ind.definition.describe()}` | {ind.points} | {ind.decay_months} | "
            f"{ind.level} | {ind.source} |"
        )
        assert row in page, ind.id
    assert f"| red (红色) | ≥ {register.thresholds.red:g} |" in page


# -- validation --------------------------------------------------------------------------


def test_unknown_feature_department_and_rule_are_all_reported_at_once():
    raw = _raw(
        _indicator("a", definition={"feature": "n_hospitalisation_1m", "op": ">=", "value": 1}),
        _indicator("b", department="health_bureau"),
        _indicator("c", definition={"rule": "death_any_age"}),
    )
    problems = _problems(raw)
    assert len(problems) == 3
    assert problems[0] == (
        "indicator 'a', field 'definition.feature': unknown feature 'n_hospitalisation_1m'; "
        "the features are listed by needsid.features.describe(). Did you mean "
        "'n_hospitalization_1m'?"
    )
    assert problems[1].startswith(
        "indicator 'b', field 'department': Got department='health_bureau'; expected a "
        "source of the record vocabulary (needsid.data.record_vocabulary()): civil_affairs, "
    )
    assert problems[2].startswith(
        "indicator 'c', field 'definition.rule': unknown rule id 'death_any_age'; expected a "
        "rule of the default rule set (needsid.rules.load().ids)."
    )
    with pytest.raises(ni.ConfigError, match=re.escape("Invalid indicator register t.yaml (3 ")):
        IndicatorRegister.from_dict(raw, source="t.yaml")


def test_every_bad_field_of_one_indicator_is_named():
    bad = _indicator(
        "Bad-Id",
        points=0,
        decay_months=30,
        level="purple",
        source="paper",
        colour="red",
        definition={"feature": "housing_unsafe", "op": "=>", "value": "one"},
    )
    problems = _problems(_raw(bad))
    fields = [re.search(r"field '([^']+)'", p).group(1) for p in problems]
    assert sorted(fields) == sorted(
        [
            "id",
            "definition.op",
            "definition.value",
            "points",
            "decay_months",
            "level",
            "source",
            "colour",
        ]
    )
    assert all(p.startswith("indicator 'Bad-Id', ") for p in problems)
    text = "\n".join(problems)
    for expected in (
        "Got op='=>'; expected one of >, >=, <, <=, ==, !=.",
        "Got value='one'; expected a finite number, e.g. 1 or 0.5.",
        "Got points=0; expected a whole number in -100..100 other than 0",
        "Got decay_months=30; expected a whole number of months in 0..24",
        "Got level='purple'; expected one of none, yellow, orange, red.",
        "Got source='paper'; expected one of risk:illness, ",
        "field 'colour': unknown field; an indicator takes id, name_zh, ",
    ):
        assert expected in text, expected


def test_a_definition_must_be_a_feature_condition_or_a_rule():
    both = {"feature": "housing_unsafe", "op": ">=", "value": 1, "rule": "school_dropout"}
    problems = _problems(_raw(_indicator(definition=both), _indicator("b", definition=3)))
    assert len(problems) == 2
    for p, iid in zip(problems, ("hosp", "b"), strict=True):
        assert p.startswith(f"indicator {iid!r}, field 'definition': Got definition=")
        assert "expected either {feature: <name>, op: <op>, value: <number>}" in p
    missing = _problems(_raw(_indicator(definition={"feature": "housing_unsafe"})))
    assert missing == [
        "indicator 'hosp', field 'definition.op': missing; a feature condition needs it.",
        "indicator 'hosp', field 'definition.value': missing; a feature condition needs it.",
    ]


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        (
            {"red": 40, "orange": 40, "yellow": 20},
            "field 'thresholds': Got red=40, orange=40, yellow=20; expected red > orange > "
            "yellow, e.g. red: 60, orange: 40, yellow: 20.",
        ),
        (
            {"red": 60, "orange": 40, "yellow": -5},
            "field 'thresholds.yellow': Input should be greater than 0 (got -5).",
        ),
        (
            {"red": 60, "orange": 40},
            "field 'thresholds.yellow': missing; thresholds needs it.",
        ),
        (
            {"red": 60, "orange": 40, "yellow": 20, "blue": 10},
            "field 'thresholds.blue': unknown field; thresholds takes red, orange, yellow.",
        ),
        (
            [60, 40, 20],
            "field 'thresholds': Got [60, 40, 20]; expected a mapping of red, orange and "
            "yellow to points, e.g. {red: 60, orange: 40, yellow: 20}.",
        ),
    ],
)
def test_bad_thresholds(thresholds, expected):
    assert _problems(_raw(thresholds=thresholds)) == [expected]


def test_register_level_problems_come_with_the_indicators_problems():
    raw = _raw(
        _indicator("a", points=45, level="yellow"),
        _indicator("b", points=-10, level="yellow"),
        _indicator("a", department="nowhere"),
        thresholds={"red": 60, "orange": 40, "yellow": 20},
        version=2026.1,
        colour="red",
    )
    problems = _problems(raw)
    assert problems == [
        "field 'version': Got version=2026.1, a number; quote it so YAML keeps it as text, "
        'e.g. version: "2026.1".',
        "field 'colour': unknown field; a register takes id, version, description, "
        "thresholds, indicators.",
        "indicator 'a', field 'level': Got level='yellow', but its 45 points alone reach "
        "'orange' (thresholds.orange = 40); set level: orange or lower the points.",
        "indicator 'b', field 'level': Got level='yellow' with negative points (-10); an "
        "indicator that offsets need sets no floor: use level: none.",
        problems[4],
        "indicator 'a', field 'id': duplicate id (indicators #1 and #3); give each indicator "
        "its own id.",
    ]
    assert problems[4].startswith("indicator 'a', field 'department': Got department='nowhere'")


def test_load_reports_files_that_cannot_be_read(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape("Indicator register 'nope.yaml' not")):
        load("nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(IndicatorRegisterError, match="not valid YAML"):
        load(broken)
    edited = yaml.safe_load(CONFIG.read_text("utf-8"))
    edited["indicators"][0]["definition"]["feature"] = "dibao_months"
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(edited, allow_unicode=True), encoding="utf-8")
    with pytest.raises(IndicatorRegisterError) as err:
        load(path)
    assert err.value.problems == [
        "indicator 'dibao_recipient', field 'definition.feature': unknown feature "
        "'dibao_months'; the features are listed by needsid.features.describe()."
    ]
    assert str(err.value).startswith(f"Invalid indicator register {str(path)!r} (1 problem):")


def test_an_edited_default_register_still_loads(tmp_path):
    edited = copy.deepcopy(yaml.safe_load(CONFIG.read_text("utf-8")))
    edited["indicators"] = edited["indicators"][:3]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(edited, allow_unicode=True), encoding="utf-8")
    assert load(path).ids == load().ids[:3]


# -- points, fade and levels on a hand-built household ------------------------------------


def _bundle(stays: list[date]) -> HouseholdData:
    """Two urban households; H1 has a hospital stay on each date (known 5 days later)."""
    regions = pl.DataFrame(
        [("001", True, 1000.0, 1.5, 1300.0, 80000.0)],
        schema={
            "region_id": pl.String,
            "urban": pl.Boolean,
            "dibao_standard": pl.Float64,
            "low_income_multiplier": pl.Float64,
            "tekun_standard": pl.Float64,
            "disposable_income_prev_year": pl.Float64,
        },
        orient="row",
    )
    households = pl.DataFrame(
        [("H1", "001", D(2015, 1, 1), None), ("H2", "001", D(2015, 1, 1), None)],
        schema={
            "household_id": pl.String,
            "region_id": pl.String,
            "formed_on": pl.Date,
            "dissolved_on": pl.Date,
        },
        orient="row",
    )
    members = pl.DataFrame(
        [
            ("P1", "H1", "head", "M", D(1980, 1, 1), False, "urban", 9, 0, D(2015, 1, 1), None),
            ("P2", "H2", "head", "F", D(1982, 1, 1), False, "urban", 9, 0, D(2015, 1, 1), None),
        ],
        schema={
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
        orient="row",
    )
    records = pl.DataFrame(
        [
            (f"R{i}", "H1", "P1", "health", "hospitalization", d, d + timedelta(days=5), 2e4, None)
            for i, d in enumerate(stays)
        ],
        schema={
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
        orient="row",
    )
    return HouseholdData(regions, households, members, records)


def _levels(scores) -> list[tuple]:
    return (
        scores.levels.filter(pl.col("household_id") == "H1")
        .select("as_of", "total", "n_indicators", "points_level", "level")
        .rows()
    )


def test_points_fade_linearly_and_a_trigger_floor_holds_only_while_it_fires():
    # 30 points for a stay in the last month (fading over 3 months, orange floor) and 5
    # for a stay in the last 12 months (no fade: it fires for 12 months anyway)
    register = IndicatorRegister.from_dict(
        _raw(
            _indicator(),
            _indicator(
                "hosp_12m",
                definition={"feature": "n_hospitalization_12m", "op": ">=", "value": 1},
                points=5,
                decay_months=0,
                level="none",
            ),
        )
    )
    bundle = _bundle([D(2024, 3, 10)])
    months = [D(2024, m, 1) for m in (3, 4, 5, 6, 7)]
    scores = register.score_months(bundle, months)
    assert _levels(scores) == [
        (D(2024, 3, 1), 0.0, 0, "none", "none"),  # the stay is not known yet
        (D(2024, 4, 1), 35.0, 2, "yellow", "orange"),  # fires: 30 + 5, orange floor
        (D(2024, 5, 1), 25.0, 2, "yellow", "yellow"),  # 30 x 2/3 + 5, no floor
        (D(2024, 6, 1), 15.0, 2, "none", "none"),  # 30 x 1/3 + 5
        (D(2024, 7, 1), 5.0, 1, "none", "none"),  # faded out
    ]
    points = scores.points.filter(pl.col("indicator_id") == "hosp")
    assert points.select("as_of", "months_since", "points").rows() == [
        (D(2024, 4, 1), 0, 30.0),
        (D(2024, 5, 1), 1, 20.0),
        (D(2024, 6, 1), 2, 10.0),
    ]
    # H2 has no record: scored, with nothing
    h2 = scores.levels.filter(pl.col("household_id") == "H2")
    assert h2["total"].to_list() == [0.0] * 5 and set(h2["level"]) == {"none"}
    # each month equals scoring that month alone (the history is rebuilt from the records)
    for m in months:
        alone = register.score(bundle, m)
        assert alone.levels.equals(scores.levels.filter(pl.col("as_of") == m))
        assert alone.points.equals(scores.points.filter(pl.col("as_of") == m))


def test_a_new_firing_restores_the_full_points():
    register = IndicatorRegister.from_dict(_raw(_indicator()))
    scores = register.score_months(
        _bundle([D(2024, 3, 10), D(2024, 5, 20)]), [D(2024, 5, 1), D(2024, 6, 1)]
    )
    assert [r[1:] for r in _levels(scores)] == [
        (20.0, 1, "yellow", "yellow"),  # 1 month after the first stay
        (30.0, 1, "yellow", "orange"),  # the second stay fires it again
    ]


def test_a_trigger_sets_a_floor_above_its_points():
    register = IndicatorRegister.from_dict(
        _raw(_indicator(points=5, level="red"), thresholds={"red": 60, "orange": 40, "yellow": 20})
    )
    scores = register.score(_bundle([D(2024, 3, 10)]), "2024-04-01")
    assert _levels(scores) == [(D(2024, 4, 1), 5.0, 1, "none", "red")]
    assert repr(scores) == (
        "IndicatorScores(register='test' v1, 1 month, red 1, orange 0, yellow 0, none 1)"
    )
    assert scores.level_counts()["n_households"].to_list() == [1, 0, 0, 1]


def test_negative_points_offset_and_set_no_floor():
    register = IndicatorRegister.from_dict(
        _raw(
            _indicator(),
            _indicator(
                "offset",
                definition={"feature": "hh_size", "op": ">=", "value": 1},
                points=-40,
                decay_months=0,
                level="none",
                source="rule:asset_test",
            ),
        )
    )
    scores = register.score(_bundle([D(2024, 3, 10)]), "2024-04-01")
    # 30 - 40: below every threshold, but the firing trigger's floor still holds
    assert _levels(scores) == [(D(2024, 4, 1), -10.0, 2, "none", "orange")]


def test_score_checks_its_arguments():
    register = load()
    with pytest.raises(TypeError, match="expected a HouseholdData"):
        register.score({"records": None}, AS_OF)
    with pytest.raises(TypeError, match=re.escape("(score() takes one date)")):
        register.score_months(_bundle([]), "2024-04-01")
    with pytest.raises(ValueError, match=re.escape("Got months=[]; expected at least one")):
        register.score_months(_bundle([]), [])
    with pytest.raises(ValueError, match="expected a date"):
        register.score(_bundle([]), "April")


# -- the default register on a simulated population --------------------------------------


def test_scoring_is_deterministic_and_backend_free(pop, scores):
    register = load()
    again = register.score(pop.bundle, AS_OF)
    assert again.points.equals(scores.points) and again.levels.equals(scores.levels)
    on_pandas = register.score(pop.bundle.to_pandas(), AS_OF)
    assert on_pandas.levels.equals(scores.levels)
    assert on_pandas.points.equals(scores.points)


def test_levels_follow_the_totals_and_the_floors(scores):
    register = load()
    t = register.thresholds
    lv = scores.levels
    assert lv["household_id"].is_unique().all() and lv["household_id"].is_sorted()
    assert lv["points_level"].to_list() == [t.level_of(x) for x in lv["total"]]
    totals = scores.points.group_by("household_id").agg(pl.col("points").sum().round(6))
    joined = lv.join(totals, on="household_id", how="left").with_columns(
        pl.col("points").fill_null(0.0)
    )
    assert (joined["total"] - joined["points"]).abs().max() < 1e-6
    order = {name: i for i, name in enumerate(ni.indicators.LEVELS)}
    floors = dict.fromkeys(lv["household_id"], 0)
    for row in scores.points.filter(pl.col("months_since") == 0).iter_rows(named=True):
        floor = order[register.indicator(row["indicator_id"]).level]
        floors[row["household_id"]] = max(floors[row["household_id"]], floor)
    for row in lv.iter_rows(named=True):
        expected = max(order[row["points_level"]], floors[row["household_id"]])
        assert order[row["level"]] == expected, row
    assert set(lv["level"]) == {"none", "yellow", "orange", "red"}
    assert (lv["level"] != lv["points_level"]).any()  # some floors lift a level


def test_firing_now_is_the_features_and_the_rules_at_as_of(pop, scores):
    register = load()
    X = ni.features.build(pop.bundle, AS_OF)
    assert scores.levels["household_id"].to_list() == X["household_id"].to_list()
    now = scores.points.filter(pl.col("months_since") == 0)
    hits = ni.rules.load().evaluate(pop.bundle, AS_OF, suppress=False).to_frame()
    alive = set(X["household_id"])
    for ind in register.indicators:
        fired = set(now.filter(pl.col("indicator_id") == ind.id)["household_id"])
        if hasattr(ind.definition, "feature"):
            expected = set(X.filter(ind.definition.expr())["household_id"])
        else:
            expected = set(hits.filter(pl.col("rule_id") == ind.definition.rule)["household_id"])
            expected &= alive
        assert fired == expected, ind.id


def test_fading_points_come_from_earlier_months(pop, scores):
    register = load()
    # the same indicators without fade: scoring one date is what fired at that date
    no_fade = tuple(i.model_copy(update={"decay_months": 0}) for i in register.indicators)
    now_only = register.model_copy(update={"indicators": no_fade})
    faded = scores.points.filter(pl.col("months_since") > 0)
    assert faded.height > 0
    ks = sorted(set(faded["months_since"]))
    dates = [months_before(date.fromisoformat(AS_OF), k) for k in [0, *ks]]
    fired = now_only.score_months(pop.bundle, dates).points
    for row in faded.iter_rows(named=True):
        ind = register.indicator(row["indicator_id"])
        k = row["months_since"]
        assert 0 < k < ind.decay_months
        assert row["points"] == pytest.approx(ind.points * (1 - k / ind.decay_months))
        same = (pl.col("household_id") == row["household_id"]) & (
            pl.col("indicator_id") == row["indicator_id"]
        )
        then = fired.filter(same)["as_of"].to_list()
        # it fired k months before and not since
        assert months_before(date.fromisoformat(AS_OF), k) in then, row
        assert not [d for d in then if d > months_before(date.fromisoformat(AS_OF), k)], row


def test_score_months_reuses_the_evaluations(pop, monkeypatch):
    from needsid.indicators import _score

    calls = []
    original = _score._evaluate

    def counting(register, bundle, d, inputs=None):
        calls.append(d)
        return original(register, bundle, d, inputs)

    monkeypatch.setattr(_score, "_evaluate", counting)
    register = load()
    depth = max(i.decay_months for i in register.indicators)
    months = ["2024-10-01", "2024-11-01", "2024-12-01"]
    register.score_months(pop.bundle, months)
    assert len(calls) == len(set(calls)) == depth + len(months) - 1
