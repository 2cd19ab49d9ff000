"""Rule-level audit: hit rates by household group (region, urban/rural, minority, head's sex).

A plain table until the fairness module exists: for each rule and each value of each
attribute column, how many households of the group were hit and at what rate compared
with all households.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import polars as pl

from .._dates import as_date
from ..data import HouseholdData

__all__ = ["ANY_RULE", "group_hit_rates", "household_attributes"]

ANY_RULE = "(any rule)"


def household_attributes(
    bundle: HouseholdData, as_of: dt.date | str
) -> pd.DataFrame | pl.DataFrame:
    """Return the groups a rule audit compares, one row per household alive at ``as_of``.

    Parameters
    ----------
    bundle : HouseholdData
        The pandas or polars tables.
    as_of : date or str
        Households formed before and not dissolved by this date, with their members then.

    Returns
    -------
    DataFrame
        Of the bundle's type: ``household_id, region_id, urban`` (bool), ``minority``
        (any member belongs to an ethnic minority), ``head_sex`` (``F``/``M``; the
        oldest member's where no member is the head), sorted by ``household_id``.

    Examples
    --------
    >>> import needsid as ni
    >>> from needsid.rules import household_attributes
    >>> pop = ni.simulate(n_households=200, months=6, seed=0)
    >>> attrs = household_attributes(pop.bundle, "2023-06-01")
    >>> attrs.columns
    ['household_id', 'region_id', 'urban', 'minority', 'head_sex']
    >>> sorted(attrs["head_sex"].unique())
    ['F', 'M']
    """
    as_of = as_date(as_of)
    b = bundle.to_polars()
    hh = b.households.filter(
        (pl.col("formed_on") < as_of)
        & (pl.col("dissolved_on").is_null() | (pl.col("dissolved_on") >= as_of))
    ).join(b.regions.select("region_id", "urban"), on="region_id", how="left")
    members = b.members.filter(
        (pl.col("joined_on") < as_of)
        & (pl.col("left_on").is_null() | (pl.col("left_on") >= as_of))
    )
    per = (
        members.sort(pl.col("relation") == "head", pl.col("birth_date"), descending=[True, False])
        .group_by("household_id", maintain_order=True)
        .agg(pl.col("minority").any(), pl.col("sex").first().alias("head_sex"))
    )
    out = (
        hh.select("household_id", "region_id", "urban")
        .join(per, on="household_id", how="left")
        .with_columns(pl.col("minority").fill_null(False))
        .sort("household_id")
    )
    return out.to_pandas() if bundle.backend == "pandas" else out


def group_hit_rates(
    hits: pl.DataFrame,
    rule_ids: Sequence[str],
    attributes: pd.DataFrame | pl.DataFrame,
    columns: Sequence[str] | str,
) -> pd.DataFrame | pl.DataFrame:
    """Hit rates by group; see :meth:`needsid.rules.RuleHits.by_group`."""
    is_pandas = isinstance(attributes, pd.DataFrame)
    attrs = pl.from_pandas(attributes) if is_pandas else attributes
    if isinstance(columns, str):
        columns = [columns]
    missing = [c for c in ["household_id", *columns] if c not in attrs.columns]
    if missing:
        raise ValueError(
            f"Columns {missing!r} are not in the attributes frame (it has "
            f"{list(attrs.columns)!r}); pass household_id and the group columns, e.g. "
            "from needsid.rules.household_attributes(bundle, as_of)."
        )
    attrs = attrs.unique("household_id", keep="first")
    hit_pairs = hits.select("rule_id", "household_id").unique()
    hit_pairs = pl.concat(
        [hit_pairs, hit_pairs.select(pl.lit(ANY_RULE).alias("rule_id"), "household_id").unique()]
    )
    rules = pl.DataFrame({"rule_id": [*rule_ids, ANY_RULE]}).with_row_index("_order")
    parts = []
    for col in columns:
        # booleans read True/False, as in the fairness audits (str(True), pandas, fairlearn)
        label = pl.col(col).cast(pl.String)
        if attrs.schema[col] == pl.Boolean:
            label = label.replace({"true": "True", "false": "False"})
        groups = attrs.select("household_id", label.alias("group"))
        sizes = groups.group_by("group").agg(pl.len().alias("n_households"))
        hit = (
            hit_pairs.join(groups, on="household_id")
            .group_by("rule_id", "group")
            .agg(pl.len().alias("n_hit"))
        )
        grid = rules.join(sizes, how="cross").join(hit, on=["rule_id", "group"], how="left")
        parts.append(grid.with_columns(column=pl.lit(col)))
    table = pl.concat(parts).with_columns(pl.col("n_hit").fill_null(0).cast(pl.Int64))
    n_all = attrs.height
    overall = table.group_by("rule_id", "column").agg(
        (pl.col("n_hit").sum() / n_all).alias("_overall")
    )
    out = (
        table.join(overall, on=["rule_id", "column"])
        .with_columns(
            hit_rate=pl.col("n_hit") / pl.col("n_households"),
        )
        .with_columns(
            rate_ratio=pl.when(pl.col("_overall") > 0).then(
                pl.col("hit_rate") / pl.col("_overall")
            )
        )
        .sort("_order", "column", "group", nulls_last=True)
        .select(
            "rule_id",
            "column",
            "group",
            pl.col("n_households").cast(pl.Int64),
            "n_hit",
            "hit_rate",
            "rate_ratio",
        )
    )
    return out.to_pandas() if is_pandas else out
