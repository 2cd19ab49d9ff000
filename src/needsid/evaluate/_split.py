"""Splits that cannot leak: households grouped, training dates before the test date."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import features, labels
from .._progress import track
from ..simulation import SimulatedPopulation

if TYPE_CHECKING:
    from ..data import HouseholdData
    from ..features import FeatureSpec

__all__ = ["TemporalSplit", "temporal_split"]


def _date(d: str | dt.date) -> dt.date:
    return d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))


def _add_months(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 + k, 12)
    return dt.date(d.year + y, m + 1, d.day)


def _in_test_group(ids: pd.Series, test_size: float, seed: int) -> np.ndarray:
    """Deterministic household-level assignment: a salted hash, not row order."""
    salt = str(seed).encode()
    u = np.array(
        [
            int.from_bytes(hashlib.sha256(salt + i.encode()).digest()[:8], "big")
            for i in ids.astype(str)
        ],
        dtype=np.uint64,
    )
    return (u / np.float64(2**64)) < test_size


@dataclass(frozen=True)
class TemporalSplit:
    """Training rows and test rows of a leak-free split.

    Training rows: earlier dates, training households. Test rows: the test date,
    held-out households. Also the feature names and the dates used. Built by
    :func:`temporal_split`.

    Parameters
    ----------
    train : pandas.DataFrame
        Training rows: ``household_id, as_of``, the features and the label columns.
    test : pandas.DataFrame
        Test rows, with the same columns.
    features : tuple of str
        The feature columns (:attr:`X_train` and :attr:`X_test` select them).
    train_as_of : tuple of datetime.date
        The training dates, in order.
    test_as_of : datetime.date
        The test date.
    horizon_months : int
        Length of the label window.
    train_labelled_share : float, default 1.0
        Training rows the label source could label, over all households that were alive
        (the others are dropped).

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.evaluate import temporal_split
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> split = temporal_split(pop, ["2023-03-01"], "2023-07-01", horizon_months=3)
    >>> split.test_as_of, split.horizon_months
    (datetime.date(2023, 7, 1), 3)
    >>> split.X_train.shape[1] == len(split.features)
    True
    """

    train: pd.DataFrame
    test: pd.DataFrame
    features: tuple[str, ...]
    train_as_of: tuple[dt.date, ...]
    test_as_of: dt.date
    horizon_months: int
    #: Training households the label source could label, over all that were alive.
    train_labelled_share: float = 1.0

    @property
    def X_train(self) -> pd.DataFrame:
        """Training features."""
        return self.train[list(self.features)]

    @property
    def X_test(self) -> pd.DataFrame:
        """Test features."""
        return self.test[list(self.features)]


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the labelled rows, with ``in_need`` as bool (a left join made it object)."""
    out = frame[frame["_labelled"]].drop(columns="_labelled").reset_index(drop=True)
    return out.astype({"in_need": bool})


def temporal_split(
    data: SimulatedPopulation | HouseholdData,
    train_as_of: Iterable[str | dt.date],
    test_as_of: str | dt.date,
    *,
    horizon_months: int = 6,
    test_size: float = 0.3,
    seed: int = 0,
    spec: FeatureSpec | str | Path | dict[str, Any] | None = None,
    label_source: str | None = None,
    test_label_source: str | None = None,
    label_line: str = "dibao",
) -> TemporalSplit:
    """Build a rolling-origin, household-grouped split.

    Every training label window ``[as_of, as_of + horizon)`` must end by ``test_as_of``,
    so no training label overlaps the test features; households are divided once into
    training and test groups, so none appears on both sides.

    Parameters
    ----------
    data : SimulatedPopulation or HouseholdData
        Labels come from the truth for a simulation, from ``label_source`` otherwise.
    train_as_of : iterable of date or str
        The training dates (first days of months).
    test_as_of : date or str
        The test date; every training label window must end by it.
    horizon_months : int, default=6
        Length of the label window.
    test_size : float, default=0.3
        Share of households held out for testing.
    seed : int, default=0
        Salt of the household assignment.
    spec : FeatureSpec, path, dict or None, optional
        The feature spec, as :func:`needsid.features.load_spec` takes it.
    label_source : str, optional
        ``source`` of :func:`needsid.labels.make` for the training rows (default: its
        default for ``data``). Rows whose label is null (households the source cannot
        label, e.g. never verified) are dropped; a ``weight`` column is kept.
    test_label_source : str, optional
        The same for the test rows (default: ``label_source``). On a simulation, pass
        ``"truth"`` to score a model trained on a bundle's labels against the truth.
    label_line : {"dibao", "low_income"}, default="dibao"
        ``line`` of :func:`needsid.labels.make` for the casework sources.

    Returns
    -------
    TemporalSplit
        The labelled training and test rows (pandas), with the feature names.

    Raises
    ------
    ValueError
        If a training label window reaches past ``test_as_of``, ``test_size`` is not in
        (0, 1), or the labels cannot be made (see :func:`needsid.labels.make`).

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.evaluate import temporal_split
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> split = temporal_split(
    ...     pop, ["2023-02-01", "2023-03-01"], "2023-07-01", horizon_months=3, test_size=0.3
    ... )
    >>> split.train_as_of
    (datetime.date(2023, 2, 1), datetime.date(2023, 3, 1))
    >>> shared = set(split.train["household_id"]) & set(split.test["household_id"])
    >>> len(shared)
    0
    >>> temporal_split(pop, ["2023-05-01"], "2023-07-01", horizon_months=3)
    Traceback (most recent call last):
    ...
    ValueError: Training dates ['2023-05-01'] have label windows of 3 months that reach ...
    """
    train_dates = tuple(sorted(_date(d) for d in train_as_of))
    test_date = _date(test_as_of)
    late = [d for d in train_dates if _add_months(d, horizon_months) > test_date]
    if late:
        raise ValueError(
            f"Training dates {[d.isoformat() for d in late]} have label windows of "
            f"{horizon_months} months that reach past test_as_of={test_date.isoformat()}; "
            "use earlier training dates or a shorter horizon."
        )
    if not 0 < test_size < 1:
        raise ValueError(f"Got test_size={test_size!r}; expected a share in (0, 1), e.g. 0.3.")
    bundle = data.bundle if isinstance(data, SimulatedPopulation) else data

    test_source = label_source if test_label_source is None else test_label_source

    def frame(as_of: dt.date) -> pd.DataFrame:
        X = features.build(bundle, as_of, spec=spec)
        source = test_source if as_of == test_date else label_source
        y = labels.make(
            data,
            as_of=as_of,
            horizon_months=horizon_months,
            source=source,
            features=X,
            line=label_line,
        )
        X = X if isinstance(X, pd.DataFrame) else X.to_pandas()
        y = y if isinstance(y, pd.DataFrame) else y.to_pandas()
        out = X.merge(y, on="household_id", how="left")
        out["_labelled"] = out["in_need"].notna()
        if "weight" in out:
            out["_labelled"] &= out["weight"].fillna(0) > 0
        out.insert(1, "as_of", pd.Timestamp(as_of))
        return out

    names = tuple(features.describe(spec)["name"])
    parts, test = [], None
    dates = [test_date, *train_dates]
    for d in track(dates, f"features and labels at {len(dates)} dates"):
        f = frame(d)
        in_test = _in_test_group(f["household_id"], test_size, seed)
        if d == test_date:
            test = _labelled(f[in_test])
        else:
            parts.append(f[~in_test])
    train = pd.concat(parts, ignore_index=True)
    share = float(train["_labelled"].mean()) if len(train) else 0.0
    train = _labelled(train)
    return TemporalSplit(train, test, names, train_dates, test_date, horizon_months, share)
