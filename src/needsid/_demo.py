"""The first end-to-end run: simulate, build features and labels, train, flag, compare.

Two LightGBM models are trained on the same features: one on the simulator's true labels
(a research figure no county can reach) and one on the labels the bundle itself holds
(``labels.make(..., source="pu")``: the casework outcomes, weighted for who gets
assessed), which is what a county with only its records gets. Both are scored against
the truth on the test date, next to the status quo at the same capacity.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from . import features, labels
from .data import validate
from .simulation import simulate

if TYPE_CHECKING:
    from lightgbm import LGBMClassifier

    from .simulation import SimulatedPopulation

__all__ = ["DemoResult", "run_demo"]

logger = logging.getLogger(__name__)

TRAIN_AS_OF = ("2024-01-01", "2024-07-01")
TEST_AS_OF = "2025-01-01"
HORIZON = 6
STATUS_QUO_KINDS = ("benefit_dibao", "benefit_tekun")


@dataclass(frozen=True)
class DemoResult:
    """Figures of one demo run, all measured on the test date's households."""

    n_households: int
    n_records: int
    seconds: float
    test_households: int
    base_rate: float
    capacity: int
    auc_model: float
    auc_oracle: float
    auc_model_visible: float
    auc_oracle_visible: float
    exclusion_model: float
    inclusion_model: float
    exclusion_status_quo: float
    inclusion_status_quo: float
    auc_bundle: float
    exclusion_bundle: float
    inclusion_bundle: float

    def rows(self) -> list[tuple[str, str]]:
        """(label, formatted value) pairs for printing."""
        pct = "{:.1%}".format
        return [
            ("households simulated", f"{self.n_households:,}"),
            ("department records", f"{self.n_records:,}"),
            (f"households scored at {TEST_AS_OF}", f"{self.test_households:,}"),
            (f"in need within {HORIZON} months (base rate)", pct(self.base_rate)),
            ("capacity (= status-quo caseload)", f"{self.capacity:,}"),
            (
                "AUC: bundle labels / true labels / oracle (all)",
                f"{self.auc_bundle:.3f} / {self.auc_model:.3f} / {self.auc_oracle:.3f}",
            ),
            (
                "AUC: true labels / oracle (visible)",
                f"{self.auc_model_visible:.3f} / {self.auc_oracle_visible:.3f}",
            ),
            (
                "exclusion error: bundle labels / true labels / status quo",
                f"{pct(self.exclusion_bundle)} / {pct(self.exclusion_model)} / "
                f"{pct(self.exclusion_status_quo)}",
            ),
            (
                "inclusion error: bundle labels / true labels / status quo",
                f"{pct(self.inclusion_bundle)} / {pct(self.inclusion_model)} / "
                f"{pct(self.inclusion_status_quo)}",
            ),
        ]

    def markdown(self) -> str:
        """Return the figures as the Markdown table README shows (``| measure | value |``)."""
        lines = ["| measure | value |", "|---|---|"]
        lines += [f"| {label} | {value} |" for label, value in self.rows()]
        return "\n".join(lines)


def _frame(pop: SimulatedPopulation, as_of: str) -> pl.DataFrame:
    """Features at ``as_of`` with the true label and the bundle's own (pu) label."""
    X: pl.DataFrame = features.build(pop.bundle, as_of=as_of)  # the bundle's type: polars
    y = labels.make(pop, as_of=as_of, horizon_months=HORIZON, source="truth")
    pu = labels.make(
        pop.bundle, as_of=as_of, horizon_months=HORIZON, source="pu", features=X
    ).select("household_id", pl.col("in_need").alias("pu_in_need"), pl.col("weight"))
    return X.join(y, on="household_id", how="inner").join(pu, on="household_id", how="left")


def _lightgbm(seed: int) -> LGBMClassifier:
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        n_jobs=2,
        verbose=-1,
    )


def _top(score: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(-score, kind="stable")
    flag = np.zeros(len(score), dtype=bool)
    flag[order[:k]] = True
    return flag


def _errors(flag: np.ndarray, need: np.ndarray) -> tuple[float, float]:
    """Exclusion error (needy not flagged) and inclusion error (flagged not needy)."""
    exclusion = float((~flag & need).sum() / max(need.sum(), 1))
    inclusion = float((flag & ~need).sum() / max(flag.sum(), 1))
    return exclusion, inclusion


def run_demo(n_households: int = 50_000, seed: int = 0) -> DemoResult:
    """Run the demo pipeline and return its figures.

    The model is trained on two earlier dates whose label windows end by the test date,
    so no training label overlaps the test features. Flags go to the highest-scoring
    households, as many as the status quo supports (households paid dibao or tekun in
    the month before the test date), so both are compared at the same capacity.
    """
    start = time.perf_counter()
    pop = simulate(n_households=n_households, months=36, seed=seed)
    validate(pop.bundle)
    names = list(features.describe()["name"])
    train = pl.concat([_frame(pop, d) for d in TRAIN_AS_OF])
    test = _frame(pop, TEST_AS_OF).join(
        pop.truth.households.select("household_id", "invisible"), on="household_id"
    )
    # named frames in and out: LightGBM 4.6 with scikit-learn 1.7 warns when a model
    # fitted on an array is asked about another array (it names the columns itself)
    X_train, X_test = train.select(names).to_pandas(), test.select(names).to_pandas()
    model = _lightgbm(seed).fit(X_train, train["in_need"].to_numpy())
    # an array for dense input (LightGBM's annotation also allows lists and sparse matrices)
    score = np.asarray(model.predict_proba(X_test))[:, 1]
    # the bundle's own labels: households pu leaves out (weight 0 or no row) do not count
    known = train["weight"].fill_null(0.0).to_numpy() > 0
    own = _lightgbm(seed).fit(
        X_train[known].reset_index(drop=True),
        train["pu_in_need"].fill_null(False).to_numpy()[known].astype(int),
        sample_weight=train["weight"].to_numpy()[known],
    )
    score_bundle = np.asarray(own.predict_proba(X_test))[:, 1]
    need = test["in_need"].to_numpy()
    oracle = test["p_need"].to_numpy()
    visible = ~test["invisible"].to_numpy()

    # status quo: paid dibao or tekun in the last month before the test date
    last_month = pl.date(2024, 12, 1)
    paid = (
        pop.bundle.records.filter(
            pl.col("kind").cast(pl.String).is_in(STATUS_QUO_KINDS)
            & (pl.col("event_date") >= last_month)
            & (pl.col("event_date") < pl.date(2025, 1, 1))
        )
        .select("household_id")
        .unique()
        .with_columns(pl.lit(True).alias("paid"))
    )
    sq = test.select("household_id").join(paid, on="household_id", how="left")
    status_quo = sq["paid"].fill_null(False).to_numpy()
    capacity = int(status_quo.sum())
    ex_m, in_m = _errors(_top(score, capacity), need)
    ex_b, in_b = _errors(_top(score_bundle, capacity), need)
    ex_s, in_s = _errors(status_quo, need)
    return DemoResult(
        n_households=pop.bundle.households.height,
        n_records=pop.bundle.records.height,
        seconds=time.perf_counter() - start,
        test_households=len(score),
        base_rate=float(need.mean()),
        capacity=capacity,
        auc_model=float(roc_auc_score(need, score)),
        auc_oracle=float(roc_auc_score(need, oracle)),
        auc_model_visible=float(roc_auc_score(need[visible], score[visible])),
        auc_oracle_visible=float(roc_auc_score(need[visible], oracle[visible])),
        exclusion_model=ex_m,
        inclusion_model=in_m,
        exclusion_status_quo=ex_s,
        inclusion_status_quo=in_s,
        auc_bundle=float(roc_auc_score(need, score_bundle)),
        exclusion_bundle=ex_b,
        inclusion_bundle=in_b,
    )
