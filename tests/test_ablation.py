"""Source ablation (ni.evaluate.source_ablation) on small seeded simulations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import numpy as np
import polars as pl
import pytest

import needsid as ni
from needsid.data import record_vocabulary
from needsid.evaluate import source_ablation
from needsid.models import GBMRiskModel

# a department no feature or rule reads: its extract is dated after the population's end
# (no step reads a record before it is known), so nothing at any date sees it
SILENT = "tax_office"


def _with_silent_department(pop):
    rec = pop.bundle.records
    silent = rec.head(300).with_columns(
        record_id=pl.lit("tax-") + pl.col("record_id"),
        source=pl.lit(SILENT).cast(rec.schema["source"]),
        kind=pl.lit("tax_return").cast(rec.schema["kind"]),
        known_date=pl.lit(pop.end + dt.timedelta(days=31)),
    )
    bundle = dataclasses.replace(pop.bundle, records=pl.concat([rec, silent]))
    return dataclasses.replace(pop, bundle=bundle)


def _run(pop, sources, **kwargs):
    kwargs = {
        "model": GBMRiskModel(n_estimators=30, n_jobs=1),
        "horizon_months": 3,
        "capacity": 0.1,
        "n_boot": 30,
        "seed": 0,
        **kwargs,
    }
    return source_ablation(pop, sources, **kwargs)


@pytest.fixture(scope="module")
def pop():
    return _with_silent_department(ni.simulate(n_households=2_000, months=24, seed=0))


@pytest.fixture(scope="module")
def result(pop):
    return _run(pop, [SILENT, "banking"])


def test_rows_and_columns(result):
    t = result.table
    assert t["scenario"].to_list() == ["all sources", f"without {SILENT}", "without banking"]
    assert t["source"].to_list() == [None, SILENT, "banking"]
    assert result.sources == (SILENT, "banking")
    assert result.mode == "remove" and "banking" in result.base
    assert {"delta_exclusion_error_lo", "delta_no_data_share"} <= set(t.columns)
    assert "delta_recall_dibao_asset_deposit" in t.columns
    # the baseline's changes are zero by definition, with a zero-width interval
    base = t.row(0, named=True)
    assert base["delta_exclusion_error"] == 0 == base["delta_no_data_share"]
    assert base["delta_exclusion_error_lo"] == 0 == base["delta_exclusion_error_hi"]
    lo, hi = base["exclusion_error_lo"], base["exclusion_error_hi"]
    assert lo <= base["exclusion_error"] <= hi


def test_removing_a_source_nothing_reads_changes_nothing(result):
    t = result.table
    metrics = [c for c in t.columns if c not in ("scenario", "source", "records")]
    full, without = t.row(0, named=True), t.row(1, named=True)
    assert without["records"] == full["records"] - 300
    # exactly equal (NaN where both are NaN: a cross-check with no anomaly to find)
    for c in metrics:
        assert full[c] == without[c] or (np.isnan(full[c]) and np.isnan(without[c])), c
    scores = result.comparison.scores
    np.testing.assert_array_equal(scores["all sources"], scores[f"without {SILENT}"])
    checks = result.cross_checks
    recall = [
        checks.filter(pl.col("scenario") == s).select("rule_id", "found")
        for s in ("all sources", f"without {SILENT}")
    ]
    assert recall[0].equals(recall[1])


def test_removing_banking_blinds_the_deposit_check(result, pop):
    assert pop.truth.anomalies.filter(pl.col("anomaly") == "asset_deposit").height > 0
    deposit = result.cross_checks.filter(pl.col("rule_id") == "dibao_asset_deposit")
    by = {r["scenario"]: r for r in deposit.iter_rows(named=True)}
    assert by["all sources"]["recall"] > 0
    assert by["without banking"]["recall"] == 0.0
    assert by["without banking"]["found"] == 0
    row = result.table.filter(pl.col("source") == "banking").row(0, named=True)
    assert row["delta_recall_dibao_asset_deposit"] == -by["all sources"]["recall"]
    # banking is a core department: households lose their deposit records
    assert row["delta_no_data_share"] >= 0 and row["delta_invisible_share"] > 0


def test_deterministic_for_a_seed(result, pop):
    again = _run(pop, [SILENT, "banking"])
    assert again.table.equals(result.table)
    assert again.cross_checks.equals(result.cross_checks)
    assert again.comparison.table.equals(result.comparison.table)


def test_add_mode_starts_from_the_base(pop):
    res = _run(pop, ["banking"], mode="add", n_boot=0)
    assert res.table["scenario"].to_list() == ["base", "base + banking"]
    assert res.base == ("civil_affairs",)
    assert (
        res.table["records"][0]
        == pop.bundle.records.filter(pl.col("source") == "civil_affairs").height
    )
    deposit = res.cross_checks.filter(pl.col("rule_id") == "dibao_asset_deposit")
    assert deposit["found"].to_list()[0] == 0 < deposit["found"].to_list()[1]


@pytest.fixture(scope="module")
def tiny():
    return ni.simulate(n_households=300, months=12, seed=0)


def test_unknown_source_is_named(tiny):
    valid = list(record_vocabulary())
    with pytest.raises(ValueError, match=re.escape("'bank' is not a department")) as err:
        source_ablation(tiny, ["banking", "bank"])
    assert f"Valid departments: {valid!r}." in str(err.value)
    with pytest.raises(ValueError, match=re.escape("Got base=['nowhere']; 'nowhere' is not")):
        source_ablation(tiny, mode="add", base=["nowhere"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sources": []}, "Got sources=[]; expected at least one department"),
        ({"sources": "banking", "mode": "drop"}, "Got mode='drop'; expected one of"),
        ({"sources": "banking", "base": ["civil_affairs"]}, "with mode='remove'"),
        (
            {"sources": ["civil_affairs"], "mode": "add"},
            "['civil_affairs'] are already in the base",
        ),
        ({"sources": "banking", "capacity": 0}, "Got capacity=0"),
    ],
)
def test_bad_arguments(tiny, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        source_ablation(tiny, **kwargs)


def test_needs_a_simulation(tiny):
    with pytest.raises(TypeError, match="expected a SimulatedPopulation"):
        source_ablation(tiny.bundle, ["banking"])
