"""Our risk models next to a plain logistic-regression PMT on two real poverty datasets.

Data are read in place from ../shared/data (``needsid.data.load_costa_rica`` and
``load_fies``; the cleaning is documented there). Every model sees the same features
and the same folds in this one script.

- Costa Rica (IDB household poverty): household heads, 5-fold ``StratifiedGroupKFold``
  by ``idhogar`` (stratified on the four classes). Binary task: extreme or moderate
  poverty (Target 1-2) vs not, AUC. Four-class task: macro-F1 of LightGBM multiclass
  and multinomial logistic regression (both with balanced class weights, since
  macro-F1 weighs the small extreme-poverty class like the others).
- Philippines FIES: poverty = per-capita income below PHP 21,753 from non-income
  columns only (a proxy means test), 5-fold ``StratifiedKFold``; AUC and exclusion
  error at a capacity equal to the fold's poverty rate.

Binary models: ``GBMRiskModel``, ``PointsScorecard(max_features=10)``, ``EBMRiskModel``
and the PMT baseline: ``LogisticRegression`` on standardised features with median
imputation (and one-hot categories, region included, as for every model on FIES).

Writes experiments/results/real_data.csv (mean and standard deviation over folds) and
real_data_folds.csv (every fold).

    .venv/bin/python experiments/real_data.py
    .venv/bin/python experiments/real_data.py --data ../shared/data --n-jobs 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from _config import parse_args
from lightgbm import LGBMClassifier
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from needsid._io import umask_mode, write_atomic
from needsid.data import load_costa_rica, load_fies
from needsid.evaluate import targeting_metrics
from needsid.models import EBMRiskModel, GBMRiskModel, PointsScorecard

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
FOLDS = 5
SEED = 0


def encoder(categorical) -> ColumnTransformer:
    """One-hot categories (rare levels pooled), numbers passed through; pandas out."""
    onehot = OneHotEncoder(
        min_frequency=0.005, handle_unknown="infrequent_if_exist", sparse_output=False
    )
    return ColumnTransformer(
        [("cat", onehot, list(categorical))],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def binary_models(categorical, n_jobs: int) -> dict:
    pre = (lambda: [encoder(categorical)]) if categorical else list
    return {
        "LightGBM (GBMRiskModel)": make_pipeline(*pre(), GBMRiskModel(n_jobs=n_jobs)),
        "scorecard (10 features)": make_pipeline(*pre(), PointsScorecard(max_features=10)),
        "EBM": make_pipeline(*pre(), EBMRiskModel(n_jobs=n_jobs)),
        "logistic PMT": make_pipeline(
            *pre(),
            SimpleImputer(strategy="median"),
            StandardScaler(),
            LogisticRegression(max_iter=5000),
        ),
    }


def multiclass_models(n_jobs: int) -> dict:
    return {
        "LightGBM multiclass": LGBMClassifier(
            n_estimators=300,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            class_weight="balanced",
            random_state=SEED,
            n_jobs=n_jobs,
            verbose=-1,
        ),
        "multinomial logistic": make_pipeline(
            SimpleImputer(strategy="median"),
            StandardScaler(),
            LogisticRegression(max_iter=5000, class_weight="balanced"),
        ),
    }


def binary_rows(dataset: str, X, y, folds, models) -> list[dict]:
    rows = []
    for name, model in models.items():
        t = time.perf_counter()
        for k, (tr, te) in enumerate(folds):
            fitted = clone(model).fit(X.iloc[tr], y[tr])
            p = fitted.predict_proba(X.iloc[te])[:, 1]
            m = targeting_metrics(y[te], p, capacity=float(y[te].mean()))
            for metric, value in {
                "auc": roc_auc_score(y[te], p),
                "average_precision": average_precision_score(y[te], p),
                "exclusion_error_at_base_rate": m.exclusion_error,
                "brier": m.brier,
            }.items():
                rows.append(
                    dict(dataset=dataset, task="poor vs not", model=name, fold=k,
                         metric=metric, value=value)
                )  # fmt: skip
        print(f"  {dataset} {name}: {time.perf_counter() - t:.0f} s", flush=True)
    return rows


def costa_rica(path: Path, n_jobs: int) -> list[dict]:
    d = load_costa_rica(path)
    y4 = d.y.to_numpy()
    y = (y4 <= 2).astype(int)  # extreme or moderate poverty
    cv = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    folds = list(cv.split(d.X, y4, groups=d.groups))
    print(f"Costa Rica: {len(y)} household heads, poor (Target 1-2) {y.mean():.3f}")
    rows = binary_rows("costa_rica", d.X, y, folds, binary_models((), n_jobs))
    for name, model in multiclass_models(n_jobs).items():
        for k, (tr, te) in enumerate(folds):
            pred = clone(model).fit(d.X.iloc[tr], y4[tr]).predict(d.X.iloc[te])
            rows.append(
                dict(dataset="costa_rica", task="4 classes", model=name, fold=k,
                     metric="macro_f1", value=f1_score(y4[te], pred, average="macro"))
            )  # fmt: skip
    return rows


def fies(path: Path, n_jobs: int) -> list[dict]:
    d = load_fies(path)
    y = d.y.to_numpy().astype(int)
    cv = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    folds = list(cv.split(d.X, y))
    print(f"FIES: {len(y)} households, poor {y.mean():.3f}, {d.X.shape[1]} non-income columns")
    return binary_rows("fies", d.X, y, folds, binary_models(d.categorical, n_jobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parse_args(parser, "real_data")
    cr = args.data / "costa-rica-poverty" / "train.csv"
    ph = args.data / "philippines-fies" / "family-income-expenditure.csv.gz"
    if not cr.is_file() and not ph.is_file():
        print(
            f"Skipping: no real data under {args.data} (expected costa-rica-poverty/ and "
            "philippines-fies/, see ../shared/data/README.md); pass --data.",
            file=sys.stderr,
        )
        return
    rows = []
    for file, run in ((cr, costa_rica), (ph, fies)):
        if file.is_file():
            rows += run(file, args.n_jobs)
        else:
            print(f"Skipping {file}: not found.", file=sys.stderr)
    folds = pd.DataFrame(rows)
    summary = (
        folds.groupby(["dataset", "task", "model", "metric"], sort=False)["value"]
        .agg(mean="mean", sd="std", folds="size")
        .reset_index()
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for name, table in [("real_data_folds.csv", folds), ("real_data.csv", summary)]:
        write_atomic(
            args.out / name,
            lambda tmp, t=table: t.to_csv(tmp, index=False, float_format="%.4f"),
            mode=umask_mode(),
        )
    wide = summary.assign(
        cell=[f"{m:.3f} ± {s:.3f}" for m, s in zip(summary["mean"], summary["sd"], strict=True)]
    ).pivot(index=["dataset", "task", "model"], columns="metric", values="cell")
    print(wide.fillna("").to_string())
    print(f"written {args.out / 'real_data.csv'}")


if __name__ == "__main__":
    main()
