"""Monitoring: PSI and its critical value, precision without labels, the monthly run."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import stats

import needsid as ni
from needsid.data import HouseholdData
from needsid.models import GBMRiskModel
from needsid.monitoring import (
    ALERT_COLUMNS,
    DRIFT_COLUMNS,
    EXCESS_COLUMNS,
    PERFORMANCE_COLUMNS,
    estimated_precision,
    observed_precision,
    psi,
    psi_change,
    psi_critical,
    run,
)
from needsid.monitoring._run import ALL, SCORE, _drift_rows, _excess, _new_alert_counts

from .conftest import make_tiny_bundle


def test_psi_of_identical_samples_is_zero():
    x = np.arange(1000, dtype=float)
    r = psi(x, x)
    assert r.psi == 0.0 and not r.drifted and r.bins == 10


def test_psi_critical_is_the_scaled_chi_squared_quantile():
    expected = (1 / 300 + 1 / 700) * stats.chi2.ppf(0.95, 4)
    assert psi_critical(300, 700, 5, alpha=0.05) == pytest.approx(expected)
    with pytest.raises(ValueError, match="at least 2"):
        psi_critical(10, 10, 1)


@pytest.mark.parametrize("n", [200, 5000])
def test_psi_false_alarm_rate_is_alpha_when_nothing_changed(n):
    # the critical value adapts to the sample size: ~1% of unchanged pairs drift at
    # alpha=0.01, whether 200 or 5,000 households are compared
    rng = np.random.default_rng(n)
    alarms = [psi(rng.gamma(2, size=n), rng.gamma(2, size=n)).drifted for _ in range(600)]
    assert np.mean(alarms) < 0.03


def test_psi_marks_a_shift_a_new_missing_share_and_new_values():
    rng = np.random.default_rng(0)
    assert psi(rng.normal(size=4000), rng.normal(0.15, size=4000)).drifted
    ref = rng.normal(size=4000)
    cur = rng.normal(size=4000)
    cur[:400] = np.nan  # a department stopped sending records for a tenth
    r = psi(ref, cur)
    assert r.drifted and r.bins == 11
    # a constant reference (a count that was always 0) that starts to move
    moved = psi(np.zeros(3000), np.r_[np.zeros(2900), np.ones(100)])
    assert moved.drifted and moved.bins == 2
    assert not psi(np.zeros(3000), np.zeros(3000)).drifted


def test_psi_critical_adds_each_further_sample_to_the_variance():
    expected = (1 / 300 + 1 / 700 + 1 / 400 + 1 / 500) * stats.chi2.ppf(0.99, 9)
    assert psi_critical(300, 700, 10, 0.01, 400, 500) == pytest.approx(expected)
    with pytest.raises(ValueError, match=re.escape("Got sample sizes 300, 700, 0; expected")):
        psi_critical(300, 700, 10, 0.01, 0)


def test_psi_change_takes_out_a_change_that_repeats_every_year():
    # a calendar effect: every year, the month compared has a fifth of the values
    # halved (a short month's wages); rolling PSI marks it, the change test does not
    rng = np.random.default_rng(7)

    def month(short: bool, n: int = 20_000) -> np.ndarray:
        x = rng.gamma(2, 500, size=n)
        if short:
            x[: n // 5] /= 2
        return x

    same = [psi_change(month(False), month(True), month(False), month(True)) for _ in range(200)]
    assert all(psi(month(False), month(True)).drifted for _ in range(5))
    assert np.mean([r.drifted for r in same]) < 0.04
    # a change this year that the year before did not have is marked
    new = psi_change(month(False), month(True), month(False), month(False))
    assert new.drifted and new.psi > new.critical
    # with no change in either year, the index is small and the test at its level
    calm = [psi_change(*(month(False) for _ in range(4))).drifted for _ in range(200)]
    assert np.mean(calm) < 0.04


def test_psi_change_expects_a_whole_mass_to_move_as_it_did_a_year_before():
    # a yearly survey leaves a 6-month window every July: June's values all go to 0 in
    # both years, but this year's incomes are 7% higher and the surveyed share a little
    # larger (issue #18: rural regions were marked every July with PSI 0.3)
    rng = np.random.default_rng(11)

    def june(n: int, share: float, level: float) -> np.ndarray:
        x = np.zeros(n)
        surveyed = rng.random(n) < share
        x[surveyed] = rng.gamma(3, level / 3, surveyed.sum())
        return x

    n = 6_700
    alarms = [
        psi_change(june(n, 0.53, 16_000), np.zeros(n), june(n, 0.52, 15_000), np.zeros(n)).drifted
        for _ in range(100)
    ]
    assert np.mean(alarms) < 0.04
    # a tenth of this June's surveyed keep their value in July: marked
    now = june(n, 0.53, 16_000)
    kept = np.where(rng.random(n) < 0.1, now, 0.0)
    assert psi_change(now, kept, june(n, 0.52, 15_000), np.zeros(n)).drifted


def test_psi_change_keeps_the_expected_shares_positive():
    # a bin that emptied a year before would give a negative expected share
    ref = np.r_[np.zeros(900), np.ones(100)]
    r = psi_change(ref, ref, ref, np.zeros(1000))
    assert np.isfinite(r.psi) and r.drifted


def test_psi_rejects_bad_samples():
    with pytest.raises(ValueError, match="reference is empty"):
        psi([], [1.0])
    with pytest.raises(TypeError, match="current must be numbers"):
        psi([1.0], ["a"])


def _excess_counts(months, rates, rng, hit=(), factor=1.0, province=None, last=1):
    """Poisson new-alert counts per month and region; ``hit`` regions get ``factor``
    in the ``last`` months, every region ``province[i]`` in month i."""
    rows = []
    for i, m in enumerate(months):
        for r, rate in enumerate(rates):
            lam = rate * (province[i] if province else 1.0)
            if r in hit and i >= len(months) - last:
                lam *= factor
            rows.append((m, "indicator:x", "region_id", f"region_id=R{r:02d}", rng.poisson(lam)))
    return rows


def test_excess_marks_the_regions_whose_alerts_rose_more_than_the_typical_one():
    rng = np.random.default_rng(2)
    months = [dt.date(2025, k, 1) for k in range(1, 5)]
    rates = np.linspace(20, 40, 20)
    # a province-wide rise (a calendar month: twice the alerts everywhere) is not marked
    calm = _excess(_excess_counts(months, rates, rng, province=[1, 1, 1, 2.0]), months, 0.01)
    assert tuple(calm.columns) == EXCESS_COLUMNS
    # window 1 from the second month, window 2 from the third
    assert calm.height == (3 + 2) * 20 and not calm["marked"].any()
    widest = calm.group_by("month").agg(pl.col("window").max()).sort("month")
    assert widest["window"].to_list() == [1, 2, 2]
    # three regions with four times their alerts are named, and only they
    shocked = _excess(_excess_counts(months, rates, rng, hit=(0, 1, 2), factor=4.0), months, 0.01)
    last = shocked.filter((pl.col("month") == months[-1]) & (pl.col("window") == 1))
    assert set(last.filter(pl.col("marked"))["group"]) == {
        "region_id=R00",
        "region_id=R01",
        "region_id=R02",
    }
    assert not shocked.filter(pl.col("month") < months[-1])["marked"].any()
    # the expected count: the baseline's monthly mean times the typical change, the
    # median over the regions of the ratio of the two monthly rates (each smoothed by
    # half an alert a month; no region here is quiet enough to vote with the others)
    n, b = last["new"].to_numpy(), last["baseline"].to_numpy()
    assert (n + b >= 30).all()
    rho = np.median((n + 0.5) / ((b + 1.5) / 3))
    assert last["expected"].to_numpy() == pytest.approx(b * rho / 3)


def test_excess_window_of_two_months_builds_up_a_lasting_change():
    rng = np.random.default_rng(5)
    months = [dt.date(2025, k, 1) for k in range(1, 7)]
    rates = np.full(20, 30.0)
    found = {1: 0, 2: 0}
    for _ in range(20):
        counts = _excess_counts(months, rates, rng, hit=(0, 1, 2), factor=1.8, last=2)
        e = _excess(counts, months, 0.01).filter(pl.col("month") == months[-1])
        for w in found:
            hits = e.filter((pl.col("window") == w) & pl.col("marked"))["group"]
            found[w] += len(set(hits) & {"region_id=R00", "region_id=R01", "region_id=R02"})
    # the two months together find the shocked regions more often than the last alone
    assert found[2] > found[1]
    assert found[2] >= 0.6 * 20 * 3


def test_excess_quiet_groups_do_not_hide_a_shock_in_the_busy_ones():
    # the shape of a job-loss shock: 12 rural regions with about one alert a month, 8
    # urban with 20, 7 of which triple; unsmoothed or half-an-alert-per-count ratios of
    # the quiet ones scatter and pull the median (the typical change) up
    rng = np.random.default_rng(6)
    months = [dt.date(2025, k, 1) for k in range(1, 6)]
    rates = np.array([20.0] * 8 + [1.0] * 12)
    named, typical = [], []
    for _ in range(20):
        counts = _excess_counts(months, rates, rng, hit=tuple(range(7)), factor=3.0, last=2)
        e = _excess(counts, months, 0.01).filter(pl.col("month") == months[-1])
        named.append(len(set(e.filter(pl.col("marked"))["group"])))
        # the typical change over the shock's two months stays near 1: the quiet
        # regions did not change
        two = e.filter((pl.col("window") == 2) & (pl.col("baseline") > 0))
        rho = two["expected"].to_numpy() / (two["baseline"].to_numpy() * 2 / 3)
        assert rho == pytest.approx(rho[0])
        typical.append(rho[0])
    assert np.median(typical) == pytest.approx(1.0, abs=0.2)
    assert np.mean(named) >= 6


def test_excess_false_alarms_stay_at_alpha():
    rng = np.random.default_rng(4)
    months = [dt.date(2025, k, 1) for k in range(1, 5)]
    rates = rng.uniform(0.5, 30, 20)  # rare and common sources alike
    marked = [
        _excess(_excess_counts(months, rates, rng), months, 0.05)
        .group_by("month")
        .agg(pl.col("marked").any())["marked"]
        .to_list()
        for _ in range(60)
    ]
    # alpha is per month over its 20 tests: at most ~5% of months with any mark
    assert np.mean(marked) < 0.1


def test_new_alert_counts_split_by_group():
    feats = pl.DataFrame(
        {
            "household_id": ["a", "b", "c"],
            "group:region_id": ["G01", "G01", None],
            "group:urban": [True, True, False],
        }
    )
    new = [("a", "model"), ("b", "model"), ("c", "model"), ("a", "rule:x")]
    rows = _new_alert_counts(dt.date(2025, 1, 1), new, feats, ["region_id", "urban"])
    got = {(src, g): n for _, src, _, g, n in rows}
    assert got == {
        ("model", "region_id=G01"): 2,
        ("rule:x", "region_id=G01"): 1,
        ("model", "urban=True"): 2,
        ("model", "urban=False"): 1,
        ("rule:x", "urban=True"): 1,
    }


def test_estimated_precision_interval_covers_as_stated():
    rng = np.random.default_rng(1)
    p = rng.beta(2, 5, size=4000)
    est = estimated_precision(p, capacity=0.05)
    assert est.n == 200
    assert est.precision == pytest.approx(np.sort(p)[::-1][:200].mean())
    top = np.sort(p)[::-1][:200]
    covered = [est.low <= (rng.random(200) < top).mean() <= est.high for _ in range(2000)]
    assert 0.93 <= np.mean(covered) <= 0.97
    with pytest.raises(ValueError, match="calibrated probabilities"):
        estimated_precision([0.2, 1.2], capacity=1)


def test_observed_precision_wilson_interval():
    obs = observed_precision([True] * 8 + [False] * 2 + [None] * 5)
    assert obs.n == 10 and obs.precision == pytest.approx(0.8)
    # Wilson 95% for 8 of 10
    assert (round(obs.low, 3), round(obs.high, 3)) == (0.490, 0.943)
    assert observed_precision([None, np.nan]).n == 0


@pytest.fixture(scope="module")
def pop():
    return ni.simulate(n_households=1500, months=24, seed=3)


@pytest.fixture(scope="module")
def model(pop):
    feats = ni.features.build(pop.bundle, "2023-10-01")
    y = ni.labels.make(pop, "2023-10-01", horizon_months=6, source="truth")
    X = feats.to_pandas().set_index("household_id")
    y = y.to_pandas().set_index("household_id").reindex(X.index)
    return GBMRiskModel(n_estimators=40, n_jobs=1).fit(X, y.iloc[:, 0].astype(bool))


@pytest.fixture(scope="module")
def result(pop, model):
    return run(pop.bundle, "2024-03-01", "2024-05-01", model=model, capacity=0.05, ongoing=True)


def test_calendar_reference_tests_each_change_against_the_year_before(pop):
    out = run(pop.bundle, "2024-03-01", "2024-04-01", rules=None, reference="calendar")
    row = out.drift.filter(
        (pl.col("month") == dt.date(2024, 4, 1)) & (pl.col("variable") == "wage_pc_1m")
    ).row(0, named=True)
    x = {
        d: ni.features.build(pop.bundle, d)["wage_pc_1m"].to_numpy()
        for d in ("2024-03-01", "2024-04-01", "2023-03-01", "2023-04-01")
    }
    expected = psi_change(x["2024-03-01"], x["2024-04-01"], x["2023-03-01"], x["2023-04-01"])
    assert row["psi"] == pytest.approx(expected.psi)
    assert row["critical"] == pytest.approx(expected.critical)
    moved = psi(x["2024-03-01"], x["2024-04-01"])
    assert row["drifted"] == (expected.drifted and moved.drifted)
    assert "a year before" in out.notes[1]


def test_calendar_marks_no_echo_of_a_change_a_year_before():
    # a year before, most households got a value for the first time (a yearly report's
    # second year); this year the month is the same as its reference: the change test
    # alone would mark it, as July 2025 was marked on the simulator (issue #18)
    rng = np.random.default_rng(5)
    base = rng.gamma(2, 500, size=20_000)
    base[:2_000] = np.nan
    first = base.copy()
    first[:18_000] = np.nan
    frame = pl.DataFrame({"x": base})
    year_before = (pl.DataFrame({"x": first}), frame)
    assert psi_change(base, base, first, base).drifted
    (row,) = _drift_rows(dt.date(2025, 7, 1), frame, frame, ["x"], [], 10, 0.01, 0.0, year_before)
    assert row[1:3] == ("x", ALL) and not row[-1]
    # a change this year that the year before did not have is marked
    now = pl.DataFrame({"x": first})
    (row,) = _drift_rows(dt.date(2025, 7, 1), frame, now, ["x"], [], 10, 0.01, 0.0, (frame, frame))
    assert row[-1]


def test_calendar_run_shares_the_register_months_with_the_year_before(pop, model):
    # the register builds the year before start; the calendar test reads those months
    # set aside then, and gets what it gets by building them itself
    register = ni.indicators.load()
    args = (pop.bundle, "2024-03-01", "2024-04-01")
    shared = run(*args, model=model, register=register, reference="calendar", rules=None)
    alone = run(*args, model=model, reference="calendar", rules=None)
    assert shared.drift.equals(alone.drift)
    assert shared.drift.filter(pl.col("variable") == SCORE).height > 2


def test_deposit_change_does_not_flicker_when_the_older_report_leaves_the_look_back():
    # yearly bank reports each June; on 2025-07-01 the 2023 report is more than 24 months
    # old and the 2025 one not yet known: the latest (2024) is still compared with the
    # one before it (the cause of the July drift marks of issue #18)
    tiny = make_tiny_bundle()

    def deposit(rid: str, day: dt.date, known: dt.date, amount: float) -> pl.DataFrame:
        return tiny.records.head(1).with_columns(
            record_id=pl.lit(rid), household_id=pl.lit("H1"), person_id=pl.lit(None),
            source=pl.lit("banking"), kind=pl.lit("deposit_balance"),
            event_date=pl.lit(day), known_date=pl.lit(known), amount=pl.lit(amount),
        )  # fmt: skip

    extra = [
        deposit("R90", dt.date(2023, 6, 10), dt.date(2023, 6, 30), 10_000.0),
        deposit("R91", dt.date(2024, 6, 10), dt.date(2024, 6, 30), 4_000.0),
        deposit("R92", dt.date(2025, 6, 10), dt.date(2025, 7, 20), 6_000.0),
    ]
    records = pl.concat([tiny.records, *extra], how="vertical_relaxed")
    b = HouseholdData(tiny.regions, tiny.households, tiny.members, records)

    def change(as_of: dt.date) -> float | None:
        X = ni.features.build(b, as_of).filter(pl.col("household_id") == "H1")
        return X["deposit_change_12m"].item()

    changes = [change(dt.date(2025, m, 1)) for m in (6, 7, 8)]
    assert changes == pytest.approx([0.4, 0.4, 1.5])


def test_calendar_reference_needs_a_year_of_records_before_start(pop):
    msg = (
        "Got reference='calendar' with start=2024-01-01: it compares each month's change "
        "with the change a year before, from 2022-12-01, but the bundle has monthly records "
        "from 2023-01-01; start at 2024-03-01 or later, or use reference='rolling'."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        run(pop.bundle, "2024-01-01", "2024-02-01", reference="calendar")


def test_run_tables_and_statuses(result):
    assert result.months == [dt.date(2024, 3, 1), dt.date(2024, 4, 1), dt.date(2024, 5, 1)]
    assert result.reference == [dt.date(2024, 2, 1)]
    assert tuple(result.alerts.columns) == ALERT_COLUMNS
    assert tuple(result.drift.columns) == DRIFT_COLUMNS
    assert tuple(result.performance.columns) == PERFORMANCE_COLUMNS
    assert tuple(result.excess.columns) == EXCESS_COLUMNS
    # every month after the first tests each source's share per group
    assert set(result.excess["month"]) == set(result.months[1:])
    assert any(g.startswith("region_id=") for g in result.excess["group"])
    assert set(result.alerts["status"]) == {"new", "ongoing", "resolved"}
    assert {s.split(":")[0] for s in result.alerts["source"]} == {"model", "rule"}
    # model alerts: the capacity each month, ongoing + new
    active = result.alerts.filter((pl.col("source") == "model") & (pl.col("status") != "resolved"))
    assert active.group_by("month").len()["len"].to_list() == [
        round(0.05 * n) for n in result.performance["scored"]
    ]
    perf = result.performance
    assert (perf["estimated_low"] <= perf["estimated_precision"]).all()
    assert (perf["estimated_precision"] <= perf["estimated_high"]).all()
    # drift per region of the score, and over all for every feature
    groups = set(result.drift["group"])
    assert "all" in groups and any(g.startswith("region_id=") for g in groups)
    assert {"urban=True", "urban=False"} <= groups


def test_alert_transitions_follow_the_months(result):
    # an alert resolved in a month was active (new or ongoing) the month before
    a = result.alerts
    for month, prev in zip(result.months[1:], result.months[:-1], strict=True):
        resolved = a.filter((pl.col("month") == month) & (pl.col("status") == "resolved"))
        before = a.filter((pl.col("month") == prev) & (pl.col("status") != "resolved"))
        keys = set(zip(before["household_id"], before["source"], strict=True))
        assert set(zip(resolved["household_id"], resolved["source"], strict=True)) <= keys
        ongoing = a.filter((pl.col("month") == month) & (pl.col("status") == "ongoing"))
        assert set(zip(ongoing["household_id"], ongoing["source"], strict=True)) <= keys


def test_run_is_deterministic(pop, model, result):
    again = run(pop.bundle, "2024-03-01", "2024-05-01", model=model, capacity=0.05, ongoing=True)
    assert again.alerts.equals(result.alerts)
    assert again.drift.equals(result.drift)
    assert again.performance.equals(result.performance)
    assert again.excess.equals(result.excess)


def test_run_bad_input_fails_before_any_month(pop, model):
    with pytest.raises(ValueError, match=re.escape("before start=2024-05-01")):
        run(pop.bundle, "2024-05-01", "2024-03-01")
    with pytest.raises(ValueError, match=re.escape("use 2024-03-01")):
        run(pop.bundle, "2024-03-15", "2024-05-01")
    with pytest.raises(ValueError, match="groups"):
        run(pop.bundle, "2024-03-01", "2024-05-01", groups=("county",))
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"not_a_feature": rng.random(100), "n_members": rng.random(100)})
    lacking = GBMRiskModel(n_estimators=5, n_jobs=1).fit(X, [0, 1] * 50)
    with pytest.raises(ValueError, match=re.escape("features the feature spec does not build")):
        run(pop.bundle, "2024-03-01", "2024-05-01", model=lacking)
    with pytest.raises(TypeError, match="fitted classifier"):
        run(pop.bundle, "2024-03-01", "2024-05-01", model=object())


def test_run_levels_are_the_registers_own(pop):
    # the run shares its features and rule hits with the register: same levels as
    # scoring the register alone
    register = ni.indicators.load()
    months = ["2024-04-01", "2024-05-01"]
    result = run(pop.bundle, *months, register=register)
    direct = register.score_months(pop.bundle, months).levels.select(
        "household_id",
        pl.col("as_of").alias("month"),
        pl.col("total").alias("points"),
        "level",
    )
    assert result.levels.equals(direct.sort("month", "household_id"))
    sources = set(result.alerts["source"])
    assert any(s.startswith("indicator:") for s in sources)
    assert any(s.startswith("rule:") for s in sources)
    # without `ongoing`, only changes are written
    assert set(result.alerts["status"]) <= {"new", "resolved"}


def test_run_writes_its_tables_and_page(result, tmp_path):
    paths = result.write(tmp_path / "out")
    assert [p.name for p in paths] == [
        "levels.parquet",
        "alerts.parquet",
        "drift.parquet",
        "performance.parquet",
        "excess.parquet",
        "monitoring.html",
    ]
    assert pl.read_parquet(paths[1]).equals(result.alerts)
    html = paths[-1].read_text("utf-8")
    assert html.count("<img") == 3  # alerts, drift, precision (no register: no levels)
    again = result.write(tmp_path / "again")
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
