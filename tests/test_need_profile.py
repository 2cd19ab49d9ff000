"""NeedProfileModel: need by dimension, calibrated, with reason codes per dimension (#20)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

import needsid as ni
from needsid.models import GBMRiskModel, NeedProfileModel, need_targets
from needsid.models._need_profile import NEED_REASON_COLUMNS, TARGET_COLUMNS
from needsid.simulation import NEED_DIMENSIONS

AS_OF = "2023-07-01"


def fast(**kw):
    # n_jobs=1: LightGBM's threads only add barrier waits on data this small
    return GBMRiskModel(n_estimators=60, n_jobs=1, **kw)


@pytest.fixture(scope="module")
def pop():
    return ni.simulate(n_households=800, months=18, seed=0)


@pytest.fixture(scope="module")
def X(pop):
    return ni.features.build(pop.bundle, AS_OF)


@pytest.fixture(scope="module")
def Y(pop):
    return need_targets(ni.labels.make(pop, AS_OF, 6))


@pytest.fixture(scope="module")
def model(X, Y):
    return NeedProfileModel(fast()).fit(X, Y)


def toy(n=300, seed=0):
    """Two features; income need falls with income, care need rises with the elderly."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"income_ratio": rng.normal(size=n), "n_elderly": rng.normal(size=n)})
    Y = pd.DataFrame(
        {
            "need_income": (X["income_ratio"] + rng.normal(0, 0.5, n) < -0.5).astype(int),
            "need_care": (X["n_elderly"] + rng.normal(0, 0.5, n) > 0.5).astype(int),
        }
    )
    return X, Y


# -- the scikit-learn contract --------------------------------------------------------------

#: scikit-learn checks that cannot pass, with the reason; what the sample-weight checks
#: would have covered is tested below (test_sample_weight_zero_is_dropping_the_row)
LABELS_0_1 = (
    "targets are need labels, 0/1 or booleans (1 = in need); the check's binary target is "
    "the classes 1 and 2, which name no 'in need' class, and is refused with a ValueError"
)
EXPECTED_FAILED_CHECKS = {
    "check_estimators_dtypes": LABELS_0_1,
    "check_fit2d_1feature": LABELS_0_1,
    "check_sample_weights_pandas_series": LABELS_0_1,
    "check_sample_weights_not_an_array": LABELS_0_1,
    "check_sample_weights_shape": LABELS_0_1,
    "check_sample_weights_not_overwritten": LABELS_0_1,
    "check_sample_weight_equivalence_on_dense_data": (
        "as for GBMRiskModel (tests/test_models.py): a weight of k is not k copies of a row "
        "for a calibration holdout and LightGBM's row counts"
    ),
}


@parametrize_with_checks(
    [NeedProfileModel(GBMRiskModel(n_estimators=30, n_jobs=1), dimensions=("income",))],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_clone_and_params():
    model = NeedProfileModel(fast(), dimensions=("care", "income"))
    copy = clone(model)
    assert copy is not model and copy.estimator is not model.estimator
    params = copy.get_params()
    assert params["dimensions"] == ("care", "income")
    assert params["estimator__n_estimators"] == 60
    copy.set_params(estimator__n_estimators=5)
    assert copy.estimator.n_estimators == 5 and model.estimator.n_estimators == 60
    assert NeedProfileModel().get_params() == {"estimator": None, "dimensions": None}


@pytest.mark.parametrize("method", ["predict_proba", "predict", "predict_frame", "reasons"])
def test_not_fitted(method):
    X, _ = toy(20)
    with pytest.raises(NotFittedError, match=re.escape("This NeedProfileModel instance")):
        getattr(NeedProfileModel(), method)(X)


def test_default_estimator_is_gbm_with_its_defaults():
    X, Y = toy()
    model = NeedProfileModel().fit(X, Y)
    for est in model.estimators_.values():
        assert isinstance(est, GBMRiskModel)
        assert est.get_params() == GBMRiskModel().get_params()


# -- shapes, order, probabilities -----------------------------------------------------------


def test_shapes_and_order(model, X, Y):
    assert model.dimensions_ == NEED_DIMENSIONS
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), len(NEED_DIMENSIONS)) and proba.dtype == np.float64
    assert ((proba >= 0) & (proba <= 1)).all()
    # column k is dimension k's own model
    features = X.drop("household_id").to_pandas()
    for k, dim in enumerate(model.dimensions_):
        np.testing.assert_array_equal(
            proba[:, k], model.estimators_[dim].predict_proba(features)[:, 1]
        )
    np.testing.assert_array_equal(model.predict(X), (proba > 0.5).astype(np.int64))
    assert model.n_features_in_ == X.width - 1
    assert list(model.feature_names_in_) == X.columns[1:]


def test_order_follows_need_dimensions_or_the_dimensions_parameter(X, Y):
    shuffled = Y.select("household_id", "need_employment", "need_health", "need_income")
    model = NeedProfileModel(fast()).fit(X, shuffled)
    assert model.dimensions_ == ("income", "health", "employment")
    chosen = NeedProfileModel(fast(), dimensions=["employment", "income"]).fit(X, Y)
    assert chosen.dimensions_ == ("employment", "income")  # the other columns are ignored
    np.testing.assert_array_equal(
        chosen.predict_proba(X), model.predict_proba(X)[:, [2, 0]]
    )  # same fits: each dimension's model sees the same rows and seed


def test_array_y_columns_are_the_dimensions(X, Y):
    features = X.drop("household_id").to_numpy()
    targets = Y.drop("household_id").to_numpy().astype(int)
    every = NeedProfileModel(fast()).fit(features, targets)
    assert every.dimensions_ == NEED_DIMENSIONS
    two = NeedProfileModel(fast(), dimensions=("care", "income")).fit(features, targets[:, [3, 0]])
    np.testing.assert_array_equal(
        two.predict_proba(features), every.predict_proba(features)[:, [3, 0]]
    )


def test_calibrated_mean_probability_per_dimension(model, X, Y):
    observed = Y.drop("household_id").to_numpy().astype(float).mean(axis=0)
    predicted = model.predict_proba(X).mean(axis=0)

    def calibrated(p):
        # loose: each dimension's calibration map is fitted on 20% of 800 households
        return np.abs(p - observed) <= 0.3 * observed + 0.015

    assert calibrated(predicted).all(), (predicted, observed)
    # the check can fail: the same probabilities with the dimensions in reverse order
    assert not calibrated(predicted[::-1]).any()


def test_deterministic(X, Y):
    a = NeedProfileModel(fast(random_state=3)).fit(X, Y).predict_proba(X)
    b = NeedProfileModel(fast(random_state=3)).fit(X, Y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_predict_frame(model, X):
    head = X.head(4)
    frame = model.predict_frame(head)
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns == ["household_id", *TARGET_COLUMNS]
    assert frame["household_id"].to_list() == head["household_id"].to_list()
    np.testing.assert_array_equal(frame.drop("household_id").to_numpy(), model.predict_proba(head))
    as_pandas = model.predict_frame(head.to_pandas().set_index("household_id"))
    assert isinstance(as_pandas, pd.DataFrame)
    assert as_pandas["household_id"].tolist() == frame["household_id"].to_list()
    assert model.predict_frame(head.lazy()).equals(frame)
    msg = "Got X without a 'household_id' column or index; predict_frame labels each row"
    with pytest.raises(ValueError, match=re.escape(msg)):
        model.predict_frame(head.drop("household_id"))


# -- missing labels, one-class dimensions, weights ------------------------------------------


def test_missing_labels_are_dropped_for_their_dimension_only(X, Y):
    features = X.to_pandas()
    targets = Y.to_pandas()
    targets["need_income"] = targets["need_income"].astype(float)
    targets.loc[:99, "need_income"] = np.nan
    targets["need_care"] = targets["need_care"].astype(object)
    targets.loc[50:149, "need_care"] = None  # in an object column, None is missing too
    model = NeedProfileModel(fast(), dimensions=("income", "care", "health")).fit(
        features, targets
    )
    n = len(features)
    assert model.n_labelled_ == {"income": n - 100, "care": n - 100, "health": n}
    # the income model is the one fitted on the labelled rows alone
    direct = fast().fit(features.iloc[100:], targets["need_income"].iloc[100:].astype(int))
    np.testing.assert_array_equal(
        model.estimators_["income"].predict_proba(features)[:, 1],
        direct.predict_proba(features)[:, 1],
    )


def test_records_labels_from_a_bundle(pop, X):
    labels = ni.labels.make(pop.bundle, AS_OF, 6, source="records")
    targets = need_targets(labels)
    assert isinstance(targets, pl.DataFrame)
    assert targets.columns == [
        "household_id",
        "need_income",
        "need_health",
        "need_education",
        "need_care",
        "need_housing",
        "need_employment",
    ]  # need_tekun and need_acute are not dimensions
    unknown = targets["need_income"].null_count()
    assert unknown > 0  # no income evidence: null, not poor and not fine
    model = NeedProfileModel(fast(), dimensions=("income", "health")).fit(X, targets)
    assert model.n_labelled_ == {"income": len(X) - unknown, "health": len(X)}
    assert model.predict_proba(X).shape == (len(X), 2)


def test_one_class_dimension_is_a_constant_with_a_warning():
    X, Y = toy()
    Y["need_education"] = 0
    Y.loc[:9, "need_education"] = np.nan
    model = NeedProfileModel(fast())
    msg = "All 290 labelled rows of dimension 'education' are of class 0; its probability is"
    with pytest.warns(UserWarning, match=re.escape(msg)):
        model.fit(X, Y)
    assert model.dimensions_ == ("income", "education", "care")
    assert model.constant_dimensions_ == {"education": 0.0}
    assert set(model.estimators_) == {"income", "care"}
    proba = model.predict_proba(X)
    assert (proba[:, 1] == 0.0).all() and proba[:, [0, 2]].std(axis=0).min() > 0
    assert "education" not in set(model.reasons(X.head(5))["need"])


def test_all_missing_dimension_is_an_error():
    X, Y = toy()
    Y["need_housing"] = np.nan
    msg = "Got no labelled row for dimension 'housing': column 'need_housing' of y is missing"
    with pytest.raises(ValueError, match=re.escape(msg)):
        NeedProfileModel(fast()).fit(X, Y)


def test_a_dimension_too_thin_to_learn_is_its_weighted_rate_with_a_warning():
    X, Y = toy()
    Y["need_housing"] = 0
    Y.loc[0, "need_housing"] = 1  # one household in need: too few for a calibration split
    weights = pd.DataFrame({"need_housing": np.r_[3.0, np.ones(len(X) - 1)]})
    msg = "Dimension 'housing' has 1 labelled row(s) of its rarer class, fewer than 2"
    with pytest.warns(UserWarning, match=re.escape(msg)):
        model = NeedProfileModel(fast()).fit(X, Y, sample_weight=weights)
    rate = 3 / (3 + len(X) - 1)
    assert model.constant_dimensions_ == {"housing": pytest.approx(rate)}
    k = model.dimensions_.index("housing")
    np.testing.assert_allclose(model.predict_proba(X)[:, k], rate)
    Y.loc[1, "need_housing"] = 1  # two: learnt
    assert "housing" in NeedProfileModel(fast()).fit(X, Y).estimators_


def test_a_dimension_that_cannot_be_fitted_is_named():
    X, Y = toy()
    msg = "Could not fit dimension 'income' ("
    with pytest.raises(ValueError, match=re.escape(msg)):
        NeedProfileModel(GBMRiskModel(n_estimators=0)).fit(X, Y)


def test_a_weights_frame_weighs_each_dimension_on_its_own():
    X, Y = toy()
    drop_first = np.r_[np.zeros(100), np.ones(len(X) - 100)]
    weights = pd.DataFrame({"need_income": drop_first})  # other dimensions: weight 1
    model = NeedProfileModel(fast()).fit(X, Y, sample_weight=weights)
    assert model.n_labelled_["income"] == len(X) - 100
    assert model.n_labelled_["care"] == Y["need_care"].notna().sum()
    direct = fast().fit(X.iloc[100:], Y["need_income"].iloc[100:].astype(int))
    np.testing.assert_array_equal(
        model.estimators_["income"].predict_proba(X)[:, 1], direct.predict_proba(X)[:, 1]
    )
    with pytest.raises(ValueError, match=re.escape("column(s) ['weight_income']")):
        NeedProfileModel(fast()).fit(
            X, Y, sample_weight=pd.DataFrame({"weight_income": 1.0}, index=X.index)
        )
    with pytest.raises(ValueError, match=re.escape("with 3 rows for X with 300")):
        NeedProfileModel(fast()).fit(X, Y, sample_weight=pl.DataFrame({"need_income": [1.0] * 3}))
    with pytest.raises(ValueError, match="negative or non-finite"):
        NeedProfileModel(fast()).fit(X, Y, sample_weight=weights.assign(need_income=-1.0))


def test_sample_weight_zero_is_dropping_the_row():
    X, Y = toy()
    weights = np.ones(len(X))
    weights[:40] = 0.0
    weighted = NeedProfileModel(fast()).fit(X, Y, sample_weight=pd.Series(weights))
    dropped = NeedProfileModel(fast()).fit(X.iloc[40:], Y.iloc[40:])
    np.testing.assert_array_equal(weighted.predict_proba(X), dropped.predict_proba(X))
    assert weighted.n_labelled_ == {"income": 260, "care": 260}
    NeedProfileModel(fast()).fit(X, Y, sample_weight=list(weights))  # a list is fine too
    with pytest.raises(ValueError, match=re.escape("Got sample_weight of shape (3,)")):
        NeedProfileModel(fast()).fit(X, Y, sample_weight=[1.0, 1.0, 1.0])


# -- bad y ----------------------------------------------------------------------------------


def test_unknown_column_is_named_with_the_allowed_ones(pop, X):
    labels = ni.labels.make(pop.bundle, AS_OF, 6, source="records")
    msg = (
        "Got y with column(s) ['in_need', 'need_tekun', 'need_acute', 'label_source', "
        "'weight'], which are not need dimensions; expected columns among "
        f"{list(TARGET_COLUMNS)!r} (and optionally 'household_id'). "
        "needsid.models.need_targets(labels) selects them"
    )
    assert list(TARGET_COLUMNS) == [f"need_{d}" for d in NEED_DIMENSIONS]
    with pytest.raises(ValueError, match=re.escape(msg)):
        NeedProfileModel(fast()).fit(X, labels)


@pytest.mark.parametrize(
    ("change", "msg"),
    [
        (
            lambda Y: Y.assign(need_income=Y["need_income"] * 2),
            "Got y column 'need_income' with value(s) ['2']; expected 0/1 or booleans",
        ),
        (
            lambda Y: Y.assign(need_care="yes"),
            "Got y column 'need_care' with value(s) ['yes']; expected 0/1 or booleans",
        ),
        (lambda Y: Y.iloc[:10], "Got y with 10 rows and X with 300; expected one label row"),
        (
            lambda Y: Y["need_income"].to_numpy(),
            "Got y of shape (300,); expected a 2-D array or frame",
        ),
        (
            lambda Y: Y.to_numpy(),
            "Got an array y with 2 columns and dimensions=None; pass dimensions naming its "
            "columns, e.g. ['income', 'health']",
        ),
        (lambda Y: None, "NeedProfileModel requires y to be passed, but the target y is None"),
    ],
)
def test_bad_y(change, msg):
    X, Y = toy()
    with pytest.raises(ValueError, match=re.escape(msg)):
        NeedProfileModel(fast()).fit(X, change(Y))


@pytest.mark.parametrize(
    ("dimensions", "msg"),
    [
        (["income", "poverty"], "Got dimensions=['income', 'poverty']; expected distinct"),
        (["income", "income"], "Got dimensions=['income', 'income']; expected distinct"),
        ([], "Got dimensions=[]; expected distinct names among ['income', 'health', "),
        (["housing"], "Got dimensions=['housing'], but y has no column ['need_housing']"),
    ],
)
def test_bad_dimensions(dimensions, msg):
    X, Y = toy()
    with pytest.raises(ValueError, match=re.escape(msg)):
        NeedProfileModel(fast(), dimensions=dimensions).fit(X, Y)


def test_ids_of_y_must_match_those_of_x(X, Y):
    shuffled = Y.reverse()
    first, last = Y["household_id"][0], Y["household_id"][-1]
    differ = (shuffled["household_id"] != X["household_id"]).sum()  # all but the middle row
    msg = (
        f"Got y whose household_id differs from X's in {differ} rows, the first at row 0 "
        f"({last!r} in y, {first!r} in X); join the labels to the features"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        NeedProfileModel(fast()).fit(X, shuffled)


def test_a_named_series_is_one_dimension():
    X, Y = toy()
    model = NeedProfileModel(fast()).fit(X, pl.from_pandas(Y["need_care"]))
    assert model.dimensions_ == ("care",)
    assert NeedProfileModel(fast()).fit(X, Y["need_income"]).dimensions_ == ("income",)


# -- reasons --------------------------------------------------------------------------------


def test_reasons(model, X):
    rows = X.head(20)
    reasons = model.reasons(rows, top=2)
    assert tuple(reasons.columns) == NEED_REASON_COLUMNS
    assert list(reasons.columns) == [
        "row_id",
        "need",
        "feature",
        "value",
        "contribution",
        "dimension",
    ]
    assert set(reasons["row_id"]) <= set(rows["household_id"])
    assert set(reasons["need"]) <= set(NEED_DIMENSIONS)
    assert (reasons["contribution"] > 0).all()
    assert reasons.groupby(["row_id", "need"]).size().max() <= 2
    # rows in X's order, needs in dimensions_ order, contributions descending
    row_order = {h: i for i, h in enumerate(rows["household_id"])}
    need_order = {d: i for i, d in enumerate(model.dimensions_)}
    key = list(
        zip(
            reasons["row_id"].map(row_order),
            reasons["need"].map(need_order),
            -reasons["contribution"],
            strict=True,
        )
    )
    assert key == sorted(key)
    # each need's reasons are the top positive contributions of that dimension's model
    first = rows.head(1)
    features = first.drop("household_id").to_pandas()
    explained = model.estimators_["care"].explain(features, top=None)
    expected = explained[explained["contribution"] > 0].nlargest(2, "contribution")
    got = reasons[(reasons["row_id"] == first["household_id"][0]) & (reasons["need"] == "care")]
    assert got["feature"].tolist() == expected["feature"].tolist()
    np.testing.assert_allclose(got["contribution"], expected["contribution"])


def test_reasons_top_none_and_bad_top(model, X):
    every = model.reasons(X.head(3), top=None)
    assert every.groupby(["row_id", "need"]).size().max() > 3
    with pytest.raises(ValueError, match=re.escape("Got top=0; expected a positive int")):
        model.reasons(X.head(3), top=0)


# -- need_targets ---------------------------------------------------------------------------


def test_need_targets(pop):
    truth = ni.labels.make(pop, AS_OF, 6)
    assert need_targets(truth).columns == ["household_id", *TARGET_COLUMNS]
    as_pandas = need_targets(truth.to_pandas())
    assert isinstance(as_pandas, pd.DataFrame)
    assert list(as_pandas.columns) == ["household_id", *TARGET_COLUMNS]
    verified = ni.labels.make(pop.bundle, AS_OF, 6, source="verified")
    with pytest.raises(ValueError, match=re.escape("and none of ['need_income', 'need_health'")):
        need_targets(verified)
    with pytest.raises(TypeError, match=re.escape("Got labels of type ndarray; expected")):
        need_targets(np.zeros((2, 2)))
