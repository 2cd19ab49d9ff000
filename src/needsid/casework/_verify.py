"""verification_report: check one household against every department at a date (核对).

The bundle is cut down to what the rules need for the household before they run: the
household, the spells of anyone who was ever a member, and the records of the household
or of those people (a recipient's death recorded under another household is still
seen). That is the rule engine's own ``Context.restrict``, so the rules give the same
hits as on the whole bundle, at a fraction of the cost.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import polars as pl

from .._dates import as_date
from ..data import HouseholdData, record_vocabulary
from ..rules import RuleSet, load
from ._checks import CHECK_KINDS, department_checks, rule_checks, source_of_kind
from ._income import assessment, members_at
from ._model import VerificationReport

__all__ = ["verification_report"]

_ID_COLUMNS = {
    "households": ("household_id", "region_id"),
    "members": ("person_id", "household_id"),
    "records": ("record_id", "household_id", "person_id", "source", "kind", "value"),
}


def _rule_set(rules: RuleSet | str | os.PathLike[str] | None) -> tuple[RuleSet, RuleSet | None]:
    """Return the rule set, and its cross-checks and exits (None if it has neither)."""
    full = rules if isinstance(rules, RuleSet) else load("default" if rules is None else rules)
    if not any(r.kind in CHECK_KINDS for r in full.rules):
        return full, None
    return full, full.select(kinds=CHECK_KINDS)


def _strings(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """Ids and categories as plain strings (the rules join on them)."""
    return frame.with_columns(pl.col(c).cast(pl.String) for c in columns)


def _eq(column: str, value: str, schema: pl.Schema) -> pl.Expr:
    col = pl.col(column)
    return (col if schema[column] == pl.String else col.cast(pl.String)) == value


def _isin(column: str, values: list[str], schema: pl.Schema) -> pl.Expr:
    col = pl.col(column)
    return (col if schema[column] == pl.String else col.cast(pl.String)).is_in(values)


def _unknown(household_id: str, n: int) -> ValueError:
    return ValueError(
        f"Got household_id={household_id!r}, which is not in the bundle's households table "
        f"({n:,} households); check the id (ids are text: '001' is not '1')."
    )


def _subset_polars(b: HouseholdData, household_id: str) -> HouseholdData:
    hh = b.households.filter(_eq("household_id", household_id, b.households.schema))
    if hh.height == 0:
        raise _unknown(household_id, b.households.height)
    region = hh["region_id"].cast(pl.String).item()
    members = b.members
    ever = (
        members.filter(_eq("household_id", household_id, members.schema))["person_id"]
        .cast(pl.String)
        .unique()
        .to_list()
    )
    rec_schema = b.records.schema
    keep = _eq("household_id", household_id, rec_schema) | _isin("person_id", ever, rec_schema)
    records = b.records.filter(keep)
    # people named on the household's records without a spell in it: their records too
    named = records.filter(_eq("household_id", household_id, rec_schema))["person_id"]
    extra = sorted(set(named.drop_nulls().cast(pl.String).to_list()) - set(ever))
    if extra:
        records = b.records.filter(keep | _isin("person_id", extra, rec_schema))
    people = [*ever, *extra]
    members = members.filter(
        _eq("household_id", household_id, members.schema)
        | _isin("person_id", people, members.schema)
    )
    regions = b.regions.filter(_eq("region_id", region, b.regions.schema))
    return HouseholdData(
        _strings(regions, ("region_id",)),
        _strings(hh, _ID_COLUMNS["households"]),
        _strings(members, _ID_COLUMNS["members"]),
        _strings(records, _ID_COLUMNS["records"]),
    )


def _subset_pandas(b: HouseholdData, household_id: str) -> HouseholdData:
    # == and isin work on object and categorical id columns alike, without a copy
    households, members, records = b.households, b.members, b.records
    hh = households[households["household_id"] == household_id]
    if len(hh) == 0:
        raise _unknown(household_id, len(households))
    in_hh = members["household_id"] == household_id
    ever = {str(p) for p in members.loc[in_hh, "person_id"].dropna()}
    rec_hh = records["household_id"] == household_id
    ever |= {str(p) for p in records.loc[rec_hh, "person_id"].dropna()}
    records = records[rec_hh | records["person_id"].isin(ever)]
    members = members[in_hh | members["person_id"].isin(ever)]
    regions = b.regions[b.regions["region_id"] == hh["region_id"].iloc[0]]
    small = HouseholdData(regions, hh, members, records).to_polars()
    return HouseholdData(
        _strings(small.regions, ("region_id",)),
        _strings(small.households, _ID_COLUMNS["households"]),
        _strings(small.members, _ID_COLUMNS["members"]),
        _strings(small.records, _ID_COLUMNS["records"]),
    )


def household_subset(bundle: HouseholdData, household_id: str) -> HouseholdData:
    """Return a polars bundle of what the rules read for one household (module doc)."""
    if not isinstance(bundle, HouseholdData):
        raise TypeError(f"Got bundle of type {type(bundle).__name__}; expected a HouseholdData.")
    if bundle.backend == "polars":
        return _subset_polars(bundle, household_id)
    if bundle.backend == "pandas":
        return _subset_pandas(bundle, household_id)
    raise TypeError(
        f"Got a {bundle.backend!r} bundle; verification_report reads pandas or polars "
        "bundles (collect the household's rows first)."
    )


def verification_report(
    bundle: HouseholdData,
    household_id: str,
    as_of: dt.date | dt.datetime | str,
    *,
    rules: RuleSet | str | os.PathLike[str] | None = None,
) -> VerificationReport:
    """Check one household against every department's records known before ``as_of``.

    The report (核对报告) lists the household and its members at ``as_of``; one check per
    cross-check and exit rule of the rule set, evaluated for this household alone (a
    benefit overlap, a payment after death or in prison, an asset test, income or work
    that should end a benefit), each with its department, what it compared, its
    finding, its evidence (record ids, dates, amounts) and a status; one row per
    department saying whether it holds any record of the household; and the latest
    assessed income against the region's dibao, low-income and tekun standards, with
    the programmes that income would qualify for.

    A check whose department holds no record of the household or its members is
    ``"no data"``, never ``"pass"``: silence is not evidence.

    Parameters
    ----------
    bundle : HouseholdData
        A pandas or polars bundle.
    household_id : str
        The household to verify.
    as_of : date, datetime or str
        Only records with ``known_date < as_of`` are read; rule windows end at it.
    rules : RuleSet, str or os.PathLike, optional
        The rule set (or a YAML path) whose ``cross_check`` and ``exit`` rules are run;
        default: needsid's packaged rule set (``needsid.rules.load("default")``).
        Rules are run without suppression: a condition that held last month is still
        reported.

    Returns
    -------
    VerificationReport
        Frozen; ``to_html()`` for a printable page, ``to_dict()`` for a service.

    Raises
    ------
    ValueError
        If ``household_id`` is not in the bundle (the message names it), the
        household was formed on or after ``as_of``, or ``as_of`` is not a date.
    TypeError
        If ``bundle`` is not a pandas or polars ``HouseholdData``.
    needsid.rules.RuleSetError
        If ``rules`` names an invalid rule set.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> report = ni.casework.verification_report(pop.bundle, "H0000001", pop.end)
    >>> report.check("paid_after_death").department
    'public_security'
    >>> report.check("records_banking").status in ("pass", "no data")
    True
    >>> [p.programme for p in report.income.programmes]
    ['dibao', 'low_income', 'tekun']
    >>> ni.casework.verification_report(pop.bundle, "nobody", pop.end)
    Traceback (most recent call last):
    ...
    ValueError: Got household_id='nobody', which is not in the bundle's households table (302 households); check the id (ids are text: '001' is not '1').
    """  # noqa: E501
    as_of = as_date(as_of)
    household_id = str(household_id)
    sub = household_subset(bundle, household_id)
    full, rule_set = _rule_set(rules)
    hh: dict[str, Any] = sub.households.row(0, named=True)
    if hh["formed_on"] >= as_of:
        raise ValueError(
            f"Household {household_id!r} was formed on {hh['formed_on']}, not before "
            f"as_of={as_of.isoformat()!r}; pass a later as_of."
        )
    region: dict[str, Any] = sub.regions.row(0, named=True)
    dissolved = hh["dissolved_on"]
    alive = dissolved is None or dissolved >= as_of
    # a dissolved household is described as it was on its last day
    at = as_of if alive else dissolved
    records = sub.records
    members = members_at(sub.members, records, household_id, at, as_of)
    people = [m.person_id for m in members]
    known = records.filter(pl.col("known_date") < as_of)
    own = known.filter(pl.col("household_id") == household_id)
    held = known.filter(
        (pl.col("household_id") == household_id) | pl.col("person_id").is_in(people)
    )
    if rule_set is not None:
        frame = rule_set.evaluate(sub, as_of, suppress=False).to_frame()
        hits = frame.filter(pl.col("household_id") == household_id)
    else:
        hits = pl.DataFrame(schema={"rule_id": pl.String})
    sources = source_of_kind(records)
    checks = [
        *rule_checks(
            rule_set,
            hits,
            records=records,
            held=held,
            own=own,
            as_of=as_of,
            alive=alive,
            sources=sources,
        ),
        *department_checks(held, as_of, list(record_vocabulary())),
    ]
    return VerificationReport(
        household_id=household_id,
        as_of=as_of,
        region_id=str(hh["region_id"]),
        urban=bool(region["urban"]),
        formed_on=hh["formed_on"],
        dissolved_on=dissolved,
        members=members,
        checks=tuple(checks),
        income=assessment(records, household_id, as_of, region, members),
        rule_set_id=full.id,
        rule_set_version=full.version,
    )
