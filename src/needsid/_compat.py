"""The one place needsid handles differences between pandas 2 and 3 (and numpy releases).

Code elsewhere asks this module instead of testing versions itself, so a new pandas or
numpy release is dealt with here only (scikit-learn's are in
``needsid.models._sklearn_compat``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DUCKDB_MODULES",
    "NUMPY_GE_2",
    "PANDAS_GE_3",
    "PANDAS_STRING_DTYPE",
    "is_text_dtype",
    "pandas4_warnings_ignored",
    "text_frame",
]


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


PANDAS_GE_3 = _major(pd.__version__) >= 3
NUMPY_GE_2 = _major(np.__version__) >= 2

#: Top-level module of DuckDB's relation class: ``duckdb`` in 1.0-1.3 and from 2.0 on,
#: the ``_duckdb`` extension module in 1.4 and 1.5.
DUCKDB_MODULES = frozenset({"duckdb", "_duckdb"})

#: The dtype pandas gives a column of Python strings: ``str`` (pyarrow- or
#: numpy-backed, missing values are NaN) in pandas 3, ``object`` before.
PANDAS_STRING_DTYPE = "str" if PANDAS_GE_3 else "object"


def is_text_dtype(dtype: Any) -> bool:
    """Whether a pandas column of this dtype holds text (``object``, ``str`` or ``string``).

    ``dtype == object`` alone misses pandas 3's default ``str`` dtype.

    Examples
    --------
    >>> import pandas as pd
    >>> is_text_dtype(pd.Series(["a", "b"]).dtype), is_text_dtype(pd.Series([1.5]).dtype)
    (True, False)
    """
    return isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype)


def text_frame(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Build a DataFrame whose text columns are ``object`` and keep ``None`` for missing.

    pandas 3 infers its ``str`` dtype for text, where a missing value turns into NaN (and
    NaN is truthy, so ``value or "empty"`` stops working). Tables that document ``None``
    for "not given" are built here, the same on pandas 2 and 3; other columns keep the
    dtype pandas infers.

    Examples
    --------
    >>> frame = text_frame([("a", None, 1), ("b", "x", 2)], ["k", "note", "n"])
    >>> frame["note"].tolist(), str(frame["note"].dtype), str(frame["n"].dtype)
    ([None, 'x'], 'object', 'int64')
    """
    columns = list(columns)
    data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    out = {}
    for name, values in data.items():
        present = [v for v in values if v is not None]
        text = bool(present) and all(isinstance(v, str) for v in present)
        out[name] = pd.Series(values, dtype=object if text else None, name=name)
    return pd.DataFrame(out, columns=columns)


#: pandas 3's warning for what pandas 4 will refuse (absent before pandas 3)
_PANDAS4_WARNING = getattr(pd.errors, "Pandas4Warning", None)


@contextlib.contextmanager
def pandas4_warnings_ignored() -> Iterator[None]:
    """Silence pandas 3's ``Pandas4Warning`` around a call into a dependency.

    optbinning (``binning_table.build()`` enlarges a float frame with a mixed row) and
    fairlearn (``ExponentiatedGradient`` sets a missing key with ``.at``) do what pandas 3
    deprecates for pandas 4. Their results are right today and no needsid code can change
    them: the warning is for those projects to fix, not for needsid's users. Wrap the
    third-party call only, so that needsid's own code still shows such warnings. A
    no-op on pandas 2.
    """
    with warnings.catch_warnings():
        if _PANDAS4_WARNING is not None:
            warnings.simplefilter("ignore", _PANDAS4_WARNING)
        yield
