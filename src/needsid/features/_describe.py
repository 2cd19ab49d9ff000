"""The feature catalogue: one line per feature, generated from the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ._casework import ROWS as _CASEWORK_ROWS
from ._spec import FeatureSpec, load_spec

__all__ = ["describe", "feature_table"]

_FIXED: dict[str, list[tuple[str, int | str | None, str]]] = {
    "composition": [
        ("hh_size", None, "members at as_of"),
        ("n_children", None, "members under 16"),
        ("n_elderly", None, "members aged 60 or more"),
        ("n_working_age", None, "members aged 16-59"),
        ("n_labour_force", None, "members aged 16-59 without a grade 1-2 disability"),
        ("dependency_ratio", None, "(children + elderly) / working-age members (size if none)"),
        ("single_parent", None, "children and exactly one working-age adult"),
        ("elderly_alone", None, "one or two members, all aged 60 or more"),
        ("n_disability_certified", None, "members with a disability certificate known at as_of"),
        ("n_severe_disability", None, "members certified grade 1-2"),
        ("head_age", None, "age of the head (the oldest member if no head)"),
        ("head_female", None, "the head is a woman"),
        ("head_education_years", None, "years of schooling of the head"),
        ("minority", None, "any member belongs to an ethnic minority"),
        ("rural_hukou_share", None, "share of members with rural hukou"),
        ("urban", None, "the region is urban"),
    ],
    "income": [
        (
            "wage_pc_rule",
            "rule",
            "recorded wages per person per month over the dibao rules' window (3 urban, 12 rural)",
        ),
        ("wage_pc_1m", 1, "recorded wages per person, last month"),
        ("wage_pc_3m", 3, "recorded wages per person per month, last 3 months"),
        ("wage_pc_12m", 12, "recorded wages per person per month, last 12 months"),
        ("wage_trend_pc", 6, "wages per person per month: last 3 months minus the 3 before"),
        ("n_earners_3m", 3, "members with a recorded wage, last 3 months"),
        ("months_since_wage", None, "months since the latest wage record (999 if none)"),
        (
            "pension_pc",
            "lookback",
            "latest employee pensions per person per month (resident pensions excluded)",
        ),
        ("survey_income_pc", "lookback", "latest village income survey, per person per month"),
        (
            "wage_1m_to_12m",
            12,
            "last month's wages / the household's monthly wage average over 12 months",
        ),
        (
            "wage_1m_to_low_income_line",
            1,
            "wage_pc_1m / (dibao standard x low-income multiplier)",
        ),
        ("wage_12m_to_low_income_line", 12, "wage_pc_12m / the low-income line"),
        ("pension_to_low_income_line", "lookback", "pension_pc / the low-income line"),
        (
            "survey_income_to_low_income_line",
            "lookback",
            "survey_income_pc / the low-income line",
        ),
        ("medical_oop_pc_12m", 12, "medical out-of-pocket cost per person per month"),
        ("education_cost_pc_12m", 12, "education cost per person per month"),
        ("rigid_expenditure_pc", 12, "medical + education cost per person per month"),
        ("net_income_pc", "rule", "wages + pensions - rigid expenditure, per person per month"),
        ("income_to_dibao", "rule", "net_income_pc / the region's dibao standard"),
        (
            "income_to_low_income_line",
            "rule",
            "net_income_pc / (dibao standard x low-income multiplier)",
        ),
    ],
    "assets": [
        ("vehicle_value", None, "largest recorded vehicle value, yuan"),
        ("n_properties", None, "recorded properties"),
        ("has_business", None, "a business registration on record"),
        ("housing_unsafe", None, "the housing department rated the dwelling unsafe"),
        ("deposit_to_standard", "lookback", "latest deposits / (dibao standard x size x 12)"),
        (
            "deposit_change_12m",
            "lookback",
            "latest reported deposits / the report before it, at least 6 months older (banks "
            "report yearly; null without two reports)",
        ),
    ],
    "casework": _CASEWORK_ROWS,
    "coverage": [
        ("n_sources_recent", "lookback", "departments with any record in the look-back"),
        ("n_kinds_recent", "lookback", "record kinds seen in the look-back"),
        ("n_records_12m", 12, "records of the last 12 months"),
        ("months_since_record", None, "months since the latest known record (999 if none)"),
        (
            "invisibility_score",
            "lookback",
            "share of core departments with no record in the look-back (1 = digitally invisible)",
        ),
    ],
}


def feature_table(spec: FeatureSpec) -> pd.DataFrame:
    """Return the features a spec produces: ``name, family, window_months, meaning``."""
    rows: list[tuple[str, str, int | str | None, str]] = []
    for family in spec.families:
        if family == "events":
            for kind, with_sum in spec.events.items():
                for w in spec.windows:
                    rows.append((f"n_{kind}_{w}m", family, w, f"{kind} records, last {w} months"))
                    if with_sum:
                        rows.append(
                            (f"sum_{kind}_{w}m", family, w, f"{kind} amounts, last {w} months")
                        )
                rows.append(
                    (
                        f"months_since_{kind}",
                        family,
                        None,
                        f"months since the latest {kind} (999 if none)",
                    )
                )
                tw = spec.trend_window
                rows.append(
                    (
                        f"trend_{kind}",
                        family,
                        2 * tw,
                        f"{kind}: last {tw} months minus the {tw} before",
                    )
                )
        elif family == "benefits":
            for kind in spec.benefits:
                rows.append(
                    (
                        f"months_{kind}_12m",
                        family,
                        12,
                        f"months with a {kind} payment, last 12 months",
                    )
                )
            if "benefit_dibao" in spec.benefits:
                rows.append(
                    (
                        "dibao_paid_to_standard",
                        family,
                        3,
                        "dibao paid per person per paid month, last 3 months, / the dibao "
                        "standard (a top-up: high when assessed income is low; null if unpaid)",
                    )
                )
            rows.append(("n_programmes_12m", family, 12, "programmes paid in the last 12 months"))
            rows.append(
                ("months_overlap_12m", family, 12, "months with two or more programmes paid")
            )
        else:
            for name, window, meaning in _FIXED[family]:
                named = {
                    "rule": max(spec.income_window.urban, spec.income_window.rural),
                    "lookback": spec.lookback_months,
                }
                rows.append((name, family, named.get(str(window), window), meaning))
    frame = pd.DataFrame(rows, columns=["name", "family", "window_months", "meaning"])
    frame["window_months"] = frame["window_months"].astype("Int64")
    return frame


def describe(spec: FeatureSpec | str | Path | dict[str, Any] | None = None) -> pd.DataFrame:
    """Return one row per feature: ``name, family, window_months, meaning``.

    Parameters
    ----------
    spec : FeatureSpec, str, pathlib.Path, dict or None, default None
        The feature spec, as :func:`load_spec` takes it; None is the packaged default.

    Returns
    -------
    pandas.DataFrame
        The features :func:`build` returns for ``spec``, in its column order (the key
        and ``as_of`` columns excepted).

    Raises
    ------
    needsid.ConfigError
        If the spec has unknown keys or bad values.

    Examples
    --------
    >>> from needsid.features import describe
    >>> table = describe()
    >>> list(table.columns)
    ['name', 'family', 'window_months', 'meaning']
    >>> table.set_index("name").loc["net_income_pc", "family"]
    'income'
    """
    return feature_table(load_spec(spec))
