"""Trigger, cross-check, exit and outreach rules: YAML rule sets, hits with evidence.

``load`` reads and validates a rule set (``configs/rules/default.yaml``);
``RuleSet.evaluate(bundle, as_of)`` returns ``RuleHits`` (one row per hit with the
record ids and values that made it fire); ``household_attributes`` gives the groups
``RuleHits.by_group`` compares. Rules are instances of a few vectorised templates
(``TEMPLATES``), not an expression language.
"""

from ._audit import household_attributes
from ._engine import DEFAULT_RULES, RuleSet, load
from ._hits import RuleHits
from ._spec import KINDS, PROGRAMMES, SEVERITIES, TEMPLATES, Rule, RuleSetError

__all__ = [
    "DEFAULT_RULES",
    "KINDS",
    "PROGRAMMES",
    "SEVERITIES",
    "TEMPLATES",
    "Rule",
    "RuleHits",
    "RuleSet",
    "RuleSetError",
    "household_attributes",
    "load",
]
