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
    compare,
    coverage_curve,
    reliability_table,
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
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=500))
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
