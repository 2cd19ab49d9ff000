"""Labels: who is in need over a horizon after ``as_of``, from the truth or what a county holds."""

from ._exit import EXIT_SOURCES, make_exit
from ._labels import BUNDLE_DEFAULT, SOURCES, make

__all__ = ["BUNDLE_DEFAULT", "EXIT_SOURCES", "SOURCES", "make", "make_exit"]
