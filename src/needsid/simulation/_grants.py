"""Housing and medical assistance grants, drawn when process problems are injected.

Dibao and tekun households apply for medical assistance (医疗救助) after an out-of-pocket
hospital bill and for housing assistance (住房救助) when their housing is on record as
unsafe; each case is an ``application``, a ``verification`` approving it
(``approved_medical``, ``approved_housing``; no assessed income: the grant rests on the
household's dibao or tekun status) and one grant (``benefit_medical`` to the patient,
``benefit_housing`` to the household). A case has a problem with the programme's rate: a
decision past the limit (its application moved earlier) or a removed approval. The
records are drawn after the simulation from the extract itself, with the process
problems' random stream, so they exist only with the switch on.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ._casebook import CIVIL_AFFAIRS, MONTHLY, Casebook, month_no
from ._config import ProcessProblems, SimulationConfig

__all__ = ["draw_grants"]

MEDICAL_TAKE_UP = 0.8  # share of recipients' hospital bills that lead to an application
MEDICAL_SHARE = {"benefit_dibao": 0.7, "benefit_tekun": 0.9}  # of the out-of-pocket cost
# one medical assistance case at a time per household: a grant's approval lies within the
# rules' 90-day lookback of its own payment only
MEDICAL_GAP_DAYS = 180
HOUSING_HAZARD = 0.04  # monthly, while a household with unsafe housing is a recipient
HOUSING_GRANT = {True: (8_000, 20_000), False: (15_000, 35_000)}  # urban, rural; yuan
CHANNELS = (("app", 0.5), ("community", 0.35), ("walk_in", 0.15))
_GRANT_PROBLEMS = ("late_decision", "payment_without_approval")
# no other application of the household from this many days before a late decision
# (the moved application, up to 120 days earlier, and some) to this many after it
LATE_WINDOW = (300, 180)


def _days(rng: np.random.Generator, lo: int, hi: int, n: int) -> pl.Expr:
    """``n`` whole numbers of days in [lo, hi], as a literal column."""
    return pl.lit(pl.Series(rng.integers(lo, hi + 1, n), dtype=pl.Int64))


def _recipient_months(book: Casebook) -> pl.DataFrame:
    """Household months with a dibao or tekun payment: its kind (tekun first) and payee."""
    return (
        book.kind(*MONTHLY)
        .with_columns(m=month_no())
        .sort("household_id", "m", "kind", descending=[False, False, True])
        .group_by("household_id", "m", maintain_order=True)
        .agg(pl.col("kind").first(), pl.col("person_id").first().alias("payee"))
    )


def _medical(book: Casebook, recipients: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Medical assistance cases: ``household_id, person_id, kind, start, amount``."""
    bills: pl.DataFrame = (
        book.bundle.records.filter(pl.col("kind").cast(pl.String) == "medical_oop")
        .select("household_id", "person_id", "record_id", "event_date", "amount")
        .with_columns(m=month_no())
        .join(recipients, on=["household_id", "m"])
        .sort("household_id", "event_date", "record_id")
    )
    hh = bills["household_id"].to_numpy()
    day = bills["event_date"].to_physical().to_numpy()
    keep = np.zeros(len(hh), dtype=bool)
    last_hh, last_day = None, 0
    for i in range(len(hh)):  # one open case at a time per household
        if hh[i] != last_hh or day[i] - last_day > MEDICAL_GAP_DAYS:
            keep[i], last_hh, last_day = True, hh[i], day[i]
    bills = bills.filter(pl.Series(keep))
    bills = bills.filter(pl.Series(rng.random(bills.height) < MEDICAL_TAKE_UP))
    share = pl.col("kind").replace_strict(MEDICAL_SHARE, return_dtype=pl.Float64)
    return bills.select(
        "household_id",
        "person_id",
        pl.lit("benefit_medical").alias("kind"),
        (pl.col("event_date") + pl.duration(days=_days(rng, 1, 30, bills.height))).alias("start"),
        (share * pl.col("amount")).round(2).alias("amount"),
    )


def _housing(book: Casebook, recipients: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Housing assistance cases: ``household_id, person_id, kind, start, amount``."""
    unsafe = (
        book.bundle.records.filter(pl.col("kind").cast(pl.String) == "housing_unsafe")
        .group_by("household_id")
        .agg(month_no().min().alias("unsafe_m"))
    )
    urban = book.bundle.households.join(book.bundle.regions, on="region_id").select(
        "household_id", "urban"
    )
    months = (
        recipients.join(unsafe, on="household_id")
        .filter(pl.col("m") > pl.col("unsafe_m"))
        .sort("household_id", "m")
    )
    months = months.filter(pl.Series(rng.random(months.height) < HOUSING_HAZARD))
    cases = (
        months.group_by("household_id", maintain_order=True).first().join(urban, on="household_id")
    )
    is_urban = cases["urban"].to_numpy()
    lo = np.where(is_urban, HOUSING_GRANT[True][0], HOUSING_GRANT[False][0])
    hi = np.where(is_urban, HOUSING_GRANT[True][1], HOUSING_GRANT[False][1])
    amount = np.round(rng.uniform(lo, hi) / 100) * 100
    first_day = pl.date(pl.col("m") // 12, pl.col("m") % 12 + 1, 1)
    return cases.select(
        "household_id",
        pl.col("payee").alias("person_id"),
        pl.lit("benefit_housing").alias("kind"),
        (first_day + pl.duration(days=_days(rng, 0, 27, cases.height))).alias("start"),
        pl.Series(amount, dtype=pl.Float64).alias("amount"),
    )


def _write(
    book: Casebook, cases: pl.DataFrame, cfg: SimulationConfig, rng: np.random.Generator
) -> pl.DataFrame:
    """Write each case's application, approval and grant; return the complete cases."""
    n = cases.height
    lo, hi = cfg.assessment.decision_days
    names = [c for c, _ in CHANNELS]
    probs = [p for _, p in CHANNELS]
    cases = cases.sort("start", "household_id").with_columns(
        app_date=pl.col("start"),
        dec_date=pl.col("start") + pl.duration(days=_days(rng, lo, hi, n)),
        channel=pl.Series(rng.choice(names, size=n, p=probs).astype(str), dtype=pl.String),
        app_lag=book.lag(rng, n),
        dec_lag=book.lag(rng, n),
        pay_lag=book.lag(rng, n, payment=True),
    )
    cases = cases.with_columns(
        pay_date=pl.col("dec_date") + pl.duration(days=_days(rng, 0, 15, n)),
        app_known=pl.col("app_date") + pl.duration(days=pl.col("app_lag")),
    ).with_columns(
        dec_known=pl.max_horizontal(
            pl.col("dec_date") + pl.duration(days=pl.col("dec_lag")), "app_known"
        ),
        pay_known=pl.col("pay_date") + pl.duration(days=pl.col("pay_lag")),
    )
    # only cases whose three records are in the extract
    cases = cases.filter(
        pl.max_horizontal("app_known", "dec_known", "pay_known") < book.end
    ).with_columns(case=pl.int_range(pl.len()))
    common = [pl.col("household_id"), pl.lit(CIVIL_AFFAIRS).alias("source")]
    parts = {
        "app": cases.select(
            "case",
            *common,
            pl.lit(None, pl.String).alias("person_id"),
            pl.lit("application").alias("kind"),
            pl.col("app_date").alias("event_date"),
            pl.col("app_known").alias("known_date"),
            pl.lit(None, pl.Float64).alias("amount"),
            pl.col("channel").alias("value"),
        ),
        "dec": cases.select(
            "case",
            *common,
            pl.lit(None, pl.String).alias("person_id"),
            pl.lit("verification").alias("kind"),
            pl.col("dec_date").alias("event_date"),
            pl.col("dec_known").alias("known_date"),
            pl.lit(None, pl.Float64).alias("amount"),
            pl.concat_str(pl.lit("approved_"), pl.col("kind").str.strip_prefix("benefit_")).alias(
                "value"
            ),
        ),
        "pay": cases.select(
            "case",
            *common,
            "person_id",
            "kind",
            pl.col("pay_date").alias("event_date"),
            pl.col("pay_known").alias("known_date"),
            "amount",
            pl.lit(None, pl.String).alias("value"),
        ),
    }
    ids = {}
    for name, frame in parts.items():
        written = book.add(frame.drop("case"))
        ids[name] = frame.select("case").with_columns(written["record_id"].alias(f"{name}_id"))
    for name in ("app", "dec", "pay"):
        cases = cases.join(ids[name], on="case")
    return cases


def _crowded(book: Casebook, cases: pl.DataFrame) -> list[bool]:
    """Whether another application of the household lies near each case's decision."""
    apps = book.kind("application").select(
        "household_id", pl.col("record_id").alias("other"), pl.col("event_date").alias("on")
    )
    days = pl.col("on") - pl.col("dec_date")
    near = (
        cases.select("case", "household_id", "app_id", "dec_date")
        .join(apps, on="household_id")
        .filter(
            (pl.col("other") != pl.col("app_id"))
            & (days >= pl.duration(days=-LATE_WINDOW[0]))
            & (days <= pl.duration(days=LATE_WINDOW[1]))
        )
    )
    return cases["case"].is_in(near["case"].implode()).to_list()


def draw_grants(
    book: Casebook, cfg: SimulationConfig, process: ProcessProblems, rng: np.random.Generator
) -> None:
    """Add the housing and medical assistance cases to ``book``, with their problems."""
    recipients = _recipient_months(book)
    drawn = pl.concat([_medical(book, recipients, rng), _housing(book, recipients, rng)])
    cases = _write(book, drawn, cfg, rng)
    problems = [p for p in _GRANT_PROBLEMS if p in process.problems]
    rate = {"benefit_medical": process.medical_rate, "benefit_housing": process.housing_rate}
    p_hit = cases["kind"].replace_strict(rate, return_dtype=pl.Float64).to_numpy()
    hit = rng.random(cases.height) < p_hit
    which = rng.integers(0, max(len(problems), 1), cases.height)
    anomaly = [problems[w] if h and problems else None for h, w in zip(hit, which, strict=True)]
    # a late decision needs the case's application to be the household's only one around
    # it (a decision answers the latest application): elsewhere, the approval goes missing
    crowded = _crowded(book, cases)
    anomaly = [
        ("payment_without_approval" if "payment_without_approval" in problems else None)
        if a == "late_decision" and c
        else a
        for a, c in zip(anomaly, crowded, strict=True)
    ]
    cases = cases.with_columns(anomaly=pl.Series(anomaly, dtype=pl.String))
    late = cases.filter(pl.col("anomaly") == "late_decision")
    late = late.with_columns(wait=process.decision_limit_days + _days(rng, 1, 90, late.height))
    shift = pl.col("dec_date") - pl.duration(days=pl.col("wait")) - pl.col("app_date")
    book.update(
        late.select(
            pl.col("app_id").alias("record_id"),
            (pl.col("app_date") + shift).alias("event_date"),
            (pl.col("app_known") + shift).alias("known_date"),
        )
    )
    book.remove(cases.filter(pl.col("anomaly") == "payment_without_approval")["dec_id"])
    shown = pl.when(pl.col("anomaly") == "payment_without_approval").then("pay_date")
    for kind, programme in (("benefit_housing", "housing"), ("benefit_medical", "medical")):
        book.log(
            cases.filter(pl.col("kind") == kind).select(
                "household_id",
                pl.col("dec_date").alias("month"),
                "anomaly",
                shown.otherwise("dec_date").alias("shown"),
            ),
            programme,
            "grant",
        )
