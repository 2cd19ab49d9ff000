"""Alkire-Foster measures: hand-computed cases, invariances, decompositions, specs, errors."""

from __future__ import annotations

import math
import re
from fractions import Fraction as F

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from needsid._compat import PANDAS_STRING_DTYPE
from needsid.mpi import (
    MPIResult,
    MPISpec,
    alkire_foster,
    alkire_foster_from_spec,
    decompose,
    dimension_contributions,
    explain,
    load_spec,
    robustness,
)

TOL = 1e-12


def close(a: float, b: float | F) -> bool:
    return math.isclose(a, float(b), rel_tol=0, abs_tol=TOL)


# --------------------------------------------------------------------------------------
# The 4 x 4 example of Alkire & Foster (2011), section 3.
#
# Matrix and cutoffs: the achievement matrix y and z = (13, 12, 3, 1) of the paper, as
# reproduced in the public R repository perlatex/easyuse (README and cutoffs_modify_at
# examples). The paper's own text with its reported H, A, M0, M1, M2 was NOT available to
# us, so every expected value below is computed by hand from the definitions (exact
# fractions), not taken from the publication and not from running this code.
#
# Deprivation matrix g0 (x_ij < z_j):        count c_i   score c_i / 4
#   person 1: 13.1>=13 14>=12 4>=3 1>=1  ->  0 0 0 0      0           0
#   person 2: 15.2     7<12   5    0<1   ->  0 1 0 1      2           1/2
#   person 3: 12.5<13 10<12   1<3  0<1   ->  1 1 1 1      4           1
#   person 4: 20      11<12   3    1     ->  0 1 0 0      1           1/4
# k = 2 of 4 equally weighted dimensions = 0.5: persons 2 and 3 are poor.
#   H  = 2/4 = 1/2;  A = (2 + 4) / (2 * 4) = 3/4;  M0 = H * A = 6/16 = 3/8.
# Normalised gaps (z_j - x_ij) / z_j of the poor:
#   person 2: (12-7)/12 = 5/12, (1-0)/1 = 1
#   person 3: (13-12.5)/13 = 1/26, (12-10)/12 = 1/6, (3-1)/3 = 2/3, (1-0)/1 = 1
#   M1 = (5/12 + 1 + 1/26 + 1/6 + 2/3 + 1) / 16 = (513/156) / 16 = 171/832
#   M2 = (25/144 + 1 + 1/676 + 1/36 + 4/9 + 1) / 16 = (64425/24336) / 16 = 64425/389376
# --------------------------------------------------------------------------------------
AF_Y = np.array(
    [
        [13.1, 14, 4, 1],
        [15.2, 7, 5, 0],
        [12.5, 10, 1, 0],
        [20, 11, 3, 1],
    ]
)
AF_Z = [13, 12, 3, 1]
AF_G0 = [[0, 0, 0, 0], [0, 1, 0, 1], [1, 1, 1, 1], [0, 1, 0, 0]]


def test_af2011_example_dual_cutoff_k2():
    res = alkire_foster(AF_Y, AF_Z, k=0.5)
    assert res.deprivation_matrix.to_numpy().tolist() == AF_G0
    assert res.scores.tolist() == [0, 0.5, 1, 0.25]
    assert res.is_poor.tolist() == [False, True, True, False]
    assert res.censored_deprivation_matrix.to_numpy().tolist() == [
        [0, 0, 0, 0],
        [0, 1, 0, 1],
        [1, 1, 1, 1],
        [0, 0, 0, 0],
    ]
    assert close(res.H, F(1, 2))
    assert close(res.A, F(3, 4))
    assert close(res.M0, F(3, 8))
    assert close(
        res.M1, F(5, 12) / 16 + F(1, 16) + F(1, 26) / 16 + F(1, 6) / 16 + F(2, 3) / 16 + F(1, 16)
    )
    assert close(res.M1, F(171, 832))
    assert close(res.M2, F(64425, 389376))
    assert list(res.indicators) == ["x0", "x1", "x2", "x3"]


def test_af2011_example_union_and_intersection():
    union = alkire_foster(AF_Y, AF_Z, k=0.25)  # deprived in any one of four
    assert union.is_poor.tolist() == [False, True, True, True]
    assert close(union.H, F(3, 4))
    assert close(union.A, F(7, 12))  # (2 + 4 + 1) / (3 * 4)
    assert close(union.M0, F(7, 16))
    inter = alkire_foster(AF_Y, AF_Z, k=1)  # deprived in all four
    assert inter.is_poor.tolist() == [False, False, True, False]
    assert (inter.H, inter.A, inter.M0) == (0.25, 1.0, 0.25)
    # person 3 alone: gaps 1/26, 1/6, 2/3, 1
    assert close(inter.M1, (F(1, 26) + F(1, 6) + F(2, 3) + 1) / 16)


# --------------------------------------------------------------------------------------
# Unequal weights, five households, 0/1 indicators (1 = deprived).
#   weights (1/2, 1/4, 1/4)   scores: a .5, b .5, c .25, d 1, e 0
# --------------------------------------------------------------------------------------
D5 = pd.DataFrame(
    {"edu": [1, 0, 0, 1, 0], "health": [0, 1, 1, 1, 0], "water": [0, 1, 0, 1, 0]},
    index=list("abcde"),
)
W5 = {"edu": 0.5, "health": 0.25, "water": 0.25}
ONE = {"edu": 1, "health": 1, "water": 1}


def af5(k, weights=W5, **kw):
    return alkire_foster(D5, ONE, weights, k, deprived_if="at_or_above", **kw)


def test_unequal_weights_by_hand():
    res = af5(0.5)
    assert res.scores.to_dict() == {"a": 0.5, "b": 0.5, "c": 0.25, "d": 1.0, "e": 0.0}
    assert res.is_poor[res.is_poor].index.tolist() == ["a", "b", "d"]
    assert close(res.H, F(3, 5))
    assert close(res.A, F(2, 3))  # (1/2 + 1/2 + 1) / 3
    assert close(res.M0, F(2, 5))
    assert res.uncensored_headcounts.tolist() == [0.4, 0.6, 0.4]
    assert res.censored_headcounts.tolist() == [0.4, 0.4, 0.4]  # c is not poor
    np.testing.assert_allclose(res.contributions, [0.5, 0.25, 0.25], rtol=0, atol=TOL)
    # contributions are w_j * CH_j / M0
    expected = res.weights * res.censored_headcounts / res.M0
    np.testing.assert_allclose(res.contributions, expected, rtol=0, atol=TOL)
    assert res.weights.to_dict() == W5


def test_equal_weights_default():
    res = af5(2 / 3, weights=None)
    # scores: a 1/3, b 2/3, c 1/3, d 1, e 0
    assert res.is_poor.tolist() == [False, True, False, True, False]
    assert close(res.H, F(2, 5))
    assert close(res.A, F(5, 6))
    assert close(res.M0, F(1, 3))
    assert res.weights.tolist() == [1 / 3] * 3


def test_intersection_k_one_and_union_k_smallest_weight():
    inter = af5(1)
    assert inter.is_poor.tolist() == [False, False, False, True, False]
    assert (inter.H, inter.A, inter.M0) == (0.2, 1.0, 0.2)
    union = af5(0.25)
    assert union.is_poor.tolist() == [True, True, True, True, False]
    assert close(union.H, F(4, 5))
    assert close(union.A, F(9, 16))  # (1/2 + 1/2 + 1/4 + 1) / 4
    assert close(union.M0, F(9, 20))


def test_k_below_smallest_weight_is_still_union_and_never_takes_the_non_deprived():
    res = af5(1e-14)
    assert res.is_poor.tolist() == [True, True, True, True, False]


def test_unit_exactly_at_k_with_float_weights():
    # Nine equal weights of 1/9: three deprivations make exactly k = 1/3.
    x = np.zeros((2, 9))
    x[0, :3] = 1
    x[1, :2] = 1
    res = alkire_foster(x, [1] * 9, k=1 / 3, deprived_if="at_or_above")
    assert res.is_poor.tolist() == [True, False]
    # Ten weights of 0.1: 0.1 added eight times is 0.7999999999999999 < 0.8 in floats.
    assert sum([0.1] * 8) < 0.8
    y = np.zeros((2, 10))
    y[0, :8] = 1
    y[1, :7] = 1
    res = alkire_foster(y, [1] * 10, [0.1] * 10, 0.8, deprived_if="at_or_above")
    assert res.is_poor.tolist() == [True, False]
    assert close(res.M0, F(4, 10))


@pytest.mark.parametrize(
    ("rule", "deprived"),
    [
        ("below", [1, 0, 0]),
        ("at_or_below", [1, 1, 0]),
        ("above", [0, 0, 1]),
        ("at_or_above", [0, 1, 1]),
    ],
)
def test_deprived_if_rules(rule, deprived):
    res = alkire_foster(np.array([[1.0], [2.0], [3.0]]), [2], k=1, deprived_if=rule)
    assert res.deprivation_matrix["x0"].tolist() == deprived
    assert res.deprived_if == {"x0": rule}


def test_deprived_if_mapping_overrides_default_below():
    x = pd.DataFrame({"income": [5, 50], "debt_ratio": [0.9, 0.1]})
    res = alkire_foster(
        x, {"income": 10, "debt_ratio": 0.5}, k=1, deprived_if={"debt_ratio": "above"}
    )
    assert res.deprivation_matrix.to_numpy().tolist() == [[1, 1], [0, 0]]
    assert res.deprived_if == {"income": "below", "debt_ratio": "above"}


# --------------------------------------------------------------------------------------
# Missing values. weights (1/2, 1/4, 1/4), cutoffs 1, deprived if below (0 = deprived).
#   a: [0, NaN, 1]    b: [1, NaN, NaN]    c: [NaN, 0, 0]    d: [1, 1, 1]
# --------------------------------------------------------------------------------------
XM = pd.DataFrame(
    {
        "edu": [0, 1, np.nan, 1],
        "health": [np.nan, np.nan, 0, 1],
        "water": [1, np.nan, 0, 1],
    },
    index=["a", "b", "c", "d"],
)
WM = [2, 1, 1]


def test_missing_raise_names_indicators_and_ids():
    msg = (
        "The achievement matrix has missing values in 'edu' (1 rows, e.g. ids ['c']), "
        "'health' (2 rows, e.g. ids ['a', 'b']), 'water' (1 rows, e.g. ids ['b']). Fill them, "
        "or choose a rule: missing='deprived'"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(XM, [1, 1, 1], WM, 0.5)


def test_missing_deprived_counts_as_deprived():
    res = alkire_foster(XM, [1, 1, 1], WM, 0.5, missing="deprived")
    # a: 1/2 + 1/4 (health missing); b: 1/4 + 1/4; c: 1/2 (missing) + 1/4 + 1/4; d: 0
    assert res.scores.to_dict() == {"a": 0.75, "b": 0.5, "c": 1.0, "d": 0.0}
    assert res.deprivation_matrix.loc["b"].tolist() == [0, 1, 1]
    assert close(res.M0, F(9, 16))
    # a missing cardinal value has the full gap 1, like the observed 0s here (z = 1, x = 0):
    # a: 1/2 * 1 + 1/4 * 1; b: 1/4 + 1/4; c: 1/2 + 1/4 + 1/4  -> M1 = (3/4 + 1/2 + 1) / 4
    assert close(res.M1, F(9, 16))


def test_missing_reweight_renormalises_over_observed():
    res = alkire_foster(XM, [1, 1, 1], WM, 0.5, missing="reweight")
    # a: observed edu (1/2) and water (1/4), deprived in edu -> (1/2) / (3/4) = 2/3
    # b: observed edu only, not deprived -> 0
    # c: observed health and water (1/4 each), deprived in both -> 1
    s = res.scores
    assert close(s["a"], F(2, 3)) and s["b"] == 0 and close(s["c"], 1) and s["d"] == 0
    assert res.is_poor.tolist() == [True, False, True, False]
    assert close(res.M0, F(5, 12))
    g0 = res.deprivation_matrix
    assert str(g0.dtypes.iloc[0]) == "Int8"
    assert g0.loc["b"].isna().tolist() == [False, True, True]
    assert close(res.contributions.sum(), 1)
    assert res.explain("b").iloc[0].endswith("; not observed: health, water")


def test_missing_reweight_unit_with_nothing_observed():
    x = pd.DataFrame({"edu": [np.nan, 1.0], "water": [np.nan, 0.0]}, index=["h1", "h2"])
    msg = (
        "With missing='reweight', 1 units have no observed indicator with a positive weight "
        "(e.g. ids ['h1'])"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(x, [1, 1], k=0.5, missing="reweight")


def test_polars_nulls_are_missing_values():
    x = pl.DataFrame({"edu": [0.0, None], "water": [1.0, 0.0]})
    msg = "missing values in 'edu' (1 rows, e.g. ids [1])"
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(x, [1, 1], k=0.5)
    res = alkire_foster(x, [1, 1], k=0.5, missing="deprived")
    assert res.scores.tolist() == [0.5, 1.0]


def test_missing_rule_name_checked():
    msg = "Got missing='ignore'; expected one of ('raise', 'deprived', 'reweight')."
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(XM, [1, 1, 1], k=0.5, missing="ignore")


# --------------------------------------------------------------------------------------
# M1 / M2 over cardinal indicators only
# --------------------------------------------------------------------------------------
XC = pd.DataFrame({"income": [5.0, 20.0, 8.0], "flag": [1, 0, 0]}, index=["u1", "u2", "u3"])
ZC = {"income": 10, "flag": 1}
RULES_C = {"flag": "at_or_above"}


def test_m1_m2_use_cardinal_indicators_only():
    res = alkire_foster(XC, ZC, k=0.5, deprived_if=RULES_C, cardinal={"income"})
    # scores u1 1, u2 0, u3 1/2; poor u1, u3. Income gaps: u1 1/2, u3 1/5 (weight 1 after
    # renormalising over the cardinal indicators).
    assert res.is_poor.tolist() == [True, False, True]
    assert close(res.M0, F(1, 2))
    assert close(res.M1, (F(1, 2) + F(1, 5)) / 3)
    assert close(res.M2, (F(1, 4) + F(1, 25)) / 3)
    assert res.cardinal == ("income",)
    same = alkire_foster(XC, ZC, k=0.5, deprived_if=RULES_C, cardinal={"flag": False})
    assert (same.M1, same.M2) == (res.M1, res.M2)


def test_m1_m2_nan_when_nothing_cardinal():
    res = alkire_foster(XC, ZC, k=0.5, deprived_if=RULES_C, cardinal=[])
    assert math.isnan(res.M1) and math.isnan(res.M2)
    assert close(res.M0, F(1, 2))


def test_gaps_are_capped_at_one():
    res = alkire_foster(np.array([[-5.0], [20.0]]), [10], k=1)
    assert res.M1 == 0.5 and res.M2 == 0.5  # gap 1.5 capped to 1, mean over two units


def test_m2_le_m1_le_m0_on_random_cardinal_data():
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 20, size=(300, 5))
    res = alkire_foster(x, [10, 8, 12, 5, 9], rng.uniform(0.5, 2, 5), 0.4)
    assert 0 < res.M2 <= res.M1 <= res.M0


def test_nobody_poor():
    res = alkire_foster(np.array([[5.0, 5.0]]), [1, 1], k=0.5)
    assert res.H == 0 and res.M0 == 0 and res.M1 == 0 and res.M2 == 0
    assert math.isnan(res.A)
    assert res.contributions.isna().all()


# --------------------------------------------------------------------------------------
# Identities, invariances and monotonicity
# --------------------------------------------------------------------------------------
def random_case(seed: int, n: int = 120, d: int = 6):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        rng.integers(0, 2, size=(n, d)), columns=[f"i{j}" for j in range(d)]
    ).set_axis([f"h{i}" for i in range(n)])
    weights = rng.uniform(0.1, 3, d)
    subgroups = rng.choice(["north", "south", "east"], size=n)
    return x, weights, subgroups


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [0.2, 1 / 3, 0.5, 0.9])
def test_identities_on_simulated_population(seed, k):
    x, w, subgroups = random_case(seed)
    res = alkire_foster(x, [1] * 6, w, k, deprived_if="at_or_above", subgroups=subgroups)
    assert close(res.M0, res.H * res.A)
    assert close(res.M0, res.censored_scores.mean())
    assert close(res.contributions.sum(), 1)
    assert close(res.weights.sum(), 1)
    np.testing.assert_allclose(
        res.contributions, res.weights * res.censored_headcounts / res.M0, rtol=0, atol=TOL
    )
    table = decompose(res, subgroups)
    assert close((table["population_share"] * table["M0"]).sum(), res.M0)
    assert close(table["contribution"].sum(), 1)
    assert table["n"].sum() == len(x)
    pd.testing.assert_frame_equal(res.by_group(), table)


def test_permuting_rows_leaves_measures_unchanged():
    x, w, _ = random_case(3)
    base = alkire_foster(x, [1] * 6, w, 0.4, deprived_if="at_or_above")
    order = np.random.default_rng(9).permutation(len(x))
    shuffled = alkire_foster(x.iloc[order], [1] * 6, w, 0.4, deprived_if="at_or_above")
    for m in ("H", "A", "M0", "M1", "M2"):
        assert close(getattr(shuffled, m), getattr(base, m))
    pd.testing.assert_series_equal(shuffled.scores.loc[base.scores.index], base.scores)


def test_scaling_weights_leaves_results_unchanged():
    x, w, _ = random_case(4)
    base = alkire_foster(x, [1] * 6, w, 0.4, deprived_if="at_or_above")
    scaled = alkire_foster(x, [1] * 6, w * 7.5, 0.4, deprived_if="at_or_above")
    assert scaled.is_poor.equals(base.is_poor)
    for m in ("H", "A", "M0"):
        assert close(getattr(scaled, m), getattr(base, m))
    np.testing.assert_allclose(scaled.weights, base.weights, rtol=0, atol=TOL)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 1), min_size=4, max_size=4), min_size=1, max_size=8),
    st.lists(st.floats(0.1, 5), min_size=4, max_size=4),
    st.sampled_from([0.1, 0.25, 1 / 3, 0.5, 0.75, 1.0]),
    st.data(),
)
def test_an_extra_deprivation_never_lowers_m0(rows, weights, k, data):
    x = np.array(rows)
    base = alkire_foster(x, [1] * 4, weights, k, deprived_if="at_or_above")
    free = np.argwhere(x == 0)
    assume(free.size > 0)
    i, j = free[data.draw(st.integers(0, len(free) - 1))]
    worse = x.copy()
    worse[i, j] = 1
    after = alkire_foster(worse, [1] * 4, weights, k, deprived_if="at_or_above")
    assert after.M0 >= base.M0 - TOL
    assert after.H >= base.H


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 1), min_size=3, max_size=3), min_size=2, max_size=8))
def test_row_order_never_matters(rows):
    x = np.array(rows)
    a = alkire_foster(x, [1, 1, 1], [1, 2, 3], 0.4, deprived_if="at_or_above")
    b = alkire_foster(x[::-1], [1, 1, 1], [1, 2, 3], 0.4, deprived_if="at_or_above")
    assert close(a.H, b.H) and close(a.M0, b.M0)
    assert a.scores.tolist() == b.scores.tolist()[::-1]


# --------------------------------------------------------------------------------------
# Robustness over k
# --------------------------------------------------------------------------------------
def test_robustness_is_monotone_in_k():
    x, w, _ = random_case(5)
    table = robustness(x, [1] * 6, w, deprived_if="at_or_above")
    assert table.index.is_monotonic_increasing and len(table) > 3
    assert (np.diff(table["H"]) <= 0).all()
    assert (np.diff(table["M0"]) <= TOL).all()
    one = alkire_foster(x, [1] * 6, w, table.index[2], deprived_if="at_or_above")
    assert close(table["M0"].iloc[2], one.M0) and close(table["H"].iloc[2], one.H)


def test_robustness_on_af_example():
    table = robustness(AF_Y, AF_Z, ks=[1, 0.5, 0.25])
    assert table.index.tolist() == [0.25, 0.5, 1.0]
    assert table["n_poor"].tolist() == [3, 2, 1]
    np.testing.assert_allclose(table["M0"], [7 / 16, 3 / 8, 1 / 4], rtol=0, atol=TOL)


def test_robustness_rejects_bad_k_and_unknown_arguments():
    with pytest.raises(ValueError, match=re.escape("Got k=1.5; expected the poverty cutoff")):
        robustness(AF_Y, AF_Z, ks=[0.5, 1.5])
    msg = "robustness() got unexpected arguments ['groups']"
    with pytest.raises(TypeError, match=re.escape(msg)):
        robustness(AF_Y, AF_Z, groups=[1, 2, 3, 4])


# --------------------------------------------------------------------------------------
# Inputs: numpy, pandas, polars; ids; read-only result
# --------------------------------------------------------------------------------------
def test_polars_and_pandas_give_the_same_result():
    pdf = pd.DataFrame(AF_Y, columns=["income", "school", "bmi", "water"])
    pres = alkire_foster(pl.from_pandas(pdf), AF_Z, k=0.5)
    res = alkire_foster(pdf, AF_Z, k=0.5)
    assert pres.indicators == ("income", "school", "bmi", "water")
    for m in ("H", "A", "M0", "M1", "M2"):
        assert getattr(pres, m) == getattr(res, m)
    assert isinstance(pres.scores, pd.Series)


def test_cutoffs_as_mapping_in_any_order_and_index_kept():
    x = pd.DataFrame(AF_Y, columns=list("abcd"), index=[101, 102, 103, 104])
    res = alkire_foster(x, {"d": 1, "c": 3, "b": 12, "a": 13}, k=0.5)
    assert res.cutoffs.tolist() == [13, 12, 3, 1]
    assert res.is_poor[res.is_poor].index.tolist() == [102, 103]
    assert close(res.M0, F(3, 8))


def test_bool_columns_are_accepted():
    x = pd.DataFrame({"a": [True, False], "b": [True, True]})
    res = alkire_foster(x, [1, 1], k=1, deprived_if="at_or_above")
    assert res.is_poor.tolist() == [True, False]


def test_result_is_read_only_and_returns_copies():
    res = alkire_foster(AF_Y, AF_Z, k=0.5)
    with pytest.raises(AttributeError, match=re.escape("MPIResult is read-only")):
        res.H = 0.1
    s = res.scores
    s.iloc[0] = 99
    assert res.scores.iloc[0] == 0
    assert isinstance(res, MPIResult)


def test_to_frame_and_repr():
    res = alkire_foster(AF_Y, AF_Z, k=0.5)
    frame = res.to_frame()
    assert frame.index.tolist() == ["H", "A", "M0", "M1", "M2"]
    assert frame["value"].tolist() == [res.H, res.A, res.M0, res.M1, res.M2]
    assert repr(res).startswith("MPIResult(n=4, indicators=4, k=0.5, H=0.5, A=0.75, M0=0.375")


# --------------------------------------------------------------------------------------
# Errors a person can act on
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, -0.1, 2, 1.0001, "1/3", True])
def test_k_outside_unit_interval(k):
    msg = (
        f"Got k={k!r}; expected the poverty cutoff as a share of the weighted indicators, "
        "0 < k <= 1, e.g. k=1/3"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(AF_Y, AF_Z, k=k)


def test_k_required():
    with pytest.raises(TypeError, match=re.escape("alkire_foster() needs k, the poverty cutoff")):
        alkire_foster(AF_Y, AF_Z)


def test_negative_and_zero_weights():
    msg = "Got negative weights for ['x1']; weights must be >= 0"
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(AF_Y, AF_Z, [1, -1, 1, 1], 0.5)
    msg = "Got weights that are all zero; at least one indicator needs a positive weight"
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(AF_Y, AF_Z, [0, 0, 0, 0], 0.5)
    with pytest.raises(
        ValueError, match=re.escape("Got missing or non-finite weights for ['x2']")
    ):
        alkire_foster(AF_Y, AF_Z, [1, 1, np.nan, 1], 0.5)


def test_weights_and_cutoffs_must_match_indicators():
    msg = "Got 3 weights for 4 indicators ['x0', 'x1', 'x2', 'x3']; pass one per indicator"
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(AF_Y, AF_Z, [1, 1, 1], 0.5)
    msg = "cutoffs misses indicators ['x3'] and names unknown indicators ['y']; the indicators are"
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(AF_Y, {"x0": 1, "x1": 1, "x2": 1, "y": 1}, k=0.5)
    msg = "Got cutoffs['x1']='1'; expected a number."
    with pytest.raises(TypeError, match=re.escape(msg)):
        alkire_foster(AF_Y, {"x0": 1, "x1": "1", "x2": 1, "x3": 1}, k=0.5)


def test_deprived_if_errors():
    msg = "Got deprived_if='under' for indicator 'x0'; expected one of ('below', 'at_or_below',"
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(AF_Y, AF_Z, k=0.5, deprived_if="under")
    msg = "deprived_if names unknown indicators ['zz']; the indicators are"
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(AF_Y, AF_Z, k=0.5, deprived_if={"zz": "above"})


def test_cardinal_errors():
    with pytest.raises(ValueError, match=re.escape("cardinal names unknown indicators ['zz']")):
        alkire_foster(AF_Y, AF_Z, k=0.5, cardinal={"zz"})
    msg = "Cardinal indicators ['x0'] have a cutoff <= 0, so the normalised gap"
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(AF_Y, [0, 12, 3, 1], k=0.5)
    res = alkire_foster(AF_Y, [0, 12, 3, 1], k=0.5, cardinal=["x1", "x2", "x3"])
    assert res.cardinal == ("x1", "x2", "x3")


def test_matrix_errors():
    msg = "Got matrix of type list; expected a pandas or polars DataFrame or a 2-D numpy array"
    with pytest.raises(TypeError, match=re.escape(msg)):
        alkire_foster([[1, 2]], [1, 1], k=0.5)
    with pytest.raises(ValueError, match=re.escape("Got a 1-D array as matrix")):
        alkire_foster(np.array([1.0, 2.0]), [1], k=0.5)
    with pytest.raises(ValueError, match=re.escape("Got an achievement matrix of shape (0, 2)")):
        alkire_foster(np.empty((0, 2)), [1, 1], k=0.5)
    x = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    msg = f"Indicator columns must be numeric or boolean; got {{'b': '{PANDAS_STRING_DTYPE}'}}"
    with pytest.raises(ValueError, match=re.escape(msg)):
        alkire_foster(x, [1, 1], k=0.5)
    with pytest.raises(ValueError, match=re.escape("Indicators ['x1'] hold infinite values")):
        alkire_foster(np.array([[1.0, np.inf]]), [1, 1], k=0.5)
    dup = pd.DataFrame({"a": [1, 2]}, index=["h", "h"])
    with pytest.raises(ValueError, match=re.escape("Unit ids (the matrix index) must be unique")):
        alkire_foster(dup, [1], k=0.5)


# --------------------------------------------------------------------------------------
# Decomposition by subgroup and by dimension; explanations
# --------------------------------------------------------------------------------------
def test_decompose_by_hand():
    res = af5(0.5)
    table = decompose(res, pd.Series(["r", "u", "u", "r", "u"], index=list("abcde"), name="area"))
    # r: a (1/2, poor), d (1, poor)  -> H 1, A 3/4, M0 3/4
    # u: b (1/2, poor), c, e          -> H 1/3, A 1/2, M0 1/6
    assert table.index.name == "area"
    assert table.loc["r", "n"] == 2 and table.loc["u", "n_poor"] == 1
    assert close(table.loc["r", "M0"], F(3, 4)) and close(table.loc["u", "M0"], F(1, 6))
    assert close(table.loc["u", "A"], F(1, 2)) and close(table.loc["u", "H"], F(1, 3))
    assert close(table.loc["r", "contribution"], F(2, 5) * F(3, 4) / F(2, 5))
    assert close((table["population_share"] * table["M0"]).sum(), res.M0)


def test_decompose_aligns_series_by_unit_id():
    res = af5(0.5)
    labels = pd.Series(["r", "u", "u", "r", "u"], index=list("abcde"))
    shuffled = labels.loc[list("edcba")]
    pd.testing.assert_frame_equal(decompose(res, shuffled), decompose(res, labels))


def test_decompose_errors():
    res = af5(0.5)
    msg = "No subgroups to decompose by: pass subgroups= here or to alkire_foster()."
    with pytest.raises(ValueError, match=re.escape(msg)):
        decompose(res)
    with pytest.raises(ValueError, match=re.escape("Got 2 subgroup labels for 5 units")):
        decompose(res, ["a", "b"])
    bad = pd.Series(["r"] * 5, index=list("vwxyz"))
    with pytest.raises(ValueError, match=re.escape("subgroups is a pandas Series whose index")):
        decompose(res, bad)
    msg = "subgroups has missing labels (1 units, e.g. ids ['c'])"
    with pytest.raises(ValueError, match=re.escape(msg)):
        decompose(res, ["r", "u", None, "r", "u"])


def test_unnamed_subgroups_index_the_table_as_subgroup():
    res = af5(0.5)
    table = decompose(res, ["r", "u", "u", "r", "u"])
    assert table.index.name == "subgroup" and list(table.index) == ["r", "u"]
    assert res.subgroups is None


LABELS = ["r", "u", "u", "r", "u"]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: af5(0.5, groups=LABELS), id="alkire_foster"),
        pytest.param(lambda: decompose(af5(0.5), groups=LABELS), id="decompose"),
        pytest.param(lambda: af5(0.5).by_group(groups=LABELS), id="MPIResult.by_group"),
    ],
)
def test_old_groups_keyword_warns_and_still_works(call):
    with pytest.warns(FutureWarning, match=re.escape("groups= is renamed subgroups=")):
        out = call()
    table = out if isinstance(out, pd.DataFrame) else out.by_group()
    expected = decompose(af5(0.5), LABELS)
    pd.testing.assert_frame_equal(table, expected)


def test_old_groups_keyword_in_spec_calls_warns_and_still_works():
    spec = load_spec("global_mpi")
    x = pd.DataFrame(0, index=["h1", "h2"], columns=spec.indicator_names)
    with pytest.warns(FutureWarning, match=re.escape("apply(): groups= is renamed subgroups=")):
        res = spec.apply(x, groups=["n", "s"])
    assert res.subgroups.tolist() == ["n", "s"]
    msg = "alkire_foster_from_spec(): groups= is renamed subgroups="
    with pytest.warns(FutureWarning, match=re.escape(msg)):
        res = alkire_foster_from_spec(x, spec, groups=["n", "s"])
    assert res.subgroups.tolist() == ["n", "s"]


def test_old_groups_attribute_warns_and_both_names_at_once_is_an_error():
    res = af5(0.5, subgroups=LABELS)
    with pytest.warns(FutureWarning, match=re.escape("MPIResult.groups is renamed subgroups")):
        old = res.groups
    pd.testing.assert_series_equal(old, res.subgroups)
    msg = "decompose() got both groups= and subgroups=; pass only subgroups="
    with pytest.raises(TypeError, match=re.escape(msg)):
        decompose(res, groups=LABELS, subgroups=LABELS)


def test_dimension_contributions_sum_to_one():
    res = af5(0.5)
    dims = {"edu": "education", "health": "living", "water": "living"}
    out = res.dimension_contributions(dims)
    assert out.index.tolist() == ["education", "living"]
    np.testing.assert_allclose(out, [0.5, 0.5], rtol=0, atol=TOL)
    assert close(dimension_contributions(res, dims).sum(), 1)
    msg = "dimensions misses indicators ['water']; map every indicator"
    with pytest.raises(ValueError, match=re.escape(msg)):
        res.dimension_contributions({"edu": "education", "health": "living"})
    with pytest.raises(ValueError, match=re.escape("No dimensions known for this result")):
        res.dimension_contributions()


def test_explain_texts():
    res = af5(0.5, dimensions={"edu": "education", "health": "health", "water": "living"})
    text = explain(res, ["b", "c", "e"])
    assert text.to_dict() == {
        "b": "poor: deprived in health (health) and living (water) (score 0.50 >= k 0.50)",
        "c": "not poor: deprived in health (health) (score 0.25 < k 0.50)",
        "e": "not poor: no deprivations (score 0.00 < k 0.50)",
    }
    plain = af5(0.5).explain("d").iloc[0]
    assert plain == "poor: deprived in edu, health and water (score 1.00 >= k 0.50)"
    with pytest.raises(KeyError, match=re.escape("Unknown unit ids ['zz']")):
        res.explain(["a", "zz"])


def test_explain_marks_missing_counted_as_deprived():
    res = alkire_foster(XM, [1, 1, 1], WM, 0.5, missing="deprived")
    assert res.explain("b").iloc[0] == (
        "poor: deprived in health (missing) and water (missing) (score 0.50 >= k 0.50)"
    )


# --------------------------------------------------------------------------------------
# Specs: the shipped Global MPI and validation
# --------------------------------------------------------------------------------------
GLOBAL = load_spec("global_mpi")


def test_global_mpi_spec_weights():
    assert len(GLOBAL.indicators) == 10
    assert close(sum(GLOBAL.weights.values()), 1)
    assert list(GLOBAL.dimension_weights) == ["health", "education", "living standards"]
    for w in GLOBAL.dimension_weights.values():
        assert close(w, F(1, 3))
    assert close(GLOBAL.k, F(1, 3))
    by_dim = {
        d: [i.weight for i in GLOBAL.indicators if i.dimension == d] for d in GLOBAL.dimensions
    }
    assert by_dim["health"] == [1 / 6, 1 / 6] and by_dim["education"] == [1 / 6, 1 / 6]
    assert by_dim["living standards"] == [1 / 18] * 6
    for ind in GLOBAL.indicators:
        assert (ind.cutoff, ind.deprived_if, ind.cardinal) == (1, "at_or_above", False)
        assert ind.description and ind.coding
    assert load_spec(GLOBAL) is GLOBAL


def global_households() -> pd.DataFrame:
    x = pd.DataFrame(0, index=["h1", "h2", "h3", "h4", "h5"], columns=GLOBAL.indicator_names)
    x.loc["h1", ["nutrition", "years_of_schooling"]] = 1  # 1/6 + 1/6 = 1/3
    x.loc["h2", ["child_mortality", "cooking_fuel", "sanitation"]] = 1  # 1/6 + 2/18 = 5/18
    x.loc["h3", ["school_attendance", "electricity", "housing", "assets"]] = 1  # 1/3
    x.loc["h4", ["cooking_fuel", "sanitation", "drinking_water", "electricity", "housing",
                 "assets"]] = 1  # fmt: skip
    x["household_name"] = ["A", "B", "C", "D", "E"]  # extra columns are ignored
    return x


def test_global_mpi_by_hand():
    res = alkire_foster_from_spec(global_households(), "global_mpi")
    assert res.is_poor.tolist() == [True, False, True, True, False]  # h3, h4 exactly at k
    assert close(res.scores["h2"], F(5, 18))
    assert close(res.H, F(3, 5)) and close(res.A, F(1, 3)) and close(res.M0, F(1, 5))
    assert math.isnan(res.M1) and math.isnan(res.M2)
    dims = res.dimension_contributions()
    # health: h1 nutrition 1/6; education: 1/6 + 1/6; living: 3/18 + 6/18; over n * M0 = 1
    np.testing.assert_allclose(dims, [1 / 6, 1 / 3, 1 / 2], rtol=0, atol=TOL)
    assert res.explain("h3").iloc[0] == (
        "poor: deprived in education (school_attendance) and living standards (electricity, "
        "housing, assets) (score 0.33 >= k 0.33)"
    )
    severe = GLOBAL.apply(global_households(), k=1 / 2)
    assert severe.H == 0
    pres = GLOBAL.apply(pl.from_pandas(global_households().reset_index(drop=True)))
    assert pres.M0 == res.M0


def test_spec_unknown_key_is_named(tmp_path):
    text = _global_path().read_text(encoding="utf-8")
    path = tmp_path / "bad.yaml"
    path.write_text(text + "threshold: 0.3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("threshold: unknown key (allowed: name,")):
        load_spec(path)
    nested = text.replace("    weight: 1/18\n", "    weight: 1/18\n    colour: red\n", 1)
    path.write_text(nested, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("indicators.4.colour: unknown key")):
        load_spec(path)


def _global_path():
    from pathlib import Path

    return (
        Path(__file__).resolve().parents[1]
        / "src"
        / "needsid"
        / "mpi"
        / "specs"
        / "global_mpi.yaml"
    )


def test_spec_validation_reports_all_problems():
    spec = {
        "name": "bad",
        "k": "1/3",
        "dimensions": ["health", "health", "money"],
        "indicators": [
            {"name": "a", "dimension": "health", "weight": 0.5, "cutoff": 1, "description": "A"},
            {"name": "a", "dimension": "work", "weight": "1/3", "cutoff": 1, "description": "B"},
        ],
    }
    with pytest.raises(ValueError) as info:
        load_spec(spec)
    msg = str(info.value)
    assert msg.startswith("MPI spec (dict) is invalid:")
    for part in (
        "indicator names ['a'] appear more than once",
        "dimensions ['health'] are listed more than once",
        "indicators use dimensions ['work'] not listed in dimensions",
        "dimensions ['money'] have no indicator",
        "indicator weights sum to 0.833333, not 1",
    ):
        assert part in msg
    with pytest.raises(ValueError, match=re.escape("k: Got k=1.5; expected 0 < k <= 1")):
        load_spec({**spec, "k": 1.5})
    with pytest.raises(ValueError, match=re.escape("Got weight='a half'; expected a number")):
        load_spec({**spec, "indicators": [{**spec["indicators"][0], "weight": "a half"}]})


def test_spec_lookup_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape("No MPI spec named 'nope'")):
        load_spec("nope")
    with pytest.raises(FileNotFoundError, match=re.escape("not found; pass a YAML file path")):
        load_spec(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match=re.escape("The matrix has no columns for indicators")):
        GLOBAL.apply(pd.DataFrame({"nutrition": [1]}))
    with pytest.raises(ValueError, match=re.escape("Got an array of shape (1, 2) for a spec")):
        GLOBAL.apply(np.zeros((1, 2)))


def test_spec_model_round_trip():
    spec = MPISpec(**GLOBAL.model_dump())
    assert spec == GLOBAL
