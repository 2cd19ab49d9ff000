"""Tests for needsid.models: the estimator contract, learning, constraints, cards, reasons."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from needsid.models import (
    REASON_COLUMNS,
    EBMRiskModel,
    GBMRiskModel,
    PointsScorecard,
    default_dimensions,
    feature_dimension,
)

# small but real settings: the checks exercise the API, not the defaults' accuracy
# n_jobs=1: LightGBM's threads only add barrier waits on data this small, and on a busy
# shared CI machine those waits can cost seconds per fit
FAST = {
    "gbm": lambda **kw: GBMRiskModel(n_estimators=60, n_jobs=1, **kw),
    "scorecard": lambda **kw: PointsScorecard(**kw),
    "ebm": lambda **kw: EBMRiskModel(outer_bags=2, max_rounds=300, **kw),
}
MONOTONE = {
    "gbm": {"monotone_constraints": {"income_to_low_income_line": -1}},
    "scorecard": {"monotone": {"income_to_low_income_line": "descending"}},
    "ebm": {"monotone_constraints": {"income_to_low_income_line": -1}},
}


#: scikit-learn checks that cannot pass, per model, with the reason
EXPECTED_FAILED_CHECKS = {
    GBMRiskModel: {
        "check_sample_weight_equivalence_on_dense_data": (
            "a weight of k is not k copies of a row: the calibration holdout is a "
            "stratified split of rows (here the weighted fit has one row of class 0, of "
            "weight 3, and the split needs 2), and LightGBM subsamples rows "
            "(subsample=0.8) and counts rows, not weight, in min_child_samples. A weight "
            "of 0 is the same as dropping the row (tests/test_models_weights.py)."
        ),
    },
}


@parametrize_with_checks(
    [
        GBMRiskModel(n_estimators=30, n_jobs=1),
        PointsScorecard(),
        EBMRiskModel(outer_bags=1, max_rounds=200),
    ],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS.get(type(estimator), {}),
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def households(n=3000, seed=0, bump=False):
    """A hand-built logistic population: low income, hospital stays and elderly raise need.

    ``bump`` adds a band of income (1.0-1.3 x the low-income line) where need *rises*,
    a pattern a monotone constraint must refuse to follow.
    """
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "income_to_low_income_line": rng.lognormal(0.0, 0.5, n),
            "n_hospitalization_12m": rng.poisson(0.4, n).astype(float),
            "n_elderly": rng.integers(0, 3, n).astype(float),
            "invisibility_score": rng.uniform(0, 1, n),
            "hh_size": rng.integers(1, 7, n).astype(float),
            "noise": rng.normal(size=n),
        },
        index=pd.Index([f"h{i:05d}" for i in range(n)], name="household_id"),
    )
    inc = X["income_to_low_income_line"].to_numpy()
    logit = (
        2.5
        - 3.5 * inc
        + 1.2 * X["n_hospitalization_12m"]
        + 0.8 * X["n_elderly"]
        + 1.0 * X["invisibility_score"]
    )
    if bump:
        logit = logit + 3.0 * ((inc > 1.0) & (inc < 1.3))
    y = (rng.random(n) < expit(logit)).astype(int)
    return X, pd.Series(y, index=X.index, name="in_need")


@pytest.fixture(scope="module")
def data():
    X, y = households()
    return X.iloc[:2000], y.iloc[:2000], X.iloc[2000:], y.iloc[2000:]


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _, _ = data
    return {name: make().fit(X, y) for name, make in FAST.items()}


@pytest.mark.parametrize("name", list(FAST))
def test_learns_the_signal(fitted, data, name):
    _, _, X_test, y_test = data
    assert roc_auc_score(y_test, fitted[name].predict_proba(X_test)[:, 1]) > 0.8


@pytest.mark.parametrize("name", list(FAST))
def test_monotone_constraint_is_respected(name):
    X, y = households(n=3000, seed=1, bump=True)
    model = FAST[name](**MONOTONE[name]).fit(X, y)
    grid = np.linspace(0.2, 3.0, 60)
    for _, row in X.iloc[:5].iterrows():
        Xg = pd.DataFrame([row] * len(grid)).assign(income_to_low_income_line=grid)
        p = model.predict_proba(Xg)[:, 1]
        assert np.all(np.diff(p) <= 1e-12), p


def test_unconstrained_gbm_follows_the_bump():
    # the monotone test above is only meaningful if the bump is learnable
    X, y = households(n=3000, seed=1, bump=True)
    model = FAST["gbm"](calibration=None).fit(X, y)
    grid = np.linspace(0.2, 3.0, 60)
    Xg = pd.DataFrame([X.iloc[0]] * len(grid)).assign(income_to_low_income_line=grid)
    assert np.diff(model.predict_proba(Xg)[:, 1]).max() > 0.01


def test_predictions_accept_numpy_pandas_and_polars(fitted, data):
    X, _, _, _ = data
    model = fitted["gbm"]
    assert list(model.feature_names_in_) == list(X.columns)  # household_id is the row id
    expected = model.predict_proba(X)
    as_polars = pl.from_pandas(X.reset_index())
    np.testing.assert_allclose(model.predict_proba(as_polars), expected)
    on_arrays = FAST["gbm"]().fit(X.to_numpy(), data[1].to_numpy())
    np.testing.assert_allclose(on_arrays.predict_proba(X.to_numpy()), expected)


def test_polars_fit_keeps_feature_names_and_ids(data):
    X, y, _, _ = data
    frame = pl.from_pandas(X.reset_index())
    model = FAST["scorecard"]().fit(frame, y.to_numpy())
    assert list(model.feature_names_in_) == list(X.columns)
    reasons = model.explain(frame.head(2))
    assert set(reasons["row_id"]) == {"h00000", "h00001"}


# -- scorecard ----------------------------------------------------------------------------


def test_scorecard_is_small_integer_and_bounded(data):
    X, y, _, _ = data
    card = PointsScorecard(max_features=3, max_points=60).fit(X, y)
    assert 1 <= len(card.selected_features_) <= 3
    assert card.card_["points"].dtype.kind == "i"
    per_feature = card.card_.groupby("feature")["points"]
    assert (per_feature.min() == 0).all()  # base points 0: each lowest-risk bin scores 0
    assert per_feature.max().sum() <= 60
    totals = card.points(X)
    assert totals.min() >= 0 and totals.max() <= 60
    np.testing.assert_allclose(
        card.predict_proba(X)[:, 1], expit(card.risk_intercept_ + card.risk_slope_ * totals)
    )
    assert list(card.risk_table_.columns) == [
        "points_from",
        "points_to",
        "households",
        "observed_risk",
        "predicted_risk",
    ]
    assert card.risk_table_["households"].sum() == len(X)


def _apply_by_hand(card: pd.DataFrame, row: pd.Series) -> int:
    """Read the printed card the way a caseworker would."""
    total = 0
    for feature, bins in card.groupby("feature", sort=False):
        v = row[feature]
        for label, points in zip(bins["bin"], bins["points"], strict=True):
            if label == "missing":
                hit = np.isnan(v)
            elif label == "any value":
                hit = True
            elif m := re.fullmatch(r"(\S+) to < (\S+)", label):
                hit = float(m[1]) <= v < float(m[2])
            elif m := re.fullmatch(r"(-?\d+) to (-?\d+)", label):
                hit = int(m[1]) <= v <= int(m[2])
            else:
                op, num = label.split(" ")
                ops = {"<": v < float(num), "<=": v <= float(num), ">=": v >= float(num)}
                hit = ops.get(op, v == float(num))
            if hit:
                total += points
                break
    return total


def test_scorecard_card_prints_and_applies_by_hand(fitted, data):
    X, _, _, _ = data
    card = fitted["scorecard"]
    text = card.to_text()
    assert "base points 0" in text and "Total points -> risk" in text
    for feature in card.selected_features_:
        assert feature in text
    rows = X.iloc[:40].copy()
    rows.iloc[0, rows.columns.get_loc(card.selected_features_[0])] = np.nan  # missing row
    by_hand = [_apply_by_hand(card.card_, r) for _, r in rows.iterrows()]
    assert by_hand == card.points(rows).tolist()


def test_scorecard_integer_features_get_whole_number_bins(fitted):
    card = fitted["scorecard"].card_
    labels = card.loc[card["feature"] == "n_hospitalization_12m", "bin"].tolist()
    assert labels and all("." not in label for label in labels), labels


def test_scorecard_json_round_trip_is_exact(fitted, data):
    X, _, X_test, _ = data
    card = fitted["scorecard"]
    text = card.to_json()
    assert "pickle" not in text and json.loads(text)["format"] == "needsid.PointsScorecard"
    loaded = PointsScorecard.from_json(text)
    X_nan = X_test.copy()
    X_nan.iloc[:10, 0] = np.nan
    np.testing.assert_array_equal(loaded.predict_proba(X_nan), card.predict_proba(X_nan))
    np.testing.assert_array_equal(loaded.predict(X_nan), card.predict(X_nan))
    pd.testing.assert_frame_equal(loaded.card_, card.card_)
    pd.testing.assert_frame_equal(loaded.risk_table_, card.risk_table_)
    pd.testing.assert_frame_equal(loaded.explain(X_nan), card.explain(X_nan))
    assert loaded.to_text() == card.to_text()
    assert loaded.get_params() == card.get_params()
    assert loaded.to_json() == text


def test_scorecard_from_json_rejects_other_documents():
    with pytest.raises(ValueError, match=re.escape("without format='needsid.PointsScorecard'")):
        PointsScorecard.from_json('{"format": "other"}')
    with pytest.raises(ValueError, match=re.escape("format version 99")):
        PointsScorecard.from_json('{"format": "needsid.PointsScorecard", "version": 99}')


def test_scorecard_without_signal_is_an_empty_card():
    X = np.ones((200, 2))  # constant features: nothing to bin, nothing to select
    y = np.r_[np.zeros(150, dtype=int), np.ones(50, dtype=int)]
    card = PointsScorecard().fit(X, y)
    assert card.selected_features_ == [] and card.card_.empty
    assert "(no features)" in card.to_text()
    np.testing.assert_allclose(card.predict_proba(X)[:, 1], 0.25, atol=1e-3)
    assert card.explain(X[:2], top=None)["contribution"].abs().max() == 0
    np.testing.assert_array_equal(
        PointsScorecard.from_json(card.to_json()).predict_proba(X), card.predict_proba(X)
    )


# -- reason codes -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FAST))
def test_explain_shape_and_top_ordering(fitted, data, name):
    X, _, _, _ = data
    reasons = fitted[name].explain(X.iloc[:20], top=3)
    assert tuple(reasons.columns) == REASON_COLUMNS
    assert (reasons.groupby("row_id").size() == 3).all()
    assert list(reasons["row_id"].unique()) == list(X.index[:20])
    for _, one in reasons.groupby("row_id"):
        assert np.all(np.diff(one["contribution"].abs().to_numpy()) <= 0)
        np.testing.assert_array_equal(one["value"], X.loc[one["row_id"].iloc[0], one["feature"]])
    assert set(reasons["dimension"]) <= {"income", "health", "care", "coverage", "other"}


@pytest.mark.parametrize("name", list(FAST))
def test_explain_contributions_sum_to_p_minus_base(fitted, data, name):
    X, _, _, _ = data
    model = fitted[name]
    rows = X.iloc[:200]
    reasons = model.explain(rows, top=None)
    sums = reasons.groupby("row_id", sort=False)["contribution"].sum().to_numpy()
    p = model.predict_proba(rows)[:, 1]
    p_base = p - sums
    np.testing.assert_allclose(p_base, p_base[0], atol=1e-9)  # one base for all rows
    assert 0 < p_base[0] < 1


def test_ebm_interaction_terms_are_shared_between_their_features(data):
    X, y, _, _ = data
    model = FAST["ebm"](interactions=2).fit(X, y)
    assert any(len(t) == 2 for t in model.estimator_.term_features_)
    rows = X.iloc[:50]
    sums = model.explain(rows, top=None).groupby("row_id", sort=False)["contribution"].sum()
    p_base = model.predict_proba(rows)[:, 1] - sums.to_numpy()
    np.testing.assert_allclose(p_base, expit(model.estimator_.intercept_[0]), atol=1e-9)


@pytest.mark.parametrize("name", list(FAST))
def test_missing_values_are_accepted(data, name):
    X, y, _, _ = data
    X = X.copy()
    X.iloc[::7, 0] = np.nan
    model = FAST[name]().fit(X, y)
    p = model.predict_proba(X.iloc[:14])[:, 1]
    assert np.isfinite(p).all()
    assert np.isnan(
        model.explain(X.iloc[:1], top=None).set_index("feature").loc[X.columns[0], "value"]
    )


def test_gbm_feature_importances(fitted, data):
    X, _, _, _ = data
    importances = fitted["gbm"].feature_importances_
    assert importances.shape == (X.shape[1],)
    assert np.isclose(importances.sum(), 1.0)
    assert X.columns[np.argmax(importances)] == "income_to_low_income_line"


#: LightGBM settings that were fixed in code before they were GBMRiskModel parameters,
#: with the values they had then (now their defaults)
LIGHTGBM_DEFAULTS = {
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "monotone_constraints_method": "intermediate",
}


def test_gbm_lightgbm_settings_are_parameters(data):
    X, y, X_test, _ = data
    defaults = GBMRiskModel().get_params()
    assert {k: defaults[k] for k in LIGHTGBM_DEFAULTS} == LIGHTGBM_DEFAULTS
    monotone = {"monotone_constraints": {"income_to_low_income_line": -1}}
    fitted_defaults = FAST["gbm"](**monotone).fit(X, y).estimator_.get_params()
    assert {k: fitted_defaults[k] for k in LIGHTGBM_DEFAULTS} == LIGHTGBM_DEFAULTS
    chosen = {
        "subsample": 0.5,
        "subsample_freq": 2,
        "colsample_bytree": 0.6,
        "reg_lambda": 5.0,
        "monotone_constraints_method": "basic",
    }
    model = FAST["gbm"](**monotone, **chosen).fit(X, y)
    params = model.get_params()
    assert {k: params[k] for k in chosen} == chosen  # so they reach the MLflow log
    lgbm = model.estimator_.get_params()
    assert {k: lgbm[k] for k in chosen} == chosen  # and LightGBM
    default_model = FAST["gbm"](**monotone).fit(X, y)
    assert not np.allclose(model.predict_proba(X_test), default_model.predict_proba(X_test))


def test_gbm_bad_lightgbm_settings_are_named():
    X, y = households(n=200)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "The 'subsample' parameter of GBMRiskModel must be a float in the range "
            "(0.0, 1.0]. Got 0 instead."
        ),
    ):
        GBMRiskModel(subsample=0).fit(X, y)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "The 'monotone_constraints_method' parameter of GBMRiskModel must be a str among"
        )
        + ".*"
        + re.escape("Got 'fast' instead."),
    ):
        GBMRiskModel(monotone_constraints_method="fast").fit(X, y)


def test_gbm_centered_isotonic_breaks_the_steps_and_keeps_the_calibration(data):
    X, y, X_test, y_test = data
    steps = FAST["gbm"](calibration="isotonic").fit(X, y)
    centred = FAST["gbm"](calibration="centered_isotonic").fit(X, y)
    p_steps = steps.predict_proba(X_test)[:, 1]
    p = centred.predict_proba(X_test)[:, 1]
    # the same booster, so the same ranking, without the steps' ties
    eta = steps.estimator_.booster_.predict(X_test.to_numpy(float), raw_score=True)
    inside = (eta > centred.calibrator_.X_min_) & (eta < centred.calibrator_.X_max_)
    assert len(np.unique(p_steps)) < 0.1 * len(p)
    assert len(np.unique(p[inside])) == len(np.unique(eta[inside]))
    order = np.argsort(eta, kind="stable")
    assert (np.diff(p[order]) >= 0).all()
    # through the steps' centres: on the holdout it was fitted on, the mean probability
    # of each step's rows is the step's own
    cal = centred.calibrator_
    assert cal.y_thresholds_ == pytest.approx(np.unique(steps.calibrator_.y_thresholds_))
    # no worse calibrated than the steps on new rows (Brier score; here it is better)
    brier = [float(np.mean((q - y_test.to_numpy()) ** 2)) for q in (p_steps, p)]
    assert brier[1] <= brier[0] + 1e-3


@pytest.mark.parametrize("calibration", [None, "isotonic", "sigmoid", "centered_isotonic"])
def test_gbm_json_round_trip_is_exact(data, calibration):
    X, y, X_test, _ = data
    model = FAST["gbm"](
        calibration=calibration, subsample=0.7, colsample_bytree=0.9, reg_lambda=2.0
    ).fit(X, y)
    text = model.to_json()
    assert "pickle" not in text and json.loads(text)["format"] == "needsid.GBMRiskModel"
    loaded = GBMRiskModel.from_json(text)
    assert loaded.get_params() == model.get_params()
    X_nan = X_test.copy()
    X_nan.iloc[:10, 0] = np.nan
    np.testing.assert_array_equal(loaded.predict_proba(X_nan), model.predict_proba(X_nan))
    pd.testing.assert_frame_equal(loaded.explain(X_nan), model.explain(X_nan))
    assert loaded.to_json() == text


def test_gbm_json_saved_before_the_lightgbm_parameters_loads_with_defaults(fitted, data):
    _, _, X_test, _ = data
    model = fitted["gbm"]
    doc = json.loads(model.to_json())
    for name in LIGHTGBM_DEFAULTS:
        del doc["params"][name]
    loaded = GBMRiskModel.from_json(json.dumps(doc))
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))


# -- EBM ----------------------------------------------------------------------------------


@pytest.mark.parametrize("interactions", [0, 2])
def test_ebm_json_round_trip_is_exact(fitted, data, interactions):
    X, y, X_test, _ = data
    model = fitted["ebm"] if interactions == 0 else FAST["ebm"](interactions=2).fit(X, y)
    assert (max(len(t) for t in model.estimator_.term_features_) == 2) == (interactions > 0)
    text = model.to_json()
    assert "pickle" not in text and json.loads(text)["format"] == "needsid.EBMRiskModel"
    loaded = EBMRiskModel.from_json(text)
    assert loaded.get_params() == model.get_params()
    # missing values, and values on and just below every cut of the first feature: the
    # loaded model bins them itself and must put them where interpret does
    cuts = model.estimator_.bins_[0][0]
    on_cuts = pd.DataFrame(
        np.repeat(X_test.iloc[:1].to_numpy(), 2 * len(cuts), axis=0), columns=X.columns
    ).assign(income_to_low_income_line=np.r_[cuts, np.nextafter(cuts, -np.inf)])
    X_nan = X_test.copy()
    X_nan.iloc[:10, 0] = np.nan
    X_nan.iloc[5:15, 3] = np.nan
    for rows in (X_nan, on_cuts):
        np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
        np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))
    pd.testing.assert_frame_equal(loaded.explain(X_nan), model.explain(X_nan))
    assert loaded.to_json() == text


def test_ebm_from_json_rejects_other_documents(fitted):
    with pytest.raises(ValueError, match=re.escape("without format='needsid.EBMRiskModel'")):
        EBMRiskModel.from_json(fitted["gbm"].to_json())
    with pytest.raises(ValueError, match=re.escape("format version 99")):
        EBMRiskModel.from_json('{"format": "needsid.EBMRiskModel", "version": 99}')
    doc = json.loads(fitted["ebm"].to_json())
    doc["link"] = "identity"
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Got an EBMRiskModel document with link='identity'; expected 'logit', the link "
            "of a binary classifier. Save the model again with EBMRiskModel."
        ),
    ):
        EBMRiskModel.from_json(json.dumps(doc))


def test_gbm_contributions_sum_to_p_minus_base_from_shap_base(data):
    X, y, _, _ = data
    model = FAST["gbm"](calibration=None).fit(X, y)
    rows = X.iloc[:100]
    base = model.estimator_.booster_.predict(rows.to_numpy(), pred_contrib=True)[0, -1]
    sums = model.explain(rows, top=None).groupby("row_id", sort=False)["contribution"].sum()
    p = model.predict_proba(rows)[:, 1]
    np.testing.assert_allclose(sums.to_numpy(), p - expit(base), atol=1e-9)


def _contribution_matrix(reasons: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """``explain(rows, top=None)`` as a rows x features matrix in the order of ``rows``."""
    wide = reasons.pivot(index="row_id", columns="feature", values="contribution")
    return wide.loc[rows.index, rows.columns].to_numpy()


@pytest.mark.parametrize("calibration", [None, "isotonic"])
def test_gbm_reason_codes_are_shap_values_in_probability_points(data, calibration):
    # needsid's reason codes, from its own API, against shap's TreeExplainer on the same
    # booster: each feature's share of p - p_base is its share of the SHAP log-odds
    with warnings.catch_warnings():
        # shap's plotting module trips matplotlib deprecations on import
        warnings.simplefilter("ignore")
        import shap
    X, y, X_test, _ = data
    model = FAST["gbm"](calibration=calibration).fit(X, y)
    rows = X_test.iloc[:50]
    explainer = shap.TreeExplainer(model.estimator_.booster_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phi = explainer.shap_values(rows.to_numpy())
    phi = phi[1] if isinstance(phi, list) else phi
    base = float(np.ravel(explainer.expected_value)[-1])
    assert np.abs(phi.sum(axis=1)).min() > 1e-3  # the proportional split is defined
    p = model.predict_proba(rows)[:, 1]
    if calibration is None:
        p_base = expit(base)
        np.testing.assert_allclose(p, expit(base + phi.sum(axis=1)), atol=1e-9)
    else:
        p_base = model.calibrator_.predict(np.array([base]))[0]
    expected = phi / phi.sum(axis=1, keepdims=True) * (p - p_base)[:, None]
    ours = _contribution_matrix(model.explain(rows, top=None), rows)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)
    # the top reason of each row is the feature with the largest |SHAP value| (where the
    # risk differs from the base: on an isotonic step equal to p_base all reasons are 0)
    top = model.explain(rows, top=1).set_index("row_id").loc[rows.index, "feature"]
    moved = np.abs(p - p_base) > 1e-9
    assert moved.sum() > 25
    assert (top[moved] == rows.columns[np.argmax(np.abs(phi), axis=1)][moved]).all()


def test_explain_by_dimension_sums_features(fitted, data):
    X, _, _, _ = data
    model = fitted["gbm"]
    rows = X.iloc[:30]
    detail = model.explain(rows, top=None)
    expected = detail.groupby(["row_id", "dimension"])["contribution"].sum()
    grouped = model.explain(rows, top=None, by_dimension=True)
    assert list(grouped.columns) == ["row_id", "dimension", "contribution"]
    got = grouped.set_index(["row_id", "dimension"])["contribution"].sort_index()
    pd.testing.assert_series_equal(got, expected.sort_index(), check_names=False)
    top1 = model.explain(rows, top=1, by_dimension=True)
    assert len(top1) == len(rows)


def test_explain_dimension_overrides_and_row_positions(data):
    X, y, _, _ = data
    model = FAST["ebm"]().fit(X.to_numpy(), y.to_numpy())
    reasons = model.explain(
        X.iloc[:5].to_numpy(), top=None, dimensions={"x4": "care"}, by_dimension=False
    )
    assert list(reasons["row_id"].unique()) == [0, 1, 2, 3, 4]  # no ids: row positions
    assert set(reasons.loc[reasons["feature"] == "x4", "dimension"]) == {"care"}


def test_default_dimensions_cover_the_feature_catalogue():
    from needsid.features import describe

    dims = default_dimensions(describe()["name"].tolist())
    assert dims["income_to_low_income_line"] == "income"
    assert dims["n_hospitalization_12m"] == "health"
    assert dims["n_severe_disability"] == "care"
    assert dims["elderly_alone"] == "care"
    assert dims["n_school_dropout_12m"] == "education"
    assert dims["housing_unsafe"] == dims["n_properties"] == "living_standards"
    assert dims["n_earners_3m"] == "employment"
    assert dims["invisibility_score"] == dims["months_since_record"] == "coverage"
    assert feature_dimension("hh_size") == "other"


# -- errors people can act on -------------------------------------------------------------


def test_bad_parameters_are_named():
    X, y = households(n=200)
    with pytest.raises(
        ValueError,
        match=re.escape("The 'calibration' parameter of GBMRiskModel must be a str among")
        + ".*"
        + re.escape("Got 'platt' instead."),
    ):
        GBMRiskModel(calibration="platt").fit(X, y)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "The 'max_features' parameter of PointsScorecard must be an int in the range "
            "[1, inf). Got 0 instead."
        ),
    ):
        PointsScorecard(max_features=0).fit(X, y)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Got monotone_constraints for ['income_to_low_income'], which are not features "
            "of X; X has 6 features, e.g. ['income_to_low_income_line', "
        )
        + ".*"
        + re.escape("Did you mean 'income_to_low_income_line'?"),
    ):
        GBMRiskModel(monotone_constraints={"income_to_low_income": -1}).fit(X, y)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Got monotone_constraints={'noise': 2}; expected one of [-1, 0, 1] per feature."
        ),
    ):
        EBMRiskModel(monotone_constraints={"noise": 2}).fit(X, y)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Got monotone={'noise': 'down'}; expected one of ['ascending', 'descending', "
            "'auto'] per feature."
        ),
    ):
        PointsScorecard(monotone={"noise": "down"}).fit(X, y)


def test_bad_labels_and_explain_arguments(fitted, data):
    X, _, _, _ = data
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Only binary classification is supported. The type of the target is multiclass: "
            "PointsScorecard got classes [0, 1, 2]; pass a 0/1 label such as in_need."
        ),
    ):
        PointsScorecard().fit(X.iloc[:30], np.arange(30) % 3)
    with pytest.raises(
        ValueError, match=re.escape("GBMRiskModel needs both classes in y; got 1 class only: [1]")
    ):
        GBMRiskModel().fit(X.iloc[:30], np.ones(30, dtype=int))
    model = fitted["gbm"]
    with pytest.raises(
        ValueError, match=re.escape("Got top=0; expected a positive int, e.g. 3, or None.")
    ):
        model.explain(X.iloc[:2], top=0)
    with pytest.raises(
        ValueError,
        match=re.escape("Got dimensions for ['wage'], which are not features of the model"),
    ):
        model.explain(X.iloc[:2], dimensions={"wage": "income"})
