"""The extract's casework records, changed after the simulation to inject process problems.

A :class:`Casebook` holds the records process supervision looks at (applications,
decisions, reviews and benefit payments) as a small polars frame with text kinds, and
logs every case at risk of a problem and every problem injected. ``_grants.py`` adds the
housing and medical assistance programmes to it, ``_process.py`` perturbs it; at the end
its records replace the bundle's records of those kinds.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from ..data import HouseholdData
from ._config import ProcessProblems

__all__ = ["CASE_KINDS", "MONTHLY", "Casebook", "anomaly_if_chosen", "month_no"]

#: Monthly benefits (a spell of payments follows one approval) and the record kinds here.
MONTHLY = ("benefit_dibao", "benefit_tekun")
CASE_KINDS = ("application", "verification", "review", *MONTHLY)
GRANT_KINDS = ("benefit_housing", "benefit_medical")
CIVIL_AFFAIRS = "civil_affairs"
PAY_DAY = 9  # days after the first of the month: benefits are paid on the 10th
# reporting lags in days (low, high), as the simulator's RecordBuffer draws them
CASEWORK_LAG = (5, 60)
PAYMENT_LAG = (0, 5)
_COLUMNS = (
    "record_id",
    "household_id",
    "person_id",
    "source",
    "kind",
    "event_date",
    "known_date",
    "amount",
    "value",
)
_SCHEMA = {
    "record_id": pl.String,
    "household_id": pl.String,
    "person_id": pl.String,
    "source": pl.String,
    "kind": pl.String,
    "event_date": pl.Date,
    "known_date": pl.Date,
    "amount": pl.Float64,
    "value": pl.String,
}


def month_no(col: str = "event_date") -> pl.Expr:
    """Expression: the month index (year x 12 + month - 1) of a date column."""
    return pl.col(col).dt.year().cast(pl.Int64) * 12 + pl.col(col).dt.month().cast(pl.Int64) - 1


def _index(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


def anomaly_if_chosen(name: str) -> pl.Expr:
    """Expression: column ``anomaly``, ``name`` where ``chosen`` and null elsewhere."""
    return pl.when(pl.col("chosen")).then(pl.lit(name)).otherwise(None).alias("anomaly")


class Casebook:
    """The casework records of an extract, a log of cases and problems, and new ids.

    Parameters
    ----------
    bundle : HouseholdData
        The simulated extract (polars).
    start, end : datetime.date
        First simulated day and the extraction date: records known on or after ``end``
        never enter the extract.
    """

    def __init__(self, bundle: HouseholdData, start: dt.date, end: dt.date) -> None:
        self.bundle = bundle
        self.start, self.end = start, end
        self.records: pl.DataFrame = (
            bundle.records.filter(pl.col("kind").cast(pl.String).is_in(CASE_KINDS))
            .with_columns(pl.col(c).cast(pl.String) for c in ("source", "kind", "value"))
            .select(_COLUMNS)
        )
        # ids go on from the extract's: R + 9 digits, numbered from 1
        self._next = bundle.records.height + 1
        self._anomalies: list[pl.DataFrame] = []
        self._cases: list[pl.DataFrame] = []

    # --- dates -----------------------------------------------------------------------------

    def year(self) -> pl.Expr:
        """Expression: the simulation year (0 for the first 12 months) of column ``month``.

        Dates before the start (decisions on the first month's applications) are year 0.
        """
        return ((month_no("month") - _index(self.start)) // 12).clip(0)

    def choose(
        self, cases: pl.DataFrame, process: ProcessProblems, rng: np.random.Generator
    ) -> pl.DataFrame:
        """Add ``chosen``: candidates struck so that each year's share of cases is its rate.

        ``cases`` has ``month`` and ``candidate`` (bool) and is in a fixed order; where
        only some cases are candidates, those are struck more often.
        """
        year = cases.select(self.year())["month"]
        counts = pl.DataFrame({"year": year, "candidate": cases["candidate"]})
        per = counts.group_by("year").agg(
            pl.len().alias("n"), pl.col("candidate").cast(pl.Int64).sum().alias("n_cand")
        )
        rates = {y: process.rate(y) * n / max(c, 1) for y, n, c in per.rows()}
        p = year.replace_strict(rates, return_dtype=pl.Float64).to_numpy()
        chosen = pl.Series(rng.random(cases.height) < p)
        return cases.with_columns(chosen=chosen & pl.col("candidate"))

    # --- records ---------------------------------------------------------------------------

    def kind(self, *kinds: str) -> pl.DataFrame:
        """Return the current records of these kinds."""
        return self.records.filter(pl.col("kind").is_in(kinds))

    def new_ids(self, n: int) -> pl.Series:
        """Return ``n`` new record ids."""
        ids = [f"R{i:09d}" for i in range(self._next, self._next + n)]
        self._next += n
        return pl.Series("record_id", ids, dtype=pl.String)

    def add(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Add records (all columns but ``record_id``); return them with their new ids.

        Records not known before the extraction date are dropped, as the simulator's
        record buffer drops them.
        """
        frame = frame.filter(pl.col("known_date") < self.end)
        frame = frame.with_columns(self.new_ids(frame.height)).select(
            [pl.col(c).cast(t) for c, t in _SCHEMA.items()]
        )
        self.records = pl.concat([self.records, frame])
        return frame

    def remove(self, ids: pl.Series) -> None:
        """Remove the records with these ids."""
        self.records = self.records.filter(~pl.col("record_id").is_in(ids.implode()))

    def update(self, frame: pl.DataFrame) -> None:
        """Overwrite columns of the records named by ``frame.record_id``."""
        cols = [c for c in frame.columns if c != "record_id"]
        self.records = (
            self.records.join(frame, on="record_id", how="left", suffix="_new")
            .with_columns(pl.coalesce(f"{c}_new", c).alias(c) for c in cols)
            .select(_COLUMNS)
        )

    def lag(self, rng: np.random.Generator, n: int, payment: bool = False) -> pl.Expr:
        """Return ``n`` reporting lags in days (a literal column), as the buffer draws them."""
        lo, hi = PAYMENT_LAG if payment else CASEWORK_LAG
        return pl.lit(pl.Series(rng.integers(lo, hi + 1, n), dtype=pl.Int64))

    # --- the log ---------------------------------------------------------------------------

    def log(self, cases: pl.DataFrame, programme: str, process: str) -> None:
        """Log cases: ``household_id, month, anomaly`` (null where none was injected).

        Each case with an anomaly is also written to the truth's anomalies, in the month
        ``shown`` (default: ``month``) in which the problem first shows in the records.
        """
        if "shown" not in cases.columns:
            cases = cases.with_columns(shown=pl.col("month"))
        self._cases.append(
            cases.select(
                "household_id",
                pl.lit(programme).alias("programme"),
                pl.lit(process).alias("process"),
                pl.col("month").dt.truncate("1mo"),
                pl.col("anomaly").cast(pl.String),
            )
        )
        self._anomalies.append(
            cases.filter(pl.col("anomaly").is_not_null()).select(
                "household_id",
                pl.lit(None, pl.String).alias("person_id"),
                pl.col("anomaly").cast(pl.String),
                pl.col("shown").dt.truncate("1mo").alias("month"),
            )
        )

    def cases(self) -> pl.DataFrame:
        """Every case logged: ``household_id, programme, process, month, anomaly``."""
        schema = {
            "household_id": pl.String,
            "programme": pl.String,
            "process": pl.String,
            "month": pl.Date,
            "anomaly": pl.String,
        }
        frame = pl.concat([pl.DataFrame(schema=schema), *self._cases])
        return frame.sort("month", "programme", "process", "household_id", maintain_order=True)

    def anomalies(self, before: pl.DataFrame) -> pl.DataFrame:
        """Return the truth's anomalies with the injected ones, one row per household, name."""
        frame = pl.concat([before, *self._anomalies]).group_by(
            "household_id", "person_id", "anomaly"
        )
        out = frame.agg(pl.col("month").min())
        return out.sort("month", "household_id", "person_id", "anomaly").select(before.columns)

    # --- the result ------------------------------------------------------------------------

    def to_bundle(self) -> HouseholdData:
        """Return the bundle with these casework records in place of its own."""
        b = self.bundle
        dtypes = b.records.schema
        others = b.records.filter(~pl.col("kind").cast(pl.String).is_in(CASE_KINDS))
        mine = self.records.select(pl.col(c).cast(dtypes[c]) for c in _COLUMNS)
        records = pl.concat([others, mine]).sort("record_id")
        return HouseholdData(
            regions=b.regions, households=b.households, members=b.members, records=records
        )
