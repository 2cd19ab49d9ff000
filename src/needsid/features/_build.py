"""Point-in-time household features, written once on narwhals expressions.

The same call runs on pandas, polars, DuckDB and Spark frames and returns the caller's
type. Only records with ``known_date < as_of`` are read, and only the membership spells
valid at ``as_of``: a person's records count for the household the person belongs to
at ``as_of`` (records of people with no spell then, e.g. the dead, count for the
household named on the record).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np

from .._dates import age_at, as_date, months_before
from ..data import TABLES, HouseholdData
from ..data._validate import _fits
from ._casework import casework_parts
from ._describe import feature_table
from ._spec import FeatureSpec, load_spec

__all__ = ["build"]

Lazy = nw.LazyFrame[Any]

NONE_SINCE = 999  # "months since" when there was no such record

# the contract columns the builders read, by table
NEEDS = {
    "regions": ("region_id", "urban", "dibao_standard", "low_income_multiplier"),
    "households": ("household_id", "region_id", "formed_on", "dissolved_on"),
    "members": (
        "person_id",
        "household_id",
        "relation",
        "sex",
        "birth_date",
        "minority",
        "hukou",
        "education_years",
        "joined_on",
        "left_on",
    ),
    "records": (
        "household_id",
        "person_id",
        "source",
        "kind",
        "event_date",
        "known_date",
        "amount",
        "value",
    ),
}


class _Dates:
    """Date literals typed like the frame's date columns (pandas holds datetime64)."""

    def __init__(self, frame: Lazy) -> None:
        dtype = frame.collect_schema()["event_date"]
        self.datetime = dtype == nw.Datetime

    def __call__(self, d: dt.date) -> nw.Expr:
        if self.datetime:
            return nw.lit(dt.datetime(d.year, d.month, d.day))
        return nw.lit(d)


def _month_no(col: str) -> nw.Expr:
    return nw.col(col).dt.year() * 12 + nw.col(col).dt.month() - 1


def build(
    bundle: HouseholdData,
    as_of: str | dt.date,
    spec: FeatureSpec | str | Path | dict[str, Any] | None = None,
) -> Any:
    """Build one row of features per household alive at ``as_of``.

    Parameters
    ----------
    bundle : HouseholdData
        Tables as pandas or polars DataFrames, DuckDB relations or Spark DataFrames
        (all four of one kind). The result has the same type; lazy inputs stay lazy.
    as_of : date or str
        Only records known before this date (``known_date < as_of``) are read.
    spec : FeatureSpec, path, dict or None
        Windows, kinds and families (see ``needsid/features/default.yaml`` and
        ``configs/features/``); None uses the default.

    Returns
    -------
    DataFrame
        ``household_id`` and one Float64 column per feature, as listed by
        :func:`describe`, sorted by ``household_id``: a DataFrame of the bundle's
        backend (pandas or polars), or a lazy relation for a DuckDB or Spark bundle
        (hence no static type).

    Raises
    ------
    ValueError
        If ``as_of`` is not a date, or a column the features read is missing or of the
        wrong type (every such column is named).
    needsid.ConfigError
        If the spec has unknown keys or bad values.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=200, months=12, seed=0)
    >>> X = ni.features.build(pop.bundle, as_of="2023-10-01")
    >>> X.columns[0], X.height == X["household_id"].n_unique()
    ('household_id', True)
    """
    spec = load_spec(spec)
    as_of = as_date(as_of)
    # pandas runs eagerly, column by column; a hundred windowed columns are far faster
    # through polars' lazy engine, so pandas input is computed there and handed back
    to_pandas = bundle.backend == "pandas"
    if to_pandas:
        bundle = bundle.to_polars()
    frames = {}
    eager = False
    for name in ("regions", "households", "members", "records"):
        f = nw.from_native(getattr(bundle, name))
        if isinstance(f, nw.DataFrame):
            eager = True
            f = f.lazy()
        frames[name] = f
    _check_columns(frames)
    lit = _Dates(frames["records"])
    d = lit(as_of)
    hh = frames["households"].filter(
        (nw.col("formed_on") < d)
        & (nw.col("dissolved_on").is_null() | (nw.col("dissolved_on") >= d))
    )
    fam = set(spec.families)
    # the families that read household size also read the region's standards
    needs_size = bool(fam & {"composition", "income", "assets", "benefits", "casework"})
    base = hh.select("household_id")
    if needs_size:
        base = hh.select("household_id", "region_id").join(
            frames["regions"], on="region_id", how="left"
        )
    current = frames["members"].filter(
        (nw.col("joined_on") < d) & (nw.col("left_on").is_null() | (nw.col("left_on") >= d))
    )
    records = _attributed(frames["records"], frames["members"], current, d)
    # in memory, the events family is counted per kind and written straight into dense
    # columns on the sorted households (see _events_dense); lazy engines group and join
    dense_events = eager and "events" in fam
    # each family reads only the record kinds it needs: most records are wages
    parts = [_composition(current, records, as_of, lit)] if needs_size else []
    if "events" in fam and not dense_events:
        parts.append(_events_part_wide(records, as_of, spec, lit))
    if "income" in fam:
        parts += [
            _income_part(records, as_of, spec, lit),
            *_income_latest(records, as_of, spec, lit),
        ]
    if "assets" in fam:
        parts += _assets_part(records, as_of, spec, lit)
    if "benefits" in fam:
        parts.append(_benefit_months(records, as_of, spec, lit))
    if "coverage" in fam:
        parts.append(_coverage_part(records, as_of, spec, lit))
    if "casework" in fam:
        parts += casework_parts(records, as_of, spec, lit, _month_no)
    # a left join copies every column gathered so far: the widest parts go last
    out = base
    for part in sorted(parts, key=lambda p: len(p.collect_schema())):
        out = out.join(part, on="household_id", how="left")
    out = _derived(out, spec)
    table = feature_table(spec)
    names = list(table["name"])
    later = set(table.loc[table["family"] == "events", "name"]) if dense_events else set()
    result = out.select(
        "household_id", *[nw.col(n).cast(nw.Float64) for n in names if n not in later]
    ).sort("household_id")
    if not eager:
        return result.to_native()
    out = result.collect()
    if dense_events:
        out = out.with_columns(*_events_dense(records, out["household_id"], as_of, spec, lit))
        out = out.select("household_id", *names)
    return out.to_pandas() if to_pandas else out.to_native()


def _check_columns(frames: dict[str, Lazy]) -> None:
    """Raise one error naming every needed column that is missing or of the wrong type."""
    problems = []
    for name, columns in NEEDS.items():
        schema = frames[name].collect_schema()
        for col in columns:
            logical = TABLES[name].column(col).dtype
            if col not in schema:
                problems.append(f"{name}.{col} is missing")
            elif not _fits(schema[col], logical):
                problems.append(f"{name}.{col} should hold {logical} values, not {schema[col]}")
    if problems:
        raise ValueError(
            f"Cannot build features: {'; '.join(problems)}. needsid.validate(bundle) checks "
            "the whole data contract."
        )


def _attributed(records: Lazy, members: Lazy, current: Lazy, d: nw.Expr) -> Lazy:
    """Known records, each assigned to its person's household at as_of where there is one."""
    known = records.filter(nw.col("known_date") < d)
    # Only a person who has left a household can carry records from another one: with
    # valid spells (no overlaps), a person with one spell has all records on it. Closed
    # spells are found by a filter, with no grouping over all members, and keep the join
    # below small on tens of millions of records.
    left = members.filter(~nw.col("left_on").is_null()).select("person_id")
    spells = current.join(left, on="person_id", how="semi").select(
        "person_id", nw.col("household_id").alias("_hh_now")
    )
    return (
        known.join(spells, on="person_id", how="left")
        .with_columns(
            household_id=nw.when(nw.col("_hh_now").is_null())
            .then(nw.col("household_id"))
            .otherwise(nw.col("_hh_now"))
        )
        .drop("_hh_now")
    )


def _composition(current: Lazy, records: Lazy, as_of: dt.date, lit: _Dates) -> Lazy:
    d = lit(as_of)
    age = age_at("birth_date", as_of)
    # disability as certified by records known before as_of, not the extract's snapshot
    cert = (
        records.filter(nw.col("kind") == "disability_certified")
        .with_columns(grade=nw.col("value").cast(nw.String).cast(nw.Int64))
        .group_by("person_id")
        .agg(nw.col("grade").min())
    )
    del d
    m = current.with_columns(age=age).join(cert, on="person_id", how="left")
    working = (nw.col("age") >= 16) & (nw.col("age") < 60)
    severe = nw.col("grade").fill_null(9) <= 2
    m = m.with_columns(
        one=nw.lit(1),
        child=(nw.col("age") < 16).cast(nw.Int64),
        elderly=(nw.col("age") >= 60).cast(nw.Int64),
        working=working.cast(nw.Int64),
        labour=(working & ~severe).cast(nw.Int64),
        disabled=(~nw.col("grade").is_null()).cast(nw.Int64),
        severe=severe.cast(nw.Int64),
        is_minority=nw.col("minority").cast(nw.Int64),
        rural_hukou=(nw.col("hukou") == "rural").cast(nw.Int64),
        female=(nw.col("sex") == "F").cast(nw.Int64),
        head_rank=(nw.col("relation") == "head").cast(nw.Int64) * 1000 + nw.col("age"),
    )
    agg = m.group_by("household_id").agg(
        nw.col("one").sum().alias("hh_size"),
        nw.col("child").sum().alias("n_children"),
        nw.col("elderly").sum().alias("n_elderly"),
        nw.col("working").sum().alias("n_working_age"),
        nw.col("labour").sum().alias("n_labour_force"),
        nw.col("disabled").sum().alias("n_disability_certified"),
        nw.col("severe").sum().alias("n_severe_disability"),
        nw.col("is_minority").max().alias("minority"),
        nw.col("rural_hukou").mean().alias("rural_hukou_share"),
        nw.col("head_rank").max().alias("head_rank"),
    )
    heads = (
        m.join(agg.select("household_id", "head_rank"), on=["household_id", "head_rank"])
        .group_by("household_id")
        .agg(
            nw.col("age").min().alias("head_age"),
            nw.col("female").max().alias("head_female"),
            nw.col("education_years").max().alias("head_education_years"),
        )
    )
    return agg.drop("head_rank").join(heads, on="household_id", how="left")


def _cutoffs(as_of: dt.date, lit: _Dates, *months: int) -> dict[int, nw.Expr]:
    return {w: lit(months_before(as_of, w)) for w in set(months)}


def _sum(col: str) -> nw.Expr:
    # rounded so that parallel summation order never changes the bytes of the result
    return nw.col(col).sum().round(6)


def _window_columns(
    k: str,
    with_sum: bool,
    windows: Iterable[int],
    cut: dict[int, nw.Expr],
    amount: nw.Expr,
    of_kind: nw.Expr | None = None,
) -> dict[str, nw.Expr]:
    """Per record: is it in each window (and its amount there), for kind ``k``'s columns.

    ``of_kind`` restricts to the kind's records when the frame holds other kinds too.
    """
    ed = nw.col("event_date")
    cols: dict[str, nw.Expr] = {}
    for w in windows:
        hit = ed >= cut[w] if of_kind is None else of_kind & (ed >= cut[w])
        cols[f"n_{k}_{w}m"] = hit.cast(nw.Int64)
        if with_sum:
            cols[f"sum_{k}_{w}m"] = nw.when(hit).then(amount).otherwise(0.0)
    return cols


def _events_part_wide(records: Lazy, as_of: dt.date, spec: FeatureSpec, lit: _Dates) -> Lazy:
    """Count and sum the event kinds over every window, in one wide group-by.

    Used for lazy engines (DuckDB, Spark), which plan the whole build as one query:
    one pass over the event records, joined onto the households with the other parts.
    In-memory input takes :func:`_events_dense` instead; the two agree (tests).
    """
    kind, ed = nw.col("kind"), nw.col("event_date")
    amount = nw.col("amount").fill_null(0.0)
    tw = spec.trend_window
    cut = _cutoffs(as_of, lit, *spec.windows, tw, 2 * tw)
    a_no = as_of.year * 12 + as_of.month - 1
    cols: dict[str, nw.Expr] = {}
    for k, with_sum in spec.events.items():
        is_k = kind == k
        cols |= _window_columns(k, with_sum, spec.windows, cut, amount, of_kind=is_k)
        cols[f"_now_{k}"] = (is_k & (ed >= cut[tw])).cast(nw.Int64)
        cols[f"_before_{k}"] = (is_k & (ed >= cut[2 * tw]) & (ed < cut[tw])).cast(nw.Int64)
        cols[f"_last_{k}"] = nw.when(is_k).then(_month_no("event_date"))
    events = records.filter(kind.is_in(list(spec.events)))
    agg = (
        events.with_columns(**cols)
        .group_by("household_id")
        .agg(
            *[
                _sum(c) if c.startswith("sum_") else nw.col(c).sum()
                for c in cols
                if not c.startswith("_last")
            ],
            *[nw.col(c).max() for c in cols if c.startswith("_last")],
        )
    )
    return agg.with_columns(
        **{f"months_since_{k}": nw.lit(a_no) - nw.col(f"_last_{k}") for k in spec.events},
        **{f"trend_{k}": nw.col(f"_now_{k}") - nw.col(f"_before_{k}") for k in spec.events},
    )


def _events_dense(
    records: Lazy, ids: nw.Series[Any], as_of: dt.date, spec: FeatureSpec, lit: _Dates
) -> list[nw.Series[Any]]:
    """Count and sum each event kind over every window, as dense columns aligned to ``ids``.

    ``ids`` are the sorted household ids of the result. Each event record gets its
    household's row number (one join), each kind is grouped over its own rows only (a
    household has few events of a kind), and each aggregate is written by row number
    into a column that starts at its no-record value (0, or 999 months since). Laying out
    ~90 columns over every household by joins and a sort copies each column several
    times; this writes each once.
    """
    ed = nw.col("event_date")
    tw = spec.trend_window
    cut = _cutoffs(as_of, lit, *spec.windows, tw, 2 * tw)
    a_no = as_of.year * 12 + as_of.month - 1
    index = ids.to_frame().with_row_index("_row")
    events = (
        records.filter(nw.col("kind").is_in(list(spec.events)))
        .join(index.lazy(), on="household_id", how="inner")
        .select("_row", "kind", "event_date", amount=nw.col("amount").fill_null(0.0))
        .collect()
    )
    n = len(ids)

    def dense(agg: nw.DataFrame[Any], names: list[str]) -> list[nw.Series[Any]]:
        # np.zeros comes from the allocator already zeroed: a column of zeros is touched
        # only on the rows with records. Filling fresh memory is most of the cost here.
        rows = agg["_row"].to_numpy()
        out = []
        for c in names:
            if c.startswith("months_since_"):
                col = np.full(n, float(NONE_SINCE))
            else:
                col = np.zeros(n)
            col[rows] = agg[c].to_numpy()
            out.append(nw.new_series(c, col, backend=ids.implementation))
        return out

    # the next kind is grouped (by the engine, off the GIL) while threads write the last
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        pending = []
        for k, with_sum in spec.events.items():
            cols = _window_columns(k, with_sum, spec.windows, cut, nw.col("amount"))
            # the trend's two counts, from the window counts when the windows hold them
            now, before = f"n_{k}_{tw}m", f"n_{k}_{2 * tw}m"
            if now not in cols:
                now = "_now"
                cols[now] = (ed >= cut[tw]).cast(nw.Int64)
            if before not in cols:
                before = "_before"
                cols[before] = (ed >= cut[2 * tw]).cast(nw.Int64)
            names = [
                *(c for c in cols if not c.startswith("_")),
                f"months_since_{k}",
                f"trend_{k}",
            ]
            agg = (
                events.lazy()
                .filter(nw.col("kind") == k)
                .with_columns(**cols)
                .group_by("_row")
                .agg(
                    *[_sum(c) if c.startswith("sum_") else nw.col(c).sum() for c in cols],
                    nw.col("event_date").max().alias("_last"),
                )
                .select(
                    "_row",
                    *[nw.col(c).cast(nw.Float64) for c in names[:-2]],
                    (nw.lit(a_no) - _month_no("_last")).cast(nw.Float64).alias(names[-2]),
                    # events in the last tw months minus those in the tw before
                    (2 * nw.col(now) - nw.col(before)).cast(nw.Float64).alias(names[-1]),
                )
                .collect()
            )
            pending.append(pool.submit(dense, agg, names))
        return [col for job in pending for col in job.result()]


def _income_part(records: Lazy, as_of: dt.date, spec: FeatureSpec, lit: _Dates) -> Lazy:
    """Wages over the rules' windows, rigid expenditure, months since the latest wage."""
    kind, ed = nw.col("kind"), nw.col("event_date")
    amount = nw.col("amount").fill_null(0.0)
    iw = spec.income_window
    wage_windows = {1, 3, 6, 12, iw.urban, iw.rural}
    cut = _cutoffs(as_of, lit, *wage_windows)
    wage = kind == "wage"
    cols = {
        f"_wage_{w}m": nw.when(wage & (ed >= cut[w])).then(amount).otherwise(0.0)
        for w in wage_windows
    }
    cols["_oop_12m"] = (
        nw.when((kind == "medical_oop") & (ed >= cut[12])).then(amount).otherwise(0.0)
    )
    cols["_edu_12m"] = (
        nw.when((kind == "education_cost") & (ed >= cut[12])).then(amount).otherwise(0.0)
    )
    cols["_last_wage"] = nw.when(wage).then(ed)
    relevant = records.filter(kind.is_in(["wage", "medical_oop", "education_cost"]))
    agg = (
        relevant.with_columns(**cols)
        .group_by("household_id")
        .agg(*[_sum(c) for c in cols if c != "_last_wage"], nw.col("_last_wage").max())
    )
    a_no = as_of.year * 12 + as_of.month - 1
    earners = (
        records.filter(wage & (ed >= cut[3]))
        .group_by("household_id")
        .agg(nw.col("person_id").n_unique().alias("n_earners_3m"))
    )
    return agg.with_columns(months_since_wage=nw.lit(a_no) - _month_no("_last_wage")).join(
        earners, on="household_id", how="left"
    )


def _latest(frame: Lazy, keys: list[str], value: str) -> Lazy:
    """Return the ``value`` of the latest record (by event date) per ``keys``."""
    last = frame.group_by(keys).agg(nw.col("event_date").max())
    return frame.join(last, on=[*keys, "event_date"]).group_by(keys).agg(nw.col(value).max())


def _recent(records: Lazy, as_of: dt.date, spec: FeatureSpec, lit: _Dates, kind: str) -> Lazy:
    cut = lit(months_before(as_of, spec.lookback_months))
    return records.filter((nw.col("kind") == kind) & (nw.col("event_date") >= cut))


def _income_latest(records: Lazy, as_of: dt.date, spec: FeatureSpec, lit: _Dates) -> list[Lazy]:
    pension = _recent(records, as_of, spec, lit, "pension")
    employee = pension.filter(nw.col("value").cast(nw.String) == "employee")
    pensions = _latest(employee, ["household_id", "person_id"], "amount")
    pensions = pensions.group_by("household_id").agg(_sum("amount").alias("_pension_total"))
    survey = _latest(
        _recent(records, as_of, spec, lit, "income_survey"), ["household_id"], "amount"
    )
    return [pensions, survey.select("household_id", nw.col("amount").alias("_survey_annual"))]


def _assets_part(records: Lazy, as_of: dt.date, spec: FeatureSpec, lit: _Dates) -> list[Lazy]:
    kind = nw.col("kind")
    amount = nw.col("amount").fill_null(0.0)
    kinds = ["vehicle", "property", "business_registered", "housing_unsafe"]
    assets = (
        records.filter(kind.is_in(kinds))
        .with_columns(
            vehicle_value=nw.when(kind == "vehicle").then(amount).otherwise(0.0),
            n_properties=(kind == "property").cast(nw.Int64),
            has_business=(kind == "business_registered").cast(nw.Int64),
            housing_unsafe=(kind == "housing_unsafe").cast(nw.Int64),
        )
        .group_by("household_id")
        .agg(
            nw.col("vehicle_value").max(),
            nw.col("n_properties").sum(),
            nw.col("has_business").max(),
            nw.col("housing_unsafe").max(),
        )
    )
    recent = _recent(records, as_of, spec, lit, "deposit_balance")
    last = recent.group_by("household_id").agg(nw.col("event_date").max().alias("_d1"))
    deposits = (
        recent.join(last, on="household_id", how="inner")
        .filter(nw.col("event_date") == nw.col("_d1"))
        .group_by("household_id")
        .agg(nw.col("amount").max())
    )
    # banks report once a year: the report before the latest is at least 6 months older,
    # and within the look-back of the latest (not of as_of): else, each year, the report
    # before drops out a month before the new one is known, and the change flickers
    # to null every July (issue #18)
    lb = spec.lookback_months
    dated = records.filter(
        (nw.col("kind") == "deposit_balance")
        & (nw.col("event_date") >= lit(months_before(as_of, 2 * lb)))
    ).join(last, on="household_id", how="inner")
    older = dated.filter(
        (_month_no("event_date") <= _month_no("_d1") - 6)
        & (_month_no("event_date") >= _month_no("_d1") - lb)
    ).drop("_d1")
    before = _latest(older, ["household_id"], "amount")
    return [
        assets,
        deposits.select("household_id", nw.col("amount").alias("_deposit")),
        before.select("household_id", nw.col("amount").alias("_dep_before")),
    ]


def _coverage_part(records: Lazy, as_of: dt.date, spec: FeatureSpec, lit: _Dates) -> Lazy:
    """Summarise what the departments see of a household: sources, kinds, recency."""
    ed = nw.col("event_date")
    cut = _cutoffs(as_of, lit, 12, spec.lookback_months)
    a_no = as_of.year * 12 + as_of.month - 1
    # one pass over all records down to (household, source, kind), then small group-bys
    pairs = (
        records.with_columns(_in12=(ed >= cut[12]).cast(nw.Int64))
        .group_by("household_id", "source", "kind")
        .agg(ed.max().alias("_last"), nw.col("_in12").sum().alias("_n12"))
        .with_columns(_recent=(nw.col("_last") >= cut[spec.lookback_months]).cast(nw.Int64))
    )
    sources = (
        pairs.group_by("household_id", "source")
        .agg(
            nw.col("_last").max(),
            nw.col("_n12").sum(),
            nw.col("_recent").sum().alias("_kinds"),
            nw.col("_recent").max().alias("_seen"),
        )
        .with_columns(
            _core=(nw.col("source").is_in(list(spec.core_sources)) & (nw.col("_seen") > 0))
        )
        .with_columns(_core=nw.col("_core").cast(nw.Int64))
    )
    out = sources.group_by("household_id").agg(
        nw.col("_last").max(),
        nw.col("_n12").sum().alias("n_records_12m"),
        nw.col("_seen").sum().alias("n_sources_recent"),
        nw.col("_kinds").sum().alias("n_kinds_recent"),
        nw.col("_core").sum().alias("_core_seen"),
    )
    # aggregate dates first and do month arithmetic on one row per household
    return out.with_columns(months_since_record=nw.lit(a_no) - _month_no("_last")).drop("_last")


def _benefit_months(records: Lazy, as_of: dt.date, spec: FeatureSpec, lit: _Dates) -> Lazy:
    """Distinct months on each programme in the last 12 months, and months with overlaps."""
    paid = (
        records.filter(
            nw.col("kind").is_in(list(spec.benefits))
            & (nw.col("event_date") >= lit(months_before(as_of, 12)))
        )
        .with_columns(month_no=_month_no("event_date"))
        .select("household_id", "kind", "month_no")
        .unique()
    )
    per_kind = (
        paid.with_columns(
            **{f"months_{k}_12m": (nw.col("kind") == k).cast(nw.Int64) for k in spec.benefits}
        )
        .group_by("household_id")
        .agg(*[nw.col(f"months_{k}_12m").sum() for k in spec.benefits])
    )
    per_month = paid.group_by("household_id", "month_no").agg(nw.col("kind").count().alias("n"))
    overlaps = (
        per_month.with_columns(both=(nw.col("n") >= 2).cast(nw.Int64))
        .group_by("household_id")
        .agg(nw.col("both").sum().alias("months_overlap_12m"))
    )
    programmes = (
        paid.select("household_id", "kind")
        .unique()
        .group_by("household_id")
        .agg(nw.col("kind").count().alias("n_programmes_12m"))
    )
    out = per_kind.join(overlaps, on="household_id", how="left").join(
        programmes, on="household_id", how="left"
    )
    if "benefit_dibao" not in spec.benefits:
        return out
    # dibao tops income up to the standard, so the amount paid tells the assessed income
    dibao = (
        records.filter(
            (nw.col("kind") == "benefit_dibao")
            & (nw.col("event_date") >= lit(months_before(as_of, 3)))
        )
        .with_columns(month_no=_month_no("event_date"))
        .group_by("household_id")
        .agg(
            _sum("amount").alias("_dibao_paid_3m"),
            nw.col("month_no").n_unique().alias("_dibao_months_3m"),
        )
    )
    return out.join(dibao, on="household_id", how="left")


def _derived(out: Lazy, spec: FeatureSpec) -> Lazy:
    names = out.collect_schema().names()
    fam = set(spec.families)
    # counts and sums are zero where a household had no such record
    prefixes = (
        "n_",
        "sum_",
        "trend_",
        "_now",
        "_before",
        "_wage",
        "_oop",
        "_edu",
        "_src",
        "months_b",
        "months_d",
        "months_o",
    )
    others = (
        "vehicle_value",
        "has_business",
        "housing_unsafe",
        "_pension_total",
        "minority",
        "head_female",
        "home_visit_finding",
    )
    zero_fill = [c for c in names if c.startswith(prefixes) or c in others]
    since = [c for c in names if c.startswith("months_since_")]
    fills = [
        *[nw.col(c).fill_null(0) for c in zero_fill],
        *[nw.col(c).fill_null(NONE_SINCE) for c in since],
    ]
    out = out.with_columns(*fills) if fills else out
    size = nw.col("hh_size").fill_null(0)
    size1 = nw.when(size > 0).then(size).otherwise(1)
    iw = spec.income_window
    new = {}
    if "hh_size" in names:  # the composition is built when a family needs it
        new = {
            "hh_size": size,
            "dependency_ratio": (nw.col("n_children") + nw.col("n_elderly"))
            / nw.when(nw.col("n_working_age") > 0).then(nw.col("n_working_age")).otherwise(size1),
            "single_parent": ((nw.col("n_children") > 0) & (nw.col("n_working_age") == 1)).cast(
                nw.Int64
            ),
            "elderly_alone": ((nw.col("n_elderly") == size) & (size <= 2) & (size > 0)).cast(
                nw.Int64
            ),
            "urban": nw.col("urban").cast(nw.Int64),
        }
    if "income" in fam:
        new |= {
            "wage_pc_1m": nw.col("_wage_1m") / size1,
            "wage_pc_3m": nw.col("_wage_3m") / size1 / 3,
            "wage_pc_12m": nw.col("_wage_12m") / size1 / 12,
            # wages of the last 3 months minus the 3 before, per person per month
            "wage_trend_pc": (2 * nw.col("_wage_3m") - nw.col("_wage_6m")) / size1 / 3,
            "wage_pc_rule": nw.when(nw.col("urban"))
            .then(nw.col(f"_wage_{iw.urban}m") / iw.urban)
            .otherwise(nw.col(f"_wage_{iw.rural}m") / iw.rural)
            / size1,
            "pension_pc": nw.col("_pension_total") / size1,
            "survey_income_pc": nw.col("_survey_annual") / 12,
            "medical_oop_pc_12m": nw.col("_oop_12m") / size1 / 12,
            "education_cost_pc_12m": nw.col("_edu_12m") / size1 / 12,
            "n_earners_3m": nw.col("n_earners_3m").fill_null(0),
        }
    if "assets" in fam:
        new["deposit_to_standard"] = nw.col("_deposit") / (nw.col("dibao_standard") * size1 * 12)
        new["deposit_change_12m"] = nw.when(nw.col("_dep_before") > 0).then(
            nw.col("_deposit") / nw.col("_dep_before")
        )
    if "benefits" in fam and "benefit_dibao" in spec.benefits:
        new["dibao_paid_to_standard"] = nw.col("_dibao_paid_3m") / (
            nw.col("_dibao_months_3m") * size1 * nw.col("dibao_standard")
        )
    if "coverage" in fam:
        new |= {
            "invisibility_score": 1 - nw.col("_core_seen").fill_null(0) / len(spec.core_sources),
            "n_sources_recent": nw.col("n_sources_recent").fill_null(0),
            "n_kinds_recent": nw.col("n_kinds_recent").fill_null(0),
            "n_records_12m": nw.col("n_records_12m").fill_null(0),
        }
    if "casework" in fam:
        new["assessed_income_to_low_income_line"] = nw.col("_assessed") / (
            nw.col("dibao_standard") * nw.col("low_income_multiplier")
        )
    out = out.with_columns(**new) if new else out
    if "income" not in fam:
        return out
    line = nw.col("dibao_standard") * nw.col("low_income_multiplier")
    out = out.with_columns(
        rigid_expenditure_pc=nw.col("medical_oop_pc_12m") + nw.col("education_cost_pc_12m"),
        # last month against the household's own 12-month average: a fall shows here
        # whatever share of the household's income its recorded wages are
        wage_1m_to_12m=nw.when(nw.col("_wage_12m") > 0)
        .then(12 * nw.col("_wage_1m") / nw.col("_wage_12m"))
        .otherwise(None),
        wage_1m_to_low_income_line=nw.col("wage_pc_1m") / line,
        wage_12m_to_low_income_line=nw.col("wage_pc_12m") / line,
        pension_to_low_income_line=nw.col("pension_pc") / line,
        survey_income_to_low_income_line=nw.col("survey_income_pc") / line,
    )
    out = out.with_columns(
        net_income_pc=nw.col("wage_pc_rule")
        + nw.col("pension_pc")
        - nw.col("rigid_expenditure_pc"),
    )
    return out.with_columns(
        income_to_dibao=nw.col("net_income_pc") / nw.col("dibao_standard"),
        income_to_low_income_line=nw.col("net_income_pc") / line,
    )
