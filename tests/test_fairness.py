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
    ax = plot_roc(y, s, sensitive_features=g)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for key in ("a", "b"):
        m = g == key
        assert f"sensitive_feature_0={key} (AUC = {roc_auc_score(y[m], s[m]):.2f})" in legend
    assert len(legend) == 2 and "one class only: sensitive_feature_0=c" in ax.get_title()
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


# -- sensitive_features in every common form ---------------------------------------------
SEX = np.array(["F", "M"] * 5)


def _polars_series():
    import polars as pl

    return pl.Series("area", G)


def _polars_frame():
    import polars as pl

    return pl.DataFrame({"area": G, "sex": SEX})


@pytest.mark.parametrize(
    ("make", "names"),
    [
        pytest.param(lambda: G, ["sensitive_feature_0"], id="numpy-1d"),
        pytest.param(lambda: list(G), ["sensitive_feature_0"], id="list"),
        pytest.param(lambda: pd.Series(G), ["sensitive_feature_0"], id="unnamed-series"),
        pytest.param(lambda: pd.Series(G, name="area"), ["area"], id="named-series"),
        pytest.param(lambda: pd.DataFrame({"area": G}), ["area"], id="dataframe-1"),
        pytest.param(_polars_series, ["area"], id="polars-series"),
        pytest.param(
            lambda: np.column_stack([G, SEX]),
            ["sensitive_feature_0", "sensitive_feature_1"],
            id="numpy-2d",
        ),
        pytest.param(lambda: pd.DataFrame({"area": G, "sex": SEX}), ["area", "sex"], id="frame"),
        pytest.param(
            lambda: pd.DataFrame(np.column_stack([G, SEX])),
            ["sensitive_feature_0", "sensitive_feature_1"],
            id="frame-unnamed-columns",
        ),
        pytest.param(lambda: {"area": G, "sex": SEX}, ["area", "sex"], id="dict"),
        pytest.param(_polars_frame, ["area", "sex"], id="polars-frame"),
    ],
)
def test_every_input_kind_of_sensitive_features(make, names):
    a = audit(Y, P, sensitive_features=make(), n_boot=20)
    assert list(a.by_group.index.names) == names
    # the same groups and counts whatever the form: fix the names, compare the tables
    sf = pd.DataFrame({"area": G, "sex": SEX}).iloc[:, : len(names)]
    expected = audit(Y, P, sensitive_features=sf, n_boot=20)
    got = a.by_group.rename_axis(expected.by_group.index.names)
    pd.testing.assert_frame_equal(got, expected.by_group)
    pd.testing.assert_frame_equal(a.disparities, expected.disparities)


def test_unnamed_series_no_longer_fails():
    # fairlearn's MetricFrame accepts it; this raised "DataFrame column names must be strings"
    a = audit(Y, P, sensitive_features=pd.Series(G), n_boot=20)
    assert a.by_group.index.name == "sensitive_feature_0"
    assert a.by_group.loc["r", "fn"] == 1


def test_sensitive_features_is_keyword_only_and_required():
    with pytest.raises(TypeError, match="positional"):
        audit(Y, P, G)
    with pytest.raises(TypeError, match="sensitive_features"):
        audit(Y, P)
    with pytest.raises(ValueError, match=re.escape("Got 3 rows of sensitive_features for 10")):
        audit(Y, P, sensitive_features=["a", "b", "c"])
    with pytest.raises(ValueError, match=re.escape("Got sensitive_features with 3 dimensions")):
        audit(Y, P, sensitive_features=np.zeros((10, 2, 2)))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda b: b, id="numpy"),
        pytest.param(lambda b: pd.Series(b, name="urban"), id="pandas"),
        pytest.param(lambda b: pd.Series(b, dtype="boolean"), id="pandas-nullable"),
        pytest.param(lambda b: __import__("polars").Series("urban", b), id="polars"),
    ],
)
def test_boolean_groups_are_labelled_like_python(make):
    urban = G == "u"
    a = audit(Y, P, sensitive_features=make(urban), n_boot=20)
    assert list(a.by_group.index) == ["False", "True"]
    assert a.reference == ("True",)


# -- the pass/fail rule -------------------------------------------------------------------
def test_infinite_ratio_fails():
    # reference (largest group) excludes nobody: FNR 0; the small group "b" excludes half
    y = np.ones(60, dtype=bool)
    p = np.r_[np.ones(50, dtype=bool), [True, False] * 5]
    g = np.array(["a"] * 50 + ["b"] * 10)
    a = audit(y, p, sensitive_features=g, n_boot=100)
    row = a.disparities.query("group == 'b' and metric == 'fnr'").iloc[0]
    assert row["reference"] == 0 and row["value"] == 0.5 and np.isposinf(row["ratio"])
    assert row["fails"] and not row["within_band"]
    assert ("b", "fnr") in set(zip(a.failing()["group"], a.failing()["metric"], strict=True))
    ref = a.disparities.query("group == 'a' and metric == 'fnr'").iloc[0]
    assert not ref["fails"]


def test_difference_beyond_tolerance_fails_even_within_the_ratio_band():
    # FNR 0.80 (reference) and 0.96: ratio 1.2 is inside the band (0.8, 1.25), but the
    # difference 0.16 is far beyond 0.05 and its interval shows it
    rng = np.random.default_rng(0)
    n = 4000
    g = np.where(np.arange(n) < n // 2, "ref", "other")
    y = np.ones(n, dtype=bool)
    miss = rng.random(n) < np.where(g == "ref", 0.80, 0.96)
    a = audit(y, ~miss, sensitive_features=g, reference="ref", n_boot=200)
    row = a.disparities.query("group == 'other' and metric == 'fnr'").iloc[0]
    assert row["within_band"]
    assert row["difference_lo"] > a.difference_tolerance
    assert row["fails"]


def test_difference_within_tolerance_passes_unless_the_tolerance_is_smaller():
    # selection rates 0.50 and 0.53 on large groups: the interval of the difference excludes
    # 0 but stays within 5 points; with a 1-point tolerance it fails
    rng = np.random.default_rng(1)
    n = 40_000
    g = np.where(np.arange(n) < n // 2, "a", "b")
    p = rng.random(n) < np.where(g == "a", 0.50, 0.53)
    row = audit(None, p, sensitive_features=g, reference="a", n_boot=200).disparities.iloc[1]
    assert row["group"] == "b" and 0 < row["difference_lo"] < 0.05
    assert row["within_band"] and not row["fails"]
    strict = audit(None, p, sensitive_features=g, reference="a", n_boot=200,
                   difference_tolerance=0.01)  # fmt: skip
    assert strict.disparities.iloc[1]["fails"]
    with pytest.raises(ValueError, match=re.escape("Got difference_tolerance=-0.1")):
        audit(None, p, sensitive_features=g, difference_tolerance=-0.1)


def test_fails_rule_by_hand():
    from needsid.fairness._audit import fails

    nan, inf = np.nan, np.inf
    band, tol = (0.8, 1.25), 0.05
    cases = [  # ratio, ratio_lo, ratio_hi, diff_lo, diff_hi -> fails
        ((1.0, 0.9, 1.1, -0.02, 0.02), False),  # parity
        ((inf, nan, nan, nan, nan), True),  # reference rate 0, group's not
        ((nan, nan, nan, nan, nan), False),  # 0/0 or undefined: no verdict
        ((1.5, 1.1, 2.0, -0.01, 0.04), True),  # outside the band, ratio interval > 1
        ((1.5, 0.9, 2.0, -0.01, 0.04), False),  # outside the band, interval includes 1
        ((1.1, 1.05, 1.2, 0.06, 0.2), True),  # in the band, difference beyond +0.05
        ((0.9, 0.85, 0.95, -0.2, -0.06), True),  # in the band, difference beyond -0.05
        ((0.9, 0.85, 0.95, -0.2, -0.04), False),  # interval reaches into the tolerance
    ]
    got = [bool(fails(*values, band, tol)) for values, _ in cases]
    assert got == [expected for _, expected in cases]


# -- the metric plot ----------------------------------------------------------------------
def test_plot_metric_draws_each_groups_own_interval_with_named_labels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from needsid.fairness import plot_metric

    # group ("r", "F") has FNR 0 in the sample, far below the reference: reference +
    # difference interval would reach below 0, the group's own interval cannot
    rng = np.random.default_rng(5)
    n = 400
    area = np.where(rng.random(n) < 0.7, "u", "r")
    sex = np.where(rng.random(n) < 0.5, "F", "M")
    y = rng.random(n) < 0.5
    p = y & ((area == "r") & (sex == "F") | (rng.random(n) < 0.4))
    sf = pd.DataFrame({"area": area, "sex": sex})
    a = audit(y, p, sensitive_features=sf, n_boot=200, seed=3)
    ax = plot_metric(a, "fnr")
    d = a.disparities[a.disparities["metric"] == "fnr"].reset_index(drop=True)
    segments = ax.collections[0].get_segments()
    lo = np.array([seg[0][0] for seg in segments])
    hi = np.array([seg[1][0] for seg in segments])
    np.testing.assert_allclose(lo, d["value_lo"])
    np.testing.assert_allclose(hi, d["value_hi"])
    assert ((lo >= 0) & (hi <= 1)).all()
    assert (d["reference"] + d["difference_lo"]).min() < 0  # what was drawn before
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"area={r}, sex={s}" for r, s in d["group"]]
    assert "reference group area=u, sex=" in ax.get_xlabel()
    plt.close(ax.figure)

    # the group's own interval: percentiles of its FNR over the same resamples
    i = d.index[d["group"] == ("r", "M")][0]
    member = (area == "r") & (sex == "M")
    rng = np.random.default_rng(3)
    boot = []
    for _ in range(200):
        w = np.bincount(rng.integers(0, n, n), minlength=n)
        need = (w * (member & y)).sum()
        boot.append((w * (member & y & ~p)).sum() / need)
    np.testing.assert_allclose([lo[i], hi[i]], np.percentile(boot, [2.5, 97.5]))


def test_plot_metric_errors():
    from needsid.fairness import plot_metric

    a = audit(None, P, sensitive_features=G, n_boot=5)
    with pytest.raises(ValueError, match=re.escape("Got metric='fnr'; expected one of")):
        plot_metric(a, "fnr")
