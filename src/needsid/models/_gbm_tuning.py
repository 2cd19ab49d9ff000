"""Inner cross-validation for GBMRiskModel: grouped folds, a grid, early stopping.

``GBMRiskModel(tuning="inner_cv")`` scores each candidate with ``lightgbm.cv`` (one
booster per fold, stopped on the folds' mean log loss) and keeps the best candidate's
out-of-fold scores for the calibration map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import Any, cast

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.utils import check_random_state

__all__ = [
    "EARLY_STOPPING_ROUNDS",
    "SMALL_DATA_GRID",
    "TUNABLE",
    "GridSearch",
    "inner_folds",
    "search_grid",
]

#: Parameters ``param_grid`` may vary; ``n_estimators`` is chosen by early stopping.
TUNABLE = (
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "max_depth",
    "subsample",
    "colsample_bytree",
    "reg_lambda",
)
#: Grid searched by ``tuning="inner_cv"`` when ``param_grid`` is None: 12 candidates,
#: from trees of 4 leaves to 16, with and without an L2 penalty, on a third of the
#: columns or most of them (few columns per tree suit the many one-hot and correlated
#: columns of household data).
SMALL_DATA_GRID: dict[str, list[Any]] = {
    "num_leaves": [4, 8, 16],
    "reg_lambda": [0.0, 10.0],
    "colsample_bytree": [0.3, 0.7],
}
#: Inner CV stops adding trees when the folds' mean log loss has not improved for this
#: many rounds.
EARLY_STOPPING_ROUNDS = 50

#: ``(train, valid)`` row indices of one fold.
Fold = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]


@dataclass(frozen=True)
class GridSearch:
    """What the inner CV found.

    Attributes
    ----------
    best_params : dict
        The chosen candidate and its ``n_estimators``.
    results : pandas.DataFrame
        One row per candidate: its parameters, ``n_estimators``, ``log_loss``,
        ``log_loss_sd`` and ``rank`` (1 is chosen).
    oof_raw : ndarray of shape (n_samples,)
        The chosen candidate's out-of-fold raw scores (log-odds), one per row.
    """

    best_params: dict[str, Any]
    results: pd.DataFrame
    oof_raw: npt.NDArray[np.float64]


def inner_folds(
    y: npt.NDArray[np.int64],
    groups: npt.NDArray[Any] | None,
    n_folds: int,
    random_state: int | np.random.RandomState | None,
) -> list[Fold]:
    """Stratified ``(train, valid)`` row indices; no group is on both sides of a fold.

    Fewer than ``n_folds`` folds when a class has fewer groups (a group holding both
    classes counts for each).

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    >>> groups = np.array(["a", "a", "b", "b", "c", "c", "d", "d"])
    >>> folds = inner_folds(y, groups, 2, 0)
    >>> len(folds), all(not set(groups[t]) & set(groups[v]) for t, v in folds)
    (2, True)
    >>> sorted(g for _, v in folds for g in np.unique(groups[v]).tolist())
    ['a', 'b', 'c', 'd']
    """
    labels = np.arange(len(y)) if groups is None else groups
    per_class = min(len(np.unique(labels[y == c])) for c in np.unique(y))
    k = min(n_folds, per_class)
    if k < 2:
        raise ValueError(
            f"Got a class with {per_class} group(s) of rows; splitting the rows into folds "
            "needs at least 2 groups (e.g. households) of each class. Pass more data or "
            "tuning=None and calibration=None."
        )
    rows = np.zeros((len(y), 1))
    if groups is None:  # the same kind of folds without StratifiedGroupKFold's group loop
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state)
        return list(cv.split(rows, y))
    grouped = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state)
    return list(grouped.split(rows, y, groups))


def search_grid(
    params: Mapping[str, Any],
    grid: Iterable[dict[str, Any]],
    X: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    sample_weight: npt.NDArray[np.float64] | None,
    folds: list[Fold],
    max_rounds: int,
    random_state: int | np.random.RandomState | None,
) -> GridSearch:
    """Score every candidate of ``grid`` (over ``params``) on ``folds``; keep the best.

    Each candidate trains one booster per fold, up to ``max_rounds`` rounds, and stops
    when the folds' mean log loss has not improved for ``EARLY_STOPPING_ROUNDS``; its
    score is the mean log loss at the best round. A tie keeps the earlier candidate.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    >>> folds = inner_folds(y, None, 3, 0)
    >>> base = dict(learning_rate=0.1, random_state=0, n_jobs=1, verbose=-1)
    >>> grid = [{"num_leaves": 4}, {"num_leaves": 8}]
    >>> found = search_grid(base, grid, X, y, None, folds, 50, 0)
    >>> sorted(found.best_params), found.oof_raw.shape
    (['n_estimators', 'num_leaves'], (200,))
    """
    native = _native_params(params, random_state)
    rows: list[dict[str, Any]] = []
    best: dict[str, Any] = {}
    oof = np.zeros(len(y))
    for candidate in grid:
        lightgbm_candidate = {
            k: -1 if k == "max_depth" and v is None else v for k, v in candidate.items()
        }
        result = lgb.cv(
            {**native, **lightgbm_candidate},
            lgb.Dataset(X, y, weight=sample_weight),
            num_boost_round=max_rounds,
            folds=folds,
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
            return_cvbooster=True,
        )
        curve = np.asarray(result["valid binary_logloss-mean"])
        rounds = int(np.argmin(curve)) + 1
        loss = float(curve[rounds - 1])
        sd = float(np.asarray(result["valid binary_logloss-stdv"])[rounds - 1])
        rows.append({**candidate, "n_estimators": rounds, "log_loss": loss, "log_loss_sd": sd})
        if not best or loss < best["log_loss"]:
            best = rows[-1]
            boosters = cast("lgb.CVBooster", result["cvbooster"]).boosters
            for booster, (_, valid) in zip(boosters, folds, strict=True):
                oof[valid] = booster.predict(X[valid], raw_score=True, num_iteration=rounds)
    results = pd.DataFrame(rows)
    results["rank"] = results["log_loss"].rank(method="first").astype(np.int64)
    best_params = {k: v for k, v in best.items() if k in TUNABLE or k == "n_estimators"}
    return GridSearch(best_params=best_params, results=results, oof_raw=oof)


#: scikit-learn-style LightGBM parameter -> its name in LightGBM's own API
_NATIVE = {
    "n_jobs": "num_threads",
    "random_state": "seed",
    "verbose": "verbosity",
}


def _native_params(
    params: Mapping[str, Any], random_state: int | np.random.RandomState | None
) -> dict[str, Any]:
    """Translate LGBMClassifier parameters into ``lightgbm.cv``'s (binary log loss)."""
    native = {
        _NATIVE.get(k, k): v
        for k, v in params.items()
        if k not in ("n_estimators", "random_state") and not (k == "n_jobs" and v is None)
    }
    if "random_state" in params:
        native.update(objective="binary", metric="binary_logloss")
        if isinstance(random_state, Integral):
            native["seed"] = int(random_state)
        elif random_state is not None:  # a RandomState: draw a seed, as LightGBM does
            native["seed"] = int(check_random_state(random_state).randint(2**31 - 1))
    return native
