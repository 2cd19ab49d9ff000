"""Household deprivation profiles from a HouseholdData bundle at an ``as_of`` date.

Six equally weighted dimensions, each one indicator built from the point-in-time
features. Missing data is explicit: a household with no record from any core
department (``invisibility_score == 1``) has its record-based indicators *missing*, not
"not deprived"; income is missing where there is no wage, pension or survey record.
By default the score is taken over the observed indicators (``missing="reweight"``) and
the number of missing indicators is reported beside it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..features import build
from ._alkire_foster import alkire_foster
from ._decompose import explain
from ._result import MPIResult

if TYPE_CHECKING:
    from ..data import HouseholdData

__all__ = ["DIMENSIONS", "DeprivationProfile", "household_profile"]

DIMENSIONS = ("income", "health", "education", "care", "housing", "employment")
CATASTROPHIC_SHARE = 0.10  # out-of-pocket above 10% of income (SDG 3.8.2)
# yuan a year, where income is unknown: the medical warning trigger for low-income
# households that Chinese municipal monitoring systems use (out-of-pocket after insurance)
CATASTROPHIC_ABSOLUTE = 10_000.0


@dataclass(frozen=True)
class DeprivationProfile:
    """Deprivation indicators, the Alkire-Foster result and a sentence per household.

    Returned by :func:`household_profile`.

    Parameters
    ----------
    indicators : pandas.DataFrame
        One row per household (indexed by ``household_id``) and one column per
        dimension of :data:`DIMENSIONS`: 1.0 deprived, 0.0 not, NaN unknown.
    result : MPIResult
        The Alkire-Foster result over those indicators.

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> profile = ni.mpi.household_profile(pop.bundle, "2023-10-01")
    >>> profile.indicators.shape[1], profile.result.n == len(profile.indicators)
    (6, True)
    """

    indicators: pd.DataFrame
    result: MPIResult

    def to_frame(self) -> pd.DataFrame:
        """Return one row per household: its deprivations, score, status and a sentence.

        Returns
        -------
        pandas.DataFrame
            ``deprived_<dimension>`` per dimension, ``deprivation_score``,
            ``multidimensionally_poor``, ``n_missing`` (indicators unknown) and
            ``profile`` (the sentence of :func:`needsid.mpi.explain`).

        Examples
        --------
        >>> import needsid as ni
        >>> pop = ni.simulate(n_households=300, months=12, seed=0)
        >>> table = ni.mpi.household_profile(pop.bundle, "2023-10-01").to_frame()
        >>> list(table.columns[-4:])
        ['deprivation_score', 'multidimensionally_poor', 'n_missing', 'profile']
        """
        out = self.indicators.add_prefix("deprived_")
        out["deprivation_score"] = self.result.scores
        out["multidimensionally_poor"] = self.result.is_poor
        out["n_missing"] = self.indicators.isna().sum(axis=1)
        out["profile"] = explain(self.result)
        return out


def _indicators(X: pd.DataFrame) -> pd.DataFrame:
    invisible = X["invisibility_score"] >= 1.0
    recorded = X["wage_pc_rule"] + X["pension_pc"]
    survey = X["survey_income_pc"]
    has_income = (X["wage_pc_12m"] > 0) | (X["pension_pc"] > 0) | survey.notna()
    income_pc = np.fmax(recorded, survey.fillna(0.0))
    net_pc = income_pc - X["rigid_expenditure_pc"]
    low_income = (net_pc < X["_line"]).astype(float).where(has_income)
    oop_year = X["medical_oop_pc_12m"] * 12 * X["hh_size"]
    income_year = income_pc * 12 * X["hh_size"]
    health = np.where(
        has_income,
        oop_year > CATASTROPHIC_SHARE * income_year,
        oop_year > CATASTROPHIC_ABSOLUTE,
    ).astype(float)
    care_need = (X["n_severe_disability"] > 0) | (X["elderly_alone"] > 0)
    out = pd.DataFrame(
        {
            "income": low_income,
            "health": health,
            "education": (X["n_school_dropout_12m"] > 0).astype(float),
            "care": (care_need & (X["n_labour_force"] == 0)).astype(float),
            "housing": (X["housing_unsafe"] > 0).astype(float),
            "employment": (
                X["n_unemployment_registered_12m"] > X["n_employment_started_12m"]
            ).astype(float),
        },
        index=X.index,
    )
    # no record from any core department: what records would show is unknown
    for dim in ("income", "health", "education", "housing", "employment"):
        out.loc[invisible, dim] = np.nan
    return out


def household_profile(
    bundle: HouseholdData, as_of: str | dt.date, *, k: float = 1 / 3, missing: str = "reweight"
) -> DeprivationProfile:
    """Deprivation profile of every household alive at ``as_of``.

    Parameters
    ----------
    bundle : HouseholdData
        The data (pandas or polars).
    as_of : date or str
        Only records known before this date are used.
    k : float, default=1/3
        Poverty cutoff as a share of the six equally weighted dimensions (2 of 6).
    missing : {"reweight", "deprived", "raise"}, default="reweight"
        How missing indicators count (see :func:`alkire_foster`); never "not deprived".

    Returns
    -------
    DeprivationProfile
        The indicators per household and their Alkire-Foster result.

    Raises
    ------
    ValueError
        If ``as_of`` is not a date, ``k`` is not in (0, 1] or ``missing`` is unknown
        (or ``"raise"`` and an indicator is missing).

    Examples
    --------
    >>> import needsid as ni
    >>> pop = ni.simulate(n_households=300, months=12, seed=0)
    >>> profile = ni.mpi.household_profile(pop.bundle, "2023-10-01")
    >>> list(profile.indicators.columns)
    ['income', 'health', 'education', 'care', 'housing', 'employment']
    >>> 0 <= profile.result.M0 <= 1
    True
    """
    X = build(bundle, as_of)
    X = X if isinstance(X, pd.DataFrame) else X.to_pandas()
    X = X.set_index("household_id")
    regions = bundle.to_polars().regions.to_pandas().set_index("region_id")
    households = bundle.to_polars().households.to_pandas().set_index("household_id")
    std = households["region_id"].map(regions["dibao_standard"] * regions["low_income_multiplier"])
    X["_line"] = std.reindex(X.index)
    indicators = _indicators(X)
    dims = {d: d for d in DIMENSIONS}
    result = alkire_foster(
        indicators,
        cutoffs={d: 1 for d in DIMENSIONS},
        k=k,
        deprived_if="at_or_above",
        missing=missing,
        cardinal=(),
        dimensions=dims,
    )
    return DeprivationProfile(indicators=indicators, result=result)
