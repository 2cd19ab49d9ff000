"""Mitigations compared on one split: what each costs in overall exclusion error.

No mitigation, group-aware capacity allocation (per-group top-k), fairlearn's
``ThresholdOptimizer`` and ``ExponentiatedGradient``, scored on the same test households
with one paired bootstrap, in the long shape of :func:`needsid.evaluate.compare`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GroupShuffleSplit

from .._compat import pandas4_warnings_ignored
from .._deprecate import renamed_keywords
from ..evaluate import select_top
from ..evaluate._metrics import _capacity_count
from ._counts import group_counts, rates, weighted_bincount
from ._sensitive import SensitiveFeatures, group_keys, sensitive_frame

if TYPE_CHECKING:
    from lightgbm import LGBMClassifier

    from ..evaluate import TemporalSplit

__all__ = [
    "MITIGATIONS",
    "MitigationComparison",
    "allocate_top",
    "compare_mitigations",
    "reserve_outreach",
]

MITIGATIONS = ("none", "group_topk", "threshold_optimizer", "exponentiated_gradient")
#: ``outreach`` needs an ``outreach_pool``: it is offered, not run by default.
KNOWN = (*MITIGATIONS, "outreach")
CONSTRAINTS = ("true_positive_rate_parity", "equalized_odds")
ALLOCATIONS = ("need", "size")
#: Methods that rank by the base model's scores and flag exactly the capacity.
_TOP_K = ("none", "group_topk", "outreach")


@dataclass(frozen=True)
class MitigationComparison:
    """One row per mitigation and metric: estimate and paired bootstrap 95% interval.

    Made by :func:`compare_mitigations`; the fields are also attributes.

    Parameters
    ----------
    table : pandas.DataFrame
        ``model`` (the mitigation), ``metric``, ``estimate``, ``lo``, ``hi``: the long
        shape of :class:`needsid.evaluate.Comparison`, so the two tables concatenate.
        Metrics: ``exclusion_error`` (needy not flagged / needy), ``inclusion_error``
        (flagged not needy / flagged), ``selection_rate``, ``flagged``,
        ``fnr_max_ratio`` and ``fnr_max_difference`` (highest over lowest group FNR,
        and their gap) and ``fnr[<group>]`` per group.
    flags : pandas.DataFrame
        Test households x mitigations: who each one flags.
    scores : numpy.ndarray
        The base model's scores on the test households.
    capacity : float or int
        The capacity the mitigations were compared at (a share or a count).
    sensitive_groups : tuple of str
        The sensitive groups' labels (intersections joined by ``" & "``), in the order
        of the ``fnr[...]`` rows. Formerly ``groups``, a name that means capacity groups
        elsewhere in needsid.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from needsid.fairness import MitigationComparison
    >>> table = pd.DataFrame({"model": ["none", "none"], "metric": ["exclusion_error", "flagged"],
    ...                       "estimate": [0.5, 2.0], "lo": [0.2, 2.0], "hi": [0.8, 2.0]})
    >>> mit = MitigationComparison(table, pd.DataFrame({"none": [True, True, False]}),
    ...                            np.array([0.9, 0.8, 0.1]), 2, ("a", "b"))
    >>> mit.to_frame().loc["none"].to_dict()
    {'exclusion_error': 0.5, 'flagged': 2.0}
    """

    table: pd.DataFrame
    flags: pd.DataFrame
    scores: np.ndarray
    capacity: float | int
    sensitive_groups: tuple[str, ...]

    @property
    def groups(self) -> tuple[str, ...]:
        """Deprecated: renamed ``sensitive_groups`` (``groups`` means capacity groups)."""
        warnings.warn(
            "MitigationComparison.groups is renamed sensitive_groups; use sensitive_groups. "
            "groups will stop working in the next release.",
            FutureWarning,
            stacklevel=2,
        )
        return self.sensitive_groups

    def to_frame(self, wide: bool = True) -> pd.DataFrame:
        """Return one row per mitigation (``wide``) or the long table.

        Parameters
        ----------
        wide : bool, default=True
            One row per mitigation and one column per metric (the estimates); False
            returns a copy of ``table`` with the intervals.

        Returns
        -------
        pandas.DataFrame
            The estimates, mitigations in the order compared.

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> from needsid.fairness import MitigationComparison
        >>> table = pd.DataFrame({"model": ["none", "group_topk"], "metric": "flagged",
        ...                       "estimate": [2.0, 2.0], "lo": 2.0, "hi": 2.0})
        >>> mit = MitigationComparison(table, pd.DataFrame(), np.array([]), 2, ())
        >>> mit.to_frame()["flagged"].to_dict()
        {'none': 2.0, 'group_topk': 2.0}
        >>> mit.to_frame(wide=False).columns.tolist()
        ['model', 'metric', 'estimate', 'lo', 'hi']
        """
        if not wide:
            return self.table.copy()
        est = self.table.pivot(index="model", columns="metric", values="estimate")
        order = list(dict.fromkeys(self.table["metric"]))
        return est[order].loc[self.table["model"].unique()]


@renamed_keywords(groups="sensitive_features")
def allocate_top(
    scores: npt.ArrayLike,
    capacity: float,
    *,
    sensitive_features: SensitiveFeatures,
    by: str = "need",
    capacity_groups: npt.ArrayLike | None = None,
) -> npt.NDArray[np.bool_]:
    """Flag the top scores within each sensitive group, capacity shared by need or size.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Risk scores (probabilities when ``by="need"``).
    capacity : float or int
        A share in (0, 1] or a count, as in :func:`needsid.evaluate.select_top`; with
        ``capacity_groups`` it applies within each of them (e.g. per region).
    sensitive_features : array-like, list, Series, DataFrame or dict
        Sensitive group of each household, in any form :func:`audit` accepts; several
        attributes form intersections. Formerly ``groups``, accepted for one release
        with a FutureWarning.
    by : {"need", "size"}, default="need"
        Share of the capacity each group gets: its estimated number of needy
        households (the sum of its scores) or its number of households. Whole
        households are handed out by largest remainder; no group gets more than its size.
    capacity_groups : array-like of shape (n,), optional
        E.g. region: every one keeps its own capacity, divided among its groups.

    Returns
    -------
    ndarray of bool
        Exactly the capacity is flagged (per capacity group).

    Raises
    ------
    ValueError
        For an unknown ``by`` or inputs of different lengths.

    Examples
    --------
    >>> s, g = [0.9, 0.8, 0.7, 0.2, 0.1, 0.1], ["a", "a", "a", "b", "b", "b"]
    >>> allocate_top(s, 3, sensitive_features=g)  # need: a 2.4, b 0.4 -> 2.57 and 0.43
    array([ True,  True,  True, False, False, False])
    >>> allocate_top(s, 4, sensitive_features=g, by="size")
    array([ True,  True, False,  True,  True, False])
    """
    if by not in ALLOCATIONS:
        raise ValueError(f"Got by={by!r}; expected one of {ALLOCATIONS}.")
    s = np.asarray(scores, dtype=float)
    g = group_keys(sensitive_frame(sensitive_features, len(s), "scores"))
    cells = np.zeros(len(s), dtype=int) if capacity_groups is None else capacity_groups
    cells = pd.factorize(np.asarray(cells))[0]
    flag = np.zeros(len(s), dtype=bool)
    for c in np.unique(cells):
        idx = np.flatnonzero(cells == c)
        k = _capacity_count(capacity, len(idx))
        keys, codes = np.unique(g[idx], return_inverse=True)
        size = np.bincount(codes, minlength=len(keys)).astype(float)
        weight = weighted_bincount(codes, s[idx], len(keys)) if by == "need" else size
        quota = _largest_remainder(k, weight, size)
        for j in range(len(keys)):
            members = idx[codes == j]
            flag[members[np.argsort(-s[members], kind="stable")[: quota[j]]]] = True
    return flag


@renamed_keywords(groups="capacity_groups")
def reserve_outreach(
    scores: npt.ArrayLike,
    pool: npt.ArrayLike,
    capacity: float,
    share: float,
    capacity_groups: npt.ArrayLike | None = None,
) -> npt.NDArray[np.bool_]:
    """Flag the capacity with a slice reserved for an outreach pool, the rest by score.

    Routing via coverage: households with thin records (e.g. a high
    ``invisibility_score``) are the ``pool``; ``share`` of the capacity goes to the
    highest-scored of them (for manual outreach), the rest to the highest scores
    among everyone not yet flagged. The total is the capacity, as without the slice.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Risk scores; higher is flagged first.
    pool : array-like of bool, shape (n,)
        Households eligible for the outreach slice.
    capacity : float or int
        A share in (0, 1] or a count (per capacity group with ``capacity_groups``).
    share : float
        Share of the capacity reserved for the pool, in [0, 1]; fewer if the pool is
        smaller.
    capacity_groups : array-like of shape (n,), optional
        E.g. region: each keeps its own capacity and slice. Formerly ``groups``,
        accepted for one release with a FutureWarning (this is the name
        :func:`allocate_top` and :func:`compare_mitigations` use).

    Returns
    -------
    ndarray of bool
        Exactly the capacity is flagged (per capacity group), the pool's slice first.

    Raises
    ------
    ValueError
        If ``pool`` and ``scores`` differ in length or ``share`` is outside [0, 1].

    Examples
    --------
    >>> reserve_outreach([0.9, 0.8, 0.7, 0.1], [False, False, False, True], 2, share=0.5)
    array([ True, False, False,  True])
    """
    s = np.asarray(scores, dtype=float)
    pool = np.asarray(pool).astype(bool)
    if len(pool) != len(s):
        raise ValueError(f"Got {len(pool)} pool values for {len(s)} scores.")
    if not 0 <= share <= 1:
        raise ValueError(f"Got share={share!r}; expected a share of the capacity in [0, 1].")
    cells = (
        np.zeros(len(s), dtype=int)
        if capacity_groups is None
        else pd.factorize(np.asarray(capacity_groups))[0]
    )
    flag = np.zeros(len(s), dtype=bool)
    for c in np.unique(cells):
        idx = np.flatnonzero(cells == c)
        k = _capacity_count(capacity, len(idx))
        in_pool = idx[pool[idx]]
        k_out = min(int(round(share * k)), len(in_pool))
        if k_out:
            flag[in_pool[select_top(s[in_pool], k_out)]] = True
        rest = idx[~flag[idx]]
        if k - k_out:
            flag[rest[select_top(s[rest], k - k_out)]] = True
    return flag


def _largest_remainder(
    k: int, weight: npt.NDArray[np.float64], size: npt.NDArray[np.float64]
) -> npt.NDArray[np.int_]:
    """Split ``k`` whole places in proportion to ``weight``, at most ``size`` each."""
    quota = np.zeros(len(weight), dtype=int)
    size = size.astype(int)
    left = min(k, int(size.sum()))
    while left > 0:
        room = size - quota
        w = np.where(room > 0, weight, 0.0)
        if w.sum() <= 0:  # no estimated need left: share by size
            w = np.where(room > 0, room, 0).astype(float)
        exact = left * w / w.sum()
        add = np.minimum(np.floor(exact).astype(int), room)
        quota += add
        left -= int(add.sum())
        # then one more place each, largest remainder first, where there is room
        for j in np.argsort(-(exact - np.floor(exact)), kind="stable"):
            if left == 0:
                break
            if quota[j] < size[j] and w[j] > 0:
                quota[j] += 1
                left -= 1
    return quota


def _fit_threshold_optimizer(
    model: BaseEstimator,
    constraint: str,
    objective: str,
    X: pd.DataFrame,
    y: npt.NDArray[np.int_],
    sf: pd.Series,
    X_test: pd.DataFrame,
    sf_test: pd.Series,
    seed: int,
) -> npt.NDArray[np.bool_]:
    from fairlearn.postprocessing import ThresholdOptimizer

    to = ThresholdOptimizer(
        estimator=model,
        constraints=constraint,
        objective=objective,
        prefit=True,
        predict_method="predict_proba",
    )
    to.fit(X, y, sensitive_features=sf)
    # its predictions are randomised between two thresholds: fix the draw
    return np.asarray(to.predict(X_test, sensitive_features=sf_test, random_state=seed), bool)


def _fit_exponentiated_gradient(
    base: BaseEstimator,
    constraint: str,
    eps: float,
    max_iter: int,
    X: pd.DataFrame,
    y: npt.NDArray[np.int_],
    sf: pd.Series,
    X_test: pd.DataFrame,
    sf_test: pd.Series,
    seed: int,
) -> npt.NDArray[np.bool_]:
    from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient, TruePositiveRateParity

    moment = TruePositiveRateParity() if constraint == CONSTRAINTS[0] else EqualizedOdds()
    eg = ExponentiatedGradient(base, constraints=moment, eps=eps, max_iter=max_iter)
    with pandas4_warnings_ignored():  # pandas 3 warns inside fairlearn's moments
        eg.fit(X, y, sensitive_features=sf)
    return np.asarray(eg.predict(X_test, random_state=seed), bool)


def _default_eg_estimator(seed: int, n_jobs: int | None) -> LGBMClassifier:
    from lightgbm import LGBMClassifier

    # ExponentiatedGradient refits with new row weights every iteration; a plain booster
    # is cheaper than GBMRiskModel, whose calibration holdout it would refit each time.
    return LGBMClassifier(
        n_estimators=50,
        learning_rate=0.1,
        num_leaves=15,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        n_jobs=n_jobs,
        verbose=-1,
    )


def _sensitive(frame: pd.DataFrame, columns: Sequence[str], where: str) -> pd.Series:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"Sensitive columns {missing!r} are not in split.{where}; add them to both "
            "split.train and split.test (e.g. merged on household_id)."
        )
    keys = group_keys(sensitive_frame(frame[list(columns)], len(frame)))
    return pd.Series(keys, index=frame.index, dtype=object)


@renamed_keywords(sensitive="sensitive_features")
def compare_mitigations(
    estimator: BaseEstimator,
    split: TemporalSplit,
    *,
    sensitive_features: str | Sequence[str],
    capacity: float = 0.05,
    capacity_groups: str | npt.ArrayLike | None = None,
    methods: Sequence[str] = MITIGATIONS,
    constraint: str = "true_positive_rate_parity",
    allocation: str = "need",
    objective: str = "balanced_accuracy_score",
    eg_estimator: BaseEstimator | None = None,
    eps: float = 0.01,
    max_iter: int = 50,
    outreach_pool: str | npt.ArrayLike | None = None,
    outreach_share: float = 0.2,
    features: Sequence[str] | None = None,
    label: str = "in_need",
    postprocess_size: float = 0.25,
    n_boot: int = 200,
    seed: int = 0,
    n_jobs: int | None = None,
) -> MitigationComparison:
    """Compare fairness mitigations on one split: per-group FNR and overall cost.

    The training households are divided once (grouped by household, ``seed``) into a
    fitting part and a ``postprocess_size`` part. ``estimator`` is fitted on the first
    and scores the test households; ``threshold_optimizer`` learns its group thresholds
    on the second (out-of-sample scores); ``exponentiated_gradient`` is fitted on the
    first. Then, on the test households:

    - ``none``: the top ``capacity`` by score (per ``capacity_groups`` if given).
    - ``group_topk``: the same capacity shared among sensitive groups in proportion to
      their estimated need (``allocation="need"``: the sum of their scores) or their
      size (``"size"``), top scores within each (:func:`allocate_top`).
    - ``threshold_optimizer``: fairlearn's ``ThresholdOptimizer`` on the prefit
      estimator (``predict_method="predict_proba"``, ``objective``), its randomised
      predictions drawn with ``seed``.
    - ``exponentiated_gradient``: fairlearn's ``ExponentiatedGradient`` on
      ``eg_estimator`` (default: a plain ``lightgbm.LGBMClassifier``, because it must
      accept ``sample_weight``), predictions drawn with ``seed``.
    - ``outreach`` (when asked for): routing via coverage, ``outreach_share`` of the
      capacity reserved for the ``outreach_pool`` (e.g. a high coverage feature
      ``invisibility_score``), the rest by score (:func:`reserve_outreach`).

    The two fairlearn methods give hard predictions, not a fixed count: their
    ``selection_rate`` and ``flagged`` rows show how far they are from the capacity,
    so read their exclusion error together with them. Intervals come from one paired
    bootstrap of test households; the top-k methods re-select within each resample
    (as :func:`needsid.evaluate.compare` does), the others keep their flags.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        E.g. :class:`needsid.models.GBMRiskModel`; cloned, never modified.
    split : needsid.evaluate.TemporalSplit
        Training and test households, e.g. from :func:`needsid.evaluate.temporal_split`.
    sensitive_features : str or list of str
        Column(s) of ``split.train`` and ``split.test``; several form intersections.
        Labels are ``str(value)`` as in :func:`audit`. Formerly ``sensitive``, accepted
        for one release with a FutureWarning.
    capacity : float or int, default=0.05
        Share or count of test households flagged (per capacity group).
    capacity_groups : str or array-like, optional
        A column of ``split.test`` or one value per test household (e.g. region):
        each gets its own capacity.
    methods : sequence of str, default=MITIGATIONS
        The mitigations to compare, in table order: some of ``MITIGATIONS`` and
        ``"outreach"``.
    constraint : {"true_positive_rate_parity", "equalized_odds"}
        Parity both fairlearn methods aim for.
    allocation : {"need", "size"}, default="need"
        How ``group_topk`` shares the capacity (``by`` of :func:`allocate_top`).
    objective : str, default="balanced_accuracy_score"
        ThresholdOptimizer's objective.
    eg_estimator : classifier accepting ``sample_weight``, optional
        The estimator ExponentiatedGradient reweighs; default a small LightGBM booster.
    eps : float, default=0.01
        Allowed constraint violation of ExponentiatedGradient.
    max_iter : int, default=50
        ExponentiatedGradient's iterations (one booster fitted per iteration).
    outreach_pool : str or array-like of bool, optional
        A boolean column of ``split.test`` or one value per test household; needed by
        ``outreach``.
    outreach_share : float, default=0.2
        Share of the capacity reserved for the pool (``share`` of
        :func:`reserve_outreach`).
    features : list of str, optional
        Columns the models see (default ``split.features``), e.g. without a family.
    label : str, default="in_need"
        The label column of ``split.train`` and ``split.test``.
    postprocess_size : float, default=0.25
        Share of the training households held out for ``threshold_optimizer``.
    n_boot : int, default=200
        Paired bootstrap resamples of the test households (0: no intervals).
    seed : int, default=0
        Seeds the training division, the fairlearn draws and the bootstrap.
    n_jobs : int, optional
        Threads of the default ExponentiatedGradient booster.

    Returns
    -------
    MitigationComparison
        One row per mitigation and metric, with the flags of each.

    Raises
    ------
    ValueError
        For unknown methods, constraint or allocation, a missing ``outreach_pool``,
        sensitive columns missing from the split, and inputs of the wrong length.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.models import GBMRiskModel
    >>> pop = ni.simulate(n_households=1500, months=18, seed=0)
    >>> split = ni.evaluate.temporal_split(pop, ["2023-07-01"], "2024-01-01")
    >>> mit = compare_mitigations(GBMRiskModel(n_estimators=10, n_jobs=1), split,
    ...                           sensitive_features="urban", methods=("none", "group_topk"),
    ...                           capacity=0.1, n_boot=5)
    >>> mit.sensitive_groups  # urban is a 0/1 feature in the split
    ('0.0', '1.0')
    >>> list(mit.to_frame().index)
    ['none', 'group_topk']
    """
    unknown = [m for m in methods if m not in KNOWN]
    if unknown or not len(methods):
        raise ValueError(f"Got methods={list(methods)!r}; expected some of {KNOWN}.")
    pool = None
    if "outreach" in methods:
        if outreach_pool is None:
            raise ValueError(
                "Method 'outreach' needs outreach_pool: a boolean column of split.test, "
                "e.g. households with invisibility_score >= 0.8."
            )
        pool = np.asarray(
            split.test[outreach_pool] if isinstance(outreach_pool, str) else outreach_pool
        ).astype(bool)
        if len(pool) != len(split.test):
            raise ValueError(
                f"Got {len(pool)} outreach_pool values for {len(split.test)} test households."
            )
    if constraint not in CONSTRAINTS:
        raise ValueError(f"Got constraint={constraint!r}; expected one of {CONSTRAINTS}.")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"Got allocation={allocation!r}; expected one of {ALLOCATIONS}.")
    if not 0 < postprocess_size < 1:
        raise ValueError(f"Got postprocess_size={postprocess_size!r}; expected a share in (0, 1).")
    # column names of split.train and split.test: the model is refitted, so values alone
    # (a Series) cannot follow the households into the training rows
    if isinstance(sensitive_features, str):
        columns = [sensitive_features]
    elif isinstance(sensitive_features, list | tuple) and all(
        isinstance(c, str) for c in sensitive_features
    ):
        columns = list(sensitive_features)
    else:
        raise TypeError(
            "compare_mitigations takes sensitive_features as column names of split.train "
            f"and split.test (a str or a list of str); got a {type(sensitive_features).__name__}."
        )
    cols = list(split.features if features is None else features)
    sf_train = _sensitive(split.train, columns, "train")
    sf_test = _sensitive(split.test, columns, "test")
    cap_groups = None
    if isinstance(capacity_groups, str):
        if capacity_groups not in split.test.columns:
            raise ValueError(
                f"Got capacity_groups={capacity_groups!r}, which is not a column of "
                f"split.test; add it or pass one value per test household."
            )
        cap_groups = split.test[capacity_groups].to_numpy()
    elif capacity_groups is not None:
        cap_groups = np.asarray(capacity_groups)
        if len(cap_groups) != len(split.test):
            raise ValueError(
                f"Got {len(cap_groups)} capacity_groups for {len(split.test)} test households."
            )
    y_train = split.train[label].to_numpy().astype(int)
    y = split.test[label].to_numpy().astype(bool)
    X_test = split.X_test[cols] if features is None else split.test[cols]
    X_train = split.train[cols]
    fit_idx, post_idx = next(
        GroupShuffleSplit(n_splits=1, test_size=postprocess_size, random_state=seed).split(
            X_train, y_train, groups=split.train["household_id"]
        )
    )
    X_fit, y_fit, sf_fit = X_train.iloc[fit_idx], y_train[fit_idx], sf_train.iloc[fit_idx]
    model = clone(estimator).fit(X_fit, y_fit)
    scores = model.predict_proba(X_test)[:, 1]
    sf = sf_test.to_numpy()

    def top_k(name: str, idx: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        cg = None if cap_groups is None else cap_groups[idx]
        if name == "none":
            return select_top(scores[idx], capacity, cg)
        if name == "group_topk":
            return allocate_top(
                scores[idx],
                capacity,
                sensitive_features=sf[idx],
                by=allocation,
                capacity_groups=cg,
            )
        assert pool is not None  # checked above: "outreach" is one of the methods
        return reserve_outreach(scores[idx], pool[idx], capacity, outreach_share, cg)

    flags: dict[str, npt.NDArray[np.bool_]] = {}
    for m in methods:
        if m in _TOP_K:
            flags[m] = top_k(m, np.arange(len(y)))
        elif m == "threshold_optimizer":
            flags[m] = _fit_threshold_optimizer(
                model,
                constraint,
                objective,
                X_train.iloc[post_idx],
                y_train[post_idx],
                sf_train.iloc[post_idx],
                X_test,
                sf_test,
                seed,
            )
        else:
            base = _default_eg_estimator(seed, n_jobs) if eg_estimator is None else eg_estimator
            flags[m] = _fit_exponentiated_gradient(
                clone(base),
                constraint,
                eps,
                max_iter,
                X_fit,
                y_fit,
                sf_fit,
                X_test,
                sf_test,
                seed,
            )
    keys, codes = np.unique(sf_test.to_numpy(), return_inverse=True)
    table = _bootstrap_table(flags, top_k, y, codes, keys, n_boot, seed)
    return MitigationComparison(
        table, pd.DataFrame(flags), scores, capacity, tuple(str(k) for k in keys)
    )


def _metrics(
    y: npt.NDArray[np.bool_],
    flag: npt.NDArray[np.bool_],
    codes: npt.NDArray[np.intp],
    keys: npt.NDArray[Any],
) -> dict[str, float]:
    c = group_counts(codes, len(keys), y, flag)
    r = rates(c)
    tp, fp, fn = c["tp"].sum(), c["fp"].sum(), c["fn"].sum()
    fnr = r["fnr"]
    finite = fnr[np.isfinite(fnr)]
    out = {
        "exclusion_error": fn / (tp + fn) if tp + fn else np.nan,
        "inclusion_error": fp / (tp + fp) if tp + fp else np.nan,
        "selection_rate": flag.mean() if len(flag) else np.nan,
        "flagged": float(flag.sum()),
        "fnr_max_ratio": (
            finite.max() / finite.min() if len(finite) and finite.min() > 0 else np.nan
        ),
        "fnr_max_difference": finite.max() - finite.min() if len(finite) else np.nan,
    }
    out |= {f"fnr[{k}]": v for k, v in zip(keys, fnr, strict=True)}
    return out


def _bootstrap_table(
    flags: Mapping[str, npt.NDArray[np.bool_]],
    top_k: Callable[[str, npt.NDArray[np.intp]], npt.NDArray[np.bool_]],
    y: npt.NDArray[np.bool_],
    codes: npt.NDArray[np.intp],
    keys: npt.NDArray[Any],
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(y)
    boots = [rng.integers(0, n, n) for _ in range(n_boot)]
    rows = []
    for name, flag in flags.items():

        def flags_of(
            idx: npt.NDArray[np.intp], name: str = name, flag: npt.NDArray[np.bool_] = flag
        ) -> npt.NDArray[np.bool_]:
            # fixed-count methods re-select within the resample, as evaluate.compare does
            return top_k(name, idx) if name in _TOP_K else flag[idx]

        point = _metrics(y, flag, codes, keys)
        samples = pd.DataFrame(
            [_metrics(y[b], flags_of(b), codes[b], keys) for b in boots], columns=list(point)
        )
        for metric, value in point.items():
            lo = hi = np.nan
            col = samples[metric].to_numpy(dtype=float)
            if n_boot and np.isfinite(col).any():
                lo, hi = np.nanpercentile(col, [2.5, 97.5])
            rows.append(
                {
                    "model": name,
                    "metric": metric,
                    "estimate": float(value),
                    "lo": float(lo),
                    "hi": float(hi),
                }
            )
    return pd.DataFrame(rows)
