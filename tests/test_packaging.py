"""What an installed needsid looks like: lazy imports, the version, a wheel with its data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import needsid as ni
from needsid.cli import app

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("mlflow", "lightgbm", "fairlearn", "interpret", "sklearn", "shap", "pyspark", "pandas")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}


def test_import_needsid_loads_no_heavy_library():
    loaded = _modules_after("import needsid")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_subpackages_load_on_first_use_as_attributes():
    loaded = _modules_after("import needsid as ni\nni.flagging.flag")
    assert "mlflow" not in loaded
    assert "mlflow" in _modules_after("import needsid as ni\nni.tracking.train")


def test_every_public_name_resolves():
    for name in ni.__all__:
        assert getattr(ni, name) is not None, name
    assert set(ni.__all__) <= set(dir(ni))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ni.nope  # noqa: B018


def test_one_config_error_family():
    from needsid.rules import RuleSetError
    from needsid.tracking import ConfigError as TrackingConfigError

    assert issubclass(RuleSetError, ni.ConfigError) and issubclass(ni.ConfigError, ValueError)
    assert TrackingConfigError is ni.ConfigError
    for load, bad in (
        (ni.features.load_spec, {"windows": [3, 3]}),
        (ni.mpi.load_spec, {"k": 7}),
    ):
        with pytest.raises(ni.ConfigError) as err:
            load(bad)
        assert len(err.value.problems) >= 1


def test_version_option_prints_the_installed_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"needsid {ni.__version__}"
    assert ni.__version__ != "0.0.0"


@pytest.mark.slow
def test_the_wheel_ships_the_package_data(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(src),
        ],
        check=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("needsid-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "needsid/py.typed",
        "needsid/data/record_kinds.yaml",
        "needsid/features/default.yaml",
        "needsid/rules/default.yaml",
        "needsid/indicators/default.yaml",
        "needsid/mpi/specs/global_mpi.yaml",
    ):
        assert needed in names, needed
    assert not any(n.startswith(("tests/", "experiments/", "notebooks/")) for n in names)
