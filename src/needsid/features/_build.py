"""Point-in-time household features on narwhals expressions (pandas, polars, DuckDB, ...).

Only records with ``known_date < as_of`` are read, and only membership spells valid at
``as_of``; a record counts for the household named on it. One row per household alive
at ``as_of``.
"""

from __future__ import annotations

import datetime as dt

import narwhals as nw

from ..data import HouseholdData

__all__ = ["FEATURE_FAMILIES", "build", "describe"]

FEATURE_FAMILIES = ("composition", "income", "assets", "events", "benefits", "coverage")

# (kind, windows in months) counted as events; sums are taken where amounts matter
EVENT_KINDS = {
    "hospitalization": (3, 12),
    "unemployment_registered": (3, 12),
    "employment_started": (3, 12),
    "death": (3, 12),
    "disaster_loss": (3, 12),
    "school_dropout": (12,),
    "chronic_illness": (12,),
    "disability_certified": (12,),
    "application": (12,),
}
BENEFIT_KINDS = (
    "benefit_dibao",
    "benefit_tekun",
    "benefit_temporary",
    "disability_living_subsidy",
    "disability_care_subsidy",
)
CORE_SOURCES = (
    "human_resources",
    "health",
    "medical_insurance",
    "banking",
    "education",
    "housing",
)


def _describe_rows() -> list[dict]:
    rows = [
        ("hh_size", "composition", None, "members at as_of"),
        ("n_children", "composition", None, "members under 16"),
        ("n_elderly", "composition", None, "members aged 60 or more"),
        ("n_working_age", "composition", None, "members aged 16-59"),
        (
            "dependency_ratio",
            "composition",
            None,
            "(children + elderly) / working-age (size if none)",
        ),
        ("head_age", "composition", None, "age of the head (oldest member if no head)"),
        ("head_female", "composition", None, "head is a woman"),
        ("head_education_years", "composition", None, "schooling of the head"),
        ("minority", "composition", None, "any member of an ethnic minority"),
        ("rural_hukou_share", "composition", None, "share of members with rural hukou"),
        ("urban", "composition", None, "region is urban"),
        (
            "n_disability_certified",
            "composition",
            None,
            "members certified disabled (records known)",
        ),
        ("n_severe_disability", "composition", None, "members certified grade 1-2"),
        ("wage_pc_3m", "income", 3, "recorded wages per person per month, last 3 months"),
        ("wage_pc_12m", "income", 12, "recorded wages per person per month, last 12 months"),
        ("n_earners_3m", "income", 3, "members with a recorded wage, last 3 months"),
        ("pension_pc", "income", 24, "latest pensions per person per month (employee pensions)"),
        ("survey_income_pc", "income", 24, "latest income survey, per person per month"),
        ("medical_oop_pc_12m", "income", 12, "medical out-of-pocket per person per month"),
        ("education_cost_pc_12m", "income", 12, "education costs per person per month"),
        (
            "net_income_pc",
            "income",
            None,
            "wages (rules' window) + pensions - rigid expenditure, per person per month",
        ),
        ("income_to_dibao", "income", None, "net_income_pc / region dibao standard"),
        (
            "income_to_low_income_line",
            "income",
            None,
            "net_income_pc / (dibao x low-income multiplier)",
        ),
        ("vehicle_value", "assets", None, "largest recorded vehicle value"),
        ("n_properties", "assets", None, "recorded properties"),
        ("has_business", "assets", None, "a business registration"),
        ("deposit_to_standard", "assets", 24, "latest deposits / (dibao x size x 12)"),
    ]
    for kind, windows in EVENT_KINDS.items():
        for w in windows:
            rows.append((f"n_{kind}_{w}m", "events", w, f"{kind} records in the last {w} months"))
    rows.append(("hospital_cost_12m", "events", 12, "total hospitalisation cost, last 12 months"))
    rows.append(("disaster_loss_12m", "events", 12, "disaster losses, last 12 months"))
    for kind in BENEFIT_KINDS:
        rows.append(
            (f"months_{kind}_12m", "benefits", 12, f"months with a {kind} payment, last 12 months")
        )
    rows += [
        ("n_sources_24m", "coverage", 24, "departments with any record, last 24 months"),
        ("n_kinds_24m", "coverage", 24, "record kinds seen, last 24 months"),
        ("n_records_12m", "coverage", 12, "records, last 12 months"),
        (
            "months_since_record",
            "coverage",
            None,
            "months since the latest known record (999 if none)",
        ),
        (
            "invisibility_score",
            "coverage",
            24,
            "share of core departments with no record in 24 months",
        ),
    ]
    return [
        dict(zip(("name", "family", "window_months", "meaning"), r, strict=True)) for r in rows
    ]


def describe():
    """Return one row per feature: ``name, family, window_months, meaning`` (pandas)."""
    import pandas as pd

    return pd.DataFrame(_describe_rows())


def _as_date(as_of) -> dt.date:
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    try:
        return dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise ValueError(f"Got as_of={as_of!r}; expected a date such as '2025-01-01'.") from None


def _months_before(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 - k, 12)
    day = min(d.day, 28)
    return dt.date(d.year + y, m + 1, day)


def build(bundle: HouseholdData, as_of, spec=None):
    """Build one feature row per household alive at ``as_of``.

    Parameters
    ----------
    bundle : HouseholdData
        pandas or polars tables; the result has the same frame type.
    as_of : date or str
        Only records known before this date (``known_date < as_of``) are used.
    spec : None
        Reserved for feature specs from ``configs/features``; must be None for now.

    Returns
    -------
    DataFrame
        ``household_id`` then the features listed by :func:`describe`, sorted by id.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=200, months=12, seed=0)
    >>> X = ni.features.build(pop.bundle, as_of="2023-10-01")
    >>> X.columns[0], X.height == X["household_id"].n_unique()
    ('household_id', True)
    """
    if spec is not None:
        raise ValueError(f"Got spec={spec!r}; feature specs are not supported yet, pass None.")
    as_of = _as_date(as_of)
    hh = nw.from_native(bundle.households, eager_only=True)
    mem = nw.from_native(bundle.members, eager_only=True)
    rec = nw.from_native(bundle.records, eager_only=True)
    reg = nw.from_native(bundle.regions, eager_only=True)
    d = nw.lit(as_of)
    alive = hh.filter(
        (nw.col("formed_on") < d)
        & (nw.col("dissolved_on").is_null() | (nw.col("dissolved_on") >= d))
    ).select("household_id", "region_id")
    base = alive.join(reg, on="region_id", how="left")
    comp = _composition(mem, rec, as_of)
    ev = _record_features(rec, as_of)
    out = base.join(comp, on="household_id", how="left").join(ev, on="household_id", how="left")
    out = _derived(out)
    names = [r["name"] for r in _describe_rows()]
    return out.select("household_id", *names).sort("household_id").to_native()


def _composition(mem, rec, as_of: dt.date):
    d = nw.lit(as_of)
    cur = mem.filter(
        (nw.col("joined_on") < d) & (nw.col("left_on").is_null() | (nw.col("left_on") >= d))
    )
    age_days = (d - nw.col("birth_date")).dt.total_minutes() / (60 * 24)
    cur = cur.with_columns(age=(age_days / 365.25).floor())
    # disability as certified by records known before as_of (the members snapshot may
    # carry a later certification)
    cert = (
        rec.filter((nw.col("kind") == "disability_certified") & (nw.col("known_date") < d))
        .group_by("person_id")
        .agg(nw.col("value").cast(nw.String).cast(nw.Int64).min().alias("grade"))
    )
    cur = cur.join(cert, on="person_id", how="left")
    one = nw.lit(1)
    cur = cur.with_columns(
        child=(nw.col("age") < 16).cast(nw.Int64),
        elderly=(nw.col("age") >= 60).cast(nw.Int64),
        working=((nw.col("age") >= 16) & (nw.col("age") < 60)).cast(nw.Int64),
        disabled=~nw.col("grade").is_null().cast(nw.Int64),
        severe=(nw.col("grade").fill_null(9) <= 2).cast(nw.Int64),
        is_minority=nw.col("minority").cast(nw.Int64),
        rural_hukou=(nw.col("hukou") == "rural").cast(nw.Int64),
        is_head=(nw.col("relation") == "head").cast(nw.Int64),
        female=(nw.col("sex") == "F").cast(nw.Int64),
        one=one,
    )
    # head: the member with relation head, else the oldest
    cur = cur.with_columns(head_rank=nw.col("is_head") * 1000 + nw.col("age"))
    agg = cur.group_by("household_id").agg(
        nw.col("one").sum().alias("hh_size"),
        nw.col("child").sum().alias("n_children"),
        nw.col("elderly").sum().alias("n_elderly"),
        nw.col("working").sum().alias("n_working_age"),
        nw.col("disabled").sum().alias("n_disability_certified"),
        nw.col("severe").sum().alias("n_severe_disability"),
        nw.col("is_minority").max().alias("minority"),
        nw.col("rural_hukou").mean().alias("rural_hukou_share"),
        nw.col("head_rank").max().alias("head_rank"),
    )
    heads = cur.join(agg.select("household_id", "head_rank"), on=["household_id", "head_rank"])
    heads = heads.group_by("household_id").agg(
        nw.col("age").min().alias("head_age"),
        nw.col("female").max().alias("head_female"),
        nw.col("education_years").max().alias("head_education_years"),
    )
    return agg.drop("head_rank").join(heads, on="household_id", how="left")


def _record_features(rec, as_of: dt.date):
    d = nw.lit(as_of)
    known = rec.filter(nw.col("known_date") < d)
    c3, c12, c24 = (nw.lit(_months_before(as_of, k)) for k in (3, 12, 24))
    ed, kind, amt = nw.col("event_date"), nw.col("kind"), nw.col("amount").fill_null(0.0)
    in3, in12, in24 = ed >= c3, ed >= c12, ed >= c24
    cols = {
        "wage_3m": ((kind == "wage") & in3).cast(nw.Float64) * amt,
        "wage_12m": ((kind == "wage") & in12).cast(nw.Float64) * amt,
        "oop_12m": ((kind == "medical_oop") & in12).cast(nw.Float64) * amt,
        "educost_12m": ((kind == "education_cost") & in12).cast(nw.Float64) * amt,
        "hospital_cost_12m": ((kind == "hospitalization") & in12).cast(nw.Float64) * amt,
        "disaster_loss_12m": ((kind == "disaster_loss") & in12).cast(nw.Float64) * amt,
        "vehicle_value": (kind == "vehicle").cast(nw.Float64) * amt,
        "n_properties": (kind == "property").cast(nw.Int64),
        "has_business": (kind == "business_registered").cast(nw.Int64),
        "n_records_12m": in12.cast(nw.Int64),
        "last_record": ed,
    }
    for k, windows in EVENT_KINDS.items():
        for w in windows:
            cols[f"n_{k}_{w}m"] = ((kind == k) & (in3 if w == 3 else in12)).cast(nw.Int64)
    # a month index per record, to count distinct payment months per programme
    month_no = ed.dt.year() * 12 + ed.dt.month()
    for k in BENEFIT_KINDS:
        cols[f"pay_month_{k}"] = nw.when((kind == k) & in12).then(month_no)
    for s in CORE_SOURCES:
        cols[f"src_{s}"] = ((nw.col("source") == s) & in24).cast(nw.Int64)
    wide = known.with_columns(**cols)
    sums = [
        nw.col(c).sum()
        for c in cols
        if c.startswith(("wage_", "oop_", "educost_", "hospital_", "disaster_", "n_"))
    ]
    agg = wide.group_by("household_id").agg(
        *sums,
        nw.col("vehicle_value").max(),
        nw.col("has_business").max(),
        nw.col("last_record").max(),
        *[nw.col(f"src_{s}").max() for s in CORE_SOURCES],
        *[nw.col(f"pay_month_{k}").n_unique().alias(f"months_{k}_12m") for k in BENEFIT_KINDS],
    )
    # n_unique counts the null too: subtract it where a household had other records
    has_null = wide.group_by("household_id").agg(
        *[
            nw.col(f"pay_month_{k}").is_null().max().cast(nw.Int64).alias(f"null_{k}")
            for k in BENEFIT_KINDS
        ]
    )
    agg = (
        agg.join(has_null, on="household_id", how="left")
        .with_columns(
            **{
                f"months_{k}_12m": nw.col(f"months_{k}_12m") - nw.col(f"null_{k}")
                for k in BENEFIT_KINDS
            }
        )
        .drop(*[f"null_{k}" for k in BENEFIT_KINDS])
    )
    recent = known.filter(in24)
    coverage = recent.group_by("household_id").agg(
        nw.col("source").n_unique().alias("n_sources_24m"),
        nw.col("kind").n_unique().alias("n_kinds_24m"),
    )
    earners = (
        known.filter((kind == "wage") & in3)
        .group_by("household_id")
        .agg(nw.col("person_id").n_unique().alias("n_earners_3m"))
    )
    pensions = _latest(
        known.filter((kind == "pension") & in24 & (nw.col("value") == "employee")),
        ["household_id", "person_id"],
        "amount",
    )
    pensions = pensions.group_by("household_id").agg(nw.col("amount").sum().alias("pension_total"))
    survey = _latest(known.filter((kind == "income_survey") & in24), ["household_id"], "amount")
    survey = survey.select("household_id", nw.col("amount").alias("survey_annual"))
    deposits = _latest(
        known.filter((kind == "deposit_balance") & in24), ["household_id"], "amount"
    )
    deposits = deposits.select("household_id", nw.col("amount").alias("deposit"))
    out = agg
    for other in (coverage, earners, pensions, survey, deposits):
        out = out.join(other, on="household_id", how="left")
    return out.with_columns(as_of_date=d)


def _latest(frame, keys: list[str], value: str):
    """Return the ``value`` of the latest record (by event date) per ``keys``."""
    last = frame.group_by(keys).agg(nw.col("event_date").max())
    return frame.join(last, on=[*keys, "event_date"]).group_by(keys).agg(nw.col(value).max())


def _derived(out):
    size = nw.col("hh_size").fill_null(0)
    size1 = nw.when(size > 0).then(size).otherwise(1)
    zero = [
        c
        for c in out.columns
        if c.startswith(
            ("n_", "wage_", "oop_", "educost_", "hospital_", "disaster_", "months_", "src_")
        )
    ]
    out = out.with_columns(*[nw.col(c).fill_null(0) for c in zero])
    out = out.with_columns(
        nw.col("vehicle_value").fill_null(0.0),
        nw.col("has_business").fill_null(0),
        nw.col("pension_total").fill_null(0.0),
        hh_size=size,
        dependency_ratio=(nw.col("n_children").fill_null(0) + nw.col("n_elderly").fill_null(0))
        / nw.when(nw.col("n_working_age") > 0).then(nw.col("n_working_age")).otherwise(size1),
        wage_pc_3m=nw.col("wage_3m") / size1 / 3,
        wage_pc_12m=nw.col("wage_12m") / size1 / 12,
        medical_oop_pc_12m=nw.col("oop_12m") / size1 / 12,
        education_cost_pc_12m=nw.col("educost_12m") / size1 / 12,
        survey_income_pc=nw.col("survey_annual") / 12,
        deposit_to_standard=nw.col("deposit") / (nw.col("dibao_standard") * size1 * 12),
        months_since_record=nw.when(nw.col("last_record").is_null())
        .then(999)
        .otherwise(
            (
                (nw.col("as_of_date") - nw.col("last_record")).dt.total_minutes()
                / (60 * 24 * 30.44)
            ).floor()
        ),
        invisibility_score=1
        - sum(nw.col(f"src_{s}").fill_null(0) for s in CORE_SOURCES) / len(CORE_SOURCES),
        n_sources_24m=nw.col("n_sources_24m").fill_null(0),
        n_kinds_24m=nw.col("n_kinds_24m").fill_null(0),
        n_earners_3m=nw.col("n_earners_3m").fill_null(0),
    )
    # dibao rules look at 3 months of income in cities and 12 in the countryside
    out = out.with_columns(
        pension_pc=nw.col("pension_total") / size1,
        wage_rule=nw.when(nw.col("urban"))
        .then(nw.col("wage_pc_3m"))
        .otherwise(nw.col("wage_pc_12m")),
    )
    out = out.with_columns(
        net_income_pc=nw.col("wage_rule")
        + nw.col("pension_pc")
        - nw.col("medical_oop_pc_12m")
        - nw.col("education_cost_pc_12m")
    )
    return out.with_columns(
        income_to_dibao=nw.col("net_income_pc") / nw.col("dibao_standard"),
        income_to_low_income_line=nw.col("net_income_pc")
        / (nw.col("dibao_standard") * nw.col("low_income_multiplier")),
        urban=nw.col("urban").cast(nw.Int64),
        minority=nw.col("minority").fill_null(0),
        head_female=nw.col("head_female").fill_null(0),
    )
