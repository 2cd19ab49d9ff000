"""Labels: who is in need over a horizon after ``as_of``, from the truth or what a county holds."""

from ._labels import BUNDLE_DEFAULT, SOURCES, make

__all__ = ["BUNDLE_DEFAULT", "SOURCES", "make"]
