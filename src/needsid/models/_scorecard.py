"""Points scorecard: optimal binning, WoE logistic regression, integer points, risk table.

The card is what a caseworker applies by hand: for each feature find the row whose bin
holds the household's value, add up the points, read the risk off the table. Saving
and loading go through JSON (``_scorecard_io.py``), never pickle.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.svm import l1_min_c
from sklearn.utils.validation import check_is_fitted, check_random_state

from .._compat import pandas4_warnings_ignored
from ._base import RiskModel, XLike
from ._scorecard_io import ScorecardJSONMixin
from ._sklearn_compat import Interval, l1_penalty

__all__ = ["PointsScorecard"]

TRENDS = ("ascending", "descending", "auto")
#: Features below this information value are "not useful" (Siddiqi) and never selected.
MIN_IV = 0.02
#: Rows used to order features along the L1 path (a random subsample above this).
PATH_MAX_ROWS = 100_000
#: Total weight of the rows binned with fractional ``sample_weight`` (``_binning_weights``).
BINNING_TOTAL_WEIGHT = 1e6
MISSING = "missing"


class _Binning(TypedDict):
    """One feature's optimal binning: split points, risk WoE per bin, information value."""

    splits: npt.NDArray[np.float64]
    #: per bin, then the missing bin; larger is riskier
    woe: npt.NDArray[np.float64]
    iv: float
    integer: bool


class _CardFeature(TypedDict):
    """A feature on the card: its column of X, bins and points per bin (missing last)."""

    column: int
    splits: npt.NDArray[np.float64]
    integer: bool
    points: npt.NDArray[np.int64]


class PointsScorecard(ScorecardJSONMixin, RiskModel):
    """Integer points scorecard with a bounded number of features and points.

    1. Each feature is binned with optbinning's ``OptimalBinning`` (monotone in risk
       where declared) and encoded by its bin's weight of evidence (WoE).
    2. Features with information value >= 0.02 are ordered by when they enter an L1
       logistic regularisation path on WoE (ties by information value) and the first
       ``max_features`` are kept. The path, unlike ranking by information value alone,
       skips near-duplicates of a feature already in (ten income ratios carry one
       signal), and costs one path instead of the ``max_features x n_features`` fits
       of greedy forward selection.
    3. A logistic regression (L2, ``C``) is fitted on the kept WoE columns; a feature
       whose coefficient comes out <= 0 (its bins would score against their own
       observed risk, breaking declared monotonicity) is dropped and the next one on
       the path tried.
    4. Log-odds per bin become integer points: each feature's lowest-risk bin scores 0
       (so the **base points are 0**) and the features share ``max_points`` in
       proportion to their log-odds range, so totals lie in ``[0, max_points]``.
       More points means more risk.
    5. Risk is ``expit(risk_intercept_ + risk_slope_ * total_points)``, a logistic fit of
       the outcome on the rounded totals; ``risk_table_`` tabulates it by points band.

    Split points are rounded to three significant digits (more where needed to keep
    them distinct) so the card shows exactly the rule the model applies. The
    ``missing`` row scores the risk of the households with a missing value, or average
    risk (WoE 0) when training had none.

    Parameters
    ----------
    max_features : int, default=10
        Most features on the card.
    max_points : int, default=100
        Highest possible total.
    monotone : mapping of str to str, optional
        Feature name -> "ascending" (risk rises with the value), "descending" or "auto"
        (optbinning picks the trend, possibly a peak or valley). Unlisted: "auto".
    min_bin_size : float, default=0.05
        Smallest bin as a share of households.
    max_bins : int, default=6
        Most bins per feature (plus the ``missing`` row): a card a person can read.
    C : float, default=1.0
        Inverse L2 regularisation strength of the logistic regression on WoE.
    random_state : int, RandomState instance or None, default=0
        Seeds the subsample used for the L1 path.

    Attributes
    ----------
    card_ : pandas.DataFrame
        ``feature, bin, points``: one row per bin, plus a ``missing`` row per feature.
    risk_table_ : pandas.DataFrame
        ``points_from, points_to, households, observed_risk, predicted_risk`` per band
        of total points (training households; predicted risk at the band's middle).
        With ``sample_weight``, ``households`` counts the rows of positive weight and
        ``observed_risk`` is their weighted mean outcome.
    risk_intercept_, risk_slope_ : float
        Risk of a total ``t`` is ``expit(risk_intercept_ + risk_slope_ * t)``.
    selected_features_ : list of str
        Features on the card, most points first.
    information_values_ : pandas.Series
        Information value of every feature's optimal binning.
    classes_, n_features_in_, feature_names_in_
        As in scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from needsid.models import PointsScorecard
    >>> X, y = make_classification(n_samples=400, n_features=4, n_informative=2,
    ...                            n_redundant=0, random_state=0)
    >>> card = PointsScorecard(max_features=2, max_points=50).fit(X, y)
    >>> int(card.card_.groupby("feature")["points"].max().sum()) <= 50
    True
    >>> PointsScorecard.from_json(card.to_json()).predict(X[:5]).tolist() == (
    ...     card.predict(X[:5]).tolist())
    True
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "max_features": [Interval(Integral, 1, None, closed="left")],
        "max_points": [Interval(Integral, 1, None, closed="left")],
        "monotone": [Mapping, None],
        "min_bin_size": [Interval(Real, 0, 0.5, closed="right")],
        "max_bins": [Interval(Integral, 2, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    information_values_: pd.Series
    features_: list[_CardFeature]
    selected_features_: list[str]
    card_: pd.DataFrame
    mean_points_: npt.NDArray[np.float64]
    risk_intercept_: float
    risk_slope_: float
    risk_table_: pd.DataFrame

    def __init__(
        self,
        max_features: int = 10,
        max_points: int = 100,
        monotone: Mapping[str, str] | None = None,
        min_bin_size: float = 0.05,
        max_bins: int = 6,
        C: float = 1.0,
        random_state: int | np.random.RandomState | None = 0,
    ) -> None:
        self.max_features = max_features
        self.max_points = max_points
        self.monotone = monotone
        self.min_bin_size = min_bin_size
        self.max_bins = max_bins
        self.C = C
        self.random_state = random_state

    # -- fit ---------------------------------------------------------------------------

    def _fit(
        self,
        X: npt.NDArray[np.float64],
        y: npt.NDArray[np.int64],
        sample_weight: npt.NDArray[np.float64] | None,
    ) -> None:
        names = self._feature_names()
        trends = self._per_feature("monotone", TRENDS, "auto")
        bins = [
            self._bin(X[:, j], y, sample_weight, names[j], trends[j]) for j in range(X.shape[1])
        ]
        self.information_values_ = pd.Series([b["iv"] for b in bins], index=names, name="iv")
        chosen, coef = self._select(X, y, sample_weight, bins)
        # log-odds per bin (risk WoE x coefficient); each feature's lowest bin is 0
        logits = [coef[i] * bins[j]["woe"] for i, j in enumerate(chosen)]
        floor = [lg.min() for lg in logits]
        ranges = np.array([lg.max() - lo for lg, lo in zip(logits, floor, strict=True)])
        alloc = _largest_remainder(ranges, self.max_points)
        features: list[_CardFeature] = []
        for i, j in enumerate(chosen):
            rel = (logits[i] - floor[i]) / ranges[i] if ranges[i] > 0 else 0 * logits[i]
            points = np.rint(rel * alloc[i]).astype(np.int64)
            if points.max() == 0:  # too weak to earn a point: keep it off the card
                continue
            features.append(
                dict(column=j, splits=bins[j]["splits"], integer=bins[j]["integer"], points=points)
            )
        features.sort(key=lambda f: -int(f["points"].max()))
        self._set_features(features)
        points = self._bin_points(X)
        totals = points.sum(axis=1)
        self.mean_points_ = (
            points.mean(axis=0)
            if sample_weight is None
            else sample_weight @ points / sample_weight.sum()
        )
        # a 1-D logistic fit of y on the rounded totals: rounding slightly changes the
        # scale of each feature, so the totals are recalibrated rather than trusted
        scale = max(self.max_points, 1)
        risk = LogisticRegression(C=1e6).fit(totals[:, None] / scale, y, sample_weight)
        self.risk_intercept_ = float(risk.intercept_[0])
        self.risk_slope_ = float(risk.coef_[0, 0]) / scale
        self.risk_table_ = self._risk_table(totals, y, sample_weight)

    def _bin(
        self,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[np.int64],
        sample_weight: npt.NDArray[np.float64] | None,
        name: str,
        trend: str,
    ) -> _Binning:
        finite = x[~np.isnan(x)]
        if np.unique(finite).size < 2:  # nothing to split (constant or all missing)
            return dict(splits=np.array([]), woe=np.zeros(2), iv=0.0, integer=True)
        # imported here: optbinning loads ortools and cvxpy, ~1 s on `import needsid`
        from optbinning import OptimalBinning

        binning = OptimalBinning(
            name=name,
            dtype="numerical",
            monotonic_trend=trend,
            min_bin_size=self.min_bin_size,
            max_n_bins=self.max_bins,
        )
        with warnings.catch_warnings():
            # optbinning divides by empty event/non-event counts of the special/missing
            # bins and reports the resulting inf/nan as RuntimeWarnings; the values are
            # replaced below
            warnings.simplefilter("ignore", RuntimeWarning)
            binning.fit(x, y, sample_weight=_binning_weights(sample_weight))
            with pandas4_warnings_ignored():  # pandas 3 warns inside optbinning
                table = binning.binning_table.build()
        splits = _round_splits(np.asarray(binning.splits, dtype=np.float64))
        n_bins = len(splits) + 1
        woe = table["WoE"].iloc[: n_bins + 2].to_numpy(dtype=np.float64)  # drop "Totals"
        # optbinning's WoE is log(non-event share / event share); negate so that larger
        # means riskier. Bins 0..n_bins-1, then "Special" (unused), then "Missing".
        risk_woe = -np.r_[woe[:n_bins], woe[n_bins + 1]]
        risk_woe[~np.isfinite(risk_woe)] = 0.0  # an empty missing bin is average risk
        return dict(
            splits=splits,
            woe=risk_woe,
            iv=float(binning.binning_table.iv),
            integer=bool(np.all(finite == np.round(finite))),
        )

    def _select(
        self,
        X: npt.NDArray[np.float64],
        y: npt.NDArray[np.int64],
        sample_weight: npt.NDArray[np.float64] | None,
        bins: list[_Binning],
    ) -> tuple[list[int], npt.NDArray[np.float64]]:
        candidates = [j for j, b in enumerate(bins) if b["iv"] >= MIN_IV]
        candidates.sort(key=lambda j: -bins[j]["iv"])
        if not candidates:
            return [], np.array([])
        W = np.column_stack([_woe_of(X[:, j], bins[j]) for j in candidates])
        order = [candidates[k] for k in self._path_order(W, y, sample_weight, candidates, bins)]
        chosen, rest = order[: self.max_features], order[self.max_features :]
        while chosen:
            cols = [candidates.index(j) for j in chosen]
            fit = LogisticRegression(C=self.C, max_iter=1000).fit(W[:, cols], y, sample_weight)
            coef = fit.coef_[0]
            if (coef > 0).all():
                return chosen, coef
            chosen.pop(int(np.argmin(coef)))
            if rest:
                chosen.append(rest.pop(0))
        return [], np.array([])

    def _path_order(
        self,
        W: npt.NDArray[np.float64],
        y: npt.NDArray[np.int64],
        sample_weight: npt.NDArray[np.float64] | None,
        candidates: list[int],
        bins: list[_Binning],
    ) -> list[int]:
        """Candidate positions in the order they enter an L1 path (ties: higher IV)."""
        rng = check_random_state(self.random_state)
        if len(y) > PATH_MAX_ROWS:
            rows = rng.choice(len(y), PATH_MAX_ROWS, replace=False)
            W, y = W[rows], y[rows]
            sample_weight = None if sample_weight is None else sample_weight[rows]
        if np.unique(y).size < 2:
            return list(range(len(candidates)))
        entry = np.full(len(candidates), np.inf)
        for step, c in enumerate(_l1_min_c(W, y, sample_weight) * np.logspace(0, 3, 25)):
            lasso = LogisticRegression(
                **l1_penalty(), solver="liblinear", C=c, max_iter=1000, intercept_scaling=10.0
            ).fit(W, y, sample_weight)
            new = (np.abs(lasso.coef_[0]) > 0) & np.isinf(entry)
            entry[new] = step
        entered = [k for k in range(len(candidates)) if np.isfinite(entry[k])]
        return sorted(entered, key=lambda k: (entry[k], -bins[candidates[k]]["iv"]))

    def _risk_table(
        self,
        totals: npt.NDArray[np.int64],
        y: npt.NDArray[np.int64],
        sample_weight: npt.NDArray[np.float64] | None,
    ) -> pd.DataFrame:
        top = max(int(self.card_["points"].groupby(self.card_["feature"]).max().sum()), 0)
        width = max(1, int(np.ceil((top + 1) / 10)))
        rows = []
        for lo in range(0, top + 1, width):
            hi = min(lo + width - 1, top)
            inside = (totals >= lo) & (totals <= hi)
            rows.append(
                dict(
                    points_from=lo,
                    points_to=hi,
                    households=int(inside.sum()),
                    observed_risk=_mean(y, sample_weight, inside) if inside.any() else np.nan,
                    predicted_risk=float(self._risk((lo + hi) / 2)),
                )
            )
        return pd.DataFrame(rows)

    # -- apply -------------------------------------------------------------------------

    def _set_features(self, features: list[_CardFeature]) -> None:
        """Store the card (from ``fit`` or ``from_json``) as fitted attributes."""
        names = self._feature_names()
        self.features_ = features
        self.selected_features_ = [names[f["column"]] for f in features]
        rows = []
        for f in features:
            labels = _bin_labels(f["splits"], f["integer"]) + [MISSING]
            for label, pts in zip(labels, f["points"], strict=True):
                rows.append((names[f["column"]], label, int(pts)))
        self.card_ = pd.DataFrame(rows, columns=["feature", "bin", "points"])

    def _bin_points(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        out = np.zeros((len(X), len(self.features_)), dtype=np.int64)
        for i, f in enumerate(self.features_):
            out[:, i] = f["points"][_bin_index(X[:, f["column"]], f["splits"])]
        return out

    def _total_points(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        totals: npt.NDArray[np.int64] = self._bin_points(X).sum(axis=1)
        return totals

    def _risk(self, total: float) -> float:
        risk: float = expit(
            self.risk_intercept_ + self.risk_slope_ * np.asarray(total, np.float64)
        )
        return risk

    def _link(self, eta: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        p: npt.NDArray[np.float64] = expit(eta)
        return p

    def _log_odds(
        self, X: npt.NDArray[np.float64], *, contributions: bool
    ) -> tuple[npt.NDArray[np.float64] | None, npt.NDArray[np.float64], float | None]:
        pts = self._bin_points(X)
        eta = self.risk_intercept_ + self.risk_slope_ * pts.sum(axis=1)
        if not contributions:
            return None, eta, None
        phi = self.risk_slope_ * (pts - self.mean_points_)
        base = self.risk_intercept_ + self.risk_slope_ * float(self.mean_points_.sum())
        names = self._feature_names()
        full = np.zeros((len(X), len(names)))  # features off the card contribute 0
        full[:, [f["column"] for f in self.features_]] = phi
        return full, eta, base

    def points(self, X: XLike) -> npt.NDArray[np.int64]:
        """Return each row's total points, what a caseworker adds up from ``card_``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            As passed to ``predict_proba``.

        Returns
        -------
        ndarray of int of shape (n_samples,)
            Totals in ``[0, max_points]``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import PointsScorecard
        >>> X, y = make_classification(n_samples=300, n_features=4, n_redundant=0,
        ...                            random_state=0)
        >>> card = PointsScorecard(max_features=2, max_points=50).fit(X, y)
        >>> card.points(X[:3]).tolist()
        [12, 36, 13]
        """
        check_is_fitted(self)
        return self._total_points(self._check_X(X)[0])

    def to_text(self) -> str:
        """Return the card and the points-to-risk table as plain text, ready to print.

        Returns
        -------
        str
            The instructions, ``card_`` and ``risk_table_`` (risks as percentages).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        >>> from sklearn.datasets import make_classification
        >>> from needsid.models import PointsScorecard
        >>> X, y = make_classification(n_samples=300, n_features=4, n_redundant=0,
        ...                            random_state=0)
        >>> card = PointsScorecard(max_features=2, max_points=50).fit(X, y)
        >>> print(card.to_text())  # doctest: +ELLIPSIS
        Points scorecard: for each feature add the points of the row whose bin holds ...
        <BLANKLINE>
        feature                bin  points
             x0           < -0.531       0
             x0 -0.531 to < 0.0212      13
        ...
        Total points -> risk
         points_from  points_to  households observed_risk predicted_risk
                   0          5          36          0.0%           0.4%
        ...
        """
        check_is_fitted(self)
        table = self.risk_table_.copy()
        for col in ("observed_risk", "predicted_risk"):
            table[col] = table[col].map(lambda v: "-" if np.isnan(v) else f"{v:.1%}")
        card = self.card_.to_string(index=False) if len(self.card_) else "(no features)"
        return (
            "Points scorecard: for each feature add the points of the row whose bin holds "
            f"the household's value (base points 0, total 0-{self.max_points}; more points "
            "= more risk).\n\n"
            f"{card}\n\nTotal points -> risk\n{table.to_string(index=False)}\n"
        )


def _binning_weights(
    sample_weight: npt.NDArray[np.float64] | None,
) -> npt.NDArray[np.float64] | None:
    """Weights for optbinning, whose bins keep weighted counts as int64 (1.0 truncates).

    Integer weights pass as they are (exact, like repeated rows); others are scaled to
    sum to ``BINNING_TOTAL_WEIGHT`` so the truncation is negligible. WoE, IV and
    ``min_bin_size`` are ratios of weighted counts: a common factor leaves them unchanged.
    """
    if sample_weight is None or np.array_equal(sample_weight, np.round(sample_weight)):
        return sample_weight
    scaled: npt.NDArray[np.float64] = sample_weight * (BINNING_TOTAL_WEIGHT / sample_weight.sum())
    return scaled


def _l1_min_c(
    W: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    sample_weight: npt.NDArray[np.float64] | None,
) -> float:
    """Smallest C at which an L1 logistic fit has a non-zero coefficient.

    scikit-learn's ``l1_min_c`` has no ``sample_weight``; liblinear scales each row's
    loss by its weight, so the weighted bound is ``2 / max|sum_i w_i y_i x_i|`` (y = +-1,
    intercept column of ones), which is ``l1_min_c`` when all weights are 1.
    """
    if sample_weight is None:
        unweighted: float = l1_min_c(W, y, loss="log")
        return unweighted
    signed = sample_weight * np.where(y == 1, 1.0, -1.0)
    weighted: float = 2.0 / max(np.abs(signed @ W).max(), abs(signed.sum()))
    return weighted


def _mean(
    y: npt.NDArray[np.int64],
    sample_weight: npt.NDArray[np.float64] | None,
    rows: npt.NDArray[np.bool_],
) -> float:
    if sample_weight is None:
        return float(y[rows].mean())
    return float(np.average(y[rows], weights=sample_weight[rows]))


def _woe_of(x: npt.NDArray[np.float64], b: _Binning) -> npt.NDArray[np.float64]:
    return b["woe"][_bin_index(x, b["splits"])]


def _bin_index(
    x: npt.NDArray[np.float64], splits: npt.NDArray[np.float64]
) -> npt.NDArray[np.intp]:
    """Bin of each value: ``x < s_0`` -> 0, ..., ``x >= s_last`` -> len(splits); NaN last."""
    idx = np.searchsorted(splits, x, side="right")
    idx[np.isnan(x)] = len(splits) + 1
    return idx


def _round_splits(splits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    for digits in range(3, 18):
        rounded = np.array([float(f"{s:.{digits}g}") for s in splits])
        if np.all(np.diff(rounded) > 0):
            return rounded
    return splits


def _largest_remainder(weights: npt.NDArray[np.float64], total: int) -> npt.NDArray[np.int64]:
    """Integers proportional to ``weights`` summing to ``total`` (Hamilton's method)."""
    if len(weights) == 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = weights / weights.sum() * total
    out: npt.NDArray[np.int64] = np.floor(exact).astype(np.int64)
    out[np.argsort(-(exact - out), kind="stable")[: total - out.sum()]] += 1
    return out


def _fmt(v: float) -> str:
    return np.format_float_positional(v, trim="-")


def _bin_labels(splits: npt.NDArray[np.float64], integer: bool) -> list[str]:
    """Human-readable bins matching ``_bin_index``: ``< a``, ``a to < b``, ``>= b``."""
    if len(splits) == 0:
        return ["any value"]
    if integer:  # integer-valued feature: show whole-number ranges
        lows = [None] + [int(np.ceil(s)) for s in splits]
        highs = [int(np.ceil(s)) - 1 for s in splits] + [None]
        labels = []
        for lo, hi in zip(lows, highs, strict=True):
            if lo is None:
                labels.append(f"<= {hi}")
            elif hi is None:
                labels.append(f">= {lo}")
            else:
                labels.append(f"= {lo}" if lo == hi else f"{lo} to {hi}")
        return labels
    edges = [_fmt(s) for s in splits]
    middle = [f"{a} to < {b}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return [f"< {edges[0]}", *middle, f">= {edges[-1]}"]
