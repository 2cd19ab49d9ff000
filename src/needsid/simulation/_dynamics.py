"""One simulated month: the latent need chain, life events, work, health, school, income.

Need moves through a hidden Markov chain (secure, vulnerable, poor) whose monthly
transition matrix is fixed per household; falls into poverty come with a cause (job
loss, illness, disaster, a working-age death) that the departments record. Everything
else (wages, hospital bills, school) is drawn given the chain, so the records carry
information about need without feeding back into it.

A scenario shock (``SimulationConfig.shocks``) multiplies the job-loss and illness
hazards of some regions for some months (see ``_shocks.py``). Without a shock no draw
changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ._config import SimulationConfig
from ._population import REL, Population
from ._records import RecordBuffer
from ._traits import ages_at, draw_traits

if TYPE_CHECKING:  # _shocks imports this module
    from ._shocks import MonthShock

SECURE, VULNERABLE, POOR = 0, 1, 2
# monthly mortality by age (Gompertz: about 5% a year at 80, 0.15% at 40)
MORTALITY = np.exp(-10.0 + 0.0877 * np.arange(121)) / 12.0
BACKGROUND_JOB_LOSS = 0.003  # monthly, per formal earner, besides the falls it causes


def _day_in_month(rng: np.random.Generator, month_start: np.datetime64, n: int) -> np.ndarray:
    return month_start + rng.integers(0, 28, size=n).astype("timedelta64[D]")


def rare(rng: np.random.Generator, p: npt.ArrayLike) -> np.ndarray:
    """Return positions where an event of (small) probability ``p`` happens.

    Rather than a uniform number per position, thin a binomial count of candidates.
    Candidates are drawn with replacement and merged, so the rare position drawn twice
    counts once; at the rates used here that bias is far below the calibration tolerance.
    """
    prob = np.asarray(p, dtype=np.float64)
    n = prob.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    p_max = float(prob.max())
    if p_max <= 0:
        return np.zeros(0, dtype=np.int64)
    if p_max > 0.1:
        return np.flatnonzero(rng.random(n) < prob)
    k = rng.binomial(n, p_max)
    cand = np.unique(rng.integers(0, n, size=k))
    chosen: np.ndarray = cand[rng.random(len(cand)) * p_max < prob[cand]]
    return chosen


def _pick_one(
    rng: np.random.Generator, person_hh: np.ndarray, weights: np.ndarray, target_hh: np.ndarray
) -> np.ndarray:
    """For each household in ``target_hh`` pick one of its people (weighted); -1 if none.

    Returns positions into ``person_hh``.
    """
    if len(target_hh) == 0 or len(person_hh) == 0:
        return np.full(len(target_hh), -1)
    wanted = np.zeros(max(person_hh.max(), target_hh.max()) + 1, dtype=bool)
    wanted[target_hh] = True
    cand = np.flatnonzero(wanted[person_hh] & (weights > 0))
    if len(cand) == 0:
        return np.full(len(target_hh), -1)
    # weighted sampling without replacement: the largest u ** (1 / w) wins
    key = rng.random(len(cand)) ** (1.0 / weights[cand])
    order = np.lexsort((-key, person_hh[cand]))
    ph = person_hh[cand][order]
    first = np.ones(len(ph), dtype=bool)
    first[1:] = ph[1:] != ph[:-1]
    best_hh, best_p = ph[first], cand[order][first]
    pos = np.clip(np.searchsorted(best_hh, target_hh), 0, len(best_hh) - 1)
    return np.where(best_hh[pos] == target_hh, best_p[pos], -1)


def not_after_death(pop: Population, persons: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Clip event dates of people who died this month to their date of death."""
    death = pop.persons.death[persons]
    return np.where(np.isnat(death), dates, np.minimum(dates, death))


def kill(
    pop: Population,
    persons: np.ndarray,
    dates: np.ndarray,
    buf: RecordBuffer,
    rng: np.random.Generator,
) -> None:
    """Record deaths: close spells, dissolve emptied households."""
    if len(persons) == 0:
        return
    P, H = pop.persons, pop.households
    persons, first = np.unique(persons, return_index=True)
    dates = dates[first]
    hh = P.hh[persons]
    P._cols["alive"][persons] = False
    P._cols["death"][persons] = dates
    pop.spells._cols["left"][P.spell[persons]] = dates
    invisible = H.invisible[hh]
    seen = rng.random(len(persons)) < np.where(invisible, 0.75, 0.99)
    buf.add(
        rng,
        source="public_security",
        kind="death",
        household=hh[seen],
        person=persons[seen],
        event_date=dates[seen],
        slow=invisible[seen],
    )
    live = P.alive & (P.hh >= 0)
    left = np.bincount(P.hh[live], minlength=H.n)
    empty = np.unique(hh[left[hh] == 0])
    if len(empty):
        last = np.zeros(H.n, dtype="datetime64[D]")
        np.maximum.at(last.view(np.int64), hh, dates.view(np.int64))
        H._cols["dissolved"][empty] = last[empty]


def latent_step(
    pop: Population,
    alive_hh: np.ndarray,
    rng: np.random.Generator,
    fall_factor: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Advance the chain one month; return (previous state, new state).

    ``fall_factor`` (per household, a shock's) multiplies the probabilities of falling
    into the poor state, taking the extra mass from staying put.
    """
    H = pop.households
    z = H.z[alive_hh].astype(np.int64)
    u = rng.random(len(alive_hh))
    t01, t02, t12 = H.t01[alive_hh], H.t02[alive_hh], H.t12[alive_hh]
    t10, t21, t20 = H.t10[alive_hh], H.t21[alive_hh], H.t20[alive_hh]
    if fall_factor is not None:
        t02 = np.minimum(t02 * fall_factor, 1.0 - t01)
        t12 = np.minimum(t12 * fall_factor, 1.0 - t10)
    new = z.copy()
    s = z == SECURE
    new[s] = np.where(u[s] < t01[s], VULNERABLE, np.where(u[s] < t01[s] + t02[s], POOR, SECURE))
    v = z == VULNERABLE
    new[v] = np.where(u[v] < t10[v], SECURE, np.where(u[v] < t10[v] + t12[v], POOR, VULNERABLE))
    p = z == POOR
    new[p] = np.where(u[p] < t20[p], SECURE, np.where(u[p] < t20[p] + t21[p], VULNERABLE, POOR))
    H._cols["z"][alive_hh] = new
    return z, new


def _cause_weights(
    pop: Population, hh: np.ndarray, n_emp: np.ndarray, n_work: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """Return the odds of each cause of a fall into poverty of households ``hh``.

    Columns, in this order: job loss, illness, disaster, a working-age death, other.
    """
    return np.stack(
        [
            3.0 * (n_emp[hh] > 0),
            np.full(len(hh), 2.0),
            12.0 * pop.region_disaster[pop.households.region[hh]] / 0.003,
            0.4 * ((n_work[hh] > 0) & (size[hh] >= 2)),
            np.full(len(hh), 1.5),
        ],
        axis=1,
    )


def step(
    pop: Population,
    t: int,
    month_start: np.datetime64,
    cfg: SimulationConfig,
    rng: np.random.Generator,
    buf: RecordBuffer,
    shock: MonthShock | None = None,
) -> dict[str, np.ndarray]:
    """Simulate month ``t``; return per-household arrays for the truth tables.

    ``shock`` holds this month's job-loss and illness multipliers by region (None: no
    shock, and not one draw differs from a run without shocks).
    """
    P, H = pop.persons, pop.households
    alive_hh = np.flatnonzero(np.isnat(H.dissolved) & (H.formed <= month_start))
    # who lives where and works: the chain's step below moves no person
    age = ages_at(pop, month_start)
    live = P.alive & (P.hh >= 0)
    lp = np.flatnonzero(live)
    lp_hh = P.hh[lp]
    lp_age = age[lp]
    employed = P.formal[lp] & (P.unemp_left[lp] == 0) & (P.prison_until[lp] < 0)
    n_emp = np.bincount(lp_hh[employed], minlength=H.n)
    n_work = np.bincount(lp_hh[(lp_age >= 18) & (lp_age < 60)], minlength=H.n)
    size = np.bincount(lp_hh, minlength=H.n)
    fall_factor = None
    if shock is not None:
        causes = _cause_weights(pop, alive_hh, n_emp, n_work, size)
        fall_factor = shock.fall_factor(pop, alive_hh, causes)
    if t > 0:
        z_prev, z_new = latent_step(pop, alive_hh, rng, fall_factor)
    else:
        z_prev = z_new = H.z[alive_hh].astype(np.int64)
    fell = (z_new == POOR) & (z_prev != POOR)
    rose = (z_new != POOR) & (z_prev == POOR)
    invisible_all = H.invisible
    z_of_hh = np.zeros(H.n + 1, dtype=np.int64)  # grows below if households split
    z_of_hh[alive_hh] = z_new

    # --- causes of falls into poverty --------------------------------------------------
    fell_hh = alive_hh[fell]
    w = _cause_weights(pop, fell_hh, n_emp, n_work, size)
    if shock is not None:
        shock.weigh_causes(pop, fell_hh, w)  # the falls a shock adds have its causes
    w = w / w.sum(axis=1, keepdims=True)
    cause = (rng.random(len(fell_hh))[:, None] > np.cumsum(w, axis=1)).sum(axis=1)
    cause = np.minimum(cause, 4)
    # job loss
    jl_hh = fell_hh[cause == 0]
    who = _pick_one(rng, lp_hh[employed], np.ones(employed.sum()), jl_hh)
    jl = lp[employed][who[who >= 0]] if (who >= 0).any() else np.zeros(0, dtype=np.int64)
    P._cols["unemp_left"][jl] = rng.geometric(1 / 7, size=len(jl))
    # illness with a large bill
    il_hh = fell_hh[cause == 1]
    ill_w = 1.0 + 2.0 * (lp_age >= 60) + 2.0 * P.chronic[lp]
    sick = _pick_one(rng, lp_hh, ill_w, il_hh)
    sick = lp[sick[sick >= 0]]
    big_cost = rng.lognormal(np.log(45_000), 0.6, size=len(sick))
    # disasters
    dis_hh = fell_hh[cause == 2]
    dis_loss = rng.lognormal(np.log(30_000), 0.8, size=len(dis_hh))
    # a working-age death
    dh_hh = fell_hh[cause == 3]
    wa = (lp_age >= 18) & (lp_age < 60)
    dead = _pick_one(rng, lp_hh[wa], np.ones(wa.sum()), dh_hh)
    dead = lp[wa][dead[dead >= 0]]

    # --- background events ---------------------------------------------------------------
    # deaths: Gompertz mortality, worse with severe disability and poverty
    q = MORTALITY[np.minimum(lp_age, 120)]
    q *= np.where((P.disab[lp] >= 1) & (P.disab[lp] <= 2), 1.8, 1.0)
    q *= np.where(z_of_hh[lp_hh] == POOR, 1.4, 1.0)
    bg_dead = lp[rare(rng, np.minimum(q, 0.05))]
    all_dead = np.concatenate([dead, bg_dead])
    kill(pop, all_dead, _day_in_month(rng, month_start, len(all_dead)), buf, rng)

    # hospitalisations: background plus the large bills above
    ph = 0.003 + 0.006 * (lp_age >= 60) + 0.008 * P.chronic[lp] + 0.004 * (z_of_hh[lp_hh] == POOR)
    if shock is not None:
        ph = ph * shock.illness[H.region[lp_hh]]
    bg_sick = lp[rare(rng, ph)]
    bg_cost = rng.lognormal(np.log(9_000), 0.7, size=len(bg_sick))
    hosp = np.concatenate([sick, bg_sick])
    cost = np.concatenate([big_cost, bg_cost])
    if len(hosp):
        hhh = P.hh[hosp]
        resident = ~P.hukou_urban[hosp] | (rng.random(len(hosp)) < 0.3)
        oop = cost * np.where(
            resident, rng.uniform(0.35, 0.6, len(hosp)), rng.uniform(0.15, 0.35, len(hosp))
        )
        d = not_after_death(pop, hosp, _day_in_month(rng, month_start, len(hosp)))
        inv = invisible_all[hhh]
        seen = rng.random(len(hosp)) < np.where(inv, 0.35, 0.97)
        buf.add(
            rng,
            source="health",
            kind="hospitalization",
            household=hhh[seen],
            person=hosp[seen],
            event_date=d[seen],
            amount=np.round(cost[seen], 2),
            slow=inv[seen],
        )
        buf.add(
            rng,
            source="medical_insurance",
            kind="medical_oop",
            household=hhh[seen],
            person=hosp[seen],
            event_date=d[seen],
            amount=np.round(oop[seen], 2),
            slow=inv[seen],
        )
        np.add.at(H._cols["oop12"], hhh, oop)
        new_chronic = hosp[~P.chronic[hosp] & (rng.random(len(hosp)) < 0.25)]
        P._cols["chronic"][new_chronic] = True
        buf.add(
            rng,
            source="health",
            kind="chronic_illness",
            household=P.hh[new_chronic],
            person=new_chronic,
            event_date=not_after_death(
                pop, new_chronic, _day_in_month(rng, month_start, len(new_chronic))
            ),
            slow=invisible_all[P.hh[new_chronic]],
        )

    # disasters: background small losses plus the large ones above
    bg_dis = alive_hh[rare(rng, pop.region_disaster[H.region[alive_hh]])]
    dis_all = np.concatenate([dis_hh, bg_dis])
    loss = np.concatenate([dis_loss, rng.lognormal(np.log(6_000), 0.8, size=len(bg_dis))])
    kinds = np.array(["flood", "drought", "earthquake", "fire", "landslide"], dtype=object)
    seen = rng.random(len(dis_all)) < np.where(invisible_all[dis_all], 0.6, 0.95)
    buf.add(
        rng,
        source="emergency_management",
        kind="disaster_loss",
        household=dis_all[seen],
        event_date=_day_in_month(rng, month_start, seen.sum()),
        amount=np.round(loss[seen], 2),
        value=kinds[rng.integers(0, len(kinds), seen.sum())],
    )
    H._cols["oop12"][dis_all] += 0.3 * loss  # repair costs count as rigid expenditure

    # employment: background job losses, spells ending, re-employment on recovery
    live = P.alive & (P.hh >= 0)
    emp = np.flatnonzero(live & P.formal & (P.unemp_left == 0) & (P.prison_until < 0))
    p_jl = np.full(len(emp), BACKGROUND_JOB_LOSS)
    if shock is not None:  # a shock below 1 thins them; the job losses it adds come next
        p_jl = p_jl * np.minimum(shock.job_loss[H.region[P.hh[emp]]], 1.0)
    bg_jl = emp[rare(rng, p_jl)]
    P._cols["unemp_left"][bg_jl] = rng.geometric(1 / 4, size=len(bg_jl))
    jl_all = np.concatenate([jl, bg_jl])
    if shock is not None:
        jl_all = np.concatenate([jl_all, shock.added_job_losses(pop, emp, z_of_hh, rng)])
        z_new = z_of_hh[alive_hh]
    inv = invisible_all[P.hh[jl_all]]
    seen = rng.random(len(jl_all)) < np.where(inv, 0.25, 0.8)
    buf.add(
        rng,
        source="human_resources",
        kind="unemployment_registered",
        household=P.hh[jl_all][seen],
        person=jl_all[seen],
        event_date=not_after_death(pop, jl_all[seen], _day_in_month(rng, month_start, seen.sum())),
        slow=inv[seen],
    )
    unemp = np.flatnonzero(live & (P.unemp_left > 0))
    unemp = unemp[~np.isin(unemp, jl_all)]
    rose_hh = alive_hh[rose]
    back = unemp[
        (P.unemp_left[unemp] == 1)
        | (np.isin(P.hh[unemp], rose_hh) & (rng.random(len(unemp)) < 0.6))
    ]
    P._cols["unemp_left"][unemp] -= 1
    P._cols["unemp_left"][back] = 0
    inv = invisible_all[P.hh[back]]
    seen = rng.random(len(back)) < np.where(inv, 0.3, 0.85)
    buf.add(
        rng,
        source="human_resources",
        kind="employment_started",
        household=P.hh[back][seen],
        person=back[seen],
        event_date=_day_in_month(rng, month_start, seen.sum()),
        slow=inv[seen],
    )

    _life_events(pop, t, month_start, age, cfg, rng, buf)
    z_of_hh = np.concatenate([z_of_hh, H.z[len(z_of_hh) :].astype(np.int64)])
    _school(pop, month_start, ages_at(pop, month_start), z_of_hh, rng, buf)
    return {"alive_hh": alive_hh, "z": z_new}


def _life_events(
    pop: Population,
    t: int,
    month_start: np.datetime64,
    age: np.ndarray,
    cfg: SimulationConfig,
    rng: np.random.Generator,
    buf: RecordBuffer,
) -> None:
    """Disability onset, chronic illness, imprisonment, births, splits and moves."""
    P, H = pop.persons, pop.households
    live = P.alive & (P.hh >= 0)
    lp = np.flatnonzero(live)
    inv_p = H.invisible[P.hh[lp]]
    # disability onset and certification
    onset = lp[rare(rng, np.where(age[lp] >= 60, 0.0012, 0.0002) * (P.disab[lp] == 0))]
    P._cols["disab"][onset] = rng.choice([1, 2, 3, 4], size=len(onset), p=[0.12, 0.23, 0.33, 0.32])
    pending = lp[(P.disab[lp] > 0) & ~P.disab_known[lp]]
    cert = pending[rng.random(len(pending)) < np.where(H.invisible[P.hh[pending]], 0.01, 0.08)]
    P._cols["disab_known"][cert] = True
    buf.add(
        rng,
        source="disabled_persons_federation",
        kind="disability_certified",
        household=P.hh[cert],
        person=cert,
        event_date=_day_in_month(rng, month_start, len(cert)),
        value=P.disab[cert].astype(str).astype(object),
    )
    # chronic illness diagnosed outside hospital
    chr_new = lp[rare(rng, np.where(age[lp] >= 60, 0.002, 0.0005) * ~P.chronic[lp])]
    P._cols["chronic"][chr_new] = True
    seen = chr_new[rng.random(len(chr_new)) < np.where(H.invisible[P.hh[chr_new]], 0.3, 0.9)]
    buf.add(
        rng,
        source="health",
        kind="chronic_illness",
        household=P.hh[seen],
        person=seen,
        event_date=_day_in_month(rng, month_start, len(seen)),
    )
    # imprisonment
    released = lp[(P.prison_until[lp] >= 0) & (P.prison_until[lp] <= t)]
    P._cols["prison_until"][released] = -1
    buf.add(
        rng,
        source="public_security",
        kind="imprisonment_end",
        household=P.hh[released],
        person=released,
        event_date=_day_in_month(rng, month_start, len(released)),
    )
    cand = lp[(P.sex[lp] == 1) & (age[lp] >= 18) & (age[lp] < 55) & (P.prison_until[lp] < 0)]
    jailed = cand[rare(rng, np.full(len(cand), 0.0002))]
    P._cols["prison_until"][jailed] = t + rng.integers(4, 30, size=len(jailed))
    buf.add(
        rng,
        source="public_security",
        kind="imprisonment_start",
        household=P.hh[jailed],
        person=jailed,
        event_date=_day_in_month(rng, month_start, len(jailed)),
    )
    del inv_p
    # births to women 20-42 who head a household or are a spouse
    rel = pop.spells.relation[P.spell[lp]]
    mothers = lp[
        (P.sex[lp] == 0)
        & (age[lp] >= 20)
        & (age[lp] <= 42)
        & ((rel == REL["head"]) | (rel == REL["spouse"]))
    ]
    mothers = mothers[rare(rng, np.full(len(mothers), 0.0045))]
    if len(mothers):
        bd = _day_in_month(rng, month_start, len(mothers))
        hh = P.hh[mothers]
        pop.add_members(
            hh,
            REL["child"],
            bd,
            sex=rng.integers(0, 2, len(hh)).astype(np.int8),
            birth=bd,
            minority=P.minority[mothers],
            hukou_urban=P.hukou_urban[mothers],
            disab=np.where(rng.random(len(hh)) < 0.004, 1, 0),
        )
    # splits: an adult child leaves to form a household in the same region
    leavers = lp[(rel == REL["child"]) & (age[lp] >= 20) & (age[lp] <= 40)]
    leavers = leavers[rare(rng, np.full(len(leavers), 0.004))]
    if len(leavers):
        d = _day_in_month(rng, month_start, len(leavers))
        old = P.hh[leavers]
        new = H.append(region=H.region[old], urban=H.urban[old], formed=d, z=H.z[old])
        pop.move(leavers, new, REL["head"], d)
        draw_traits(pop, new, month_start, cfg, rng)
        _initial_assets(pop, new, rng)
    # moves: a widowed or lone elderly person moves in with another household of the region
    live = P.alive & (P.hh >= 0)  # births and splits above added people
    nh_live = np.bincount(P.hh[live], minlength=H.n)
    movers = lp[(age[lp] >= 70) & (nh_live[P.hh[lp]] == 1)]
    movers = movers[rare(rng, np.full(len(movers), 0.0015))]
    if len(movers):
        d = _day_in_month(rng, month_start, len(movers))
        reg = H.region[P.hh[movers]]
        open_hh = np.flatnonzero(np.isnat(H.dissolved) & (nh_live >= 2))
        by_reg = open_hh[np.argsort(H.region[open_hh], kind="stable")]
        lo = np.searchsorted(H.region[by_reg], reg, side="left")
        hi = np.searchsorted(H.region[by_reg], reg, side="right")
        ok = hi > lo
        target = by_reg[
            np.minimum(lo + (rng.random(len(movers)) * (hi - lo)).astype(int), len(by_reg) - 1)
        ]
        movers, target, d = movers[ok], target[ok], d[ok]
        old = P.hh[movers]
        pop.move(movers, target, REL["parent"], d)
        H._cols["dissolved"][old] = d


def _school(
    pop: Population,
    month_start: np.datetime64,
    age: np.ndarray,
    z_of_hh: np.ndarray,
    rng: np.random.Generator,
    buf: RecordBuffer,
) -> None:
    """Enrolment each September, dropouts (more in poor households), education costs."""
    P, H = pop.persons, pop.households
    live = P.alive & (P.hh >= 0)
    month = int(str(month_start)[5:7])
    kids = np.flatnonzero(live & (age >= 6) & (age < 18))
    if month == 9:
        stay = kids[~P.dropped[kids] | (rng.random(len(kids)) < 0.2)]
        P._cols["in_school"][stay] = True
        P._cols["dropped"][stay] = False
        inv = H.invisible[P.hh[stay]]
        seen = rng.random(len(stay)) < np.where(inv, 0.6, 0.98)
        d = _day_in_month(rng, month_start, len(stay))
        buf.add(
            rng,
            source="education",
            kind="school_enrolled",
            household=P.hh[stay][seen],
            person=stay[seen],
            event_date=d[seen],
        )
        urban = H.urban[P.hh[stay]]
        fee = np.where(age[stay] >= 15, 2600.0, np.where(age[stay] >= 12, 900.0, 500.0))
        fee = np.round(fee * np.where(urban, 1.5, 1.0) * rng.uniform(0.7, 1.3, len(stay)), 2)
        buf.add(
            rng,
            source="education",
            kind="education_cost",
            household=P.hh[stay][seen],
            person=stay[seen],
            event_date=d[seen],
            amount=fee[seen],
        )
        np.add.at(H._cols["edu12"], P.hh[stay], fee)
    in_school = kids[P.in_school[kids] & (age[kids] >= 12)]
    p_drop = 0.0006 + 0.004 * (z_of_hh[P.hh[in_school]] == POOR)
    drop = in_school[rng.random(len(in_school)) < p_drop]
    P._cols["in_school"][drop] = False
    P._cols["dropped"][drop] = True
    inv = H.invisible[P.hh[drop]]
    seen = rng.random(len(drop)) < np.where(inv, 0.4, 0.9)
    buf.add(
        rng,
        source="education",
        kind="school_dropout",
        household=P.hh[drop][seen],
        person=drop[seen],
        event_date=_day_in_month(rng, month_start, seen.sum()),
    )


def _initial_assets(pop: Population, hh: np.ndarray, rng: np.random.Generator) -> None:
    """Vehicles, properties, businesses and savings for households ``hh``."""
    H = pop.households
    n = len(hh)
    z = H.z[hh]
    urban = H.urban[hh]
    rich = z == SECURE
    H._cols["vehicle"][hh] = np.where(
        rng.random(n) < np.where(rich, np.where(urban, 0.35, 0.18), 0.03),
        np.round(rng.lognormal(np.log(80_000), 0.5, n), -2),
        0.0,
    )
    H._cols["properties"][hh] = (
        1 + (rng.random(n) < np.where(rich, 0.15, 0.01)) + (rng.random(n) < 0.02)
    )
    H._cols["business"][hh] = rng.random(n) < np.where(rich, 0.08, 0.01)
    H._cols["deposit_mult"][hh] = rng.lognormal(np.where(rich, np.log(0.8), np.log(0.1)), 0.9, n)
