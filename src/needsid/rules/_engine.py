"""RuleSet: load a YAML rule set and evaluate it on a bundle at a date.

Definitions every template follows:

- Point in time: only records with ``known_date < as_of`` exist. The evidence window is
  ``event_date`` in [``as_of`` - ``window_months``, ``as_of``); records that describe a
  state (a death, an imprisonment, an asset) count whenever they happened.
- Household of a hit: the one named on the evidence record (the household that was
  paid, or where the event was recorded). Triggers, exits and outreach only report
  households alive at ``as_of``; cross-checks and process rules also report dissolved
  ones.
- Suppression: a hit for household h at ``as_of`` is dropped when the same rule,
  evaluated at any of the monthly dates ``as_of`` - 1 .. ``suppress_months`` months on
  the records known by then, would have fired for h (for any of its people). A
  household is flagged once per episode, not every month its evidence stays in the
  window. Only the households hit now are re-evaluated, so it costs little.
- Expiry: a hit carries ``expires_on`` = ``as_of`` + ``expires_months``; after it, an
  unhandled hit is stale.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field

from .._dates import as_date, months_after, months_before
from .._yaml import safe_load
from ..data import HouseholdData
from ._frames import EMPTY_HITS, Context
from ._hits import HIT_COLUMNS, RuleHits
from ._spec import TEMPLATES, Rule, RuleSetError, check

__all__ = ["DEFAULT_RULES", "RuleSet", "load"]

logger = logging.getLogger(__name__)


class RuleSet(BaseModel):
    """A versioned set of trigger, cross-check, exit, outreach and process rules.

    Build one with :func:`load` (a YAML file) or :meth:`from_dict`, which report every
    problem at once with the rule id and field. The fields are also attributes.

    Parameters
    ----------
    id, version, description : str
        Identify the set; ``version`` is stamped on every hit.
    rules : tuple of Rule
        In evaluation (and output) order.

    Examples
    --------
    >>> from needsid.rules import load
    >>> rules = load()
    >>> rules.id, rules.version, len(rules.rules)
    ('default', '2026.2', 22)
    >>> rules.ids[:2]
    ['death_working_age', 'hospital_oop_absolute']
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: str
    description: str
    rules: tuple[Rule, ...] = Field(min_length=1)

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<dict>") -> RuleSet:
        """Validate a parsed rule set; raise :class:`RuleSetError` listing every problem.

        Parameters
        ----------
        raw : dict
            ``id, version, description, rules`` as read from YAML.
        source : str, default="<dict>"
            Named in the error message (e.g. the file path).

        Returns
        -------
        RuleSet
            The validated rule set.

        Raises
        ------
        RuleSetError
            Listing every problem, each naming the rule id and field.

        Examples
        --------
        >>> from needsid.rules import RuleSet
        >>> rule = {"id": "death_any_age", "kind": "trigger",
        ...         "description": "A household member died.", "template": "event",
        ...         "reads": ["death"], "window_months": 3, "severity": "high",
        ...         "programme": "temporary_assistance"}
        >>> raw = {"id": "mine", "version": "1", "description": "One rule.", "rules": [rule]}
        >>> RuleSet.from_dict(raw).ids
        ['death_any_age']
        >>> bad = {**raw, "rules": [{**rule, "kind": "alarm"}]}
        >>> RuleSet.from_dict(bad, source="mine.yaml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        needsid.rules._spec.RuleSetError: Invalid rule set mine.yaml (1 problem):
          - rule 'death_any_age', field 'kind': Got kind='alarm'; expected one of trigger, ...
        """
        problems = check(raw)
        if problems:
            raise RuleSetError(source, problems)
        return cls.model_validate(raw)

    def rule(self, rule_id: str) -> Rule:
        """Return the rule with id ``rule_id``.

        Parameters
        ----------
        rule_id : str
            One of :attr:`ids`.

        Returns
        -------
        Rule
            The rule of that id.

        Raises
        ------
        KeyError
            If the set has no rule of that id.

        Examples
        --------
        >>> from needsid.rules import load
        >>> rule = load().rule("death_working_age")
        >>> rule.kind, rule.window_months, rule.thresholds
        ('trigger', 3, {'min_age': 16, 'max_age': 59})
        """
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"No rule {rule_id!r} in rule set {self.id!r}; it has {self.ids!r}.")

    @property
    def ids(self) -> list[str]:
        """Rule ids in order."""
        return [r.id for r in self.rules]

    def select(
        self, kinds: Collection[str] | None = None, ids: Collection[str] | None = None
    ) -> RuleSet:
        """Return the rule set restricted to some rule kinds and/or ids (same version).

        Parameters
        ----------
        kinds : collection of str, optional
            Keep rules of these kinds (``KINDS``); None keeps every kind.
        ids : collection of str, optional
            Keep rules with these ids; None keeps every id.

        Returns
        -------
        RuleSet
            The kept rules, in their order, under the same id and version.

        Raises
        ------
        ValueError
            If no rule matches.

        Examples
        --------
        >>> from needsid.rules import load
        >>> load().select(kinds=["exit"]).ids
        ['exit_income_above_line', 'exit_stable_employment']
        """
        keep = [
            r
            for r in self.rules
            if (kinds is None or r.kind in kinds) and (ids is None or r.id in ids)
        ]
        if not keep:
            raise ValueError(f"No rule of {self.id!r} matches kinds={kinds!r}, ids={ids!r}.")
        return self.model_copy(update={"rules": tuple(keep)})

    def evaluate(
        self, bundle: HouseholdData, as_of: dt.date | str, *, suppress: bool = True
    ) -> RuleHits:
        """Evaluate every rule at ``as_of`` on the records known before it.

        Parameters
        ----------
        bundle : HouseholdData
            The pandas or polars tables (pandas is converted to polars for the work).
        as_of : date or str
            Only records with ``known_date < as_of`` are read; windows end at ``as_of``.
        suppress : bool, default True
            Apply each rule's ``suppress_months``. Pass False to list every household the
            rule's condition holds for at ``as_of`` (e.g. to measure precision and recall).

        Returns
        -------
        RuleHits
            One row per hit (:meth:`RuleHits.to_frame`). Hits of triggers, exits and
            outreach are limited to households alive at ``as_of``; cross-checks and
            process rules also report dissolved households (payments to them are still
            overpayments).

        Raises
        ------
        TypeError
            If ``bundle`` is not a :class:`needsid.data.HouseholdData`.

        Examples
        --------
        >>> import needsid as ni
        >>> from needsid.rules import load
        >>> pop = ni.simulate(n_households=2_000, months=12, seed=0)
        >>> rules = load("configs/rules/default.yaml")
        >>> hits = rules.evaluate(pop.bundle, as_of="2024-01-01")
        >>> frame = hits.to_frame()
        >>> frame.columns[:4]
        ['household_id', 'person_id', 'rule_id', 'kind']
        >>> set(frame["rule_set_version"]) == {rules.version}
        True
        >>> bool((frame["as_of"] == hits.as_of).all())
        True
        """
        if not isinstance(bundle, HouseholdData):
            raise TypeError(
                f"Got bundle of type {type(bundle).__name__}; expected a HouseholdData."
            )
        as_of = as_date(as_of)
        backend = bundle.backend
        pb = bundle if backend == "polars" else bundle.to_polars()
        ctx = Context(pb, as_of)
        frames = []
        for rule in self.rules:
            hits = _fire(ctx, rule, as_of)
            if suppress and rule.suppress_months and hits.height:
                # only the households hit now can be suppressed: re-evaluate on them alone
                sub = ctx.restrict(hits["household_id"])
                earlier = [
                    _fire(sub, rule, months_before(as_of, k)).select("household_id")
                    for k in range(1, rule.suppress_months + 1)
                ]
                hits = hits.join(pl.concat(earlier).unique(), on="household_id", how="anti")
            expires = months_after(as_of, rule.expires_months) if rule.expires_months else None
            frames.append(
                hits.sort("household_id", "person_id", nulls_last=True).with_columns(
                    rule_id=pl.lit(rule.id),
                    kind=pl.lit(rule.kind),
                    rule_set_id=pl.lit(self.id),
                    rule_set_version=pl.lit(self.version),
                    as_of=pl.lit(as_of, pl.Date),
                    severity=pl.lit(rule.severity),
                    programme=pl.lit(rule.programme),
                    expires_on=pl.lit(expires, pl.Date),
                )
            )
            logger.debug("rule %s: %d hits", rule.id, hits.height)
        frame = pl.concat(frames).select(HIT_COLUMNS)
        rules = tuple(
            {"rule_id": r.id, "kind": r.kind, "severity": r.severity, "programme": r.programme}
            for r in self.rules
        )
        return RuleHits(frame, as_of, self.id, self.version, backend, rules)


def _fire(ctx: Context, rule: Rule, as_of: dt.date) -> pl.DataFrame:
    """Hits of one rule at one date, before suppression."""
    template = TEMPLATES[rule.template]
    hits = template.run(ctx, rule.params, rule.reads, rule.window_months, as_of)
    if rule.kind not in ("cross_check", "process"):
        hits = ctx.alive(hits, as_of)
    return hits if hits.height else EMPTY_HITS


#: The rule set shipped in the package (``configs/rules/default.yaml`` links to it).
DEFAULT_RULES = Path(__file__).with_name("default.yaml")


def load(path: str | os.PathLike[str] = "default") -> RuleSet:
    """Read and validate a YAML rule set.

    Parameters
    ----------
    path : str or os.PathLike, default="default"
        A YAML file with top-level ``id``, ``version`` (quoted text), ``description`` and
        ``rules``; see ``configs/rules/default.yaml``. ``"default"`` is the rule set
        shipped inside the package (the same file).

    Returns
    -------
    RuleSet
        The validated rule set.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    RuleSetError
        Listing every problem, each naming the rule id and field (unknown kind,
        template or record kind, bad window, missing threshold, duplicate id ...).

    Examples
    --------
    >>> from needsid.rules import load
    >>> rules = load("configs/rules/default.yaml")
    >>> rules.id, rules.version
    ('default', '2026.2')
    >>> rules.rule("death_working_age").kind
    'trigger'
    >>> load("default").version == rules.version
    True
    """
    if str(path) == "default":
        path = DEFAULT_RULES
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Rule set {str(path)!r} not found; pass a YAML file path.")
    try:
        raw = safe_load(path.read_text("utf-8"), repr(str(path)))
    except yaml.YAMLError as exc:
        raise RuleSetError(repr(str(path)), [f"not valid YAML: {exc}"]) from None
    return RuleSet.from_dict(raw, source=repr(str(path)))
