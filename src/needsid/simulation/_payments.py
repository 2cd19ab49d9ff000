"""Process problems in payments: payments after exits, statutory and altered amounts.

Steps 5-7 of ``_process.py``: one to three monthly payments after some exits
(``paid_after_exit``); dibao paid at the statutory amount, (standard - assessed income
per person) x members, wherever the latest assessment is below the standard; and one
such payment of some household-years altered (``payment_mismatch``).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ..data import HouseholdData
from ._casebook import CIVIL_AFFAIRS, MONTHLY, PAY_DAY, Casebook, anomaly_if_chosen, month_no
from ._config import ProcessProblems

__all__ = ["altered_amounts", "paid_after_exit", "statutory_amounts"]

MAX_EXTRA_MONTHS = 3  # payments after an exit: one to this many months
ALTERED = (0.15, 0.5)  # an altered dibao payment is off by this share of the standard/person


def paid_after_exit(
    book: Casebook, process: ProcessProblems, rng: np.random.Generator
) -> pl.Series:
    """Pay one to three more months after some exits; return the new payments' ids.

    The payments go on from the exit's month, as if the exit had not stopped them.
    """
    pays = book.kind(*MONTHLY).with_columns(pay_m=month_no())
    exits = (
        book.kind("review")
        .filter(pl.col("value") == "exit")
        .select(
            "household_id",
            pl.col("record_id").alias("exit_id"),
            pl.col("event_date").alias("exit_date"),
        )
        .with_columns(exit_m=month_no("exit_date"))
    )
    # the programme the exit ends: paid in the month before it (the latest such payment)
    ended = (
        exits.join(pays, on="household_id")
        .filter(
            (pl.col("pay_m") == pl.col("exit_m") - 1)
            | (
                (pl.col("pay_m") == pl.col("exit_m"))
                & (pl.col("event_date") < pl.col("exit_date"))
            )
        )
        .sort("event_date", "record_id")
        .group_by("exit_id", maintain_order=True)
        .agg(
            pl.col("kind").last(),
            pl.col("person_id").last(),
            pl.col("amount").last(),
            pl.col("kind").n_unique().alias("n_kinds"),
            (pl.col("pay_m") == pl.col("exit_m")).any().alias("paid_in_exit_month"),
        )
    )
    cases = exits.join(ended, on="exit_id", how="left").sort("exit_id")
    n = cases.height
    end_m = book.end.year * 12 + book.end.month - 1
    cases = (
        cases.with_columns(k=pl.Series(rng.integers(1, MAX_EXTRA_MONTHS + 1, n)))
        .with_columns(
            month=pl.col("exit_date"),
            extra=pl.min_horizontal("k", end_m - 1 - pl.col("exit_m")),
        )
        .with_columns(last=_pay_day(pl.col("exit_m") + pl.col("extra")))
        .drop("k")
    )
    blocked = _blocked_exits(book, cases)
    cases = cases.with_columns(
        candidate=(pl.col("n_kinds") == 1).fill_null(False)
        & (pl.col("extra") >= 1)
        & ~pl.col("exit_id").is_in(blocked.implode())
    )
    cases = book.choose(cases, process, rng)
    chosen = cases.filter("chosen")
    # the payments go on without a gap: from the exit's month (unless it was paid before
    # the exit), so they continue the spell rather than start a new one
    first_k = pl.col("paid_in_exit_month").cast(pl.Int64)
    extra = (
        chosen.with_columns(k=pl.int_ranges(first_k, pl.col("extra") + 1))
        .explode("k")
        .select(
            "household_id",
            "person_id",
            pl.lit(CIVIL_AFFAIRS).alias("source"),
            "kind",
            _pay_day(pl.col("exit_m") + pl.col("k")).alias("event_date"),
            "amount",
            pl.lit(None, pl.String).alias("value"),
        )
    )
    extra = extra.with_columns(
        known_date=pl.col("event_date")
        + pl.duration(days=book.lag(rng, extra.height, payment=True))
    )
    added = book.add(extra)
    book.log(
        cases.with_columns(
            anomaly_if_chosen("paid_after_exit"),
            # the first payment after the exit
            shown=pl.when(_pay_day(pl.col("exit_m")) > pl.col("exit_date"))
            .then(_pay_day(pl.col("exit_m")))
            .otherwise(_pay_day(pl.col("exit_m") + 1)),
        ),
        "dibao_tekun",
        "paid_after_exit",
    )
    return added["record_id"]


def _pay_day(month: pl.Expr) -> pl.Expr:
    """Return the payment date (the 10th) of a month index."""
    return pl.date(month // 12, month % 12 + 1, PAY_DAY + 1)


def _blocked_exits(book: Casebook, cases: pl.DataFrame) -> pl.Series:
    """Return the exits after which more payments would meet another case or check.

    A new application, an approval or a payment of the programme by the last extra
    payment (a re-entry); a payee who died or was imprisoned, or a household dissolved
    (paid_after_death and paid_in_prison would see the payments); a disability living
    subsidy to the household then (the tekun overlap cross-check would).
    """
    span = cases.select("exit_id", "household_id", "exit_date", "last", "kind", "person_id")
    records = book.bundle.records.with_columns(pl.col("kind").cast(pl.String))
    after = (pl.col("event_date") >= pl.col("exit_date").dt.truncate("1mo")) & (
        pl.col("event_date") <= pl.col("last") + pl.duration(days=31)
    )
    renewed = span.join(
        book.records.select("household_id", "event_date", pl.col("kind").alias("k")),
        on="household_id",
    ).filter(
        after
        & (
            (pl.col("k") == "application")
            | (pl.col("k") == pl.col("kind"))
            | (pl.col("k") == "verification")
        )
    )
    subsidy = span.join(
        records.filter(pl.col("kind") == "disability_living_subsidy").select(
            "household_id", "event_date"
        ),
        on="household_id",
    ).filter(after)
    troubled = records.filter(
        pl.col("kind").is_in(["death", "imprisonment_start", "imprisonment_end"])
    ).select("person_id")
    payee = span.filter(pl.col("person_id").is_in(troubled["person_id"].implode()))
    dissolved = span.join(
        book.bundle.households.select("household_id", "dissolved_on"), on="household_id"
    ).filter(pl.col("dissolved_on") <= pl.col("last"))
    return pl.concat([f.select("exit_id") for f in (renewed, subsidy, payee, dissolved)])[
        "exit_id"
    ].unique()


def _sizes(bundle: HouseholdData, frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``size``: members whose spell covers ``event_date`` (as the rules count them)."""
    keys = frame.select("household_id", "event_date").unique()
    counted = (
        keys.join(bundle.members.select("household_id", "joined_on", "left_on"), on="household_id")
        .filter(
            (pl.col("joined_on") <= pl.col("event_date"))
            & (pl.col("left_on").is_null() | (pl.col("left_on") > pl.col("event_date")))
        )
        .group_by("household_id", "event_date")
        .agg(pl.len().cast(pl.Int64).alias("size"))
    )
    return frame.join(counted, on=["household_id", "event_date"], how="left").with_columns(
        pl.col("size").fill_null(0)
    )


def statutory_amounts(book: Casebook) -> pl.DataFrame:
    """Pay dibao at (standard - assessed income) x members where the statute defines it.

    Returns those payments: ``record_id, household_id, event_date, std, per_person, size``.
    """
    pays = book.kind("benefit_dibao").select("record_id", "household_id", "event_date")
    assessed = (
        book.kind("verification", "review")
        .filter(pl.col("amount").is_not_null())
        .select(
            "household_id",
            pl.col("event_date").alias("ass_date"),
            pl.col("amount").alias("assessed"),
        )
        .sort("ass_date")
    )
    std = book.bundle.households.join(book.bundle.regions, on="region_id").select(
        "household_id", pl.col("dibao_standard").alias("std")
    )
    matched = (
        pays.sort("event_date")
        .join_asof(
            assessed,
            left_on="event_date",
            right_on="ass_date",
            by="household_id",
            check_sortedness=False,
        )
        .join(std, on="household_id")
    )
    checkable = (
        _sizes(book.bundle, matched)
        .filter((pl.col("assessed") < pl.col("std")) & (pl.col("size") > 0))
        .with_columns(per_person=pl.col("std") - pl.col("assessed"))
    )
    book.update(
        checkable.select(
            "record_id", (pl.col("per_person") * pl.col("size")).round(2).alias("amount")
        )
    )
    return checkable.select("record_id", "household_id", "event_date", "std", "per_person", "size")


def altered_amounts(
    book: Casebook,
    process: ProcessProblems,
    rng: np.random.Generator,
    checkable: pl.DataFrame,
    extra: pl.Series,
) -> None:
    """Alter one checkable dibao payment of some household-years."""
    pays = checkable.filter(~pl.col("record_id").is_in(extra.implode())).sort("record_id")
    pays = pays.with_columns(
        year=(month_no() - (book.start.year * 12 + book.start.month - 1)) // 12
    )
    cases = (
        pays.group_by("household_id", "year")
        .agg(pl.col("event_date").min().alias("month"), pl.len().alias("n"))
        .sort("household_id", "year")
        .with_columns(candidate=pl.lit(True))
    )
    cases = book.choose(cases, process, rng)
    pick = cases.filter("chosen")
    pick = pick.with_columns(u=pl.Series(rng.random(pick.height))).with_columns(
        k=(pl.col("u") * pl.col("n")).floor().cast(pl.Int64).clip(0, pl.col("n") - 1)
    )
    picked = (
        pays.with_columns(k=pl.int_range(pl.len()).over("household_id", "year"))
        .join(pick.select("household_id", "year", "k"), on=["household_id", "year", "k"])
        .sort("record_id")
    )
    picked = picked.with_columns(
        share=pl.Series(rng.uniform(*ALTERED, picked.height)),
        coin=pl.Series(rng.random(picked.height) < 0.5),
    )
    off = pl.col("share") * pl.col("std")
    up = pl.col("coin") | (pl.col("per_person") - off < 0.05 * pl.col("std"))
    altered = pl.when(up).then(pl.col("per_person") + off).otherwise(pl.col("per_person") - off)
    book.update(picked.select("record_id", (altered * pl.col("size")).round(2).alias("amount")))
    shown = picked.select("household_id", "year", pl.col("event_date").alias("shown"))
    book.log(
        cases.join(
            shown, on=["household_id", "year"], how="left", maintain_order="left"
        ).with_columns(anomaly_if_chosen("payment_mismatch")),
        "dibao",
        "payment_mismatch",
    )
