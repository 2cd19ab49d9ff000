"""An allocation plan as a self-contained HTML page: by programme, by region, the curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd
import polars as pl

if TYPE_CHECKING:
    from ._curve import BudgetCurve
    from ._plan import AllocationPlan

__all__ = ["plan_page"]


def _polars(frame: pl.DataFrame | pd.DataFrame) -> pl.DataFrame:
    return frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)


def _curve_png(curve: pl.DataFrame) -> str:
    from ..report._plots import _use_agg, png_base64

    _use_agg()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, part in curve.group_by("constraint", maintain_order=True):
        part = part.filter(pl.col("share_met").is_not_null()).sort("budget")
        ax.plot(
            part["budget"].to_numpy() / 1e6,
            part["share_met"].to_numpy(),
            marker="o",
            label=str(name[0]),
        )
    ax.set_xlabel("monthly budget (million yuan)")
    ax.set_ylabel("share of estimated need met")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return png_base64(fig)


def plan_page(
    plan: AllocationPlan,
    curve: BudgetCurve | None = None,
    *,
    model: str | None = None,
    unmodelled: Sequence[str] = (),
) -> str:
    """Return an HTML page of a plan: totals, by programme, by region, and the curve.

    The page holds aggregates only (no household id): it can be shared and logged.

    Parameters
    ----------
    plan : AllocationPlan
        The plan (:func:`needsid.allocation.allocate`).
    curve : BudgetCurve, optional
        The budget curve (:func:`needsid.allocation.budget_curve`), plotted and tabled.
    model : str, optional
        The need model's name and version, for the header.
    unmodelled : sequence of str
        Need dimensions the model did not predict (counted as no need), said on the page.

    Returns
    -------
    str
        The HTML document (CSS and plot inline; it loads nothing from the network).

    Examples
    --------
    >>> import polars as pl
    >>> from needsid.allocation import allocate, load_catalogue
    >>> from needsid.allocation._html import plan_page
    >>> scores = pl.DataFrame({"household_id": ["a", "b"], "region_id": ["R1", "R2"],
    ...                        "need_health": [0.9, 0.4], "net_income_pc": [300.0] * 2,
    ...                        "dibao_standard": [700.0] * 2})
    >>> plan = allocate(scores, load_catalogue().select(["medical_assistance"]), 300)
    >>> page = plan_page(plan, model="needsid-needs version 1")
    >>> "by-programme" in page and "by-region" in page and '"a"' not in page
    True
    """
    from ..report._html import fmt_number, note, page, table

    summary = _polars(plan.summary)
    names = plan.catalogue.to_frame().select(pl.col("id").alias("programme_id"), "name_en")
    by_programme = (
        summary.group_by("programme_id", maintain_order=True)
        .agg(pl.col("households", "cost", "need_met").sum())
        .join(names, on="programme_id", how="left")
        .select("programme_id", "name_en", "households", "cost", "need_met")
    )
    totals = pd.DataFrame(
        {
            "quantity": [
                "as of",
                "need model",
                "budget (yuan a month)",
                "cost (yuan a month)",
                "expected need met",
                "estimated need of all households",
                "LP bound",
                "gap to the bound",
                "solver status",
            ],
            "value": [
                str(plan.as_of),
                model or "not given",
                fmt_number(plan.budget, 0),
                fmt_number(plan.cost, 0),
                fmt_number(plan.objective, 1),
                fmt_number(plan.total_need, 1),
                fmt_number(plan.bound, 1),
                f"{plan.gap:.2e}",
                plan.status,
            ],
        }
    )
    head = table(totals, text_columns=["quantity", "value"])
    if plan.fairness:
        head += note("Fairness floors met: " + "; ".join(f.describe() for f in plan.fairness))
    if unmodelled:
        head += note(
            f"Need dimensions the model does not predict, counted as no estimated need: "
            f"{', '.join(unmodelled)}. Programmes serving only them are not given."
        )
    sections = [
        ("plan", "Plan", head),
        (
            "by-programme",
            "By programme",
            table(by_programme.to_pandas(), text_columns=["programme_id", "name_en"]),
        ),
    ]
    if "region_id" in summary.columns:
        by_region = (
            summary.group_by("region_id")
            .agg(pl.col("households", "cost", "need_met").sum())
            .sort("region_id")
        )
        sections.append(
            (
                "by-region",
                "By region",
                table(by_region.to_pandas(), text_columns=["region_id"]),
            )
        )
    if curve is not None:
        from ..report._html import image

        c = _polars(curve.to_frame())
        body = image(_curve_png(c), "need met against the monthly budget")
        shown = c.select("budget", "constraint", "share_met", "cost", "price", "status")
        body += table(shown.to_pandas(), text_columns=["constraint", "status"])
        body += note(
            "price: expected need met lost to the constraint at that budget, against no "
            "constraint (empty where the constraint cannot be met)."
        )
        sections.append(("budget-curve", "Need met against the budget", body))
    return page("needsid allocation plan", sections)
