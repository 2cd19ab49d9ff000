"""Scenario shocks in the simulator: no shock changes no draw; a shock moves need where and
when it hits, and nowhere else; a shock that does not fit the run is refused by name."""

import datetime as dt
import math
import re

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

import needsid as ni
from needsid.simulation import Shock, SimulationConfig, default_config
from needsid.simulation._shocks import check_shocks, multipliers

START = dt.date(2024, 1, 1)  # month 12 of the default run


def _with(*shocks):
    return default_config().model_copy(update={"shocks": list(shocks)})


def _same(a, b):
    assert a.bundle.fingerprint() == b.bundle.fingerprint()
    for name, table in a.bundle.tables.items():
        assert table.equals(b.bundle.tables[name]), name
    for name in ("monthly", "households", "anomalies", "outcomes"):
        assert getattr(a.truth, name).equals(getattr(b.truth, name)), name


def test_no_shock_draws_exactly_what_a_config_without_the_field_draws():
    raw = default_config().model_dump()
    without = SimulationConfig(**{k: v for k, v in raw.items() if k != "shocks"})
    empty = SimulationConfig(**{**raw, "shocks": []})
    assert "shocks" not in without.model_fields_set and empty.shocks == []
    a = ni.simulate(n_households=2000, months=24, seed=0, config=without)
    b = ni.simulate(n_households=2000, months=24, seed=0, config=empty)
    _same(a, b)
    # a shock that multiplies by 1 takes the shock's code path and still changes nothing
    neutral = ni.simulate(
        n_households=2000, months=24, seed=0, config=_with(Shock(start=START, months=6))
    )
    _same(a, neutral)


@pytest.fixture(scope="module")
def runs():
    base = ni.simulate(n_households=6000, months=24, seed=0)
    hit = base.bundle.regions["region_id"].to_list()[::3]  # 7 of the 20 regions
    shock = Shock(start=START, months=12, regions=hit, job_loss=3.0)
    shocked = ni.simulate(n_households=6000, months=24, seed=0, config=_with(shock))
    return base, shocked, shock


def _region_months(pop, hit):
    """Job losses recorded and truth by region and month: the part no id shift touches."""
    households = pop.bundle.households.select("household_id", "region_id")
    month = pl.col("event_date").dt.truncate("1mo").alias("month")
    kind = pl.col("kind").cast(pl.String)
    job_losses = (
        pop.bundle.records.filter(kind == "unemployment_registered")
        .join(households, on="household_id")
        .group_by("region_id", month)
        .len("job_losses")
    )
    truth = (
        pop.truth.monthly.join(households, on="household_id")
        .group_by("region_id", "month")
        .agg(
            pl.len().alias("households"),
            pl.col("in_need").cast(pl.Int64).sum(),
            pl.col("need_employment").cast(pl.Int64).sum(),
        )
    )
    return (
        truth.join(job_losses, on=["region_id", "month"], how="left")
        .with_columns(pl.col("job_losses").fill_null(0), hit=pl.col("region_id").is_in(hit))
        .sort("region_id", "month")
    )


def _newly_in_need(pop, hit, shock):
    """Households not in need the month before the shock and in need during it, by hit."""
    households = pop.bundle.households.select("household_id", "region_id")
    monthly = pop.truth.monthly.join(households, on="household_id")
    before = monthly.filter(pl.col("month") == dt.date(2023, 12, 1), ~pl.col("in_need"))
    window = monthly.filter(pl.col("month").is_between(shock.start, shock.end, closed="left"))
    fell = window.group_by("household_id").agg(pl.col("in_need").any())
    joined = before.select("household_id", "region_id").join(fell, on="household_id")
    out = joined.group_by(pl.col("region_id").is_in(hit).alias("hit")).agg(
        pl.col("in_need").mean()
    )
    return dict(out.rows())


def test_a_job_loss_shock_moves_need_where_and_when_it_hits(runs):
    base, shocked, shock = runs
    assert shocked.config.shocks == [shock]  # the population records its scenario
    hit = shock.regions
    a, b = _region_months(base, hit), _region_months(shocked, hit)

    # before the start every draw is the same: region by region, month by month
    earlier = pl.col("month") < shock.start
    assert a.filter(earlier).equals(b.filter(earlier))

    in_window = pl.col("month").is_between(shock.start, shock.end, closed="left")

    def total(frame, where, column):
        return frame.filter(in_window, where)[column].sum()

    # job losses triple in the regions hit (1.8: ~50 events a side are noisy), and stay
    # as they were elsewhere
    inside = pl.col("hit")
    assert total(b, inside, "job_losses") > 1.8 * total(a, inside, "job_losses")
    out_a, out_b = total(a, ~inside, "job_losses"), total(b, ~inside, "job_losses")
    assert abs(out_b - out_a) < 4 * math.sqrt(out_a + out_b), (out_a, out_b)
    # so does the unemployment the truth records (need_employment)
    assert total(b, inside, "need_employment") > 1.8 * total(a, inside, "need_employment")

    # and the share of households that fall into need in the window
    newly_a, newly_b = _newly_in_need(base, hit, shock), _newly_in_need(shocked, hit, shock)
    assert newly_b[True] > 1.5 * newly_a[True], (newly_a, newly_b)
    assert 0.75 < newly_b[False] / newly_a[False] < 1.25, (newly_a, newly_b)
    # the months in need (truth.monthly.in_need) of the regions hit rise too
    assert total(b, inside, "in_need") > 1.05 * total(a, inside, "in_need")


def test_an_illness_shock_raises_hospitalisations_and_health_need():
    base = ni.simulate(n_households=1500, months=12, seed=1)
    sick = ni.simulate(
        n_households=1500,
        months=12,
        seed=1,
        config=_with(Shock(start=dt.date(2023, 7, 1), months=6, illness=3.0)),
    )

    def measure(pop):
        kind = pl.col("kind").cast(pl.String)
        late = pl.col("event_date") >= dt.date(2023, 7, 1)
        bills = pop.bundle.records.filter(kind == "hospitalization", late).height
        health = pop.truth.monthly.filter(pl.col("month") >= dt.date(2023, 7, 1))
        return bills, health["need_health"].mean()

    (bills_a, health_a), (bills_b, health_b) = measure(base), measure(sick)
    assert bills_b > 2 * bills_a
    assert health_b > health_a


def test_shocks_given_as_dicts_are_validated_and_recorded():
    as_dict = {"start": "2023-04-01", "months": 2, "regions": ["G02"], "job_loss": 2}
    config = SimulationConfig(**{**default_config().model_dump(), "shocks": [as_dict]})
    assert config.shocks == [
        Shock(start=dt.date(2023, 4, 1), months=2, regions=["G02"], job_loss=2)
    ]
    # model_copy does not validate: simulate does, so a dict there draws the same
    a = ni.simulate(n_households=300, months=6, seed=0, config=config)
    b = ni.simulate(n_households=300, months=6, seed=0, config=_with(as_dict))
    assert a.bundle.fingerprint() == b.bundle.fingerprint()
    assert a.config.shocks[0].end == dt.date(2023, 6, 1)


def test_overlapping_shocks_multiply():
    config = _with(
        Shock(start=dt.date(2023, 3, 1), months=3, regions=["G01", "G02"], job_loss=2.0),
        Shock(start=dt.date(2023, 4, 1), months=1, illness=0.5, job_loss=3.0),
    )
    ids = [f"G{i:02d}" for i in range(1, 21)]
    windows = check_shocks(config, 12, ids)
    assert multipliers(windows, 1, 20) is None
    march, april = multipliers(windows, 2, 20), multipliers(windows, 3, 20)
    assert march.job_loss[:3].tolist() == [2.0, 2.0, 1.0]
    assert april.job_loss[:3].tolist() == [6.0, 6.0, 3.0]
    assert np.all(april.illness == 0.5) and np.all(march.illness == 1.0)


@pytest.mark.parametrize(
    ("shocks", "message"),
    [
        (
            [Shock(start=dt.date(2023, 7, 1), months=1)],
            "Got shocks[0].start='2023-07-01'; it must be one of the simulated months, "
            "'2023-01-01' .. '2023-06-01' (config.start and months=6).",
        ),
        (
            [Shock(start=dt.date(2022, 12, 1), months=3)],
            "Got shocks[0].start='2022-12-01'; it must be one of the simulated months",
        ),
        (
            [Shock(start=dt.date(2023, 2, 1), months=1, regions=["G01", "X9", "G21"])],
            "Got shocks[0].regions with unknown region ids ['G21', 'X9']; the simulated "
            "regions are 'G01' .. 'G20' (config.n_regions=20), or give None for all of them.",
        ),
    ],
)
def test_a_shock_that_does_not_fit_the_run_is_named(shocks, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ni.simulate(n_households=50, months=6, seed=0, config=_with(*shocks))


def test_every_shock_that_does_not_fit_is_reported_at_once():
    shocks = [
        Shock(start=dt.date(2023, 2, 1), months=1),
        Shock(start=dt.date(2030, 1, 1), months=1),
        Shock(start=dt.date(2023, 2, 1), months=1, regions=["nowhere"]),
    ]
    with pytest.raises(ValueError) as err:
        ni.simulate(n_households=50, months=6, seed=0, config=_with(*shocks))
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Got shocks[1].start='2030-01-01'")
    assert lines[1].startswith("Got shocks[2].regions with unknown region ids ['nowhere']")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"start": dt.date(2023, 3, 15)},
            "Got shock start='2023-03-15'; shocks run in calendar months, so start must be "
            "the first day of a month, e.g. '2023-03-01'.",
        ),
        ({"months": 0}, "greater than or equal to 1"),
        ({"job_loss": -1.0}, "greater than or equal to 0"),
        ({"illness": float("inf")}, "finite number"),
        (
            {"regions": []},
            "Got shock regions=[]; list the region ids it hits, or give None for every region.",
        ),
        ({"severity": 2}, "Extra inputs are not permitted"),
    ],
)
def test_shock_fields_are_validated(fields, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        Shock(**{"start": dt.date(2023, 3, 1), "months": 2, **fields})
