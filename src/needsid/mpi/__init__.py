"""Alkire-Foster multidimensional poverty measures (H, A, M0, M1, M2) and MPI specs.

``alkire_foster`` identifies the poor with a dual cutoff and returns an ``MPIResult``;
``decompose``, ``dimension_contributions`` and ``explain`` break M0 down by subgroup,
by dimension and per unit; ``robustness`` varies k; ``load_spec`` reads an MPI definition
such as the Global MPI (shipped in ``needsid/mpi/specs/``, or your own in ``configs/mpi/``).
"""

from ._alkire_foster import alkire_foster, robustness
from ._decompose import decompose, dimension_contributions, explain
from ._household import DIMENSIONS, DeprivationProfile, household_profile
from ._inputs import DEPRIVED_IF, MISSING
from ._result import MPIResult
from ._spec import IndicatorSpec, MPISpec, alkire_foster_from_spec, load_spec
from ._transformer import DeprivationTransformer

__all__ = [
    "DIMENSIONS",
    "DEPRIVED_IF",
    "DeprivationProfile",
    "DeprivationTransformer",
    "MISSING",
    "IndicatorSpec",
    "MPIResult",
    "MPISpec",
    "alkire_foster",
    "alkire_foster_from_spec",
    "decompose",
    "dimension_contributions",
    "explain",
    "household_profile",
    "load_spec",
    "robustness",
]
