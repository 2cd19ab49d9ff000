"""The flag table: scores and rule hits become a routed list of households to help."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import polars as pl
from numpy.typing import ArrayLike

from .._dates import as_date
from ..evaluate import as_capacity
from ..evaluate._metrics import _capacity_count
from ._capacity import EXIT_REVIEW, allocate, check_quotas

if TYPE_CHECKING:
    from ..rules import RuleHits

__all__ = ["BANDS", "FLAG_COLUMNS", "ROUTES", "flag", "reason_text", "risk_band"]

#: Route of a flagged household, in order of precedence (the first that applies wins).
ROUTES = {
    "trigger": "immediate_assistance",  # a shock: temporary assistance now
    "model": "verification_visit",  # high modelled risk: a caseworker verifies
    "outreach": "manual_outreach",  # digitally invisible: go and look
    "review": "review",  # an exit or cross-check rule: review the benefit
}
#: Default risk bands: ``[0, 0.2)`` low, ``[0.2, 0.5)`` medium, ``[0.5, 1]`` high.
BANDS = {"low": 0.0, "medium": 0.2, "high": 0.5}

FLAG_COLUMNS = (
    "household_id",
    "as_of",
    "score",
    "risk_band",
    "flag",
    "route",
    "reasons",
    "rule_ids",
    "model_name",
    "model_version",
    "rule_set_version",
    "threshold",
    "capacity",
    "capacity_by",
)

# rule kind (needsid.rules) -> the flag route it leads to
_RULE_ROUTE = {
    "trigger": "trigger",
    "outreach": "outreach",
    "exit": "review",
    "cross_check": "review",
    "process": "review",
}


def risk_band(scores: ArrayLike, bands: Mapping[str, float] | None = None) -> np.ndarray:
    """Name the risk band of each score.

    Parameters
    ----------
    scores : array-like of float
        Risks in [0, 1].
    bands : mapping of str to float, optional
        Band name -> lower edge (in any order; one edge must be 0); default :data:`BANDS`.

    Returns
    -------
    ndarray of str
        The band of each score: the one with the highest lower edge at or below it.

    Raises
    ------
    ValueError
        If no edge is 0 or two edges are equal.

    Examples
    --------
    >>> risk_band([0.05, 0.3, 0.9]).tolist()
    ['low', 'medium', 'high']
    >>> risk_band([0.05, 0.3, 0.9], {"usual": 0, "urgent": 0.25}).tolist()
    ['usual', 'urgent', 'urgent']
    """
    bands = BANDS if bands is None else bands
    ordered = sorted(bands.items(), key=lambda kv: kv[1])
    names = [k for k, _ in ordered]
    edges = np.asarray([v for _, v in ordered], dtype=float)
    if len(edges) == 0 or edges[0] != 0 or np.any(np.diff(edges) <= 0):
        raise ValueError(
            f"Got bands={bands!r}; expected band name -> lower edge, one edge 0 and no two "
            "edges equal, e.g. {'low': 0, 'medium': 0.2, 'high': 0.5}."
        )
    idx = np.searchsorted(edges, np.asarray(scores, dtype=float), side="right") - 1
    return np.asarray(names, dtype=object)[np.clip(idx, 0, len(names) - 1)].astype(str)


def _scores_frame(
    scores: pd.DataFrame | pd.Series | pl.DataFrame, what: str = "scores", source: str = ""
) -> pl.DataFrame:
    """Check a score table (flag's and phase_out's): one row per household in [0, 1].

    ``what`` names the scores in the messages ("scores" or "exit scores"); ``source`` says
    where they come from (appended to the missing-column hint). Columns besides
    ``household_id`` and ``score`` are kept.
    """
    if isinstance(scores, pd.Series):
        scores = scores.rename("score").rename_axis("household_id").reset_index()
    if isinstance(scores, pd.DataFrame):
        scores = pl.from_pandas(scores)
    if not isinstance(scores, pl.DataFrame):
        raise TypeError(
            f"Got scores of type {type(scores).__name__}; expected a DataFrame with "
            "household_id and score columns (pandas or polars), or a pandas Series of "
            f"{what} indexed by household_id."
        )
    missing = [c for c in ("household_id", "score") if c not in scores.columns]
    if missing:
        raise ValueError(
            f"scores has no column {missing!r}; it has {scores.columns!r}. Pass one row "
            f"per household with household_id and score{source}."
        )
    problems = []
    ids = scores["household_id"]
    if ids.null_count():
        problems.append(f"{ids.null_count()} rows have no household_id")
    if ids.is_duplicated().any():
        problems.append(f"{int(ids.is_duplicated().sum())} rows repeat a household_id")
    s = scores["score"].cast(pl.Float64, strict=False)
    bad = s.is_null() | s.is_nan() | (s < 0) | (s > 1)
    if bad.any():
        problems.append(f"{int(bad.sum())} scores are missing or outside [0, 1]")
    if problems:
        raise ValueError("scores: " + "; ".join(problems) + ".")
    return scores.with_columns(
        pl.col("household_id").cast(pl.String), pl.col("score").cast(pl.Float64)
    )


def _hits_frame(hits: RuleHits | None) -> tuple[pl.DataFrame, str | None]:
    """Per household: the rule ids hit and the best route; and the rule set version."""
    empty = pl.DataFrame(
        schema={"household_id": pl.String, "rule_ids": pl.String, "_rule_route": pl.String}
    )
    if hits is None:
        return empty, None
    frame = hits.to_frame()
    frame = frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
    unknown = sorted(set(frame["kind"].unique().to_list()) - set(_RULE_ROUTE))
    if unknown:
        raise ValueError(
            f"Rule hits of kind {unknown!r} have no route; known kinds: {sorted(_RULE_ROUTE)}."
        )
    order = {r: i for i, r in enumerate(ROUTES)}
    per = (
        frame.select("household_id", "rule_id", "kind")
        .with_columns(
            pl.col("kind").replace_strict(_RULE_ROUTE, return_dtype=pl.String).alias("_rule_route")
        )
        .with_columns(
            pl.col("_rule_route").replace_strict(order, return_dtype=pl.Int32).alias("_rank")
        )
        .group_by("household_id")
        .agg(
            pl.col("rule_id").unique().sort().str.join(",").alias("rule_ids"),
            pl.col("_rule_route").sort_by("_rank").first(),
        )
    )
    return per.cast({"household_id": pl.String}), hits.rule_set_version


def _exit_reviews(
    exits: pd.DataFrame | pl.DataFrame | None, ids: pl.Series, groups: str | None
) -> tuple[np.ndarray, list[str | None]]:
    """Which of ``ids`` a phase_out schedule booked for an exit review, and its reasons."""
    if exits is None:
        return np.zeros(len(ids), bool), [None] * len(ids)
    e = pl.from_pandas(exits) if isinstance(exits, pd.DataFrame) else exits
    if not isinstance(e, pl.DataFrame) or not {"household_id", "route"} <= set(e.columns):
        raise ValueError(
            "Got exits that are not a schedule of needsid.exits.phase_out (a DataFrame with "
            "household_id and route columns)."
        )
    e = e.filter(pl.col("route") == EXIT_REVIEW)
    if e.height and groups is not None:
        raise ValueError(
            f"Got exits with groups={groups!r}; exit reviews share an overall capacity only. "
            "Flag each group with its own exits, or flag without groups."
        )
    text = e.get_column("reasons") if "reasons" in e.columns else pl.Series([None] * e.height)
    booked = dict(zip(e["household_id"].cast(pl.String).to_list(), text.to_list(), strict=True))
    hh = ids.to_list()
    return np.array([i in booked for i in hh], bool), [booked.get(i) for i in hh]


def reason_text(explained: pd.DataFrame | pl.DataFrame) -> pd.Series:
    """Join ``model.explain()`` rows per household as ``"feature (+x.x pts); ..."``.

    Parameters
    ----------
    explained : pandas.DataFrame or polars.DataFrame
        ``row_id, feature, contribution`` (contribution in probability, 0.031 = 3.1 pts).

    Returns
    -------
    pandas.Series
        Text per ``row_id`` (as str), in the order households first appear.

    Raises
    ------
    ValueError
        If a column is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> e = pd.DataFrame({"row_id": ["a", "a"], "feature": ["n_deaths_3m", "wage_3m"],
    ...                   "contribution": [0.123, -0.04]})
    >>> reason_text(e)["a"]
    'n_deaths_3m (+12.3 pts); wage_3m (-4.0 pts)'
    """
    if isinstance(explained, pl.DataFrame):
        explained = explained.to_pandas()
    need = {"row_id", "feature", "contribution"}
    if not need <= set(explained.columns):
        raise ValueError(
            f"reasons needs columns {sorted(need)} (the output of model.explain); it has "
            f"{list(explained.columns)!r}."
        )
    if explained.empty:
        return pd.Series(dtype=object)
    pts = np.round(explained["contribution"].to_numpy(dtype=float) * 100, 1)
    text = [
        f"{f} ({p + 0.0:+.1f} pts)"  # + 0.0 turns a -0.0 into 0.0: no "+-0.0"
        for f, p in zip(explained["feature"].astype(str), pts, strict=True)
    ]
    ids = explained["row_id"].astype(str).to_numpy()
    return pd.Series(text, index=ids).groupby(level=0, sort=False).agg("; ".join)


def _reasons_frame(reasons: pd.DataFrame | pl.DataFrame | None) -> pl.DataFrame:
    """``household_id, reasons`` from explain() output or from ready-made text."""
    if reasons is None:
        return pl.DataFrame(schema={"household_id": pl.String, "reasons": pl.String})
    cols = list(reasons.columns)
    if "reasons" in cols and "household_id" in cols:
        r = pl.from_pandas(reasons) if isinstance(reasons, pd.DataFrame) else reasons
        return r.select(pl.col("household_id").cast(pl.String), pl.col("reasons").cast(pl.String))
    text = reason_text(reasons)
    return pl.DataFrame(
        {"household_id": text.index.astype(str).tolist(), "reasons": text.tolist()},
        schema={"household_id": pl.String, "reasons": pl.String},
    )


def flag(
    scores: pd.DataFrame | pd.Series | pl.DataFrame,
    hits: RuleHits | None = None,
    capacity: float = 0.05,
    *,
    as_of: dt.date | str,
    groups: str | None = None,
    reasons: pd.DataFrame | pl.DataFrame | None = None,
    invisibility: str | None = None,
    invisibility_threshold: float = 0.8,
    model_name: str | None = None,
    model_version: str | None = None,
    bands: Mapping[str, float] | None = None,
    route_order: Sequence[str] = tuple(ROUTES),
    quotas: Mapping[str, float] | None = None,
    exits: pd.DataFrame | pl.DataFrame | None = None,
) -> pl.DataFrame | pd.DataFrame:
    """Turn model scores and rule hits into the flag table.

    ``capacity`` is the number of visits a county can make (overall, or per group with
    ``groups``), and every route sends someone, so every route draws from it. Routes are
    served in ``route_order``; each household gets the first route that takes it:

    - ``immediate_assistance``: a trigger rule fired (a death, a hospital bill, a
      disaster): temporary assistance first, questions later. All are kept, even past
      the capacity; then the ``needsid.flagging`` logger warns with the counts and no
      other route has room.
    - ``verification_visit``: the highest scores, in the room the other routes leave.
    - ``manual_outreach``: an outreach rule fired, or the household's ``invisibility``
      is at least ``invisibility_threshold`` (its low score may only mean that no
      department holds data on it). At most ``quotas["outreach"]`` of the capacity,
      ranked by ``invisibility x score``: the households most likely to be both
      invisible and in need first.
    - ``review``: an exit or cross-check rule fired (a benefit to review). At most
      ``quotas["review"]`` of the capacity, the lowest scores first.
    - ``exit_review``: booked by :func:`needsid.exits.phase_out` (``exits``). Each is a
      visit: they are kept before the other routes share what is left of the capacity
      (a trigger still wins), and only with an overall capacity (no ``groups``).

    The model keeps out of the room the quota routes served after it can use, and takes
    back whatever they leave; so at most ``capacity`` households are flagged unless the
    triggers alone exceed it.

    Parameters
    ----------
    scores : DataFrame or pandas.Series
        One row per household alive at ``as_of``: ``household_id``, ``score`` (a risk in
        [0, 1]), plus the ``groups`` and ``invisibility`` columns when used. A Series
        is read as scores indexed by household_id.
    hits : needsid.rules.RuleHits, optional
        Rule hits at the same ``as_of``. Hits of households absent from ``scores`` are
        kept (a rule can flag a household the model never saw).
    capacity : float or int, default=0.05
        Visits in all: a share in (0, 1] of the scored households, or a count.
    as_of : date or str
        The date the scores and hits describe; recorded in every row.
    groups : str, optional
        Column of ``scores`` (e.g. ``"region_id"``) within which ``capacity`` applies.
    reasons : DataFrame, optional
        ``model.explain(X)`` output (``row_id`` = household_id), joined per household by
        :func:`reason_text`, or ready-made ``household_id, reasons`` text. Only flagged
        households keep their reasons.
    invisibility : str, optional
        Column of ``scores`` with a digital-invisibility score in [0, 1] (e.g. the
        ``invisibility_score`` feature).
    invisibility_threshold : float, default=0.8
        An ``invisibility`` at or above it makes a household a candidate for outreach.
    model_name, model_version : str, optional
        Recorded in every row (the registry's name and version).
    bands : mapping of str to float, optional
        Risk bands, see :func:`risk_band`.
    route_order : sequence of str, default ("trigger", "model", "outreach", "review")
        The order the routes are served in.
    quotas : mapping of str to float, optional
        The most ``outreach`` and ``review`` may take, as a share of the capacity;
        default :data:`QUOTAS` (``{"outreach": 0.2, "review": 0.1}``).
    exits : DataFrame, optional
        A :func:`needsid.exits.phase_out` schedule at the same ``as_of``: its rows with
        route ``exit_review`` (households in ``scores``) become ``exit_review`` flags
        with the schedule's reasons, and the other routes take the capacity they leave.

    Returns
    -------
    DataFrame
        A polars one, or pandas if ``scores`` was pandas, sorted by household_id, with
        :data:`FLAG_COLUMNS`. ``threshold`` is the lowest score the model flagged (in the
        household's group when ``groups`` is set); ``score`` is null for households only
        rules know about.

    Raises
    ------
    TypeError
        If ``scores`` is not a DataFrame or Series.
    ValueError
        If ``scores`` lacks a column, repeats a household or holds a score outside
        [0, 1]; or ``capacity``, ``route_order``, ``quotas``, ``bands`` or
        ``invisibility_threshold`` is invalid; or a rule kind has no route.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"household_id": ["a", "b", "c", "d"],
    ...                   "score": [0.9, 0.1, 0.6, 0.3]})
    >>> table = flag(s, capacity=2, as_of="2025-01-01")
    >>> print(table[["household_id", "flag", "route", "risk_band"]].to_string(index=False))
    household_id  flag              route risk_band
               a  True verification_visit      high
               b False               none       low
               c  True verification_visit      high
               d False               none    medium
    >>> s["invisibility_score"] = [0.0, 0.9, 0.0, 0.0]
    >>> table = flag(s, capacity=2, as_of="2025-01-01", invisibility="invisibility_score",
    ...              quotas={"outreach": 0.5})
    >>> table.loc[table["flag"], ["household_id", "route"]].values.tolist()
    [['a', 'verification_visit'], ['b', 'manual_outreach']]
    """
    as_of = as_date(as_of)
    cap = as_capacity(capacity)
    quotas = check_quotas(quotas)
    if sorted(route_order) != sorted(ROUTES) or len(route_order) != len(ROUTES):
        raise ValueError(f"Got route_order={route_order!r}; expected an order of {list(ROUTES)}.")
    if not 0 <= invisibility_threshold <= 1:
        raise ValueError(
            f"Got invisibility_threshold={invisibility_threshold!r}; expected a value in [0, 1]."
        )
    pandas_out = isinstance(scores, pd.DataFrame | pd.Series)
    s = _scores_frame(scores)
    for col, what in ((groups, "groups"), (invisibility, "invisibility")):
        if col is not None and col not in s.columns:
            raise ValueError(f"{what}={col!r} is not a column of scores; it has {s.columns!r}.")
    invisible = (
        pl.col(invisibility).cast(pl.Float64).fill_null(1.0)
        if invisibility
        else pl.lit(0.0, dtype=pl.Float64)
    )
    keep = ["household_id", "score", *([groups] if groups else [])]
    s = s.select(*keep, invisible.alias("_invisibility"))
    rule_frame, rule_set_version = _hits_frame(hits)
    # sorted first: the order of the input never changes who is flagged
    out = (
        s.join(rule_frame, on="household_id", how="full", coalesce=True)
        .sort("household_id")
        .with_columns(pl.col("_invisibility").fill_null(0.0))
    )
    rule_route = out["_rule_route"].fill_null("").to_numpy()
    score = out["score"].to_numpy()
    scored = ~np.isnan(score.astype(float))
    booked, exit_reasons = _exit_reviews(exits, out["household_id"], groups)
    out = out.with_columns(pl.Series("_exit_reasons", exit_reasons, dtype=pl.String))
    room = cap
    if booked.any():  # exit reviews are visits: the other routes share what they leave
        booked &= rule_route != "trigger"
        room = _capacity_count(cap, int(scored.sum())) - int(booked.sum())
    score0 = np.where(scored, score, 0.0)
    invisibility_value = out["_invisibility"].to_numpy()
    candidates = {
        "trigger": rule_route == "trigger",
        "model": scored,
        "outreach": (rule_route == "outreach")
        | (scored & (invisibility_value >= invisibility_threshold)),
        "review": rule_route == "review",
    }
    if booked.any():
        for r in ("model", "outreach", "review"):
            candidates[r] = candidates[r] & ~booked & (room > 0)
        room = max(room, 1)  # with no room left only triggers, which need none, are taken
    priority = {
        "model": score0,
        # the households most likely to be both invisible and in need first
        "outreach": invisibility_value * score0,
        # the benefit least likely still needed first
        "review": 1.0 - score0,
    }
    g = None if groups is None else out[groups].cast(pl.String).fill_null("(missing)").to_numpy()
    routed = allocate(candidates, priority, room, g, quotas, tuple(route_order), counted=scored)
    names = np.array([ROUTES[r] if r else "none" for r in routed], dtype=object)
    names[booked] = EXIT_REVIEW
    out = out.with_columns(
        pl.Series("route", names, dtype=pl.String),
        pl.Series("_model", routed == "model", dtype=pl.Boolean),
    ).with_columns((pl.col("route") != "none").alias("flag"))
    thr = (
        out.filter(pl.col("_model"))
        .group_by(groups if groups else pl.lit(1).alias("_g"))
        .agg(pl.col("score").min().alias("threshold"))
    )
    if groups:
        out = out.join(thr, on=groups, how="left")
    else:
        t = thr["threshold"][0] if thr.height else None
        out = out.with_columns(pl.lit(t, dtype=pl.Float64).alias("threshold"))
    band = risk_band(out["score"].fill_null(0.0).to_numpy(), bands)
    out = out.with_columns(
        pl.when(pl.col("score").is_null())
        .then(None)
        .otherwise(pl.Series(band, dtype=pl.String))
        .alias("risk_band")
    )
    out = out.join(_reasons_frame(reasons), on="household_id", how="left").with_columns(
        pl.when(pl.col("route") == EXIT_REVIEW)
        .then(pl.col("_exit_reasons"))
        .when(pl.col("flag"))
        .then(pl.col("reasons"))
        .otherwise(None)
        .alias("reasons")
    )
    out = (
        out.with_columns(
            pl.lit(as_of, dtype=pl.Date).alias("as_of"),
            pl.lit(model_name, dtype=pl.String).alias("model_name"),
            pl.lit(model_version, dtype=pl.String).alias("model_version"),
            pl.lit(rule_set_version, dtype=pl.String).alias("rule_set_version"),
            pl.lit(float(cap), dtype=pl.Float64).alias("capacity"),
            pl.lit(groups, dtype=pl.String).alias("capacity_by"),
            pl.col("rule_ids").cast(pl.String),
        )
        .select(FLAG_COLUMNS)
        .sort("household_id")
    )
    return out.to_pandas() if pandas_out else out
