"""Leak-free splits, targeting metrics at a capacity, and model comparison."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import needsid as ni
from needsid.evaluate import (
    FLAG_KINDS,
    compare,
    coverage_curve,
    plot_calibration,
    plot_coverage,
    reliability_table,
    rule_flags,
    select_top,
    targeting_metrics,
    temporal_split,
)


@pytest.fixture(scope="module")
def pop():
    return ni.simulate(n_households=6_000, months=30, seed=9)


@pytest.fixture(scope="module")
def split(pop):
    return temporal_split(pop, ["2024-01-01", "2024-04-01"], "2024-10-01", horizon_months=6)


def test_split_keeps_households_apart_and_labels_before_the_test(split):
    assert not set(split.train["household_id"]) & set(split.test["household_id"])
    assert (split.train["as_of"] + pd.DateOffset(months=6) <= pd.Timestamp(split.test_as_of)).all()
    assert (split.test["as_of"] == pd.Timestamp(split.test_as_of)).all()
    share = len(split.test) / (len(split.test) + split.train["household_id"].nunique())
    assert 0.2 < share < 0.4  # test_size=0.3 of households


def test_split_rejects_overlapping_label_windows(pop):
    with pytest.raises(
        ValueError, match=re.escape("have label windows of 6 months that reach past")
    ):
        temporal_split(pop, ["2024-06-01"], "2024-10-01", horizon_months=6)


def test_metrics_by_hand():
    y = [1, 1, 0, 0, 1]
    s = [0.9, 0.2, 0.8, 0.1, 0.7]
    m = targeting_metrics(y, s, capacity=2)  # flags 0.9 and 0.8
    assert (m.flagged, m.exclusion_error, m.inclusion_error) == (2, 2 / 3, 1 / 2)
    assert m.precision_at_k == 0.5 and m.recall_at_k == pytest.approx(1 / 3)
    assert m.auc == pytest.approx(4 / 6)
    fixed = targeting_metrics(y, s, flags=[1, 1, 0, 0, 0])
    assert fixed.exclusion_error == pytest.approx(1 / 3) and fixed.inclusion_error == 0


def test_capacity_per_group_and_errors():
    flags = select_top([5, 4, 3, 2, 1, 0], 0.5, groups=["a", "a", "a", "a", "b", "b"])
    assert flags.tolist() == [True, True, False, False, True, False]
    with pytest.raises(
        ValueError, match=re.escape("Got capacity=1.5; expected a share in (0, 1]")
    ):
        select_top([1, 2], 1.5)
    with pytest.raises(TypeError, match=re.escape("Got capacity=True")):
        select_top([1, 2], True)


def test_reliability_and_coverage():
    rng = np.random.default_rng(0)
    p = rng.random(20_000)
    y = rng.random(20_000) < p
    rel = reliability_table(y, p, n_bins=5)
    np.testing.assert_allclose(rel["observed_rate"], rel["mean_score"], atol=0.03)
    cov = coverage_curve(y, p, capacities=[0.1, 0.5, 1.0])
    assert cov["recall"].is_monotonic_increasing and cov["recall"].iloc[-1] == 1.0


def test_compare_has_baselines_and_intervals(pop, split):
    # features keep "unknown" as NaN (no survey, no deposit record): impute for a logit
    model = make_pipeline(
        SimpleImputer(keep_empty_features=True), StandardScaler(), LogisticRegression(max_iter=500)
    )
    c = compare({"logit": model}, split, capacity=0.05, bundle=pop.bundle, n_boot=30)
    t = c.table
    assert set(t["model"]) == {"logit", "status quo", "oracle"}
    assert (t["lo"] <= t["estimate"] + 1e-12).all() and (t["estimate"] <= t["hi"] + 1e-12).all()
    wide = c.to_frame()
    # the oracle knows the latent state: no model or baseline beats its AUC
    assert wide.loc["oracle", "auc"] >= wide.loc["logit", "auc"]
    assert wide.loc["logit", "auc"] > 0.8
    # the status quo is compared at its own caseload
    assert t.query("model == 'status quo'").shape[0] == 7


# -- plots and the rules-only baseline ------------------------------------------------


@pytest.fixture
def plt():
    pyplot = pytest.importorskip("matplotlib.pyplot", reason="install the 'dev' extra")
    yield pyplot
    pyplot.close("all")


def test_plot_coverage_one_line_per_model_and_flags_as_points(plt):
    rng = np.random.default_rng(1)
    y = rng.random(2_000) < 0.2
    good = np.where(y, rng.random(2_000) + 0.5, rng.random(2_000))
    noise = rng.random(2_000)
    sq = (rng.random(2_000) < 0.1).astype(float)
    scores = pd.DataFrame({"good": good, "noise": noise, "status quo": sq})
    ax = plot_coverage(y, scores, capacities=[0.05, 0.2, 0.5, 1.0])
    lines = {line.get_label(): line for line in ax.lines}
    assert list(lines) == ["good", "noise", "status quo", "random"]
    # each model line goes through its coverage curve, the flags are a single point
    np.testing.assert_allclose(
        lines["good"].get_ydata(),
        coverage_curve(y, good, capacities=[0.05, 0.2, 0.5, 1.0])["recall"],
    )
    assert len(lines["status quo"].get_xdata()) == 1
    assert lines["status quo"].get_xdata()[0] == pytest.approx(sq.mean())
    assert lines["status quo"].get_ydata()[0] == pytest.approx(
        (sq.astype(bool) & y).sum() / y.sum()
    )
    # a better model covers more of the needy at 20% capacity
    assert lines["good"].get_ydata()[1] > lines["noise"].get_ydata()[1]
    ax2 = plot_coverage(y, {"good": good}, random=False, ax=plt.subplots()[1])
    assert len(ax2.lines) == 1


def test_plot_calibration_lines_and_errors(plt):
    rng = np.random.default_rng(2)
    p = rng.random(5_000)
    y = rng.random(5_000) < p
    ax = plot_calibration(y, {"calibrated": p, "overconfident": p**3}, n_bins=5)
    lines = {line.get_label(): line for line in ax.lines}
    assert list(lines) == ["calibrated", "overconfident", "perfectly calibrated"]
    table = reliability_table(y, p, n_bins=5)
    np.testing.assert_allclose(lines["calibrated"].get_xdata(), table["mean_score"])
    np.testing.assert_allclose(lines["calibrated"].get_ydata(), table["observed_rate"])
    with pytest.raises(ValueError, match=re.escape("Scores of model 'raw' are not probabilities")):
        plot_calibration(y, {"raw": p * 3})
    with pytest.raises(ValueError, match=re.escape("Scores of model 'short' have shape (3,)")):
        plot_calibration(y, {"short": p[:3]})
    with pytest.raises(TypeError, match=re.escape("expected a non-empty mapping")):
        plot_coverage(y, p)


@pytest.fixture(scope="module")
def rule_hits(pop, split):
    from needsid.rules import load

    return load("configs/rules/default.yaml").evaluate(
        pop.bundle, split.test_as_of, suppress=False
    )


def test_rule_flags_align_with_test_households(split, rule_hits):
    flags = rule_flags(rule_hits, split)
    assert flags.dtype == bool and flags.shape == (len(split.test),)
    hits = rule_hits.to_frame()
    wanted = set(hits.filter(hits["kind"].is_in(list(FLAG_KINDS)))["household_id"])
    expected = split.test["household_id"].isin(wanted).to_numpy()
    np.testing.assert_array_equal(flags, expected)
    assert 0 < flags.sum() < len(flags)
    # the same ids in reverse order give the reversed flags
    reversed_ids = split.test["household_id"].to_numpy()[::-1]
    np.testing.assert_array_equal(rule_flags(rule_hits, reversed_ids), flags[::-1])
    # cross-checks and exits are not "needs help" flags
    cross = set(hits.filter(hits["kind"] == "cross_check")["household_id"])
    only_cross = split.test["household_id"].isin(cross - wanted).to_numpy()
    assert not flags[only_cross].any()
    np.testing.assert_array_equal(
        rule_flags(rule_hits, split, kinds=["cross_check"]),
        split.test["household_id"].isin(cross).to_numpy(),
    )


def test_rule_flags_feed_compare_and_check_dates(pop, split, rule_hits):
    model = make_pipeline(
        SimpleImputer(keep_empty_features=True), StandardScaler(), LogisticRegression(max_iter=500)
    )
    flags = rule_flags(rule_hits, split)
    c = compare({"logit": model}, split, rule_flags=flags, n_boot=5)
    wide = c.to_frame()
    assert "rules only" in wide.index
    assert c.table.query("model == 'rules only'").shape[0] == 7
    m = targeting_metrics(split.test["in_need"], flags.astype(float), flags=flags)
    assert wide.loc["rules only", "recall_at_k"] == pytest.approx(m.recall_at_k)
    # the same scores at the rules' own caseload, without refitting
    k = int(flags.sum())
    at_k = c.at_capacity(k, n_boot=5)
    long = at_k.to_frame(wide=False).set_index(["model", "metric"])["estimate"]
    expected = targeting_metrics(split.test["in_need"], c.scores["logit"], capacity=k)
    assert long["logit", "recall_at_k"] == pytest.approx(expected.recall_at_k)
    assert long["rules only", "recall_at_k"] == pytest.approx(m.recall_at_k)
    assert at_k.fitted["logit"] is c.fitted["logit"] and c.fit_seconds["logit"] > 0
    with pytest.raises(ValueError, match=re.escape("Got rule_flags of shape (3,)")):
        compare({"logit": model}, split, rule_flags=flags[:3], n_boot=0)
    with pytest.raises(ValueError, match=re.escape("evaluate the rules at split.test_as_of")):
        rule_flags(pop_hits_at(pop, "2024-09-01"), split)
    with pytest.raises(ValueError, match=re.escape("Got kinds=['trigger', 'exitt']")):
        rule_flags(rule_hits, split, kinds=["trigger", "exitt"])


def pop_hits_at(pop, as_of):
    from needsid.rules import load

    return (
        load("configs/rules/default.yaml").select(kinds=["outreach"]).evaluate(pop.bundle, as_of)
    )
