"""Income and the status quo: wages, pensions, savings, surveys and the benefit programmes.

The status quo assigns dibao, tekun, temporary assistance and the two disability
subsidies by a noisy process (entry and exit hazards that depend on true need, but also
on visibility), so its targeting errors are large, as published studies find. Known
fraud and error patterns are injected and written to the truth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._casework import casework
from ._config import SimulationConfig
from ._dynamics import POOR, SECURE, VULNERABLE, _day_in_month
from ._population import REL, Population
from ._records import RecordBuffer
from ._traits import ages_at, household_profile

ASSET_VEHICLE_VALUE = 50_000.0  # a private vehicle worth more fails the asset test
# deposits above 24 months of the household's dibao standard fail the asset test
DEPOSIT_MONTHS = 24
URBAN_ENTRY = 0.55  # urban applications are scrutinised harder


def _channel(rng: np.random.Generator, year: int, n: int) -> np.ndarray:
    app_share = {2023: 0.35, 2024: 0.5}.get(year, 0.6)
    u = rng.random(n)
    out = np.where(u < app_share, "app", np.where(u < app_share + 0.35, "community", "walk_in"))
    return out.astype(object)


def income_and_benefits(
    pop: Population,
    t: int,
    month_start: np.datetime64,
    cfg: SimulationConfig,
    rng: np.random.Generator,
    buf: RecordBuffer,
    alive_hh: np.ndarray,
    z: np.ndarray,
    anomalies: list,
    arng: np.random.Generator,
    outcomes: list,
) -> dict[str, np.ndarray]:
    """Draw this month's income and programme payments; return the truth columns.

    ``arng`` draws the casework outcomes (``_casework.py``), appended to ``outcomes``.
    """
    P, H = pop.persons, pop.households
    year, month = int(str(month_start)[:4]), int(str(month_start)[5:7])
    prof = household_profile(
        pop, month_start, fields=("size", "able", "severe", "old80", "unemployed")
    )
    alive_hh = alive_hh[np.isnat(H.dissolved[alive_hh]) & (prof["size"][alive_hh] > 0)]
    z = H.z[alive_hh].astype(np.int64)
    n = len(alive_hh)
    size = prof["size"][alive_hh]
    dibao_std = pop.region_dibao[H.region[alive_hh]]
    line = dibao_std * cfg.low_income_multiplier
    inv = H.invisible[alive_hh]

    # --- income: net of rigid expenditure, drawn inside the band of the latent state ---
    noise = rng.standard_normal(n, dtype=np.float32)
    ratio = 1.6 + H.wealth[alive_hh] * np.exp(0.1 * noise)
    for state, sd, lo, width, q in (
        (POOR, 0.05, 0.15, 0.83, H.q_poor),
        (VULNERABLE, 0.08, 1.0, 0.6, H.q_vuln),
    ):
        m = np.flatnonzero(z == state)
        pos = np.clip(q[alive_hh[m]] + sd * noise[m], 0.0, 0.999)
        ratio[m] = lo + width * pos
    net_pc = ratio * line
    # rigid expenditure: smoothed twelve-month medical and education costs
    H._cols["oop12"][alive_hh] *= 11 / 12
    H._cols["edu12"][alive_hh] *= 11 / 12
    rigid_pc = (H.oop12[alive_hh] + H.edu12[alive_hh]) / 12 / size
    gross_pc = net_pc + rigid_pc
    H._cols["gross12"][alive_hh] = H.gross12[alive_hh] * 11 / 12 + gross_pc * size

    # --- wages of formal earners ------------------------------------------------------
    live = P.alive & (P.hh >= 0)
    emp = np.flatnonzero(live & P.formal & (P.unemp_left == 0) & (P.prison_until < 0))
    slot = np.full(H.n, -1)
    slot[alive_hh] = np.arange(n)
    emp = emp[slot[P.hh[emp]] >= 0]
    n_emp = np.bincount(P.hh[emp], minlength=H.n)
    e_slot = slot[P.hh[emp]]
    wage = gross_pc[e_slot] * size[e_slot] * H.formal_share[P.hh[emp]] / n_emp[P.hh[emp]]
    wage = np.round(wage * rng.lognormal(0, 0.05, len(emp)), 2)
    seen = rng.random(len(emp)) < np.where(inv[e_slot], 0.3, 0.99)
    buf.add(
        rng,
        source="human_resources",
        kind="wage",
        household=P.hh[emp][seen],
        person=emp[seen],
        event_date=month_start + np.timedelta64(27, "D") + np.zeros(seen.sum(), "timedelta64[D]"),
        amount=wage[seen],
        payment=True,
    )

    age = ages_at(pop, month_start)
    if month == 1 or t == 0:  # pensions are recorded at each annual adjustment
        old = np.flatnonzero(live & (age >= 60))
        old = old[slot[P.hh[old]] >= 0]
        employee = P.hukou_urban[old] & (((old * 2654435761) % 100) < 80)
        o_slot = slot[P.hh[old]]
        cap = 0.9 * gross_pc[o_slot] * size[o_slot]
        amount = np.where(employee, np.minimum(2_800 * (1 + 0.3 * np.sin(old)), cap), 180.0)
        buf.add(
            rng,
            source="human_resources",
            kind="pension",
            household=P.hh[old],
            person=old,
            event_date=month_start + np.zeros(len(old), "timedelta64[D]"),
            amount=np.round(amount, 2),
            value=np.where(employee, "employee", "resident").astype(object),
            payment=True,
        )
    if month == 6:  # bank balances reported once a year
        bal = H.deposit_mult[alive_hh] * gross_pc * size * 12 * np.where(z == SECURE, 1.5, 0.4)
        # the asset test compares the balance with 24 months of the household's standard
        H._cols["deposit_over"][alive_hh] = bal > DEPOSIT_MONTHS * dibao_std * size
        seen = rng.random(n) < np.where(inv, 0.2, 0.995)
        buf.add(
            rng,
            source="banking",
            kind="deposit_balance",
            household=alive_hh[seen],
            event_date=_day_in_month(rng, month_start, seen.sum()),
            amount=np.round(bal[seen], 2),
        )
        H._cols["deposit_mult"][alive_hh] *= rng.lognormal(0, 0.1, n)
    if month == 12:  # village income survey of monitored rural households
        mon = H.monitored[alive_hh]
        seen = mon & (rng.random(n) < np.where(inv, 0.5, 0.95))
        amount = H.gross12[alive_hh] / size * rng.lognormal(0, 0.12, n)
        buf.add(
            rng,
            source="rural_revitalization",
            kind="income_survey",
            household=alive_hh[seen],
            event_date=_day_in_month(rng, month_start, seen.sum()),
            amount=np.round(amount[seen], 2),
            slow=inv[seen],
        )

    # the part of income no department records (farm, informal work), per person
    informal_pc = (1.0 - H.formal_share[alive_hh]) * gross_pc
    _programmes(
        pop,
        t,
        year,
        month_start,
        cfg,
        rng,
        buf,
        alive_hh,
        z,
        size,
        dibao_std,
        ratio,
        prof,
        inv,
        anomalies,
        (arng, outcomes, net_pc, informal_pc, line),
    )

    # --- truth: need by dimension ----------------------------------------------------
    kids = np.flatnonzero(live & (age >= 6) & (age < 16) & ~P.in_school)
    no_school = np.bincount(P.hh[kids], minlength=H.n)[alive_hh] > 0
    care = ((prof["severe"] + prof["old80"])[alive_hh] > 0) & (prof["able"][alive_hh] == 0)
    return {
        "hh": alive_hh,
        "state": z.astype(np.int8),
        # float32 (to the cent up to ~100k yuan): the truth of 36M household-months
        "net_income_per_capita": np.round(net_pc, 2).astype(np.float32),
        "rigid_expenditure_per_capita": np.round(rigid_pc, 2).astype(np.float32),
        "need_income": z == POOR,
        "need_health": H.oop12[alive_hh] > 0.1 * np.maximum(H.gross12[alive_hh], 1.0),
        "need_education": no_school,
        "need_care": care,
        "need_housing": H.housing_unsafe[alive_hh],
        "need_employment": prof["unemployed"][alive_hh] > 0,
        "invisible": inv,
    }


def _programmes(
    pop: Population,
    t: int,
    year: int,
    month_start: np.datetime64,
    cfg: SimulationConfig,
    rng: np.random.Generator,
    buf: RecordBuffer,
    hh: np.ndarray,
    z: np.ndarray,
    size: np.ndarray,
    dibao_std: np.ndarray,
    ratio: np.ndarray,
    prof: dict[str, np.ndarray],
    inv: np.ndarray,
    anomalies: list[Any],
    case: Any,
) -> None:
    P, H = pop.persons, pop.households
    n = len(hh)
    pay_day = month_start + np.timedelta64(9, "D")
    on_dibao = H.dibao[hh]
    on_tekun = H.tekun[hh]
    urban = H.urban[hh]
    # tekun: no able-bodied working-age member, and poor
    eligible_tk = (prof["able"][hh] == 0) & (z == POOR)
    enter_tk = ~on_tekun & eligible_tk & (rng.random(n) < np.where(inv, 0.002, 0.01))
    leave_tk = on_tekun & ~eligible_tk & (rng.random(n) < 0.05)
    on_tekun = (on_tekun | enter_tk) & ~leave_tk
    # dibao: entry and exit hazards by true state; invisible households rarely apply
    h_in = np.asarray(cfg.dibao_entry.as_tuple())[z]
    h_in = (
        h_in * np.where(inv, cfg.invisible_entry_factor, 1.0) * np.where(urban, URBAN_ENTRY, 1.0)
    )
    h_out = np.asarray(cfg.dibao_exit.as_tuple())[z]
    u = rng.random(n)
    enter = ~on_dibao & ~on_tekun & (u < h_in)
    leave = on_dibao & ((u < h_out) | on_tekun)
    rejected = ~on_dibao & ~enter & (u < h_in * 1.6)
    on_dibao = (on_dibao | enter) & ~leave
    H._cols["dibao"][hh] = on_dibao
    H._cols["tekun"][hh] = on_tekun
    applicants = np.concatenate([hh[enter | enter_tk], hh[rejected]])
    app_dates = _day_in_month(rng, month_start, len(applicants)) - np.timedelta64(30, "D")
    app_known = buf.add(
        rng,
        source="civil_affairs",
        kind="application",
        household=applicants,
        event_date=app_dates,
        value=_channel(rng, year, len(applicants)),
    )
    entry_visit = enter | enter_tk
    visited = np.flatnonzero(entry_visit | (on_dibao & (rng.random(n) < 1 / 12)))
    arng, outcomes, net_pc, informal_pc, line = case
    findings = casework(
        arng,
        buf,
        cfg,
        t=t,
        month_start=month_start,
        hh=hh,
        z=z,
        net_pc=net_pc,
        informal_pc=informal_pc,
        line=line,
        able=prof["able"][hh],
        entered=entry_visit,
        entered_tekun=enter_tk,
        rejected=rejected,
        app_dates=app_dates,
        app_known=app_known,
        recipients=on_dibao | on_tekun,
        exits=(leave & ~on_tekun) | leave_tk,
        visited=visited,
        visit_reason=(~entry_visit[visited]).astype(np.int8),
        out=outcomes,
    )
    buf.add(
        rng,
        source="civil_affairs",
        kind="home_visit",
        household=hh[visited],
        event_date=_day_in_month(rng, month_start, len(visited)),
        value=findings,
    )

    head = _heads(pop, hh)
    jailed_head = (head >= 0) & (P.prison_until[np.maximum(head, 0)] >= 0)
    suspend = jailed_head & (size == 1) & ((hh * 7919) % 10 >= 6)  # 40% are suspended
    # a top-up to the line: urban top-ups are larger (published averages: 408 vs 248)
    paid_pc = dibao_std * np.where(
        urban, np.clip(1.2 - 0.45 * ratio, 0.2, 0.95), np.clip(0.85 - 0.4 * ratio, 0.12, 0.8)
    )
    pay = on_dibao & ~suspend
    buf.add(
        rng,
        source="civil_affairs",
        kind="benefit_dibao",
        household=hh[pay],
        person=head[pay],
        event_date=np.full(pay.sum(), pay_day),
        amount=np.round(paid_pc[pay] * size[pay], 2),
        payment=True,
    )
    tk_pay = on_tekun & ~suspend
    buf.add(
        rng,
        source="civil_affairs",
        kind="benefit_tekun",
        household=hh[tk_pay],
        person=head[tk_pay],
        event_date=np.full(tk_pay.sum(), pay_day),
        amount=np.round(dibao_std[tk_pay] * cfg.tekun_multiplier * size[tk_pay], 2),
        payment=True,
    )
    for flag in (pay, tk_pay):
        # a one-person household's benefit paid while its only member is in prison
        bad = flag & jailed_head & (size == 1)
        anomalies.append(("paid_in_prison", hh[bad], head[bad], t))
    # asset-test failures among dibao recipients
    for cond, name in (
        (H.vehicle[hh] > ASSET_VEHICLE_VALUE, "asset_vehicle"),
        (H.business[hh], "asset_business"),
        (H.properties[hh] >= 2, "asset_property"),
        (H.deposit_over[hh], "asset_deposit"),
    ):
        bad = pay & cond
        anomalies.append((name, hh[bad], np.full(bad.sum(), -1), t))

    # temporary assistance after a recorded shock this month (big bills, disasters, deaths)
    shocked = H.oop12[hh] > 8_000 * size
    temp = shocked & (rng.random(n) < np.where(inv, 0.01, 0.05))
    urban_std = float(cfg.dibao_standard.urban)
    buf.add(
        rng,
        source="civil_affairs",
        kind="benefit_temporary",
        household=hh[temp],
        event_date=_day_in_month(rng, month_start, temp.sum()),
        amount=np.round(size[temp] * urban_std * rng.uniform(1, 6, temp.sum()), 2),
        payment=True,
    )

    _disability_subsidies(pop, t, month_start, rng, buf, hh, on_dibao, on_tekun, anomalies)


def _heads(pop: Population, hh: np.ndarray) -> np.ndarray:
    """Return the head (or a living member) of each household; -1 if none."""
    P = pop.persons
    live = np.flatnonzero(P.alive & (P.hh >= 0))
    head_of = np.full(pop.households.n, -1)
    head_of[P.hh[live]] = live  # any member (the last one written wins) ...
    heads = live[pop.spells.relation[P.spell[live]] == REL["head"]]
    head_of[P.hh[heads]] = heads  # ... unless the household has a living head
    heads_of: np.ndarray = head_of[hh]
    return heads_of


def _disability_subsidies(
    pop: Population,
    t: int,
    month_start: np.datetime64,
    rng: np.random.Generator,
    buf: RecordBuffer,
    hh: np.ndarray,
    on_dibao: np.ndarray,
    on_tekun: np.ndarray,
    anomalies: list[Any],
) -> None:
    P, H = pop.persons, pop.households
    pay_day = month_start + np.timedelta64(14, "D")
    live = P.alive & (P.hh >= 0)
    dib = np.zeros(H.n, bool)
    dib[hh[on_dibao]] = True
    tek = np.zeros(H.n, bool)
    tek[hh[on_tekun]] = True
    cert = np.flatnonzero(live & P.disab_known & (P.disab > 0))
    ph = P.hh[cert]
    # living subsidy: certified disabled people in dibao households; tekun ones should not
    # get it (overlap), but 25% of those entering tekun keep it: the duplicate benefit
    start_ls = cert[~P.living_subsidy[cert] & dib[ph] & (rng.random(len(cert)) < 0.3)]
    P._cols["living_subsidy"][start_ls] = True
    stop = cert[P.living_subsidy[cert] & ~dib[ph] & ~(tek[ph] & (((cert * 31) % 4) == 0))]
    P._cols["living_subsidy"][stop[rng.random(len(stop)) < 0.5]] = False
    severe = cert[(P.disab[cert] <= 2) & ~P.care_subsidy[cert]]
    P._cols["care_subsidy"][severe[rng.random(len(severe)) < 0.3]] = True
    jailed = P.prison_until >= 0
    for kind, flag, amount in (
        ("disability_living_subsidy", P.living_subsidy, 100.0),
        ("disability_care_subsidy", P.care_subsidy, 90.0),
    ):
        recv = np.flatnonzero(live & flag)
        recv = recv[~jailed[recv] | ((recv % 3) != 0)]  # a third are suspended in prison
        buf.add(
            rng,
            source="civil_affairs",
            kind=kind,
            household=P.hh[recv],
            person=recv,
            event_date=np.full(len(recv), pay_day),
            amount=np.full(len(recv), amount),
            payment=True,
        )
        bad = recv[jailed[recv]]
        anomalies.append(("paid_in_prison", P.hh[bad], bad, t))
        if kind == "disability_living_subsidy":
            dup = recv[tek[P.hh[recv]]]
            anomalies.append(("duplicate_benefit", P.hh[dup], dup, t))
        # payments after death: some recipients who died keep being paid for a few months
        just_died = np.flatnonzero(
            ~P.alive
            & flag
            & (P.death >= month_start - np.timedelta64(31, "D"))
            & (P.death < month_start)
        )
        P._cols["pay_after_death"][just_died] = np.where(
            rng.random(len(just_died)) < 0.15, rng.integers(1, 5, len(just_died)), 0
        )
        ghost = np.flatnonzero(~P.alive & flag & (P.pay_after_death > 0))
        buf.add(
            rng,
            source="civil_affairs",
            kind=kind,
            household=P.hh[ghost],
            person=ghost,
            event_date=np.full(len(ghost), pay_day),
            amount=np.full(len(ghost), amount),
            payment=True,
        )
        anomalies.append(("paid_after_death", P.hh[ghost], ghost, t))
    ghosts = np.flatnonzero(~P.alive & (P.pay_after_death > 0))
    P._cols["pay_after_death"][ghosts] -= 1
