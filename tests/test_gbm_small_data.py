"""Tests for GBMRiskModel's small-data preset: grouped inner CV, the grid, monotone risk."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from needsid.models import GBMRiskModel, _gbm, _gbm_tuning
from needsid.models._gbm import SMALL_DATA_PRESET
from needsid.models._gbm_tuning import SMALL_DATA_GRID, TUNABLE, inner_folds

#: a two-point grid and few rounds: the tests exercise the search, not its accuracy
GRID = {"num_leaves": [4, 8]}


def small(**kw):
    return GBMRiskModel.small_data(param_grid=GRID, n_estimators=100, n_jobs=1, **kw)


def population(n_households=150, seed=0):
    """Households of 1-4 member rows sharing the household's label and assets.

    Need falls with ``rooms`` and ``schooling`` except in a band of rooms (3-4) where it
    *rises*: a monotone constraint on ``rooms`` must refuse to follow it.
    """
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 5, n_households)
    rooms = rng.integers(1, 8, n_households).astype(float)
    logit = 2.0 - 0.8 * rooms + 2.5 * ((rooms >= 3) & (rooms <= 4))
    need = (rng.random(n_households) < expit(logit)).astype(int)
    household = np.repeat(np.arange(n_households), size)
    X = pd.DataFrame(
        {
            "rooms": rooms[household],
            "schooling": rng.integers(0, 16, household.size).astype(float),
            "age": rng.integers(0, 90, household.size).astype(float),
        }
    )
    return X, need[household], household


@pytest.fixture(scope="module")
def data():
    return population()


@pytest.fixture(scope="module")
def fitted(data):
    X, y, household = data
    return small(monotone_constraints={"rooms": -1}).fit(X, y, groups=household)


@parametrize_with_checks(
    [small()],
    expected_failed_checks=lambda _: {
        "check_sample_weight_equivalence_on_dense_data": (
            "a weight of k is not k copies of a row: the inner folds split rows, and "
            "LightGBM subsamples rows and counts rows, not weight, in min_child_samples"
        ),
    },
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_preset_is_the_documented_parameters_with_overrides():
    model = GBMRiskModel.small_data(n_jobs=1, num_leaves=5)
    params = model.get_params()
    assert {k: params[k] for k in SMALL_DATA_PRESET} == SMALL_DATA_PRESET
    assert (params["n_jobs"], params["num_leaves"], params["param_grid"]) == (1, 5, None)
    assert set(SMALL_DATA_GRID) <= set(TUNABLE)


def test_default_model_is_unchanged_by_the_new_parameters(data):
    X, y, _ = data
    params = GBMRiskModel().get_params()
    assert (params["tuning"], params["param_grid"], params["inner_folds"]) == (None, None, 3)
    model = GBMRiskModel(n_estimators=20, n_jobs=1).fit(X, y)
    assert not hasattr(model, "best_params_") and not hasattr(model, "cv_results_")


def test_unknown_preset_override_is_named():
    with pytest.raises(TypeError, match=re.escape("Got ['n_trees'], which are not GBMRiskModel")):
        GBMRiskModel.small_data(n_trees=10)


def test_inner_cv_picks_parameters_from_the_grid(fitted):
    best, results = fitted.best_params_, fitted.cv_results_
    assert set(best) == {"num_leaves", "n_estimators"}
    assert best["num_leaves"] in GRID["num_leaves"]
    assert 1 <= best["n_estimators"] <= 100
    assert list(results.columns) == [
        "num_leaves", "n_estimators", "log_loss", "log_loss_sd", "rank"
    ]  # fmt: skip
    chosen = results.loc[results["log_loss"].idxmin()]
    assert chosen["rank"] == 1
    assert {k: chosen[k] for k in best} == best
    # the booster is refitted with the chosen candidate and rounds
    lgbm = fitted.estimator_.get_params()
    assert (lgbm["num_leaves"], lgbm["n_estimators"]) == (best["num_leaves"], best["n_estimators"])


def test_grid_with_several_parameters_and_max_depth_none(data):
    X, y, household = data
    grid = {"max_depth": [None, 2], "reg_lambda": [0.0, 5.0]}
    model = GBMRiskModel.small_data(param_grid=grid, n_estimators=100, n_jobs=1)
    model.fit(X, y, groups=household)
    assert len(model.cv_results_) == 4
    assert model.best_params_["max_depth"] in (None, 2)
    expected_depth = -1 if model.best_params_["max_depth"] is None else 2
    assert model.estimator_.get_params()["max_depth"] == expected_depth


def test_inner_folds_keep_each_group_whole():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(60), rng.integers(1, 6, 60))
    y = (rng.random(60) < 0.3).astype(np.int64)[groups]
    folds = inner_folds(y, groups, 3, 0)
    assert len(folds) == 3
    valid = np.concatenate([v for _, v in folds])
    np.testing.assert_array_equal(np.sort(valid), np.arange(len(y)))  # a partition
    for train, valid in folds:
        assert not set(groups[train]) & set(groups[valid])
        assert 0 < y[valid].mean() < 1  # stratified: both classes in every fold


def test_fit_passes_grouped_folds_to_the_inner_cv(data, monkeypatch):
    X, y, household = data
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs["folds"])
        return lgb_cv(*args, **kwargs)

    lgb_cv = _gbm_tuning.lgb.cv
    monkeypatch.setattr(_gbm_tuning.lgb, "cv", spy)
    small().fit(X, y, groups=household)
    assert len(seen) == len(GRID["num_leaves"])
    for train, valid in seen[0]:
        assert not set(household[train]) & set(household[valid])


def test_too_few_groups_per_class_is_explained():
    X = np.arange(12, dtype=float).reshape(6, 2)
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=re.escape("Got a class with 1 group(s) of rows")):
        small().fit(X, y, groups=np.array([1, 1, 1, 2, 2, 2]))


def test_groups_of_another_length_are_refused(data):
    X, y, household = data
    with pytest.raises(
        ValueError, match=re.escape(f"Got groups of shape (3,); expected ({len(y)},)")
    ):
        small().fit(X, y, groups=household[:3])


def test_zero_weight_rows_leave_their_groups_out(data):
    X, y, household = data
    weight = np.where(household < 10, 0.0, 1.0)
    weighted = small().fit(X, y, sample_weight=weight, groups=household)
    kept = weight > 0
    dropped = small().fit(X[kept], y[kept], groups=household[kept])
    np.testing.assert_allclose(weighted.predict_proba(X), dropped.predict_proba(X))


def test_groups_reach_the_model_in_a_pipeline(data):
    X, y, household = data
    pipe = make_pipeline(FunctionTransformer(), small())
    pipe.fit(X, y, gbmriskmodel__groups=household)
    assert pipe[-1].best_params_["num_leaves"] in GRID["num_leaves"]


def test_monotone_constraint_holds_on_a_grid(fitted, data):
    X, _, _ = data
    rows = X.sample(20, random_state=0)
    for rooms_grid in [np.arange(1.0, 8.0), np.linspace(0.0, 10.0, 41)]:
        risk = np.column_stack(
            [fitted.predict_proba(rows.assign(rooms=r))[:, 1] for r in rooms_grid]
        )
        assert (np.diff(risk, axis=1) <= 1e-12).all()


def test_unconstrained_model_follows_the_bump(data):
    # the population really rises in rooms 3-4, so the constraint above is doing work
    X, y, household = data
    free = small().fit(X, y, groups=household)
    row = X.iloc[[0]]
    risk = [free.predict_proba(row.assign(rooms=r))[0, 1] for r in (2.0, 3.0)]
    assert risk[1] > risk[0]


def test_bad_monotone_feature_is_named(data):
    X, y, household = data
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Got monotone_constraints for ['room'], which are not features of X; X has 3 "
            "features, e.g. ['rooms', 'schooling', 'age']. Did you mean 'rooms'?"
        ),
    ):
        small(monotone_constraints={"room": -1}).fit(X, y, groups=household)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"n_estimators": [10]}, "Got param_grid with ['n_estimators'], which inner CV does not"),
        ({"num_leaves": []}, "Got param_grid['num_leaves']=[]; expected a non-empty list"),
        ({"num_leaves": "8"}, "Got param_grid['num_leaves']='8'; expected a non-empty list"),
        ({"num_leaves": [1]}, "The 'num_leaves' parameter of GBMRiskModel must be an int"),
    ],
)
def test_bad_param_grid_is_named(data, grid, message):
    X, y, _ = data
    with pytest.raises(ValueError, match=re.escape(message)):
        GBMRiskModel.small_data(param_grid=grid, n_jobs=1).fit(X, y)


def test_param_grid_without_tuning_is_refused(data):
    X, y, _ = data
    with pytest.raises(
        ValueError, match=re.escape("the grid is searched only with tuning='inner_cv'")
    ):
        GBMRiskModel(param_grid=GRID, n_estimators=10, n_jobs=1).fit(X, y)


def test_fit_is_deterministic(fitted, data):
    X, y, household = data
    again = small(monotone_constraints={"rooms": -1}).fit(X, y, groups=household)
    assert again.best_params_ == fitted.best_params_
    pd.testing.assert_frame_equal(again.cv_results_, fitted.cv_results_)
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))


def test_tuned_model_round_trips_through_json(fitted, data):
    X, _, _ = data
    loaded = GBMRiskModel.from_json(fitted.to_json())
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_default_model_with_groups_holds_out_whole_groups(data, monkeypatch):
    X, y, household = data
    splits = []

    def spy(*args, **kwargs):
        splits.append(inner_folds(*args, **kwargs)[0])
        return [splits[-1]]

    monkeypatch.setattr(_gbm, "inner_folds", spy)
    GBMRiskModel(n_estimators=20, n_jobs=1).fit(X, y, groups=household)
    ((train, holdout),) = splits
    assert len(holdout) / len(y) == pytest.approx(0.2, abs=0.05)
    assert not set(household[train]) & set(household[holdout])
