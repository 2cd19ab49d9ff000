"""``needsid.simulate``: draw a synthetic population of households and department records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from .._dates import months_after
from ..data import HouseholdData
from ._casework import PROCESSES, REASONS
from ._config import SimulationConfig, default_config
from ._dynamics import _initial_assets, step
from ._population import (
    RELATIONS,
    Population,
    make_households,
    make_regions,
    urban_household_share,
)
from ._process import check_process, inject
from ._programmes import URBAN_ENTRY, income_and_benefits
from ._records import RecordBuffer
from ._shocks import Window, check_shocks, multipliers
from ._traits import draw_traits, stationary, transition_matrix

__all__ = ["SimulatedPopulation", "Truth", "simulate"]

logger = logging.getLogger(__name__)

# one shard's population, records, record vocabulary, truth, and (anomalies, outcomes)
Shard = tuple[Population, pl.DataFrame, pl.Series, pl.DataFrame, tuple[list[Any], pl.DataFrame]]
# a shard to run: its number, households, regions and random stream
Job = tuple[int, int, np.ndarray, np.random.SeedSequence]

SHARDS = 4  # region shards simulated independently (fixed: results never depend on n_jobs)
NEED_DIMENSIONS = ("income", "health", "education", "care", "housing", "employment")
# region attributes every shard's population shares
REGION_FIELDS = (
    "region_urban",
    "region_dibao",
    "region_minority",
    "region_disaster",
    "region_income",
)


@dataclass(frozen=True)
class Truth:
    """What the simulator knows and the departments do not; never part of the bundle.

    Parameters
    ----------
    monthly : polars.DataFrame
        One row per household and month it existed: ``household_id, month, state``
        (0 secure, 1 vulnerable, 2 poor), ``net_income_per_capita`` (after rigid
        expenditure), ``rigid_expenditure_per_capita``, ``in_need``, ``need_<dimension>``
        for each of :data:`NEED_DIMENSIONS`, ``invisible``.
    households : polars.DataFrame
        ``household_id, invisible, risk`` and the monthly transition probabilities of the
        latent need chain (``t01 t02 t10 t12 t20 t21``, from-state then to-state).
    anomalies : polars.DataFrame
        ``household_id, person_id, anomaly, month``: each injected error or fraud, with the
        first month it occurred. With ``config.process_problems`` set, also the process
        problems (``late_decision``, ``overdue_review``, ``payment_mismatch``,
        ``payment_without_approval``, ``paid_after_exit``: household-level, no person),
        with the month they first show in the records.
    outcomes : polars.DataFrame
        The status quo's casework, one row per verification, review or home visit it
        made (also those whose record was not yet known at the extract date):
        ``household_id, month, process`` (verification / review / home_visit),
        ``reason`` (why the status quo selected the household: application,
        scheduled_review, exit_review, entry_visit, recipient_visit),
        ``net_income_per_capita`` (true), ``assessed_income`` (null for visits and
        withdrawn applications), ``poor`` (true state that month) and ``decision``
        (the record's value). It measures how selective and how wrong the labels are.
    process_cases : polars.DataFrame or None, default=None
        With ``config.process_problems`` set, every case at risk of a process problem:
        ``household_id, programme`` (dibao_tekun, dibao, housing, medical), ``process``
        (the problem it is at risk of, or ``grant`` for a housing or medical case, which
        is at risk of a late decision or a missing approval), ``month`` (of the case:
        the decision, review, exit or first payment of the household-year) and
        ``anomaly`` (the problem injected, null if none). None without the switch.

    Examples
    --------
    >>> import needsid as ni
    >>> truth = ni.simulate(n_households=300, months=12, seed=0).truth
    >>> truth.monthly.columns[:4]
    ['household_id', 'month', 'state', 'net_income_per_capita']
    >>> sorted(truth.outcomes["process"].unique())
    ['home_visit', 'review', 'verification']
    """

    monthly: pl.DataFrame
    households: pl.DataFrame
    anomalies: pl.DataFrame
    outcomes: pl.DataFrame
    process_cases: pl.DataFrame | None = None


@dataclass(frozen=True)
class SimulatedPopulation:
    """A simulated :class:`~needsid.data.HouseholdData` bundle and its ground truth.

    Returned by :func:`needsid.simulate`; the fields record how it was drawn.

    Parameters
    ----------
    bundle : HouseholdData
        The departments' tables (polars), extracted on :attr:`end`.
    truth : Truth
        The latent states, needs, injected anomalies and casework outcomes.
    start : datetime.date
        First day of the first simulated month.
    months : int
        Months simulated.
    seed : int
        Seed of the draw.
    config : SimulationConfig
        Generative parameters of the draw, with its scenario shocks (``config.shocks``).

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> pop.start, pop.end
    (datetime.date(2023, 1, 1), datetime.date(2024, 1, 1))
    >>> pop.bundle  # doctest: +NORMALIZE_WHITESPACE
    HouseholdData(backend='polars', regions=20 rows, households=302 rows,
                  members=767 rows, records=4200 rows)
    """

    bundle: HouseholdData
    truth: Truth
    start: dt.date
    months: int
    seed: int
    config: SimulationConfig

    @property
    def end(self) -> dt.date:
        """The extraction date: first day after the last simulated month."""
        return months_after(self.start, self.months)


def simulate(
    n_households: int = 50_000,
    months: int = 36,
    seed: int = 0,
    *,
    config: SimulationConfig | None = None,
    n_jobs: int | None = None,
) -> SimulatedPopulation:
    """Simulate households, their members and department records over ``months`` months.

    Need follows a hidden three-state chain per household (secure, vulnerable, poor);
    departments record what they see of the events around it with lags, and households
    that are digitally invisible leave few records. The status quo benefit programmes
    are assigned by a noisy process with large targeting errors.

    Parameters
    ----------
    n_households : int, default=50_000
        Households at the start (splits add more during the run).
    months : int, default=36
        Calendar months to simulate from ``config.start``.
    seed : int, default=0
        Seed of the random generator; the same seed and config give the same tables.
    config : SimulationConfig, optional
        Generative parameters; defaults to the calibrated ``default_config()``.
    n_jobs : int, optional
        Threads to simulate the region shards with (default: the number of cores).
        The result is the same for any value.

    Returns
    -------
    SimulatedPopulation
        ``.bundle`` (polars tables) and ``.truth``.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=300, months=6, seed=1)
    >>> pop.bundle.households.height >= 300
    True
    >>> sorted(pop.truth.monthly["state"].unique().to_list()) in ([0, 1, 2], [0, 1], [0, 2])
    True
    """
    if not isinstance(n_households, int | np.integer) or n_households < 1:
        raise ValueError(f"Got n_households={n_households!r}; expected a positive integer.")
    if not isinstance(months, int | np.integer) or not 1 <= months <= 240:
        raise ValueError(f"Got months={months!r}; expected a whole number of months in 1..240.")
    cfg = default_config() if config is None else config
    # checked before any draw; without shocks every draw is as it was before they existed
    shocks = check_shocks(cfg, int(months), _ids("G", np.arange(cfg.n_regions), 2).to_list())
    process = check_process(cfg)
    main_seed, *shard_seeds = np.random.SeedSequence(seed).spawn(SHARDS + 1)
    rng = np.random.default_rng(main_seed)
    regions = Population(0)
    make_regions(regions, cfg, rng)
    # regions are dealt to a fixed number of shards (urban and rural alike), each
    # simulated with its own random stream: the result does not depend on n_jobs
    shard_of = np.empty(cfg.n_regions, dtype=np.int64)
    for mask in (regions.region_urban, ~regions.region_urban):
        idx = np.flatnonzero(mask)
        shard_of[idx] = np.arange(len(idx)) % SHARDS
    p_urban = urban_household_share(cfg)
    n_urban = max(regions.region_urban.sum(), 1)
    n_rural = max((~regions.region_urban).sum(), 1)
    weights = np.array(
        [
            p_urban * (regions.region_urban & (shard_of == k)).sum() / n_urban
            + (1 - p_urban) * (~regions.region_urban & (shard_of == k)).sum() / n_rural
            for k in range(SHARDS)
        ]
    )
    counts = rng.multinomial(n_households, weights / weights.sum())
    jobs = [
        (k, int(counts[k]), np.flatnonzero(shard_of == k), shard_seeds[k])
        for k in range(SHARDS)
        if counts[k] > 0
    ]

    def run(job: Job) -> Shard:
        k, n, region_idx, shard_seed = job
        # the shard's own urban share keeps the province-wide share of urban households
        share = p_urban * (regions.region_urban & (shard_of == k)).sum() / n_urban / weights[k]
        return _run_shard(regions, cfg, n, region_idx, share, shard_seed, months, shocks)

    workers = min(len(jobs), n_jobs if n_jobs is not None else (os.cpu_count() or 1))
    if workers > 1:
        # numpy and polars release the GIL in bulk work, so threads run the shards in
        # parallel without copying them between processes
        with ThreadPoolExecutor(max_workers=workers) as pool:
            shards = list(pool.map(run, jobs))
    else:
        shards = [run(job) for job in jobs]
    logger.info("simulated %d shards", len(shards))
    merged, records, vocab, truth_frame, anomalies = _merge(regions, shards)
    del shards
    month0 = np.datetime64(cfg.start, "M")
    bundle = _bundle(merged, records, vocab)
    del records
    truth = _truth(merged, truth_frame, anomalies, month0)
    if process is not None:
        # after the simulation, with a stream of its own: no draw above changes
        bundle, injected, cases = inject(
            bundle, truth.anomalies, cfg, process, months=int(months), seed=seed
        )
        truth = dataclasses.replace(truth, anomalies=injected, process_cases=cases)
        cfg = cfg.model_copy(update={"process_problems": process})
    return SimulatedPopulation(bundle, truth, cfg.start, months, seed, cfg)


def _run_shard(
    regions: Population,
    cfg: SimulationConfig,
    n: int,
    region_idx: np.ndarray,
    p_urban: float,
    seed: np.random.SeedSequence,
    months: int,
    shocks: list[Window],
) -> Shard:
    """Simulate the households of some regions with their own random stream."""
    rng = np.random.default_rng(seed)
    # casework outcomes have their own stream: adding them changed no other draw
    arng = np.random.default_rng(
        np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 99))
    )
    pop = Population(n)
    for name in REGION_FIELDS:
        setattr(pop, name, getattr(regions, name))
    start = np.datetime64(cfg.start, "D")
    hh = make_households(pop, n, cfg, rng, p_urban, region_idx)
    draw_traits(pop, hh, start, cfg, rng)
    pi = stationary(transition_matrix(pop, hh))
    pop.households._cols["z"][hh] = (
        (rng.random(len(hh))[:, None] > np.cumsum(pi, 1)).sum(1).clip(0, 2)
    )
    _initial_assets(pop, hh, rng)
    _initial_status(pop, hh, cfg, rng)
    month0 = np.datetime64(cfg.start, "M")
    end = (month0 + months).astype("datetime64[D]")
    buf = RecordBuffer(end)
    _stock_records(pop, hh, start, rng, buf)
    anomalies: list = []
    outcomes: list = []
    truth_parts = []
    for t in range(months):
        month_start = (month0 + t).astype("datetime64[D]")
        n_before = pop.households.n
        shock = multipliers(shocks, t, cfg.n_regions)
        out = step(pop, t, month_start, cfg, rng, buf, shock)
        new = np.arange(n_before, pop.households.n)
        if len(new):
            _stock_records(pop, new, month_start, rng, buf)
        part = income_and_benefits(
            pop,
            t,
            month_start,
            cfg,
            rng,
            buf,
            out["alive_hh"],
            out["z"],
            anomalies,
            arng,
            outcomes,
        )
        part["month"] = np.full(len(part["hh"]), month_start)
        truth_parts.append(_compact(part))
        buf.flush()
    truth = pl.concat(truth_parts, rechunk=False)
    return pop, buf.to_frame(), buf.vocabulary, truth, (anomalies, _outcomes(outcomes))


def _outcomes(parts: list) -> pl.DataFrame:
    """Return a shard's casework outcomes as one frame of household indices."""
    schema = {
        "hh": pl.Int64,
        "t": pl.Int32,
        "process": pl.Int8,
        "reason": pl.Int8,
        "net_income_per_capita": pl.Float32,
        "assessed_income": pl.Float32,
        "poor": pl.Boolean,
        "decision": pl.String,
    }
    frames = [
        pl.DataFrame(
            {
                c: np.broadcast_to(v, len(p[0])) if c == "t" else v
                for c, v in zip(schema, p, strict=True)
            },
            schema=schema,
            nan_to_null=True,
        )
        for p in parts
        if len(p[0])
    ]
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames)


# the latent chain's transition probabilities, from-state then to-state
TRANSITIONS = ("t01", "t02", "t10", "t12", "t20", "t21")
HOUSEHOLD_OUT = ("region", "formed", "dissolved", "invisible", "risk", *TRANSITIONS)
PERSON_OUT = ("sex", "birth", "minority", "hukou_urban", "edu", "disab", "disab_known")
SPELL_OUT = ("person", "hh", "relation", "joined", "left")


def _merge(regions: Population, shards: list[Shard]) -> Shard:
    """Concatenate shards into one population, offsetting indices and record codes."""
    merged = Population(0)
    for name in REGION_FIELDS:
        setattr(merged, name, getattr(regions, name))
    vocab: dict[str, int] = {}
    records, truths, anomalies, outcomes = [], [], [], []
    for pop, rec, shard_vocab, truth, (shard_anomalies, shard_outcomes) in shards:
        h_off, p_off = merged.households.n, merged.persons.n
        merged.households.append(**{k: getattr(pop.households, k) for k in HOUSEHOLD_OUT})
        merged.persons.append(**{k: getattr(pop.persons, k) for k in PERSON_OUT})
        sp = {k: getattr(pop.spells, k) for k in SPELL_OUT}
        sp["person"] = sp["person"] + p_off
        sp["hh"] = sp["hh"] + h_off
        merged.spells.append(**sp)
        codes = pl.Series(
            [vocab.setdefault(v, len(vocab)) for v in shard_vocab.to_list()], dtype=pl.Int16
        )
        if rec.height:
            records.append(
                rec.with_columns(
                    pl.col("household") + h_off,
                    pl.when(pl.col("person") >= 0).then(pl.col("person") + p_off).otherwise(-1),
                    *[
                        pl.lit(codes).gather(pl.col(c).clip(0)).alias(c)
                        for c in ("source", "kind")
                    ],
                    pl.when(pl.col("value") >= 0)
                    .then(pl.lit(codes).gather(pl.col("value").clip(0)))
                    .otherwise(-1)
                    .alias("value"),
                )
            )
        truths.append(truth.with_columns(pl.col("hh") + h_off))
        outcomes.append(shard_outcomes.with_columns(pl.col("hh") + h_off))
        for name, hh, person, t in shard_anomalies:
            person = np.asarray(person)
            anomalies.append(
                (name, np.asarray(hh) + h_off, np.where(person >= 0, person + p_off, -1), t)
            )
        del pop
    shards.clear()
    record_frame = pl.concat(records, rechunk=False) if records else RecordBuffer().to_frame()
    truth_frame = pl.concat(truths, rechunk=False)
    vocab_series = pl.Series(list(vocab), dtype=pl.String)
    return merged, record_frame, vocab_series, truth_frame, (anomalies, pl.concat(outcomes))


def _compact(part: dict[str, np.ndarray]) -> pl.DataFrame:
    """One month of truth as a compact frame (household index, date, small types)."""
    return pl.DataFrame(part).with_columns(
        pl.col("hh").cast(pl.Int32), pl.col("month").cast(pl.Date)
    )


def _initial_status(
    pop: Population, hh: np.ndarray, cfg: SimulationConfig, rng: np.random.Generator
) -> None:
    """Start the programmes at their steady state so month 0 already looks like the data."""
    H, P = pop.households, pop.persons
    z = H.z[hh].astype(int)
    inv = H.invisible[hh]
    h_in = np.asarray(cfg.dibao_entry.as_tuple())[z] * np.where(
        inv, cfg.invisible_entry_factor, 1.0
    )
    h_in = h_in * np.where(H.urban[hh], URBAN_ENTRY, 1.0)
    h_out = np.asarray(cfg.dibao_exit.as_tuple())[z]
    from ._traits import household_profile

    prof = household_profile(pop, np.datetime64(cfg.start, "D"), fields=("able",))
    able = prof["able"][hh]
    tekun = (able == 0) & (z == 2) & (rng.random(len(hh)) < np.where(inv, 0.1, 0.35))
    H._cols["tekun"][hh] = tekun
    H._cols["dibao"][hh] = ~tekun & (rng.random(len(hh)) < h_in / (h_in + h_out))
    cert = np.flatnonzero(P.disab_known & (P.disab > 0))
    in_dibao = H.dibao[P.hh[cert]]
    P._cols["living_subsidy"][cert] = in_dibao & (rng.random(len(cert)) < 0.7)
    P._cols["care_subsidy"][cert] = (P.disab[cert] <= 2) & (rng.random(len(cert)) < 0.8)


def _stock_records(
    pop: Population,
    hh: np.ndarray,
    date: np.datetime64,
    rng: np.random.Generator,
    buf: RecordBuffer,
) -> None:
    """Add the records a household has when it enters the data (assets, certificates)."""
    H, P = pop.households, pop.persons
    inv = H.invisible[hh]
    # registries (vehicles, property, business) are near complete for visible households
    seen = rng.random(len(hh)) < np.where(inv, 0.3, 0.995)
    back = date - rng.integers(30, 2000, len(hh)).astype("timedelta64[D]")
    back = np.maximum(back, H.formed[hh])
    veh = seen & (H.vehicle[hh] > 0)
    buf.add(
        rng,
        source="vehicles",
        kind="vehicle",
        household=hh[veh],
        event_date=back[veh],
        amount=H.vehicle[hh][veh],
        value="private",
    )
    for k in (1, 2):
        has = seen & (H.properties[hh] >= k)
        buf.add(
            rng,
            source="housing",
            kind="property",
            household=hh[has],
            event_date=back[has],
            value="residential",
        )
    biz = seen & H.business[hh]
    buf.add(
        rng,
        source="market_regulation",
        kind="business_registered",
        household=hh[biz],
        event_date=back[biz],
    )
    unsafe = H.housing_unsafe[hh] & (rng.random(len(hh)) < np.where(inv, 0.4, 0.9))
    buf.add(
        rng, source="housing", kind="housing_unsafe", household=hh[unsafe], event_date=back[unsafe]
    )
    wanted = np.zeros(H.n, dtype=bool)
    wanted[hh] = True
    members = np.flatnonzero(wanted[np.maximum(P.hh, 0)] & (P.hh >= 0) & P.alive)
    cert = members[P.disab_known[members] & (P.disab[members] > 0)]
    cdate = np.maximum(
        date - rng.integers(60, 3000, len(cert)).astype("timedelta64[D]"), P.birth[cert]
    )
    buf.add(
        rng,
        source="disabled_persons_federation",
        kind="disability_certified",
        household=P.hh[cert],
        person=cert,
        event_date=cdate,
        value=P.disab[cert].astype(str).astype(object),
    )
    chron = members[
        P.chronic[members]
        & (rng.random(len(members)) < np.where(H.invisible[P.hh[members]], 0.3, 0.9))
    ]
    chdate = np.maximum(
        date - rng.integers(60, 2000, len(chron)).astype("timedelta64[D]"), P.birth[chron]
    )
    buf.add(
        rng,
        source="health",
        kind="chronic_illness",
        household=P.hh[chron],
        person=chron,
        event_date=chdate,
    )


def _ids(prefix: str, idx: npt.ArrayLike, width: int) -> pl.Series:
    """Fixed-width ids: prefix + zero-padded (index + 1)."""
    s = pl.Series(np.asarray(idx, dtype=np.int64) + 1 + 10**width)
    return pl.select(pl.format(prefix + "{}", pl.lit(s).cast(pl.String).str.slice(1))).to_series()


def _bundle(pop: Population, rec: pl.DataFrame, vocabulary: pl.Series) -> HouseholdData:
    H, P, S = pop.households, pop.persons, pop.spells
    nreg = len(pop.region_urban)
    regions = pl.DataFrame(
        {
            "region_id": _ids("G", np.arange(nreg), 2),
            "urban": pop.region_urban,
            "dibao_standard": pop.region_dibao.astype(float),
            "low_income_multiplier": np.full(nreg, 1.5),
            "tekun_standard": np.round(pop.region_dibao * 1.3),
            "disposable_income_prev_year": np.round(pop.region_income, 0),
        }
    )
    region_ids = regions["region_id"]
    hh_ids = _ids("H", np.arange(H.n), 7)
    households = pl.DataFrame(
        {
            "household_id": hh_ids,
            "region_id": region_ids.gather(H.region),
            "formed_on": H.formed,
            "dissolved_on": H.dissolved,
        }
    )
    sp = S.person
    person_ids = _ids("P", np.arange(P.n), 8)
    # members carry the grade certified by the extract date; the true grade may be unknown
    grade = np.where(P.disab_known[sp], P.disab[sp], 0)
    members = pl.DataFrame(
        {
            "person_id": person_ids.gather(sp),
            "household_id": hh_ids.gather(S.hh),
            "relation": pl.Series(RELATIONS, dtype=pl.String).gather(S.relation),
            "sex": pl.Series(["F", "M"], dtype=pl.String).gather(P.sex[sp]),
            "birth_date": P.birth[sp],
            "minority": P.minority[sp],
            "hukou": pl.Series(["rural", "urban"], dtype=pl.String).gather(
                P.hukou_urban[sp].astype(np.int8)
            ),
            "education_years": P.edu[sp].astype(np.int64),
            "disability_grade": grade.astype(np.int64),
            "joined_on": S.joined,
            "left_on": S.left,
        }
    )
    # low-cardinality text is categorical: tens of millions of rows stay small
    vocab = vocabulary.cast(pl.Categorical)
    cols = {"record_id": _ids("R", np.arange(rec.height), 9)}
    cols["household_id"] = hh_ids.gather(rec.drop_in_place("household"))
    person = rec.drop_in_place("person")
    cols["person_id"] = person_ids.gather(person.clip(0))
    has_person = person >= 0
    del person
    cols["source"] = vocab.gather(rec.drop_in_place("source"))
    cols["kind"] = vocab.gather(rec.drop_in_place("kind"))
    for k in ("event_date", "known_date", "amount"):
        cols[k] = rec.drop_in_place(k)
    value = rec.drop_in_place("value")
    cols["value"] = vocab.gather(value.clip(0))
    records = pl.DataFrame(cols).with_columns(
        pl.when(has_person).then(pl.col("person_id")).alias("person_id"),
        pl.when(value >= 0).then(pl.col("value")).alias("value"),
    )
    return HouseholdData(regions=regions, households=households, members=members, records=records)


def _household_id() -> pl.Expr:
    """Return the household id of index column ``hh`` (as ``_ids("H", hh, 7)`` writes it)."""
    return ("H" + (pl.col("hh") + 1).cast(pl.String).str.zfill(7)).alias("household_id")


def _month(start: dt.date) -> pl.Expr:
    """Return the first day of month number ``t`` counted from ``start``."""
    return pl.lit(start).dt.offset_by(pl.format("{}mo", pl.col("t"))).alias("month")


def _truth(
    pop: Population,
    cat: pl.DataFrame,
    anomalies_and_outcomes: tuple[list[Any], pl.DataFrame],
    month0: np.datetime64,
) -> Truth:
    H = pop.households
    anomalies, outcomes = anomalies_and_outcomes
    cols = ["state", "net_income_per_capita", "rigid_expenditure_per_capita"]
    needs = [f"need_{d}" for d in NEED_DIMENSIONS]
    hh_idx = cat.drop_in_place("hh")
    monthly = pl.DataFrame(
        {
            "household_id": _ids("H", np.arange(H.n), 7).gather(hh_idx),
            "month": cat.drop_in_place("month"),
            **{k: cat.drop_in_place(k) for k in cols},
            "in_need": cat["need_income"],
            **{k: cat.drop_in_place(k) for k in needs},
            "invisible": cat.drop_in_place("invisible"),
        }
    )
    households = pl.DataFrame(
        {
            "household_id": _ids("H", np.arange(H.n), 7),
            "invisible": H.invisible,
            "risk": H.risk,
            **{k: getattr(H, k) for k in TRANSITIONS},
        }
    )
    names, hhs, persons, months = [], [], [], []
    for name, hh, person, t in anomalies:
        if len(hh):
            names.append(np.full(len(hh), name, dtype=object))
            hhs.append(np.asarray(hh))
            persons.append(np.asarray(person))
            months.append(np.full(len(hh), t))
    if names:
        an = pl.DataFrame(
            {
                "anomaly": pl.Series(np.concatenate(names), dtype=pl.String),
                "hh": np.concatenate(hhs),
                "person": np.concatenate(persons),
                "t": np.concatenate(months),
            }
        )
    else:
        an = pl.DataFrame(
            schema={"anomaly": pl.String, "hh": pl.Int64, "person": pl.Int64, "t": pl.Int64}
        )
    an = (
        an.group_by(["hh", "person", "anomaly"])
        .agg(pl.col("t").min())
        .sort(["t", "hh", "person", "anomaly"])
    )
    start = month0.astype("datetime64[D]").astype(object)
    anomalies_df = an.select(
        _household_id(),
        pl.when(pl.col("person") >= 0)
        .then("P" + (pl.col("person") + 1).cast(pl.String).str.zfill(8))
        .otherwise(None)
        .alias("person_id"),
        "anomaly",
        _month(start),
    )
    outcomes_df = outcomes.sort("t", "hh", "process", maintain_order=True).select(
        _household_id(),
        _month(start),
        pl.lit(pl.Series(PROCESSES)).gather(pl.col("process")).alias("process"),
        pl.lit(pl.Series(REASONS)).gather(pl.col("reason")).alias("reason"),
        "net_income_per_capita",
        "assessed_income",
        "poor",
        "decision",
    )
    return Truth(
        monthly=monthly, households=households, anomalies=anomalies_df, outcomes=outcomes_df
    )
