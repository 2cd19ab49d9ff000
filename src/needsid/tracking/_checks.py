"""Checks a run makes on its inputs before the work: dates the data can describe, labels."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from .._dates import months_after
from ..data import HouseholdData
from ..evaluate import status_quo

if TYPE_CHECKING:
    from ..evaluate import TemporalSplit

logger = logging.getLogger(__name__)


#: How far past the latest record known an ``as_of`` may lie before a run refuses it.
MAX_MONTHS_PAST_DATA = 3
#: A department with no record known in this many months before ``as_of`` is warned about.
SILENT_MONTHS = 12


def check_dates(
    bundle: HouseholdData, as_of: dt.date, *, earliest: dt.date | None = None
) -> list[str]:
    """Refuse dates the data cannot describe; warn about departments that fell silent.

    ``as_of`` may lie at most ``MAX_MONTHS_PAST_DATA`` months after the latest
    ``known_date`` (later, every household would look as if nothing happened to it), and
    ``earliest`` (the first date a run reads, default ``as_of``) must come after the first
    record known. A source with records known in the ``SILENT_MONTHS`` before that window
    but none in the ``SILENT_MONTHS`` before ``as_of`` is logged as a warning, and
    returned: its households lose their records at once (an extract that misses a
    department looks like a wave of invisibility).
    """
    rec = bundle.to_polars().records
    if rec.height == 0:
        raise ValueError("The bundle has no records: there is nothing to flag or learn from.")
    first, last = rec["known_date"].min(), rec["known_date"].max()
    limit = months_after(last, MAX_MONTHS_PAST_DATA)
    if as_of > limit:
        raise ValueError(
            f"Got as_of={as_of.isoformat()!r}, but the latest record in the data is known on "
            f"{last.isoformat()}; a date more than {MAX_MONTHS_PAST_DATA} months after it "
            f"would describe households the data has not seen. Use an as_of up to "
            f"{limit.isoformat()}, or bring newer records."
        )
    start = as_of if earliest is None else earliest
    if start <= first:
        what = "as_of" if earliest is None else f"the first training date ({start.isoformat()})"
        raise ValueError(
            f"Got as_of={as_of.isoformat()!r}: {what} is not after the first record known "
            f"({first.isoformat()}), so no record describes the households then. Use a later "
            "as_of" + ("" if earliest is None else ", or fewer or shorter training steps") + "."
        )
    since = months_after(as_of, -SILENT_MONTHS)
    before = months_after(since, -SILENT_MONTHS)
    known = pl.col("known_date")
    sources = (
        rec.with_columns(pl.col("source").cast(pl.String))
        .group_by("source")
        .agg(
            ((known < as_of) & (known >= since)).sum().alias("recent"),
            ((known < since) & (known >= before)).sum().alias("earlier"),
        )
    )
    silent = sorted(
        sources.filter((pl.col("recent") == 0) & (pl.col("earlier") > 0))["source"].to_list()
    )
    if silent:
        logger.warning(
            "No record from %s known in the %d months before %s, though there were some in "
            "the %d months before that: their households will look invisible. Check that the "
            "extract holds these departments.",
            ", ".join(silent),
            SILENT_MONTHS,
            as_of.isoformat(),
            SILENT_MONTHS,
        )
    return silent


#: A label base rate this many times the low-income share (or its inverse) is implausible.
PLAUSIBLE_RATIO = 3.0


def _label_summary(
    split: TemporalSplit, bundle: HouseholdData, source: str
) -> dict[str, str | float]:
    """Summarise the labels: source, share labelled, base rate, plausibility."""
    train = split.train
    y = train["in_need"].to_numpy().astype(bool)
    w = train["weight"].to_numpy(dtype=float) if "weight" in train else np.ones(len(y))
    base = float((w * y).sum() / w.sum()) if len(y) else float("nan")
    test_ids = split.test["household_id"]
    low = float(status_quo(bundle, test_ids, split.test_as_of).mean()) if len(test_ids) else 0.0
    info: dict[str, str | float] = {
        "source": source,
        "labelled_share": round(float(split.train_labelled_share), 4),
        "positive_share": round(float(y.mean()) if len(y) else float("nan"), 4),
        "base_rate": round(base, 4),
        "low_income_share": round(low, 4),
    }
    if low > 0 and not (low / PLAUSIBLE_RATIO <= base <= low * PLAUSIBLE_RATIO):
        info["warning"] = (
            f"The {source!r} labels give a base rate of {base:.1%}, against {low:.1%} of "
            "households paid dibao or tekun last month: more than "
            f"{PLAUSIBLE_RATIO:g}x apart. "
            + (
                "Record-only labels cannot see informal income and mark far too many "
                "households; train on casework outcomes (--labels pu) if the data has "
                "verifications and reviews."
                if source == "records"
                else "Check the casework records (verification and review amounts are "
                "assessed income per person per month, in yuan)."
            )
        )
        logger.warning(info["warning"])
    return info
