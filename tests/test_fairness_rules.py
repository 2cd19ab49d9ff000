"""Fairness audits of rule hits: one classifier per rule kind."""

import re

import numpy as np
import polars as pl
import pytest

import needsid as ni
from needsid.fairness import audit_rules
from needsid.rules import household_attributes, load

AS_OF = "2024-07-01"


@pytest.fixture(scope="module")
def setup():
    pop = ni.simulate(n_households=3000, months=24, seed=0)
    hits = load("default").evaluate(pop.bundle, AS_OF, suppress=False)
    y = ni.labels.make(pop, AS_OF, 6)
    # the audited population: alive at as_of and labelled (labels.make may drop a few)
    attrs = household_attributes(pop.bundle, AS_OF).join(y, on="household_id", how="semi")
    return pop, hits, attrs, y


def test_flags_per_kind_are_the_hits(setup):
    _, hits, attrs, y = setup
    ra = audit_rules(hits, attrs, sensitive_features="urban", y_true=y, n_boot=20)
    frame = hits.to_frame()
    assert set(ra.audits) == {"trigger", "cross_check", "exit", "outreach", "process", "any"}
    for kind in ("trigger", "exit", "outreach"):
        ids = set(frame.filter(pl.col("kind") == kind)["household_id"])
        expected = attrs["household_id"].is_in(list(ids)).to_numpy()
        np.testing.assert_array_equal(ra.flags[kind].to_numpy(), expected)
    kinds = ra.flags[["trigger", "cross_check", "exit", "outreach", "process"]].any(axis=1)
    np.testing.assert_array_equal(ra.flags["any"].to_numpy(), kinds.to_numpy())
    assert ra.flags["any"].any() and not ra.flags["any"].all()


def test_hit_rates_match_the_rule_module(setup):
    # the rule module computes the same hit rates by group independently (polars)
    _, hits, attrs, _ = setup
    ra = audit_rules(hits, attrs, sensitive_features="urban", n_boot=20)
    theirs = hits.by_group(attrs, "urban").filter(pl.col("rule_id") == "(any rule)")
    bg = ra.audits["any"].by_group
    for row in theirs.iter_rows(named=True):
        # one convention for group labels in both modules: str(True)
        key = row["group"]
        assert key in ("True", "False")
        assert bg.loc[key, "n"] == row["n_households"]
        assert bg.loc[key, "selection_rate"] == pytest.approx(row["hit_rate"])
    assert "fnr" not in bg  # no labels: hit rates only


def test_labelled_rule_audit_confusion_counts(setup):
    _, hits, attrs, y = setup
    ra = audit_rules(hits, attrs, sensitive_features=["urban", "minority"], y_true=y, n_boot=20)
    truth = attrs.join(y.select("household_id", "in_need"), on="household_id", how="left")
    need = truth["in_need"].to_numpy().astype(bool)
    flag = ra.flags["trigger"].to_numpy()
    bg = ra.audits["trigger"].by_group
    assert bg.index.nlevels == 2
    assert bg["tp"].sum() == (need & flag).sum() and bg["fn"].sum() == (need & ~flag).sum()
    assert set(ra.to_frame()["kind"]) == set(ra.audits)
    assert ra.by_group.index.names[0] == "kind"


def test_rule_audit_errors(setup):
    _, hits, attrs, y = setup
    with pytest.raises(ValueError, match=re.escape("Columns ['ethnicity'] are not in households")):
        audit_rules(hits, attrs, sensitive_features="ethnicity")
    with pytest.raises(
        ValueError, match=re.escape(f"Got 3 labels for {attrs.height} households.")
    ):
        audit_rules(hits, attrs, sensitive_features="urban", y_true=[1, 0, 1])
    partial = y.head(10)
    with pytest.raises(ValueError, match=re.escape("y_true has no 'in_need' for")):
        audit_rules(hits, attrs, sensitive_features="urban", y_true=partial)
    with pytest.raises(ValueError, match=re.escape("repeated household_id rows")):
        audit_rules(hits, pl.concat([attrs, attrs.head(2)]), sensitive_features="urban")


def test_boolean_groups_read_true_and_false_from_polars_and_pandas(setup):
    _, hits, attrs, y = setup
    for households in (attrs, attrs.to_pandas()):
        ra = audit_rules(hits, households, sensitive_features=["urban", "minority"], n_boot=5)
        bg = ra.audits["any"].by_group
        assert list(bg.index.names) == ["urban", "minority"]
        assert set(bg.index) <= {(u, m) for u in ("False", "True") for m in ("False", "True")}
        assert len(bg) == 4


def test_sensitive_features_is_keyword_only(setup):
    _, hits, attrs, _ = setup
    with pytest.raises(TypeError, match="positional"):
        audit_rules(hits, attrs, "urban")
