import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from needsid.flagging import FLAG_COLUMNS, flag, reason_text, risk_band


class FakeHits:
    """The part of RuleHits that flag() reads."""

    rule_set_version = "9.9"

    def __init__(self, rows):
        self._rows = rows

    def to_frame(self):
        return pl.DataFrame(self._rows, schema=["household_id", "rule_id", "kind"], orient="row")


def scores(n=10, seed=0, **cols):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"household_id": [f"h{i:02d}" for i in range(n)], "score": rng.random(n), **cols}
    )


def test_capacity_share_and_count_flag_the_top_scores():
    s = scores(10)
    top3 = set(s.nlargest(3, "score")["household_id"])
    by_count = flag(s, capacity=3, as_of="2025-01-01")
    assert set(by_count.loc[by_count["flag"], "household_id"]) == top3
    assert (by_count.loc[by_count["flag"], "route"] == "verification_visit").all()
    by_share = flag(s, capacity=0.3, as_of="2025-01-01")
    assert by_share.equals(by_count.assign(capacity=0.3))
    assert by_count["threshold"].iloc[0] == pytest.approx(s.nlargest(3, "score")["score"].min())
    assert list(by_count.columns) == list(FLAG_COLUMNS)
    assert by_count["as_of"].iloc[0] == pd.Timestamp("2025-01-01")


def test_capacity_per_group_gives_each_group_its_share():
    s = scores(12, region_id=["a"] * 8 + ["b"] * 4)
    t = flag(s, capacity=0.25, as_of="2025-01-01", groups="region_id")
    assert t.groupby(s["region_id"].to_numpy())["flag"].sum().to_dict() == {"a": 2, "b": 1}
    for g, part in s.groupby("region_id"):
        want = part.nlargest(2 if g == "a" else 1, "score")["score"].min()
        assert (t.loc[s["region_id"].to_numpy() == g, "threshold"] == want).all()
    assert (t["capacity_by"] == "region_id").all()


def test_routes_follow_precedence_and_rules_add_households():
    s = pd.DataFrame(
        {
            "household_id": ["a", "b", "c", "d", "e"],
            "score": [0.95, 0.9, 0.1, 0.2, 0.05],
            "invisibility_score": [0.0, 0.0, 0.0, 1.0, 0.0],
        }
    )
    hits = FakeHits(
        [
            ("a", "death_working_age", "trigger"),  # trigger beats model
            ("b", "paid_after_death", "cross_check"),  # model beats review
            ("c", "exit_income_above_line", "exit"),
            ("z", "disaster_loss", "trigger"),  # not scored: a rule still flags it
        ]
    )
    # 5 visits: the 2 triggers, then the model keeps room for one outreach and one review
    quotas = {"outreach": 0.2, "review": 0.2}
    t = flag(s, hits, capacity=5, as_of="2025-01-01", invisibility="invisibility_score",
             quotas=quotas)  # fmt: skip
    route = dict(zip(t["household_id"], t["route"], strict=True))
    assert route == {
        "a": "immediate_assistance",
        "b": "verification_visit",
        "c": "review",
        "d": "manual_outreach",
        "e": "none",
        "z": "immediate_assistance",
    }
    z = t.set_index("household_id").loc["z"]
    assert np.isnan(z["score"]) and pd.isna(z["risk_band"]) and z["flag"]  # NaN: pandas 3
    assert t.set_index("household_id").loc["b", "rule_ids"] == "paid_after_death"
    assert (t["rule_set_version"] == "9.9").all()
    # another precedence: review first (its quota of 2 takes both b and c)
    t2 = flag(s, hits, capacity=5, as_of="2025-01-01",
              route_order=("review", "trigger", "model", "outreach"),
              quotas={"outreach": 0.2, "review": 0.4})  # fmt: skip
    assert t2.set_index("household_id").loc["b", "route"] == "review"


def test_reasons_kept_for_flagged_households_only():
    s = scores(4)
    top = s.nlargest(1, "score")["household_id"].iloc[0]
    explained = pd.DataFrame(
        {
            "row_id": [top, top, "other"],
            "feature": ["n_death_3m", "wage_3m", "x"],
            "contribution": [0.2, -0.031, 0.5],
            "value": [1, 0, 0],
            "dimension": ["care", "income", "other"],
        }
    )
    t = flag(s, capacity=1, as_of="2025-01-01", reasons=explained).set_index("household_id")
    assert t.loc[top, "reasons"] == "n_death_3m (+20.0 pts); wage_3m (-3.1 pts)"
    assert t.drop(index=top)["reasons"].isna().all()


def test_polars_in_polars_out_and_deterministic():
    s = pl.from_pandas(scores(50, seed=3))
    a = flag(s, capacity=0.1, as_of=dt.date(2025, 1, 1), model_name="m", model_version="2")
    b = flag(s.sample(fraction=1.0, shuffle=True, seed=1), capacity=0.1, as_of="2025-01-01",
             model_name="m", model_version="2")  # fmt: skip
    assert isinstance(a, pl.DataFrame)
    assert a.equals(b)
    assert a["model_version"].unique().to_list() == ["2"]


def test_bad_input_names_every_problem():
    s = pd.DataFrame({"household_id": ["a", "a", None], "score": [0.5, 1.5, np.nan]})
    with pytest.raises(ValueError) as err:
        flag(s, capacity=1, as_of="2025-01-01")
    msg = str(err.value)
    assert "repeat a household_id" in msg and "no household_id" in msg and "outside [0, 1]" in msg
    with pytest.raises(ValueError, match="no column"):
        flag(pd.DataFrame({"id": ["a"], "score": [0.1]}), as_of="2025-01-01")
    with pytest.raises(ValueError, match="capacity"):
        flag(scores(3), capacity=1.5, as_of="2025-01-01")
    with pytest.raises(ValueError, match="groups='region'"):
        flag(scores(3), capacity=1, as_of="2025-01-01", groups="region")
    with pytest.raises(ValueError, match="no route"):
        flag(scores(3), FakeHits([("h00", "r", "mystery")]), capacity=1, as_of="2025-01-01")


def test_risk_band_edges():
    assert risk_band([0.0, 0.19999, 0.2, 0.5, 1.0]).tolist() == [
        "low", "low", "medium", "high", "high"
    ]  # fmt: skip
    assert risk_band([0.3], {"b": 0.25, "a": 0.0}).tolist() == ["b"]
    with pytest.raises(ValueError, match="one edge 0"):
        risk_band([0.3], {"a": 0.1, "b": 0.5})


def test_reason_text_requires_explain_columns():
    with pytest.raises(ValueError, match="row_id"):
        reason_text(pd.DataFrame({"feature": ["x"]}))


# --- capacity is the number of visits -----------------------------------------------------


def invisible_scores(n=100, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "household_id": [f"h{i:03d}" for i in range(n)],
            "score": rng.random(n),
            # a third look invisible: far more than any outreach quota
            "invisibility_score": np.where(rng.random(n) < 0.33, rng.uniform(0.8, 1, n), 0.1),
        }
    )


def test_every_route_draws_from_the_capacity():
    s = invisible_scores(200)
    ids = s["household_id"]
    hits = FakeHits(
        [(ids[i], "death", "trigger") for i in range(3)]
        + [(ids[i], "exit_income", "exit") for i in range(3, 40)]
    )
    t = flag(s, hits, capacity=0.1, as_of="2025-01-01", invisibility="invisibility_score")
    # 20 visits: 3 triggers, at most 4 outreach (20%) and 2 reviews (10%), the model the rest
    assert t["flag"].sum() == 20
    counts = t["route"].value_counts().to_dict()
    assert counts["immediate_assistance"] == 3
    assert counts["manual_outreach"] == 4 and counts["review"] == 2
    assert counts["verification_visit"] == 11
    from needsid.flagging import capacity_usage

    usage = capacity_usage(t).set_index("route")
    assert usage["households"].to_dict() == {"trigger": 3, "model": 11, "outreach": 4, "review": 2}
    assert usage.loc["outreach", "quota"] == 4 and usage.loc["review", "quota"] == 2
    assert (usage["capacity"] == 20).all()


def test_outreach_is_ranked_by_invisible_and_in_need():
    s = invisible_scores(200, seed=1)
    t = flag(s, capacity=0.1, as_of="2025-01-01", invisibility="invisibility_score",
             quotas={"outreach": 0.5})  # fmt: skip
    out = t[t["route"] == "manual_outreach"]
    assert len(out) == 10
    rest = s[~s["household_id"].isin(t.loc[t["flag"], "household_id"])]
    eligible = rest[rest["invisibility_score"] >= 0.8]
    product = s.set_index("household_id")
    chosen = (product.loc[out["household_id"], "invisibility_score"]
              * product.loc[out["household_id"], "score"])  # fmt: skip
    # every household sent to outreach ranks above every eligible one left out
    assert chosen.min() >= (eligible["invisibility_score"] * eligible["score"]).max()


def test_unused_quota_goes_back_to_the_model():
    s = scores(20)  # no invisibility, no rules: outreach and review have no candidates
    t = flag(s, capacity=10, as_of="2025-01-01")
    assert t["flag"].sum() == 10 and (t.loc[t["flag"], "route"] == "verification_visit").all()


def test_triggers_past_the_capacity_are_all_kept_and_warned(caplog):
    s = scores(20)
    hits = FakeHits([(f"h{i:02d}", "disaster_loss", "trigger") for i in range(5)])
    with caplog.at_level("WARNING", logger="needsid.flagging"):
        t = flag(s, hits, capacity=3, as_of="2025-01-01")
    assert t["flag"].sum() == 5
    assert (t.loc[t["flag"], "route"] == "immediate_assistance").all()
    assert "5 households hit a trigger rule, more than the 3 visits" in caplog.text


def test_quotas_apply_per_group():
    s = invisible_scores(120, seed=2).assign(region_id=["a"] * 80 + ["b"] * 40)
    t = flag(s, capacity=0.1, as_of="2025-01-01", groups="region_id",
             invisibility="invisibility_score", quotas={"outreach": 0.5})  # fmt: skip
    region = dict(zip(s["household_id"], s["region_id"], strict=True))
    t["region_id"] = t["household_id"].map(region)
    assert t.groupby("region_id")["flag"].sum().to_dict() == {"a": 8, "b": 4}
    outreach = t[t["route"] == "manual_outreach"].groupby("region_id").size().to_dict()
    assert outreach == {"a": 4, "b": 2}
    from needsid.flagging import capacity_usage

    usage = capacity_usage(t, quotas={"outreach": 0.5}, groups=region)
    assert usage.groupby("group")["households"].sum().to_dict() == {"a": 8, "b": 4}


@pytest.mark.parametrize(
    ("quotas", "message"),
    [
        ({"model": 0.5}, "'model' is not a route with a quota (expected one of ['outreach'"),
        ({"outreach": 1.5, "review": -1},
         "outreach=1.5 is not a share in [0, 1]; review=-1 is not a share in [0, 1]"),
        ([0.2], "expected a mapping of route to a share of the capacity"),
    ],
)  # fmt: skip
def test_bad_quotas_are_named(quotas, message):
    import re

    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        flag(scores(5), capacity=2, as_of="2025-01-01", quotas=quotas)


def test_reason_text_never_writes_plus_minus_zero():
    from needsid.flagging import reason_text

    explained = pd.DataFrame(
        {"row_id": ["H1", "H1"], "feature": ["a", "b"], "contribution": [-0.0004, 0.0004]}
    )
    assert reason_text(explained).tolist() == ["a (+0.0 pts); b (+0.0 pts)"]
