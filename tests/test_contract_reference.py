"""docs/contract.md is generated from the schema and the record vocabulary: it cannot drift.

If test_docs_contract_md_is_generated fails, regenerate the page with

    python -m needsid.data > docs/contract.md

(or write ``needsid.data.contract_reference()`` to it) and commit the result.
"""

from pathlib import Path

import polars as pl
import pytest

import needsid as ni
from needsid.data import (
    TABLES,
    contract_reference,
    nullable_value_kinds,
    record_kinds,
    record_values,
    record_vocabulary,
)

PAGE = Path(__file__).resolve().parents[1] / "docs" / "contract.md"


def test_docs_contract_md_is_generated():
    assert PAGE.read_text(encoding="utf-8") == contract_reference(), (
        "docs/contract.md is out of date: run `python -m needsid.data > docs/contract.md`"
    )


def test_page_lists_every_table_column_and_kind():
    page = contract_reference()
    for name, spec in TABLES.items():
        assert f"\n## {name}\n" in page
        for col in spec.columns:
            empty = "yes" if col.nullable else "no"
            assert f"| `{col.name}` | {col.dtype} | {empty} |" in page
    for source, kinds in record_vocabulary().items():
        assert f"\n### {source}\n" in page
        for kind in kinds:
            assert f"| `{kind}` |" in page
    assert "| `sex` | string | no | `F`, `M` |" in page
    assert (
        "| `review` | no | assessed net income per capita, yuan/month | decision of the "
        "periodic review of a recipient: `continue`, `reduce`, `exit` |"
    ) in page
    assert "`hardship_confirmed`, `no_hardship`, `not_found` or empty |" in page


def test_record_kinds_is_the_vocabulary_as_a_frame():
    kinds = record_kinds()
    assert list(kinds.columns) == [
        "source", "kind", "payment", "amount_meaning", "value_meaning", "allowed_values",
        "value_nullable",
    ]  # fmt: skip
    pairs = [(s, k) for s, ks in record_vocabulary().items() for k in ks]
    assert list(zip(kinds["source"], kinds["kind"], strict=True)) == pairs
    closed = kinds.dropna(subset=["allowed_values"])
    assert dict(zip(closed["kind"], closed["allowed_values"], strict=True)) == record_values()
    assert set(kinds.loc[kinds["value_nullable"] & kinds["allowed_values"].notna(), "kind"]) == (
        nullable_value_kinds()
    )
    assert set(kinds.loc[kinds["payment"], "kind"]) == {
        "benefit_dibao", "benefit_tekun", "benefit_temporary", "benefit_housing",
        "benefit_medical", "disability_living_subsidy", "disability_care_subsidy", "wage",
        "pension",
    }  # fmt: skip
    custom = record_kinds({"police": {"check": {"values": ["pass"], "amount": "fine, yuan"}}})
    assert custom.to_dict("records") == [
        {"source": "police", "kind": "check", "payment": False, "amount_meaning": "fine, yuan",
         "value_meaning": None, "allowed_values": ("pass",), "value_nullable": False}
    ]  # fmt: skip


@pytest.fixture(scope="module")
def simulated_records():
    return ni.simulate(n_households=400, months=24, seed=3).bundle.records


def test_documented_amount_and_value_match_what_the_simulator_writes(simulated_records):
    used = (
        simulated_records.group_by(
            pl.col("source").cast(pl.String), pl.col("kind").cast(pl.String)
        )
        .agg(
            amount=pl.col("amount").is_not_null().any(),
            value=pl.col("value").is_not_null().any(),
        )
        .rows_by_key(["source", "kind"], named=True, unique=True)
    )
    assert len(used) >= 25  # most kinds occur: the check below is not vacuous
    for row in record_kinds().itertuples():
        if (row.source, row.kind) not in used:
            continue
        writes = used[(row.source, row.kind)]
        assert writes["amount"] == (row.amount_meaning is not None), (row.kind, "amount")
        assert writes["value"] == (row.value_meaning is not None), (row.kind, "value")
