import dataclasses
import re
from datetime import date, datetime

import pandas as pd
import polars as pl
import pytest

from needsid._compat import PANDAS_STRING_DTYPE
from needsid.data import (
    DataValidationError,
    HouseholdData,
    nullable_value_kinds,
    record_values,
    record_vocabulary,
    validate,
)
from needsid.data._validate import RULES

from .conftest import make_tiny_bundle

COLUMNS = ["table", "column", "rule", "count", "examples", "note"]


def set_cells(bundle: HouseholdData, table: str, where: dict, **values) -> HouseholdData:
    """Set ``values`` in the rows of ``table`` matching ``where`` (column -> value)."""
    frame = bundle.tables[table]
    mask = pl.all_horizontal([pl.col(c) == v for c, v in where.items()])
    frame = frame.with_columns(
        pl.when(mask).then(pl.lit(v, dtype=frame.schema[c])).otherwise(pl.col(c)).alias(c)
        for c, v in values.items()
    )
    return dataclasses.replace(bundle, **{table: frame})


def failures(bundle: HouseholdData, backend: str = "polars", **kwargs) -> list[dict]:
    """Validate (in ``backend``), expect failure, return the report as a list of dicts."""
    if backend == "pandas":
        bundle = bundle.to_pandas()
    with pytest.raises(DataValidationError) as info:
        validate(bundle, **kwargs)
    report = info.value.report
    assert isinstance(report, pd.DataFrame)
    assert list(report.columns) == COLUMNS
    return report.drop(columns="note").to_dict("records")


def expect(bundle, backend, table, column, rule, count, examples, **kwargs):
    """Assert that ``bundle`` fails exactly one rule, with this report row and message."""
    line = f"{table}.{column}: {rule}"
    if examples:
        line += f" ({count} row{'s' if count != 1 else ''}, e.g. {', '.join(examples)})"
    with pytest.raises(DataValidationError, match=re.escape(line)):
        validate(bundle.to_pandas() if backend == "pandas" else bundle, **kwargs)
    assert failures(bundle, backend, **kwargs) == [
        {"table": table, "column": column, "rule": rule, "count": count, "examples": examples}
    ]


def test_valid_bundle_passes_and_returns_itself(tiny_bundle, backend):
    bundle = tiny_bundle if backend == "polars" else tiny_bundle.to_pandas()
    assert validate(bundle) is bundle
    assert validate(bundle, reference_date="2024-05-03") is bundle


def test_missing_column(tiny_bundle, backend):
    bundle = dataclasses.replace(tiny_bundle, records=tiny_bundle.records.drop("value"))
    expect(bundle, backend, "records", "value", "missing_column", 1, [])


def test_missing_column_skips_only_checks_that_need_it(tiny_bundle):
    records = tiny_bundle.records.drop("event_date")
    bundle = set_cells(dataclasses.replace(tiny_bundle, records=records), "records",
                       {"record_id": "R03"}, amount=-5.0)  # fmt: skip
    assert [(f["column"], f["rule"], f["examples"]) for f in failures(bundle)] == [
        ("event_date", "missing_column", []),
        ("amount", "negative_amount", ["R03"]),
    ]


def test_missing_key_column_uses_row_numbers(tiny_bundle):
    records = tiny_bundle.records.drop("record_id")
    bundle = set_cells(dataclasses.replace(tiny_bundle, records=records), "records",
                       {"person_id": "P1"}, known_date=date(2024, 1, 1))  # fmt: skip
    assert [(f["column"], f["rule"], f["examples"]) for f in failures(bundle)] == [
        ("record_id", "missing_column", []),
        ("known_date", "known_before_event", ["#0"]),
    ]


def test_extra_column(tiny_bundle, backend):
    households = tiny_bundle.households.with_columns(note=pl.lit("x"))
    bundle = dataclasses.replace(tiny_bundle, households=households)
    expect(bundle, backend, "households", "note", "extra_column", 1, [])


def test_wrong_type(tiny_bundle, backend):
    records = tiny_bundle.records.with_columns(pl.col("amount").cast(pl.String))
    bundle = dataclasses.replace(tiny_bundle, records=records)
    expect(bundle, backend, "records", "amount", "wrong_type", 1, [])
    note = "[expected float, got String; convert with pl.col('amount').cast(pl.Float64)]"
    with pytest.raises(DataValidationError, match=re.escape(note)):
        validate(bundle)


def test_wrong_type_skips_checks_on_that_column_only(tiny_bundle):
    members = tiny_bundle.members.with_columns(pl.col("birth_date").cast(pl.String))
    bundle = set_cells(dataclasses.replace(tiny_bundle, members=members), "members",
                       {"person_id": "P4"}, hukou="city")  # fmt: skip
    assert [(f["column"], f["rule"]) for f in failures(bundle)] == [
        ("birth_date", "wrong_type"),
        ("hukou", "unknown_category"),
    ]


def test_wrong_type_pandas_unconvertible_object_column(tiny_bundle):
    bundle = tiny_bundle.to_pandas()
    bundle.members["sex"] = pd.Series([1, "F", "F", "M", "M", "M", "F", "F"], dtype=object)
    with pytest.raises(DataValidationError, match=re.escape("members.sex: wrong_type")):
        validate(bundle)


def test_compatible_types_are_accepted(tiny_bundle):
    members = tiny_bundle.members.with_columns(
        pl.col("education_years").cast(pl.Int8),
        pl.col("disability_grade").cast(pl.UInt32),
        pl.col("birth_date").cast(pl.Datetime("us")),
    )
    regions = tiny_bundle.regions.with_columns(pl.col("dibao_standard").cast(pl.Float32))
    bundle = dataclasses.replace(tiny_bundle, members=members, regions=regions)
    assert validate(bundle) is bundle


def test_null_value(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "households", {"household_id": "H2"}, formed_on=None)
    expect(bundle, backend, "households", "formed_on", "null_value", 1, ["H2"])


def test_null_value_nan_float_and_five_sorted_examples(tiny_bundle):
    regions = tiny_bundle.regions.with_columns(dibao_standard=pl.lit(float("nan")))
    members = tiny_bundle.members.with_columns(hukou=pl.lit(None, pl.String)).reverse()
    bundle = dataclasses.replace(tiny_bundle, regions=regions, members=members)
    assert failures(bundle) == [
        {
            "table": "regions", "column": "dibao_standard", "rule": "null_value",
            "count": 2, "examples": ["001", "002"],
        },
        {
            "table": "members", "column": "hukou", "rule": "null_value", "count": 8,
            "examples": [
                "P1@2015-03-01", "P2@2015-03-01", "P3@2016-08-10", "P4@2018-06-15",
                "P5@2010-01-01",
            ],
        },
    ]  # fmt: skip


def test_duplicate_key(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "records", {"record_id": "R03"}, record_id="R02")
    expect(bundle, backend, "records", "record_id", "duplicate_key", 2, ["R02"])


def test_duplicate_key_of_members_spell(tiny_bundle):
    bundle = set_cells(tiny_bundle, "members", {"person_id": "P2"}, person_id="P1")
    report = failures(bundle)
    assert report[0] == {
        "table": "members", "column": "person_id, joined_on", "rule": "duplicate_key",
        "count": 2, "examples": ["P1@2015-03-01"],
    }  # fmt: skip


def test_unknown_category(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "members", {"person_id": "P4"}, sex="X")
    expect(bundle, backend, "members", "sex", "unknown_category", 1, ["P4@2018-06-15"])


def test_unknown_category_disability_grade(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "members", {"person_id": "P7"}, disability_grade=5)
    expect(
        bundle, backend, "members", "disability_grade", "unknown_category", 1, ["P7@2023-05-01"]
    )


def test_unknown_region(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "households", {"household_id": "H2"}, region_id="009")
    expect(bundle, backend, "households", "region_id", "unknown_region", 1, ["H2"])


def test_unknown_household(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "records", {"record_id": "R08"}, household_id="H9")
    expect(bundle, backend, "records", "household_id", "unknown_household", 1, ["R08"])
    bundle = set_cells(tiny_bundle, "members", {"person_id": "P4"}, household_id="H9")
    expect(bundle, backend, "members", "household_id", "unknown_household", 1, ["P4@2018-06-15"])


def test_unknown_person(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "records", {"record_id": "R01"}, person_id="P99")
    expect(bundle, backend, "records", "person_id", "unknown_person", 1, ["R01"])


def test_overlapping_spells(tiny_bundle, backend):
    where = {"person_id": "P5", "household_id": "H4"}
    bundle = set_cells(tiny_bundle, "members", where, joined_on=date(2023, 4, 1))
    expect(
        bundle, backend, "members", "joined_on, left_on", "overlapping_spells", 1,
        ["P5@2023-04-01"],
    )  # fmt: skip


def test_overlapping_spells_against_an_earlier_long_spell(tiny_bundle):
    # P1: [2015-03-01, open) in H1, then short spells in H2: both start inside the first.
    extra = tiny_bundle.members.filter(pl.col("person_id") == "P1").with_columns(
        household_id=pl.lit("H2"),
        joined_on=pl.Series([date(2016, 1, 1)]),
        left_on=pl.Series([date(2016, 2, 1)]),
    )
    later = extra.with_columns(joined_on=pl.lit(date(2017, 1, 1)), left_on=pl.lit(None, pl.Date))
    members = pl.concat([tiny_bundle.members, extra, later])
    report = failures(dataclasses.replace(tiny_bundle, members=members))
    assert report == [
        {
            "table": "members", "column": "joined_on, left_on", "rule": "overlapping_spells",
            "count": 2, "examples": ["P1@2016-01-01", "P1@2017-01-01"],
        }
    ]  # fmt: skip


def test_spell_ends_before_start(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "members", {"person_id": "P6"}, left_on=date(2009, 1, 1))
    expect(bundle, backend, "members", "left_on", "spell_ends_before_start", 1, ["P6@2010-01-01"])


def test_dissolved_before_formed(tiny_bundle, backend):
    where = {"household_id": "H3"}
    bundle = set_cells(tiny_bundle, "households", where, dissolved_on=date(2009, 12, 31))
    expect(bundle, backend, "households", "dissolved_on", "dissolved_before_formed", 1, ["H3"])


def test_inconsistent_person(tiny_bundle, backend):
    where = {"person_id": "P5", "household_id": "H4"}
    bundle = set_cells(tiny_bundle, "members", where, birth_date=date(1975, 5, 6))
    expect(
        bundle, backend, "members", "birth_date", "inconsistent_person", 2,
        ["P5@2010-01-01", "P5@2023-05-01"],
    )  # fmt: skip


def test_event_after_death(tiny_bundle, backend):
    where = {"record_id": "R04"}
    bundle = set_cells(
        tiny_bundle, "records", where, event_date=date(2022, 12, 1), known_date=date(2023, 1, 1)
    )
    expect(bundle, backend, "records", "event_date", "event_after_death", 1, ["R04"])


def test_payment_after_death_is_legal_unless_vocabulary_says_otherwise(tiny_bundle):
    assert validate(tiny_bundle) is tiny_bundle  # R06 pays P6 after the death (R05)
    vocabulary = {src: dict(kinds) for src, kinds in record_vocabulary().items()}
    vocabulary["civil_affairs"]["benefit_dibao"] = {}
    expect(
        tiny_bundle, "polars", "records", "event_date", "event_after_death", 1, ["R06"],
        vocabulary=vocabulary,
    )  # fmt: skip


def test_known_before_event(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "records", {"record_id": "R01"}, known_date=date(2024, 1, 1))
    expect(bundle, backend, "records", "known_date", "known_before_event", 1, ["R01"])


def test_negative_amount(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "records", {"record_id": "R03"}, amount=-1090.0)
    expect(bundle, backend, "records", "amount", "negative_amount", 1, ["R03"])
    bundle = set_cells(tiny_bundle, "members", {"person_id": "P3"}, education_years=-1)
    expect(bundle, backend, "members", "education_years", "negative_amount", 1, ["P3@2016-08-10"])


def test_non_finite_amounts_are_named(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "records", {"record_id": "R03"}, amount=float("inf"))
    expect(bundle, backend, "records", "amount", "non_finite_amount", 1, ["R03"])
    with pytest.raises(DataValidationError, match=re.escape("NaN or inf; leave an unknown")):
        validate(bundle)
    bundle = set_cells(tiny_bundle, "regions", {"region_id": "001"}, dibao_standard=-float("inf"))
    assert [(f["column"], f["rule"]) for f in failures(bundle, backend)] == [
        ("dibao_standard", "negative_amount"),
        ("dibao_standard", "non_finite_amount"),
    ]


def test_nan_amount_is_an_error_in_polars_and_missing_in_pandas(tiny_bundle):
    # polars keeps NaN apart from null; pandas has only NaN for a missing float
    bundle = set_cells(tiny_bundle, "records", {"record_id": "R01"}, amount=float("nan"))
    expect(bundle, "polars", "records", "amount", "non_finite_amount", 1, ["R01"])
    assert validate(bundle.to_pandas()) is not None


def test_unknown_kind(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "records", {"record_id": "R02"}, source="police")
    expect(bundle, backend, "records", "source, kind", "unknown_kind", 1, ["R02"])


def test_unknown_kind_with_custom_vocabulary(tiny_bundle):
    bundle = set_cells(tiny_bundle, "records", {"record_id": "R02"}, source="police")
    vocabulary = {**record_vocabulary(), "police": {"application": {}}}
    assert validate(bundle, vocabulary=vocabulary) is bundle
    small = {k: v for k, v in record_vocabulary().items() if k != "vehicles"}
    expect(
        tiny_bundle, "polars", "records", "source, kind", "unknown_kind", 1, ["R08"],
        vocabulary=small,
    )  # fmt: skip


def test_future_date(tiny_bundle, backend):
    report = failures(tiny_bundle, backend, reference_date=date(2024, 3, 1))
    assert report == [
        {"table": "records", "column": c, "rule": "future_date", "count": 2,
         "examples": ["R02", "R03"]}
        for c in ("event_date", "known_date")
    ]  # fmt: skip
    for ref in ("2024-03-01", datetime(2024, 3, 1, 12)):
        assert failures(tiny_bundle, reference_date=ref) == report


def test_several_problems_are_reported_at_once(tiny_bundle, backend):
    bundle = set_cells(tiny_bundle, "records", {"record_id": "R01"}, known_date=date(2024, 1, 1))
    bundle = set_cells(bundle, "records", {"record_id": "R08"}, amount=-3.0, household_id="H9")
    bundle = set_cells(bundle, "members", {"person_id": "P4"}, sex="X")
    bundle = set_cells(bundle, "households", {"household_id": "H1"}, region_id="009")
    bundle = dataclasses.replace(bundle, regions=bundle.regions.drop("urban"))
    report = failures(bundle, backend)
    assert [(f["table"], f["column"], f["rule"], f["examples"]) for f in report] == [
        ("regions", "urban", "missing_column", []),
        ("households", "region_id", "unknown_region", ["H1"]),
        ("members", "sex", "unknown_category", ["P4@2018-06-15"]),
        ("records", "household_id", "unknown_household", ["R08"]),
        ("records", "known_date", "known_before_event", ["R01"]),
        ("records", "amount", "negative_amount", ["R08"]),
    ]
    with pytest.raises(DataValidationError, match=r"failed validation with 6 failures \("):
        validate(bundle)


def test_message_is_truncated_with_a_pointer_to_the_report(tiny_bundle):
    regions = tiny_bundle.regions.rename(lambda c: c.upper())
    bundle = dataclasses.replace(tiny_bundle, regions=regions)
    with pytest.raises(DataValidationError) as info:
        validate(bundle)
    assert len(info.value.report) == 12  # 6 missing, 6 extra
    assert str(info.value).endswith("... and 2 more; see the .report attribute.")
    assert set(info.value.report["rule"]) <= set(RULES)


def test_bad_arguments(tiny_bundle):
    with pytest.raises(ValueError, match=re.escape("Got reference_date='soon'; expected a date")):
        validate(tiny_bundle, reference_date="soon")
    with pytest.raises(TypeError, match=re.escape("Got vocabulary=['death']; expected a mapping")):
        validate(tiny_bundle, vocabulary=["death"])
    with pytest.raises(TypeError, match="Expected a HouseholdData bundle; got dict"):
        validate(tiny_bundle.tables)


# --- casework outcomes: closed value sets and verifications answering applications -------

VERIFICATION_VALUES = (
    "['approved_dibao', 'approved_tekun', 'approved_low_income', 'approved_housing', "
    "'approved_medical', 'declined', 'withdrawn']"
)


def casework_bundle() -> HouseholdData:
    """The tiny bundle plus casework outcomes, all valid.

    - H2 applied on 2024-03-02 (R02) and again on 2024-04-20 (R14); R10 verifies on
      2024-03-20: after the first application, before the second (legal). A review
      (R11) and a home visit finding hardship (R12) follow.
    - H1 has a home visit from an older extract, with no finding (R13): null is allowed.
    - H4 applied and withdrew on the same day (R15, R16): no assessed income.
    """
    bundle = make_tiny_bundle()
    ca = "civil_affairs"
    extra = pl.DataFrame(
        [
            ("R10", "H2", None, ca, "verification", date(2024, 3, 20), date(2024, 3, 25),
             420.0, "approved_dibao"),
            ("R11", "H2", None, ca, "review", date(2024, 4, 15), date(2024, 4, 16), 610.0,
             "continue"),
            ("R12", "H2", None, ca, "home_visit", date(2024, 3, 10), date(2024, 3, 12), None,
             "hardship_confirmed"),
            ("R13", "H1", None, ca, "home_visit", date(2023, 5, 5), date(2023, 5, 6), None,
             None),
            ("R14", "H2", None, ca, "application", date(2024, 4, 20), date(2024, 4, 20), None,
             "community"),
            ("R15", "H4", None, ca, "application", date(2023, 6, 10), date(2023, 6, 10), None,
             "walk_in"),
            ("R16", "H4", None, ca, "verification", date(2023, 6, 10), date(2023, 6, 11), None,
             "withdrawn"),
        ],
        schema=bundle.records.schema,
        orient="row",
    )  # fmt: skip
    return dataclasses.replace(bundle, records=pl.concat([bundle.records, extra]))


def test_record_values_come_from_the_vocabulary():
    assert record_values() == {
        "verification": (
            "approved_dibao", "approved_tekun", "approved_low_income", "approved_housing",
            "approved_medical", "declined", "withdrawn",
        ),
        "review": ("continue", "reduce", "exit"),
        "home_visit": ("hardship_confirmed", "no_hardship", "not_found"),
    }  # fmt: skip
    assert nullable_value_kinds() == {"home_visit"}
    # existing callers still see {source: {kind: properties}}, with the new kinds
    assert record_vocabulary()["civil_affairs"]["review"]["values"] == [
        "continue",
        "reduce",
        "exit",
    ]
    assert RULES[RULES.index("unknown_kind") :][:4] == (
        "unknown_kind", "unknown_value", "verification_without_application",
        "decision_before_application",
    )  # fmt: skip


def test_casework_bundle_passes(backend):
    bundle = casework_bundle()
    bundle = bundle if backend == "polars" else bundle.to_pandas()
    assert validate(bundle) is bundle


def test_unknown_value_names_the_kind_values_and_suggestion(backend):
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R10"}, value="aproved_dibao")
    expect(bundle, backend, "records", "value", "unknown_value", 1, ["R10"])
    note = (
        f"[verification.value 'aproved_dibao' not in {VERIFICATION_VALUES}; "
        "did you mean 'approved_dibao'?]"
    )
    with pytest.raises(DataValidationError, match=re.escape(note)):
        validate(bundle)


def test_unknown_value_null_where_null_is_not_allowed(backend):
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R11"}, value=None)
    expect(bundle, backend, "records", "value", "unknown_value", 1, ["R11"])
    note = "[review.value null not in ['continue', 'reduce', 'exit']]"
    with pytest.raises(DataValidationError, match=re.escape(note)):
        validate(bundle)


def test_unknown_value_several_values_and_kinds():
    bundle = casework_bundle()
    visits = [
        ("V1", "Hardship_Confirmed"), ("V2", "absent"), ("V3", "zzz"), ("V4", "qqq"),
        ("V5", "absent"), ("V6", None),
    ]  # fmt: skip
    template = bundle.records.filter(pl.col("record_id") == "R12")
    extra = pl.concat(
        template.with_columns(record_id=pl.lit(rid), value=pl.lit(v, pl.String))
        for rid, v in visits
    )
    bundle = dataclasses.replace(bundle, records=pl.concat([bundle.records, extra]))
    bundle = set_cells(bundle, "records", {"record_id": "R11"}, value="exited")
    assert failures(bundle) == [
        {"table": "records", "column": "value", "rule": "unknown_value", "count": 5,
         "examples": ["V1", "V2", "V3", "V4", "V5"]},
        {"table": "records", "column": "value", "rule": "unknown_value", "count": 1,
         "examples": ["R11"]},
    ]  # fmt: skip
    # at most three values are named, sorted; null is allowed for home visits
    visit_note = (
        "[home_visit.value 'Hardship_Confirmed', 'absent', 'qqq' and 1 more not in "
        "['hardship_confirmed', 'no_hardship', 'not_found'] (or null); "
        "did you mean 'hardship_confirmed' for 'Hardship_Confirmed'?]"
    )
    review_note = (
        "[review.value 'exited' not in ['continue', 'reduce', 'exit']; did you mean 'exit'?]"
    )
    with pytest.raises(DataValidationError, match=re.escape(visit_note)):
        validate(bundle)
    with pytest.raises(DataValidationError, match=re.escape(review_note)):
        validate(bundle)


def test_verification_without_application(backend):
    # H1 never applied
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R10"}, household_id="H1")
    expect(
        bundle, backend, "records", "household_id", "verification_without_application", 1,
        ["R10"],
    )  # fmt: skip


def test_decision_before_application(backend):
    # H2 first applied on 2024-03-02 (R02); a later application (R14) does not help
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R10"},
                       event_date=date(2024, 2, 20), known_date=date(2024, 2, 25))  # fmt: skip
    expect(bundle, backend, "records", "event_date", "decision_before_application", 1, ["R10"])
    # the day before a same-day application (R15, R16) is too early as well
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R16"},
                       event_date=date(2023, 6, 9))  # fmt: skip
    expect(bundle, backend, "records", "event_date", "decision_before_application", 1, ["R16"])


def test_casework_failures_are_reported_with_the_others_at_once(backend):
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R10"}, value="approved")
    bundle = set_cells(bundle, "records", {"record_id": "R16"}, household_id="H3")
    bundle = set_cells(bundle, "records", {"record_id": "R15"}, event_date=date(2023, 6, 20),
                       known_date=date(2023, 6, 20), household_id="H3")  # fmt: skip
    bundle = set_cells(bundle, "records", {"record_id": "R11"}, amount=-1.0, value="stop")
    bundle = set_cells(bundle, "records", {"record_id": "R13"}, known_date=date(2023, 5, 1))
    report = failures(bundle, backend)
    assert [(f["column"], f["rule"], f["count"], f["examples"]) for f in report] == [
        ("known_date", "known_before_event", 1, ["R13"]),
        ("amount", "negative_amount", 1, ["R11"]),
        ("value", "unknown_value", 1, ["R11"]),  # review
        ("value", "unknown_value", 1, ["R10"]),  # verification
        ("event_date", "decision_before_application", 1, ["R16"]),
    ]
    with pytest.raises(DataValidationError, match=r"failed validation with 5 failures \("):
        validate(bundle)
    # the verification of H4 (R16) moved away: H4 has no decision to check any more
    bundle = set_cells(bundle, "records", {"record_id": "R16"}, household_id="H1")
    assert [f["rule"] for f in failures(bundle)][-2:] == [
        "unknown_value", "verification_without_application"
    ]  # fmt: skip


def _vocabulary() -> dict:
    return {
        src: {k: dict(v) for k, v in kinds.items()} for src, kinds in record_vocabulary().items()
    }


def test_vocabulary_without_casework_kinds_skips_their_checks():
    old = _vocabulary()  # the vocabulary before casework outcomes
    del old["civil_affairs"]["verification"], old["civil_affairs"]["review"]
    old["civil_affairs"]["home_visit"] = {}
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R12"}, value="absent")
    bundle = set_cells(bundle, "records", {"record_id": "R10"}, household_id="H1", value="x")
    # only the kinds themselves are unknown: no value or application checks
    expect(
        bundle, "polars", "records", "source, kind", "unknown_kind", 3, ["R10", "R11", "R16"],
        vocabulary=old,
    )  # fmt: skip
    visits = dataclasses.replace(
        bundle, records=bundle.records.filter(~pl.col("kind").is_in(["verification", "review"]))
    )
    assert validate(visits, vocabulary=old) is visits


def test_vocabulary_drives_the_value_and_application_checks():
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R14"}, value="wechat")
    assert validate(bundle) is bundle  # the packaged vocabulary takes any channel
    vocab = _vocabulary()
    vocab["civil_affairs"]["application"]["values"] = ["app", "community", "walk_in"]
    expect(bundle, "polars", "records", "value", "unknown_value", 1, ["R14"], vocabulary=vocab)
    note = "[application.value 'wechat' not in ['app', 'community', 'walk_in']]"
    with pytest.raises(DataValidationError, match=re.escape(note)):
        validate(bundle, vocabulary=vocab)
    # an open value set still checks that verifications answer applications
    vocab = _vocabulary()
    vocab["civil_affairs"]["verification"] = {}
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R10"}, household_id="H1",
                       value="approved")  # fmt: skip
    expect(
        bundle, "polars", "records", "household_id", "verification_without_application", 1,
        ["R10"], vocabulary=vocab,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"values": "continue"}, "Got values='continue' for record kind civil_affairs.review; "
         "expected a non-empty list of strings, e.g. [continue, reduce, exit]."),
        ({"values": []}, "Got values=[] for record kind civil_affairs.review"),
        ({"values": ["continue", 1]}, "Got values=['continue', 1] for record kind"),
        ({"values": ["continue"], "value_nullable": "yes"},
         "Got value_nullable='yes' for record kind civil_affairs.review; expected true or false."),
    ],
)  # fmt: skip
def test_malformed_value_sets_are_rejected(tiny_bundle, props, message):
    vocab = _vocabulary()
    vocab["civil_affairs"]["review"] = props
    with pytest.raises(ValueError, match=re.escape(message)):
        validate(tiny_bundle, vocabulary=vocab)
    with pytest.raises(ValueError, match=re.escape(message)):
        record_values(vocab)


def test_one_kind_one_value_set():
    vocab = _vocabulary()
    vocab["police"] = {"review": {"values": ["ok"]}}
    message = (
        "Record kind 'review' has different value sets in sources 'civil_affairs' and "
        "'police'; give it one set of values."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        record_values(vocab)
    vocab["police"] = {"review": {"values": ["continue", "reduce", "exit"]}}
    assert record_values(vocab)["review"] == ("continue", "reduce", "exit")


# --- notes: the offending values, the allowed ones, the fix ----------------------------------


def note_of(bundle, backend="polars", **kwargs) -> list[str]:
    if backend == "pandas":
        bundle = bundle.to_pandas()
    with pytest.raises(DataValidationError) as info:
        validate(bundle, **kwargs)
    return info.value.report["note"].tolist()


def test_unknown_kind_names_the_kind_and_suggests_the_closest(backend):
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R01"}, source="health",
                       kind="hospitalisation")  # fmt: skip
    bundle = set_cells(bundle, "records", {"record_id": "R03"}, source="health",
                       kind="hospitalisation")  # fmt: skip
    expect(bundle, backend, "records", "source, kind", "unknown_kind", 2, ["R01", "R03"])
    assert note_of(bundle, backend) == [
        "'hospitalisation' is not a health kind (hospitalization, chronic_illness); did you "
        "mean 'hospitalization'?"
    ]
    bundle = set_cells(bundle, "records", {"record_id": "R02"}, source="civil_affairs",
                       kind="death")  # fmt: skip
    bundle = set_cells(bundle, "records", {"record_id": "R04"}, source="police")
    assert note_of(bundle)[0] == (
        "'death' is a public_security kind, not a civil_affairs one; 'hospitalisation' is not "
        "a health kind (hospitalization, chronic_illness); did you mean 'hospitalization'?; "
        f"source 'police' not in [{', '.join(record_vocabulary())}]; 'hospitalization' is a "
        "health kind"
    )


def test_unknown_category_lists_the_allowed_values(backend):
    bundle = set_cells(make_tiny_bundle(), "members", {"person_id": "P4"}, sex="f")
    bundle = set_cells(bundle, "members", {"person_id": "P1"}, hukou="town")
    bundle = set_cells(bundle, "members", {"person_id": "P2"}, disability_grade=7)
    assert note_of(bundle, backend) == [
        "'f' not in ['F', 'M']; did you mean 'F'?",
        "'town' not in ['rural', 'urban']",
        "7 not in [0, 1, 2, 3, 4]",
    ]
    with pytest.raises(DataValidationError, match=re.escape(
        "members.sex: unknown_category (1 row, e.g. P4@2018-06-15) ['f' not in ['F', 'M']; "
        "did you mean 'F'?]"
    )):  # fmt: skip
        validate(bundle)


def test_a_tie_between_close_values_suggests_none():
    bundle = set_cells(casework_bundle(), "records", {"record_id": "R10"}, value="approved")
    assert note_of(bundle) == [f"verification.value 'approved' not in {VERIFICATION_VALUES}"]


def test_overlapping_spells_name_both_households(backend):
    where = {"person_id": "P5", "household_id": "H4"}
    bundle = set_cells(make_tiny_bundle(), "members", where, joined_on=date(2023, 4, 1))
    assert note_of(bundle, backend) == [
        "P5 joined H4 on 2023-04-01 while in H3 (since 2010-01-01, until 2023-05-01)"
    ]
    open_spell = set_cells(bundle, "members", {"person_id": "P5", "household_id": "H3"},
                           left_on=None)  # fmt: skip
    assert note_of(open_spell) == [
        "P5 joined H4 on 2023-04-01 while in H3 (since 2010-01-01, until no end)"
    ]


def test_pandas_frame_from_read_csv_gets_a_pandas_fix(tiny_bundle, tmp_path):
    members = pd.read_csv(tiny_bundle.write(tmp_path / "b", format="csv") / "members.csv")
    regions = pd.read_csv(tmp_path / "b" / "regions.csv")  # region_id 001 becomes 1
    bundle = tiny_bundle.to_pandas()
    bundle = dataclasses.replace(bundle, members=members, regions=regions)
    with pytest.raises(DataValidationError) as info:
        validate(bundle)
    rows = info.value.report[["table", "column", "rule", "note"]].to_dict("records")
    typed = {(r["table"], r["column"]): r["note"] for r in rows if r["rule"] == "wrong_type"}
    strings = f"holds strings ({PANDAS_STRING_DTYPE}), expected date"  # str in pandas 3
    assert typed == {
        ("regions", "region_id"): "holds integers (int64), expected string; ids read as numbers "
        "lose their leading zeros: read them as text, e.g. pd.read_csv(path, "
        "dtype={'region_id': str})",
        ("members", "birth_date"): f"{strings}; convert with pd.to_datetime(df['birth_date'])",
        ("members", "joined_on"): f"{strings}; convert with pd.to_datetime(df['joined_on'])",
        ("members", "left_on"): f"{strings}; convert with pd.to_datetime(df['left_on'])",
    }  # fmt: skip
    assert (
        f"members.birth_date: wrong_type [{strings}; convert with "
        "pd.to_datetime(df['birth_date'])]"
    ) in str(info.value)


def test_polars_string_dates_get_a_polars_fix(tiny_bundle):
    members = tiny_bundle.members.with_columns(pl.col("birth_date").cast(pl.String))
    bundle = dataclasses.replace(tiny_bundle, members=members)
    assert note_of(bundle) == [
        "expected date, got String; convert with pl.col('birth_date').str.to_date('%Y-%m-%d')"
    ]


def test_extra_column_suggests_the_missing_one(tiny_bundle):
    records = tiny_bundle.records.rename({"record_id": "Record_ID"}).with_columns(x=pl.lit(1))
    bundle = dataclasses.replace(tiny_bundle, records=records)
    assert [(f["column"], f["rule"]) for f in failures(bundle)] == [
        ("record_id", "missing_column"), ("Record_ID", "extra_column"), ("x", "extra_column")
    ]  # fmt: skip
    assert note_of(bundle) == [
        "", "did you mean 'record_id'? rename the column", "not a contract column: drop it"
    ]  # fmt: skip


def test_the_report_states_its_reference_date(tiny_bundle):
    bundle = set_cells(tiny_bundle, "households", {"household_id": "H2"}, region_id="009")
    with pytest.raises(DataValidationError) as info:
        validate(bundle)
    today = date.today()
    assert info.value.reference_date == today and info.value.today
    assert str(info.value).startswith(
        f"HouseholdData failed validation with 1 failure (reference date {today.isoformat()}, "
        "today's date):\n"
    )
    with pytest.raises(DataValidationError) as info:
        validate(tiny_bundle, reference_date="2024-03-01")
    assert info.value.reference_date == date(2024, 3, 1) and not info.value.today
    assert str(info.value).startswith(
        "HouseholdData failed validation with 2 failures (reference date 2024-03-01):\n"
    )
    assert set(info.value.report["note"]) == {"after the reference date 2024-03-01"}
