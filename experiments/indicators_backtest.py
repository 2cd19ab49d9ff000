"""The indicator register's points against the scorecard and LightGBM at a capacity.

One seeded simulation (configs/experiments/indicators_backtest.yaml: 50k households x 36
months, seed 0; the register's points were set by hand looking at seed 1), one leak-free
rolling-origin split (households grouped, training label windows end by the test date).
On the test households at the test date, each ranking flags the top 5%:

- indicator points: the register's total points (``register.score(bundle, test_as_of)``,
  with the fade of earlier months); ties at the cut are broken by household order;
- indicator levels: the warning level first (floors included), then the points;
- scorecard and LightGBM trained on the bundle's own labels (``labels.make(...,
  source="pu")``: the casework outcomes, weighted for who gets assessed: what a county
  has), and the same two trained on the simulator's truth (a research figure);
- the status quo (households paid dibao or tekun in the month before, at its own
  caseload) and the oracle (the simulator's true probability of need).

Every ranking is measured against the truth with one paired bootstrap of the test
households (``needsid.evaluate.Comparison.from_scores``); the indicator rankings have no
Brier score (points are not probabilities). The register is not fitted to this
population: its points are the same on any population.

Writes experiments/results/indicators_backtest.csv (every ranking x metric, estimate and
95% interval) and indicators_backtest_levels.csv (households and the share in need per
warning level).

    nice .venv/bin/python experiments/indicators_backtest.py
    .venv/bin/python experiments/indicators_backtest.py --households 10000   # quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.evaluate import Comparison, compare, temporal_split
from needsid.indicators import LEVELS
from needsid.models import GBMRiskModel, PointsScorecard

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "experiments" / "indicators_backtest.yaml"
RESULTS = ROOT / "experiments" / "results"

log = logging.getLogger("indicators_backtest")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    households: int
    months: int
    seed: int
    horizon_months: int
    train_as_of: list[dt.date]
    test_as_of: dt.date
    test_size: float
    capacity: float
    n_boot: int
    n_jobs: int
    indicators: str
    gbm: dict
    scorecard: dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--households", type=int, help="override the config (quick runs)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%X")
    raw = yaml.safe_load(args.config.read_text())
    if args.households:
        raw["households"] = args.households
    cfg = Config.model_validate(raw)
    t0 = time.perf_counter()

    pop = ni.simulate(cfg.households, cfg.months, seed=cfg.seed, n_jobs=cfg.n_jobs)
    log.info("simulated %d households x %d months", cfg.households, cfg.months)
    common = dict(horizon_months=cfg.horizon_months, test_size=cfg.test_size, seed=cfg.seed)
    on_truth = temporal_split(pop, cfg.train_as_of, cfg.test_as_of, **common)
    on_bundle = temporal_split(
        pop,
        cfg.train_as_of,
        cfg.test_as_of,
        label_source="pu",
        test_label_source="truth",
        **common,
    )
    ids = on_truth.test["household_id"]
    if not ids.equals(on_bundle.test["household_id"]):
        raise RuntimeError("the two splits hold different test households")
    log.info(
        "test: %d households; training rows: %d (truth), %d (bundle labels)",
        len(ids),
        len(on_truth.train),
        len(on_bundle.train),
    )

    def models() -> dict:
        return {
            "LightGBM": GBMRiskModel(**{"n_jobs": cfg.n_jobs, **cfg.gbm}),
            "scorecard": PointsScorecard(**cfg.scorecard),
        }

    scores: dict[str, np.ndarray] = {}
    t = time.perf_counter()
    register = ni.indicators.load(ROOT / cfg.indicators)
    result = register.score(pop.bundle, cfg.test_as_of)
    seconds_indicators = time.perf_counter() - t
    levels = pd.DataFrame({"household_id": ids}).merge(
        result.levels.to_pandas(), on="household_id", how="left"
    )
    if levels["total"].isna().any():
        raise RuntimeError("test households missing from the indicator levels")
    total = levels["total"].to_numpy(dtype=float)
    rank = levels["level"].map({lv: i for i, lv in enumerate(LEVELS)}).to_numpy(dtype=float)
    span = total.max() - total.min() + 1.0
    scores["indicator points"] = total
    scores["indicator levels, then points"] = rank * span + (total - total.min())
    log.info("indicators scored in %.0f s", seconds_indicators)

    fit_seconds = {}
    for labels, split in (("bundle labels", on_bundle), ("truth", on_truth)):
        c = compare(models(), split, capacity=cfg.capacity, bundle=pop.bundle, n_boot=0)
        for name in ("scorecard", "LightGBM"):
            scores[f"{name} ({labels})"] = c.scores[name].to_numpy()
            fit_seconds[f"{name} ({labels})"] = c.fit_seconds[name]
        if labels == "truth":
            scores["status quo"] = c.scores["status quo"].to_numpy()
            scores["oracle"] = c.scores["oracle"].to_numpy()
    log.info("fit seconds: %s", {k: round(v, 1) for k, v in fit_seconds.items()})

    y = on_truth.test["in_need"].to_numpy(dtype=bool)
    comparison = Comparison.from_scores(
        scores, y, cfg.capacity, fixed=["status quo"], n_boot=cfg.n_boot, seed=cfg.seed
    )
    # points are not probabilities: a Brier score of them means nothing
    points = comparison.table["model"].str.startswith("indicator")
    table = comparison.table[~(points & (comparison.table["metric"] == "brier"))]
    table = table.assign(capacity=f"{cfg.capacity:g} of households")
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(
        args.out / "indicators_backtest.csv",
        lambda tmp: table.to_csv(tmp, index=False, float_format="%.4f"),
        mode=umask_mode(),
    )
    by_level = (
        pl.from_pandas(levels.assign(in_need=y))
        .group_by("level")
        .agg(pl.len().alias("households"), pl.col("in_need").mean().alias("share_in_need"))
        .with_columns(share_of_households=pl.col("households") / len(y))
        .sort(
            pl.col("level").replace_strict({lv: i for i, lv in enumerate(LEVELS)}), descending=True
        )
    )
    write_atomic(
        args.out / "indicators_backtest_levels.csv",
        lambda tmp: by_level.write_csv(tmp, float_precision=4),
        mode=umask_mode(),
    )

    wall = time.perf_counter() - t0
    ex = table[table["metric"] == "exclusion_error"].set_index("model")
    print(
        f"\n{cfg.households:,} households, {len(y):,} test households at "
        f"{cfg.test_as_of}, base rate {y.mean():.3f}, capacity {cfg.capacity:g}\n"
    )
    share_sq = float(scores["status quo"].mean())
    print(f"(the status quo flags its own caseload, {share_sq:.1%} of the test households)\n")
    print("| ranking | exclusion error | 95% interval | recall at k | AUC |")
    print("|---|---|---|---|---|")
    wide = comparison.to_frame()
    for name, row in ex.iterrows():
        print(
            f"| {name} | {row['estimate']:.3f} | [{row['lo']:.3f}, {row['hi']:.3f}] | "
            f"{wide.loc[name, 'recall_at_k']:.3f} | {wide.loc[name, 'auc']:.3f} |"
        )
    print(f"\nwarning levels on the test households:\n{by_level}")
    print(
        f"\nindicator scoring {seconds_indicators:.0f} s ({len(register.indicators)} "
        f"indicators, {max(i.decay_months for i in register.indicators)} monthly "
        f"evaluations); written to {args.out} in {wall:.0f} s"
    )


if __name__ == "__main__":
    main()
