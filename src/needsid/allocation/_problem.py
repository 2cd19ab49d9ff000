"""From a household frame and a catalogue to the arrays of an allocation problem.

Everything the caller can get wrong is checked here, before any solving, and reported at
once: missing columns (with the programmes that read them), repeated or missing ids,
probabilities outside [0, 1], costs that are missing, negative or infinite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from ..simulation import NEED_DIMENSIONS
from ._catalogue import Catalogue
from ._fairness import NeedFloor

__all__ = ["Problem", "as_polars", "prepare"]

_EXAMPLES = 3


@dataclass(frozen=True)
class Problem:
    """The arrays of one allocation problem; pairs are the eligible (household, programme).

    ``need`` is households x NEED_DIMENSIONS (zero for dimensions no programme serves);
    ``serves`` is programmes x NEED_DIMENSIONS. Pairs are sorted by household, then by
    programme, and only pairs that can meet some need are kept.
    """

    catalogue: Catalogue
    ids: np.ndarray
    need: np.ndarray
    serves: np.ndarray
    pair_household: np.ndarray
    pair_programme: np.ndarray
    pair_cost: np.ndarray
    region: np.ndarray | None
    region_names: tuple[str, ...]
    groups: dict[str, tuple[np.ndarray, tuple[Any, ...]]]

    @property
    def n(self) -> int:
        """Number of households."""
        return len(self.ids)

    @property
    def total_need(self) -> float:
        """Estimated need of all households: the sum of their probabilities."""
        return float(self.need.sum())

    def take(self, rows: np.ndarray) -> Problem:
        """Return the problem over households ``rows`` (repeats allowed: a bootstrap)."""
        starts = np.searchsorted(self.pair_household, np.arange(self.n + 1))
        lengths = np.diff(starts)[rows]
        pair_rows = np.concatenate(
            [np.arange(starts[r], starts[r + 1]) for r in rows] or [np.zeros(0, np.int64)]
        )
        return Problem(
            catalogue=self.catalogue,
            ids=np.array([f"{self.ids[r]}#{i}" for i, r in enumerate(rows)], dtype=object),
            need=self.need[rows],
            serves=self.serves,
            pair_household=np.repeat(np.arange(len(rows)), lengths),
            pair_programme=self.pair_programme[pair_rows],
            pair_cost=self.pair_cost[pair_rows],
            region=None if self.region is None else self.region[rows],
            region_names=self.region_names,
            groups={k: (codes[rows], names) for k, (codes, names) in self.groups.items()},
        )


def as_polars(frame: Any, name: str = "need_scores") -> tuple[pl.DataFrame, str]:
    """Return ``frame`` as polars and the backend it came in ("pandas" or "polars")."""
    if isinstance(frame, pl.DataFrame):
        return frame, "polars"
    if isinstance(frame, pd.DataFrame):
        return pl.from_pandas(frame), "pandas"
    raise TypeError(
        f"Got {name} of type {type(frame).__name__}; expected a pandas or polars DataFrame "
        "with one row per household: household_id, need_<dimension> probabilities and the "
        "columns the catalogue reads."
    )


def _examples(ids: pl.Series) -> str:
    shown = ", ".join(repr(i) for i in ids.head(_EXAMPLES).to_list())
    return f"households {shown}{', ...' if len(ids) > _EXAMPLES else ''}"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"


def _missing_columns(
    frame: pl.DataFrame, catalogue: Catalogue, floors: Sequence[NeedFloor]
) -> list[str]:
    readers: dict[str, list[str]] = {"household_id": ["every programme"]}
    for p in catalogue.programmes:
        for d in p.dimensions:
            readers.setdefault(f"need_{d}", []).append(f"{p.id} (dimensions)")
        for c in sorted(p.columns):
            readers.setdefault(c, []).append(f"{p.id} (eligibility or cost)")
        if p.capacity is not None:
            readers.setdefault("region_id", []).append(f"{p.id} (capacity)")
    for f in floors:
        readers.setdefault(f.group, []).append(f"fairness {f.describe()}")
    return [
        f"{col!r}, read by {', '.join(who)}"
        for col, who in readers.items()
        if col not in frame.columns
    ]


def _check_frame(frame: pl.DataFrame, dims: Sequence[str], floors: Sequence[NeedFloor]) -> None:
    problems = []
    ids = frame["household_id"]
    if ids.null_count():
        problems.append(f"{_count(ids.null_count(), 'row')} without household_id")
    repeated = ids.filter(ids.is_duplicated()).unique(maintain_order=True)
    if len(repeated):
        problems.append(f"household_id repeats ({_examples(repeated)})")
    for d in dims:
        p = frame[f"need_{d}"]
        if not p.dtype.is_numeric():
            problems.append(f"column 'need_{d}' is {p.dtype}, not a probability")
            continue
        p = p.cast(pl.Float64)
        bad = p.is_null() | p.is_nan() | (p < 0) | (p > 1)
        if bad.any():
            problems.append(
                f"column 'need_{d}' has {_count(int(bad.sum()), 'value')} missing or outside "
                f"[0, 1] ({_examples(ids.filter(bad))})"
            )
    for f in floors:
        if frame[f.group].null_count():
            nulls = frame[f.group].is_null()
            problems.append(
                f"column {f.group!r} (the group of {f.describe()}) is null "
                f"({_examples(ids.filter(nulls))})"
            )
    if problems:
        raise ValueError(
            "need_scores: "
            + "; ".join(problems)
            + ". Pass one row per household with calibrated probabilities in [0, 1]."
        )


def _evaluate(frame: pl.DataFrame, catalogue: Catalogue) -> tuple[np.ndarray, np.ndarray]:
    """Eligibility (bool) and cost (yuan) of every programme for every household."""
    eligible, cost, problems = [], [], []
    for p in catalogue.programmes:
        try:
            # with_columns broadcasts a constant expression ("True", "300") to every row
            e = frame.with_columns(p._eligibility_expression.expr())["value"].fill_null(False)
            c = (
                pl.Series("value", [p.cost] * frame.height, pl.Float64)
                if p._cost_expression is None
                else frame.with_columns(p._cost_expression.expr())["value"]
            )
        except pl.exceptions.PolarsError as exc:
            first = str(exc).splitlines()[0]
            problems.append(f"programme {p.id!r} cannot be evaluated on need_scores: {first}")
            continue
        bad = e & (c.is_null() | c.is_nan() | c.is_infinite() | (c < 0))
        if bad.any():
            problems.append(
                f"programme {p.id!r}: its cost {p.cost!r} is missing, negative or infinite "
                f"for {_count(int(bad.sum()), 'eligible household')} "
                f"({_examples(frame['household_id'].filter(bad))})"
            )
        eligible.append(e.to_numpy())
        cost.append(c.fill_null(0.0).fill_nan(0.0).to_numpy())
    if problems:
        raise ValueError("; ".join(problems) + ".")
    return np.column_stack(eligible), np.column_stack(cost)


def _codes(series: pl.Series) -> tuple[np.ndarray, tuple[Any, ...]]:
    names = series.unique().sort()
    lookup = dict(zip(names.to_list(), range(len(names)), strict=True))
    codes = np.fromiter((lookup[v] for v in series.to_list()), np.int64, len(series))
    return codes, tuple(names.to_list())


def prepare(
    frame: pl.DataFrame, catalogue: Catalogue, floors: Sequence[NeedFloor] = ()
) -> Problem:
    """Check the household frame against the catalogue and build the problem's arrays."""
    missing = _missing_columns(frame, catalogue, floors)
    if missing:
        raise ValueError(
            f"need_scores has no column {'; '.join(missing)}. It has {frame.columns!r}; add "
            "the missing columns (e.g. join the features and the regions table)."
        )
    dims = [d for d in NEED_DIMENSIONS if any(d in p.dimensions for p in catalogue.programmes)]
    _check_frame(frame, dims, floors)
    frame = frame.with_columns(pl.col("household_id").cast(pl.String)).sort("household_id")
    need = np.zeros((frame.height, len(NEED_DIMENSIONS)))
    for d in dims:
        need[:, NEED_DIMENSIONS.index(d)] = frame[f"need_{d}"].cast(pl.Float64).to_numpy()
    serves = np.array(
        [[d in p.dimensions for d in NEED_DIMENSIONS] for p in catalogue.programmes], bool
    )
    eligible, cost = _evaluate(frame, catalogue)
    # a pair that cannot meet any need only costs money: leave it out
    eligible &= (need @ serves.T) > 0
    household, programme = np.nonzero(eligible)  # row-major: by household, then programme
    region: np.ndarray | None = None
    region_names: tuple[Any, ...] = ()
    if "region_id" in frame.columns:
        region, region_names = _codes(frame["region_id"].cast(pl.String))
    return Problem(
        catalogue=catalogue,
        ids=frame["household_id"].to_numpy().astype(object),
        need=need,
        serves=serves,
        pair_household=household,
        pair_programme=programme,
        pair_cost=cost[household, programme],
        region=region,
        region_names=tuple(str(r) for r in region_names),
        groups={f.group: _codes(frame[f.group]) for f in floors},
    )
