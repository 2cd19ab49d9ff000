"""Tests for needsid._dates: calendar months, and one age for features, labels and rules."""

from __future__ import annotations

import calendar
import datetime as dt
import re

import narwhals as nw
import pandas as pd
import polars as pl
import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from needsid import features, labels
from needsid._dates import age_at, months_after, months_before
from needsid.data import HouseholdData
from needsid.rules._coverage import outreach_features
from needsid.rules._frames import Context

from .conftest import make_tiny_bundle

D = dt.date
DATES = st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 12, 31))
MONTHS = st.integers(min_value=-240, max_value=240)

# -- months_after / months_before ---------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "k", "expected"),
    [
        (D(2024, 1, 30), 0, D(2024, 1, 30)),  # was 2024-01-28
        (D(2024, 1, 31), 1, D(2024, 2, 29)),  # leap year: clipped to 29
        (D(2023, 1, 31), 1, D(2023, 2, 28)),
        (D(2024, 1, 31), 2, D(2024, 3, 31)),  # the day is kept, not the clipped one
        (D(2024, 5, 31), 1, D(2024, 6, 30)),
        (D(2023, 12, 15), 1, D(2024, 1, 15)),
        (D(2024, 1, 15), -1, D(2023, 12, 15)),
        (D(2024, 3, 1), -14, D(2023, 1, 1)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2024, 2, 29), 48, D(2028, 2, 29)),
    ],
)
def test_months_after_by_hand(d, k, expected):
    assert months_after(d, k) == expected
    assert months_before(d, -k) == expected


def test_months_before_by_hand():
    assert months_before(D(2024, 3, 31), 1) == D(2024, 2, 29)
    assert months_before(D(2024, 3, 30), 0) == D(2024, 3, 30)
    assert months_before(D(2024, 7, 31), 3) == D(2024, 4, 30)
    assert months_before(D(2024, 1, 1), 12) == D(2023, 1, 1)


def test_months_outside_the_date_range_are_named():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Got d='9999-12-01' and k=1: the result would fall in the year 10000, outside "
            "the years 1 to 9999 a date can hold."
        ),
    ):
        months_after(D(9999, 12, 1), 1)
    with pytest.raises(ValueError, match=re.escape("fall in the year 0,")):
        months_before(D(1, 1, 1), 1)


@given(DATES)
def test_zero_months_is_the_identity(d):
    assert months_after(d, 0) == d
    assert months_before(d, 0) == d


@given(DATES, MONTHS)
def test_day_is_kept_or_clipped_to_the_month_end(d, k):
    got = months_after(d, k)
    assert got.day <= d.day
    assert got.day == min(d.day, calendar.monthrange(got.year, got.month)[1])
    # k calendar months apart
    assert (got.year * 12 + got.month) - (d.year * 12 + d.month) == k
    assert months_before(d, k) == months_after(d, -k)


@given(DATES, MONTHS)
def test_months_agree_with_dateutil(d, k):
    # an independent implementation of the same calendar rule
    assert months_after(d, k) == d + relativedelta(months=k)


@given(DATES.filter(lambda d: d.day <= 28), MONTHS)
def test_round_trip_for_days_every_month_has(d, k):
    assert months_after(months_before(d, k), k) == d
    assert months_before(months_after(d, k), k) == d


# -- age_at --------------------------------------------------------------------------------


def _ages(births, at, backend="polars"):
    frame = pl.DataFrame({"birth_date": births}, schema={"birth_date": pl.Date})
    if backend == "pandas":
        frame = frame.to_pandas()
        frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    out = nw.from_native(frame).with_columns(age=age_at("birth_date", at)).to_native()
    return [None if pd.isna(a) else int(a) for a in out["age"].to_list()]


def _age_by_hand(birth: dt.date, at: dt.date) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


@pytest.mark.parametrize("backend", ["polars", "pandas"])
def test_age_changes_on_the_birthday(backend):
    birth = D(2008, 6, 15)
    days = [D(2024, 6, 14), D(2024, 6, 15), D(2024, 6, 16), D(2024, 1, 1), D(2024, 12, 31)]
    assert [_ages([birth], d, backend)[0] for d in days] == [15, 16, 16, 15, 16]


@pytest.mark.parametrize("backend", ["polars", "pandas"])
def test_leap_day_births_age_on_1_march_in_common_years(backend):
    leapling = [D(2004, 2, 29)]
    assert _ages(leapling, D(2025, 2, 28), backend) == [20]
    assert _ages(leapling, D(2025, 3, 1), backend) == [21]
    assert _ages(leapling, D(2024, 2, 28), backend) == [19]
    assert _ages(leapling, D(2024, 2, 29), backend) == [20]


@pytest.mark.parametrize("backend", ["polars", "pandas"])
def test_missing_birth_dates_have_no_age(backend):
    assert _ages([None, D(2000, 1, 1)], D(2024, 1, 1), backend) == [None, 24]


def test_age_at_a_date_per_row_and_at_a_datetime():
    frame = pl.DataFrame(
        {
            "birth_date": [D(2008, 6, 15), D(2008, 6, 15), D(2004, 2, 29)],
            "event_date": [D(2024, 6, 14), D(2024, 6, 15), D(2023, 3, 1)],
        }
    )
    out = nw.from_native(frame).with_columns(age=age_at("birth_date", nw.col("event_date")))
    assert out.to_native()["age"].to_list() == [15, 16, 19]
    assert out.to_native()["age"].dtype == pl.Int64
    assert _ages([D(2008, 6, 15)], dt.datetime(2024, 6, 15, 23, 59)) == [16]


def test_age_at_rejects_a_string_date():
    with pytest.raises(
        TypeError,
        match=re.escape(
            "Got at='2024-01-01'; expected a date, e.g. datetime.date(2025, 1, 1), or a "
            'narwhals expression such as nw.col("event_date").'
        ),
    ):
        age_at("birth_date", "2024-01-01")


@given(st.lists(DATES, min_size=1, max_size=30), DATES)
def test_age_at_is_completed_years(births, at):
    assert _ages(births, at) == [_age_by_hand(b, at) for b in births]


# -- one age for features, labels and rules -----------------------------------------------

AS_OF = D(2024, 6, 1)


def _bundle_with_birthdays_after_as_of() -> HouseholdData:
    """The tiny bundle with P4 (alone in H2) turning 60 and P3 (child in H1) turning 16
    later in the year of ``AS_OF``: a year difference would call P4 too old to work and P3
    of working age."""
    b = make_tiny_bundle()
    births = {"P4": D(1964, 9, 15), "P3": D(2008, 6, 2)}
    members = b.members.with_columns(
        birth_date=pl.col("person_id").replace_strict(
            births, default=pl.col("birth_date"), return_dtype=pl.Date
        )
    )
    return HouseholdData(b.regions, b.households, members, b.records)


def test_features_rules_and_labels_count_the_same_ages():
    bundle = _bundle_with_birthdays_after_as_of()
    names = ("n_children", "n_elderly", "n_working_age")
    built = features.build(bundle, AS_OF).select("household_id", *names).sort("household_id")
    ctx = Context(bundle, AS_OF)
    outreach = outreach_features(ctx, AS_OF, 12, names).select("household_id", *names)
    joined = built.join(outreach, on="household_id", suffix="_rules")
    for name in names:
        assert joined[name].cast(pl.Int64).to_list() == joined[f"{name}_rules"].to_list(), name
    by_hh = dict(zip(built["household_id"], built["n_working_age"], strict=True))
    assert by_hh["H2"] == 1  # P4 is 59 until 15 September
    h1 = built.filter(pl.col("household_id") == "H1")
    assert h1["n_children"].item() == 1  # P3 is 15 until 2 June

    # per-record ages in rules, at each record's date
    frame = pl.DataFrame(
        {"person_id": ["P4", "P4", "P3", "P3"]},
    ).with_columns(
        event_date=pl.Series([D(2024, 9, 14), D(2024, 9, 15), D(2024, 6, 1), D(2024, 6, 2)])
    )
    assert ctx.with_age(frame)["age"].to_list() == [59, 60, 15, 16]

    # labels: H2's only member can work, so H2 is not "no one able to work" (tekun)
    made = labels.make(bundle, AS_OF, 6, source="records")
    tekun = dict(zip(made["household_id"], made["need_tekun"], strict=True))
    assert tekun["H2"] is False
