"""When an indicator fires: a feature compared with a value, or a rule of the default rule set.

What a condition names (a feature of the default feature spec, a rule id of the default
rule set) is checked when it is read; a problem names its ``definition.<field>``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

__all__ = ["OPERATORS", "FeatureCondition", "RuleCondition", "parse_definition"]

#: Comparisons a feature condition may use.
OPERATORS = (">", ">=", "<", "<=", "==", "!=")


class _Problems(ValueError):
    """Several field problems raised together from one validator."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in items))
        self.items = items


@cache
def _feature_names() -> tuple[str, ...]:
    """Return the features :func:`needsid.features.build` returns with the default spec."""
    from ..features import describe

    return tuple(describe()["name"])


@cache
def _rule_ids() -> tuple[str, ...]:
    """Return the rule ids of the default rule set."""
    from ..rules import load

    return tuple(load().ids)


def _suggest(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"Got {name}={value!r}; expected one of {', '.join(allowed)}.")
    return str(value)


class FeatureCondition(BaseModel):
    """An indicator that fires when a feature compares true with a value.

    A household whose feature is null (e.g. no deposit report) does not fire.

    Parameters
    ----------
    feature : str
        A feature of :func:`needsid.features.build` with the default spec (listed by
        :func:`needsid.features.describe`).
    op : {">", ">=", "<", "<=", "==", "!="}
        The comparison (:data:`OPERATORS`).
    value : float
        The number the feature is compared with.

    Examples
    --------
    >>> from needsid.indicators import FeatureCondition
    >>> cond = FeatureCondition(feature="housing_unsafe", op=">=", value=1)
    >>> cond.describe()
    'housing_unsafe >= 1'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str
    op: str
    value: float

    @field_validator("feature")
    @classmethod
    def _feature(cls, v: str) -> str:
        known = _feature_names()
        if v not in known:
            raise ValueError(
                f"unknown feature {v!r}; the features are listed by "
                f"needsid.features.describe().{_suggest(v, known)}"
            )
        return v

    @field_validator("op")
    @classmethod
    def _op(cls, v: str) -> str:
        return _choice("op", v, OPERATORS)

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(f"Got value={v!r}; expected a finite number, e.g. 1 or 0.5.")
        return float(v)

    def describe(self) -> str:
        """Return the condition as text, e.g. ``'n_death_12m >= 1'``.

        Returns
        -------
        str
            ``<feature> <op> <value>``, the value without trailing zeros.

        Examples
        --------
        >>> from needsid.indicators import FeatureCondition
        >>> FeatureCondition(feature="income_to_dibao", op="<", value=0.5).describe()
        'income_to_dibao < 0.5'
        """
        return f"{self.feature} {self.op} {self.value:g}"

    def expr(self) -> pl.Expr:
        """Return the polars expression that is true where the indicator fires.

        Returns
        -------
        polars.Expr
            Boolean, false (not null) where the feature is null.

        Examples
        --------
        >>> import polars as pl
        >>> from needsid.indicators import FeatureCondition
        >>> cond = FeatureCondition(feature="housing_unsafe", op=">=", value=1)
        >>> frame = pl.DataFrame({"housing_unsafe": [0.0, 1.0, None]})
        >>> frame.select(cond.expr())["housing_unsafe"].to_list()
        [False, True, False]
        """
        col, v = pl.col(self.feature), self.value
        compare = {
            ">": col > v,
            ">=": col >= v,
            "<": col < v,
            "<=": col <= v,
            "==": col == v,
            "!=": col != v,
        }[self.op]
        return compare.fill_null(False)


class RuleCondition(BaseModel):
    """An indicator that fires when a rule of the default rule set hits the household.

    The rule is evaluated without suppression (:meth:`needsid.rules.RuleSet.evaluate`
    with ``suppress=False``): the indicator fires in every month the rule's condition
    holds.

    Parameters
    ----------
    rule : str
        A rule id of the default rule set (``needsid.rules.load().ids``).

    Examples
    --------
    >>> from needsid.indicators import RuleCondition
    >>> RuleCondition(rule="death_working_age").describe()
    'rule death_working_age'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str

    @field_validator("rule")
    @classmethod
    def _rule(cls, v: str) -> str:
        known = _rule_ids()
        if v not in known:
            raise ValueError(
                f"unknown rule id {v!r}; expected a rule of the default rule set "
                f"(needsid.rules.load().ids).{_suggest(v, known)}"
            )
        return v

    def describe(self) -> str:
        """Return the condition as text: ``'rule <id>'``.

        Returns
        -------
        str
            The rule id after the word ``rule``.

        Examples
        --------
        >>> from needsid.indicators import RuleCondition
        >>> RuleCondition(rule="school_dropout").describe()
        'rule school_dropout'
        """
        return f"rule {self.rule}"


def parse_definition(v: Any) -> FeatureCondition | RuleCondition:
    """Parse a definition, raising every problem with its ``definition.<field>`` name."""
    if isinstance(v, FeatureCondition | RuleCondition):
        return v
    if not isinstance(v, Mapping) or ("feature" in v) == ("rule" in v):
        raise _Problems(
            [
                (
                    "definition",
                    f"Got definition={v!r}; expected either {{feature: <name>, op: <op>, "
                    "value: <number>}, e.g. {feature: housing_unsafe, op: '>=', value: 1}, "
                    "or {rule: <rule id>}, e.g. {rule: death_working_age}.",
                )
            ]
        )
    model: type[FeatureCondition] | type[RuleCondition]
    model = FeatureCondition if "feature" in v else RuleCondition
    try:
        return model.model_validate(dict(v))
    except ValidationError as exc:
        what = "a feature condition" if model is FeatureCondition else "a rule condition"
        raise _Problems(
            [
                (f"definition.{_loc(e['loc'])}", _message(e, tuple(model.model_fields), what))
                for e in exc.errors(include_url=False)
            ]
        ) from None


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
