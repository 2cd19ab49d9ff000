"""Collect department records as numpy chunks during the simulation, then build one table."""

from __future__ import annotations

import numpy as np
import polars as pl

# Reporting lag in days (low, high) from event to the department's record being known.
LAGS: dict[str, tuple[int, int]] = {
    "wage": (20, 50),
    "pension": (10, 40),
    "hospitalization": (15, 75),
    "medical_oop": (30, 100),
    "death": (1, 30),
    "disaster_loss": (5, 30),
    "income_survey": (40, 100),
    "deposit_balance": (15, 45),
    "school_enrolled": (10, 40),
    "school_dropout": (20, 90),
    "education_cost": (10, 40),
    "unemployment_registered": (1, 20),
    "employment_started": (10, 45),
}
PAYMENT_LAG = (0, 5)
DEFAULT_LAG = (5, 60)
# Digitally invisible households' records that do exist arrive much later.
INVISIBLE_LAG_FACTOR = 3


class RecordBuffer:
    """Append-only store of record chunks, kept as integer-coded numpy arrays.

    Sources, kinds and values come from small vocabularies, so they are stored as codes
    and turned into strings once, when the table is built.
    """

    def __init__(self, end: np.datetime64 | None = None) -> None:
        self._chunks: list[tuple[np.ndarray, ...]] = []
        self._frames: list[pl.DataFrame] = []
        self._vocab: dict[str, int] = {}
        # records not yet known at the extraction date never enter the data
        self._end = end

    def _code(self, text: str) -> int:
        return self._vocab.setdefault(text, len(self._vocab))

    def add(
        self,
        rng: np.random.Generator,
        *,
        source: str,
        kind: str,
        household: np.ndarray,
        event_date: np.ndarray,
        person: np.ndarray | None = None,
        amount: np.ndarray | None = None,
        value: np.ndarray | str | None = None,
        slow: np.ndarray | None = None,
        payment: bool = False,
        known_after: np.ndarray | None = None,
    ) -> np.ndarray:
        """Append records of one kind; return their known dates.

        ``slow`` marks records of invisible households; ``known_after`` holds dates before
        which a record cannot be known (a decision is not known before its application).
        """
        n = len(household)
        if n == 0:
            return np.zeros(0, dtype="datetime64[D]")
        lo, hi = PAYMENT_LAG if payment else LAGS.get(kind, DEFAULT_LAG)
        lag = rng.integers(lo, hi + 1, size=n)
        if slow is not None and not payment:
            lag = np.where(slow, lag * INVISIBLE_LAG_FACTOR, lag)
        event_date = np.broadcast_to(np.asarray(event_date, dtype="datetime64[D]"), (n,))
        known_date = event_date + lag.astype("timedelta64[D]")
        if known_after is not None:
            known_date = np.maximum(known_date, known_after.astype("datetime64[D]"))
        keep = slice(None) if self._end is None else known_date < self._end
        if value is None:
            vcode = np.full(n, -1, dtype=np.int32)
        elif isinstance(value, str):
            vcode = np.full(n, self._code(value), dtype=np.int32)
        else:
            uniq, inv = np.unique(np.asarray(value, dtype=str), return_inverse=True)
            codes = np.array([self._code(u) for u in uniq], dtype=np.int32)
            vcode = codes[inv]
        chunk = (
            np.asarray(household, dtype=np.int64),
            np.full(n, -1, dtype=np.int64) if person is None else np.asarray(person, np.int64),
            np.full(n, self._code(source), dtype=np.int32),
            np.full(n, self._code(kind), dtype=np.int32),
            event_date,
            known_date,
            np.full(n, np.nan) if amount is None else np.asarray(amount, dtype=float),
            vcode,
        )
        self._chunks.append(tuple(np.ascontiguousarray(c[keep]) for c in chunk))
        known: np.ndarray = known_date
        return known

    _NAMES = (
        "household",
        "person",
        "source",
        "kind",
        "event_date",
        "known_date",
        "amount",
        "value",
    )
    _DTYPES = (pl.Int32, pl.Int32, pl.Int16, pl.Int16, pl.Date, pl.Date, pl.Float64, pl.Int16)

    def flush(self) -> None:
        """Pack the chunks added so far into one compact frame (call once a month)."""
        if not self._chunks:
            return
        cols = {
            k: pl.Series(k, np.concatenate([c[i] for c in self._chunks]), nan_to_null=True).cast(
                dt
            )
            for i, (k, dt) in enumerate(zip(self._NAMES, self._DTYPES, strict=True))
        }
        self._chunks = []
        self._frames.append(pl.DataFrame(cols))

    def to_frame(self) -> pl.DataFrame:
        """Return all records as one frame of indices and codes.

        Columns: ``household, person`` (indices, -1 = none), ``source, kind, value``
        (codes into :attr:`vocabulary`, -1 = none), ``event_date, known_date, amount``.
        """
        self.flush()
        if not self._frames:
            return pl.DataFrame(schema=dict(zip(self._NAMES, self._DTYPES, strict=True)))
        frames, self._frames = self._frames, []
        return pl.concat(frames, rechunk=False)

    @property
    def vocabulary(self) -> pl.Series:
        """Strings of the codes used in ``source``, ``kind`` and ``value``."""
        return pl.Series(list(self._vocab), dtype=pl.String)
