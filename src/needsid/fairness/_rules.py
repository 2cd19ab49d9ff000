"""Fairness audits of rule hits: a rule set is a classifier too, one per rule kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ._audit import DIFFERENCE_TOLERANCE, FairnessAudit, audit

if TYPE_CHECKING:
    import polars as pl

    from ..rules import RuleHits

__all__ = ["ANY_KIND", "RuleAudit", "audit_rules"]

#: The flag of households hit by any rule of the set.
ANY_KIND = "any"


@dataclass(frozen=True)
class RuleAudit:
    """One :class:`FairnessAudit` per rule kind (and for any rule).

    Made by :func:`audit_rules`; the fields are also attributes.

    Parameters
    ----------
    audits : dict of str to FairnessAudit
        Keyed by rule kind (``trigger``, ``cross_check``, ``exit``, ``outreach``,
        ``process``: those of the rule set) and ``"any"``.
    flags : pandas.DataFrame
        ``household_id`` and one boolean column per key of ``audits``: the household
        was hit by at least one rule of that kind.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.fairness import audit_rules
    >>> from needsid.rules import household_attributes, load
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> hits = load().evaluate(pop.bundle, "2023-12-01")
    >>> attrs = household_attributes(pop.bundle, "2023-12-01")
    >>> ra = audit_rules(hits, attrs, sensitive_features="urban", n_boot=20)
    >>> ra.flags.columns.tolist()
    ['household_id', 'trigger', 'cross_check', 'exit', 'outreach', 'process', 'any']
    >>> int(ra.by_group.loc[("any", "True"), "n"])
    191
    """

    audits: dict[str, FairnessAudit]
    flags: pd.DataFrame

    @property
    def by_group(self) -> pd.DataFrame:
        """Return every kind's ``by_group``, stacked with a leading ``kind`` level."""
        return pd.concat({k: a.by_group for k, a in self.audits.items()}, names=["kind"])

    def to_frame(self) -> pd.DataFrame:
        """Return every kind's disparities, with a ``kind`` column first.

        Returns
        -------
        pandas.DataFrame
            The ``disparities`` of each audit stacked, one row per kind, group and
            metric.

        Examples
        --------
        >>> import needsid as ni
        >>> from needsid.fairness import audit_rules
        >>> from needsid.rules import household_attributes, load
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> hits = load().evaluate(pop.bundle, "2023-12-01")
        >>> attrs = household_attributes(pop.bundle, "2023-12-01")
        >>> ra = audit_rules(hits, attrs, sensitive_features="urban", n_boot=20)
        >>> frame = ra.to_frame()
        >>> frame.columns[:4].tolist()
        ['kind', 'group', 'metric', 'value']
        >>> frame["kind"].unique().tolist()
        ['trigger', 'cross_check', 'exit', 'outreach', 'process', 'any']
        """
        parts = [a.disparities.assign(kind=k) for k, a in self.audits.items()]
        out = pd.concat(parts, ignore_index=True)
        return out[["kind", *[c for c in out.columns if c != "kind"]]]


def _pandas(frame: pd.DataFrame | pl.DataFrame, name: str) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "to_pandas"):
        return frame.to_pandas()
    raise TypeError(f"Got {name} of type {type(frame).__name__}; expected a DataFrame.")


def audit_rules(
    hits: RuleHits,
    households: pd.DataFrame | pl.DataFrame,
    *,
    sensitive_features: str | Sequence[str],
    y_true: ArrayLike | pd.DataFrame | pl.DataFrame | None = None,
    label: str = "in_need",
    reference: str | tuple[str, ...] | None = None,
    min_group_size: int = 30,
    band: tuple[float, float] = (0.8, 1.25),
    difference_tolerance: float = DIFFERENCE_TOLERANCE,
    n_boot: int = 500,
    seed: int = 0,
) -> RuleAudit:
    """Audit rule hits by group: per rule kind, flag = hit by any rule of that kind.

    Parameters
    ----------
    hits : needsid.rules.RuleHits
        Hits of one rule set at one date.
    households : pandas or polars DataFrame
        The population audited, one row per household alive at ``hits.as_of``:
        ``household_id`` and the group columns, e.g.
        :func:`needsid.rules.household_attributes` ``(bundle, hits.as_of)``. Hits of
        households not in it are ignored.
    sensitive_features : str or list of str
        Group columns of ``households``; several give intersections. Labels are
        ``str(value)``, as in :func:`audit`: a boolean column gives ``"True"`` and
        ``"False"``, from pandas and polars alike.
    y_true : array-like or DataFrame, optional
        The truth each flag is judged against: one value per row of ``households``, or
        a frame with ``household_id`` and ``label``. None audits hit rates only.
        The same truth serves every kind; audit exits against their own target (e.g.
        "no longer in need") by calling again.
    label : str, default="in_need"
        Column of a ``y_true`` frame.
    reference : str or tuple, optional
        Reference group's label, as in :func:`audit`; default the largest group.
    min_group_size : int, default=30
        Groups smaller than this are marked ``small``.
    band : (low, high), default=(0.8, 1.25)
        Tolerance band for ratios to the reference (:func:`audit` states when a
        disparity fails).
    difference_tolerance : float, default=0.05
        Tolerance for differences to the reference.
    n_boot : int, default=500
        Bootstrap resamples for the intervals.
    seed : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    RuleAudit
        One audit per rule kind of the set and one for any rule.

    Raises
    ------
    ValueError
        If a column is missing from ``households``, a household is repeated, or
        ``y_true`` does not label every household.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.fairness import audit_rules
    >>> from needsid.rules import household_attributes, load
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> hits = load("default").evaluate(pop.bundle, "2023-12-01")
    >>> attrs = household_attributes(pop.bundle, "2023-12-01")
    >>> ra = audit_rules(hits, attrs, sensitive_features="urban", n_boot=20)
    >>> sorted(ra.audits)
    ['any', 'cross_check', 'exit', 'outreach', 'process', 'trigger']
    >>> ra.audits["any"].by_group.index.tolist()
    ['False', 'True']
    """
    hh = _pandas(households, "households")
    columns = (
        [sensitive_features] if isinstance(sensitive_features, str) else list(sensitive_features)
    )
    missing = [c for c in ["household_id", *columns] if c not in hh.columns]
    if missing:
        raise ValueError(
            f"Columns {missing!r} are not in households (it has {list(hh.columns)!r}); "
            "pass household_id and the group columns, e.g. from "
            "needsid.rules.household_attributes(bundle, hits.as_of)."
        )
    dup = hh["household_id"].duplicated()
    if dup.any():
        raise ValueError(
            f"households has {int(dup.sum())} repeated household_id rows (e.g. row "
            f"{int(np.flatnonzero(dup)[0])}); pass one row per household."
        )
    hh = hh.reset_index(drop=True)
    y = _labels(y_true, hh, label)
    frame = _pandas(hits.to_frame(), "hits")[["household_id", "kind"]].drop_duplicates()
    kinds = list(dict.fromkeys(r["kind"] for r in hits.rules))
    flags = pd.DataFrame({"household_id": hh["household_id"]})
    for kind in [*kinds, ANY_KIND]:
        ids = (
            frame["household_id"]
            if kind == ANY_KIND
            else frame.loc[frame["kind"] == kind, "household_id"]
        )
        flags[kind] = hh["household_id"].isin(ids).to_numpy()
    sf = hh[columns]
    audits = {
        kind: audit(
            y,
            flags[kind].to_numpy(),
            sensitive_features=sf,
            reference=reference,
            min_group_size=min_group_size,
            band=band,
            difference_tolerance=difference_tolerance,
            n_boot=n_boot,
            seed=seed,
        )
        for kind in [*kinds, ANY_KIND]
    }
    return RuleAudit(audits, flags)


def _labels(
    y_true: ArrayLike | pd.DataFrame | pl.DataFrame | None, hh: pd.DataFrame, label: str
) -> NDArray[np.bool_] | None:
    if y_true is None:
        return None
    if not isinstance(y_true, pd.DataFrame) and hasattr(y_true, "to_pandas"):
        y_true = y_true.to_pandas()
    if isinstance(y_true, pd.DataFrame):
        missing = [c for c in ("household_id", label) if c not in y_true.columns]
        if missing:
            raise ValueError(
                f"Columns {missing!r} are not in y_true (it has {list(y_true.columns)!r}); "
                f"pass household_id and {label!r}, or set label=."
            )
        merged = hh[["household_id"]].merge(
            y_true[["household_id", label]].drop_duplicates("household_id"),
            on="household_id",
            how="left",
        )
        absent = merged[label].isna().to_numpy()
        if absent.any():
            raise ValueError(
                f"y_true has no {label!r} for {int(absent.sum())} of {len(hh)} households "
                f"(e.g. households row {int(np.flatnonzero(absent)[0])}); label the same "
                "population (labels.make at hits.as_of) or drop those rows from households."
            )
        labels: NDArray[np.bool_] = merged[label].to_numpy().astype(bool)
        return labels
    y = np.asarray(y_true)
    if len(y) != len(hh):
        raise ValueError(f"Got {len(y)} labels for {len(hh)} households.")
    return y.astype(bool)
