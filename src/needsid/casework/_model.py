"""The verification report as typed, frozen values: members, checks, evidence, income.

Everything here is plain data; :func:`needsid.casework.verification_report` fills it and
``_html`` renders it. ``to_dict`` gives the JSON form a service sends on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

__all__ = [
    "ANSWERS",
    "STATUSES",
    "Check",
    "EvidenceRecord",
    "IncomeAssessment",
    "Member",
    "ProgrammeFinding",
    "VerificationReport",
]

Status = Literal["fail", "no data", "not applicable", "pass"]
Answer = Literal["yes", "no", "cannot tell"]

#: Check statuses, most urgent first. "no data": the department the check reads holds no
#: record of the household, so nothing was verified (never "pass"). "not applicable":
#: the rule looks at recipients of a benefit the household was not paid in its window.
STATUSES: tuple[str, ...] = ("fail", "no data", "not applicable", "pass")
#: Answers to "would the assessed income qualify for the programme?".
ANSWERS: tuple[str, ...] = ("yes", "no", "cannot tell")
#: Version of the ``to_dict`` layout, sent with it so a service can check what it reads.
FORMAT = "needsid-verification-report/1"


def _jsonable(value: Any) -> Any:
    """Dates as ISO strings, tuples as lists, NaN as None: what ``json.dumps`` takes."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class EvidenceRecord:
    """One department record cited as evidence by a check.

    Parameters
    ----------
    record_id : str
        The record's id in the bundle.
    source : str
        The department that holds it (the record's ``source``).
    kind : str
        Record kind, e.g. ``"death"`` or ``"benefit_dibao"``.
    person_id : str or None
        The person the record names, if any.
    event_date : datetime.date
        When it happened.
    known_date : datetime.date
        When the department knew it (always before the report's ``as_of``).
    amount : float or None
        Yuan, where the kind has an amount.
    value : str or None
        The kind's value (a decision, a grade, a vehicle's use ...), if any.

    Examples
    --------
    >>> import datetime as dt
    >>> from needsid.casework import EvidenceRecord
    >>> r = EvidenceRecord("R1", "public_security", "death", "P1",
    ...                    dt.date(2024, 3, 2), dt.date(2024, 3, 9), None, None)
    >>> r.to_dict()["event_date"]
    '2024-03-02'
    """

    record_id: str
    source: str
    kind: str
    person_id: str | None
    event_date: dt.date
    known_date: dt.date
    amount: float | None
    value: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready values (dates as ISO strings).

        Returns
        -------
        dict
            ``record_id, source, kind, person_id, event_date, known_date, amount,
            value``.

        Examples
        --------
        >>> import datetime as dt
        >>> from needsid.casework import EvidenceRecord
        >>> EvidenceRecord("R1", "banking", "deposit_balance", None, dt.date(2024, 1, 5),
        ...                dt.date(2024, 2, 1), 61000.0, None).to_dict()["amount"]
        61000.0
        """
        out: dict[str, Any] = _jsonable(dataclasses.asdict(self))
        return out


@dataclass(frozen=True)
class Member:
    """A member of the household at the report's date.

    Parameters
    ----------
    person_id : str
        The person's id.
    relation : str
        Relation to the head (``head``, ``spouse``, ``child`` ...).
    sex : str
        ``F`` or ``M``.
    birth_date : datetime.date
        Date of birth.
    age : int
        Completed years at the report's date.
    disability_grade : int
        Most severe grade on the members table or certified before ``as_of``
        (1 most severe ... 4; 0 none).
    able_to_work : bool
        Aged 16-59 without a grade 1-2 disability (the tekun rules' labour capacity).
    hukou : str
        ``rural`` or ``urban``.
    joined_on : datetime.date
        Start of the membership spell.

    Examples
    --------
    >>> import datetime as dt
    >>> from needsid.casework import Member
    >>> m = Member("P1", "head", "F", dt.date(1950, 5, 1), 74, 0, False, "rural",
    ...            dt.date(2001, 1, 1))
    >>> m.able_to_work
    False
    """

    person_id: str
    relation: str
    sex: str
    birth_date: dt.date
    age: int
    disability_grade: int
    able_to_work: bool
    hukou: str
    joined_on: dt.date


@dataclass(frozen=True)
class Check:
    """One row of the report: a cross-check, an exit rule, or a department's records.

    Parameters
    ----------
    check_id : str
        The rule id, or ``records_<department>`` for a department row.
    kind : str
        ``cross_check``, ``exit`` (the rule's kind) or ``department``.
    description : str
        What the check looks for (the rule's description).
    department : str
        The department(s) whose records the check verifies against, comma-separated.
    compared : str
        What was compared with what, and over which window.
    status : {"fail", "no data", "not applicable", "pass"}
        ``fail``: the rule's condition holds (see ``evidence``); ``no data``: the
        department holds no record of the household or its members before ``as_of``,
        so nothing was verified; ``not applicable``: the rule checks recipients of a
        benefit the household was not paid in its window; ``pass``: checked and not
        met. A department row is ``pass`` when the department holds records.
    finding : str
        The finding in words (for ``fail``, the rule's evidence sentence).
    evidence : tuple of EvidenceRecord
        The records behind the finding (for ``pass``, the latest records compared).

    Raises
    ------
    ValueError
        If ``status`` is not one of ``STATUSES``.

    Examples
    --------
    >>> from needsid.casework import Check
    >>> c = Check("records_banking", "department", "Records held by banking", "banking",
    ...           "any record known before as_of", "no data", "no record", ())
    >>> c.status, c.evidence_ids
    ('no data', [])
    """

    check_id: str
    kind: str
    description: str
    department: str
    compared: str
    status: Status
    finding: str
    evidence: tuple[EvidenceRecord, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(
                f"Got status={self.status!r} for check {self.check_id!r}; "
                f"expected one of {', '.join(STATUSES)}."
            )

    @property
    def evidence_ids(self) -> list[str]:
        """Record ids of the evidence, in order."""
        return [r.record_id for r in self.evidence]


@dataclass(frozen=True)
class ProgrammeFinding:
    """Whether the assessed income would qualify the household for one programme.

    Parameters
    ----------
    programme : str
        ``dibao``, ``low_income`` (低保边缘) or ``tekun``.
    answer : {"yes", "no", "cannot tell"}
        ``cannot tell`` where the records cannot decide (no assessment, or a tekun
        condition no department records).
    reason : str
        Why, with the figures compared.

    Raises
    ------
    ValueError
        If ``answer`` is not one of ``ANSWERS``.

    Examples
    --------
    >>> from needsid.casework import ProgrammeFinding
    >>> ProgrammeFinding("dibao", "yes", "assessed 420 < standard 900").answer
    'yes'
    """

    programme: str
    answer: Answer
    reason: str

    def __post_init__(self) -> None:
        if self.answer not in ANSWERS:
            raise ValueError(
                f"Got answer={self.answer!r} for {self.programme!r}; "
                f"expected one of {', '.join(ANSWERS)}."
            )


@dataclass(frozen=True)
class IncomeAssessment:
    """The latest assessed income before ``as_of`` against the region's standards.

    Parameters
    ----------
    record_id : str or None
        The civil-affairs ``verification`` or ``review`` record assessed (None if the
        household has none with an amount known before ``as_of``).
    kind : str or None
        ``verification`` or ``review``.
    decision : str or None
        The record's value (``approved_dibao``, ``continue`` ...).
    event_date, known_date : datetime.date or None
        When the assessment was made and known.
    amount : float or None
        Assessed net income per person per month, yuan.
    dibao_standard : float
        The region's dibao standard, yuan per person per month.
    low_income_multiplier : float
        The region's low-income multiplier.
    low_income_line : float
        ``dibao_standard`` x ``low_income_multiplier``.
    tekun_standard : float
        The region's tekun standard, yuan per person per month.
    programmes : tuple of ProgrammeFinding
        ``dibao``, ``low_income`` and ``tekun``, in that order.

    Examples
    --------
    >>> from needsid.casework import IncomeAssessment
    >>> a = IncomeAssessment(None, None, None, None, None, None, 900.0, 1.5, 1350.0,
    ...                      1170.0, ())
    >>> a.assessed
    False
    """

    record_id: str | None
    kind: str | None
    decision: str | None
    event_date: dt.date | None
    known_date: dt.date | None
    amount: float | None
    dibao_standard: float
    low_income_multiplier: float
    low_income_line: float
    tekun_standard: float
    programmes: tuple[ProgrammeFinding, ...]

    @property
    def assessed(self) -> bool:
        """Whether an assessed income is known before ``as_of``."""
        return self.amount is not None


@dataclass(frozen=True)
class VerificationReport:
    """A household's verification against every department (核对报告), at one date.

    Build one with :func:`needsid.casework.verification_report`. It holds the
    household's ids: it is a caseworker's document, not for publication.

    Parameters
    ----------
    household_id : str
        The household verified.
    as_of : datetime.date
        Only records known before this date were read.
    region_id : str
        The household's region.
    urban : bool
        Whether the region is urban.
    formed_on : datetime.date
        When the household was formed.
    dissolved_on : datetime.date or None
        When it was dissolved (None if it still exists); its members are then those
        of its last day.
    members : tuple of Member
        Members at ``as_of`` (or at dissolution).
    checks : tuple of Check
        The rule checks (cross-checks and exits, in rule-set order), then one row per
        department.
    income : IncomeAssessment
        The assessed income against the region's standards.
    rule_set_id, rule_set_version : str
        The rule set the checks come from.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> report = ni.casework.verification_report(pop.bundle, "H0000001", pop.end)
    >>> report.household_id, report.size == len(report.members)
    ('H0000001', True)
    >>> {c.status for c in report.checks} <= set(ni.casework.STATUSES)
    True
    """

    household_id: str
    as_of: dt.date
    region_id: str
    urban: bool
    formed_on: dt.date
    dissolved_on: dt.date | None
    members: tuple[Member, ...]
    checks: tuple[Check, ...]
    income: IncomeAssessment
    rule_set_id: str
    rule_set_version: str

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}={n}" for s, n in self.status_counts().items() if n)
        return (
            f"VerificationReport(as_of={self.as_of.isoformat()}, {len(self.checks)} checks: "
            f"{counts})"
        )

    @property
    def size(self) -> int:
        """Number of members at ``as_of`` (at dissolution for a dissolved household)."""
        return len(self.members)

    def check(self, check_id: str) -> Check:
        """Return the check with id ``check_id``.

        Parameters
        ----------
        check_id : str
            A rule id (e.g. ``"paid_after_death"``) or ``records_<department>``.

        Returns
        -------
        Check
            The row of that id.

        Raises
        ------
        KeyError
            If the report has no such check; the message lists the ids it has.

        Examples
        --------
        >>> import needsid as ni
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> report = ni.casework.verification_report(pop.bundle, "H0000001", pop.end)
        >>> report.check("records_civil_affairs").kind
        'department'
        """
        for c in self.checks:
            if c.check_id == check_id:
                return c
        ids = [c.check_id for c in self.checks]
        raise KeyError(f"No check {check_id!r} in the report; it has {ids!r}.")

    def status_counts(self) -> dict[str, int]:
        """Return how many checks have each status, every status listed.

        Returns
        -------
        dict
            ``{status: count}`` in the order of ``STATUSES``.

        Examples
        --------
        >>> import needsid as ni
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> report = ni.casework.verification_report(pop.bundle, "H0000001", pop.end)
        >>> sum(report.status_counts().values()) == len(report.checks)
        True
        """
        return {s: sum(c.status == s for c in self.checks) for s in STATUSES}

    def to_frame(self) -> pl.DataFrame:
        """Return one row per check as a polars DataFrame.

        Returns
        -------
        polars.DataFrame
            ``check_id, kind, department, compared, status, finding,
            evidence_record_ids`` (a list of record ids), in report order.

        Examples
        --------
        >>> import needsid as ni
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> report = ni.casework.verification_report(pop.bundle, "H0000001", pop.end)
        >>> report.to_frame().columns[:3]
        ['check_id', 'kind', 'department']
        """
        rows = [
            {
                "check_id": c.check_id,
                "kind": c.kind,
                "department": c.department,
                "compared": c.compared,
                "status": c.status,
                "finding": c.finding,
                "evidence_record_ids": c.evidence_ids,
            }
            for c in self.checks
        ]
        schema: dict[str, Any] = {
            "check_id": pl.String,
            "kind": pl.String,
            "department": pl.String,
            "compared": pl.String,
            "status": pl.String,
            "finding": pl.String,
            "evidence_record_ids": pl.List(pl.String),
        }
        return pl.DataFrame(rows, schema=schema)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-serialisable values, for a service.

        Returns
        -------
        dict
            ``format`` (the layout's version), the fields of the report (dates as ISO
            strings, tuples as lists, nested values as dicts), ``size`` and
            ``status_counts``. ``json.dumps`` takes it as it is.

        Examples
        --------
        >>> import json
        >>> import needsid as ni
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> report = ni.casework.verification_report(pop.bundle, "H0000001", pop.end)
        >>> d = json.loads(json.dumps(report.to_dict()))
        >>> d["format"], d["as_of"]
        ('needsid-verification-report/1', '2024-01-01')
        """
        out = {"format": FORMAT, **dataclasses.asdict(self)}
        out["size"] = self.size
        out["status_counts"] = self.status_counts()
        jsonable: dict[str, Any] = _jsonable(out)
        return jsonable

    def to_json(self, indent: int | None = 2) -> str:
        """Return :meth:`to_dict` as JSON text (UTF-8 characters kept as they are).

        Parameters
        ----------
        indent : int or None, default 2
            Passed to ``json.dumps``; None for one line.

        Returns
        -------
        str
            The JSON document.

        Examples
        --------
        >>> import needsid as ni
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> report = ni.casework.verification_report(pop.bundle, "H0000001", pop.end)
        >>> report.to_json(indent=None).startswith('{"format": ')
        True
        """
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_html(self) -> str:
        """Return the report as one self-contained, printable HTML page.

        Inline CSS (with print rules), no script and no network access; every label is
        in Chinese and English, and every value is escaped.

        Returns
        -------
        str
            The HTML document.

        Examples
        --------
        >>> import needsid as ni
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> report = ni.casework.verification_report(pop.bundle, "H0000001", pop.end)
        >>> page = report.to_html()
        >>> "核对项目 / Check" in page and "<script" not in page
        True
        """
        from ._html import render

        return render(self)
