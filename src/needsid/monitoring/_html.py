"""The monitoring page: levels by region, alerts, a drift heat map, precision by month."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from ..report._html import image, missing, note, page, table
from ..report._plots import _use_agg, png_base64

if TYPE_CHECKING:
    from ._run import MonitoringResult

#: Most variables shown in the drift heat map (those that drifted most, by PSI over
#: its critical value).
HEATMAP_ROWS = 30
#: Most rows of the table of marked excess tests (the smallest p-values).
EXCESS_ROWS = 40


def _months_axis(ax: object, months: list[str]) -> None:
    ax.set_xticks(range(len(months)))  # type: ignore[attr-defined]
    ax.set_xticklabels(months, rotation=45, ha="right", fontsize=8)  # type: ignore[attr-defined]


def _levels_figure(levels: pl.DataFrame, attrs: pl.DataFrame | None) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    lv = levels.with_columns(pl.col("month").cast(pl.String))
    if attrs is not None:
        lv = lv.join(attrs, on="household_id", how="left")
        by = "region_id"
    else:
        lv = lv.with_columns(pl.lit("all").alias("region_id"))
        by = "region_id"
    share = (
        lv.group_by(by, "month")
        .agg(pl.col("level").is_in(["red", "orange"]).mean().alias("share"))
        .sort(by, "month")
    )
    months = sorted(set(share["month"]))
    for region, part in share.group_by(by, maintain_order=True):
        ax.plot([months.index(m) for m in part["month"]], part["share"], lw=1, label=region[0])
    _months_axis(ax, months)
    ax.set_ylabel("share at red or orange")
    ax.set_title("Warning levels by region")
    fig.tight_layout()
    return png_base64(fig)


def _alerts_figure(alerts: pl.DataFrame) -> str:
    import matplotlib.pyplot as plt

    counts = (
        alerts.with_columns(pl.col("month").cast(pl.String))
        .group_by("month", "status")
        .len()
        .sort("month")
    )
    months = sorted(set(counts["month"]))
    fig, ax = plt.subplots(figsize=(8, 3.2))
    x = np.arange(len(months))
    for offset, status in ((-0.2, "new"), (0.2, "resolved")):
        part = dict(counts.filter(pl.col("status") == status).select("month", "len").iter_rows())
        ax.bar(x + offset, [part.get(m, 0) for m in months], width=0.4, label=status)
    _months_axis(ax, months)
    ax.set_ylabel("alerts")
    ax.legend(fontsize=8)
    ax.set_title("Alerts started and resolved")
    fig.tight_layout()
    return png_base64(fig)


def _drift_figure(drift: pl.DataFrame) -> str:
    import matplotlib.pyplot as plt

    d = drift.filter(pl.col("group") == "all", pl.col("critical").is_not_nan()).with_columns(
        pl.col("month").cast(pl.String), (pl.col("psi") / pl.col("critical")).alias("ratio")
    )
    worst = (
        d.group_by("variable")
        .agg(pl.col("ratio").max())
        .sort(["ratio", "variable"], descending=[True, False])
        .head(HEATMAP_ROWS)["variable"]
        .to_list()
    )
    months = sorted(set(d["month"]))
    grid = np.full((len(worst), len(months)), np.nan)
    for var, month, ratio in (
        d.filter(pl.col("variable").is_in(worst)).select("variable", "month", "ratio").iter_rows()
    ):
        grid[worst.index(var), months.index(month)] = ratio
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(worst) + 1.5))
    im = ax.imshow(
        np.log2(np.clip(grid, 1 / 16, 16)), aspect="auto", cmap="RdBu_r", vmin=-4, vmax=4
    )
    ax.set_yticks(range(len(worst)))
    ax.set_yticklabels(worst, fontsize=7)
    _months_axis(ax, months)
    fig.colorbar(im, ax=ax, label="log2(PSI / critical value)")
    ax.set_title("Drift against the reference (red: beyond the critical value)")
    fig.tight_layout()
    return png_base64(fig)


def _precision_figure(perf: pl.DataFrame) -> str:
    import matplotlib.pyplot as plt

    p = perf.with_columns(pl.col("month").cast(pl.String))
    months = p["month"].to_list()
    x = np.arange(len(months))
    fig, ax = plt.subplots(figsize=(8, 3.2))
    est = p["estimated_precision"].to_numpy()
    ax.plot(x, est, marker="o", label="estimated (calibrated scores)")
    ax.fill_between(x, p["estimated_low"].to_numpy(), p["estimated_high"].to_numpy(), alpha=0.2)
    obs = p["observed_precision"].to_numpy()
    if np.isfinite(obs).any():
        err = np.vstack([obs - p["observed_low"].to_numpy(), p["observed_high"].to_numpy() - obs])
        ax.errorbar(x, obs, yerr=err, fmt="s", label="observed (verified flagged)")
    _months_axis(ax, months)
    ax.set_ylim(0, 1)
    ax.set_ylabel("precision at capacity")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return png_base64(fig)


def monitoring_html(result: MonitoringResult, attrs: pl.DataFrame | None = None) -> str:
    """Return the self-contained HTML page of a monitoring run.

    ``attrs`` (``household_id, region_id``) splits the levels by region.
    """
    _use_agg()
    sections = [
        ("notes", "What this rests on", "".join(note(n) for n in result.notes)),
    ]
    if result.levels.height:
        sections.append(
            ("levels", "Warning levels", image(_levels_figure(result.levels, attrs), "levels"))
        )
    else:
        sections.append(("levels", "Warning levels", missing("an indicator register")))
    if result.alerts.height:
        counts = (
            result.alerts.group_by("month", "status")
            .len()
            .sort("month", "status")
            .pivot(on="status", index="month", values="len")
            .fill_null(0)
        )
        body = image(_alerts_figure(result.alerts), "alerts") + table(
            counts.with_columns(pl.col("month").cast(pl.String)).to_pandas(),
            text_columns=["month"],
        )
        sections.append(("alerts", "Alerts", body))
    else:
        sections.append(("alerts", "Alerts", missing("rules, a register or a model")))
    drifted = (
        result.drift.group_by("month")
        .agg(pl.len().alias("tests"), pl.col("drifted").sum().alias("drifted"))
        .sort("month")
    )
    sections.append(
        (
            "drift",
            "Drift",
            image(_drift_figure(result.drift), "drift heat map")
            + table(
                drifted.with_columns(pl.col("month").cast(pl.String)).to_pandas(),
                text_columns=["month"],
            ),
        )
    )
    marked = result.excess.filter(pl.col("marked"))
    if result.excess.height:
        body = (
            table(
                marked.sort("p_value", "month", "source", "group")
                .head(EXCESS_ROWS)
                .select(
                    pl.col("month").cast(pl.String),
                    "source",
                    "group",
                    "window",
                    "new",
                    pl.col("expected").round(1),
                    "p_value",
                )
                .to_pandas(),
                text_columns=["month", "source", "group"],
            )
            if marked.height
            else note(
                "No group's new alerts of a source rose more than the typical group's in "
                f"any month ({result.excess.height:,} tests)."
            )
        )
        sections.append(("excess", "Groups with an excess of new alerts", body))
    if result.performance.height:
        sections.append(
            (
                "precision",
                "Precision at capacity",
                image(_precision_figure(result.performance), "precision"),
            )
        )
    else:
        sections.append(("precision", "Precision at capacity", missing("a model")))
    first, last = result.months[0].isoformat(), result.months[-1].isoformat()
    return page(f"needsid monitoring, {first} to {last}", sections)
