"""Point-in-time labels over ``(as_of, as_of + horizon]`` and the simulator's oracle."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, overload

import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl

from .._dates import age_at, as_date, months_after
from ..data import HouseholdData
from ._verified import (
    ASSESSED_KINDS,
    alive_at,
    inverse_propensity,
    positive_unlabeled,
    verified,
)

if TYPE_CHECKING:
    from ..simulation import SimulatedPopulation

__all__ = ["SOURCES", "BUNDLE_DEFAULT", "make"]

#: Where labels come from; see :func:`make`.
SOURCES = ("truth", "records", "verified", "pu", "ipw")
#: The default source for a bundle (chosen by ``experiments/label_sources.py``).
BUNDLE_DEFAULT = "pu"


def _month_index(start: dt.date, d: dt.date) -> int:
    return (d.year - start.year) * 12 + d.month - start.month


@overload
def make(
    data: SimulatedPopulation,
    as_of: str | dt.date,
    horizon_months: int = ...,
    *,
    source: str | None = ...,
    features: Any = ...,
    line: str = ...,
    random_state: int = ...,
) -> pl.DataFrame: ...


@overload
def make(
    data: HouseholdData,
    as_of: str | dt.date,
    horizon_months: int = ...,
    *,
    source: str | None = ...,
    features: Any = ...,
    line: str = ...,
    random_state: int = ...,
) -> pl.DataFrame | pd.DataFrame: ...


def make(
    data: SimulatedPopulation | HouseholdData,
    as_of: str | dt.date,
    horizon_months: int = 6,
    *,
    source: str | None = None,
    features: Any = None,
    line: str = "dibao",
    random_state: int = 0,
) -> pl.DataFrame | pd.DataFrame:
    """Label households alive at ``as_of`` by need in the ``horizon_months`` that follow.

    Parameters
    ----------
    data : SimulatedPopulation or HouseholdData
        A simulated population, or a bundle (a population's ``source`` other than
        ``"truth"`` reads only its bundle).
    as_of : date or str
        First day of a month; labels look only at the months from ``as_of`` up to
        ``as_of + horizon_months``.
    horizon_months : int, default=6
        Length of the label window.
    source : {"truth", "records", "verified", "pu", "ipw"}, optional
        Where the labels come from (default: ``"truth"`` for a simulated population,
        ``BUNDLE_DEFAULT`` for a bundle):

        - ``"truth"``: the simulator's ground truth (simulated data only).
        - ``"records"``: a proxy from the records alone: income need by the dibao rules
          (wages and employee pensions net of medical and education costs, per person,
          below the low-income line; null where there is no income evidence), tekun
          conditions, acute hardship (large medical bills or disaster losses), and the
          health, education and employment dimensions. Informal income leaves no record,
          so it marks far more households than are in need.
        - ``"verified"``: need as the status quo's casework assessed it inside the window
          (verification and review ``amount`` below ``line``; else a home visit's
          finding). Households never assessed are null: the labels are selective.
        - ``"pu"``: every household; the verified in need are positive, the others
          unlabeled and counted as 0, and ``weight`` corrects for how differently the
          status quo labels its recipients (reviewed on a calendar) and everyone else
          (labelled only when they apply): selected-at-random positive-unlabeled
          learning, with each group's labelling propensity estimated from the bundle
          (``propensity``). Recipients not assessed in the window get weight 0.
        - ``"ipw"``: the verified households, with ``weight`` one over their cross-fitted
          probability of being verified given ``features`` (stabilised).
    features : DataFrame, optional
        Features at ``as_of`` with a ``household_id`` column, for ``"pu"`` and ``"ipw"``
        (default: ``ni.features.build(bundle, as_of)``).
    line : {"dibao", "low_income"}, default="dibao"
        What an assessed income is compared with in the casework sources. Assessments
        miss part of informal income, so an income assessed just under the low-income
        line is often above it in truth; under the dibao standard, less often (in the
        default simulation 71% and 86% of such households are truly poor;
        ``experiments/label_sources.py``).
    random_state : int, default=0
        Seeds the propensity models of ``"pu"`` and ``"ipw"``.

    Returns
    -------
    polars.DataFrame or pandas.DataFrame
        Of the bundle's frame type (polars for a simulated population), one row per
        household alive at ``as_of`` (``"ipw"``:
        per verified household), with ``household_id, in_need``, ``label_source`` (what
        labelled the row: ``truth``, ``records``, the process of ``verified``, or
        ``verified_positive`` / ``verified_negative`` / ``unlabeled_recipient`` /
        ``unlabeled``; ``"pu"`` adds ``propensity``) and ``weight``
        (a training weight; null where a row has no label). ``"truth"`` adds
        ``need_<dimension>`` for each dimension and ``p_need``, the exact probability of
        ``in_need`` given the simulator's latent state in the month before ``as_of``;
        ``"records"`` adds ``need_income, need_health, need_education, need_employment,
        need_tekun, need_acute``.

    Raises
    ------
    TypeError
        If ``data`` is neither a SimulatedPopulation nor a HouseholdData.
    ValueError
        A bad ``as_of``, horizon or source; ``"truth"`` on a bundle; a bundle without the
        casework records that ``"verified"``, ``"pu"`` and ``"ipw"`` read.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=200, months=12, seed=0)
    >>> y = ni.labels.make(pop, as_of="2023-07-01", horizon_months=3)
    >>> {"household_id", "in_need", "p_need"} <= set(y.columns)
    True
    >>> bool(y["p_need"].is_between(0, 1).all())
    True

    What the bundle alone gives: casework outcomes, null where nobody assessed.

    >>> v = ni.labels.make(pop.bundle, as_of="2023-07-01", horizon_months=3, source="verified")
    >>> v.columns
    ['household_id', 'in_need', 'label_source', 'weight']
    >>> bool(v["in_need"].null_count() > v["in_need"].is_not_null().sum())
    True
    """
    as_of = as_date(as_of)
    if as_of.day != 1:
        raise ValueError(
            f"Got as_of={as_of.isoformat()!r}; labels are monthly, so as_of must be the "
            f"first day of a month, e.g. '{as_of.replace(day=1).isoformat()}'."
        )
    if not isinstance(horizon_months, int | np.integer) or horizon_months < 1:
        raise ValueError(
            f"Got horizon_months={horizon_months!r}; expected a positive number of months, e.g. 6."
        )
    # imported here: simulation imports data, labels must not import simulation at load
    from ..simulation import SimulatedPopulation

    pop = data if isinstance(data, SimulatedPopulation) else None
    if pop is None and not isinstance(data, HouseholdData):
        raise TypeError(
            f"Got data of type {type(data).__name__}; expected a SimulatedPopulation or "
            "HouseholdData."
        )
    bundle = data if isinstance(data, HouseholdData) else data.bundle
    if source is None:
        source = "truth" if pop is not None else BUNDLE_DEFAULT
    if source not in SOURCES:
        raise ValueError(f"Got source={source!r}; expected one of {list(SOURCES)!r}.")
    h = int(horizon_months)
    if source == "truth":
        if pop is None:
            raise ValueError(
                "Got source='truth' for a HouseholdData bundle; only a simulated population "
                "has true labels. Use one of 'records', 'verified', 'pu', 'ipw'."
            )
        return _from_truth(pop, as_of, h)
    if source == "records":
        out = _from_records(bundle, as_of, h).with_columns(
            label_source=pl.lit("records"),
            weight=pl.when(pl.col("in_need").is_not_null()).then(1.0),
        )
        return _as_frame_of(bundle, out)
    _require_casework(bundle, source)
    if source == "verified":
        return _as_frame_of(bundle, verified(bundle, as_of, h, line))
    if features is None:
        from ..features import build

        features = build(bundle, as_of)
    if source == "pu":
        out = positive_unlabeled(bundle, as_of, h, features, random_state, line)
        return _as_frame_of(bundle, out)
    out = inverse_propensity(bundle, as_of, h, features, random_state, line)
    return _as_frame_of(bundle, out)


def _require_casework(bundle: HouseholdData, source: str) -> None:
    """Refuse a casework source on a bundle without any casework outcome."""
    kinds = bundle.to_polars().records["kind"].cast(pl.String)
    have = set(kinds.filter(kinds.is_in([*ASSESSED_KINDS, "home_visit"])).unique().to_list())
    if not have & set(ASSESSED_KINDS):
        raise ValueError(
            f"Got source={source!r}, but the bundle's records hold no verification or review "
            f"(civil_affairs kinds {list(ASSESSED_KINDS)!r}, with the assessed income per "
            "capita in amount); labels from casework need them. Add them to the records, or "
            "use source='records' (needsid train --labels records; a proxy from wages, "
            "pensions and surveys that marks far more households than are in need)."
        )


def _from_truth(pop: SimulatedPopulation, as_of: dt.date, h: int) -> pl.DataFrame:
    a = _month_index(pop.start, as_of)
    if a < 1 or a + h > pop.months:
        last = months_after(pop.start, pop.months - h)
        raise ValueError(
            f"Got as_of={as_of.isoformat()!r} with horizon_months={h}; the simulation covers "
            f"{pop.start.isoformat()} to {pop.end.isoformat()}, so as_of must lie in "
            f"{months_after(pop.start, 1).isoformat()} .. {last.isoformat()}."
        )
    monthly = pop.truth.monthly
    before = months_after(pop.start, a - 1)
    window_end = months_after(pop.start, a + h)
    alive = alive_at(pop.bundle.to_polars(), as_of).select("household_id")
    state = monthly.filter(pl.col("month") == before).select("household_id", "state")
    base = alive.join(state, on="household_id", how="inner")
    need_cols = [c for c in monthly.columns if c.startswith("need_")]
    window = (
        monthly.filter((pl.col("month") >= as_of) & (pl.col("month") < window_end))
        .group_by("household_id")
        .agg(pl.col("in_need").any(), *[pl.col(c).any() for c in need_cols])
    )
    out = base.join(window, on="household_id", how="left").with_columns(
        *[pl.col(c).fill_null(False) for c in ["in_need", *need_cols]],
        label_source=pl.lit("truth"),
        weight=pl.lit(1.0),
    )
    params = out.select("household_id").join(pop.truth.households, on="household_id", how="left")
    p = _absorption_probability(out["state"].to_numpy(), params, h)
    out = out.with_columns(pl.Series("p_need", p)).drop("state").sort("household_id")
    return _as_frame_of(pop.bundle, out)


def _absorption_probability(state: np.ndarray, params: pl.DataFrame, h: int) -> np.ndarray:
    """P(the chain visits the poor state within ``h`` months | current state)."""
    n = len(state)
    T = np.empty((n, 3, 3))
    g = {k: params[k].to_numpy() for k in ("t01", "t02", "t10", "t12", "t20", "t21")}
    T[:, 0, 1], T[:, 0, 2] = g["t01"], g["t02"]
    T[:, 0, 0] = 1 - g["t01"] - g["t02"]
    T[:, 1, 0], T[:, 1, 2] = g["t10"], g["t12"]
    T[:, 1, 1] = 1 - g["t10"] - g["t12"]
    T[:, 2, 0], T[:, 2, 1] = g["t20"], g["t21"]
    T[:, 2, 2] = 1 - g["t20"] - g["t21"]
    q = np.zeros((n, 3))
    q[np.arange(n), state.astype(int)] = 1.0
    absorbed = np.zeros(n)
    for _ in range(h):
        q = np.einsum("ni,nij->nj", q, T)
        absorbed += q[:, 2]
        q[:, 2] = 0.0
    return np.clip(absorbed, 0.0, 1.0)


ACUTE_OOP = 10_000.0  # out-of-pocket medical cost in the window that counts as acute hardship
ACUTE_DISASTER = 10_000.0  # disaster loss in the window that counts as acute hardship
INCOME_EVIDENCE = ("wage", "pension", "income_survey")


def _from_records(bundle: HouseholdData, as_of: dt.date, h: int) -> pl.DataFrame:
    """Labels from the records alone, over ``[as_of, as_of + h months)``.

    Income need is only judged where there is income evidence (a wage, pension or
    income survey record in the window or the year before): a household with no records
    is *unknown*, not poor and not fine (``need_income`` is null there).
    """
    b = bundle.to_polars()
    end = months_after(as_of, h)
    year_before = months_after(as_of, -12)
    alive = alive_at(b, as_of).join(b.regions, on="region_id", how="left")
    m = b.members.filter(
        (pl.col("joined_on") < as_of)
        & (pl.col("left_on").is_null() | (pl.col("left_on") >= as_of))
    )
    # completed years, as needsid.features counts them (not the year difference)
    m = nw.from_native(m).with_columns(_age=age_at("birth_date", as_of)).to_native()
    age = pl.col("_age")
    cert = (
        b.records.filter(pl.col("kind").cast(pl.String) == "disability_certified")
        .filter(pl.col("event_date") < end)
        .group_by("person_id")
        .agg(pl.col("value").cast(pl.String).cast(pl.Int64).min().alias("grade"))
    )
    comp = (
        m.join(cert, on="person_id", how="left")
        .with_columns(
            able=((age >= 16) & (age < 60) & (pl.col("grade").fill_null(9) > 2)).cast(pl.Int64),
            # someone who needs care: a severe certified disability (grade 1 or 2), or 80+
            frail=((pl.col("grade").fill_null(9) <= 2) | (age >= 80)).cast(pl.Int64),
        )
        .group_by("household_id")
        .agg(pl.len().alias("size"), pl.col("able").sum(), pl.col("frail").sum())
    )
    rec = b.records.with_columns(pl.col("kind").cast(pl.String))
    win = rec.filter((pl.col("event_date") >= as_of) & (pl.col("event_date") < end))
    amount = pl.col("amount").fill_null(0.0)

    def total(kind: str, value: str | None = None) -> pl.Expr:
        cond = pl.col("kind") == kind
        if value is not None:
            cond &= pl.col("value").cast(pl.String) == value
        return pl.when(cond).then(amount).otherwise(0.0).sum()

    # pensions and surveys are recorded once a year: take the latest monthly pension per
    # pensioner and the latest survey (annual income per person) known by the window's end
    recent = rec.filter((pl.col("event_date") >= year_before) & (pl.col("event_date") < end))
    pensions = (
        recent.filter(
            (pl.col("kind") == "pension") & (pl.col("value").cast(pl.String) == "employee")
        )
        .sort("event_date")
        .group_by("household_id", "person_id")
        .agg(pl.col("amount").last())
        .group_by("household_id")
        .agg((pl.col("amount").sum() * h).alias("pensions"))
    )
    survey = (
        recent.filter(pl.col("kind") == "income_survey")
        .sort("event_date")
        .group_by("household_id")
        .agg((pl.col("amount").last() / 12).alias("survey_pc"))
    )
    agg = win.group_by("household_id").agg(
        total("wage").alias("wages"),
        total("medical_oop").alias("oop"),
        total("education_cost").alias("edu"),
        total("disaster_loss").alias("disaster"),
        (pl.col("kind") == "school_dropout").any().alias("dropout"),
        pl.when(pl.col("kind") == "unemployment_registered")
        .then(pl.col("event_date"))
        .max()
        .alias("unemp"),
        pl.when(pl.col("kind") == "employment_started")
        .then(pl.col("event_date"))
        .max()
        .alias("hired"),
    )
    evidence = (
        rec.filter(
            pl.col("kind").is_in(INCOME_EVIDENCE)
            & (pl.col("event_date") >= year_before)
            & (pl.col("event_date") < end)
        )
        .select("household_id")
        .unique()
        .with_columns(evidence=pl.lit(True))
    )
    unsafe = (
        rec.filter((pl.col("kind") == "housing_unsafe") & (pl.col("known_date") < end))
        .select("household_id")
        .unique()
        .with_columns(unsafe=pl.lit(True))
    )
    out = (
        alive.select("household_id", "dibao_standard", "low_income_multiplier")
        .join(comp, on="household_id", how="left")
        .join(unsafe, on="household_id", how="left")
        .join(agg, on="household_id", how="left")
        .join(pensions, on="household_id", how="left")
        .join(survey, on="household_id", how="left")
        .join(evidence, on="household_id", how="left")
        .with_columns(
            pl.col("size").fill_null(0),
            pl.col("able").fill_null(0),
            pl.col("frail").fill_null(0),
            pl.col("unsafe").fill_null(False),
            pl.col("evidence").fill_null(False),
            *[pl.col(c).fill_null(0.0) for c in ("wages", "pensions", "oop", "edu", "disaster")],
            pl.col("dropout").fill_null(False),
        )
    )
    size = pl.max_horizontal(pl.col("size"), 1)
    # the survey counts all income (farm, informal); records see wages and pensions only
    income_pc = pl.max_horizontal(
        (pl.col("wages") + pl.col("pensions")) / size / h, pl.col("survey_pc").fill_null(0.0)
    )
    net_pc = income_pc - (pl.col("oop") + pl.col("edu")) / size / h
    line = pl.col("dibao_standard") * pl.col("low_income_multiplier")
    out = out.with_columns(
        need_income=pl.when(pl.col("evidence")).then(net_pc < line).otherwise(None),
        need_health=pl.col("oop")
        > 0.1 * pl.max_horizontal(pl.col("wages") + pl.col("pensions"), 1.0),
        need_education=pl.col("dropout"),
        need_employment=pl.col("unemp").is_not_null()
        & (pl.col("hired").is_null() | (pl.col("hired") < pl.col("unemp"))),
        # care: a member who needs care and no one able to give it (working age, not
        # severely disabled), from ages and disability certificates
        need_care=(pl.col("frail") > 0) & (pl.col("able") == 0),
        # housing: the housing department's unsafe-housing record, known by the window's end
        need_housing=pl.col("unsafe"),
        # tekun: no one able to work and no income source on record (wages, pensions or a
        # surveyed income above the dibao standard)
        need_tekun=(pl.col("able") == 0)
        & (pl.col("size") > 0)
        & (pl.col("wages") == 0)
        & (pl.col("pensions") == 0)
        & (pl.col("survey_pc").fill_null(0.0) < pl.col("dibao_standard")),
        need_acute=(pl.col("oop") > ACUTE_OOP) | (pl.col("disaster") > ACUTE_DISASTER),
    )
    out = out.with_columns(
        in_need=pl.col("need_income").fill_null(False)
        | pl.col("need_tekun")
        | pl.col("need_acute")
    )
    cols = [
        "household_id",
        "in_need",
        "need_income",
        "need_health",
        "need_education",
        "need_care",
        "need_housing",
        "need_employment",
        "need_tekun",
        "need_acute",
    ]
    return out.select(cols).sort("household_id")


def _as_frame_of(bundle: HouseholdData, out: pl.DataFrame) -> pl.DataFrame | pd.DataFrame:
    native = bundle.households
    if isinstance(native, pl.DataFrame):
        return out
    return out.to_pandas()
