"""Our risk models next to a plain logistic-regression PMT on two real poverty datasets.

Data are read in place from ../shared/data (``needsid.data.load_costa_rica`` and
``load_fies``; the cleaning is documented there). Every model of a row block sees the
same features and the same folds in this one script.

- Costa Rica (IDB household poverty): household heads, 5-fold ``StratifiedGroupKFold``
  by ``idhogar`` (stratified on the four classes). Binary task: extreme or moderate
  poverty (Target 1-2) vs not, AUC. Four-class task: macro-F1 of LightGBM multiclass
  and multinomial logistic regression (both with balanced class weights, since
  macro-F1 weighs the small extreme-poverty class like the others), and on the
  household features a LightGBM multiclass tuned by grouped inner CV with a macro-F1
  decision rule chosen on its inner out-of-fold predictions (``TunedMulticlass``), and
  the same averaged over 10 seed bags (``BaggedMulticlass``): each bag draws its own
  grouped inner split and LightGBM seed and trains one model per inner fold, the class
  probabilities are the mean of all 30 models, and the per-class multipliers of the
  decision rule are chosen on the 10 bags' out-of-fold probabilities stacked. Every
  choice (parameters, rounds, multipliers) is made inside the outer training fold.
- Philippines FIES: poverty = per-capita income below PHP 21,753 from non-income
  columns only (a proxy means test), 5-fold ``StratifiedKFold``; AUC and exclusion
  error at a capacity equal to the fold's poverty rate.

Two feature sets (the ``features`` column): ``heads``, the loader's columns (Costa Rica
only, as in earlier versions of this table), and ``household``, those plus household
features built here from the data alone (no label): for Costa Rica, aggregates of the
members' rows (schooling, adults' schooling, years behind in school, age, education
level, adults with complete secondary, disability, sex, partnered share, members outside
the core family) and per-person ratios (rooms, bedrooms, phones, tablets, rent,
schooling, devices), phones per adult, rent per room, the head's schooling per year of
age, a single-parent flag, others living in the dwelling, rooms besides bedrooms,
ordinal housing quality, deprivation and asset counts; for FIES, per-member housing and
assets, the employed and dependent shares.

Binary models: ``GBMRiskModel()`` (defaults), ``GBMRiskModel.small_data`` (inner
grouped CV inside ``fit`` chooses leaves, L2 penalty, column sampling and the number of
trees; monotone constraints on rooms, assets, schooling and crowding, whose sign is
known, and on Costa Rica's household features the same preset without them), plain
``LGBMClassifier()``,
``PointsScorecard(max_features=10)``, ``EBMRiskModel`` and the PMT baseline:
``LogisticRegression`` on standardised features with median imputation (and one-hot
categories, region included, as for every model on FIES). On FIES, 33k training rows,
the preset runs at ``learning_rate=0.1`` with 2 inner folds to keep its search within the
runtime budget.

Writes experiments/results/real_data.csv (mean and standard deviation over folds) and
real_data_folds.csv (every fold).

    .venv/bin/python experiments/real_data.py
    .venv/bin/python experiments/real_data.py --data ../shared/data --n-jobs 1
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from _config import parse_args
from lightgbm import LGBMClassifier
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import ParameterGrid, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from needsid._io import umask_mode, write_atomic
from needsid.data import load_costa_rica, load_fies
from needsid.evaluate import targeting_metrics
from needsid.models import EBMRiskModel, GBMRiskModel, PointsScorecard

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
FOLDS = 5
SEED = 0
PRESET = "LightGBM small-data preset"

#: Costa Rica columns whose effect on poverty has a known sign: more rooms, assets and
#: schooling never raise the risk, more crowding and deprivations never lower it
CR_MONOTONE = {
    **dict.fromkeys(
        ["rooms", "bedrooms", "rooms_per_person", "bedrooms_per_person", "qmobilephone",
         "phones_per_person", "v18q1", "tablets_per_person", "refrig", "computer",
         "television", "assets", "escolari", "meaneduc", "escolari_mean", "escolari_max",
         "instlevel_mean", "instlevel_max", "head_instlevel", "housing_quality"],
        -1,
    ),
    **dict.fromkeys(["overcrowding", "hacdor", "hacapo", "deprivations"], 1),
}  # fmt: skip
#: FIES assets and housing size (boats and tricycles left out: they are work tools of
#: fishing and transport households as much as wealth)
FIES_ASSETS = [
    "Number of Television", "Number of CD/VCD/DVD", "Number of Component/Stereo set",
    "Number of Refrigerator/Freezer", "Number of Washing Machine",
    "Number of Airconditioner", "Number of Car, Jeep, Van",
    "Number of Landline/wireless telephones", "Number of Cellular phone",
    "Number of Personal Computer", "Number of Stove with Oven/Gas Range",
]  # fmt: skip
FIES_MONOTONE = dict.fromkeys(
    [*FIES_ASSETS, "House Floor Area", "Number of bedrooms", "Electricity", "assets",
     "assets_per_member", "floor_area_per_member", "bedrooms_per_member",
     "phones_per_member", "employed_share"],
    -1,
)  # fmt: skip


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


# -- household features ------------------------------------------------------------------


def _ordinal(frame: pd.DataFrame, prefix: str, n: int) -> pd.Series:
    """Position (0-based) of the one-hot column set among ``prefix1..prefix<n>``."""
    cols = [f"{prefix}{i}" for i in range(1, n + 1)]
    return pd.Series(np.argmax(frame[cols].to_numpy(), axis=1), index=frame.index, dtype=float)


def costa_rica_household(train_csv: Path, X: pd.DataFrame, idhogar: pd.Series) -> pd.DataFrame:
    """The heads' columns plus aggregates of every member's row and per-person ratios."""
    people = pd.read_csv(train_csv)
    people["instlevel"] = _ordinal(people, "instlevel", 9)
    adult = people["age"] >= 18
    people["escolari_adult"] = people["escolari"].where(adult)
    # complete academic secondary or more (instlevel5 and up)
    people["secondary_adult"] = (people["instlevel"] >= 4).astype(float).where(adult)
    people["partnered"] = people["estadocivil2"] + people["estadocivil3"]  # union, married
    people["extended"] = people[[f"parentesco{i}" for i in range(5, 13)]].sum(axis=1)
    members = people.groupby("idhogar").agg(
        escolari_mean=("escolari", "mean"),
        escolari_max=("escolari", "max"),
        escolari_min=("escolari", "min"),
        escolari_sd=("escolari", "std"),
        age_mean=("age", "mean"),
        age_max=("age", "max"),
        age_min=("age", "min"),
        instlevel_mean=("instlevel", "mean"),
        instlevel_max=("instlevel", "max"),
        disabled_share=("dis", "mean"),
        female_share=("female", "mean"),
    )
    more = (
        people.groupby("idhogar")
        .agg(
            escolari_adult_mean=("escolari_adult", "mean"),
            escolari_adult_max=("escolari_adult", "max"),
            rez_esc_mean=("rez_esc", "mean"),  # years behind in school, school-age members
            rez_esc_max=("rez_esc", "max"),
            secondary_adult_share=("secondary_adult", "mean"),
            partnered_share=("partnered", "mean"),
            extended_members=("extended", "sum"),  # not head, spouse or (step)children
            escolari_sum=("escolari", "sum"),
            spouses=("parentesco2", "sum"),
        )
        .reindex(idhogar.to_numpy())
    )
    out = X.copy()
    out[members.columns] = members.reindex(idhogar.to_numpy()).to_numpy()
    size = X["hhsize"].clip(lower=1)
    out["rooms_per_person"] = X["rooms"] / size
    out["bedrooms_per_person"] = X["bedrooms"] / size
    out["phones_per_person"] = X["qmobilephone"] / size
    out["tablets_per_person"] = X["v18q1"] / size
    out["rent_per_person"] = X["v2a1"] / size
    out["adult_share"] = X["hogar_adul"] / size
    out["child_share"] = X["hogar_nin"] / size
    out["elderly_share"] = X["hogar_mayor"] / size
    out["head_instlevel"] = _ordinal(X, "instlevel", 9)
    walls, roof, floor = (_ordinal(X, p, 3) for p in ("epared", "etecho", "eviv"))
    out["housing_quality"] = walls + roof + floor
    out["deprivations"] = (
        X["sanitario1"] + X["noelec"] + X["pisonotiene"] + X["abastaguano"] + (1 - X["cielorazo"])
    )
    out["assets"] = X["refrig"] + X["computer"] + X["television"] + X["v18q"] + X["mobilephone"]
    out[list(more.columns[:7])] = more.iloc[:, :7].to_numpy()
    out["escolari_per_person"] = more["escolari_sum"].to_numpy() / size
    out["single_parent"] = ((X["hogar_nin"] > 0) & (more["spouses"].to_numpy() == 0)).astype(float)
    out["tech"] = X["v18q1"] + X["computer"] + X["television"] + X["qmobilephone"]
    out["tech_per_person"] = out["tech"] / size
    out["phones_per_adult"] = X["qmobilephone"] / X["hogar_adul"].clip(lower=1)
    out["rent_per_room"] = X["v2a1"] / X["rooms"].clip(lower=1)
    out["escolari_per_age"] = X["escolari"] / X["age"].clip(lower=1)
    out["others_in_dwelling"] = X["tamviv"] - X["hhsize"]
    out["living_rooms"] = X["rooms"] - X["bedrooms"]
    return out


def fies_household(X: pd.DataFrame) -> pd.DataFrame:
    """FIES columns plus per-member housing and assets and the employed, dependent shares."""
    out = X.copy()
    size = X["Total Number of Family members"].clip(lower=1)
    out["assets"] = X[FIES_ASSETS].sum(axis=1)
    out["assets_per_member"] = out["assets"] / size
    out["floor_area_per_member"] = X["House Floor Area"] / size
    out["bedrooms_per_member"] = X["Number of bedrooms"] / size
    out["phones_per_member"] = X["Number of Cellular phone"] / size
    out["employed_share"] = X["Total number of family members employed"] / size
    young = X["Members with age less than 5 year old"] + X["Members with age 5 - 17 years old"]
    out["dependent_share"] = young / size
    return out


# -- models ------------------------------------------------------------------------------


def binary_models(categorical, n_jobs: int, monotone: dict, preset: dict) -> dict:
    """Every binary model on one feature set; ``preset``: extra small_data() settings."""
    pre = (lambda: [encoder(categorical)]) if categorical else list
    models = {
        "LightGBM (GBMRiskModel)": make_pipeline(*pre(), GBMRiskModel(n_jobs=n_jobs)),
        PRESET: make_pipeline(
            *pre(),
            GBMRiskModel.small_data(monotone_constraints=monotone, n_jobs=n_jobs, **preset),
        ),
        "plain LightGBM": make_pipeline(
            # an array: LightGBM refuses feature names with commas ("Car, Jeep, Van")
            *pre(),
            FunctionTransformer(np.asarray),
            LGBMClassifier(random_state=SEED, n_jobs=n_jobs, verbose=-1),
        ),
        "scorecard (10 features)": make_pipeline(*pre(), PointsScorecard(max_features=10)),
        "EBM": make_pipeline(*pre(), EBMRiskModel(n_jobs=n_jobs)),
        "logistic PMT": make_pipeline(
            *pre(),
            SimpleImputer(strategy="median"),
            StandardScaler(),
            LogisticRegression(max_iter=5000),
        ),
    }
    return models


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


class TunedMulticlass:
    """LightGBM multiclass tuned like the preset, with a decision rule for macro-F1.

    Balanced class weights; grouped inner CV (3 folds, early stopping on the weighted
    multiclass log loss) picks leaves, column sampling and rounds, as
    ``GBMRiskModel.small_data`` does; then one multiplier per class on the predicted
    probabilities, chosen on the inner out-of-fold probabilities to maximise their
    macro-F1, turns probabilities into a class (argmax of the scaled probabilities).
    """

    GRID = {"num_leaves": [4, 8, 16], "colsample_bytree": [0.3, 0.7]}
    SCALES = np.geomspace(0.5, 2.0, 13)

    def __init__(self, n_jobs: int = 1, seed: int = SEED, inner_folds: int = 3) -> None:
        self.n_jobs, self.seed, self.inner_folds = n_jobs, seed, inner_folds

    def _prepare(self, X: pd.DataFrame, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Classes, the feature array, balanced weights and LightGBM's base parameters."""
        self.classes_, yi = np.unique(y, return_inverse=True)
        self.weight_ = compute_sample_weight("balanced", yi)
        self.base_ = dict(
            objective="multiclass", num_class=len(self.classes_), metric="multi_logloss",
            learning_rate=0.03, min_child_samples=20, subsample=0.8, subsample_freq=1,
            seed=self.seed, num_threads=self.n_jobs, verbosity=-1,
        )  # fmt: skip
        return X.to_numpy(np.float64), yi

    def _inner_folds(self, X: np.ndarray, yi: np.ndarray, groups: np.ndarray, seed: int):
        cv = StratifiedGroupKFold(self.inner_folds, shuffle=True, random_state=seed)
        return list(cv.split(X, yi, groups))

    def _search(self, X: np.ndarray, yi: np.ndarray, folds: list) -> np.ndarray:
        """Grid search by inner CV; sets params_ and rounds_, returns the best's OOF."""
        best, oof = (np.inf, {}, 0), np.zeros((len(yi), len(self.classes_)))
        for candidate in ParameterGrid(self.GRID):
            result = lgb.cv(
                {**self.base_, **candidate},
                lgb.Dataset(X, yi, weight=self.weight_),
                num_boost_round=2000,
                folds=folds,
                callbacks=[lgb.early_stopping(50, verbose=False)],
                return_cvbooster=True,
            )
            curve = np.asarray(result["valid multi_logloss-mean"])
            rounds = int(np.argmin(curve)) + 1
            if curve[rounds - 1] < best[0]:
                best = (curve[rounds - 1], candidate, rounds)
                for booster, (_, valid) in zip(result["cvbooster"].boosters, folds, strict=True):
                    oof[valid] = booster.predict(X[valid], num_iteration=rounds)
        _, self.params_, self.rounds_ = best
        return oof

    def fit(self, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray) -> TunedMulticlass:
        X, yi = self._prepare(X, y)
        oof = self._search(X, yi, self._inner_folds(X, yi, groups, self.seed))
        self.scale_ = _macro_f1_scales(oof, yi, self.SCALES)
        self.booster_ = lgb.train(
            {**self.base_, **self.params_}, lgb.Dataset(X, yi, weight=self.weight_), self.rounds_
        )
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(X.to_numpy(np.float64))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X) * self.scale_, axis=1)]


class BaggedMulticlass(TunedMulticlass):
    """``TunedMulticlass`` averaged over seeds, with its rule chosen on every bag's OOF.

    The same inner CV picks the parameters and rounds once; then each of ``n_bags``
    bags draws its own grouped inner split and LightGBM seed (``seed + bag``) and trains
    one model per inner fold. The class probabilities are the mean over all
    ``n_bags * inner_folds`` models, and the per-class multipliers are chosen on the
    out-of-fold probabilities of all bags stacked (``n_bags`` predictions per household,
    each from models that did not see it), so the rule is fitted to the very models
    that predict, on ``n_bags`` times as many rows as a single split gives.
    """

    def __init__(
        self, n_jobs: int = 1, seed: int = SEED, inner_folds: int = 3, n_bags: int = 10
    ) -> None:
        super().__init__(n_jobs, seed, inner_folds)
        self.n_bags = n_bags

    def fit(self, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray) -> BaggedMulticlass:
        X, yi = self._prepare(X, y)
        self._search(X, yi, self._inner_folds(X, yi, groups, self.seed))
        oofs, self.boosters_ = [], []
        for bag in range(self.n_bags):
            seed = self.seed + bag
            params = {**self.base_, **self.params_, "seed": seed}
            oof = np.zeros((len(yi), len(self.classes_)))
            for train, valid in self._inner_folds(X, yi, groups, seed):
                data = lgb.Dataset(X[train], yi[train], weight=self.weight_[train])
                booster = lgb.train(params, data, self.rounds_)
                oof[valid] = booster.predict(X[valid])
                self.boosters_.append(booster)
            oofs.append(oof)
        self.scale_ = _macro_f1_scales(np.vstack(oofs), np.tile(yi, self.n_bags), self.SCALES)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        X = X.to_numpy(np.float64)
        return np.mean([booster.predict(X) for booster in self.boosters_], axis=0)


def _macro_f1_scales(proba: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per-class multipliers maximising macro-F1 of argmax(proba * scale): coordinate ascent."""
    scale = np.ones(proba.shape[1])

    def score(s: np.ndarray) -> float:
        return f1_score(y, np.argmax(proba * s, axis=1), average="macro")

    for _ in range(3):
        for k in range(len(scale)):
            trials = [score(np.where(np.arange(len(scale)) == k, v, scale)) for v in grid]
            scale[k] = grid[int(np.argmax(trials))]  # ties: the smallest multiplier
    return scale


def _fit(model, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None):
    """Fit a clone; a tuning GBMRiskModel at the end of a pipeline gets the groups."""
    fitted = clone(model)
    last = fitted.steps[-1][1] if isinstance(fitted, Pipeline) else fitted
    if groups is None or getattr(last, "tuning", None) is None:
        return fitted.fit(X, y)
    if isinstance(fitted, Pipeline):
        return fitted.fit(X, y, **{f"{fitted.steps[-1][0]}__groups": groups})
    return fitted.fit(X, y, groups=groups)


def binary_rows(dataset, features, X, y, folds, models, groups=None) -> list[dict]:
    rows = []
    for name, model in models.items():
        t = time.perf_counter()
        for k, (tr, te) in enumerate(folds):
            fitted = _fit(model, X.iloc[tr], y[tr], None if groups is None else groups[tr])
            p = fitted.predict_proba(X.iloc[te])[:, 1]
            m = targeting_metrics(y[te], p, capacity=float(y[te].mean()))
            for metric, value in {
                "auc": roc_auc_score(y[te], p),
                "average_precision": average_precision_score(y[te], p),
                "exclusion_error_at_base_rate": m.exclusion_error,
                "brier": m.brier,
            }.items():
                rows.append(
                    dict(dataset=dataset, features=features, task="poor vs not", model=name,
                         fold=k, metric=metric, value=value)
                )  # fmt: skip
        print(f"  {dataset} {features} {name}: {time.perf_counter() - t:.0f} s", flush=True)
    return rows


def costa_rica(path: Path, n_jobs: int) -> list[dict]:
    d = load_costa_rica(path)
    y4 = d.y.to_numpy()
    y = (y4 <= 2).astype(int)  # extreme or moderate poverty
    groups = d.groups.to_numpy()
    cv = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    folds = list(cv.split(d.X, y4, groups=groups))
    print(f"Costa Rica: {len(y)} household heads, poor (Target 1-2) {y.mean():.3f}")
    rows = []
    for features, X in [("heads", d.X), ("household", costa_rica_household(path, d.X, d.groups))]:
        monotone = {k: v for k, v in CR_MONOTONE.items() if k in X}
        models = binary_models((), n_jobs, monotone, {})
        if features == "household":  # what the monotone constraints add
            models[f"{PRESET}, no monotone"] = GBMRiskModel.small_data(n_jobs=n_jobs)
        rows += binary_rows("costa_rica", features, X, y, folds, models, groups)
        multiclass = multiclass_models(n_jobs)
        if features == "household":
            multiclass["LightGBM multiclass, inner CV + macro-F1 rule"] = TunedMulticlass(n_jobs)
            multiclass["LightGBM multiclass, inner CV + macro-F1 rule, 10 seed bags"] = (
                BaggedMulticlass(n_jobs, n_bags=10)
            )
        for name, model in multiclass.items():
            t = time.perf_counter()
            for k, (tr, te) in enumerate(folds):
                if isinstance(model, TunedMulticlass):  # a fresh copy of the same settings
                    fitted = copy.deepcopy(model).fit(X.iloc[tr], y4[tr], groups[tr])
                else:
                    fitted = clone(model).fit(X.iloc[tr], y4[tr])
                pred = fitted.predict(X.iloc[te])
                rows.append(
                    dict(dataset="costa_rica", features=features, task="4 classes", model=name,
                         fold=k, metric="macro_f1",
                         value=f1_score(y4[te], pred, average="macro"))
                )  # fmt: skip
            print(f"  costa_rica {features} {name}: {time.perf_counter() - t:.0f} s", flush=True)
    return rows


def fies(path: Path, n_jobs: int) -> list[dict]:
    d = load_fies(path)
    y = d.y.to_numpy().astype(int)
    cv = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    folds = list(cv.split(d.X, y))
    print(f"FIES: {len(y)} households, poor {y.mean():.3f}, {d.X.shape[1]} non-income columns")
    X = fies_household(d.X)
    monotone = {k: v for k, v in FIES_MONOTONE.items() if k in X}
    # 33k training rows: faster shrinkage and 2 inner folds (11k+ validation rows each)
    # keep the preset's search within the runtime budget
    preset = {"learning_rate": 0.1, "inner_folds": 2}
    models = binary_models(d.categorical, n_jobs, monotone, preset)
    return binary_rows("fies", "household", X, y, folds, models)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--n-jobs", type=int, default=1)
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
    start = time.perf_counter()
    for file, run in ((cr, costa_rica), (ph, fies)):
        if file.is_file():
            rows += run(file, args.n_jobs)
        else:
            print(f"Skipping {file}: not found.", file=sys.stderr)
    folds = pd.DataFrame(rows)
    keys = ["dataset", "features", "task", "model", "metric"]
    summary = (
        folds.groupby(keys, sort=False)["value"]
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
    ).pivot(index=keys[:-1], columns="metric", values="cell")
    print(wide.fillna("").to_string())
    print(f"written {args.out / 'real_data.csv'} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
