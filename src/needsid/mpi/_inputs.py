"""Checks and coercions for Alkire-Foster inputs, each error naming what to change."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

DEPRIVED_IF = ("below", "at_or_below", "above", "at_or_above")
MISSING = ("raise", "deprived", "reweight")
# Scores are sums of float weights: 3 x 1/9 is not exactly 1/3.
TOLERANCE = 1e-12
_EXAMPLE_IDS = 3


def as_frame(matrix: Any) -> pd.DataFrame:
    """Return the achievement matrix as a float pandas DataFrame (a copy)."""
    if isinstance(matrix, np.ndarray):
        if matrix.ndim != 2:
            raise ValueError(
                f"Got a {matrix.ndim}-D array as matrix; expected a 2-D array "
                "(rows = units, columns = indicators)."
            )
        frame = pd.DataFrame(matrix, columns=[f"x{j}" for j in range(matrix.shape[1])])
    elif isinstance(matrix, pd.DataFrame):
        frame = matrix
    else:
        frame = _from_other_dataframe(matrix)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(
            f"Got an achievement matrix of shape {frame.shape}; it needs at least one unit "
            "(row) and one indicator (column)."
        )
    names = [str(c) for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"Indicator names must be unique; {duplicated!r} appear more than once.")
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()].unique()[:_EXAMPLE_IDS].tolist()
        raise ValueError(
            f"Unit ids (the matrix index) must be unique; e.g. {dup!r} repeat. "
            "Pass matrix.reset_index(drop=True) or unique ids."
        )
    bad = {
        name: str(dtype)
        for name, dtype in zip(names, frame.dtypes, strict=True)
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
    }
    if bad:
        raise ValueError(
            f"Indicator columns must be numeric or boolean; got {bad!r}. Encode them as numbers "
            "first (e.g. 1 = deprived for yes/no indicators)."
        )
    values = frame.to_numpy(dtype=float, na_value=np.nan)
    out = pd.DataFrame(values, index=frame.index.copy(), columns=names)
    infinite = [n for n in names if np.isinf(out[n].to_numpy()).any()]
    if infinite:
        raise ValueError(
            f"Indicators {infinite!r} hold infinite values; achievements must be finite "
            "(use NaN for a missing value)."
        )
    return out


def _from_other_dataframe(matrix: Any) -> pd.DataFrame:
    import narwhals as nw

    try:
        native = nw.from_native(matrix, eager_only=True)
    except TypeError:
        native = None
    if native is None or not isinstance(native, nw.DataFrame):
        raise TypeError(
            f"Got matrix of type {type(matrix).__name__}; expected a pandas or polars "
            "DataFrame or a 2-D numpy array (rows = units, columns = indicators)."
        )
    return native.to_pandas()


def per_indicator(value: Any, names: Sequence[str], param: str) -> np.ndarray:
    """Align a mapping name -> number or a sequence to the indicators, as floats."""
    if isinstance(value, Mapping):
        keys = [str(k) for k in value]
        unknown = [k for k in keys if k not in names]
        missing = [n for n in names if n not in keys]
        if unknown or missing:
            parts = []
            if missing:
                parts.append(f"misses indicators {missing!r}")
            if unknown:
                parts.append(f"names unknown indicators {unknown!r}")
            raise ValueError(f"{param} {' and '.join(parts)}; the indicators are {list(names)!r}.")
        raw = [value[k] for k in _keys_in_order(value, names)]
    elif isinstance(value, pd.Series):
        return per_indicator(value.to_dict(), names, param)
    elif isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(
            f"Got {param}={value!r}; expected a mapping indicator -> number or a sequence "
            f"with one number per indicator ({len(names)})."
        )
    else:
        raw = list(value)
        if len(raw) != len(names):
            raise ValueError(
                f"Got {len(raw)} {param} for {len(names)} indicators {list(names)!r}; pass one "
                "per indicator, in column order, or a mapping indicator -> number."
            )
    out = np.empty(len(names))
    for j, v in enumerate(raw):
        if isinstance(v, bool) or not isinstance(v, Real):
            raise TypeError(f"Got {param}[{names[j]!r}]={v!r}; expected a number.")
        out[j] = float(v)
    non_finite = [n for n, v in zip(names, out, strict=True) if not math.isfinite(v)]
    if non_finite:
        raise ValueError(
            f"Got missing or non-finite {param} for {non_finite!r}; each indicator needs a "
            "finite number."
        )
    return out


def _keys_in_order(mapping: Mapping[Any, Any], names: Sequence[str]) -> list[Any]:
    by_name = {str(k): k for k in mapping}
    return [by_name[n] for n in names]


def normalised_weights(weights: Any, names: Sequence[str]) -> np.ndarray:
    """Equal weights by default; otherwise non-negative weights scaled to sum to 1."""
    if weights is None:
        return np.full(len(names), 1.0 / len(names))
    w = per_indicator(weights, names, "weights")
    negative = [n for n, v in zip(names, w, strict=True) if v < 0]
    if negative:
        raise ValueError(
            f"Got negative weights for {negative!r}; weights must be >= 0 (they are "
            "normalised to sum to 1)."
        )
    total = w.sum()
    if total <= 0:
        raise ValueError(
            "Got weights that are all zero; at least one indicator needs a positive weight "
            "(weights=None gives equal weights)."
        )
    normalised: np.ndarray = w / total
    return normalised


def check_k(k: Any) -> float:
    """Return k as a float in (0, 1], or raise naming it."""
    if isinstance(k, bool) or not isinstance(k, Real) or not (0 < float(k) <= 1):
        raise ValueError(
            f"Got k={k!r}; expected the poverty cutoff as a share of the weighted indicators, "
            "0 < k <= 1, e.g. k=1/3 (poor if deprived in a third or more of them)."
        )
    return float(k)


def directions(deprived_if: Any, names: Sequence[str]) -> tuple[str, ...]:
    """One of DEPRIVED_IF per indicator; a mapping overrides the default 'below'."""
    if isinstance(deprived_if, str):
        chosen = dict.fromkeys(names, deprived_if)
    elif isinstance(deprived_if, Mapping):
        unknown = [str(k) for k in deprived_if if str(k) not in names]
        if unknown:
            raise ValueError(
                f"deprived_if names unknown indicators {unknown!r}; the indicators are "
                f"{list(names)!r}."
            )
        given = {str(k): v for k, v in deprived_if.items()}
        chosen = {n: given.get(n, "below") for n in names}
    else:
        raise TypeError(
            f"Got deprived_if={deprived_if!r}; expected one of {DEPRIVED_IF} or a mapping "
            "indicator -> one of them."
        )
    for name, rule in chosen.items():
        if rule not in DEPRIVED_IF:
            raise ValueError(
                f"Got deprived_if={rule!r} for indicator {name!r}; expected one of {DEPRIVED_IF}."
            )
    return tuple(chosen[n] for n in names)


def cardinal_mask(cardinal: Any, names: Sequence[str]) -> np.ndarray:
    """Which indicators are cardinal: None = all, a set of names, or a mapping name -> bool."""
    if cardinal is None:
        return np.ones(len(names), dtype=bool)
    if isinstance(cardinal, Mapping):
        flagged = {str(k): bool(v) for k, v in cardinal.items()}
        unknown = [k for k in flagged if k not in names]
        default = True
    elif isinstance(cardinal, str) or not isinstance(cardinal, Iterable):
        raise TypeError(
            f"Got cardinal={cardinal!r}; expected None (all cardinal), a collection of "
            "indicator names, or a mapping indicator -> bool."
        )
    else:
        listed = [str(k) for k in cardinal]
        unknown = [k for k in listed if k not in names]
        flagged = dict.fromkeys(listed, True)
        default = False
    if unknown:
        raise ValueError(
            f"cardinal names unknown indicators {unknown!r}; the indicators are {list(names)!r}."
        )
    return np.array([flagged.get(n, default) for n in names], dtype=bool)


def check_missing(values: pd.DataFrame, missing: str) -> np.ndarray:
    """Return the missing-value mask, raising if there are any and missing='raise'."""
    if missing not in MISSING:
        raise ValueError(f"Got missing={missing!r}; expected one of {MISSING}.")
    mask: np.ndarray = values.isna().to_numpy()
    if missing == "raise" and mask.any():
        parts = []
        for j in np.flatnonzero(mask.any(axis=0)):
            rows = values.index[mask[:, j]]
            ids = rows[:_EXAMPLE_IDS].tolist()
            parts.append(f"{values.columns[j]!r} ({len(rows)} rows, e.g. ids {ids!r})")
        raise ValueError(
            f"The achievement matrix has missing values in {', '.join(parts)}. Fill them, or "
            "choose a rule: missing='deprived' counts a missing value as deprived "
            "(conservative); missing='reweight' renormalises the unit's weights over its "
            "observed indicators."
        )
    return mask


def align_subgroups(subgroups: Any, index: pd.Index) -> pd.Series:
    """Subgroup labels aligned to the units: a Series on the unit ids, or one per row."""
    if isinstance(subgroups, pd.Series):
        if subgroups.index.equals(index):
            labels = subgroups
        elif (
            len(subgroups) == len(index)
            and not subgroups.index.has_duplicates
            and subgroups.index.isin(index).all()
        ):
            labels = subgroups.reindex(index)
        else:
            raise ValueError(
                "subgroups is a pandas Series whose index does not match the unit ids (the "
                "matrix index); pass subgroups.to_numpy() to align by position instead."
            )
        labels = pd.Series(labels.to_numpy(), index=index, name=subgroups.name or "subgroup")
    else:
        if not isinstance(subgroups, np.ndarray):
            try:
                import narwhals as nw

                subgroups = nw.from_native(subgroups, series_only=True).to_numpy()
            except TypeError:
                subgroups = np.asarray(list(subgroups), dtype=object)
        if len(subgroups) != len(index):
            raise ValueError(
                f"Got {len(subgroups)} subgroup labels for {len(index)} units; pass one label "
                "per unit (row of the matrix)."
            )
        labels = pd.Series(np.asarray(subgroups), index=index, name="subgroup")
    if labels.isna().any():
        ids = labels.index[labels.isna()][:_EXAMPLE_IDS].tolist()
        raise ValueError(
            f"subgroups has missing labels ({int(labels.isna().sum())} units, e.g. ids "
            f"{ids!r}); give every unit a subgroup, e.g. 'unknown'."
        )
    return labels
