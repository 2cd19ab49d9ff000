"""Inject process problems into a simulated extract (``SimulationConfig.process_problems``).

Runs after the simulation, on the extract's casework records (``_casebook.Casebook``),
with a random stream of its own derived from the seed (one child stream per step), so
the simulation's draws are untouched and the default output is byte-for-byte what it
was. In order:

1. housing and medical assistance cases, with their problems (``_grants.py``);
2. ``late_decision``: the application of a decision moved earlier, past the limit;
3. ``payment_without_approval``: the approval of a new dibao or tekun spell removed;
4. ``overdue_review``: a recipient's reviews of ``review_months`` months dropped;
5. ``paid_after_exit``: one to three monthly payments after an exit (``_payments.py``,
   as are 6 and 7);
6. dibao paid at the statutory amount wherever the latest assessment is below the
   standard (after the steps that remove assessments, so it follows what is on file);
7. ``payment_mismatch``: one checkable payment of a household-year altered.

Each problem strikes a case with the rate of the case's year (``ProcessProblems.rate``).
Where only some cases can carry a problem (e.g. a late decision needs an application
with no other application of the household within 180 days), those candidates are
struck more often, so that the share of all cases with a problem meets the rate.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import polars as pl

from .._dates import months_after
from ..data import HouseholdData
from ._casebook import MONTHLY, Casebook, anomaly_if_chosen, month_no
from ._config import ProcessProblems, SimulationConfig
from ._grants import draw_grants
from ._payments import altered_amounts, paid_after_exit, statutory_amounts

__all__ = ["check_process", "inject"]

PROCESS_STREAM = 7919  # spawn key of the process problems' random streams
ISOLATION_DAYS = 180  # a late decision's application has no other one this close
LOOKBACK_DAYS = 90  # a new spell's first payment follows its application by at most this
SCHEDULED = ("continue", "reduce")  # periodic review decisions (exit reviews are kept)


def check_process(cfg: SimulationConfig) -> ProcessProblems | None:
    """Return the config's process problems, validated against the run; None if off.

    Raises ``ValueError`` if the decision limit is below the slowest on-time decision.
    """
    if cfg.process_problems is None:
        return None
    # model_copy(update=...) does not validate: process problems given there as a dict
    process = ProcessProblems.model_validate(cfg.process_problems)
    slowest = cfg.assessment.decision_days[1]
    if process.decision_limit_days < slowest:
        raise ValueError(
            f"Got process_problems.decision_limit_days={process.decision_limit_days}; the "
            f"status quo decides up to assessment.decision_days[1]={slowest} days after an "
            f"application, so decisions on time would count as late: give at least {slowest}."
        )
    return process


def _streams(seed: int, n: int) -> list[np.random.Generator]:
    return [
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PROCESS_STREAM, k)))
        for k in range(n)
    ]


def _applications(book: Casebook) -> pl.DataFrame:
    return book.kind("application").select(
        "household_id",
        pl.col("record_id").alias("app_id"),
        pl.col("event_date").alias("app_date"),
        pl.col("known_date").alias("app_known"),
    )


def _paired(book: Casebook, decisions: pl.DataFrame) -> pl.DataFrame:
    """Each decision (``dec_date``) with the application it answers (the latest before)."""
    return (
        decisions.sort("dec_date")
        .join_asof(
            _applications(book).sort("app_date"),
            left_on="dec_date",
            right_on="app_date",
            by="household_id",
            check_sortedness=False,
        )
        .sort("dec_id")
    )


def _late_decisions(
    book: Casebook, process: ProcessProblems, rng: np.random.Generator
) -> pl.Series:
    """Move applications earlier so their decisions are late; return those decisions' ids."""
    # decisions in the simulated months (not those on the first month's applications
    # that fall before it)
    decisions = (
        book.kind("verification")
        .filter(
            ~pl.col("value").is_in(["approved_housing", "approved_medical"])
            & (pl.col("event_date") >= book.start)
        )
        .select(
            "household_id",
            pl.col("record_id").alias("dec_id"),
            pl.col("event_date").alias("dec_date"),
        )
    )
    paired = _paired(book, decisions)
    apps = _applications(book).select("household_id", "app_id", pl.col("app_date").alias("other"))
    crowded = (
        paired.join(apps, on="household_id", suffix="_other")
        .filter(
            (pl.col("app_id_other") != pl.col("app_id"))
            & ((pl.col("other") - pl.col("app_date")).dt.total_days().abs() <= ISOLATION_DAYS)
        )
        .select("dec_id")
    )
    shared = paired.filter(pl.col("app_id").is_duplicated()).select("dec_id")
    formed = book.bundle.households.select("household_id", "formed_on")
    wait = process.decision_limit_days + pl.Series(rng.integers(1, 91, paired.height))
    cases = (
        paired.with_columns(wait=wait)
        .join(formed, on="household_id", how="left", maintain_order="left")
        .with_columns(new_app=pl.col("dec_date") - pl.duration(days=pl.col("wait")))
        .with_columns(
            month=pl.col("dec_date"),
            candidate=pl.col("app_id").is_not_null()
            & ~pl.col("dec_id").is_in(crowded["dec_id"].implode())
            & ~pl.col("dec_id").is_in(shared["dec_id"].implode())
            & (pl.col("new_app") >= pl.col("formed_on")),
        )
    )
    cases = book.choose(cases, process, rng)
    late = cases.filter("chosen")
    shift = pl.col("new_app") - pl.col("app_date")
    book.update(
        late.select(
            pl.col("app_id").alias("record_id"),
            pl.col("new_app").alias("event_date"),
            (pl.col("app_known") + shift).alias("known_date"),
        )
    )
    book.log(
        cases.with_columns(anomaly_if_chosen("late_decision")), "dibao_tekun", "late_decision"
    )
    return late["dec_id"]


def _spell_starts(book: Casebook) -> pl.DataFrame:
    """First payments of dibao and tekun spells known to begin inside the extract."""
    pays = (
        book.kind(*MONTHLY)
        .select(
            "household_id",
            pl.col("kind").alias("pay_kind"),
            pl.col("record_id").alias("pay_id"),
            pl.col("event_date").alias("pay_date"),
        )
        .with_columns(pay_m=month_no("pay_date"))
        .sort("household_id", "pay_kind", "pay_date", "pay_id")
    )
    first = pays["pay_m"].min()
    prev = pl.col("pay_m").shift(1).over("household_id", "pay_kind")
    begins = prev.is_null() | (pl.col("pay_m") - prev > 1)
    return pays.filter(begins & (pl.col("pay_m") > first))


def _removed_approvals(
    book: Casebook, process: ProcessProblems, rng: np.random.Generator, late: pl.Series
) -> None:
    """Remove the approvals of some new dibao and tekun spells."""
    approvals = (
        book.kind("verification")
        .filter(
            pl.col("value").is_in(["approved_dibao", "approved_tekun"])
            & (pl.col("event_date") >= book.start)
        )
        .select(
            "household_id",
            pl.col("record_id").alias("dec_id"),
            pl.col("event_date").alias("dec_date"),
            pl.col("value").str.replace("approved_", "benefit_").alias("pay_kind"),
        )
    )
    paired = _paired(book, approvals).with_columns(opened=pl.coalesce("app_date", "dec_date"))
    first_pay = (
        paired.join(_spell_starts(book), on=["household_id", "pay_kind"])
        .filter(
            (pl.col("pay_date") >= pl.col("opened"))
            & ((pl.col("pay_date") - pl.col("opened")).dt.total_days() <= LOOKBACK_DAYS)
        )
        .group_by("dec_id")
        .agg(pl.col("pay_date").min())
    )
    # a re-entry whose application precedes the exit of the previous spell would also
    # look like benefits paid on after that exit: not a candidate
    exits = book.kind("review").filter(pl.col("value") == "exit")
    crossed = (
        paired.join(first_pay, on="dec_id")
        .join(exits.select("household_id", pl.col("event_date").alias("exit")), on="household_id")
        .filter(pl.col("exit").is_between(pl.col("opened"), pl.col("pay_date")))
        .select("dec_id")
    )
    cases = (
        paired.join(first_pay, on="dec_id", how="left", maintain_order="left")
        .with_columns(
            month=pl.col("dec_date"),
            shown=pl.col("pay_date"),
            candidate=pl.col("pay_date").is_not_null()
            & ~pl.col("dec_id").is_in(late.implode())
            & ~pl.col("dec_id").is_in(crossed["dec_id"].implode()),
        )
        .sort("dec_id")
    )
    cases = book.choose(cases, process, rng)
    book.remove(cases.filter("chosen")["dec_id"])
    book.log(
        cases.with_columns(anomaly_if_chosen("payment_without_approval")),
        "dibao_tekun",
        "payment_without_approval",
    )


def _looks(book: Casebook) -> pl.DataFrame:
    """When each case was last looked at: every review and dibao or tekun approval."""
    return book.records.filter(
        (pl.col("kind") == "review")
        | pl.col("value").is_in(["approved_dibao", "approved_tekun"]).fill_null(False)
    ).select("household_id", pl.col("event_date").alias("look_date"))


def _overdue(book: Casebook, records: pl.DataFrame, months: int) -> pl.DataFrame:
    """Dibao and tekun payments made more than ``months`` months after the last look."""
    saved, book.records = book.records, records
    try:
        looks = _looks(book).sort("look_date")
        pays = (
            book.kind(*MONTHLY)
            .select("household_id", "kind", pl.col("event_date").alias("pay_date"))
            .with_columns(pay_m=month_no("pay_date"))
            .sort("household_id", "kind", "pay_date")
        )
    finally:
        book.records = saved
    prev = pl.col("pay_m").shift(1).over("household_id", "kind")
    # two steps: polars < 1.32 allows no window expression inside another's aggregation
    pays = pays.with_columns(_begins=prev.is_null() | (pl.col("pay_m") - prev > 1))
    spell = (
        pl.when(pl.col("_begins"))
        .then(pl.col("pay_m"))
        .otherwise(None)
        .forward_fill()
        .over("household_id", "kind")
    )
    pays = pays.with_columns(spell_m=spell).drop("_begins").sort("pay_date")
    matched = pays.join_asof(
        looks, left_on="pay_date", right_on="look_date", by="household_id", check_sortedness=False
    )
    since = pl.max_horizontal(month_no("look_date"), pl.col("spell_m"))
    return matched.filter(pl.col("pay_m") - since > months).select("household_id", "pay_date")


def _dropped_reviews(book: Casebook, process: ProcessProblems, rng: np.random.Generator) -> None:
    """Drop a recipient's reviews for ``review_months`` months, once per household."""
    months = process.review_months
    scheduled = (
        book.kind("review")
        .filter(pl.col("value").is_in(SCHEDULED))
        .select(
            "household_id",
            pl.col("record_id").alias("rev_id"),
            pl.col("event_date").alias("month"),
        )
        .with_columns(rev_m=month_no("month"))
        .sort("month", "rev_id")
    )
    by_household: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for h, m, r in scheduled.select("household_id", "rev_m", "rev_id").iter_rows():
        by_household[h].append((m, r))
    taken: dict[str, tuple[str, list[str]]] = {}  # household -> (first review, dropped ids)
    failed: set[str] = set()
    years = scheduled.select(book.year())["month"]
    for year in sorted(set(years.to_list())):
        for _ in range(2):  # a second pass tops up for drops that were undone
            this = scheduled.filter(years == year)
            done = sum(1 for h, (r, _) in taken.items() if r in set(this["rev_id"]))
            need = process.rate(year) * this.height - done
            cand = this.filter(
                ~pl.col("household_id").is_in(list(taken))
                & ~pl.col("household_id").is_in(list(failed))
            )
            if need <= 0 or cand.height == 0:
                break
            hit = cand.filter(pl.Series(rng.random(cand.height) < min(1.0, need / cand.height)))
            trial: dict[str, tuple[str, list[str]]] = {}
            for h, m0, r in hit.select("household_id", "rev_m", "rev_id").iter_rows():
                if h not in trial:
                    trial[h] = (r, [i for m, i in by_household[h] if m0 <= m <= m0 + months])
            kept = _materialised(book, trial, months)
            failed |= set(trial) - set(kept)
            taken |= kept
    ids = [i for _, dropped in taken.values() for i in dropped]
    shown = _first_overdue(book, taken, months)
    book.remove(pl.Series(ids, dtype=pl.String))
    first = {r: h for h, (r, _) in taken.items()}
    cases = scheduled.with_columns(chosen=pl.col("rev_id").is_in(list(first))).join(
        shown, on="household_id", how="left", maintain_order="left"
    )
    cases = cases.with_columns(
        anomaly=pl.when("chosen").then(pl.lit("overdue_review")),
        shown=pl.when("chosen").then("shown"),
    )
    book.log(cases, "dibao_tekun", "overdue_review")


def _drop_frame(book: Casebook, drops: dict[str, tuple[str, list[str]]]) -> pl.DataFrame:
    ids = [i for _, dropped in drops.values() for i in dropped]
    return book.records.filter(
        ~pl.col("record_id").is_in(pl.Series(ids, dtype=pl.String).implode())
    )


def _first_overdue(
    book: Casebook, drops: dict[str, tuple[str, list[str]]], months: int
) -> pl.DataFrame:
    """Each dropping household's first overdue payment date (``shown``)."""
    if not drops:
        return pl.DataFrame(schema={"household_id": pl.String, "shown": pl.Date})
    overdue = _overdue(book, _drop_frame(book, drops), months)
    first = book.records.filter(pl.col("record_id").is_in([r for r, _ in drops.values()])).select(
        "household_id", pl.col("event_date").alias("dropped")
    )
    return (
        overdue.join(first, on="household_id")
        .filter(pl.col("pay_date") >= pl.col("dropped"))
        .group_by("household_id")
        .agg(pl.col("pay_date").min().alias("shown"))
    )


def _materialised(
    book: Casebook, trial: dict[str, tuple[str, list[str]]], months: int
) -> dict[str, tuple[str, list[str]]]:
    """Return the drops after which the household is paid while its review is overdue."""
    late = _first_overdue(book, trial, months)
    return {h: trial[h] for h in late["household_id"].to_list()}


def inject(
    bundle: HouseholdData,
    anomalies: pl.DataFrame,
    cfg: SimulationConfig,
    process: ProcessProblems,
    *,
    months: int,
    seed: int,
) -> tuple[HouseholdData, pl.DataFrame, pl.DataFrame]:
    """Return the bundle with process problems, the truth's anomalies and the cases."""
    end = months_after(cfg.start, months)
    book = Casebook(bundle, cfg.start, end)
    grants, late, approval, review, exit_, mismatch = _streams(seed, 6)
    draw_grants(book, cfg, process, grants)
    wanted = set(process.problems)
    late_ids = pl.Series([], dtype=pl.String)
    if "late_decision" in wanted:
        late_ids = _late_decisions(book, process, late)
    if "payment_without_approval" in wanted:
        _removed_approvals(book, process, approval, late_ids)
    if "overdue_review" in wanted:
        _dropped_reviews(book, process, review)
    extra = pl.Series([], dtype=pl.String)
    if "paid_after_exit" in wanted:
        extra = paid_after_exit(book, process, exit_)
    checkable = statutory_amounts(book)
    if "payment_mismatch" in wanted:
        altered_amounts(book, process, mismatch, checkable, extra)
    return book.to_bundle(), book.anomalies(anomalies), book.cases()
