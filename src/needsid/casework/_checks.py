"""Checks of one household: the rule set's cross-checks and exits, and each department's records.

A rule check fails when the rule fires for the household (its evidence is the hit's);
otherwise it says "no data" when the department it verifies against holds no record of
the household, "not applicable" when the household was not paid the benefit the rule
checks, and "pass" only when the records were there and the condition did not hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import polars as pl

from .._dates import months_before
from ..data import record_vocabulary
from ..rules import Rule, RuleSet
from ._model import Check, EvidenceRecord, Status

__all__ = ["CHECK_KINDS", "department_checks", "rule_checks"]

#: Rule kinds a verification runs: cross-checks (asset tests among them) and exits.
CHECK_KINDS = ("cross_check", "exit")
# template parameters that name the benefit a rule looks at (the side being checked)
_BENEFIT_FIELDS = (
    "person_kinds",
    "household_kinds",
    "payment_kinds",
    "benefit_kinds",
    "receiving_kinds",
)
# evidence shown for a passing check: the latest records compared, not years of wages
_PASS_EVIDENCE = 12


def source_of_kind(records: pl.DataFrame) -> dict[str, str]:
    """Map each record kind to its department: the vocabulary, then the records' own."""
    out = {k: src for src, kinds in record_vocabulary().items() for k in kinds}
    for src, kind in records.select("source", "kind").unique().iter_rows():
        out.setdefault(kind, src)
    return out


def rule_sides(rule: Rule) -> tuple[list[tuple[str, ...]], tuple[str, ...]]:
    """Return the benefit groups a rule needs paid, and the record kinds it checks them against.

    Each group must have a payment in the window for the rule to apply (an overlap needs
    both of its sides). A group contained in another (``paid_in_prison``'s household
    kinds) adds no condition. The checked kinds are the rule's other reads, or all of
    them when every read is a benefit (an overlap of two benefits).
    """
    params = rule.params
    groups: list[tuple[str, ...]] = []
    for name in _BENEFIT_FIELDS:
        kinds = tuple(getattr(params, name, None) or ())
        if kinds and kinds not in groups:
            groups.append(kinds)
    groups = [g for g in groups if not any(set(g) < set(o) for o in groups)]
    benefit = {k for g in groups for k in g}
    checked = tuple(k for k in rule.reads if k not in benefit) or tuple(rule.reads)
    return groups, checked


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def evidence_records(frame: pl.DataFrame) -> tuple[EvidenceRecord, ...]:
    """Turn record rows into evidence, in the frame's order."""
    cols = (
        "record_id",
        "source",
        "kind",
        "person_id",
        "event_date",
        "known_date",
        "amount",
        "value",
    )
    return tuple(
        EvidenceRecord(**{c: row[c] for c in cols}) for row in frame.iter_rows(named=True)
    )


def _by_ids(records: pl.DataFrame, ids: Sequence[str]) -> tuple[EvidenceRecord, ...]:
    """Evidence records of ``ids``, in the order given (ids not found are skipped)."""
    found = records.filter(pl.col("record_id").is_in(list(ids)))
    order = {rid: i for i, rid in enumerate(ids)}
    rows = sorted(found.iter_rows(named=True), key=lambda r: order[r["record_id"]])
    return evidence_records(pl.DataFrame(rows, schema=records.schema))


def _latest(frame: pl.DataFrame, n: int) -> pl.DataFrame:
    return frame.sort("event_date", "known_date", "record_id").tail(n)


def rule_checks(
    rule_set: RuleSet | None,
    hits: pl.DataFrame,
    *,
    records: pl.DataFrame,
    held: pl.DataFrame,
    own: pl.DataFrame,
    as_of: dt.date,
    alive: bool,
    sources: dict[str, str],
) -> list[Check]:
    """One check per rule of ``rule_set``.

    Parameters
    ----------
    hits : the rule set's hits for this household (``RuleHits.to_frame()``, polars).
    records : every record read for the household (evidence is looked up here).
    held : records known before ``as_of`` of the household or its members (what each
        department holds on it: "no data" is decided on these).
    own : records known before ``as_of`` naming the household itself (payments are
        attributed to the household on the record: applicability is decided on these).
    alive : whether the household exists at ``as_of`` (exits look at those only).
    """
    if rule_set is None:
        return []
    held_sources = set(held["source"].unique().to_list())
    out = []
    for rule in rule_set.rules:
        groups, checked = rule_sides(rule)
        depts = _unique(sources.get(k, "unknown") for k in checked)
        benefit = {k for g in groups for k in g}
        # an overlap of two benefits compares its groups with each other
        sides = groups if benefit & set(checked) else [*groups, checked]
        window = f"{rule.window_months} months before as_of"
        compared = " against ".join(", ".join(side) for side in sides) + f" ({window})"
        mine = hits.filter(pl.col("rule_id") == rule.id)
        since = months_before(as_of, rule.window_months)
        paid = set(
            own.filter(pl.col("event_date") >= since)["kind"].unique().to_list()
        )  # benefits paid to the household in the rule's window
        evidence: tuple[EvidenceRecord, ...] = ()
        status: Status
        if mine.height:
            status = "fail"
            finding = "; ".join(mine["evidence"].to_list())
            ids = _unique(i for ids in mine["evidence_record_ids"].to_list() for i in ids)
            evidence = _by_ids(records, ids)
        elif missing := [d for d in depts if d not in held_sources]:
            status = "no data"
            finding = (
                f"{', '.join(missing)} holds no record of the household or its members "
                f"known before {as_of}: the check cannot be made"
            )
        elif rule.kind == "exit" and not alive:
            status = "not applicable"
            finding = f"the household does not exist at {as_of}: exits look at living ones"
        elif unpaid := [g for g in groups if paid.isdisjoint(g)]:
            status = "not applicable"
            what = " nor ".join(" or ".join(g) for g in unpaid)
            finding = f"no {what} paid to the household since {since}: the rule checks recipients"
        else:
            status = "pass"
            compared_records = held.filter(pl.col("kind").is_in(list(checked)))
            evidence = evidence_records(_latest(compared_records, _PASS_EVIDENCE))
            n, kinds = compared_records.height, ", ".join(checked)
            finding = (
                f"condition not met on {n} record{'s' * (n != 1)} of {kinds}"
                if n
                else f"condition not met: {', '.join(depts)} holds records of the household "
                f"but none of {kinds}"
            )
        out.append(
            Check(
                check_id=rule.id,
                kind=rule.kind,
                description=rule.description,
                department=", ".join(depts),
                compared=compared,
                status=status,
                finding=finding,
                evidence=evidence,
            )
        )
    return out


def department_checks(held: pl.DataFrame, as_of: dt.date, sources: Sequence[str]) -> list[Check]:
    """One row per department: does it hold any record of the household before ``as_of``.

    ``sources`` are the vocabulary's departments; departments found only in the records
    (an extended vocabulary) follow them. The evidence is the latest record of each kind.
    """
    found = held["source"].unique().sort().to_list()
    out = []
    for src in _unique([*sources, *found]):
        mine = held.filter(pl.col("source") == src)
        compared = f"any record of the household or its members known before {as_of}"
        if mine.height == 0:
            out.append(
                Check(
                    check_id=f"records_{src}",
                    kind="department",
                    description=f"Records held by {src}",
                    department=src,
                    compared=compared,
                    status="no data",
                    finding=(
                        f"{src} holds no record of the household or its members known "
                        f"before {as_of}"
                    ),
                    evidence=(),
                )
            )
            continue
        counts = mine.group_by("kind").agg(pl.len().alias("n")).sort("kind")
        text = ", ".join(f"{k} x{n}" for k, n in counts.iter_rows())
        latest = (
            mine.sort("event_date", "known_date", "record_id")
            .group_by("kind", maintain_order=True)
            .last()
            .sort("event_date", "known_date", "record_id")
            .select(mine.columns)
        )
        out.append(
            Check(
                check_id=f"records_{src}",
                kind="department",
                description=f"Records held by {src}",
                department=src,
                compared=compared,
                status="pass",
                finding=(
                    f"{mine.height} record{'s' * (mine.height != 1)} ({text}), the latest "
                    f"known {str(mine['known_date'].max())}"
                ),
                evidence=evidence_records(latest),
            )
        )
    return out
