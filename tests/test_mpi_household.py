"""Household deprivation profiles from a bundle, and the scikit-learn transformer."""

import re

import numpy as np
import polars as pl
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import needsid as ni
from needsid.mpi import DeprivationTransformer, household_profile


@parametrize_with_checks([DeprivationTransformer(), DeprivationTransformer(cutoffs=None, k=0.5)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_transformer_by_hand():
    X = np.array([[1.0, 5.0, 0.0], [3.0, 1.0, 9.0]])
    t = DeprivationTransformer(cutoffs=[2, 2, 2], weights=[2, 1, 1], k=0.5).fit(X)
    out = t.transform(X)
    # unit 0: deprived in x0 (w .5) and x2 (w .25) -> .75, poor; unit 1: x1 only -> .25
    np.testing.assert_allclose(out, [[1, 0, 1, 0.75, 1], [0, 1, 0, 0.25, 0]])
    assert list(t.get_feature_names_out()) == [
        "deprived_x0", "deprived_x1", "deprived_x2", "deprivation_score", "poor"
    ]  # fmt: skip


def test_transformer_errors_name_the_problem():
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match=re.escape("Got 3 cutoffs for 2 indicators")):
        DeprivationTransformer(cutoffs=[1, 2, 3]).fit(X)
    with pytest.raises(ValueError, match=re.escape("expected 2 non-negative weights")):
        DeprivationTransformer(weights=[1, -1]).fit(X)


def test_household_profile_by_hand(tiny_bundle):
    p = household_profile(tiny_bundle, "2024-06-01")
    f = p.to_frame()
    assert list(f.index) == ["H1", "H2", "H4"]
    # H1: wage 4,200 in the year, 3 people: 116.7 a head a month < 1,090 x 1.5
    assert f.loc["H1", "deprived_income"] == 1
    # H2: no wage, pension or survey on record: income is missing, not "not deprived"
    assert np.isnan(f.loc["H2", "deprived_income"])
    assert f.loc["H2", "n_missing"] >= 1 and "not observed: income" in f.loc["H2", "profile"]
    # H2 is one person aged 64 with no one of working age: a care deprivation
    assert f.loc["H2", "deprived_care"] == 1
    assert f.loc["H4", "deprived_care"] == 0  # P5 is of working age


def test_profile_separates_need_on_a_simulation():
    pop = ni.simulate(n_households=10_000, months=24, seed=2)
    f = household_profile(pop.bundle, "2024-07-01").to_frame()
    y = ni.labels.make(pop, as_of="2024-07-01", horizon_months=6).to_pandas()
    j = f.join(y.set_index("household_id"))
    rate = j.groupby("multidimensionally_poor")["in_need"].mean()
    assert rate[True] > 3 * rate[False], rate
    invisible = pop.truth.households.filter(pl.col("invisible"))["household_id"].to_list()
    hidden = f.index.isin(invisible)
    # what no department records shows as missing, not as "not deprived": the invisible
    # households (68% here) have missing indicators about three times as often as the rest
    # (23%); and where a dimension's indicator is missing, the profile says so
    missing_share = (f["n_missing"] > 0).groupby(hidden).mean()
    assert missing_share[True] > 2 * missing_share[False], missing_share
    gaps = f[f["n_missing"] > 0]
    assert gaps["profile"].str.contains("not observed").all()
