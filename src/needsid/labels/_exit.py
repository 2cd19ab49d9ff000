"""Exit labels: which current recipients are out of need for the whole window after ``as_of``.

The truth says it on simulated data; on a bundle, the county's own periodic reviews do,
for the recipients it reviewed in the window (the others are unlabeled).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import narwhals as nw
import numpy as np
import polars as pl

from .._dates import as_date, months_after
from ..data import HouseholdData
from ._labels import _as_frame_of, make
from ._verified import (
    LINES,
    PROPENSITY_CLIP,
    _cross_fitted,
    _feature_frame,
    alive_at,
    recipients,
)

__all__ = ["EXIT_SOURCES", "RECIPIENT_MONTHS", "make_exit"]

logger = logging.getLogger(__name__)

#: Where exit labels come from; see :func:`make_exit`.
EXIT_SOURCES = ("truth", "reviews")
#: A current recipient was paid dibao or tekun in this many months before ``as_of``: the
#: status quo's own caseload (``needsid.evaluate.status_quo``).
RECIPIENT_MONTHS = 1
#: Review decisions that keep a household on the programme (``record_kinds.yaml``).
KEEP_DECISIONS = ("continue", "reduce")
#: Reviewed and unreviewed recipients needed to model who gets reviewed.
MIN_PER_CLASS = 10
#: Features that reveal the review calendar: who can work (reviewed half-yearly, the
#: others yearly) and how long ago the last assessment was.
REVIEW_CALENDAR = ("n_labour_force", "months_since_assessment")


def make_exit(
    data: Any,
    as_of: dt.date | str,
    horizon_months: int = 6,
    *,
    source: str | None = None,
    features: Any = None,
    line: str = "low_income",
    reweight: bool = False,
    random_state: int = 0,
) -> Any:
    """Label each current recipient by whether it stays out of need for the whole window.

    A current recipient is a household alive at ``as_of`` that was paid dibao or tekun
    in the month before ``as_of`` (a payment known before ``as_of``): the caseload the
    status quo pays, as :func:`needsid.evaluate.status_quo` flags it. ``should_exit`` is
    True when the household is not in need in any month of
    ``[as_of, as_of + horizon_months)``.

    Parameters
    ----------
    data : SimulatedPopulation or HouseholdData
        A simulated population, or a bundle (a population with ``source="reviews"``
        reads only its bundle).
    as_of : date or str
        First day of a month. Recipients are read from records known before it.
    horizon_months : int, default=6
        Length of the label window.
    source : {"truth", "reviews"}, optional
        Default ``"truth"`` for a simulated population, ``"reviews"`` for a bundle.

        - ``"truth"``: the simulator's ``truth.monthly`` (research only); every
          recipient is labelled.
        - ``"reviews"``: the county's periodic reviews of its recipients (civil affairs
          ``review`` records: ``value`` continue / reduce / exit, ``amount`` the
          assessed income per person) with an event date in the window and a known
          date before its end. A recipient is ``should_exit`` when every review in the
          window found it out of need (the decision was ``exit``, or the assessed
          income is at or above ``line``); a single ``continue`` or ``reduce`` with an
          income below ``line`` makes it False, as a single month in need makes the
          truth False. Recipients without a review in the window are unlabeled
          (``should_exit`` null, ``weight`` 0); reviewed ones get ``weight`` 1 unless
          ``reweight``.
    features : DataFrame, optional
        Features at ``as_of`` with a ``household_id`` column, for the review propensity
        of ``reweight`` (default: ``ni.features.build(bundle, as_of)``).
    line : {"low_income", "dibao"}, default="low_income"
        The line an assessed income is compared with for ``"reviews"``: the low-income
        line (dibao standard x low-income multiplier), or the dibao standard.
        Assessments miss part of informal income, so an income assessed above the
        low-income line is rarely below it in truth; above the dibao standard it often
        is (``experiments/exit_model.py`` reports both against the truth).
    reweight : bool, default=False
        For ``"reviews"``: weight each reviewed recipient by one over its cross-fitted
        probability of being reviewed (see Notes), and add a ``propensity`` column.
        Off by default because, measured, it makes the exit model worse.
    random_state : int, default=0
        Seeds the review-propensity model of ``reweight``.

    Returns
    -------
    DataFrame
        Of the bundle's frame type, one row per current recipient, sorted by
        ``household_id``: ``household_id, should_exit, label_source, weight``.
        ``"truth"`` adds ``p_exit``, the exact probability of ``should_exit`` given
        the simulator's latent state in the month before ``as_of`` (the oracle).
        ``reweight`` adds ``propensity``, the cross-fitted probability that the
        recipient is reviewed in the window. For ``"reviews"``, ``label_source`` is
        ``review_exit``, ``review_above_line``, ``review_below_line`` or ``unreviewed``.

    Raises
    ------
    ValueError
        A bad ``as_of``, horizon, source or line; ``"truth"`` on a bundle; a window
        past the end of a simulation.
    TypeError
        ``data`` is neither a SimulatedPopulation nor a HouseholdData.

    Notes
    -----
    Review labels are selective. Reviews follow a calendar (yearly, half-yearly where
    a member can work), and every status-quo exit comes with a review. So within a
    6-month window nearly every recipient with a member able to work is reviewed, about
    half of the others are, and the status quo's own exits all are: the reviewed are
    tilted towards households that can work and towards the exits the status quo made.
    The calendar is observable (members able to work, months since the last
    assessment: ``REVIEW_CALENDAR``), so with ``reweight`` each labelled row is weighted
    by one over its cross-fitted probability of being reviewed given those features (all numeric
    features when ``features`` lacks them; clipped to ``PROPENSITY_CLIP`` and
    stabilised by the share reviewed), as :func:`needsid.labels.make`'s ``"ipw"``
    source does. The weights correct the calendar, not the status quo's exit
    decisions, which depend on need the features do not show: a status-quo exit out of
    the calendar gets a large weight. Measured, the weights do not help: in
    ``experiments/exit_model.py`` (100k households) an exit model trained with them
    has precision 0.62 at recall 0.5 against the truth, and 0.77 trained on the same
    rows unweighted. So the default weights every reviewed recipient 1.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=300, months=18, seed=0)
    >>> y = ni.labels.make_exit(pop, as_of="2024-01-01", horizon_months=3)
    >>> y.columns
    ['household_id', 'should_exit', 'label_source', 'weight', 'p_exit']
    >>> bool(y["should_exit"].null_count() == 0)
    True

    The county's own reviews: null where the window held no review.

    >>> r = ni.labels.make_exit(pop.bundle, as_of="2024-01-01", horizon_months=3)
    >>> r.columns
    ['household_id', 'should_exit', 'label_source', 'weight']
    >>> r["household_id"].to_list() == y["household_id"].to_list()
    True
    >>> bool((r.filter(r["should_exit"].is_null())["weight"] == 0).all())
    True
    """
    as_of = as_date(as_of)
    if as_of.day != 1:
        raise ValueError(
            f"Got as_of={as_of.isoformat()!r}; labels are monthly, so as_of must be the "
            f"first day of a month, e.g. '{as_of.replace(day=1).isoformat()}'."
        )
    if (
        isinstance(horizon_months, bool)
        or not isinstance(horizon_months, int | np.integer)
        or horizon_months < 1
    ):
        raise ValueError(
            f"Got horizon_months={horizon_months!r}; expected a positive number of months, e.g. 6."
        )
    from ..simulation import SimulatedPopulation  # at call time: simulation imports data

    simulated = isinstance(data, SimulatedPopulation)
    if not simulated and not isinstance(data, HouseholdData):
        raise TypeError(
            f"Got data of type {type(data).__name__}; expected a SimulatedPopulation or "
            "HouseholdData."
        )
    if source is None:
        source = "truth" if simulated else "reviews"
    if source not in EXIT_SOURCES:
        raise ValueError(f"Got source={source!r}; expected one of {list(EXIT_SOURCES)!r}.")
    if line not in LINES:
        raise ValueError(f"Got line={line!r}; expected one of {list(LINES)!r}.")
    h = int(horizon_months)
    bundle = data.bundle if simulated else data
    paid = _current_recipients(bundle, as_of)
    if source == "truth":
        if not simulated:
            raise ValueError(
                "Got source='truth' for a HouseholdData bundle; only a simulated population "
                "has true labels. Use source='reviews' (the county's own review outcomes)."
            )
        truth = make(data, as_of, h)
        truth = truth if isinstance(truth, pl.DataFrame) else pl.from_pandas(truth)
        out = paid.join(truth, on="household_id", how="inner").select(
            "household_id",
            should_exit=~pl.col("in_need"),
            label_source=pl.lit("truth"),
            weight=pl.lit(1.0),
            p_exit=1.0 - pl.col("p_need"),
        )
        return _as_frame_of(bundle, out.sort("household_id"))
    return _as_frame_of(
        bundle, _from_reviews(bundle, paid, as_of, h, features, line, reweight, random_state)
    )


def _current_recipients(bundle: HouseholdData, as_of: dt.date) -> pl.DataFrame:
    """Households alive at ``as_of`` and paid dibao or tekun in the month before it."""
    b = bundle.to_polars()
    paid = recipients(bundle, as_of, months=RECIPIENT_MONTHS)
    alive = alive_at(b, as_of).select(pl.col("household_id").cast(pl.String))
    return alive.filter(pl.col("household_id").is_in(paid.implode())).sort("household_id")


def _from_reviews(
    bundle: HouseholdData,
    paid: pl.DataFrame,
    as_of: dt.date,
    h: int,
    features: Any,
    line: str,
    reweight: bool,
    random_state: int,
) -> pl.DataFrame:
    b = bundle.to_polars()
    end = months_after(as_of, h)
    latest = b.records["event_date"].max()
    if latest is not None and latest < months_after(end, -1):
        logger.warning(
            "The records end on %s, before the label window [%s, %s) does: reviews of the "
            "missing months are not seen, so more recipients are unlabeled.",
            latest,
            as_of.isoformat(),
            end.isoformat(),
        )
    standard = pl.col("dibao_standard")
    line_expr = standard if line == "dibao" else standard * pl.col("low_income_multiplier")
    lines = (
        b.households.select(pl.col("household_id").cast(pl.String), "region_id")
        .join(b.regions, on="region_id", how="left")
        .select("household_id", line_expr.alias("line"))
    )
    reviews = (
        b.records.filter(
            (pl.col("kind").cast(pl.String) == "review")
            & (pl.col("event_date") >= as_of)
            & (pl.col("event_date") < end)
            & (pl.col("known_date") < end)  # what the county knows when the window closes
        )
        .select(
            pl.col("household_id").cast(pl.String),
            pl.col("value").cast(pl.String).alias("decision"),
            "amount",
        )
        .join(paid, on="household_id", how="semi")
        .join(lines, on="household_id", how="left")
        .with_columns(
            exit=pl.col("decision") == "exit",
            above=pl.col("amount").is_not_null() & (pl.col("amount") >= pl.col("line")),
        )
        .with_columns(out_of_need=pl.col("exit").fill_null(False) | pl.col("above"))
    )
    per = reviews.group_by("household_id").agg(
        pl.col("out_of_need").all().alias("should_exit"),
        pl.col("exit").fill_null(False).any().alias("any_exit"),
    )
    out = paid.join(per, on="household_id", how="left").with_columns(
        label_source=pl.when(pl.col("should_exit").is_null())
        .then(pl.lit("unreviewed"))
        .when(~pl.col("should_exit"))
        .then(pl.lit("review_below_line"))
        .when(pl.col("any_exit"))
        .then(pl.lit("review_exit"))
        .otherwise(pl.lit("review_above_line"))
    )
    reviewed = out["should_exit"].is_not_null().to_numpy()
    if not reweight:
        ones = pl.Series("weight", reviewed.astype(np.float64), dtype=pl.Float64)
        return out.select("household_id", "should_exit", "label_source", ones).sort("household_id")
    p = _review_propensity(bundle, out["household_id"], reviewed, as_of, features, random_state)
    weight = np.where(reviewed, reviewed.mean() / p, 0.0) if len(p) else np.zeros(0)
    return out.select(
        "household_id",
        "should_exit",
        "label_source",
        pl.Series("weight", weight, dtype=pl.Float64),
        pl.Series("propensity", p, dtype=pl.Float64),
    ).sort("household_id")


def _review_propensity(
    bundle: HouseholdData,
    ids: pl.Series,
    reviewed: np.ndarray,
    as_of: dt.date,
    features: Any,
    random_state: int,
) -> np.ndarray:
    """Cross-fitted P(reviewed in the window | features), clipped; the share if unmodelable."""
    n_in, n_out = int(reviewed.sum()), int((~reviewed).sum())
    if n_in < MIN_PER_CLASS or n_out < MIN_PER_CLASS:
        if len(reviewed):
            logger.warning(
                "%d reviewed and %d unreviewed recipients at %s, fewer than the %d of each "
                "that modelling who gets reviewed needs: labelled rows get weight 1.",
                n_in,
                n_out,
                as_of.isoformat(),
                MIN_PER_CLASS,
            )
        return np.full(len(reviewed), max(float(reviewed.mean()) if len(reviewed) else 1.0, 1e-3))
    if features is None:
        from ..features import build

        features = build(bundle, as_of)
    frame = nw.from_native(features, eager_only=True)
    if set(REVIEW_CALENDAR) <= set(frame.columns):
        features = frame.select("household_id", *REVIEW_CALENDAR).to_native()
    X = _feature_frame(features, ids)
    # one OpenMP thread: on a few thousand rows and two features, more threads only wait
    # at barriers (20x slower on a busy two-core machine). The import loads OpenMP first,
    # so that the limit applies to it.
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        p = _cross_fitted(X, reviewed, random_state)
    clipped: np.ndarray = np.clip(p, *PROPENSITY_CLIP)
    return clipped
