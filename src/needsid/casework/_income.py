"""The household's members at a date, and its assessed income against the local standards.

The programmes follow the rules the simulator and ``needsid.labels`` use: dibao below
the dibao standard; low income (低保边缘) from the standard up to the low-income line
(standard x multiplier); tekun (特困) below the tekun standard with no member able to
work (aged 16-59 without a grade 1-2 disability) and no legal supporter able to support
the household, which no department records: tekun is at best "cannot tell".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from ._model import IncomeAssessment, Member, ProgrammeFinding

__all__ = ["assessment", "members_at"]

ASSESSMENT_KINDS = ("verification", "review")
# labour capacity, as the simulator and needsid.labels count it
WORKING_AGE = (16, 60)
SEVERE_GRADES = (1, 2)


def _age(birth: dt.date, at: dt.date) -> int:
    """Completed years at ``at`` (29 February birthdays count on 1 March)."""
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def members_at(
    members: pl.DataFrame, records: pl.DataFrame, household_id: str, at: dt.date, as_of: dt.date
) -> tuple[Member, ...]:
    """Members whose spell is open at ``at`` (joined before it, not left before it).

    Ages are taken at ``at``; a disability grade is the most severe of the members
    table's and of the ``disability_certified`` records known before ``as_of``.
    """
    spells = members.filter(
        (pl.col("household_id") == household_id)
        & (pl.col("joined_on") < at)
        & (pl.col("left_on").is_null() | (pl.col("left_on") >= at))
    ).sort("joined_on", "person_id")
    certified = (
        records.filter(
            (pl.col("kind") == "disability_certified")
            & (pl.col("known_date") < as_of)
            & pl.col("person_id").is_in(spells["person_id"].implode())
            & pl.col("value").str.contains(r"^[1-4]$")
        )
        .group_by("person_id")
        .agg(pl.col("value").cast(pl.Int64).min().alias("certified"))
    )
    grades = dict(certified.iter_rows())
    out = []
    for row in spells.iter_rows(named=True):
        age = _age(row["birth_date"], at)
        known = [g for g in (row["disability_grade"], grades.get(row["person_id"])) if g]
        grade = min(known) if known else 0
        able = WORKING_AGE[0] <= age < WORKING_AGE[1] and grade not in SEVERE_GRADES
        out.append(
            Member(
                person_id=row["person_id"],
                relation=row["relation"],
                sex=row["sex"],
                birth_date=row["birth_date"],
                age=age,
                disability_grade=int(grade),
                able_to_work=able,
                hukou=row["hukou"],
                joined_on=row["joined_on"],
            )
        )
    return tuple(out)


def _yuan(x: float) -> str:
    return f"{x:,.0f} yuan"


def _programmes(
    amount: float | None, region: dict[str, Any], members: tuple[Member, ...], when: str
) -> tuple[ProgrammeFinding, ...]:
    dibao, line = region["dibao_standard"], region["low_income_line"]
    tekun = region["tekun_standard"]
    if amount is None:
        why = f"no assessed income (verification or review) known before {when}"
        return tuple(
            ProgrammeFinding(p, "cannot tell", why) for p in ("dibao", "low_income", "tekun")
        )
    a = _yuan(amount)
    if amount < dibao:
        out = [
            ProgrammeFinding(
                "dibao",
                "yes",
                f"assessed {a} per person per month < dibao standard {_yuan(dibao)} (income "
                "test only: see the asset checks)",
            ),
            ProgrammeFinding(
                "low_income", "no", f"assessed {a} is below the dibao standard: dibao instead"
            ),
        ]
    else:
        out = [
            ProgrammeFinding("dibao", "no", f"assessed {a} >= dibao standard {_yuan(dibao)}"),
            ProgrammeFinding(
                "low_income",
                "yes" if amount < line else "no",
                f"assessed {a} {'<' if amount < line else '>='} low-income line {_yuan(line)} "
                f"(dibao standard x {region['low_income_multiplier']:g})",
            ),
        ]
    able = [m for m in members if m.able_to_work]
    if amount >= tekun:
        out.append(
            ProgrammeFinding("tekun", "no", f"assessed {a} >= tekun standard {_yuan(tekun)}")
        )
    elif able:
        names = ", ".join(f"{m.person_id} (age {m.age})" for m in able)
        out.append(
            ProgrammeFinding(
                "tekun",
                "no",
                f"{names} of working age (16-59) without a grade 1-2 disability: the "
                "household has labour capacity",
            )
        )
    elif not members:
        out.append(ProgrammeFinding("tekun", "cannot tell", "no members on record"))
    else:
        out.append(
            ProgrammeFinding(
                "tekun",
                "cannot tell",
                f"assessed {a} < tekun standard {_yuan(tekun)} and no member able to work, "
                "but whether a legal supporter (法定赡养、抚养、扶养义务人) can support the "
                "household is in no department's records",
            )
        )
    return tuple(out)


def assessment(
    records: pl.DataFrame,
    household_id: str,
    as_of: dt.date,
    region: dict[str, Any],
    members: tuple[Member, ...],
) -> IncomeAssessment:
    """Return the latest verification or review with an amount known before ``as_of``."""
    latest = (
        records.filter(
            (pl.col("household_id") == household_id)
            & pl.col("kind").is_in(ASSESSMENT_KINDS)
            & (pl.col("known_date") < as_of)
            & pl.col("amount").is_not_null()
        )
        .sort("event_date", "known_date", "record_id")
        .tail(1)
    )
    row = latest.row(0, named=True) if latest.height else {}
    amount = row.get("amount")
    std = {
        "dibao_standard": float(region["dibao_standard"]),
        "low_income_multiplier": float(region["low_income_multiplier"]),
        "low_income_line": float(region["dibao_standard"] * region["low_income_multiplier"]),
        "tekun_standard": float(region["tekun_standard"]),
    }
    return IncomeAssessment(
        record_id=row.get("record_id"),
        kind=row.get("kind"),
        decision=row.get("value"),
        event_date=row.get("event_date"),
        known_date=row.get("known_date"),
        amount=None if amount is None else float(amount),
        **std,
        programmes=_programmes(amount, std, members, str(as_of)),
    )
