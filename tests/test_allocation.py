"""Allocation: the programme catalogue, the MIP allocator and the budget curve."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

import needsid as ni
from needsid.allocation import (
    DEFAULT_CATALOGUE,
    Catalogue,
    CatalogueError,
    InfeasibleError,
    NeedFloor,
    allocate,
    budget_curve,
    load_catalogue,
)
from needsid.simulation import NEED_DIMENSIONS

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "allocation" / "default.yaml"


def households(n: int = 300, seed: int = 0, regions: int = 4) -> pl.DataFrame:
    """Need probabilities and the columns the default catalogue reads, for n households."""
    rng = np.random.default_rng(seed)
    region = rng.integers(0, regions, n)
    urban = (region % 2 == 0).astype(float)
    size = rng.integers(1, 6, n).astype(float)
    children = np.minimum(rng.binomial(2, 0.4, n), size - 1).astype(float)
    elderly = np.minimum(rng.binomial(2, 0.3, n), size - children).astype(float)
    disabled = rng.binomial(1, 0.15, n).astype(float)
    standard = np.where(urban == 1, 800.0, 580.0)
    income = rng.gamma(2.0, 600.0, n) - 200
    low = 1 / (1 + np.exp((income - standard) / 300))
    frame = {
        "household_id": [f"H{i:04d}" for i in range(n)],
        "region_id": [f"G{r + 1:02d}" for r in region],
        "urban": urban,
        "dibao_standard": standard,
        "hh_size": size,
        "n_children": children,
        "n_elderly": elderly,
        "n_labour_force": np.maximum(size - children - elderly, 0),
        "n_disability_certified": disabled,
        "n_severe_disability": disabled * rng.binomial(1, 0.4, n),
        "housing_unsafe": rng.binomial(1, 0.08, n).astype(float),
        "net_income_pc": income,
    }
    for d in NEED_DIMENSIONS:
        frame[f"need_{d}"] = np.clip(0.6 * low + 0.4 * rng.beta(0.6, 3.0, n), 0, 1)
    return pl.DataFrame(frame)


def one_programme(cost: float | str = 100, capacity=None, dimensions=("education",)):
    meals = {
        "id": "meals",
        "name_zh": "营养午餐",
        "name_en": "School meals",
        "dimensions": list(dimensions),
        "eligibility": "True",
        "cost": cost,
    }
    if capacity is not None:
        meals["capacity"] = capacity
    return Catalogue.from_dict(
        {"id": "one", "version": "1", "description": "One programme.", "programmes": [meals]}
    )


def programme(pid: str, **changes) -> dict:
    base = {
        "id": pid,
        "name_zh": "项目",
        "name_en": "Programme",
        "dimensions": ["income"],
        "eligibility": "net_income_pc < dibao_standard",
        "cost": 100,
    }
    return base | changes


def catalogue(*programmes: dict) -> dict:
    return {"id": "t", "version": "1", "description": "Test.", "programmes": list(programmes)}


# -- the catalogue -------------------------------------------------------------------------


def test_default_catalogue_has_the_programmes_and_valid_fields():
    cat = load_catalogue()
    assert len(cat.programmes) >= 10
    for pid in (
        "dibao_topup",
        "tekun_support",
        "medical_assistance",
        "education_assistance",
        "housing_repair",
        "temporary_assistance",
        "care_services",
        "employment_services",
        "disability_subsidies",
        "heating_subsidy",
        "school_meals",
    ):
        assert pid in cat.ids
    assert {d for p in cat.programmes for d in p.dimensions} == set(NEED_DIMENSIONS)
    # exclusions are symmetric whichever side declares them
    assert all((b, a) in cat.exclusions for a, b in cat.exclusions)
    assert ("care_services", "tekun_support") in cat.exclusions
    frame = cat.to_frame()
    assert frame.height == len(cat.programmes)
    assert frame.filter(pl.col("id") == "care_services")["excludes"].item() == "tekun_support"


def test_packaged_catalogue_and_config_copy_are_identical():
    assert CONFIG.read_bytes() == DEFAULT_CATALOGUE.read_bytes(), (
        "configs/allocation/default.yaml and src/needsid/allocation/default.yaml differ: "
        "edit one and copy it over the other"
    )
    assert load_catalogue(CONFIG) == load_catalogue()


def test_catalogue_reports_every_bad_field_at_once():
    raw = catalogue(
        programme("a", dimensions=["income", "food"]),
        programme("b", excludes=["nonexistent"]),
        programme("c", cost=-5),
        programme("d", eligibility="net_income_pc <"),
        programme("e", cost="__import__('os').system('ls')"),
        programme("f", capacity={"G01": -1}),
        programme("a"),
        programme("g", colour="red"),
    )
    with pytest.raises(CatalogueError) as info:
        Catalogue.from_dict(raw, source="bad.yaml")
    err = info.value
    assert isinstance(err, ni.ConfigError)
    assert str(err).startswith("Invalid programme catalogue bad.yaml (8 problems):")
    expected = [
        "programme 'a': dimensions: Got unknown dimension(s) ['food']; expected need "
        "dimensions from needsid.simulation.NEED_DIMENSIONS: income, health, education, care, "
        "housing, employment.",
        "programme 'b': excludes: unknown programme 'nonexistent'; the catalogue has a, b, c, "
        "d, e, f, g.",
        "programme 'c': cost: Got cost=-5; expected a finite amount of yuan per household-month,"
        " 0 or more, e.g. 300.",
        "programme 'd': eligibility: Got 'net_income_pc <': not valid syntax",
        "programme 'e': cost: Got \"__import__('os').system('ls')\": \"__import__('os').system\" "
        "is not one of the functions min, max, abs.",
        "programme 'f': capacity: Got capacity['G01']=-1; expected a whole number of "
        "households, 0 or more.",
        "programme 'a': id: duplicate id (programmes #1 and #7); give each programme its own id.",
        "programme 'g': unknown key 'colour'",
    ]
    assert len(err.problems) == len(expected)
    for problem, want in zip(err.problems, expected, strict=True):
        assert problem.startswith(want), (problem, want)


def test_expressions_are_parsed_not_run(tmp_path):
    marker = tmp_path / "ran"
    attack = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    raw = catalogue(programme("a", eligibility=attack), programme("b", cost="(lambda: 1)()"))
    with pytest.raises(CatalogueError) as info:
        Catalogue.from_dict(raw)
    first, second = info.value.problems
    assert first.startswith("programme 'a': eligibility: Got ")
    assert second.startswith("programme 'b': cost: Got '(lambda: 1)()': 'lambda: 1' is not one")
    assert all("is not one of the functions min, max, abs." in p for p in (first, second))
    assert not marker.exists()


def test_load_catalogue_names_a_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape("Programme catalogue 'nope.yaml'")):
        load_catalogue("nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("programmes: [", encoding="utf-8")
    with pytest.raises(CatalogueError, match=re.escape("not valid YAML")):
        load_catalogue(bad)


# -- the allocator -------------------------------------------------------------------------


def test_one_programme_at_a_fixed_cost_is_the_top_k_by_score():
    scores = households(300, seed=1)
    # ties: three households share the score at the cut; the earlier ids win
    probs = scores["need_education"].to_numpy().copy()
    order = np.argsort(-probs, kind="stable")
    probs[order[28:31]] = probs[order[28]]
    scores = scores.with_columns(pl.Series("need_education", probs))
    budget, cost = 3_050.0, 100.0
    k = int(budget // cost)
    plan = allocate(scores, one_programme(cost), budget, mip_gap=0)
    ranked = scores.sort(["need_education", "household_id"], descending=[True, False])
    top = ranked["household_id"].head(k).to_list()
    assert sorted(plan.assignments["household_id"].to_list()) == sorted(top)
    tied = sorted(scores["household_id"].gather(order[28:31]).to_list())
    assert tied[:2] == [h for h in top if h in tied] and tied[2] not in top
    assert plan.objective == pytest.approx(ranked["need_education"].head(k).sum())
    assert plan.cost == k * cost and plan.status.startswith("optimal")


def test_plan_respects_budget_exclusions_and_region_capacity():
    scores = households(400, seed=2)
    cat = load_catalogue()
    budget = 60_000.0
    plan = allocate(scores, cat, budget, as_of="2025-01-01")
    a = plan.assignments
    assert plan.cost <= budget + 1e-6
    assert a["monthly_cost"].sum() == pytest.approx(plan.cost)
    assert a["expected_need_met"].sum() == pytest.approx(plan.objective)
    assert not a.select("household_id", "programme_id").is_duplicated().any()
    given = a.group_by("household_id").agg(pl.col("programme_id"))
    for progs in given["programme_id"].to_list():
        assert not any((p, q) in cat.exclusions for p in progs for q in progs)
    counts = a.group_by("programme_id", "region_id").len()
    for pid, region, n in counts.iter_rows():
        cap = cat.programme(pid).capacity_in(region)
        assert cap is None or n <= cap, (pid, region, n)
    summary = plan.summary
    assert summary["households"].sum() == a.height
    assert summary["cost"].sum() == pytest.approx(plan.cost)
    assert 0 <= plan.gap <= 1e-3 and plan.bound >= plan.objective
    frame = plan.to_frame()
    assert {"name_zh", "name_en", "as_of"} <= set(frame.columns)
    assert frame["as_of"].unique().to_list() == [pd.Timestamp("2025-01-01").date()]


def test_eligibility_limits_who_gets_a_programme():
    scores = households(200, seed=3)
    plan = allocate(scores, load_catalogue(), 40_000)
    got = plan.assignments.join(scores, on=["household_id", "region_id"])
    dibao = got.filter(pl.col("programme_id") == "dibao_topup")
    assert dibao.height > 0
    assert (dibao["net_income_pc"] < dibao["dibao_standard"]).all()
    gap = (dibao["dibao_standard"] - dibao["net_income_pc"].clip(lower_bound=0)) * dibao["hh_size"]
    assert np.allclose(dibao["monthly_cost"].to_numpy(), gap.to_numpy())
    meals = got.filter(pl.col("programme_id") == "school_meals")
    assert ((meals["n_children"] >= 1) & (meals["urban"] == 0)).all()


def test_a_need_two_programmes_serve_counts_once():
    cat = load_catalogue().select(["education_assistance", "school_meals"])
    scores = pl.DataFrame(
        {
            "household_id": ["a"],
            "need_education": [0.8],
            "n_children": [1.0],
            "urban": [0.0],
            "net_income_pc": [100.0],
            "dibao_standard": [600.0],
        }
    )
    plan = allocate(scores, cat, budget=1_000)
    # both fit the budget, but the second would meet no more need: the cheaper is given
    assert plan.assignments["programme_id"].to_list() == ["school_meals"]
    assert plan.objective == pytest.approx(0.8) and plan.cost == 100


def test_fairness_floor_raises_the_floored_group_and_costs_total_need_met():
    scores = households(300, seed=4)
    # region G04 has low probabilities: an unconstrained plan gives it little
    scores = scores.with_columns(
        [
            pl.when(pl.col("region_id") == "G04")
            .then(pl.col(f"need_{d}") * 0.3)
            .otherwise(pl.col(f"need_{d}"))
            .alias(f"need_{d}")
            for d in NEED_DIMENSIONS
        ]
    )
    cat = load_catalogue()
    free = allocate(scores, cat, 30_000)
    floor = NeedFloor("region_id", 0.15)
    fair = allocate(scores, cat, 30_000, fairness=[floor])

    def met(plan, region):
        a = plan.assignments
        return a.filter(pl.col("region_id") == region)["expected_need_met"].sum()

    need = (
        scores.with_columns(pl.sum_horizontal(f"need_{d}" for d in NEED_DIMENSIONS).alias("need"))
        .group_by("region_id")
        .agg(pl.col("need").sum())
    )
    g04 = need.filter(pl.col("region_id") == "G04")["need"].item()
    assert met(free, "G04") < 0.15 * g04
    assert met(fair, "G04") >= 0.15 * g04 - 1e-6
    assert fair.objective < free.objective
    for region, total in need.iter_rows():
        assert met(fair, region) >= 0.15 * total - 1e-6
    assert fair.fairness == (floor,)


def test_gap_to_the_lp_bound_is_small_on_a_moderate_instance():
    scores = households(3_000, seed=5, regions=10)
    plan = allocate(scores, load_catalogue(), 250_000, mip_gap=1e-4)
    assert plan.bound >= plan.objective > 0
    assert plan.gap <= 1e-4
    assert plan.gap == pytest.approx((plan.bound - plan.objective) / plan.bound)


def test_same_input_same_plan_in_any_row_order_and_frame_type():
    scores = households(300, seed=6)
    cat = load_catalogue()
    first = allocate(scores, cat, 40_000)
    again = allocate(scores.sample(fraction=1.0, shuffle=True, seed=1), cat, 40_000)
    assert first.assignments.equals(again.assignments)
    assert first.summary.equals(again.summary)
    as_pandas = allocate(scores.to_pandas(), cat, 40_000)
    assert isinstance(as_pandas.assignments, pd.DataFrame)
    assert isinstance(as_pandas.summary, pd.DataFrame)
    assert isinstance(as_pandas.to_frame(), pd.DataFrame)
    assert pl.from_pandas(as_pandas.assignments).equals(first.assignments)


def test_truth_of_a_simulated_population_as_scores():
    pop = ni.simulate(n_households=500, months=18, seed=0)
    as_of = "2024-01-01"
    truth = ni.labels.make(pop, as_of, 6).select(
        "household_id", *(pl.col(f"need_{d}").cast(pl.Float64) for d in NEED_DIMENSIONS)
    )
    frame = (
        ni.features.build(pop.bundle, as_of)
        .join(pop.bundle.households.select("household_id", "region_id"), on="household_id")
        .join(pop.bundle.regions.select("region_id", "dibao_standard"), on="region_id")
        .join(truth, on="household_id")
    )
    plan = allocate(frame, load_catalogue(), 50_000, as_of=as_of)
    # the gap is to the LP relaxation: at 500 households whole programmes leave some
    assert plan.cost <= 50_000 and plan.gap <= 0.01
    helped = set(plan.assignments["household_id"].to_list())
    in_need = set(truth.filter(pl.sum_horizontal(pl.exclude("household_id")) > 0)["household_id"])
    # with the truth as scores, no budget goes to a household without a need
    assert helped and helped <= in_need


# -- errors before solving -----------------------------------------------------------------


def test_budget_below_the_cheapest_package_names_it():
    scores = households(20, seed=7)
    with pytest.raises(
        ValueError, match=re.escape("below the cheapest eligible package: 'meals'")
    ):
        allocate(scores, one_programme(100), 99)
    cheapest = pl.DataFrame({"household_id": ["a", "b"], "need_education": [0.5, 0.6]})
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Got budget=40, below the cheapest eligible package: 'meals' (School meals) at "
            "50.00 yuan a month for household 'a', so no household can be helped. Raise the "
            "budget to at least 50.00."
        ),
    ):
        allocate(cheapest, one_programme(50), 40)


def test_missing_columns_are_named_with_the_programmes_that_read_them():
    scores = households(20, seed=8).drop("dibao_standard", "need_care")
    cat = load_catalogue().select(["dibao_topup", "care_services"])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "need_scores has no column 'dibao_standard', read by dibao_topup (eligibility or "
            "cost); 'need_care', read by care_services (dimensions). It has ['household_id',"
        ),
    ):
        allocate(scores, cat, 10_000)


def test_probabilities_outside_0_1_are_reported():
    scores = pl.DataFrame({"household_id": ["a", "b", "c"], "need_education": [0.5, 1.2, None]})
    with pytest.raises(
        ValueError,
        match=re.escape(
            "need_scores: column 'need_education' has 2 values missing or outside [0, 1] "
            "(households 'b', 'c')."
        ),
    ):
        allocate(scores, one_programme(), 100)
    twice = pl.DataFrame({"household_id": ["a", "a"], "need_education": [0.5, 0.5]})
    with pytest.raises(ValueError, match=re.escape("household_id repeats (households 'a')")):
        allocate(twice, one_programme(), 100)


def test_a_cost_formula_that_gives_no_amount_is_reported():
    scores = pl.DataFrame(
        {"household_id": ["a", "b"], "need_education": [0.5, 0.6], "kids": [1.0, None]}
    )
    with pytest.raises(
        ValueError,
        match=re.escape(
            "programme 'meals': its cost '100 * kids' is missing, negative or infinite for "
            "1 eligible household (households 'b')."
        ),
    ):
        allocate(scores, one_programme("100 * kids"), 500)


def test_bad_arguments_are_named():
    scores = households(10)
    with pytest.raises(ValueError, match=re.escape("Got budget=-1.0; expected a finite amount")):
        allocate(scores, one_programme(), -1.0)
    with pytest.raises(ValueError, match=re.escape("Got objective='votes'; expected one of")):
        allocate(scores, one_programme(), 100, objective="votes")
    with pytest.raises(TypeError, match=re.escape("expected a pandas or polars DataFrame")):
        allocate(scores.to_dicts(), one_programme(), 100)
    with pytest.raises(ValueError, match=re.escape("Got share=1.5; expected a number in [0, 1]")):
        NeedFloor("region_id", 1.5)


def test_a_floor_no_eligible_programme_can_reach_is_reported_before_solving():
    scores = pl.DataFrame(
        {
            "household_id": ["a", "b", "c"],
            "region_id": ["R1", "R2", "R2"],
            "need_education": [0.9, 0.4, 0.8],
            "kids": [1, 1, 0],
        }
    )
    meals = programme("meals", dimensions=["education"], eligibility="kids >= 1")
    # c has no children: meals cannot reach R2's floor
    with pytest.raises(
        InfeasibleError,
        match=re.escape(
            "NeedFloor(region_id, 50% of need) cannot be met for region_id='R2': its floor is "
            "0.6 expected needs, but every programme its households are eligible for within "
            "budget=1000 would meet at most 0.4. Lower share or widen eligibility."
        ),
    ):
        allocate(
            scores,
            Catalogue.from_dict(catalogue(meals)),
            1_000,
            fairness=NeedFloor("region_id", 0.5),
        )


def test_a_floor_beyond_the_budget_is_reported_before_solving():
    scores = pl.DataFrame(
        {
            "household_id": list("abcd"),
            "region_id": ["R1", "R1", "R2", "R2"],
            "need_education": [0.9, 0.8, 0.7, 0.6],
        }
    )
    with pytest.raises(
        InfeasibleError,
        match=re.escape(
            "NeedFloor(region_id, 90% of need) needs at least 357 yuan a month (the cheapest way "
            "to reach each group's floor), more than budget=300; the costliest groups: "
            "region_id='R1' (179), region_id='R2' (178)."
        ),
    ):
        allocate(scores, one_programme(100), 300, fairness=NeedFloor("region_id", 0.9))


def test_an_infeasible_floor_found_by_highs_is_named():
    scores = pl.DataFrame(
        {
            "household_id": list("abcd"),
            "region_id": ["R1", "R1", "R1", "R2"],
            "need_education": [0.9, 0.9, 0.9, 0.5],
        }
    )
    # the budget allows every household, but meals serve one household a region
    floor = NeedFloor("region_id", 0.5)
    with pytest.raises(
        InfeasibleError,
        match=re.escape(
            "dropping NeedFloor(region_id, 50% of need) makes it feasible; lower the share or "
            "raise the budget."
        ),
    ):
        allocate(scores, one_programme(100, capacity=1), 1_000, fairness=floor)
    # two floors, each met alone (with a and c, or with b and c); together they need
    # a and b, both in R1, where meals serve one household
    three = pl.DataFrame(
        {
            "household_id": list("abc"),
            "region_id": ["R1", "R1", "R2"],
            "g1": ["A", "B", "B"],
            "g2": ["X", "Y", "X"],
            "need_education": [0.4, 0.4, 0.9],
        }
    )
    floors = [NeedFloor("g1", 0.5), NeedFloor("g2", 0.5)]
    for alone in floors:
        assert allocate(three, one_programme(100, capacity=1), 1_000, fairness=alone).objective
    with pytest.raises(
        InfeasibleError,
        match=re.escape(
            "dropping any one of NeedFloor(g1, 50% of need), NeedFloor(g2, 50% of need) makes "
            "it feasible"
        ),
    ):
        allocate(three, one_programme(100, capacity=1), 1_000, fairness=floors)


def test_region_capacity_caps_each_region():
    scores = pl.DataFrame(
        {
            "household_id": [f"h{i}" for i in range(8)],
            "region_id": ["R1"] * 5 + ["R2"] * 3,
            "need_education": [0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.2, 0.1],
        }
    )
    capped = one_programme(100, capacity={"R1": 2})
    plan = allocate(scores, capped, budget=10_000)
    # R1 gets its two best; R2 has no limit
    assert plan.assignments["household_id"].to_list() == ["h0", "h1", "h5", "h6", "h7"]
    every = one_programme(100, capacity=1)
    assert allocate(scores, every, 10_000).assignments["household_id"].to_list() == ["h0", "h5"]


# -- the budget curve ----------------------------------------------------------------------


def test_budget_curve_prices_each_floor_in_need_met_lost():
    scores = households(200, seed=9)
    floors = [NeedFloor("region_id", 0.05), NeedFloor("urban", 0.9)]
    # solved to optimality: within a relative gap, a constrained solve can come out
    # ahead of the free one (a negative price of the order of the gap; scipy 1.15)
    curve = budget_curve(
        scores, load_catalogue(), [10_000, 20_000, 40_000], fairness=floors, mip_gap=0
    )
    table = curve.to_frame()
    assert table["constraint"].unique(maintain_order=True).to_list() == [
        "none",
        floors[0].describe(),
        floors[1].describe(),
        "all",
    ]
    free = table.filter(pl.col("constraint") == "none")
    assert (free["need_met"].diff().drop_nulls() >= 0).all()  # more budget, more need met
    assert (free["price"] == 0).all()
    feasible = table.filter(pl.col("need_met").is_not_null())
    assert (feasible["price"] >= -1e-6).all()
    assert feasible["price_low"].is_null().all()
    # the plan allocate makes at a budget is the curve's point
    plan = allocate(scores, load_catalogue(), 20_000, fairness=floors[0])
    point = table.filter(
        (pl.col("budget") == 20_000) & (pl.col("constraint") == floors[0].describe())
    )
    assert point["need_met"].item() == pytest.approx(plan.objective, rel=1e-3)


def test_budget_curve_bootstrap_is_seeded():
    scores = households(120, seed=10)
    floor = NeedFloor("region_id", 0.1)
    kwargs = {"fairness": floor, "n_bootstrap": 5, "seed": 3}
    one = budget_curve(scores.to_pandas(), load_catalogue(), [15_000], **kwargs).to_frame()
    two = budget_curve(scores.to_pandas(), load_catalogue(), [15_000], **kwargs).to_frame()
    assert isinstance(one, pd.DataFrame)
    pd.testing.assert_frame_equal(one, two)
    row = one[one["constraint"] == floor.describe()].iloc[0]
    assert row["price_low"] <= row["price_high"]
