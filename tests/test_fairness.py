"""Fairness audits: exact confusion tables, intervals with nominal coverage, reports."""

import re

import numpy as np
import pandas as pd
import pytest

from needsid.fairness import audit
from needsid.fairness._counts import group_counts, rates

Y = np.array([1, 1, 0, 0, 1, 1, 1, 0, 0, 0])
P = np.array([1, 0, 1, 0, 1, 1, 0, 0, 0, 0])
G = np.array(["r", "r", "r", "r", "u", "u", "u", "u", "u", "u"])


def test_confusion_tables_by_hand():
    a = audit(Y, P, sensitive_features=G, n_boot=20)
    bg = a.by_group
    # rural: TP=1 FN=1 FP=1 TN=1; urban: TP=2 FN=1 FP=0 TN=3
    assert bg.loc["r", ["tp", "fn", "fp", "tn", "n"]].tolist() == [1, 1, 1, 1, 4]
    assert bg.loc["u", ["tp", "fn", "fp", "tn", "n"]].tolist() == [2, 1, 0, 3, 6]
    assert bg.loc["r", "fnr"] == 0.5 and bg.loc["u", "fnr"] == pytest.approx(1 / 3)
    assert bg.loc["r", "fpr"] == 0.5 and bg.loc["u", "fpr"] == 0.0
    assert bg.loc["u", "precision"] == 1.0 and bg.loc["r", "false_omission_rate"] == 0.5
    assert bg.loc["u", "base_rate"] == 0.5 and bg.loc["r", "selection_rate"] == 0.5
    # reference: the largest group (urban)
    d = a.disparities.set_index(["group", "metric"])
    assert a.reference == ("u",)
    assert d.loc[("r", "fnr"), "ratio"] == pytest.approx(1.5)
    assert d.loc[("r", "fnr"), "difference"] == pytest.approx(0.5 - 1 / 3)
    assert not d.loc[("r", "fnr"), "within_band"]


def test_counts_path_matches_fairlearn():
    rng = np.random.default_rng(1)
    y, p = rng.random(500) < 0.3, rng.random(500) < 0.4
    g = rng.choice(["a", "b", "c"], 500)
    a = audit(y, p, sensitive_features=g, n_boot=10)
    codes = pd.Index(a.by_group.index).get_indexer(g)
    r = rates(group_counts(codes, 3, y, p))
    for m in ("tpr", "fnr", "fpr", "precision", "selection_rate", "false_omission_rate"):
        np.testing.assert_allclose(r[m], a.by_group[m].to_numpy())


def test_without_labels_only_selection_rates():
    a = audit(None, P, sensitive_features=G, n_boot=20)
    assert set(a.disparities["metric"]) == {"selection_rate"}
    assert "fnr" not in a.by_group


def test_missing_and_small_groups_are_shown():
    g = np.array(["a"] * 40 + ["b"] * 5 + [None] * 5, dtype=object)
    y = np.tile([1, 0], 25)
    p = np.tile([1, 1, 0, 0, 1], 10)
    a = audit(y, p, sensitive_features=pd.Series(g, name="minority"), n_boot=20)
    assert set(a.by_group.index) == {"a", "b", "<missing>"}
    assert a.by_group.loc["<missing>", "n"] == 5
    assert a.by_group.loc["b", "small"] and not a.by_group.loc["a", "small"]


def test_intersections_and_reference():
    sf = pd.DataFrame({"area": G, "sex": ["F", "M"] * 5})
    a = audit(Y, P, sensitive_features=sf, reference=("u", "F"), n_boot=20)
    assert a.by_group.index.nlevels == 2 and a.reference == ("u", "F")
    with pytest.raises(ValueError, match=re.escape("Got reference=('x', 'F'); expected one of")):
        audit(Y, P, sensitive_features=sf, reference=("x", "F"), n_boot=5)


def test_scores_with_capacity_and_calibration():
    rng = np.random.default_rng(2)
    s = rng.random(400)
    y = rng.random(400) < s
    g = rng.choice(["a", "b"], 400)
    a = audit(y, sensitive_features=g, scores=s, capacity=0.25, n_boot=20)
    assert a.by_group["selection_rate"].mul(a.by_group["n"]).sum() == pytest.approx(100)
    assert set(a.calibration["group"]) == {"a", "b"}
    with pytest.raises(ValueError, match=re.escape("Give the flags (y_pred) or scores")):
        audit(y, sensitive_features=g, scores=s)


@pytest.mark.slow
def test_bootstrap_intervals_have_near_nominal_coverage():
    # two groups with known true TPRs; how often does the 95% interval of the
    # difference contain the true difference?
    rng = np.random.default_rng(3)
    true_diff = 0.55 - 0.7
    covered, reps = 0, 120
    for _ in range(reps):
        n = 800
        g = np.where(rng.random(n) < 0.5, "a", "b")
        y = rng.random(n) < 0.5
        p = y & (rng.random(n) < np.where(g == "a", 0.7, 0.55))
        a = audit(
            y, p, sensitive_features=g, reference="a", n_boot=200, seed=int(rng.integers(1e9))
        )
        row = a.disparities.query("group == 'b' and metric == 'tpr'").iloc[0]
        covered += row["difference_lo"] <= true_diff <= row["difference_hi"]
    assert 0.88 <= covered / reps <= 0.99, covered / reps


def test_html_report_is_complete(tmp_path):
    a = audit(Y, P, sensitive_features=G, n_boot=20)
    out = tmp_path / "audit.html"
    a.to_html(out)
    text = out.read_text()
    for section in ('id="by-group"', 'id="failing"', 'id="disparities"', 'id="plots"'):
        assert section in text
    assert text.count("data:image/png;base64,") >= 2
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.slow
def test_fnr_ratio_intervals_have_near_nominal_coverage():
    # 200 datasets from known group rates: FNR 0.30 (reference) and 0.45, so the true
    # ratio is 1.5; the 95% interval should contain it in close to 95% of them
    rng = np.random.default_rng(7)
    true_ratio = 0.45 / 0.30
    covered, reps = 0, 200
    for _ in range(reps):
        n = 1000
        g = np.where(rng.random(n) < 0.5, "a", "b")
        y = rng.random(n) < 0.4
        p = y & (rng.random(n) >= np.where(g == "a", 0.30, 0.45))
        a = audit(y, p, sensitive_features=g, reference="a", n_boot=100,
                  seed=int(rng.integers(1e9)))  # fmt: skip
        row = a.disparities.query("group == 'b' and metric == 'fnr'").iloc[0]
        covered += row["ratio_lo"] <= true_ratio <= row["ratio_hi"]
    assert 0.88 <= covered / reps <= 0.99, covered / reps


def test_roc_by_group_matches_auc_per_group():
    from sklearn.metrics import roc_auc_score

    from needsid.fairness import plot_roc

    rng = np.random.default_rng(4)
    s = rng.random(300)
    y = rng.random(300) < s
    g = np.where(np.arange(300) < 150, "a", "b").astype(object)
    g[:5] = "c"
    y[:5] = True  # group c has one class only: no curve, named in the title
    ax = plot_roc(y, s, g)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for key in ("a", "b"):
        m = g == key
        assert f"{key} (AUC = {roc_auc_score(y[m], s[m]):.2f})" in legend
    assert len(legend) == 2 and "one class only: c" in ax.get_title()
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
