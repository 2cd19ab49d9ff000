"""The HTML run report: self-contained, escaped, aggregates only, and renders in Chromium."""

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import needsid as ni
from needsid.evaluate import compare, temporal_split
from needsid.features import load_spec
from needsid.models import GBMRiskModel, PointsScorecard
from needsid.report import SECTIONS, build_report
from needsid.rules import household_attributes

CHROMIUM = "/usr/bin/chromium"
DATA_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One small simulated run: a comparison, the fitted card, an audit, rule hits."""
    pop = ni.simulate(n_households=3000, months=24, seed=0)
    spec = load_spec("configs/features/quick.yaml")
    split = temporal_split(
        pop, ["2023-07-01", "2023-10-01"], "2024-04-01", horizon_months=6, spec=spec
    )
    y = split.test["in_need"].to_numpy().astype(bool)
    gbm = GBMRiskModel(n_estimators=60, num_leaves=15, n_jobs=1)
    card = PointsScorecard(max_features=6)
    comparison = compare(
        {"gbm": gbm, "scorecard": card}, split, capacity=0.1, bundle=pop.bundle, n_boot=20
    )
    fitted_card = comparison.fitted["scorecard"]  # the card compare fitted on split.train
    attrs = household_attributes(pop.bundle, split.test_as_of).to_pandas()
    groups = split.test[["household_id"]].merge(attrs, on="household_id", how="left")
    audit = ni.fairness.audit(
        y,
        sensitive_features=groups[["urban", "minority"]],
        scores=comparison.scores["gbm"].to_numpy(),
        capacity=0.1,
        n_boot=50,
    )
    hits = ni.rules.load("configs/rules/default.yaml").evaluate(pop.bundle, split.test_as_of)
    inputs = dict(
        comparison=comparison,
        y_true=y,
        audit=audit,
        scorecard=fitted_card,
        rule_hits=hits,
        meta={"run_id": "run-1", "model": "gbm v1", "as_of": split.test_as_of},
    )
    path = build_report(tmp_path_factory.mktemp("report") / "run.html", **inputs)
    ids = set(pop.bundle.to_polars().households["household_id"].to_list())
    ids |= set(pop.bundle.to_polars().members["person_id"].to_list())
    return dict(path=path, html=path.read_text(encoding="utf-8"), inputs=inputs, ids=ids)


def _section(html: str, section_id: str) -> str:
    m = re.search(rf'<section id="{section_id}">(.*?)</section>', html, flags=re.S)
    assert m, f"section #{section_id} missing"
    return m.group(1)


def test_every_section_is_present_once_and_filled(run):
    html = run["html"]
    for sid in SECTIONS:
        assert html.count(f'<section id="{sid}">') == 1
        assert "not provided" not in _section(html, sid)
    # three figures: coverage, calibration, fairness
    assert len(re.findall(r"<img ", html)) == 3
    for sid in ("coverage", "calibration", "fairness"):
        assert "data:image/png;base64," in _section(html, sid)


def test_images_are_valid_pngs(run):
    blobs = DATA_URI.findall(run["html"])
    assert len(blobs) == 3
    for b in blobs:
        png = base64.b64decode(b, validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000


def test_report_is_self_contained(run):
    html = run["html"]
    urls = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert urls, "expected image sources and section links"
    assert not [u for u in urls if re.match(r"(?i)\s*(https?:)?//", u)]
    assert not re.search(r"(?i)<link\b|@import|url\(", html)
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in urls)


def test_tables_show_the_inputs(run):
    html, inputs = run["html"], run["inputs"]
    comparison = _section(html, "comparison")
    for model in inputs["comparison"].table["model"].unique():
        assert f">{model}</td>" in comparison
    auc = inputs["comparison"].table.query("model == 'gbm' and metric == 'auc'").iloc[0]
    assert f"{auc.estimate:.3f} ({auc.lo:.3f} to {auc.hi:.3f})" in comparison
    # one highlighted row per failing disparity (base rates are context, not a failure)
    failing = inputs["audit"].failing()
    n_fail = int((failing["metric"] != "base_rate").sum())
    assert _section(html, "fairness").count('<tr class="fail">') == n_fail
    assert _section(html, "fairness").count('<tr class="pass">') >= 1
    card = _section(html, "scorecard")
    for feature in inputs["scorecard"].selected_features_:
        assert f">{feature}</td>" in card
    summary = inputs["rule_hits"].summary().sort("n_hits", descending=True)
    top = summary.row(0, named=True)
    rules = _section(html, "rules")
    assert f">{top['rule_id']}</td>" in rules
    assert f"{len(inputs['rule_hits'])} hits on {inputs['rule_hits'].n_households}" in rules
    meta = _section(html, "summary")
    assert ">run-1</td>" in meta and ">2024-04-01</td>" in meta


def test_no_household_or_person_ids(run):
    text = DATA_URI.sub("", run["html"])
    tokens = set(re.findall(r"[A-Za-z0-9_]+", text))
    assert not tokens & run["ids"]


def test_same_inputs_same_bytes(run, tmp_path):
    again = build_report(tmp_path / "again.html", **run["inputs"])
    assert again.read_bytes() == run["path"].read_bytes()


def test_labels_default_to_the_comparison_or_the_sections_say_so(run, tmp_path):
    inputs = dict(run["inputs"], y_true=None)
    html = build_report(tmp_path / "r.html", **inputs).read_text()
    carries_labels = getattr(inputs["comparison"], "y_true", None) is not None
    for sid in ("coverage", "calibration"):
        assert ("not provided" in _section(html, sid)) is not carries_labels


def test_missing_inputs_say_not_provided(tmp_path):
    html = build_report(tmp_path / "empty.html").read_text()
    for sid in SECTIONS:
        assert "not provided" in _section(html, sid)
    assert "<img " not in html


def test_text_is_escaped(tmp_path):
    title = "<script>alert('t')</script>"
    meta = {"<b>key</b>": '"><img src=x onerror=alert(1)>'}
    html = build_report(tmp_path / "x.html", title=title, meta=meta).read_text()
    assert "<script>alert" not in html and "<b>key" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;" in html
    assert "&lt;b&gt;key&lt;/b&gt;" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("<script>") == 1  # only the image check


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "busy.html"
    target.mkdir()  # the rename onto a folder fails
    with pytest.raises(OSError):
        build_report(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy.html"]
    out = build_report(tmp_path / "ok.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy.html", "ok.html"]
    assert out.stat().st_mode & 0o777 == 0o644


def test_bad_inputs_name_the_parameter(run, tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape("does not exist. Create it first.")):
        build_report(tmp_path / "nowhere" / "r.html")
    with pytest.raises(ValueError, match=re.escape("Got y_true with 5 labels for")):
        build_report(tmp_path / "r.html", comparison=run["inputs"]["comparison"], y_true=[1] * 5)
    with pytest.raises(ValueError, match=re.escape("Got y_true with values other than 0/1")):
        build_report(tmp_path / "r.html", y_true=[0, 2])
    with pytest.raises(TypeError, match=re.escape("Got comparison of type dict")):
        build_report(tmp_path / "r.html", comparison={})
    with pytest.raises(TypeError, match=re.escape("expected a fitted")):
        build_report(tmp_path / "r.html", scorecard=PointsScorecard())
    with pytest.raises(TypeError, match=re.escape("Got meta of type list")):
        build_report(tmp_path / "r.html", meta=[("run_id", 1)])
    with pytest.raises(ValueError, match=re.escape("Got title=''")):
        build_report(tmp_path / "r.html", title="")
    with pytest.raises(ValueError, match=re.escape("Got top_rules=0")):
        build_report(tmp_path / "r.html", top_rules=0)
    assert not list(tmp_path.iterdir())


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.service
def test_renders_in_headless_chromium(run, tmp_path):
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI; .ci/run installs Debian's chromium.")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); required in CI")
    url = run["path"].resolve().as_uri()
    dom = _chromium(tmp_path / "profile", "--dump-dom", url).stdout
    for sid in SECTIONS:
        assert re.search(rf'<section id="{sid}">', dom), sid
    n_img = len(re.findall(r"<img ", run["html"]))
    assert n_img >= 3
    loaded = re.search(r'<body[^>]*\bdata-images-loaded="(\d+)"', dom)
    assert loaded, "the load handler did not run"
    assert int(loaded.group(1)) == n_img
    shot = tmp_path / "report.png"
    _chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,4000", url)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    # non-trivial: the page is not one flat colour
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (4000, 1280)
    rgb = np.rint(pixels[..., :3] * 255).astype(np.uint32)
    colours = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    assert np.unique(colours).size > 50  # text, tables and plots, not a blank page
    assert (colours != 0xFFFFFF).mean() > 0.02
