"""The warning-indicator register (积分制) for dynamic monitoring (动态监测).

``load`` reads and validates a register (``configs/indicators/default.yaml``, also
shipped in the package): indicators from many departments, each a feature compared with
a value or a rule of the default rule set, with points that fade after the evidence
stops and the warning level it reaches alone. ``IndicatorRegister.score(bundle, as_of)``
returns every household's points, total and level (red / orange / yellow / none) as
``IndicatorScores``; ``score_months`` does several months at once.
``python -m needsid.indicators`` prints the register as a Markdown page.
"""

from ._conditions import OPERATORS, FeatureCondition, RuleCondition
from ._reference import register_reference
from ._register import DEFAULT_REGISTER, IndicatorRegister, load
from ._score import IndicatorScores
from ._spec import LEVELS, SOURCES, Indicator, IndicatorRegisterError, Thresholds

__all__ = [
    "DEFAULT_REGISTER",
    "LEVELS",
    "OPERATORS",
    "SOURCES",
    "FeatureCondition",
    "Indicator",
    "IndicatorRegister",
    "IndicatorRegisterError",
    "IndicatorScores",
    "RuleCondition",
    "Thresholds",
    "load",
    "register_reference",
]
