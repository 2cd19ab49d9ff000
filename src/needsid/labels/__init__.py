"""Labels: who is in need over a horizon after ``as_of`` (and, on simulated data, the oracle)."""

from ._labels import make

__all__ = ["make"]
