"""The features, rules, compare and audit commands on a small simulated folder."""

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

import needsid as ni
from needsid.cli import app
from needsid.flagging import flag

pytestmark = pytest.mark.slow  # about 30 s: one simulation, one small comparison

runner = CliRunner()
AS_OF = "2024-07-01"

COMPARE_YAML = """\
train_as_of: ["2023-07-01", "2024-01-01"]
test_as_of: "2024-07-01"
horizon_months: 6
test_size: 0.3
seed: 0
capacity: 0.1
models:
  lgbm: {{kind: gbm, params: {{n_estimators: 20, n_jobs: 1, min_child_samples: 10}}}}
  card: {{kind: scorecard, params: {{max_features: 4}}}}
n_boot: 10
rules: default
out: {out}
{extra}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "sim"
    ni.simulate(n_households=800, months=24, seed=0).bundle.write(path)
    return path


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def plain(text: str) -> str:
    """The output without rich's line wrapping, to look for a message in it."""
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("command", ["features", "rules", "compare", "audit", "monitor"])
def test_help_exits_0(command):
    code, out = run(command, "--help")
    assert code == 0, out
    assert "Example: needsid " + command in plain(out)


# -- features -----------------------------------------------------------------------------


def test_features_writes_one_row_per_household(folder, tmp_path):
    out = tmp_path / "sub" / "X.parquet"
    code, text = run("features", "--data", folder, "--as-of", AS_OF, "--out", out)
    assert code == 0, text
    X = pl.read_parquet(out)
    expected = ni.features.describe()["name"].tolist()
    assert X.columns == ["household_id", *expected]
    assert X.height == X["household_id"].n_unique() > 700
    assert [p.name for p in out.parent.iterdir()] == ["X.parquet"]  # no temporary left


def test_features_with_a_spec_file(folder, tmp_path):
    out = tmp_path / "X.parquet"
    spec = "configs/features/quick.yaml"
    code, text = run("features", "--data", folder, "--as-of", AS_OF, "--spec", spec, "--out", out)
    assert code == 0, text
    assert pl.read_parquet(out).columns[1:] == ni.features.describe(spec)["name"].tolist()


def test_features_on_duckdb_under_a_memory_limit_equal_polars(folder, tmp_path):
    args = ("features", "--data", folder, "--as-of", AS_OF, "--out")
    code, text = run(*args, tmp_path / "p.parquet")
    assert code == 0, text
    code, text = run(
        *args, tmp_path / "d.parquet", "--engine", "duckdb", "--memory-limit", "200MB"
    )
    assert code == 0, text
    assert f"x {len(ni.features.describe())} features" in text
    polars_out, duck_out = (pl.read_parquet(tmp_path / f) for f in ("p.parquet", "d.parquet"))
    assert duck_out.schema == polars_out.schema
    assert duck_out["household_id"].equals(polars_out["household_id"])
    np.testing.assert_allclose(duck_out.drop("household_id").to_numpy(),
                               polars_out.drop("household_id").to_numpy(), rtol=1e-9)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.parquet", "p.parquet"]
    code, text = run(*args, tmp_path / "d2.parquet", "--engine", "duckdb")
    assert code == 0, text
    assert (tmp_path / "d2.parquet").read_bytes() == (tmp_path / "d.parquet").read_bytes()


def test_features_engine_errors_are_named_and_write_nothing(folder, tmp_path):
    out = tmp_path / "X.parquet"
    args = ("features", "--data", folder, "--as-of", AS_OF, "--out", out)
    for extra, message in [
        (("--engine", "spark"), "--engine 'spark': expected polars or duckdb"),
        (("--memory-limit", "1GB"), "--memory-limit applies to --engine duckdb only"),
        (("--engine", "duckdb", "--memory-limit", "lots"), "--memory-limit 'lots'"),
        (("--engine", "duckdb", "--memory-limit", "2MB"), "DuckDB ran out of memory"),
    ]:
        code, text = run(*args, *extra)
        assert code == 1, (extra, text)
        assert message in plain(text), (extra, text)
        assert "Traceback" not in text
        assert not out.exists()
    csv_folder = ni.HouseholdData.read(folder).write(tmp_path / "csv", format="csv")
    code, text = run("features", "--data", csv_folder, "--as-of", AS_OF, "--out", out,
                     "--engine", "duckdb")  # fmt: skip
    assert code == 1 and "scan reads Parquet bundles only" in plain(text)
    assert not out.exists()


def test_features_describe_prints_the_catalogue():
    code, text = run("features", "--describe")
    assert code == 0, text
    assert "net_income_pc" in text and "meaning" in text


def test_features_spec_errors_name_the_key_and_value(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("windows: [3, 12]\ncolour: red\nlookback_months: -4\n")
    code, text = run("features", "--describe", "--spec", spec)
    assert code == 1
    assert "unknown key 'colour'" in plain(text)
    assert "lookback_months" in text
    assert "Traceback" not in text


def test_features_needs_data_as_of_and_out(folder):
    code, text = run("features", "--data", folder)
    assert code == 1
    assert "--as-of, --out" in plain(text)


def test_features_bad_date_is_named(folder, tmp_path):
    code, text = run("features", "--data", folder, "--as-of", "July", "--out", tmp_path / "X")
    assert code == 1
    assert "'July'" in text


# -- rules --------------------------------------------------------------------------------


def test_rules_prints_summary_and_writes_hits(folder, tmp_path):
    out = tmp_path / "hits.parquet"
    code, text = run("rules", "--data", folder, "--as-of", AS_OF, "--out", out)
    assert code == 0, text
    rule_set = ni.rules.load("default")
    expected = rule_set.evaluate(ni.HouseholdData.read(folder), AS_OF).to_frame()
    hits = pl.read_parquet(out)
    assert hits.columns == expected.columns
    assert hits.height == expected.height
    assert f"{expected.height} hits" in text
    assert all(rule_id in text for rule_id in rule_set.ids)  # every rule listed, hit or not


def test_rules_bad_rule_set_is_named(folder, tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "id: x\nversion: '1'\ndescription: d\nrules:\n"
        "  - id: r1\n    kind: trigger\n    template: no_such_template\n"
    )
    code, text = run("rules", "--data", folder, "--as-of", AS_OF, "--rules", bad)
    assert code == 1
    assert "r1" in text and "no_such_template" in plain(text)
    code, text = run("rules", "--data", folder, "--as-of", AS_OF, "--rules", tmp_path / "nope.y")
    assert code == 1
    assert "nope.y" in text


def test_rules_missing_data_folder(tmp_path):
    code, text = run("rules", "--data", tmp_path / "nowhere", "--as-of", AS_OF)
    assert code == 1
    assert "nowhere" in text and "Traceback" not in text


# -- compare ------------------------------------------------------------------------------


def test_compare_writes_table_and_report(folder, tmp_path):
    out, report = tmp_path / "res" / "cmp.csv", tmp_path / "res" / "cmp.html"
    config = tmp_path / "compare.yaml"
    config.write_text(COMPARE_YAML.format(out=out, extra=f"report: {report}"))
    code, text = run("compare", "--data", folder, "--config", config)
    assert code == 0, text
    table = pd.read_csv(out)
    assert list(table.columns) == ["model", "metric", "estimate", "lo", "hi"]
    assert list(table["model"].unique()) == ["lgbm", "card", "status quo", "rules only"]
    for name in ("lgbm", "card", "status quo", "rules only"):
        assert name in text
    html = report.read_text("utf-8")
    assert 'id="scorecard"' in html and 'id="rules"' in html
    assert sorted(p.name for p in out.parent.iterdir()) == ["cmp.csv", "cmp.html"]


def test_compare_packaged_config_is_valid():
    from needsid._cli_configs import CompareConfig, load_config

    cfg = load_config(CompareConfig, "configs/experiments/compare.yaml")
    assert set(cfg.models) == {"lightgbm", "scorecard"}
    assert cfg.report is not None


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("colour: red", "unknown key 'colour'"),
        ("horizon_months: 60", "horizon_months"),
        ("test_size: 1.5", "test_size"),
        ("capacity: 2.5", "capacity: Got capacity=2.5"),
        ("models_extra: 1", "unknown key 'models_extra'"),
    ],
)
def test_compare_config_errors_name_the_key(folder, tmp_path, extra, named):
    config = tmp_path / "compare.yaml"
    config.write_text(COMPARE_YAML.format(out=tmp_path / "c.csv", extra=extra))
    code, text = run("compare", "--data", folder, "--config", config)
    assert code == 1
    assert named in plain(text)
    assert str(config) in plain(text) and "Traceback" not in text
    assert not (tmp_path / "c.csv").exists()


def test_compare_model_errors_name_the_model(folder, tmp_path):
    config = tmp_path / "compare.yaml"
    text = COMPARE_YAML.format(out=tmp_path / "c.csv", extra="")
    text = text.replace("kind: scorecard", "kind: xgboost").replace("n_jobs: 1", "n_job: 1")
    config.write_text(text)
    code, out = run("compare", "--data", folder, "--config", config)
    assert code == 1
    out = plain(out)
    assert "models.card.kind" in out and "'xgboost'" in out
    assert "models.lgbm" in out and "['n_job']" in out


def test_compare_leaky_dates_are_refused(folder, tmp_path):
    config = tmp_path / "compare.yaml"
    text = COMPARE_YAML.format(out=tmp_path / "c.csv", extra="")
    config.write_text(text.replace('"2024-01-01"]', '"2024-03-01"]'))
    code, out = run("compare", "--data", folder, "--config", config)
    assert code == 1
    assert "['2024-03-01']" in plain(out) and "test_as_of=2024-07-01" in plain(out)


# -- audit --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flags_file(folder, tmp_path_factory):
    """A flag table from random scores: the audit reads flags, whatever made them."""
    attrs = ni.rules.household_attributes(ni.HouseholdData.read(folder), AS_OF)
    rng = np.random.default_rng(0)
    scores = attrs.select("household_id").with_columns(
        pl.Series("score", rng.uniform(size=attrs.height))
    )
    path = tmp_path_factory.mktemp("flags") / "flags.parquet"
    flag(scores, capacity=0.2, as_of=AS_OF).write_parquet(path)
    return path


def test_audit_prints_groups_and_writes_html(folder, flags_file, tmp_path):
    html = tmp_path / "audit.html"
    code, text = run("audit", "--data", folder, "--flags", flags_file, "--html", html)
    assert code == 0, text
    assert "share flagged by urban x minority (8" in plain(text)
    # the verdict column says what the library's audit says, group by group
    from needsid._cli_configs import AuditConfig
    from needsid.cli import _audit_table

    table = pl.read_parquet(flags_file).select(pl.col("household_id").cast(pl.String), "flag")
    attrs = ni.rules.household_attributes(ni.HouseholdData.read(folder), AS_OF)
    rows = table.join(attrs, on="household_id")
    cfg = AuditConfig()
    result = ni.fairness.audit(
        None,
        rows["flag"].to_numpy(),
        sensitive_features=rows.select(cfg.by).to_pandas(),
        band=cfg.band,
        min_group_size=cfg.min_group_size,
        n_boot=cfg.n_boot,
        seed=cfg.seed,
    )
    expected = sorted(_audit_table(result, cfg.by)["verdict"])
    printed = [line.split("│")[-2].strip() for line in text.splitlines() if line.count("│") > 5]
    assert sorted(v for v in printed if v not in ("verdict", "")) == expected
    assert expected.count("reference") == 1
    assert html.read_text("utf-8").lstrip().lower().startswith("<!doctype html")


def test_audit_by_option_overrides_config(folder, flags_file, tmp_path):
    config = tmp_path / "audit.yaml"
    config.write_text("by: [region_id]\nn_boot: 20\n")
    code, text = run(
        "audit", "--data", folder, "--flags", flags_file, "--config", config, "--by", "head_sex"
    )
    assert code == 0, text
    assert "share flagged by head_sex" in plain(text)
    assert re.search(r"\bF\b", text) and re.search(r"\bM\b", text)


def test_audit_packaged_config_is_the_default():
    from needsid._cli_configs import AuditConfig, load_config

    assert load_config(AuditConfig, "configs/experiments/audit.yaml") == AuditConfig()


@pytest.mark.parametrize(
    ("config_text", "by", "named"),
    [
        ("band: [0.8, 1.25]\nstrata: 3\n", None, "unknown key 'strata'"),
        ("band: [1.2, 0.9]\n", None, "band: [1.2, 0.9]"),
        ("n_boot: -1\n", None, "n_boot"),
        ("", "income", "['income'] not household attribute(s)"),
    ],
)
def test_audit_config_errors_name_the_key(folder, flags_file, tmp_path, config_text, by, named):
    config = tmp_path / "audit.yaml"
    config.write_text(config_text)
    args = ["audit", "--data", folder, "--flags", flags_file, "--config", config]
    code, text = run(*args, *(["--by", by] if by else []))
    assert code == 1
    assert named in plain(text) and "Traceback" not in text


def test_audit_refuses_a_table_that_is_not_a_flag_table(folder, tmp_path):
    other = tmp_path / "x.parquet"
    pl.DataFrame({"household_id": ["a"], "score": [0.1]}).write_parquet(other)
    code, text = run("audit", "--data", folder, "--flags", other)
    assert code == 1
    assert "['as_of', 'flag']" in plain(text)
    code, text = run("audit", "--data", folder, "--flags", tmp_path / "missing.parquet")
    assert code == 1
    assert "missing.parquet" in plain(text)


def test_simulate_reads_a_config_and_options_win(tmp_path):
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(
        "households: 400\nmonths: 12\nseed: 3\nparameters: {invisible_entry_factor: 0.5}\n"
    )
    res = runner.invoke(
        app,
        ["simulate", "--config", str(cfg), "--households", "150", "--out", str(tmp_path / "a")],
    )
    assert res.exit_code == 0, res.output
    got = ni.HouseholdData.read(tmp_path / "a")
    base = ni.simulation.default_config()
    want = ni.simulate(
        n_households=150, months=12, seed=3,
        config=base.model_copy(update={"invisible_entry_factor": 0.5}),
    )  # fmt: skip
    assert got.fingerprint() == want.bundle.fingerprint()
    # the packaged defaults through the config file give the same bytes as no config
    res = runner.invoke(app, ["simulate", "--config", "configs/simulate/default.yaml",
                              "--households", "100", "--months", "6",
                              "--out", str(tmp_path / "b")])  # fmt: skip
    assert res.exit_code == 0, res.output
    plain = ni.simulate(n_households=100, months=6, seed=0)
    assert ni.HouseholdData.read(tmp_path / "b").fingerprint() == plain.bundle.fingerprint()


def test_simulate_config_errors_name_the_key(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("househlds: 10\nparameters: {invisible_entry_factor: 7, n_regons: 3}\n")
    res = runner.invoke(app, ["simulate", "--config", str(cfg), "--out", str(tmp_path / "x")])
    assert res.exit_code == 1
    out = " ".join(res.output.split())
    assert "househlds" in out and "invisible_entry_factor" in out and "n_regons" in out
    assert not (tmp_path / "x").exists()


# -- flag and serve configs, progress ------------------------------------------------------


@pytest.mark.parametrize("command", ["flag", "serve"])
def test_flag_and_serve_packaged_configs_are_the_defaults(command):
    from needsid._cli_configs import FlagConfig, ServeConfig, load_config

    cls = {"flag": FlagConfig, "serve": ServeConfig}[command]
    assert load_config(cls, f"configs/{command}/default.yaml") == load_config(cls)


def test_flag_config_errors_name_every_key_and_write_nothing(folder, tmp_path, monkeypatch):
    cfg = tmp_path / "flag.yaml"
    cfg.write_text("capacity: 2.5\ncolour: red\n")
    out = tmp_path / "flags.parquet"
    code, text = run("flag", "--data", folder, "--as-of", AS_OF, "--out", out, "--config", cfg)
    assert code == 1
    assert "capacity: Got capacity=2.5" in plain(text) and "unknown key 'colour'" in plain(text)
    assert not out.exists()
    # an option on the command line wins over the file: a good capacity mends it, and
    # the command fails later, on the model missing from an empty store
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("NEEDSID_SALT", "a-test-salt-of-16-chars")
    cfg.write_text("capacity: 2.5\nmodel: models:/nope@champion\n")
    code, text = run("flag", "--data", folder, "--as-of", AS_OF, "--out", out,
                     "--config", cfg, "--capacity", "0.5")  # fmt: skip
    assert code == 1 and "capacity" not in plain(text) and "nope" in plain(text), text
    assert not out.exists()


def test_serve_config_errors_are_named_before_anything_starts(tmp_path):
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("port: 70000\nworkers: 0\n")
    code, text = run("serve", "--config", cfg)
    assert code == 1
    assert "port" in plain(text) and "workers" in plain(text)


def test_progress_shows_steps_and_loops_then_restores_logging():
    import io
    import logging

    from rich.console import Console

    from needsid._progress import logger, show_progress, step, track

    before = (logger.level, list(logger.handlers), logger.propagate)
    buf = io.StringIO()
    with show_progress(Console(file=buf, width=100, force_terminal=False)):
        step("reading the data")
        assert list(track(range(3), "fitting the models")) == [0, 1, 2]
    out = buf.getvalue()
    assert "reading the data" in out and "fitting the models" in out and "3/3" in out
    assert "/?" not in out and "1/1" not in out  # a step of unknown length shows no count
    assert (logger.level, list(logger.handlers), logger.propagate) == before
    assert not logger.isEnabledFor(logging.DEBUG)  # quiet again: no handler, no cost


@pytest.mark.parametrize("command", ["features", "rules"])
def test_out_targets_are_checked_before_any_work(folder, tmp_path, command):
    args = [command, "--data", folder, "--as-of", AS_OF, "--out"]
    # a folder
    code, text = run(*args, tmp_path)
    assert code == 1 and "is a folder; give a file path" in plain(text)
    # a file of another kind is kept unless --overwrite
    notes = tmp_path / "notes.txt"
    notes.write_text("a caseworker's notes")
    code, text = run(*args, notes)
    assert code == 1 and "exists and is not a Parquet file; refusing" in plain(text)
    assert notes.read_text() == "a caseworker's notes"
    code, text = run(*args, notes, "--overwrite")
    assert code == 0, text
    assert notes.read_bytes()[:4] == b"PAR1"
    # a Parquet file is replaced as before
    code, text = run(*args, notes)
    assert code == 0, text


@pytest.mark.parametrize("command", ["features", "rules"])
def test_broken_data_is_named_before_any_work(folder, tmp_path, command):
    bundle = ni.HouseholdData.read(folder)
    records = bundle.records.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(float("inf")).otherwise(pl.col("amount"))
        .alias("amount")
    )  # fmt: skip
    ni.HouseholdData(bundle.regions, bundle.households, bundle.members, records).write(
        tmp_path / "broken"
    )
    out = tmp_path / "out.parquet"
    code, text = run(command, "--data", tmp_path / "broken", "--as-of", AS_OF, "--out", out)
    assert code == 1 and "records.amount: non_finite_amount (1 row" in plain(text)
    assert not out.exists()


def test_piped_tables_do_not_wrap_at_80_columns():
    # rich falls back to 80 columns off a terminal; the CLI widens it so each row is a line
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = subprocess.run(
        [str(Path(sys.executable).parent / "needsid"), "features", "--describe"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    rows = [line for line in out.splitlines() if line.startswith("│")]
    names = ni.features.describe()["name"].tolist()
    assert len(rows) == len(names)  # no row continues on a second line
    assert all(line.split("│")[1].strip() == name for line, name in zip(rows, names, strict=True))


# -- monitor ------------------------------------------------------------------------------


def test_monitor_without_a_model_writes_levels_alerts_drift(folder, tmp_path):
    out = tmp_path / "mon"
    code, text = run("monitor", "--data", folder, "--start", "2024-10-01", "--end",
                     "2024-11-01", "--out", out)  # fmt: skip
    assert code == 0, text
    assert "2 months" in plain(text)
    levels = pl.read_parquet(out / "levels.parquet")
    assert levels["month"].n_unique() == 2 and set(levels["level"]) <= {
        "red", "orange", "yellow", "none"
    }  # fmt: skip
    assert pl.read_parquet(out / "performance.parquet").is_empty()  # no model
    excess = pl.read_parquet(out / "excess.parquet")  # the second month against the first
    assert set(excess["month"]) == {dt.date(2024, 11, 1)}
    assert "groups with an excess" in plain(text)
    assert "<img" in (out / "monitoring.html").read_text("utf-8")
    # a second run into the same folder is refused, and nothing is touched
    before = (out / "alerts.parquet").read_bytes()
    code, text = run("monitor", "--data", folder, "--start", "2024-10-01", "--end",
                     "2024-11-01", "--out", out)  # fmt: skip
    assert code == 1 and "--overwrite" in plain(text)
    assert (out / "alerts.parquet").read_bytes() == before


def test_monitor_bad_months_fail_before_any_work(folder, tmp_path):
    code, text = run("monitor", "--data", folder, "--start", "2024-11-01", "--end",
                     "2024-10-01", "--out", tmp_path / "m")  # fmt: skip
    assert code == 1 and "before start=2024-11-01" in plain(text)
    assert not (tmp_path / "m").exists()


def test_monitor_calendar_reference_and_min_psi(folder, tmp_path):
    # too little history for the calendar test: refused before any month runs
    code, text = run("monitor", "--data", folder, "--start", "2024-01-01", "--end",
                     "2024-01-01", "--reference", "calendar", "--out", tmp_path / "c")  # fmt: skip
    assert code == 1 and "or use reference='rolling'" in plain(text)
    assert not (tmp_path / "c").exists()
    # a practical floor no PSI reaches marks nothing
    out = tmp_path / "floor"
    code, text = run("monitor", "--data", folder, "--start", "2024-10-01", "--end",
                     "2024-10-01", "--min-psi", "100", "--out", out)  # fmt: skip
    assert code == 0, text
    drift = pl.read_parquet(out / "drift.parquet")
    assert drift.height > 0 and not drift["drifted"].any()
