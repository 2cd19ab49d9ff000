"""Casework: the verification report (核对报告) of one household against every department.

``verification_report(bundle, household_id, as_of)`` runs the rule set's cross-checks
and exits for one household, lists which departments hold records of it, and compares
its latest assessed income with the local standards. A check whose department holds no
record of the household says "no data", never "pass". ``VerificationReport.to_html()``
gives a printable bilingual page; ``to_dict()`` the JSON form for a service.
"""

from ._model import (
    ANSWERS,
    STATUSES,
    Check,
    EvidenceRecord,
    IncomeAssessment,
    Member,
    ProgrammeFinding,
    VerificationReport,
)
from ._verify import verification_report

__all__ = [
    "ANSWERS",
    "STATUSES",
    "Check",
    "EvidenceRecord",
    "IncomeAssessment",
    "Member",
    "ProgrammeFinding",
    "VerificationReport",
    "verification_report",
]
