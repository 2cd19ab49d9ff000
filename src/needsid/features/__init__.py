"""Point-in-time household features: only what was known before ``as_of``."""

from ._build import FEATURE_FAMILIES, build, describe

__all__ = ["FEATURE_FAMILIES", "build", "describe"]
