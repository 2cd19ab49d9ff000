"""Sensitive features in any common form, as one frame of string labels with string names.

Names follow fairlearn's ``MetricFrame``: a column without a (string) name is called
``sensitive_feature_<i>``. Labels are ``str(value)``, so booleans read ``"True"`` and
``"False"`` as pandas and fairlearn print them; a missing value is a group of its own.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

if TYPE_CHECKING:
    import polars as pl

#: Label of a missing sensitive value: a group of its own, never dropped.
MISSING = "<missing>"
#: Prefix of the names given to unnamed sensitive features (fairlearn's).
UNNAMED = "sensitive_feature_"

#: Sensitive features in the forms ``audit`` accepts: one label per row, or one column
#: per attribute.
SensitiveFeatures: TypeAlias = (
    "npt.ArrayLike | pd.Series | pd.DataFrame | Mapping[Hashable, npt.ArrayLike] "
    "| pl.Series | pl.DataFrame"
)


def _name(name: Hashable, i: int) -> str:
    return name if isinstance(name, str) and name else f"{UNNAMED}{i}"


def _native(sf: SensitiveFeatures) -> SensitiveFeatures:
    """Polars (and other narwhals-supported) frames and series, as pandas."""
    if isinstance(sf, pd.Series | pd.DataFrame | np.ndarray | list | tuple | dict):
        return sf
    import narwhals as nw

    obj = nw.from_native(sf, pass_through=True, eager_only=True, allow_series=True)
    if isinstance(obj, nw.DataFrame | nw.Series):
        return obj.to_pandas()
    return sf


def sensitive_frame(
    sensitive_features: SensitiveFeatures, n: int, what: str = "predictions"
) -> pd.DataFrame:
    """Return the sensitive features as ``n`` rows of string labels, one column each.

    Accepts a 1-D or 2-D array, a list, a named or unnamed Series, a DataFrame (one
    column per attribute), a dict of columns, or a polars Series or DataFrame.
    """
    sf = _native(sensitive_features)
    if sf is None:
        raise TypeError(
            "Got sensitive_features=None; pass one group label per row (array, list or "
            "Series) or one column per attribute (DataFrame)."
        )
    columns: dict[str, npt.NDArray[np.object_]]
    if isinstance(sf, pd.Series):
        columns = {_name(sf.name, 0): sf.to_numpy(dtype=object)}
    elif isinstance(sf, pd.DataFrame | dict):
        frame = sf if isinstance(sf, pd.DataFrame) else pd.DataFrame(sf)
        columns = {}
        for i, name in enumerate(frame.columns):
            columns[_name(name, i)] = frame.iloc[:, i].to_numpy(dtype=object)
        if len(columns) < frame.shape[1]:
            raise ValueError(
                f"Got sensitive_features with repeated column names {list(frame.columns)!r}; "
                "give each attribute its own name."
            )
    else:
        arr = np.asarray(sf, dtype=object)
        if arr.ndim == 1:
            columns = {_name(None, 0): arr}
        elif arr.ndim == 2:
            columns = {_name(None, i): arr[:, i] for i in range(arr.shape[1])}
        else:
            raise ValueError(
                f"Got sensitive_features with {arr.ndim} dimensions; expected one label per "
                "row (1-D) or one column per attribute (2-D)."
            )
    if not columns:
        raise ValueError("Got sensitive_features without columns; pass at least one attribute.")
    lengths = {len(v) for v in columns.values()}
    if lengths != {n}:
        raise ValueError(
            f"Got {max(lengths)} rows of sensitive_features for {n} {what}; pass one "
            "label per row."
        )
    frame = pd.DataFrame(columns)
    return frame.where(frame.notna(), MISSING).astype(str)


def group_keys(frame: pd.DataFrame) -> npt.NDArray[np.object_]:
    """One label per row: the attributes' labels joined by ``" & "`` (intersections)."""
    key = frame.iloc[:, 0]
    if frame.shape[1] > 1:
        key = key.str.cat([frame.iloc[:, i] for i in range(1, frame.shape[1])], sep=" & ")
    keys: npt.NDArray[np.object_] = key.to_numpy(dtype=object)
    return keys


def group_label(names: Sequence[Hashable], key: Hashable) -> str:
    """``"region=north, urban=True"``: a group key with the names of its attributes."""
    values = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{name}={value}" for name, value in zip(names, values, strict=True))
