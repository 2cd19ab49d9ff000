"""The status quo's casework outcomes: verifications, reviews and home visits.

These are the labels a county really holds, and they are selective: only applicants,
recipients and visited households get one. Decisions are the status quo's own (drawn by
its entry and exit hazards, so they carry its discretion and errors); the assessed income
is the assessor's measurement of the household: its true net income per capita less the
share of informal income the assessor misses, with noise. A separate random stream draws
everything here, so the rest of the simulation is the same with or without casework.
"""

from __future__ import annotations

import numpy as np

from ._config import SimulationConfig
from ._dynamics import POOR
from ._records import RecordBuffer

#: Why a household got an outcome: the status quo's selection, written to the truth.
REASONS = ("application", "scheduled_review", "exit_review", "entry_visit", "recipient_visit")
PROCESSES = ("verification", "review", "home_visit")


def _assess(
    arng: np.random.Generator, net_pc: np.ndarray, informal_pc: np.ndarray, cfg: SimulationConfig
) -> np.ndarray:
    """Assessed net income per capita: the truth less missed informal income, with noise."""
    a = cfg.assessment
    n = len(net_pc)
    # the missed share varies by case around its mean (Beta with concentration 4)
    m = a.missed_informal_share
    missed = arng.beta(4 * m, 4 * (1 - m), n) if 0 < m < 1 else np.full(n, m)
    assessed = np.maximum(net_pc - missed * informal_pc, 0.0) * arng.lognormal(0, a.noise_sd, n)
    rounded: np.ndarray = np.round(assessed, 2)
    return rounded


def casework(
    arng: np.random.Generator,
    buf: RecordBuffer,
    cfg: SimulationConfig,
    *,
    t: int,
    month_start: np.datetime64,
    hh: np.ndarray,
    z: np.ndarray,
    net_pc: np.ndarray,
    informal_pc: np.ndarray,
    line: np.ndarray,
    able: np.ndarray,
    entered: np.ndarray,
    entered_tekun: np.ndarray,
    rejected: np.ndarray,
    app_dates: np.ndarray,
    app_known: np.ndarray,
    recipients: np.ndarray,
    exits: np.ndarray,
    visited: np.ndarray,
    visit_reason: np.ndarray,
    out: list,
) -> np.ndarray:
    """Write this month's verifications, reviews and home-visit findings.

    ``entered`` (dibao or tekun), ``entered_tekun`` and ``rejected`` are masks over
    ``hh``; the applications were written entered first, then rejected, in ``hh``
    order, and ``app_dates``, ``app_known`` hold their event and known dates in that
    order. ``recipients`` marks households on dibao or tekun after this month's moves,
    ``exits`` those leaving a programme this month, ``visited`` the positions of ``hh``
    visited this month and ``visit_reason`` 0 (entry) or 1 (recipient). Each outcome is
    appended to ``out`` as ``(hh, t, process, reason, net_pc, assessed, poor, decision)``.
    Returns the home visits' findings (their records are written with the visits).
    """
    a = cfg.assessment
    poor = z == POOR
    # --- verification of each application: within the statutory delay ------------------
    pos = np.concatenate([np.flatnonzero(entered), np.flatnonzero(rejected)])
    n_in = int(entered.sum())
    assessed = _assess(arng, net_pc[pos], informal_pc[pos], cfg)
    decision = np.where(entered_tekun[pos], "approved_tekun", "approved_dibao").astype(object)
    rej = slice(n_in, None)
    decision[rej] = np.where(assessed[rej] < line[pos][rej], "approved_low_income", "declined")
    withdrawn = np.zeros(len(pos), dtype=bool)
    withdrawn[rej] = arng.random(len(pos) - n_in) < a.withdrawn_share
    decision[withdrawn] = "withdrawn"
    delay = arng.integers(a.decision_days[0], a.decision_days[1] + 1, len(pos))
    buf.add(
        arng,
        source="civil_affairs",
        kind="verification",
        household=hh[pos],
        event_date=app_dates + delay.astype("timedelta64[D]"),
        amount=np.where(withdrawn, np.nan, assessed),
        value=decision,
        known_after=app_known,  # an application is known by the time its decision is
    )
    out.append(
        (
            hh[pos],
            t,
            0,
            np.zeros(len(pos), np.int8),
            net_pc[pos],
            np.where(withdrawn, np.nan, assessed),
            poor[pos],
            decision,
        )
    )

    # --- reviews: yearly, half-yearly where someone can work; every exit follows one ---
    period = np.where(able > 0, 6, 12)
    scheduled = recipients & ~exits & (((hh * 7 + t) % period) == 0)
    pos = np.flatnonzero(scheduled | exits)
    assessed = _assess(arng, net_pc[pos], informal_pc[pos], cfg)
    leaving = exits[pos]
    decision = np.where(
        leaving, "exit", np.where(assessed >= a.reduce_above * line[pos], "reduce", "continue")
    ).astype(object)
    buf.add(
        arng,
        source="civil_affairs",
        kind="review",
        household=hh[pos],
        event_date=month_start + arng.integers(0, 28, len(pos)).astype("timedelta64[D]"),
        amount=assessed,
        value=decision,
    )
    out.append(
        (
            hh[pos],
            t,
            1,
            np.where(leaving, 2, 1).astype(np.int8),
            net_pc[pos],
            assessed,
            poor[pos],
            decision,
        )
    )

    # --- home visits find what is true, with stated error rates ------------------------
    p_poor = poor[visited]
    u = arng.random(len(visited))
    confirmed = np.where(p_poor, u < 1 - a.visit_miss_rate, u < a.visit_false_rate)
    finding = np.where(confirmed, "hardship_confirmed", "no_hardship").astype(object)
    finding[arng.random(len(visited)) < a.visit_not_found_rate] = "not_found"
    out.append(
        (
            hh[visited],
            t,
            2,
            (3 + visit_reason).astype(np.int8),
            net_pc[visited],
            np.full(len(visited), np.nan),
            p_poor,
            finding,
        )
    )
    return finding
