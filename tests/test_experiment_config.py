"""The experiments' YAML option files are read as their command lines would be."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def config_module():
    spec = importlib.util.spec_from_file_location("_config", ROOT / "experiments" / "_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--as-of", nargs="+", type=dt.date.fromisoformat)
    parser.add_argument("--start", type=dt.date.fromisoformat)
    parser.add_argument("--households", type=int)
    return parser


def test_list_and_scalar_values_take_the_options_type(config_module, tmp_path, monkeypatch):
    path = tmp_path / "x.yaml"
    path.write_text('as-of: ["2025-08-01", "2025-09-01"]\nstart: "2025-01-01"\nhouseholds: 10\n')
    monkeypatch.setattr(sys, "argv", ["x", "--config", str(path)])
    args = config_module.parse_args(_parser(), "x")
    assert args.as_of == [dt.date(2025, 8, 1), dt.date(2025, 9, 1)]
    assert args.start == dt.date(2025, 1, 1)
    assert args.households == 10


def test_the_command_line_wins_and_unknown_keys_are_named(
    config_module, tmp_path, monkeypatch, capsys
):
    path = tmp_path / "x.yaml"
    path.write_text("households: 10\n")
    monkeypatch.setattr(sys, "argv", ["x", "--config", str(path), "--households", "5"])
    assert config_module.parse_args(_parser(), "x").households == 5
    path.write_text("households: 10\nhouse_holds: 3\n")
    monkeypatch.setattr(sys, "argv", ["x", "--config", str(path)])
    with pytest.raises(SystemExit):
        config_module.parse_args(_parser(), "x")
    assert "unknown key(s) ['house_holds']" in capsys.readouterr().err


def test_train_params_reads_the_training_runs_model(config_module):
    params = config_module.train_params(ROOT / "configs" / "train" / "default.yaml")
    from needsid.models import RANKING_CALIBRATION

    assert params["calibration"] == RANKING_CALIBRATION
