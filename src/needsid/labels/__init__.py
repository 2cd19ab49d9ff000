"""Labels: who is in need over a horizon after ``as_of``, from the truth or what a county holds."""

from ._exit import EXIT_SOURCES, make_exit
from ._labels import BUNDLE_DEFAULT, SOURCES, make
from ._needs import NEED_INCOME_SOURCES, make_needs

__all__ = [
    "BUNDLE_DEFAULT",
    "EXIT_SOURCES",
    "NEED_INCOME_SOURCES",
    "SOURCES",
    "make",
    "make_exit",
    "make_needs",
]
