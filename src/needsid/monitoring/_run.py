"""The monthly run (动态监测): levels, alerts, drift and performance, month by month."""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl
from scipy import stats

from .._dates import as_date, months_after, months_before
from .._io import write_atomic
from .._progress import step
from ..data import HouseholdData
from ..evaluate import as_capacity
from ..evaluate._metrics import _capacity_count
from ..features import build as build_features
from ..features import describe as describe_features
from ..indicators import IndicatorRegister
from ..indicators._score import score_months
from ..labels._verified import verified
from ..rules import RuleSet, household_attributes
from ..rules import load as load_rules
from ._drift import psi, psi_and_change
from ._performance import estimated_precision, observed_precision

__all__ = [
    "ALERT_COLUMNS",
    "DRIFT_COLUMNS",
    "EXCESS_COLUMNS",
    "LEVEL_COLUMNS",
    "PERFORMANCE_COLUMNS",
    "REFERENCES",
    "MonitoringResult",
    "run",
]

#: Columns of :attr:`MonitoringResult.levels`.
LEVEL_COLUMNS = ("household_id", "month", "points", "level")
#: Columns of :attr:`MonitoringResult.alerts`.
ALERT_COLUMNS = ("household_id", "month", "source", "status", "evidence")
#: Columns of :attr:`MonitoringResult.drift`.
DRIFT_COLUMNS = (
    "month",
    "variable",
    "group",
    "psi",
    "critical",
    "bins",
    "n_reference",
    "n_current",
    "drifted",
)
#: Columns of :attr:`MonitoringResult.excess`.
EXCESS_COLUMNS = (
    "month",
    "source",
    "group",
    "window",
    "new",
    "baseline",
    "expected",
    "p_value",
    "marked",
)
#: Columns of :attr:`MonitoringResult.performance`.
PERFORMANCE_COLUMNS = (
    "month",
    "scored",
    "flagged",
    "estimated_precision",
    "estimated_low",
    "estimated_high",
    "verified",
    "estimated_precision_verified",
    "observed_precision",
    "observed_low",
    "observed_high",
)
#: The model's score as a drift variable.
SCORE = "score"
#: ``group`` of the drift rows over all households.
ALL = "all"
#: Drift references: the months just before, the months just before with the change a
#: year before taken out, the months before ``start``, or the same month(s) a year before.
REFERENCES = ("rolling", "calendar", "fixed", "seasonal")
#: Months in the seasonal cycle.
SEASON = 12
#: Months before the tested window whose new alerts are its baseline in the excess test.
EXCESS_BASELINE_MONTHS = 3
#: Windows of the excess test: the month's new alerts, and the month's and the month
#: before's together (a change that lasts builds up evidence over two months).
EXCESS_WINDOWS = (1, 2)
#: Groups with fewer new alerts than this in a test's window and baseline together
#: vote together for the typical change (:func:`_typical_change`).
_QUIET = 30
#: The tables :meth:`MonitoringResult.write` writes, each as ``<name>.parquet``.
TABLES = ("levels", "alerts", "drift", "performance", "excess")
#: Prefix of the group columns joined to a month's features.
GROUP_PREFIX = "group:"


@dataclass(frozen=True)
class MonitoringResult:
    """Tables of a monthly run, each a polars DataFrame.

    Parameters
    ----------
    levels : polars.DataFrame
        ``household_id, month, points, level`` per household and month (empty without
        an indicator register).
    alerts : polars.DataFrame
        ``household_id, month, source, status, evidence``: every alert that started
        (``new``), continued (``ongoing``) or stopped (``resolved``) in a month; source
        is ``indicator:<id>``, ``rule:<id>`` or ``model``.
    drift : polars.DataFrame
        ``month, variable, group, psi, critical, bins, n_reference, n_current, drifted``
        for every feature and the score, over all households (``group="all"``) and, for
        the score, per group (``"region_id=r01"``, ``"urban=True"``).
    performance : polars.DataFrame
        Per month: households scored and flagged, the estimated precision at the
        capacity with its interval, and where verification outcomes exist for flagged
        households, the observed precision beside the estimate over the same households.
    months : list of datetime.date
        The months evaluated.
    reference : list of datetime.date
        The months before ``start`` that were evaluated (the first month's drift
        reference, and all months' with ``reference="fixed"``).
    notes : list of str
        What the tables rest on (the capacity, the reference, how precision is
        estimated).
    excess : polars.DataFrame
        ``month, source, group, window, new, baseline, expected, p_value, marked``:
        whether a group's (``"region_id=G03"``) new alerts of a source rose in the
        month (``window=1``) or in the month and the one before (``window=2``) more
        than the typical group's, against the months before (see :func:`run`);
        ``marked`` at a false discovery rate ``alpha`` among the month's tests
        (Benjamini-Hochberg).

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.monitoring import run
    >>> pop = ni.simulate(n_households=400, months=18, seed=0)
    >>> result = run(pop.bundle, "2024-02-01", "2024-03-01")
    >>> [m.isoformat() for m in result.months]
    ['2024-02-01', '2024-03-01']
    >>> set(result.alerts["status"]) <= {"new", "ongoing", "resolved"}
    True
    """

    levels: pl.DataFrame
    alerts: pl.DataFrame
    drift: pl.DataFrame
    performance: pl.DataFrame
    months: list[dt.date]
    reference: list[dt.date]
    notes: list[str] = field(default_factory=list)
    excess: pl.DataFrame = field(default_factory=lambda: _excess_frame([]))

    def write(
        self, folder: str | os.PathLike[str], attrs: pl.DataFrame | None = None
    ) -> list[Path]:
        """Write the five tables as Parquet and the HTML page into ``folder``.

        Everything is rendered first, then each file is written to a temporary name and
        renamed: a failure leaves no half-written file. Same result, same bytes.

        Parameters
        ----------
        folder : str or os.PathLike
            Created if missing.
        attrs : polars.DataFrame, optional
            ``household_id, region_id``: splits the levels plot by region.

        Returns
        -------
        list of pathlib.Path
            ``levels.parquet, alerts.parquet, drift.parquet, performance.parquet,
            excess.parquet, monitoring.html``.

        Examples
        --------
        >>> import tempfile
        >>> import needsid as ni
        >>> from needsid.monitoring import run
        >>> pop = ni.simulate(n_households=300, months=15, seed=0)
        >>> result = run(pop.bundle, "2024-01-01", "2024-02-01", rules=None)
        >>> [p.name for p in result.write(tempfile.mkdtemp())]  # doctest: +NORMALIZE_WHITESPACE
        ['levels.parquet', 'alerts.parquet', 'drift.parquet', 'performance.parquet',
         'excess.parquet', 'monitoring.html']
        """
        from ._html import monitoring_html

        out = Path(folder)
        payloads: dict[str, bytes] = {}
        for name in TABLES:
            buf = io.BytesIO()
            getattr(self, name).write_parquet(buf, statistics=False)
            payloads[f"{name}.parquet"] = buf.getvalue()
        payloads["monitoring.html"] = monitoring_html(self, attrs).encode("utf-8")
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, data in payloads.items():
            write_atomic(out / name, data, mode=0o644)
            paths.append(out / name)
        return paths


def _month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    out, m = [], start
    while m <= end:
        out.append(m)
        m = months_after(m, 1)
    return out


def _check_month(value: dt.date | str, name: str) -> dt.date:
    try:
        d = as_date(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from None
    if d.day != 1:
        raise ValueError(
            f"Got {name}={d.isoformat()}; monitoring runs at the first of each month: "
            f"use {d.replace(day=1).isoformat()}."
        )
    return d


def _model_features(
    model: Any,
) -> tuple[list[str], Callable[[pd.DataFrame], npt.NDArray[np.float64]]]:
    """Return the features a model reads and a function from them to calibrated scores.

    A fitted needsid / scikit-learn classifier (``feature_names_in_``, ``predict_proba``)
    or a loaded MLflow pyfunc of needsid's flagging model.
    """
    unwrap = getattr(model, "unwrap_python_model", None)
    if unwrap is not None:
        inner = unwrap()
        names = [str(n) for n in getattr(inner, "features", [])]
        if not names:
            raise TypeError(
                "The MLflow model is not needsid's flagging model (it lists no features); "
                "pass one registered by needsid.tracking.train, or a fitted risk model."
            )

        def score_pyfunc(X: pd.DataFrame) -> npt.NDArray[np.float64]:
            out = model.predict(
                X.assign(household_id=[f"row{i}" for i in range(len(X))]),
                params={"reasons": False},
            )
            return np.asarray(out["score"], dtype=float)

        return names, score_pyfunc
    if not hasattr(model, "predict_proba") or not hasattr(model, "feature_names_in_"):
        raise TypeError(
            f"Got a model of type {type(model).__name__}; expected a fitted classifier "
            "with feature_names_in_ and predict_proba (e.g. needsid.models.GBMRiskModel "
            "fitted on a feature table), or a loaded MLflow flagging model."
        )

    def score_estimator(X: pd.DataFrame) -> npt.NDArray[np.float64]:
        return np.asarray(model.predict_proba(X)[:, 1], dtype=float)

    return [str(n) for n in model.feature_names_in_], score_estimator


@dataclass
class _Month:
    """What one month leaves for the tables: features, scores, active alerts."""

    features: pl.DataFrame
    scores: pl.DataFrame | None
    active: dict[tuple[str, str], str]
    levels: pl.DataFrame | None


def _rule_alerts(hits: Any) -> dict[tuple[str, str], str]:
    frame = hits.to_frame()
    if isinstance(frame, pd.DataFrame):
        frame = pl.from_pandas(frame)
    if frame.is_empty():
        return {}
    per = frame.group_by("household_id", "rule_id").agg(
        pl.col("evidence").cast(pl.String).drop_nulls().unique().sort().str.join("; ")
    )
    return {
        (str(h), f"rule:{r}"): str(e)
        for h, r, e in per.select("household_id", "rule_id", "evidence").iter_rows()
    }


def _indicator_alerts(scored: Any) -> tuple[dict[tuple[str, str], str], pl.DataFrame]:
    points = scored.points
    levels = scored.levels
    active: dict[tuple[str, str], str] = {}
    # warnings only: an indicator firing now with points for need (not an offset)
    firing = points.filter((pl.col("months_since") == 0) & (pl.col("points") > 0))
    # few distinct points: each is formatted once
    text = {p: f"{p:g} points" for p in firing["points"].unique().to_list()}
    for h, i, p in zip(
        firing["household_id"].cast(pl.String).to_list(),
        firing["indicator_id"].cast(pl.String).to_list(),
        firing["points"].to_list(),
        strict=True,
    ):
        active[(h, f"indicator:{i}")] = text[p]
    lv = levels.select(
        pl.col("household_id").cast(pl.String),
        pl.col("total").cast(pl.Float64).alias("points"),
        pl.col("level").cast(pl.String),
    )
    return active, lv


def _model_alerts(scores: pl.DataFrame, capacity: float) -> dict[tuple[str, str], str]:
    k = _capacity_count(capacity, scores.height)
    top = scores.sort(["score", "household_id"], descending=[True, False]).head(k)
    return {
        (str(h), "model"): f"score {s:.3f}, rank {rank}"
        for rank, (h, s) in enumerate(top.select("household_id", "score").iter_rows(), 1)
    }


def _transitions(
    month: dt.date,
    before: dict[tuple[str, str], str],
    now: dict[tuple[str, str], str],
    ongoing: bool,
) -> list[tuple[str, dt.date, str, str, str]]:
    rows = [
        (h, month, src, "ongoing" if (h, src) in before else "new", ev)
        for (h, src), ev in now.items()
        if ongoing or (h, src) not in before
    ]
    rows += [
        (h, month, src, "resolved", ev) for (h, src), ev in before.items() if (h, src) not in now
    ]
    return rows


def _new_alert_counts(
    month: dt.date,
    new: Sequence[tuple[str, str]],
    features: pl.DataFrame,
    groups: Sequence[str],
) -> list[tuple[dt.date, str, str, str, int]]:
    """Count the month's new alerts per source and group value (``"region_id=G03"``)."""
    if not new or not groups:
        return []
    frame = pl.DataFrame(
        {"household_id": [h for h, _ in new], "source": [src for _, src in new]},
        schema={"household_id": pl.String, "source": pl.String},
    ).join(
        features.select(
            pl.col("household_id").cast(pl.String), *[GROUP_PREFIX + g for g in groups]
        ),
        on="household_id",
        how="left",
    )
    rows = []
    for g in groups:
        col = GROUP_PREFIX + g
        counts = frame.filter(pl.col(col).is_not_null()).group_by("source", col).len()
        rows += [(month, src, g, f"{g}={value}", n) for src, value, n in counts.iter_rows()]
    return rows


def _excess_frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "month": pl.Date,
            "source": pl.String,
            "group": pl.String,
            "window": pl.Int64,
            "new": pl.Int64,
            "baseline": pl.Int64,
            "expected": pl.Float64,
            "p_value": pl.Float64,
            "marked": pl.Boolean,
        },
        orient="row",
    )


def _typical_change(n: npt.NDArray[np.int64], b: npt.NDArray[np.int64], w: int, k: int) -> float:
    """Return the typical group's ratio of its window's monthly rate to its baseline's.

    A median over the groups, each group one vote, of the ratio of the two monthly
    rates (each smoothed by half an alert per month). The quiet groups (fewer than
    :data:`_QUIET` alerts in the window and the baseline together, a rural region's
    one alert a month) vote together: their ratio is taken from their pooled counts
    and carries as many votes as there are of them. Their own ratios scatter so much
    that, with a shock in a third of the groups, a plain median lands in their upper
    tail; pooled, they still outvote a minority of changed groups, and a change in most
    of them is the typical change. When every group is quiet (a small county), the pool
    is the only vote and its ratio the province's: a shock in most of the alerts moves
    it, and is not marked.
    """

    def ratio(n: Any, b: Any) -> Any:
        return ((n + w / 2) / w) / ((b + k / 2) / k)

    quiet = (n + b) < _QUIET
    ratios = ratio(n[~quiet], b[~quiet])
    votes = np.ones(ratios.size)
    if quiet.any():
        ratios = np.append(ratios, ratio(n[quiet].sum(), b[quiet].sum()))
        votes = np.append(votes, quiet.sum())
    order = np.argsort(ratios, kind="stable")
    ratios, cum = ratios[order], np.cumsum(votes[order])
    half = cum[-1] / 2
    at = int(np.searchsorted(cum, half))
    if cum[at] == half and at + 1 < ratios.size:  # an even split: between the two
        return float((ratios[at] + ratios[at + 1]) / 2)
    return float(ratios[at])


def _excess(
    counts: list[tuple[dt.date, str, str, str, int]], months: Sequence[dt.date], alpha: float
) -> pl.DataFrame:
    """Test each group's new alerts of each source against its own months before.

    For a source, a kind of group (regions) and a window of ``w`` months ending with
    the month (:data:`EXCESS_WINDOWS`), group ``g``'s new alerts in the window ``n``
    are compared with its new alerts ``b`` in the ``k`` months before the window
    (:data:`EXCESS_BASELINE_MONTHS`, fewer at the start). Under "it changed like the
    typical group", ``n`` is a binomial split of ``n + b`` with probability
    ``w rho / (k + w rho)``: the exact conditional test of two Poisson rates, scaled
    by ``rho``, the median over the groups of the ratio of the window's monthly rate
    to the baseline's, the quiet groups voting as one pool (:func:`_typical_change`).
    A province-wide change (a calendar month, a new rule) moves the
    median with every group and is not marked; a shock in fewer than half of the
    groups leaves the median to the others and raises theirs. Only an excess is marked
    (one-sided), at a false discovery rate ``alpha`` among all of the month's tests,
    both windows together (Benjamini-Hochberg: when nothing changed, the chance of any
    mark in the month is at most ``alpha`` too); a deficit shows as a large
    ``p_value``.
    """
    frame = pl.DataFrame(
        counts,
        schema={
            "month": pl.Date,
            "source": pl.String,
            "family": pl.String,
            "group": pl.String,
            "new": pl.Int64,
        },
        orient="row",
    )
    keys = ["source", "family", "group"]
    out = []
    for i, m in enumerate(months):
        parts = []
        for w in EXCESS_WINDOWS:
            if i < w:  # no month before the window to compare with
                continue
            window = months[i - w + 1 : i + 1]
            base_months = months[max(0, i - w + 1 - EXCESS_BASELINE_MONTHS) : i - w + 1]
            k = len(base_months)
            now = (
                frame.filter(pl.col("month").is_in(window)).group_by(keys).agg(pl.col("new").sum())
            )
            base = (
                frame.filter(pl.col("month").is_in(base_months))
                .group_by(keys)
                .agg(pl.col("new").sum().alias("baseline"))
            )
            t = (
                now.join(base, on=keys, how="full", coalesce=True)
                .with_columns(pl.col("new", "baseline").fill_null(0))
                .sort(keys)
            )
            # one typical change per source and kind of group
            parts += [
                part.with_columns(
                    rho=_typical_change(part["new"].to_numpy(), part["baseline"].to_numpy(), w, k),
                    window=w,
                    k=k,
                )
                for part in t.partition_by("source", "family", maintain_order=True)
            ]
        if not parts:
            continue
        t = pl.concat(parts)
        if t.is_empty():
            continue
        n, b = t["new"].to_numpy(), t["baseline"].to_numpy()
        shift = t["window"].to_numpy() * t["rho"].to_numpy()
        k_ = t["k"].to_numpy()
        p = stats.binom.sf(n - 1, n + b, shift / (k_ + shift))
        expected = b * shift / k_
        marked = stats.false_discovery_control(p, method="bh") < alpha
        out += [
            (m, src, g, int(w), int(nn), int(bb), float(e), float(pv), bool(mk))
            for src, g, w, nn, bb, e, pv, mk in zip(
                t["source"], t["group"], t["window"], n, b, expected, p, marked, strict=True
            )
        ]
    return _excess_frame(out)


def _drift_rows(
    month: dt.date,
    reference: pl.DataFrame,
    current: pl.DataFrame,
    variables: Sequence[str],
    groups: Sequence[str],
    bins: int,
    alpha: float,
    min_psi: float,
    year_before: tuple[pl.DataFrame, pl.DataFrame] | None = None,
) -> list[tuple[Any, ...]]:
    """Return one month's PSI rows.

    With ``year_before`` (the reference and current month a year before), the row's
    index is of the month's change against the change a year before, and a change is
    marked only if the month also differs from its reference: a month as calm as its
    reference is not drift because the same month a year before moved (an echo of a
    one-off change then, e.g. a report's first year).
    """
    frames = [reference, current, *(year_before or ())]

    def row(var: str, group: str, samples: list[npt.NDArray[Any]]) -> tuple[Any, ...]:
        if len(samples) == 4:
            moved, r = psi_and_change(*samples, bins=bins, alpha=alpha)
            drifted = r.drifted and moved.drifted
        else:
            r = psi(samples[0], samples[1], bins=bins, alpha=alpha)
            drifted = r.drifted
        drifted = drifted and r.psi >= min_psi
        return (month, var, group, r.psi, r.critical, r.bins, r.n_reference, r.n_current, drifted)

    rows = [row(v, ALL, [f[v].to_numpy() for f in frames]) for v in variables]
    if SCORE in current.columns:
        for g in groups:
            col = GROUP_PREFIX + g
            # split the two columns read, not the whole feature table, by group
            split = [
                {k[0]: part[SCORE].to_numpy() for k, part in f.select(col, SCORE).group_by(col)}
                for f in frames
            ]
            for value in sorted(set(current[col]) | set(reference[col]), key=str):
                if value is None:  # no group known: in none of the groups
                    continue
                samples = [by.get(value, np.empty(0)) for by in split]
                if all(a.size for a in samples):
                    rows.append(row(SCORE, f"{g}={value}", samples))
    return rows


class _Spill:
    """Months' tables set aside in a folder until a later month reads them.

    Parquet keeps the values exactly; memory holds only the months in use.
    """

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.dates: set[dt.date] = set()

    def _path(self, d: dt.date) -> Path:
        return self.folder / f"{d.isoformat()}.parquet"

    def put(self, d: dt.date, frame: pl.DataFrame) -> None:
        frame.write_parquet(self._path(d), compression="lz4", statistics=False)
        self.dates.add(d)

    def take(self, d: dt.date) -> pl.DataFrame | None:
        return pl.read_parquet(self._path(d)) if d in self.dates else None

    def drop_before(self, d: dt.date) -> None:
        for old in [x for x in self.dates if x < d]:
            self._path(old).unlink()
            self.dates.discard(old)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


#: A month belongs to the county's monthly feeds when it holds at least this share of the
#: median monthly count of records over the year before ``start``.
FEED_SHARE = 0.1


def _feeds_start(b: HouseholdData, before: dt.date) -> dt.date | None:
    """Return the first month of the unbroken monthly feeds that run up to ``before``.

    Walking back from the month before ``before``, a month counts while the records the
    county learnt in it reach :data:`FEED_SHARE` of the median month of the year before
    ``before``: older registrations (a disability recorded in 2015) are not a feed.
    None when the year before ``before`` holds no records.
    """
    counts = dict(
        b.records.select(pl.col("known_date").dt.truncate("1mo").alias("m"))
        .group_by("m")
        .len()
        .iter_rows()
    )
    year = [counts.get(months_before(before, k), 0) for k in range(1, SEASON + 1)]
    floor = FEED_SHARE * float(np.median(year))
    if floor == 0:
        return None
    m = months_before(before, 1)
    while counts.get(months_before(m, 1), 0) >= floor:
        m = months_before(m, 1)
    return m


def run(
    bundle: HouseholdData,
    start: dt.date | str,
    end: dt.date | str,
    *,
    model: Any = None,
    register: IndicatorRegister | None = None,
    rules: RuleSet | str | None = "default",
    capacity: float = 0.05,
    reference_months: int = 1,
    reference: str = "rolling",
    ongoing: bool = False,
    groups: Sequence[str] = ("region_id", "urban"),
    spec: Any = None,
    bins: int = 10,
    alpha: float = 0.01,
    min_psi: float = 0.0,
    verification_months: int = 1,
    line: str = "dibao",
) -> MonitoringResult:
    """Evaluate every month from ``start`` to ``end``: levels, alerts, drift, precision.

    Each month ``m`` (the first of a month) reads only the records known before ``m``.
    The ``reference_months`` months before ``start`` are evaluated too: the first
    month's drift reference, and the "month before" against which its alerts are new,
    ongoing or resolved.

    Parameters
    ----------
    bundle : HouseholdData
        The records (pandas or polars tables).
    start, end : date or str
        First and last month, each the first of a month; ``end`` not before ``start``.
    model : fitted classifier or mlflow.pyfunc.PyFuncModel, optional
        Scores each month for the ``model`` alerts, the score's drift and the precision
        estimate: a fitted needsid risk model (``feature_names_in_``, calibrated
        ``predict_proba``) or needsid's flagging model loaded from MLflow.
    register : IndicatorRegister, optional
        Points and warning levels (``needsid.indicators.load()``); without one,
        ``levels`` is empty and there are no indicator alerts.
    rules : RuleSet, str or None, default="default"
        Rule set for the ``rule`` alerts (a path or ``"default"``); None for none.
    capacity : float or int, default=0.05
        Households flagged by the model each month: a share or a count.
    reference_months : int, default=1
        Months pooled as the drift reference.
    reference : {"rolling", "calendar", "fixed", "seasonal"}, default="rolling"
        ``"rolling"``: each month is compared with the ``reference_months`` months just
        before it, so drift marks a change, not a slow trend that a population has
        anyway (incomes rise, records accumulate); ``"calendar"``: the same, with the
        change between the same calendar months a year before taken out
        (:func:`psi_change`), so that what every year brings (a short February's
        wages, a yearly survey) is not drift; a test is marked only if the month also
        differs from its reference (the rolling test), so that a one-off change a year
        before (a yearly report's first year) does not echo as drift a year later; the
        row's ``psi`` and ``critical`` are the change test's; it needs records from 13
        months before ``start`` (``reference_months + 12``), and sets the features of
        the months a year before aside on disk (a temporary folder) from when the
        register first builds them; ``"fixed"``: every month is compared
        with the ``reference_months`` months before ``start``; ``"seasonal"``: with the
        same month a year before (and the ``reference_months - 1`` before that), for
        data that arrive on a yearly calendar (surveys, school terms).
    ongoing : bool, default=False
        Also write a row per month for every alert still active (``ongoing``). By
        default only the changes are written: an alert is ongoing from its ``new``
        month to its ``resolved`` month (millions of rows on a province otherwise).
    groups : sequence of str, default=("region_id", "urban")
        Household attributes (``needsid.rules.household_attributes``) the score's drift
        is also computed within, and whose new alerts are tested (``excess``): from the
        second month on, a group's new alerts of a source in the month, and from the
        third in the month and the one before together, against its own new alerts in
        the ``3`` months before, scaled by the typical group's change (the median ratio
        over the groups; an exact binomial test of two Poisson rates, one-sided, at a
        false discovery rate ``alpha`` among the month's tests). A province-wide change
        moves the median too; a shock in fewer than half of the regions raises theirs,
        in the alerts it causes (unemployment registrations, say), before it moves the
        score's distribution.
    spec : FeatureSpec, path, dict or None
        The features (default: the packaged spec).
    bins : int, default=10
        Most quantile bins of the PSI.
    alpha : float, default=0.01
        False-alarm rate of each drift test (see :func:`psi_critical`), and of each
        month's excess tests together.
    min_psi : float, default=0.0
        A change must also reach this PSI to be marked (practical, not only
        statistical, significance: on 100,000 households a PSI of 0.001 is already
        beyond the critical value). 0 marks every statistically significant change.
    verification_months : int, default=1
        Months after ``m`` in which a flagged household's verification, review or home
        visit counts as its observed outcome.
    line : {"dibao", "low_income"}, default="dibao"
        The line an assessed income is compared with for the observed outcome.

    Returns
    -------
    MonitoringResult
        The five tables and the months.

    Raises
    ------
    ValueError
        Before any month runs: ``end`` before ``start``, a month not the first of a
        month, a bad capacity, a group that is not a household attribute, or a model
        that reads features the spec does not build (they are named).
    TypeError
        If ``model`` is neither a fitted classifier nor a needsid flagging model.

    Notes
    -----
    On the simulator (``experiments/monitoring.py``, 100,000 households, no shock),
    ``reference="rolling"`` marks far more than ``alpha`` of the tests: the simulated
    feeds arrive on a calendar and at that size the critical value is tiny.
    ``reference="calendar"`` removes the calendar; ``min_psi`` removes what is
    significant but small. The experiment's README table gives both. What the calendar
    test still marks there is mostly the records' first year (the year before is the
    first with a survey to replace or two bank reports to compare).

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.monitoring import run
    >>> pop = ni.simulate(n_households=400, months=18, seed=0)
    >>> result = run(pop.bundle, "2024-02-01", "2024-04-01", rules=None)
    >>> result.drift.columns[:4]
    ['month', 'variable', 'group', 'psi']
    >>> run(pop.bundle, "2024-04-01", "2024-02-01")
    Traceback (most recent call last):
    ...
    ValueError: Got end=2024-02-01 before start=2024-04-01; expected end >= start.
    """
    first = _check_month(start, "start")
    last = _check_month(end, "end")
    if last < first:
        raise ValueError(
            f"Got end={last.isoformat()} before start={first.isoformat()}; expected end >= start."
        )
    as_capacity(capacity)
    if not min_psi >= 0:
        raise ValueError(f"Got min_psi={min_psi!r}; expected a PSI >= 0.")
    if reference not in REFERENCES:
        raise ValueError(f"Got reference={reference!r}; expected one of {list(REFERENCES)!r}.")
    if not isinstance(reference_months, int) or reference_months < 1:
        raise ValueError(
            f"Got reference_months={reference_months!r}; expected a whole number >= 1."
        )
    if not isinstance(verification_months, int) or verification_months < 1:
        raise ValueError(
            f"Got verification_months={verification_months!r}; expected a whole number >= 1."
        )
    known_groups = ("region_id", "urban", "minority", "head_sex")
    unknown = [g for g in groups if g not in known_groups]
    if unknown:
        raise ValueError(f"Got groups {unknown!r}; expected some of {list(known_groups)!r}.")
    names = describe_features(spec)["name"].tolist()
    scorer: Callable[[pd.DataFrame], npt.NDArray[np.float64]] | None = None
    model_features: list[str] = []
    if model is not None:
        model_features, scorer = _model_features(model)
        missing = [f for f in model_features if f not in names]
        if missing:
            raise ValueError(
                f"The model reads {len(missing)} features the feature spec does not build, "
                f"e.g. {missing[:5]!r}: monitor with the spec the model was trained on."
            )
    rule_set = load_rules(rules) if isinstance(rules, str) else rules
    register_depth = (
        max(1, *(i.decay_months for i in register.indicators)) if register is not None else 0
    )

    b = bundle.to_polars()
    months = _month_starts(first, last)
    ref_dates = [months_before(first, k) for k in range(reference_months, 0, -1)]
    if reference == "calendar":
        earliest = months_before(first, SEASON + reference_months)
        known = _feeds_start(b, first)
        # features at a month read the records before it: the feeds' first month is
        # seen from the month after
        if known is None or earliest <= known:
            since = (
                "no records in the year before start"
                if known is None
                else f"monthly records from {known.isoformat()}"
            )
            fix = ""
            if known is not None:
                later = months_after(known, SEASON + reference_months + 1)
                fix = f"start at {later.isoformat()} or later, "
            raise ValueError(
                f"Got reference='calendar' with start={first.isoformat()}: it compares "
                f"each month's change with the change a year before, from "
                f"{earliest.isoformat()}, but the bundle has {since}; {fix}or use "
                "reference='rolling'."
            )

    default_rules = load_rules("default")
    same_rules = rule_set is not None and (rule_set.id, rule_set.version) == (
        default_rules.id,
        default_rules.version,
    )
    # features at the month being evaluated, shared with the register (which also reads
    # the months before it: those it builds itself, each once, through `seen`)
    current: dict[dt.date, tuple[pl.DataFrame, pl.DataFrame]] = {}
    seen: dict[dt.date, Any] = {}
    # the months a year before that the calendar and seasonal references read: the
    # register builds most of them first (the year before start), so they are described
    # then and set aside on disk until their month, not built and scored twice
    set_aside: set[dt.date] = set()
    if reference == "calendar":
        set_aside = {
            months_before(m, SEASON + k) for m in months for k in range(reference_months + 1)
        }
    elif reference == "seasonal":
        set_aside = {months_before(m, SEASON + k) for m in months for k in range(reference_months)}
    spill = _Spill(tempfile.mkdtemp(prefix="needsid-monitoring-")) if set_aside else None

    def inputs(d: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
        if d in current:
            return current[d]
        hits = default_rules.evaluate(b, d, suppress=False).to_frame()
        feats = build_features(b, d)
        if spill is not None and d in set_aside and spec is None:
            spill.put(d, described(d, feats))
        return feats, hits

    def aside(d: dt.date) -> pl.DataFrame:
        """Return the described features at ``d``, from disk if they were set aside."""
        kept = spill.take(d) if spill is not None else None
        return described(d) if kept is None else kept

    def described(m: dt.date, feats: pl.DataFrame | None = None) -> pl.DataFrame:
        """Features at ``m`` with the groups and, with a model, the score."""
        feats = build_features(b, m, spec) if feats is None else feats
        attrs = household_attributes(b, m)
        # prefixed: a feature may share an attribute's name (e.g. urban)
        feats = feats.join(
            attrs.select("household_id", *[pl.col(g).alias(GROUP_PREFIX + g) for g in groups]),
            on="household_id",
            how="left",
        )
        if scorer is not None:
            feats = feats.with_columns(
                pl.Series(SCORE, scorer(feats.select(model_features).to_pandas()))
            )
        return feats

    def evaluate(m: dt.date) -> _Month:
        raw = build_features(b, m, spec)
        hits = rule_set.evaluate(b, m, suppress=False) if rule_set is not None else None
        current.clear()
        if register is not None and spec is None:
            default_hits = (
                hits.to_frame()
                if same_rules and hits is not None
                else default_rules.evaluate(b, m, suppress=False).to_frame()
            )
            current[m] = (raw, default_hits)
        feats = described(m, raw)
        if spill is not None and m in set_aside:
            spill.put(m, feats)
        active: dict[tuple[str, str], str] = {}
        scores = None
        if scorer is not None:
            scores = feats.select("household_id", SCORE)
            active |= _model_alerts(scores, capacity)
        if hits is not None:
            active |= _rule_alerts(hits)
        levels = None
        if register is not None:
            scored = score_months(register, b, [m], inputs if spec is None else None, seen=seen)
            ind, levels = _indicator_alerts(scored)
            active |= ind
            for d in [d for d in seen if d <= months_before(m, register_depth)]:
                del seen[d]  # no later month reads that far back
        return _Month(feats, scores, active, levels)

    try:
        step(f"monitoring: the reference ({len(ref_dates)} months)")
        window = [described(m) for m in ref_dates[:-1]]
        prior = evaluate(ref_dates[-1])
        window.append(prior.features)
        fixed = pl.concat(window, how="vertical_relaxed") if reference == "fixed" else None
        variables = [*names, *([SCORE] if scorer is not None else [])]

        levels, alerts, drift, perf = [], [], [], []
        new_counts: list[tuple[dt.date, str, str, str, int]] = []
        before = prior.active
        # calendar: the months a year before, each described once (m - 12 is next m - 13)
        year: dict[dt.date, pl.DataFrame] = {}

        def year_before(m: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
            wanted = [months_before(m, SEASON + k) for k in range(reference_months, -1, -1)]
            for d in [d for d in year if d not in wanted]:
                del year[d]
            for d in wanted:
                if d not in year:
                    year[d] = aside(d)
            ref = pl.concat([year[d] for d in wanted[:-1]], how="vertical_relaxed")
            return ref, year[wanted[-1]]

        for m in months:
            step(f"monitoring {m.isoformat()}")
            now = evaluate(m)
            alerts += _transitions(m, before, now.active, ongoing)
            new_counts += _new_alert_counts(
                m, [k for k in now.active if k not in before], now.features, groups
            )
            before = now.active
            if now.levels is not None:
                levels.append(now.levels.with_columns(pl.lit(m).alias("month")))
            if reference == "seasonal":
                same_months = [months_before(m, SEASON + k) for k in range(reference_months)]
                ref_frame = pl.concat([aside(d) for d in same_months], how="vertical_relaxed")
            else:
                ref_frame = (
                    fixed if fixed is not None else pl.concat(window, how="vertical_relaxed")
                )
            drift += _drift_rows(
                m,
                ref_frame,
                now.features,
                variables,
                groups,
                bins,
                alpha,
                min_psi,
                year_before(m) if reference == "calendar" else None,
            )
            window = [*window[1:], now.features]
            if spill is not None:
                spill.drop_before(months_before(m, SEASON + reference_months - 1))
            if now.scores is not None:
                perf.append(
                    _performance_row(b, m, now.scores, capacity, verification_months, line)
                )
    finally:
        if spill is not None:
            spill.close()

    return MonitoringResult(
        levels=_levels_frame(levels),
        alerts=pl.DataFrame(
            alerts,
            schema={
                "household_id": pl.String,
                "month": pl.Date,
                "source": pl.String,
                "status": pl.String,
                "evidence": pl.String,
            },
            orient="row",
        ).sort("month", "household_id", "source"),
        drift=pl.DataFrame(
            drift,
            schema={
                "month": pl.Date,
                "variable": pl.String,
                "group": pl.String,
                "psi": pl.Float64,
                "critical": pl.Float64,
                "bins": pl.Int64,
                "n_reference": pl.Int64,
                "n_current": pl.Int64,
                "drifted": pl.Boolean,
            },
            orient="row",
        ),
        performance=pl.DataFrame(perf, schema=_PERF_SCHEMA, orient="row"),
        excess=_excess(new_counts, months, alpha),
        months=months,
        reference=ref_dates,
        notes=[
            f"model alerts: the top {capacity} by score each month",
            (
                "drift reference: " + ", ".join(d.isoformat() for d in ref_dates)
                if reference == "fixed"
                else f"drift reference ({reference}): {reference_months} month(s) per month"
                + (
                    ", the change against the same months a year before"
                    if reference == "calendar"
                    else ""
                )
            ),
            "estimated precision: the mean calibrated score among the flagged, with a "
            "Poisson-binomial interval (it assumes the scores are calibrated)",
            "observed precision: among the flagged verified, reviewed or visited within "
            f"{verification_months} month(s); the estimate over those same households "
            "is estimated_precision_verified, since only some of the flagged are verified",
            "excess: each group's new alerts of each source in the month (and in the "
            f"month and the one before) against its own in the {EXCESS_BASELINE_MONTHS} "
            "month(s) before, scaled by the median group's change (exact binomial test, "
            f"one-sided, false discovery rate {alpha} in each month)",
        ],
    )


_PERF_SCHEMA = {
    "month": pl.Date,
    "scored": pl.Int64,
    "flagged": pl.Int64,
    "estimated_precision": pl.Float64,
    "estimated_low": pl.Float64,
    "estimated_high": pl.Float64,
    "verified": pl.Int64,
    "estimated_precision_verified": pl.Float64,
    "observed_precision": pl.Float64,
    "observed_low": pl.Float64,
    "observed_high": pl.Float64,
}


def _levels_frame(levels: list[pl.DataFrame]) -> pl.DataFrame:
    if not levels:
        return pl.DataFrame(
            schema={
                "household_id": pl.String,
                "month": pl.Date,
                "points": pl.Float64,
                "level": pl.String,
            }
        )
    return pl.concat(levels).select(LEVEL_COLUMNS).sort("month", "household_id")


def _performance_row(
    b: HouseholdData,
    m: dt.date,
    scores: pl.DataFrame,
    capacity: float,
    verification_months: int,
    line: str,
) -> tuple[Any, ...]:
    est = estimated_precision(scores["score"].to_numpy(), capacity)
    top = scores.sort(["score", "household_id"], descending=[True, False]).head(est.n)
    outcome = verified(b, m, verification_months, line=line)
    joined = top.join(outcome.select("household_id", "in_need"), on="household_id", how="left")
    known = joined.filter(pl.col("in_need").is_not_null())
    obs = observed_precision(known["in_need"].to_list())
    verified_scores = known["score"].to_numpy()
    est_verified = float(verified_scores.mean()) if verified_scores.size else math.nan
    return (
        m,
        scores.height,
        est.n,
        est.precision,
        est.low,
        est.high,
        obs.n,
        est_verified,
        obs.precision,
        obs.low,
        obs.high,
    )
