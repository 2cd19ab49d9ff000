"""Point-in-time household features: only what was known before ``as_of``."""

from ._build import build
from ._describe import describe
from ._spec import FAMILIES, FeatureSpec, load_spec

__all__ = ["FAMILIES", "FeatureSpec", "build", "describe", "load_spec"]
