"""Rule sets as data: the pydantic models of a YAML rule set and errors that name the rule.

A rule set is checked rule by rule, so one error message lists every problem at once,
each as ``rule '<id>', field '<field>': <what is wrong and how to fix it>``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .._errors import ConfigError
from ..data import record_vocabulary
from ._base import FieldError, Params, Template
from ._coverage import OUTREACH_FEATURES
from ._templates_assets import ASSET_TEMPLATES
from ._templates_checks import CHECK_TEMPLATES
from ._templates_events import EVENT_TEMPLATES
from ._templates_exits import EXIT_TEMPLATES
from ._templates_payments import PAYMENT_TEMPLATES
from ._templates_process import PROCESS_TEMPLATES

__all__ = ["KINDS", "PROGRAMMES", "SEVERITIES", "TEMPLATES", "Rule", "RuleSetError", "check"]

KINDS = ("trigger", "cross_check", "exit", "outreach", "process")
SEVERITIES = ("low", "medium", "high")
PROGRAMMES = (
    "temporary_assistance",
    "dibao_review",
    "tekun_review",
    "medical_assistance",
    "education_assistance",
    "employment_assistance",
    "disability_services",
    "housing_assistance",
    "verification_visit",
    "manual_outreach",
    "exit_review",
    "overpayment_recovery",
    "process_supervision",
)
TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        *EVENT_TEMPLATES,
        *CHECK_TEMPLATES,
        *ASSET_TEMPLATES,
        *EXIT_TEMPLATES,
        *PROCESS_TEMPLATES,
        *PAYMENT_TEMPLATES,
    )
}
MAX_MONTHS = 120
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class RuleSetError(ConfigError):
    """A rule set that cannot be used; ``problems`` lists every problem found.

    A :class:`needsid.ConfigError`, like every other configuration error.

    Parameters
    ----------
    source : str
        What was read, named in the message (e.g. the quoted file path).
    problems : list of str
        Every problem, each naming the rule id and field.

    Examples
    --------
    >>> from needsid.rules import RuleSet, RuleSetError
    >>> try:
    ...     RuleSet.from_dict({"id": "x"}, source="x.yaml")
    ... except RuleSetError as err:
    ...     print(err)
    ...     print(len(err.problems))  # doctest: +NORMALIZE_WHITESPACE
    Invalid rule set x.yaml (3 problems):
      - field 'version': missing; a rule set needs it.
      - field 'description': missing; a rule set needs it.
      - field 'rules': missing; a rule set needs it.
    3
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        n = len(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        message = f"Invalid rule set {source} ({n} problem{'s' * (n != 1)}):\n{lines}"
        super().__init__(message, list(problems))


class _Problems(ValueError):
    """Several field problems raised together from a model validator."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in items))
        self.items = items


@cache
def record_kinds() -> frozenset[str]:
    """Every record kind of the vocabulary."""
    return frozenset(k for kinds in record_vocabulary().values() for k in kinds)


def _unknown_kind(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(record_kinds()), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown record kind {name!r}; the known kinds are listed by "
        f"needsid.data.record_vocabulary().{hint}"
    )


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"Got {name}={value!r}; expected one of {', '.join(allowed)}.")
    return value


def _months(name: str, value: Any, low: int, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_MONTHS:
        raise ValueError(
            f"Got {name}={value!r}; expected a whole number of months in {low}..{MAX_MONTHS}, "
            f"e.g. {example}."
        )
    return value


class Rule(BaseModel):
    """One rule of a rule set. Unknown keys are errors; ``thresholds`` are per template.

    The fields are also attributes.

    Parameters
    ----------
    id : str
        Lower-case identifier, unique in the set.
    kind : {"trigger", "cross_check", "exit", "outreach", "process"}
        What a hit asks for (``KINDS``): help after a shock, a check of a benefit
        against other records, a review for leaving a programme, a visit, or a look at
        how the case was handled (process supervision: late decisions, overdue reviews,
        payments that do not match the casework).
    description : str
        What the rule looks for, in plain language.
    template : str
        The vectorised implementation (see ``needsid.rules.TEMPLATES``).
    reads : tuple of str
        The record kinds (or, for ``outreach``, the features) the rule reads: exactly
        those its template uses with these thresholds.
    window_months : int
        Evidence window: records with ``event_date`` in the months before ``as_of``.
    thresholds : dict, default={}
        Template parameters, validated by the template's model.
    severity : {"low", "medium", "high"}
        Urgency of a hit (``SEVERITIES``).
    programme : str
        The programme a hit points to, one of ``PROGRAMMES``.
    suppress_months : int, default=0
        Do not fire for a household the rule fired for at any of the previous
        ``suppress_months`` monthly evaluations (0: never suppress).
    expires_months : int or None, default=None
        A hit stays valid for this many months after ``as_of`` (None: no expiry).

    Raises
    ------
    pydantic.ValidationError
        If a field is unknown, missing or invalid (:meth:`RuleSet.from_dict` turns these
        into one :class:`RuleSetError`).

    Examples
    --------
    >>> from needsid.rules import Rule
    >>> rule = Rule(id="death_any_age", kind="trigger", description="A member died.",
    ...             template="event", reads=("death",), window_months=3,
    ...             thresholds={"min_age": 16}, severity="high",
    ...             programme="temporary_assistance")
    >>> rule.params.min_age, rule.suppress_months
    (16, 0)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: str
    description: str = Field(min_length=1)
    template: str
    reads: tuple[str, ...] = Field(min_length=1)
    window_months: int
    thresholds: dict[str, Any] = Field(default_factory=dict)
    severity: str
    programme: str
    suppress_months: int = 0
    expires_months: int | None = None
    _params: Params = PrivateAttr()

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(
                f"Got id={v!r}; expected lower-case letters, digits and underscores, "
                "starting with a letter, e.g. 'death_working_age'."
            )
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return _choice("kind", v, KINDS)

    @field_validator("template")
    @classmethod
    def _template(cls, v: str) -> str:
        return _choice("template", v, tuple(TEMPLATES))

    @field_validator("severity")
    @classmethod
    def _severity(cls, v: str) -> str:
        return _choice("severity", v, SEVERITIES)

    @field_validator("programme")
    @classmethod
    def _programme(cls, v: str) -> str:
        return _choice("programme", v, PROGRAMMES)

    @field_validator("window_months", mode="before")
    @classmethod
    def _window(cls, v: Any) -> int:
        return _months("window_months", v, 1, 3)

    @field_validator("suppress_months", mode="before")
    @classmethod
    def _suppress(cls, v: Any) -> int:
        return _months("suppress_months", v, 0, 6)

    @field_validator("expires_months", mode="before")
    @classmethod
    def _expires(cls, v: Any) -> int | None:
        return None if v is None else _months("expires_months", v, 1, 3)

    @field_validator("reads")
    @classmethod
    def _reads(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        known = record_kinds() | set(OUTREACH_FEATURES)
        unknown = [r for r in v if r not in known]
        if unknown:
            raise ValueError(
                _unknown_kind(unknown[0])
                + f" Outreach rules read features: {', '.join(OUTREACH_FEATURES)}."
            )
        dup = sorted({r for r in v if v.count(r) > 1})
        if dup:
            raise ValueError(f"{dup!r} listed more than once.")
        return v

    @model_validator(mode="after")
    def _template_fit(self) -> Rule:
        template = TEMPLATES[self.template]
        try:
            params = template.params.model_validate(self.thresholds)
        except ValidationError as exc:
            raise _Problems(_threshold_problems(exc, template)) from None
        problems = []
        used = template.reads(params)
        if template.reads_features:
            bad = [r for r in self.reads if r not in OUTREACH_FEATURES]
            if bad:
                problems.append(
                    (
                        "reads",
                        f"{bad[0]!r} is not a feature; expected some of "
                        f"{', '.join(OUTREACH_FEATURES)}.",
                    )
                )
        else:
            bad = [r for r in (used or self.reads) if r not in record_kinds()]
            if bad:
                field = "reads" if used is None or bad[0] in self.reads else "thresholds"
                problems.append((field, _unknown_kind(bad[0])))
        if used is not None and set(used) != set(self.reads) and not problems:
            problems.append(
                (
                    "reads",
                    f"the {self.template!r} template with these thresholds reads "
                    f"{sorted(set(used))!r}, but reads lists {sorted(self.reads)!r}; "
                    "list exactly the kinds it reads.",
                )
            )
        need = template.min_window(params)
        if self.window_months < need:
            problems.append(
                (
                    "window_months",
                    f"Got window_months={self.window_months}; the {self.template!r} template "
                    f"with these thresholds looks at {need} months, so the window must be "
                    f"at least {need}.",
                )
            )
        if problems:
            raise _Problems(problems)
        self._params = params
        return self

    @property
    def params(self) -> Params:
        """The validated thresholds (the template's parameter model)."""
        return self._params


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> str:
    kind = err["type"]
    if kind == "missing":
        return f"missing; {what} needs it."
    if kind == "extra_forbidden":
        return f"unknown field; {what} takes {', '.join(allowed)}."
    if kind == "value_error":
        return str(err["ctx"]["error"])
    return f"{err['msg']} (got {err['input']!r})."


def _threshold_problems(exc: ValidationError, template: Template) -> list[tuple[str, str]]:
    out = []
    allowed = tuple(template.params.model_fields)
    for err in exc.errors(include_url=False):
        error = err.get("ctx", {}).get("error")
        field = _loc(err["loc"])
        if isinstance(error, FieldError):
            field = error.field
        msg = _message(err, allowed, f"the {template.name!r} template")
        if err["type"] == "missing":
            msg = f"missing threshold; the {template.name!r} template needs it."
        out.append((f"thresholds.{field}" if field else "thresholds", msg))
    return out


def _rule_problems(rid: str, exc: ValidationError) -> list[str]:
    out = []
    allowed = tuple(Rule.model_fields)
    for err in exc.errors(include_url=False):
        error = err.get("ctx", {}).get("error")
        if isinstance(error, _Problems):
            out += [f"rule {rid!r}, field {f!r}: {m}" for f, m in error.items]
            continue
        msg = _message(err, allowed, "a rule")
        out.append(f"rule {rid!r}, field {_loc(err['loc'])!r}: {msg}")
    return out


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = Field(min_length=1)
    rules: list[Any] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        if isinstance(v, int | float) and not isinstance(v, bool):
            raise ValueError(
                f"Got version={v!r}, a number; quote it so YAML keeps it as text, "
                f'e.g. version: "{v}".'
            )
        return v


def check(raw: Any) -> list[str]:
    """Return every problem of a raw rule set (a parsed YAML mapping); empty if valid."""
    if not isinstance(raw, dict):
        return [
            f"expected a mapping with id, version, description and rules; got "
            f"{type(raw).__name__}."
        ]
    problems = []
    try:
        _Header.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if err["loc"] and err["loc"][0] == "rules" and err["type"] != "missing":
                if not isinstance(raw.get("rules"), list):
                    problems.append("field 'rules': expected a list of rules.")
                    continue
            msg = _message(err, tuple(_Header.model_fields), "a rule set")
            problems.append(f"field {_loc(err['loc'])!r}: {msg}")
    listed = raw.get("rules")
    rules = listed if isinstance(listed, list) else []
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules, start=1):
        rid = rule.get("id") if isinstance(rule, dict) else None
        rid = rid if isinstance(rid, str) else f"#{i}"
        if not isinstance(rule, dict):
            problems.append(f"rule {rid!r}: expected a mapping of fields, got {rule!r}.")
            continue
        try:
            Rule.model_validate(rule)
        except ValidationError as exc:
            problems += _rule_problems(rid, exc)
        if rid in seen:
            problems.append(
                f"rule {rid!r}, field 'id': duplicate id (rules #{seen[rid]} and #{i}); "
                "give each rule its own id."
            )
        seen.setdefault(rid, i)
    return problems
