"""Labels from the status quo's casework: verifications, reviews and home visits.

These are the outcome labels a county really holds, and they are selective: only the
households the status quo verified, reviewed or visited have one. ``verified`` keeps that
selection (the others are null); ``pu`` and ``ipw`` use every household, as
positive-unlabeled data and as the verified re-weighted by a model of who gets verified.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import numpy as np
import polars as pl

from .._dates import months_after
from ..data import HouseholdData

logger = logging.getLogger(__name__)

#: Lines an assessed income can be compared with: the region's dibao standard, or the
#: low-income line (the standard times the low-income multiplier).
LINES = ("dibao", "low_income")
#: Record kinds whose assessed income (``amount``) is compared with a line (``LINES``).
ASSESSED_KINDS = ("verification", "review")
#: Home-visit findings and the need they say.
VISIT_FINDINGS = {"hardship_confirmed": True, "no_hardship": False}
#: Labelled positives outside the caseload needed to estimate their labelling propensity.
MIN_POSITIVES = 50
#: Bounds of the fitted probability of being verified, before inverting it.
PROPENSITY_CLIP = (0.005, 1.0)


def alive_at(b: HouseholdData, as_of: dt.date) -> pl.DataFrame:
    """Return the households of a polars bundle that exist on ``as_of``."""
    households: pl.DataFrame = b.households
    return households.filter(
        (pl.col("formed_on") < as_of)
        & (pl.col("dissolved_on").is_null() | (pl.col("dissolved_on") >= as_of))
    )


def verified(bundle: HouseholdData, as_of: dt.date, h: int, line: str = "dibao") -> pl.DataFrame:
    """Need as assessed inside ``[as_of, as_of + h months)``; null where never assessed.

    An assessed income (a verification or review ``amount``) below the region's dibao
    standard (``line="dibao"``) or low-income line (``dibao_standard *
    low_income_multiplier``, ``line="low_income"``) is need. Where a
    household has assessments, any one below the line makes it in need; where it only has
    home visits, a confirmed hardship does. Withdrawn applications and visits that found
    nobody say nothing.
    """
    b = bundle.to_polars()
    end = months_after(as_of, h)
    alive = alive_at(b, as_of).join(b.regions, on="region_id", how="left")
    if line not in LINES:
        raise ValueError(f"Got line={line!r}; expected one of {list(LINES)!r}.")
    standard = pl.col("dibao_standard")
    threshold = standard if line == "dibao" else standard * pl.col("low_income_multiplier")
    rec = b.records.filter(
        (pl.col("event_date") >= as_of) & (pl.col("event_date") < end)
    ).with_columns(pl.col("kind").cast(pl.String), pl.col("value").cast(pl.String))
    kinds = rec.filter(pl.col("kind").is_in([*ASSESSED_KINDS, "home_visit"]))
    found = kinds.join(
        alive.select("household_id", threshold.alias("line")), on="household_id", how="inner"
    ).with_columns(
        assessed=pl.when(pl.col("kind").is_in(ASSESSED_KINDS) & pl.col("amount").is_not_null())
        .then(pl.col("amount") < pl.col("line"))
        .otherwise(None),
        visited=pl.when(pl.col("kind") == "home_visit")
        .then(
            pl.col("value").replace_strict(VISIT_FINDINGS, default=None, return_dtype=pl.Boolean)
        )
        .otherwise(None),
    )
    per_hh = found.group_by("household_id").agg(
        pl.col("assessed").any().alias("assessed_need"),
        pl.col("assessed").is_not_null().any().alias("has_assessment"),
        pl.when(pl.col("assessed").is_not_null()).then(pl.col("kind")).sort().last().alias("by"),
        pl.col("visited").any().alias("visit_need"),
        pl.col("visited").is_not_null().any().alias("has_visit"),
    )
    out = (
        alive.select("household_id")
        .join(per_hh, on="household_id", how="left")
        .with_columns(
            in_need=pl.when(pl.col("has_assessment"))
            .then(pl.col("assessed_need"))
            .when(pl.col("has_visit"))
            .then(pl.col("visit_need"))
            .otherwise(None),
            label_source=pl.when(pl.col("has_assessment"))
            .then(pl.col("by"))
            .when(pl.col("has_visit"))
            .then(pl.lit("home_visit"))
            .otherwise(None),
        )
        .with_columns(weight=pl.when(pl.col("in_need").is_not_null()).then(1.0).otherwise(None))
    )
    return out.select("household_id", "in_need", "label_source", "weight").sort("household_id")


def recipients(bundle: HouseholdData, as_of: dt.date, months: int = 3) -> pl.Series:
    """Households paid dibao or tekun in the ``months`` before ``as_of`` (known by then)."""
    b = bundle.to_polars()
    start = months_after(as_of, -months)
    paid = b.records.filter(
        pl.col("kind").cast(pl.String).is_in(["benefit_dibao", "benefit_tekun"])
        & (pl.col("event_date") >= start)
        & (pl.col("known_date") < as_of)
    )
    ids: pl.Series = paid["household_id"].cast(pl.String).unique()
    return ids


def positive_unlabeled(
    bundle: HouseholdData,
    as_of: dt.date,
    h: int,
    features: Any,
    random_state: int = 0,
    line: str = "dibao",
) -> pl.DataFrame:
    """Every household: the verified in need are positive, all others unlabeled (0).

    Unlabeled is not "not in need": it is the status quo's not looking. The status quo
    labels its two groups very differently: recipients are reviewed on a schedule,
    whatever their need, while the others are labelled only when they apply. So the
    labelled positives are weighted by one over the labelling propensity of their group
    (selected-at-random PU learning, Bekker, Robberechts and Davis 2019), estimated from
    the bundle alone:

    - recipients (paid dibao or tekun in the 3 months before ``as_of``): the share of
      them with an assessment in the window (reviews do not depend on need);
    - the others: Elkan and Noto's (2008) estimate, the mean over the labelled positives
      of a cross-fitted classifier of "labelled positive" on ``features``.

    A classifier trained with these weights estimates the odds of need on one scale
    across both groups, so a capacity is shared between them as need, not the status
    quo's attention, says. ``propensity`` holds the group's estimate (NaN where fewer
    than ``MIN_POSITIVES`` labelled positives leave it unestimated: those positives get
    weight 1, and the logger warns). Recipients without
    an assessment in the window get weight 0: whether a recipient is reviewed in a given
    window follows the review calendar, which the features partly reveal (months since the
    last assessment), so counting them as negatives would teach the calendar.
    """
    v = verified(bundle, as_of, h, line)
    ids = v["household_id"]
    s = v["in_need"].fill_null(False).to_numpy()
    labelled = v["in_need"].is_not_null().to_numpy()
    r = ids.is_in(recipients(bundle, as_of).implode()).to_numpy()
    e = np.ones(len(s))
    if r.any():
        e[r] = max(labelled[r].mean(), 1e-3)
    n_pos = int(s[~r].sum())
    if n_pos >= MIN_POSITIVES:
        X = _feature_frame(features, ids)[~r]
        g = _cross_fitted(X, s[~r], random_state)
        # P(labelled positive) <= P(labelled | in need): a floor no estimate may go under
        e[~r] = float(np.clip(g[s[~r]].mean(), max(s[~r].mean(), 1e-3), 1.0))
    elif (~r).any():
        logger.warning(
            "%d labelled positives among the households not on dibao or tekun at %s, "
            "fewer than the %d that estimating their labelling propensity needs: they are "
            "not re-weighted (a plain positive-unlabeled label).",
            n_pos,
            as_of.isoformat(),
            MIN_POSITIVES,
        )
        e[~r] = np.nan
    return v.select(
        "household_id",
        in_need=pl.col("in_need").fill_null(False),
        label_source=pl.when(pl.col("in_need"))
        .then(pl.lit("verified_positive"))
        .when(pl.col("in_need").not_())
        .then(pl.lit("verified_negative"))
        .when(pl.Series(r))
        .then(pl.lit("unlabeled_recipient"))
        .otherwise(pl.lit("unlabeled")),
        weight=pl.Series(
            np.where(s, 1.0 / np.nan_to_num(e, nan=1.0), np.where(r & ~labelled, 0.0, 1.0))
        ),
        propensity=pl.Series(e),
    )


def _cross_fitted(X: np.ndarray, s: np.ndarray, random_state: int) -> np.ndarray:
    """Out-of-fold P(s = 1 | x) from a gradient-boosted classifier over 5 folds."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    from ..models._sklearn_compat import fill_empty_columns

    p = np.empty(len(s))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=random_state)
    for fit_rows, pred_rows in folds.split(X, s):
        clf = HistGradientBoostingClassifier(max_iter=200, random_state=random_state)
        clf.fit(fill_empty_columns(X[fit_rows]), s[fit_rows])
        p[pred_rows] = clf.predict_proba(X[pred_rows])[:, 1]
    return p


def inverse_propensity(
    bundle: HouseholdData,
    as_of: dt.date,
    h: int,
    features: Any,
    random_state: int = 0,
    line: str = "dibao",
) -> pl.DataFrame:
    """Weight the verified households by one over their fitted chance of being verified.

    The chance comes from a gradient-boosted classifier of "has a verified label" on the
    features at ``as_of``, cross-fitted over 5 folds so no household's weight uses its own
    outcome. Weights are stabilised (multiplied by the share verified, so they average
    about 1) and the probability is clipped to ``PROPENSITY_CLIP`` first.
    """
    v = verified(bundle, as_of, h, line)
    X = _feature_frame(features, v["household_id"])
    s = v["in_need"].is_not_null().to_numpy()
    if s.sum() < 10 or (~s).sum() < 10:
        raise ValueError(
            f"Got {int(s.sum())} verified households of {len(s)} at as_of={as_of.isoformat()}; "
            "source='ipw' needs at least 10 verified and 10 unverified households to model "
            "who gets verified."
        )
    p = np.clip(_cross_fitted(X, s, random_state), *PROPENSITY_CLIP)
    weight = s.mean() / p
    return (
        v.with_columns(pl.Series("weight", weight))
        .filter(pl.col("in_need").is_not_null())
        .with_columns(label_source=pl.format("{}_ipw", pl.col("label_source")))
    )


def _feature_frame(features: Any, ids: pl.Series) -> np.ndarray:
    """Align a feature frame (any backend, with ``household_id``) to ``ids``; as floats."""
    import narwhals as nw

    frame = nw.from_native(features, eager_only=True).to_polars()
    if "household_id" not in frame.columns:
        raise ValueError(
            "Got features without a household_id column; pass the frame of "
            "ni.features.build(bundle, as_of), which has one."
        )
    aligned = pl.DataFrame({"household_id": ids}).join(
        frame.with_columns(pl.col("household_id").cast(pl.String)), on="household_id", how="left"
    )
    missing = aligned.filter(pl.all_horizontal(pl.exclude("household_id").is_null()))
    if missing.height == len(ids) and len(ids):
        raise ValueError(
            "Got features for none of the households alive at as_of; build them at the same "
            "as_of as the labels."
        )
    numeric = [c for c, t in aligned.schema.items() if c != "household_id" and t.is_numeric()]
    return aligned.select(pl.col(numeric).cast(pl.Float64)).to_numpy()
