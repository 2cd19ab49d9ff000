"""Source ablation: what each department's records are worth to the model, the data and the rules.

One department's records at a time are removed from a simulated bundle (or added to a
base), and the risk model is refitted on what is left; the change in exclusion error at
the capacity, in households with no data and in each cross-check's recall says which
departments to connect first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl

from .. import features, labels
from .._dates import as_date, months_before
from .._progress import step, track
from ..data import HouseholdData, record_vocabulary
from ..simulation import SimulatedPopulation
from ._ablation_measures import (
    coverage,
    cross_check_table,
    paired_deltas,
    recalls,
    scenario_table,
)
from ._compare import Comparison, compare
from ._metrics import as_capacity
from ._split import TemporalSplit, temporal_split

if TYPE_CHECKING:
    from ..features import FeatureSpec
    from ..rules import RuleSet

__all__ = ["CROSS_CHECK_ANOMALIES", "SourceAblation", "source_ablation"]

#: How departments are ablated: taken one at a time from all of them, or added one at a
#: time to a base.
MODES = ("remove", "add")
#: The base of ``mode="add"``: the social-assistance office's own records (payments,
#: applications, casework). The households, members and regions tables are always kept.
DEFAULT_BASE = ("civil_affairs",)
#: Cross-check rule id -> the injected anomaly (``truth.anomalies``) it is meant to find.
CROSS_CHECK_ANOMALIES: Mapping[str, str] = {
    "disability_subsidy_with_tekun": "duplicate_benefit",
    "paid_after_death": "paid_after_death",
    "paid_in_prison": "paid_in_prison",
    "dibao_asset_vehicle": "asset_vehicle",
    "dibao_asset_business": "asset_business",
    "dibao_asset_property": "asset_property",
    "dibao_asset_deposit": "asset_deposit",
}
_MODEL = "model"


@dataclass(frozen=True)
class SourceAblation:
    """Each department's worth, measured by taking it away (or adding it) and refitting.

    Built by :func:`source_ablation`. Every ``delta_`` column is the scenario minus the
    baseline (the first row): with ``mode="remove"`` a positive change in exclusion error
    means the department's records help the model; with ``mode="add"`` a negative one
    does.

    Parameters
    ----------
    table : polars.DataFrame
        One row per scenario, the baseline first: ``scenario``, ``source`` (null on the
        baseline), ``records`` (records kept), ``no_data_share`` (households alive at the
        test date with no record of any kept department in the features' look-back) and
        ``invisible_share`` (invisibility score at or above the threshold: most core
        departments silent), ``exclusion_error`` at the capacity against the truth with
        its interval ``exclusion_error_lo``/``_hi``, ``auc``, ``exclusion_error_labels``
        (against the bundle's own labels, as a county would measure it), the ``delta_``
        of each with 95% intervals for the exclusion errors, and
        ``delta_recall_<rule_id>`` per cross-check.
    cross_checks : polars.DataFrame
        One row per scenario and cross-check: ``scenario, source, rule_id, anomaly,
        anomalies, found, recall, delta_recall``.
    comparison : Comparison
        Every targeting metric of every scenario's model with intervals, and its test
        scores (``comparison.scores``, one column per scenario).
    mode : {"remove", "add"}
        How the departments were ablated.
    base : tuple of str
        Departments whose records the baseline holds (those present in the bundle).
    sources : tuple of str
        The departments ablated, in row order.
    capacity : float or int
        Share or count of test households flagged.
    train_as_of : tuple of datetime.date
        Training dates.
    test_as_of : datetime.date
        Test date (model metrics and data coverage).
    rules_as_of : datetime.date
        Date the cross-checks were evaluated at (the population's extraction date).
    label_source : str
        Label source the models were trained on.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.evaluate import source_ablation
    >>> from needsid.models import GBMRiskModel
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> res = source_ablation(pop, "vehicles", mode="add", rules=None, n_boot=0,
    ...                       model=GBMRiskModel(n_estimators=10, n_jobs=1), horizon_months=3)
    >>> res.mode, res.base, res.sources, res.test_as_of
    ('add', ('civil_affairs',), ('vehicles',), datetime.date(2023, 10, 1))
    >>> list(res.comparison.scores.columns)
    ['base', 'base + vehicles']
    """

    table: pl.DataFrame
    cross_checks: pl.DataFrame
    comparison: Comparison
    mode: str
    base: tuple[str, ...]
    sources: tuple[str, ...]
    capacity: float | int
    train_as_of: tuple[dt.date, ...]
    test_as_of: dt.date
    rules_as_of: dt.date
    label_source: str


def source_ablation(
    pop: SimulatedPopulation,
    sources: str | Sequence[str] | None = None,
    *,
    mode: str = "remove",
    base: Sequence[str] | None = None,
    model: Any = None,
    capacity: float = 0.05,
    train_as_of: Iterable[str | dt.date] | None = None,
    test_as_of: str | dt.date | None = None,
    horizon_months: int = 6,
    test_size: float = 0.3,
    label_source: str | None = None,
    rules: RuleSet | str | Path | None = "default",
    anomalies: Mapping[str, str] | None = None,
    spec: FeatureSpec | str | Path | dict[str, Any] | None = None,
    invisibility_threshold: float = 0.8,
    n_boot: int = 200,
    seed: int = 0,
) -> SourceAblation:
    """Refit the risk model without each department's records (or with only it added).

    ``mode="remove"`` takes one department's records out of the full bundle at a time;
    ``mode="add"`` starts from the records of ``base`` (default: civil affairs, the
    office that pays the benefits and holds the casework) and adds one department at a
    time, each on its own: to build a connection order, call again with the best one
    added to ``base``. The households, members and regions tables are never removed.

    One leak-free split (:func:`temporal_split`) fixes the households and labels of every
    scenario: the models are trained on the labels a county has (``label_source``, made
    once from the full bundle, so the target never changes with the inputs) and scored on
    the held-out households at ``test_as_of`` against the truth, and against the same
    bundle labels. Only the features change: each scenario's model is ``compare``'d on
    features built from its own records. Intervals come from one paired bootstrap of the
    test households (every scenario sees the same resamples); they do not include the
    variation of refitting the model.

    Parameters
    ----------
    pop : SimulatedPopulation
        A simulated population: its truth scores the models and the cross-checks.
    sources : str or sequence of str, optional
        The departments to ablate (record ``source`` values). Default: every department
        with records in the bundle (with ``mode="add"``, those outside ``base``).
    mode : {"remove", "add"}, default "remove"
        Take each department out of the full bundle, or add each to ``base``.
    base : sequence of str, optional
        With ``mode="add"`` only: the departments every scenario holds (default
        ``("civil_affairs",)``; ``()`` starts from no records at all).
    model : estimator, optional
        An unfitted scikit-learn classifier with ``predict_proba``, cloned for every
        scenario. Default: ``GBMRiskModel(max_depth=6, calibration="centered_isotonic")``
        as in ``configs/train/default.yaml``. It should be deterministic (fixed random state).
    capacity : float or int, default 0.05
        Share of test households (or a count) flagged: the top scores.
    train_as_of : iterable of date or str, optional
        Training dates. Default: ``test_as_of`` minus one and two horizons (those after
        the population's start).
    test_as_of : date or str, optional
        Test date. Default: the last date whose label window the simulation covers
        (its end minus ``horizon_months``).
    horizon_months : int, default 6
        Label window.
    test_size : float, default 0.3
        Share of households held out.
    label_source : str, optional
        Training labels, a source of :func:`needsid.labels.make` (default
        ``needsid.labels.BUNDLE_DEFAULT``; ``"truth"`` for research).
    rules : RuleSet, str, path or None, default "default"
        Rule set whose cross-checks are measured (``needsid.rules.load`` reads a path),
        at the population's extraction date without suppression; None measures none.
    anomalies : mapping of str to str, optional
        Rule id -> the ``truth.anomalies`` anomaly it is meant to find (default
        :data:`CROSS_CHECK_ANOMALIES`: the default cross-checks); rules not in it are
        not measured. A hit finds an anomaly of its household (and person, where the
        anomaly names one).
    spec : FeatureSpec, path, dict or None, optional
        Feature spec (:func:`needsid.features.load_spec`); its look-back and core
        departments also define no data and invisibility.
    invisibility_threshold : float, default 0.8
        Invisibility score from which a household counts as invisible (the default of
        ``needsid.flagging.flag``).
    n_boot : int, default 200
        Bootstrap resamples of the test households (0: no intervals).
    seed : int, default 0
        Seeds the household split and the bootstrap.

    Returns
    -------
    SourceAblation
        The table (one row per scenario, the baseline first), the cross-checks' recall
        and the comparison of the scenarios' models.

    Raises
    ------
    TypeError
        If ``pop`` is not a simulated population.
    ValueError
        If ``sources`` is empty or names a department that is neither in the record
        vocabulary nor in the bundle (the message lists the valid ones), if ``mode`` is
        unknown, ``base`` is given with ``mode="remove"`` or overlaps ``sources``, no
        training date precedes the test date, or a split or label argument is invalid
        (see :func:`temporal_split`).

    Examples
    --------
    >>> import polars as pl
    >>> import needsid as ni
    >>> from needsid.evaluate import source_ablation
    >>> from needsid.models import GBMRiskModel
    >>> pop = ni.simulate(n_households=600, months=12, seed=0)
    >>> res = source_ablation(
    ...     pop, ["banking", "vehicles"], model=GBMRiskModel(n_estimators=20, n_jobs=1),
    ...     horizon_months=3, capacity=0.1, n_boot=20)
    >>> res.table["scenario"].to_list()
    ['all sources', 'without banking', 'without vehicles']
    >>> bool(res.table["delta_no_data_share"][1] > 0)  # banking alone saw some households
    True
    >>> vehicle_check = res.cross_checks.filter(pl.col("rule_id") == "dibao_asset_vehicle")
    >>> vehicle_check.select("source", "found").rows()[2]  # nothing left to find
    ('vehicles', 0)
    >>> source_ablation(pop, ["bank"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Got sources=['bank']; 'bank' is not a department of the records. Valid ...
    """
    if not isinstance(pop, SimulatedPopulation):
        raise TypeError(
            f"Got pop of type {type(pop).__name__}; expected a SimulatedPopulation "
            "(ni.simulate): the ablation scores the models and cross-checks against its truth."
        )
    if mode not in MODES:
        raise ValueError(f"Got mode={mode!r}; expected one of {list(MODES)!r}.")
    cap = as_capacity(capacity)
    if not 0 <= invisibility_threshold <= 1:
        raise ValueError(
            f"Got invisibility_threshold={invisibility_threshold!r}; expected a value in [0, 1]."
        )
    bundle = pop.bundle if pop.bundle.backend == "polars" else pop.bundle.to_polars()
    present = _present(bundle)
    kept, ablated = _scenario_sources(sources, mode, base, present)
    test_date = (
        months_before(pop.end, horizon_months) if test_as_of is None else as_date(test_as_of)
    )
    train_dates = _train_dates(pop, train_as_of, test_date, horizon_months)
    label_source = labels.BUNDLE_DEFAULT if label_source is None else label_source
    spec_ = features.load_spec(spec)
    mapping = CROSS_CHECK_ANOMALIES if anomalies is None else anomalies
    rule_set = _measured_rules(rules, mapping)
    if model is None:
        from ..models import RANKING_CALIBRATION, GBMRiskModel

        model = GBMRiskModel(max_depth=6, calibration=RANKING_CALIBRATION)

    step(f"split and {label_source!r} labels at {len(train_dates) + 1} dates")
    split = temporal_split(
        pop,
        train_dates,
        test_date,
        horizon_months=horizon_months,
        test_size=test_size,
        seed=seed,
        spec=spec_,
        label_source=label_source,
        test_label_source="truth",
    )
    ids = split.test["household_id"]
    y_truth = split.test["in_need"].to_numpy().astype(bool)
    y_labels = _bundle_labels(pop, ids, test_date, horizon_months, label_source)

    scenarios = [(None, kept), *[(s, _with(kept, s, mode)) for s in ablated]]
    scores, rows, checks = {}, [], []
    for source, keep in track(scenarios, f"{len(scenarios)} scenarios: features, model, rules"):
        name = _scenario_name(mode, source)
        sub = _restrict(bundle, keep)
        # the full bundle's features are the split's own
        scenario_split = split if keep == frozenset(present) else _refeatured(split, sub, spec_)
        c = compare({_MODEL: model}, scenario_split, capacity=cap, n_boot=0, seed=seed)
        scores[name] = c.scores[_MODEL].to_numpy()
        no_data, invisible = coverage(sub, test_date, spec_, invisibility_threshold)
        rows.append(
            {
                "scenario": name,
                "source": source,
                "records": sub.records.height,
                "no_data_share": no_data,
                "invisible_share": invisible,
            }
        )
        for check in recalls(rule_set, mapping, sub, pop.end, pop.truth.anomalies):
            checks.append({"scenario": name, "source": source, **check})

    step(f"metrics and {n_boot} paired bootstrap resamples")
    comparison = Comparison.from_scores(scores, y_truth, cap, n_boot=n_boot, seed=seed)
    truth_deltas = paired_deltas(scores, y_truth, cap, n_boot, seed)
    labelled = ~np.isnan(y_labels)
    label_deltas = paired_deltas(
        {k: v[labelled] for k, v in scores.items()}, y_labels[labelled] > 0, cap, n_boot, seed
    )
    table = scenario_table(rows, comparison, truth_deltas, label_deltas, checks)
    return SourceAblation(
        table=table,
        cross_checks=cross_check_table(checks),
        comparison=comparison,
        mode=mode,
        base=tuple(sorted(kept, key=present.index)),
        sources=tuple(ablated),
        capacity=cap,
        train_as_of=split.train_as_of,
        test_as_of=split.test_as_of,
        rules_as_of=pop.end,
        label_source=label_source,
    )


def _present(bundle: HouseholdData) -> list[str]:
    """Return the departments with records, in vocabulary order (others after, sorted)."""
    found = set(bundle.records["source"].cast(pl.String).unique().drop_nulls().to_list())
    vocabulary = [s for s in record_vocabulary() if s in found]
    return vocabulary + sorted(found - set(vocabulary))


def _scenario_sources(
    sources: str | Sequence[str] | None,
    mode: str,
    base: Sequence[str] | None,
    present: list[str],
) -> tuple[frozenset[str], list[str]]:
    """Check the departments; return the baseline's and those to ablate."""
    valid = [*record_vocabulary(), *[s for s in present if s not in record_vocabulary()]]
    if mode == "remove" and base is not None:
        raise ValueError(
            f"Got base={base!r} with mode='remove'; base is the starting point of "
            "mode='add' (removal starts from every department)."
        )
    if mode == "add":
        base_list = list(DEFAULT_BASE if base is None else _as_list(base))
        _check_known("base", base_list, valid, allow_empty=True)
        kept = frozenset(s for s in base_list if s in present)
    else:
        base_list, kept = [], frozenset(present)
    if sources is None:
        chosen = [s for s in present if s not in base_list]
    else:
        chosen = list(dict.fromkeys(_as_list(sources)))
        _check_known("sources", chosen, valid, allow_empty=False)
    overlap = [s for s in chosen if s in base_list]
    if overlap:
        raise ValueError(
            f"Got sources={chosen!r} and base={base_list!r}; {overlap!r} are already in the "
            "base, so adding them changes nothing. Leave them out of one or the other."
        )
    if not chosen:
        raise ValueError(
            "No department to ablate: every department with records is in the base "
            f"{base_list!r}. Pass sources from {valid!r}."
        )
    return kept, chosen


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _check_known(name: str, values: list[str], valid: list[str], *, allow_empty: bool) -> None:
    if not values and not allow_empty:
        raise ValueError(
            f"Got {name}=[]; expected at least one department, e.g. ['banking'], from "
            f"{valid!r} (or None for every department with records)."
        )
    unknown = [s for s in values if s not in valid]
    if unknown:
        listed = ", ".join(repr(s) for s in unknown)
        raise ValueError(
            f"Got {name}={values!r}; {listed} {'is' if len(unknown) == 1 else 'are'} not a "
            f"department of the records. Valid departments: {valid!r}."
        )


def _with(kept: frozenset[str], source: str, mode: str) -> frozenset[str]:
    return kept - {source} if mode == "remove" else kept | {source}


def _scenario_name(mode: str, source: str | None) -> str:
    if source is None:
        return "all sources" if mode == "remove" else "base"
    return f"without {source}" if mode == "remove" else f"base + {source}"


def _train_dates(
    pop: SimulatedPopulation,
    train_as_of: Iterable[str | dt.date] | None,
    test_date: dt.date,
    horizon: int,
) -> list[dt.date]:
    if train_as_of is not None:
        return [as_date(d) for d in train_as_of]
    dates = [months_before(test_date, k * horizon) for k in (2, 1)]
    dates = [d for d in dates if d > pop.start]
    if not dates:
        raise ValueError(
            f"No training date fits between the start of the simulation ({pop.start}) and "
            f"test_as_of={test_date.isoformat()} minus a {horizon}-month label window; "
            "simulate more months, shorten horizon_months or pass train_as_of."
        )
    return dates


def _measured_rules(
    rules: RuleSet | str | Path | None, mapping: Mapping[str, str]
) -> RuleSet | None:
    """Return the rules of ``rules`` that ``mapping`` pairs with an anomaly, if any."""
    if rules is None:
        return None
    from ..rules import load

    rule_set = load(rules) if isinstance(rules, str | Path) else rules
    ids = [r.id for r in rule_set.rules if r.id in mapping]
    return rule_set.select(ids=ids) if ids else None


def _bundle_labels(
    pop: SimulatedPopulation,
    ids: pd.Series,
    as_of: dt.date,
    horizon: int,
    source: str,
) -> npt.NDArray[np.float64]:
    """Return the bundle's labels of the test households: 1.0, 0.0, or NaN (none)."""
    # seeded as temporal_split seeds the training labels
    y = labels.make(pop, as_of, horizon, source=source)
    y = y if isinstance(y, pl.DataFrame) else pl.from_pandas(y)
    got = y.select("household_id", pl.col("in_need").cast(pl.Float64))
    frame = pl.DataFrame({"household_id": ids.astype(str).tolist()})
    joined = frame.join(got, on="household_id", how="left", maintain_order="left")
    return joined["in_need"].fill_null(np.nan).to_numpy().astype(np.float64)


def _restrict(bundle: HouseholdData, keep: frozenset[str]) -> HouseholdData:
    records = bundle.records.filter(pl.col("source").cast(pl.String).is_in(sorted(keep)))
    return replace(bundle, records=records)


def _refeatured(split: TemporalSplit, bundle: HouseholdData, spec: FeatureSpec) -> TemporalSplit:
    """Return the split's rows and labels with features built from ``bundle``."""
    names = list(split.features)
    built = {}
    for d in (*split.train_as_of, split.test_as_of):
        X = features.build(bundle, d, spec=spec)
        X = X if isinstance(X, pd.DataFrame) else X.to_pandas()
        X.insert(1, "as_of", pd.Timestamp(d))  # as temporal_split stamps its rows
        built[d] = X[["household_id", "as_of", *names]]
    train_X = pd.concat([built[d] for d in split.train_as_of], ignore_index=True)
    train = _swap(split.train, train_X, names, ["household_id", "as_of"])
    test = _swap(
        split.test, built[split.test_as_of].drop(columns="as_of"), names, ["household_id"]
    )
    return replace(split, train=train, test=test)


def _swap(rows: pd.DataFrame, X: pd.DataFrame, names: list[str], on: list[str]) -> pd.DataFrame:
    out = rows.drop(columns=names).merge(
        X, on=on, how="left", validate="one_to_one", indicator="_found"
    )
    if not (out["_found"] == "both").all():
        # the households alive at a date come from the households table, never removed
        raise RuntimeError("Ablated features lost households of the split; please report.")
    return out[list(rows.columns)]
