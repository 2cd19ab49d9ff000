"""Excess exclusion error of digitally invisible households, detected and reduced.

One seeded simulation (configs/experiments/fairness.yaml; default 200k households x 36
months), one leak-free temporal split. The sensitive group is the simulator's truth
``invisible`` flag. At a fixed capacity (per region, and one national top-k), the FNR
(exclusion error) of invisible households against visible ones, with bootstrap 95%
intervals from ``needsid.fairness.audit``, for:

- ``no_coverage``: GBMRiskModel trained without the coverage feature family;
- ``with_coverage``: the same model trained with it;
- ``no_coverage+outreach`` / ``with_coverage+outreach``: a slice of each region's
  capacity (``outreach.share``) routed to manual outreach of households whose coverage
  feature ``invisibility_score`` is at least ``outreach.min_value``, ranked by the model
  score; the rest by score as before. Same total capacity.

Then ``needsid.fairness.compare_mitigations`` on the same split (model without coverage
features, fitted on 75% of the training households; ThresholdOptimizer's thresholds on
the other 25%): no mitigation, per-group top-k, ThresholdOptimizer,
ExponentiatedGradient (``max_iter`` from the config) and the outreach slice.

Writes experiments/results/fairness_invisibility.csv and fairness_mitigation.csv.

    .venv/bin/python experiments/fairness_invisibility.py
    .venv/bin/python experiments/fairness_invisibility.py --households 20000  # quick look
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import pandas as pd
import yaml

import needsid as ni
from needsid._io import umask_mode, write_atomic
from needsid.evaluate import select_top, temporal_split
from needsid.fairness import MITIGATIONS, audit, compare_mitigations, reserve_outreach
from needsid.models import GBMRiskModel

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "experiments" / "fairness.yaml"
OUT = ROOT / "experiments" / "results" / "fairness_invisibility.csv"
OUT_MITIGATION = ROOT / "experiments" / "results" / "fairness_mitigation.csv"


def markdown(frame: pd.DataFrame, index: bool = False) -> str:
    frame = frame.reset_index() if index else frame
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * frame.shape[1]]
    for r in frame.itertuples(index=False):
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in r]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def prepare(cfg: dict, households: int | None):
    sim = cfg["simulation"]
    n = households or sim["households"]
    t = time.perf_counter()
    pop = ni.simulate(n, sim["months"], seed=sim["seed"], n_jobs=cfg["n_jobs"])
    s = cfg["split"]
    split = temporal_split(
        pop, s["train_as_of"], s["test_as_of"], horizon_months=s["horizon_months"],
        test_size=s["test_size"], seed=s["seed"],
    )  # fmt: skip
    extra = (
        pop.truth.households.select("household_id", "invisible")
        .join(pop.bundle.households.select("household_id", "region_id"), on="household_id")
        .to_pandas()
    )
    split = dataclasses.replace(
        split,
        train=split.train.merge(extra, on="household_id", how="left", validate="m:1"),
        test=split.test.merge(extra, on="household_id", how="left", validate="1:1"),
    )
    print(f"{n:,} households simulated and split in {time.perf_counter() - t:.0f} s: "
          f"{len(split.train):,} training rows, {len(split.test):,} test households")  # fmt: skip
    return n, split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(CONFIG))
    parser.add_argument("--households", type=int, default=None)
    parser.add_argument("--skip-mitigation", action="store_true")
    args = parser.parse_args()
    cfg = yaml.safe_load(Path(args.config).read_text())
    n, split = prepare(cfg, args.households)
    described = ni.features.describe()
    coverage = set(described.loc[described["family"] == "coverage", "name"])
    feature_sets = {
        "no_coverage": [f for f in split.features if f not in coverage],
        "with_coverage": list(split.features),
    }
    test = split.test
    y = test["in_need"].to_numpy().astype(bool)
    group = test[cfg["sensitive"]].astype(str)
    region = test["region_id"].to_numpy()
    out_cfg = cfg["outreach"]
    pool = test[out_cfg["feature"]].to_numpy() >= out_cfg["min_value"]
    cap = cfg["capacity"]
    rows = []
    for name, cols in feature_sets.items():
        t = time.perf_counter()
        model = GBMRiskModel(n_jobs=cfg["n_jobs"], **cfg["model"])
        model.fit(split.train[cols], split.train["in_need"].to_numpy().astype(int))
        scores = model.predict_proba(test[cols])[:, 1]
        print(f"{name}: fitted in {time.perf_counter() - t:.0f} s")
        for scope in cfg["capacity_scopes"]:
            groups = region if scope == "per_region" else None
            routes = {"model": select_top(scores, cap, groups)}
            routes["model+outreach"] = reserve_outreach(
                scores, pool, cap, out_cfg["share"], groups
            )
            for route, flags in routes.items():
                a = audit(y, flags, sensitive_features=group, reference="False",
                          n_boot=cfg["n_boot"], seed=cfg["simulation"]["seed"])  # fmt: skip
                d = a.disparities.set_index(["group", "metric"]).loc[("True", "fnr")]
                bg = a.by_group
                rows.append({
                    "features": name, "route": route, "capacity_scope": scope,
                    "capacity": cap, "n_test": len(y),
                    "n_invisible": int(bg.loc["True", "n"]),
                    "needy_invisible": int(bg.loc["True", ["tp", "fn"]].sum()),
                    "fnr_invisible": d["value"], "fnr_visible": d["reference"],
                    "fnr_ratio": d["ratio"], "fnr_ratio_lo": d["ratio_lo"],
                    "fnr_ratio_hi": d["ratio_hi"], "fnr_difference": d["difference"],
                    "fnr_difference_lo": d["difference_lo"],
                    "fnr_difference_hi": d["difference_hi"],
                    "exclusion_error": float((y & ~flags).sum() / y.sum()),
                    "inclusion_error": float((~y & flags).sum() / flags.sum()),
                    "selection_rate_invisible": bg.loc["True", "selection_rate"],
                    "selection_rate_visible": bg.loc["False", "selection_rate"],
                })  # fmt: skip
    table = pd.DataFrame(rows).assign(
        households=n, months=cfg["simulation"]["months"], seed=cfg["simulation"]["seed"]
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(
        OUT, lambda tmp: table.to_csv(tmp, index=False, float_format="%.4f"), mode=umask_mode()
    )
    shown = ["features", "route", "capacity_scope", "fnr_invisible", "fnr_visible", "fnr_ratio",
             "fnr_ratio_lo", "fnr_ratio_hi", "exclusion_error"]  # fmt: skip
    print(markdown(table[shown]))
    print(f"written {OUT.relative_to(ROOT)}")
    if args.skip_mitigation:
        return
    m = cfg["mitigation"]
    t = time.perf_counter()
    comparison = compare_mitigations(
        GBMRiskModel(n_jobs=cfg["n_jobs"], **cfg["model"]), split,
        sensitive_features=cfg["sensitive"], capacity=cap,
        capacity_groups="region_id" if m["capacity_scope"] == "per_region" else None,
        constraint=m["constraint"], allocation=m["allocation"], objective=m["objective"],
        eps=m["eps"], max_iter=m["max_iter"], features=feature_sets["no_coverage"],
        methods=(*MITIGATIONS, "outreach"), outreach_pool=pool, outreach_share=out_cfg["share"],
        n_boot=m["n_boot"], seed=cfg["simulation"]["seed"], n_jobs=cfg["n_jobs"],
    )  # fmt: skip
    print(f"mitigations compared in {time.perf_counter() - t:.0f} s")
    long = comparison.table.assign(
        households=n, capacity=cap, capacity_scope=m["capacity_scope"],
        constraint=m["constraint"], features="no_coverage",
    )  # fmt: skip
    write_atomic(
        OUT_MITIGATION,
        lambda tmp: long.to_csv(tmp, index=False, float_format="%.4f"),
        mode=umask_mode(),
    )
    print(markdown(comparison.to_frame(), index=True))
    print(f"written {OUT_MITIGATION.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
