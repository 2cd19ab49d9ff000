"""Tests for ``sample_weight`` in the risk models' ``fit``: default unchanged, weights used."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.special import expit
from sklearn.svm import l1_min_c

from needsid.models import EBMRiskModel, GBMRiskModel, PointsScorecard
from needsid.models._scorecard import _l1_min_c

from .test_models import FAST, households

MODELS = [GBMRiskModel, PointsScorecard, EBMRiskModel]
#: (model name in FAST, extra parameters): every place a GBMRiskModel uses the weights
VARIANTS = {
    "gbm-uncalibrated": ("gbm", {"calibration": None}),
    "gbm-isotonic": ("gbm", {"calibration": "isotonic"}),
    "gbm-sigmoid": ("gbm", {"calibration": "sigmoid"}),
    "scorecard": ("scorecard", {}),
    "ebm": ("ebm", {}),
}


@pytest.fixture(scope="module")
def train():
    X, y = households(n=2000, seed=3)
    return X, y.to_numpy()


@pytest.fixture(scope="module")
def test_rows():
    return households(n=500, seed=4)[0]


def _make(variant):
    name, params = VARIANTS[variant]
    return FAST[name](**params)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_weights_and_unit_weights_are_the_unweighted_fit(train, test_rows, variant):
    X, y = train
    expected = _make(variant).fit(X, y).predict_proba(test_rows)
    # a second fit gives the same bytes (reproducible: the comparison below is exact)
    got = _make(variant).fit(X, y, sample_weight=None).predict_proba(test_rows)
    assert got.tobytes() == expected.tobytes()
    # weights of 1 take the weighted code paths of every library, with the same result
    ones = _make(variant).fit(X, y, sample_weight=np.ones(len(y))).predict_proba(test_rows)
    np.testing.assert_allclose(ones, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_zero_weight_is_dropping_the_rows(train, test_rows, variant):
    # holds for GBMRiskModel too, although LightGBM counts rows in min_child_samples and
    # subsamples rows, and the calibration holdout is a split of rows: rows of weight 0
    # are dropped before any of that
    X, y = train
    dropped = np.random.default_rng(0).random(len(y)) < 0.3
    weights = np.where(dropped, 0.0, 1.0)
    weighted = _make(variant).fit(X, y, sample_weight=weights)
    on_the_rest = _make(variant).fit(X[~dropped], y[~dropped])
    np.testing.assert_allclose(
        weighted.predict_proba(test_rows), on_the_rest.predict_proba(test_rows), rtol=0, atol=1e-6
    )


def test_scorecard_integer_weights_are_repeated_rows(train, test_rows):
    # binning, feature selection and both logistic fits see weighted counts; GBMRiskModel
    # and EBMRiskModel draw their subsamples, bags and splits by row, so there a weight
    # of k is not k copies of the row
    X, y = train
    weights = np.random.default_rng(1).integers(1, 4, len(y))
    rows = np.repeat(np.arange(len(y)), weights)
    weighted = PointsScorecard().fit(X, y, sample_weight=weights)
    repeated = PointsScorecard().fit(X.iloc[rows], y[rows])
    assert weighted.card_.equals(repeated.card_)
    np.testing.assert_allclose(
        weighted.predict_proba(test_rows), repeated.predict_proba(test_rows), rtol=0, atol=1e-6
    )
    # and the weights matter: unweighted, the card is not the same
    unweighted = PointsScorecard().fit(X, y)
    assert not np.allclose(unweighted.predict_proba(test_rows), weighted.predict_proba(test_rows))


def test_scorecard_fractional_weights_bin_like_their_integer_multiples(train):
    # optbinning keeps weighted counts per bin as integers: weights of 0.3 would be
    # truncated to a different binning unless rescaled (see _binning_weights)
    X, y = train
    third = PointsScorecard().fit(X, y, sample_weight=np.full(len(y), 1 / 3))
    one = PointsScorecard().fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(third.information_values_, one.information_values_, atol=1e-9)


def _two_group_path_data():
    """Column 0 carries the signal of the first half of the rows, column 1 (stronger) of
    the second half: unweighted, column 1 enters the L1 path first."""
    rng = np.random.default_rng(0)
    n = 2000
    first = np.arange(n) < n // 2
    a, b, u = rng.normal(size=n), rng.normal(size=n), rng.random(n)
    W = np.column_stack([np.where(first, a, 0.0), np.where(first, 0.0, b)])
    y = (u < expit(np.where(first, a, 1.5 * b))).astype(np.int64)
    return W, y, np.where(first, 4, 1)


def test_scorecard_l1_path_weighs_rows_like_repeated_rows():
    # the path is reached through fit only when its order decides the card, so its
    # weighting is checked on the private step itself
    W, y, weights = _two_group_path_data()
    rows = np.repeat(np.arange(len(y)), weights)
    bins = [{"iv": 0.1}, {"iv": 0.1}]
    card = PointsScorecard()
    assert card._path_order(W, y, None, [0, 1], bins) == [1, 0]
    assert card._path_order(W, y, weights.astype(float), [0, 1], bins) == [0, 1]
    assert card._path_order(W[rows], y[rows], None, [0, 1], bins) == [0, 1]
    # the path's first C, like scikit-learn's l1_min_c on the repeated rows
    assert _l1_min_c(W, y, weights.astype(float)) == pytest.approx(
        l1_min_c(W[rows], y[rows], loss="log"), rel=1e-12
    )
    assert _l1_min_c(W, y, np.ones(len(y))) == pytest.approx(l1_min_c(W, y, loss="log"), rel=1e-12)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_zero_weight_on_a_region_changes_predictions(train, test_rows, variant):
    X, y = train
    low_income = (X["income_to_low_income_line"] < 0.8).to_numpy()
    uniform = _make(variant).fit(X, y, sample_weight=np.ones(len(y)))
    without_region = _make(variant).fit(X, y, sample_weight=np.where(low_income, 0.0, 1.0))
    region = test_rows[test_rows["income_to_low_income_line"] < 0.8]
    change = without_region.predict_proba(region)[:, 1] - uniform.predict_proba(region)[:, 1]
    assert np.abs(change).mean() > 0.05


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_upweighted_events_raise_the_predicted_risk_to_the_weighted_rate(train, variant):
    # calibration in the large: on the training rows, the weighted mean prediction
    # follows the weighted event rate. For the calibrated GBM this needs the weights in
    # the calibration map (uncalibrated: in the booster), else the mean stays near the
    # unweighted rate
    X, y = train
    weights = np.where(y == 1, 5.0, 1.0)
    weighted_rate = np.average(y, weights=weights)
    assert weighted_rate - y.mean() > 0.15  # far apart, so the check below can tell
    p = _make(variant).fit(X, y, sample_weight=weights).predict_proba(X)[:, 1]
    assert np.average(p, weights=weights) == pytest.approx(weighted_rate, abs=0.02)


# -- errors people can act on -------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (
            np.ones(9),
            "Got sample_weight of shape (9,); expected shape (10,), one weight per row of X. "
            "Pass one weight per row, in the order of the rows of X and y.",
        ),
        (
            np.ones((10, 2)),
            "Got sample_weight of shape (10, 2); expected shape (10,)",
        ),
        (
            np.r_[1.0, -2.0, 1, 1, -1, 1, 1, 1, 1, 1],
            "Got sample_weight with 2 negative value(s), the first -2.0 at row 1: weights must "
            "be >= 0; use 0 to leave a row out.",
        ),
        (
            np.r_[1.0, 1, 1, np.nan, 1, 1, 1, 1, 1, 1],
            "Got sample_weight with 1 NaN or infinite value(s), the first at row 3: fill them, "
            "e.g. with 1.0, or drop those rows from X and y.",
        ),
        (
            np.r_[1.0, 1, 1, 1, 1, 1, 1, 1, 1, np.inf],
            "Got sample_weight with 1 NaN or infinite value(s), the first at row 9",
        ),
        (
            np.zeros(10),
            "Got sample_weight with all 10 weights zero, so no row is left to learn "
            "from. Give the rows to learn from a positive weight, or pass sample_weight=None "
            "to weigh all rows equally.",
        ),
        (
            ["1"] * 9 + ["heavy"],
            "Got sample_weight that is not numeric (could not convert string to float: "
            "'heavy'); expected one non-negative number per row of X, e.g. np.ones(len(X)).",
        ),
    ],
    ids=["length", "2-d", "negative", "nan", "inf", "all-zero", "not-numeric"],
)
def test_bad_sample_weight_is_named_with_the_fix(model, weights, message):
    X, y = households(n=10)
    with pytest.raises(ValueError, match=re.escape(message)):
        model().fit(X, y, sample_weight=weights)


def test_every_problem_with_the_weight_values_is_reported_at_once():
    X, y = households(n=10)
    weights = np.r_[np.nan, -1.0, 1, 1, 1, 1, 1, 1, 1, 1]
    with pytest.raises(
        ValueError,
        match=re.escape("Got sample_weight with 1 NaN or infinite value(s), the first at row 0")
        + ".* Also "
        + re.escape("1 negative value(s), the first -1.0 at row 1"),
    ):
        GBMRiskModel().fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("model", MODELS)
def test_weight_on_one_class_only_is_an_error(model):
    X, y = households(n=40)
    y = np.arange(40) % 2
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{model.__name__} needs both classes among the rows with a positive "
            "sample_weight; only class 1 has any. Give some rows of each class a positive "
            "weight."
        ),
    ):
        model().fit(X, y, sample_weight=y.astype(float))


def test_weights_are_not_modified_and_may_be_a_list_or_series(train):
    X, y = train
    weights = np.where(y == 1, 2.0, 0.5)
    weights[:5] = 0.0
    before = weights.copy()
    model = FAST["gbm"]().fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(weights, before)
    as_list = FAST["gbm"]().fit(X, y, sample_weight=weights.tolist())
    as_series = FAST["gbm"]().fit(X, y, sample_weight=X.assign(w=weights)["w"])
    expected = model.predict_proba(X)
    np.testing.assert_array_equal(as_list.predict_proba(X), expected)
    np.testing.assert_array_equal(as_series.predict_proba(X), expected)
