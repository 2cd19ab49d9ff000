"""RuleHits: the typed result of evaluating a rule set, one row per hit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from ._audit import group_hit_rates

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HIT_COLUMNS", "RuleHits"]

HIT_COLUMNS = (
    "household_id",
    "person_id",
    "rule_id",
    "kind",
    "rule_set_id",
    "rule_set_version",
    "as_of",
    "severity",
    "programme",
    "evidence_record_ids",
    "evidence",
    "expires_on",
)


@dataclass(frozen=True, repr=False)
class RuleHits:
    """Hits of one rule set evaluated at one date.

    Made by :meth:`needsid.rules.RuleSet.evaluate`; the fields are also attributes
    (read the hits through :meth:`to_frame`). ``len(hits)`` is the number of hits.

    Parameters
    ----------
    _frame : polars.DataFrame
        The hits, columns ``HIT_COLUMNS``.
    as_of : datetime.date
        The evaluation date; only records known before it were read.
    rule_set_id, rule_set_version : str
        Which rule set (and version) produced the hits.
    backend : {"polars", "pandas"}
        Frame type :meth:`to_frame` and :meth:`summary` return (the bundle's).
    rules : tuple of dict
        ``rule_id, kind, severity, programme`` of every rule evaluated, hit or not.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.rules import load
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> hits = load().evaluate(pop.bundle, as_of="2024-01-01")
    >>> hits
    RuleHits(rule_set='default' v2026.2, as_of=2024-01-01, 3 hits, 3 households)
    >>> len(hits), hits.n_households, hits.backend
    (3, 3, 'polars')
    """

    _frame: pl.DataFrame
    as_of: dt.date
    rule_set_id: str
    rule_set_version: str
    backend: str
    rules: tuple[dict[str, str], ...]

    def __len__(self) -> int:
        return self._frame.height

    def __repr__(self) -> str:
        return (
            f"RuleHits(rule_set={self.rule_set_id!r} v{self.rule_set_version}, "
            f"as_of={self.as_of.isoformat()}, {len(self)} hits, "
            f"{self.n_households} households)"
        )

    @property
    def n_households(self) -> int:
        """Distinct households with at least one hit."""
        return self._frame["household_id"].n_unique()

    def _out(self, frame: pl.DataFrame) -> pl.DataFrame | pd.DataFrame:
        if self.backend != "pandas":
            return frame
        out = frame.to_pandas()
        for col, dtype in frame.schema.items():
            if dtype == pl.Date:  # the bundle contract's pandas date type
                out[col] = out[col].astype("datetime64[ns]")
            elif isinstance(dtype, pl.List):
                out[col] = [list(v) if v is not None else None for v in out[col]]
        return out

    def to_frame(self) -> pl.DataFrame | pd.DataFrame:
        """Return one row per hit.

        Returns
        -------
        DataFrame
            A polars one, or pandas if the bundle was pandas, with columns ``household_id,
            person_id`` (null where the rule is about the household), ``rule_id, kind,
            rule_set_id, rule_set_version, as_of, severity, programme,
            evidence_record_ids`` (list of record ids), ``evidence`` (the values that
            made the rule fire) and ``expires_on`` (null if the rule sets no expiry),
            in rule-set order, then by household and person.

        Examples
        --------
        >>> import needsid as ni
        >>> from needsid.rules import load
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> hits = load().evaluate(pop.bundle, as_of="2024-01-01")
        >>> frame = hits.to_frame().select("household_id", "rule_id", "kind", "expires_on")
        >>> frame.rows()  # doctest: +NORMALIZE_WHITESPACE
        [('H0000032', 'disaster_loss', 'trigger', datetime.date(2024, 4, 1)),
         ('H0000242', 'wage_fall', 'trigger', datetime.date(2024, 4, 1)),
         ('H0000094', 'exit_income_above_line', 'exit', datetime.date(2024, 4, 1))]
        """
        return self._out(self._frame)

    def summary(self) -> pl.DataFrame | pd.DataFrame:
        """Return hits and distinct households per rule, every rule listed.

        Returns
        -------
        DataFrame
            Of :meth:`to_frame`'s type: ``rule_id, kind, severity, programme, n_hits,
            n_households``, one row per rule in rule-set order.

        Examples
        --------
        >>> import needsid as ni
        >>> from needsid.rules import load
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> hits = load().evaluate(pop.bundle, as_of="2024-01-01")
        >>> summary = hits.summary()
        >>> summary.height, int(summary["n_hits"].sum())
        (22, 3)
        >>> summary.filter(summary["n_hits"] > 0)["rule_id"].to_list()
        ['disaster_loss', 'wage_fall', 'exit_income_above_line']
        """
        rules = pl.DataFrame(list(self.rules)).with_row_index("_order")
        counts = self._frame.group_by("rule_id").agg(
            pl.len().alias("n_hits"), pl.col("household_id").n_unique().alias("n_households")
        )
        out = (
            rules.join(counts, on="rule_id", how="left")
            .with_columns(pl.col("n_hits", "n_households").fill_null(0).cast(pl.Int64))
            .sort("_order")
            .drop("_order")
        )
        return self._out(out)

    def by_group(
        self, attributes: pd.DataFrame | pl.DataFrame, columns: Sequence[str] | str
    ) -> pd.DataFrame | pl.DataFrame:
        """Return hit rates by group for every rule, and for any rule.

        Parameters
        ----------
        attributes : pandas.DataFrame or polars.DataFrame
            One row per household of the population audited (the denominator):
            ``household_id`` and the group columns, e.g. from
            :func:`needsid.rules.household_attributes`. Hits of households not in it
            are ignored.
        columns : str or sequence of str
            Group columns, e.g. ``["region_id", "urban", "minority", "head_sex"]``.

        Returns
        -------
        DataFrame
            Of the attributes' type: ``rule_id`` (``"(any rule)"`` for households hit by
            any rule), ``column, group`` (as text), ``n_households, n_hit, hit_rate`` and
            ``rate_ratio`` (the group's rate over the rate among all households).

        Examples
        --------
        >>> import needsid as ni
        >>> from needsid.rules import load
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> hits = load().evaluate(pop.bundle, as_of="2024-01-01")
        >>> from needsid.rules import household_attributes
        >>> attrs = household_attributes(pop.bundle, "2024-01-01")
        >>> rates = hits.by_group(attrs, "urban")
        >>> rates.filter(rates["rule_id"] == "(any rule)").select(
        ...     "group", "n_households", "n_hit").rows()
        [('False', 108, 1), ('True', 190, 2)]
        """
        ids = [r["rule_id"] for r in self.rules]
        return group_hit_rates(self._frame, ids, attributes, columns)
