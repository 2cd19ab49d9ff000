"""The command line and the end-to-end demo."""

import polars as pl
import pytest
from typer.testing import CliRunner

import needsid as ni
from needsid._demo import run_demo
from needsid.cli import app

runner = CliRunner()


def test_simulate_then_validate_round_trip(tmp_path):
    out = tmp_path / "bundle"
    result = runner.invoke(
        app, ["simulate", "--households", "300", "--months", "6", "--seed", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "households.parquet",
        "members.parquet",
        "records.parquet",
        "regions.parquet",
    ]
    expected = ni.simulate(n_households=300, months=6, seed=2).bundle
    assert ni.HouseholdData.read(out).fingerprint() == expected.fingerprint()
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_validate_reports_problems_and_exits_1(tmp_path):
    bundle = ni.simulate(n_households=200, months=4, seed=1).bundle
    broken = ni.HouseholdData(
        bundle.regions,
        bundle.households,
        bundle.members,
        bundle.records.with_columns(pl.lit("no_such_kind").alias("kind")),
    )
    broken.write(tmp_path / "b")
    result = runner.invoke(app, ["validate", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert "unknown_kind" in result.output


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "simulate", "validate"):
        assert command in result.output


@pytest.mark.slow
def test_demo_beats_the_status_quo_at_equal_capacity():
    r = run_demo(n_households=20_000, seed=0)
    assert 0 < r.capacity < r.test_households
    assert r.auc_oracle > r.auc_model > 0.8
    assert r.auc_oracle - r.auc_model < 0.1
    assert r.exclusion_model < r.exclusion_status_quo
    assert r.inclusion_model < r.inclusion_status_quo
