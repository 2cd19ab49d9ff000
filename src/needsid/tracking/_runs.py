"""MLflow runs: train and register, promote with who and why, flag with a manifest, re-score.

Every flag is traceable: the flagging run records the registered model's name and
version, the rule set version, the capacity, the data's fingerprint and the SHA-256 of
the flag table it wrote, and logs a manifest that holds salted pseudonyms, never
household ids. :func:`rescore` re-runs a flagging run and says whether it reproduces the
table bit for bit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import polars as pl
import yaml

from .._cli_configs import load_config
from .._dates import as_date, months_before
from .._io import write_atomic
from .._progress import step
from .._yaml import safe_load
from ..data import HouseholdData, validate
from ..evaluate import as_capacity, compare, rule_flags, select_top, temporal_split
from ..features import build, load_spec
from ..flagging import capacity_usage, flag
from ..flagging._capacity import check_quotas
from ..labels import BUNDLE_DEFAULT
from ..models import ID_COLUMN
from ..rules import DEFAULT_RULES
from ..rules import load as load_rules
from ._checks import _label_summary, check_dates
from ._config import TrainConfig, load_train_config
from ._integrity import record as record_digests
from ._integrity import verified_copy
from ._privacy import pseudonymise, redact, salt_from_env
from ._pyfunc import model_to_json
from ._registry import _not_found_as_value_error, resolve_model
from ._store import (
    DEFAULT_TRACKING_URI,
    _client,
    _experiment_id,
    _log_model,
    _quiet_mlflow,
    _reap_stale_runs,
    _redact_text,
    _register,
    _run,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModel
    from mlflow.models.signature import ModelSignature
    from mlflow.pyfunc import PyFuncModel

    from ..evaluate import Comparison
    from ..features import FeatureSpec
    from ..models._base import RiskModel
    from ._pyfunc import FlaggingModel

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_TRACKING_URI",
    "FlagResult",
    "RescoreResult",
    "TrackingError",
    "TrainResult",
    "flag_households",
    "rescore",
    "train",
]

DEFAULT_MODEL_NAME = "needsid-risk"
TRAIN_EXPERIMENT = "needsid-train"
FLAG_EXPERIMENT = "needsid-flag"
_CODE = Path(__file__).with_name("_flagging_model_code.py")


class TrackingError(RuntimeError):
    """The tracking store could not record a run; local outputs are already written.

    Raised by :func:`flag_households` when the table is written but the run could not be
    logged; the message says where the table is and why logging failed.

    Examples
    --------
    >>> from needsid.tracking import TrackingError
    >>> try:
    ...     raise TrackingError("The flag table is written to flags.parquet, but ...")
    ... except RuntimeError as err:
    ...     print(type(err).__name__)
    TrackingError
    """


def _git_commit() -> tuple[str, str]:
    """``(commit, "true"/"false" dirty)`` of the source tree needsid runs from, if any."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return "unknown", "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return commit.stdout.strip(), str(bool(dirty.stdout.strip())).lower()
    except (OSError, subprocess.SubprocessError):
        return "unknown", "unknown"


def _read(data: HouseholdData | str | os.PathLike[str]) -> tuple[HouseholdData, str | None]:
    if isinstance(data, HouseholdData):
        return data, None
    path = Path(data)
    return HouseholdData.read(path), str(path.resolve())


def _estimator(cfg: TrainConfig) -> RiskModel:
    return cfg.model.estimator()


def _dates(as_of: dt.date, cfg: TrainConfig) -> tuple[list[dt.date], dt.date]:
    h = cfg.horizon_months
    test = months_before(as_of, h)
    train = [months_before(test, h + cfg.step_months * i) for i in range(cfg.train_origins)]
    return sorted(train), test


def _rules_path(rules: str) -> Path:
    if rules == "default":
        return DEFAULT_RULES
    return Path(rules)


def _signature(features: list[str]) -> ModelSignature:
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

    columns: list[ColSpec | TensorSpec] = [ColSpec("string", ID_COLUMN)]
    inputs = Schema(columns + [ColSpec("double", f) for f in features])
    outputs = Schema(
        [
            ColSpec("string", "household_id"),
            ColSpec("double", "score"),
            ColSpec("string", "risk_band"),
            ColSpec("boolean", "flag"),
            ColSpec("string", "reasons"),
        ]
    )
    params = ParamSchema([ParamSpec("reasons", "boolean", True)])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def _coverage_png(comparison: Comparison, y: npt.NDArray[np.bool_], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..evaluate import coverage_curve

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for name in comparison.scores.columns:
        curve = coverage_curve(y, comparison.scores[name].to_numpy())
        ax.plot(curve["capacity"], curve["recall"], label=name)
    ax.set_xlabel("capacity (share of households flagged)")
    ax.set_ylabel("recall (needy households flagged)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` produced and where it is recorded.

    The fields are also attributes.

    Parameters
    ----------
    run_id : str
        The MLflow run of the training.
    model_name, model_version : str
        The registered model and the new version.
    threshold : float
        The lowest test score flagged at the configured capacity: the flagging model
        flags a household whose score reaches it.
    comparison : needsid.evaluate.Comparison
        The model against the status quo (and rules only) on the test households.
    data_fingerprint : str
        :meth:`needsid.data.HouseholdData.fingerprint` of the data trained on.
    labels : dict, default={}
        The label source, the share of training households it labels, its base rate
        and a ``warning`` when that rate is implausible.

    Examples
    --------
    >>> from needsid.tracking import TrainResult
    >>> done = TrainResult("0123", "needsid-risk", "3", 0.42, None, "ab" * 32)
    >>> done.model_uri
    'models:/needsid-risk/3'
    """

    run_id: str
    model_name: str
    model_version: str
    threshold: float
    comparison: Comparison
    data_fingerprint: str
    labels: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def model_uri(self) -> str:
        """The registered version's URI, e.g. ``models:/needsid-risk/3``."""
        return f"models:/{self.model_name}/{self.model_version}"


def train(
    data: HouseholdData | str | os.PathLike[str],
    as_of: dt.date | str,
    *,
    horizon_months: int | None = None,
    config: TrainConfig | str | os.PathLike[str] | None = None,
    name: str = DEFAULT_MODEL_NAME,
    tracking_uri: str | None = None,
    labels: str | None = None,
) -> TrainResult:
    """Train a risk model, compare it with the baselines, log and register it.

    The test date is ``as_of - horizon`` (its labels end by ``as_of``); training dates
    step back from it (see :class:`TrainConfig`). The run logs the config, the
    comparison table (with bootstrap intervals, status quo and rules-only rows), a
    coverage plot, the data's fingerprint, the needsid version and git commit; the
    flagging model (features in, score / band / flag / reasons out) is registered as a
    new version of ``name``.

    Parameters
    ----------
    data : HouseholdData or path
        The bundle, or its folder.
    as_of : date or str
        The last date whose records the run may read.
    horizon_months : int, optional
        Overrides the config's ``horizon_months``.
    config : TrainConfig, path or None
        A :class:`TrainConfig`, a YAML file, or None for the defaults.
    name : str, default="needsid-risk"
        Registered model name.
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``. MLflow's global
        tracking and registry URIs are neither read nor changed.
    labels : str, optional
        Overrides the config's label source (``records``, ``verified``, ``pu``, ``ipw``;
        see :func:`needsid.labels.make`). The run logs the source, the share of training
        households it labels and its base rate, and warns (``needsid.tracking`` logger,
        and ``TrainResult.labels["warning"]``) when that base rate is implausible against
        the share of households the county already counts as low-income.

    Returns
    -------
    TrainResult
        The run, the registered version, its flag threshold and the comparison.

    Raises
    ------
    needsid.DataValidationError
        If the data breaks the contract (every problem named); nothing is trained or
        logged.
    ValueError
        For dates the data cannot describe, labels the data cannot give, or a training
        experiment deleted in the store.

    Examples
    --------
    A throw-away store in a temporary folder (its experiments keep their artifacts
    there too):

    >>> import tempfile
    >>> from pathlib import Path
    >>> from mlflow import MlflowClient
    >>> import needsid as ni
    >>> from needsid import tracking
    >>> folder = Path(tempfile.mkdtemp())
    >>> store = f"sqlite:///{folder}/mlflow.db"
    >>> client = MlflowClient(tracking_uri=store, registry_uri=store)
    >>> for name in ("needsid-train", "needsid-flag"):  # artifacts in the folder too
    ...     _ = client.create_experiment(name, artifact_location=(folder / name).as_uri())
    >>> pop = ni.simulate(n_households=300, months=24, seed=0)
    >>> cfg = tracking.load_train_config(
    ...     model={"kind": "gbm", "params": {"n_estimators": 10, "n_jobs": 1}},
    ...     n_boot=0, train_origins=1)
    >>> result = tracking.train(pop.bundle, "2024-01-01", config=cfg, tracking_uri=store)
    >>> result.model_name, result.model_version, result.model_uri
    ('needsid-risk', '1', 'models:/needsid-risk/1')
    >>> result.comparison.to_frame().index.tolist()
    ['gbm', 'status quo', 'rules only']
    >>> client.get_run(result.run_id).data.tags["data.fingerprint"] == pop.bundle.fingerprint()
    True
    """
    from mlflow.entities import Metric

    cfg = (
        config.model_copy(update={"horizon_months": horizon_months or config.horizon_months})
        if isinstance(config, TrainConfig)
        else load_train_config(config, horizon_months=horizon_months)
    )
    if labels is not None:
        cfg = load_config(TrainConfig, None, **{**cfg.model_dump(), "labels": labels})
    label_source = cfg.labels or BUNDLE_DEFAULT
    as_of = as_date(as_of)
    bundle, data_path = _read(data)
    step("validating the data")
    validate(bundle)  # a broken extract stops here, every problem named, nothing written
    spec = load_spec(cfg.features)
    rule_set = load_rules(cfg.rules) if cfg.rules else None
    estimator = _estimator(cfg)
    train_dates, test_date = _dates(as_of, cfg)
    check_dates(bundle, as_of, earliest=train_dates[0])
    split = temporal_split(
        bundle,
        train_dates,
        test_date,
        horizon_months=cfg.horizon_months,
        test_size=cfg.test_size,
        seed=cfg.seed,
        spec=spec,
        label_source=label_source,
        label_line=cfg.label_line,
    )
    label_info = _label_summary(split, bundle, label_source)
    flags = None
    if rule_set is not None:
        step(f"evaluating {len(rule_set.ids)} rules at {test_date.isoformat()}")
        flags = rule_flags(rule_set.evaluate(bundle, test_date, suppress=False), split)
    comparison = compare(
        {cfg.model.kind: estimator},
        split,
        capacity=cfg.capacity,
        bundle=bundle,
        rule_flags=flags,
        n_boot=cfg.n_boot,
        seed=cfg.seed,
    )
    fitted = comparison.fitted[cfg.model.kind]
    test_score = comparison.scores[cfg.model.kind].to_numpy()
    top = select_top(test_score, cfg.capacity)
    threshold = float(test_score[top].min()) if top.any() else 1.0
    features = list(split.features)
    settings = {
        "features": features,
        "threshold": threshold,
        "bands": cfg.bands,
        "top_reasons": cfg.top_reasons,
        "invisibility_threshold": cfg.invisibility_threshold,
        "capacity": cfg.capacity,
        "horizon_months": cfg.horizon_months,
        "model_kind": cfg.model.kind,
    }
    params = {
        "as_of": as_of.isoformat(),
        "test_as_of": test_date.isoformat(),
        "train_as_of": ",".join(d.isoformat() for d in train_dates),
        "n_train_rows": len(split.train),
        "n_test_households": len(split.test),
        "n_features": len(features),
        "model.kind": cfg.model.kind,
        **{f"model.{k}": v for k, v in sorted(fitted.get_params().items())},
        **{k: v for k, v in cfg.model_dump().items() if k != "model"},
        "threshold": threshold,
        "rule_set_version": rule_set.version if rule_set else None,
        **{f"labels.{k}": v for k, v in label_info.items() if k != "warning"},
    }
    rules_tag = rule_set.version if rule_set else "none"

    def log_comparison(client: MlflowClient, run_id: str, logged: LoggedModel, tmp: Path) -> None:
        table = comparison.table
        now = int(time.time() * 1000)
        metrics = []
        for row in table.itertuples(index=False):
            key = f"{row.model.replace(' ', '_')}.{row.metric}"
            for suffix, value in (("", row.estimate), ("_lo", row.lo), ("_hi", row.hi)):
                if value is not None and np.isfinite(value):
                    # tied to the logged model too, as mlflow.pyfunc.log_model does
                    metrics.append(
                        Metric(key + suffix, float(value), now, 0, model_id=logged.model_id)
                    )
        client.log_batch(run_id, metrics=metrics)
        (tmp / "comparison.csv").write_text(table.to_csv(index=False), "utf-8")
        (tmp / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=True))
        _coverage_png(
            comparison, split.test["in_need"].to_numpy().astype(bool), tmp / "coverage.png"
        )
        for f in ("comparison.csv", "config.yaml", "coverage.png"):
            client.log_artifact(run_id, str(tmp / f))

    fingerprint = bundle.fingerprint()
    step("logging the run and registering the model in MLflow")
    run_id, version = _log_and_register(
        tracking_uri,
        name,
        code=_CODE,
        model_file=("risk_model.json", model_to_json(fitted)),
        settings=settings,
        spec=spec,
        fingerprint=fingerprint,
        params={k: str(v) for k, v in params.items()},
        run_tags={"rule_set.version": rules_tag},
        version_tags={"rule_set.version": rules_tag, "threshold": repr(threshold)},
        extra_files=(
            {"rules.yaml": _rules_path(cfg.rules).read_bytes()}
            if rule_set is not None and cfg.rules is not None
            else {}
        ),
        log_more=log_comparison,
    )
    return TrainResult(run_id, name, version, threshold, comparison, fingerprint, label_info)


def _log_and_register(
    tracking_uri: str | None,
    name: str,
    *,
    code: Path,
    model_file: tuple[str, str],
    settings: Mapping[str, Any],
    spec: FeatureSpec,
    fingerprint: str,
    params: Mapping[str, str],
    metrics: Mapping[str, float] | None = None,
    run_tags: Mapping[str, str] | None = None,
    version_tags: Mapping[str, str] | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    log_more: Callable[[MlflowClient, str, LoggedModel, Path], None] | None = None,
) -> tuple[str, str]:
    """Log a training run in ``needsid-train`` and register its model; ``(run_id, version)``.

    The one sequence of :func:`train` and :func:`~needsid.tracking.train_needs`: a run
    with ``params``, ``metrics`` and the tags every run carries (needsid version, git
    commit, data fingerprint) plus ``run_tags``; the model logged from ``code``, its
    artifacts ``model_file`` (name, JSON), ``settings.json``, ``features.yaml`` and
    ``extra_files`` (name, bytes), each under its name without the suffix; ``log_more``
    (outputs that name the logged model); a new version of ``name``, tagged with the
    fingerprint, commit, run and ``version_tags``; and the SHA-256 of its every file.
    """
    from mlflow.entities import Metric, Param, RunTag

    features = list(settings["features"])
    commit, dirty = _git_commit()
    client, uri = _client(tracking_uri)
    with _quiet_mlflow(), tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        experiment_id = _experiment_id(client, TRAIN_EXPERIMENT, uri)
        _reap_stale_runs(client, experiment_id)
        with _run(client, experiment_id) as run:
            run_id = run.info.run_id
            now = int(time.time() * 1000)
            tags = {
                "needsid.version": _installed_version(),
                "git.commit": commit,
                "git.dirty": dirty,
                "data.fingerprint": fingerprint,
                **(run_tags or {}),
            }
            client.log_batch(
                run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()],
                params=[Param(k, v) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
            files = {
                model_file[0]: model_file[1].encode("utf-8"),
                "settings.json": json.dumps(settings, indent=2, sort_keys=True).encode("utf-8"),
                "features.yaml": yaml.safe_dump(spec.model_dump(mode="json")).encode("utf-8"),
                **(extra_files or {}),
            }
            for file_name, content in files.items():
                (tmp / file_name).write_bytes(content)
            logged = _log_model(
                client,
                experiment_id,
                run_id,
                tmp,
                params,
                python_model=str(code),
                artifacts={Path(f).stem: str(tmp / f) for f in files},
                signature=_signature(features),
                # a made-up household: the store must hold no real household's data
                input_example=pd.DataFrame(
                    {ID_COLUMN: ["example"], **{f: [0.0] for f in features}}
                ),
                pip_requirements=[f"needsid=={_installed_version()}"],
            )
            if log_more is not None:
                log_more(client, run_id, logged, tmp)
            version = _register(client, uri, name, logged, run_id)
        for key, value in {
            "data.fingerprint": fingerprint,
            "git.commit": commit,
            "train.run_id": run_id,
            **(version_tags or {}),
        }.items():
            client.set_model_version_tag(name, version, key, value)
        # the SHA-256 of every file, checked before the version is ever loaded again
        record_digests(client, uri, name, version, tmp / "registered")
    return run_id, version


def _installed_version() -> str:
    from .. import __version__

    return __version__


def _flag_table(
    pyfunc_model: PyFuncModel,
    bundle: HouseholdData,
    as_of: dt.date,
    capacity: float,
    groups: str | None,
    name: str | None,
    version: str,
    quotas: Mapping[str, float] | None = None,
) -> pl.DataFrame:
    # a model that passed verified_copy (or the caller's own): needsid's flagging model
    impl: FlaggingModel = pyfunc_model.unwrap_python_model()
    settings = impl.settings
    features_path = Path(impl.artifacts["features"])
    spec = load_spec(safe_load(features_path.read_text("utf-8"), str(features_path.name)))
    step(f"building features at {as_of.isoformat()}")
    X = build(bundle, as_of, spec=spec)
    X = X if isinstance(X, pd.DataFrame) else X.to_pandas()
    missing = sorted(set(settings["features"]) - set(X.columns))
    if missing:  # pragma: no cover - the spec shipped with the model builds them
        raise ValueError(f"The model needs features the bundle did not give: {missing[:5]!r}")
    X = X[[ID_COLUMN, *settings["features"]]]
    step(f"scoring {len(X):,} households")
    # FlaggingModel.predict answers a frame (a pyfunc model in general may not)
    pred = cast("pd.DataFrame", pyfunc_model.predict(X, params={"reasons": False}))
    scores = pl.from_pandas(pred[["household_id", "score"]])
    if "invisibility_score" in X.columns:
        scores = scores.with_columns(
            pl.Series("invisibility_score", X["invisibility_score"].to_numpy(dtype=float))
        )
    if groups is not None:
        regions = bundle.to_polars().households.select("household_id", groups)
        scores = scores.join(regions, on="household_id", how="left")
    rules_path = impl.artifacts.get("rules")
    hits = None
    if rules_path:
        step("evaluating the model's rule set")
        hits = load_rules(rules_path).evaluate(bundle, as_of)
    invis = "invisibility_score" if "invisibility_score" in scores.columns else None
    common = dict(
        as_of=as_of,
        groups=groups,
        invisibility=invis,
        invisibility_threshold=settings["invisibility_threshold"],
        model_name=name,
        model_version=version,
        bands=settings["bands"],
        quotas=quotas,
    )
    table = flag(scores, hits, capacity, **common)
    flagged = table.filter(pl.col("flag") & pl.col("score").is_not_null())["household_id"]
    if flagged.is_empty():  # nothing to explain: the table is written with zero flags
        return table
    rows = X[X[ID_COLUMN].isin(flagged.to_list())].set_index(ID_COLUMN)
    step(f"reasons for {len(rows):,} flagged households")
    explained = impl.risk_model.explain(rows[settings["features"]], top=settings["top_reasons"])
    return flag(scores, hits, capacity, reasons=explained, **common)


def _parquet_bytes(table: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    table.write_parquet(buf, compression="zstd", compression_level=3, statistics=True)
    return buf.getvalue()


def _write_atomic(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, payload)


@dataclass(frozen=True)
class FlagResult:
    """The flag table, where it was written, its SHA-256, and the run that logged it.

    Made by :func:`flag_households`; the fields are also attributes.

    Parameters
    ----------
    table : polars.DataFrame
        The flag table (:data:`needsid.flagging.FLAG_COLUMNS`).
    path : pathlib.Path or None
        The Parquet file written; None when no ``out`` was given.
    sha256 : str
        SHA-256 of the table's Parquet bytes.
    run_id : str or None
        The MLflow run that logged it.
    usage : pandas.DataFrame or None, default=None
        Visits per group and route against the capacity and quotas
        (:func:`needsid.flagging.capacity_usage`).

    Examples
    --------
    >>> import polars as pl
    >>> from needsid.tracking import FlagResult
    >>> done = FlagResult(pl.DataFrame({"household_id": ["H1"]}), None, "ab" * 32, None)
    >>> done.table.height, done.path
    (1, None)
    """

    table: pl.DataFrame
    path: Path | None
    sha256: str
    run_id: str | None
    #: Visits per group and route against the capacity and quotas (see capacity_usage).
    usage: pd.DataFrame | None = None


def flag_households(
    data: HouseholdData | str | os.PathLike[str],
    as_of: dt.date | str,
    model: str = f"models:/{DEFAULT_MODEL_NAME}@champion",
    capacity: float = 0.05,
    out: str | os.PathLike[str] | None = None,
    *,
    groups: str | None = None,
    quotas: Mapping[str, float] | None = None,
    salt: str | bytes | None = None,
    tracking_uri: str | None = None,
    loaded_model: PyFuncModel | None = None,
) -> FlagResult:
    """Flag households with a registered model and its rule set; write and log the table.

    The table is written first (atomically: a temporary file renamed into place), then
    the run is logged: parameters, the table's SHA-256, and a manifest in which household
    ids are replaced by salted pseudonyms. If logging fails, the table stays written and
    :class:`TrackingError` says where.

    Parameters
    ----------
    data : HouseholdData or path
        The bundle, or its folder.
    as_of : date or str
        The date to flag at; only records known before it are read.
    model : str, default="models:/needsid-risk@champion"
        Registered model URI; an alias is resolved to its version once, at the start.
    capacity : float or int, default=0.05
        A share of households or a count (per group with ``groups``).
    out : str or os.PathLike, optional
        Parquet file to write. Running twice on the same inputs writes the same bytes.
    groups : str, optional
        A ``households`` column (e.g. ``region_id``) within which capacity applies.
    quotas : mapping of str to float, optional
        The most outreach and review may take, as a share of the capacity (default
        :data:`needsid.flagging.QUOTAS`); see :func:`needsid.flagging.flag`.
    salt : str or bytes, optional
        Pseudonymisation salt; default ``NEEDSID_SALT``. Never logged.
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``. MLflow's global
        tracking and registry URIs are neither read nor changed.
    loaded_model : mlflow.pyfunc.PyFuncModel, optional
        Use this already loaded model; ``model`` must then name it by version
        (``models:/NAME/VERSION``), which needs no tracking server to resolve.

    Returns
    -------
    FlagResult
        The table, its file and SHA-256, the run and the use of capacity per route.

    Raises
    ------
    needsid.DataValidationError
        If the data breaks the contract (every problem named); nothing is written.
    ValueError
        If the model is not in the registry, the data cannot describe the date, or the
        salt is bad.
    needsid.tracking._integrity.ModelIntegrityError
        If the registered version is not needsid's flagging model, or was changed.
    TrackingError
        If the table is written but the run could not be logged.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from mlflow import MlflowClient
    >>> import needsid as ni
    >>> from needsid import tracking
    >>> folder = Path(tempfile.mkdtemp())
    >>> store = f"sqlite:///{folder}/mlflow.db"
    >>> client = MlflowClient(tracking_uri=store, registry_uri=store)
    >>> for name in ("needsid-train", "needsid-flag"):  # artifacts in the folder too
    ...     _ = client.create_experiment(name, artifact_location=(folder / name).as_uri())
    >>> pop = ni.simulate(n_households=300, months=24, seed=0)
    >>> cfg = tracking.load_train_config(
    ...     model={"kind": "gbm", "params": {"n_estimators": 10, "n_jobs": 1}},
    ...     n_boot=0, train_origins=1)
    >>> result = tracking.train(pop.bundle, "2024-01-01", config=cfg, tracking_uri=store)
    >>> flagged = tracking.flag_households(
    ...     pop.bundle, "2024-01-01", model=result.model_uri, out=folder / "flags.parquet",
    ...     salt="a-secret-of-16-chars", tracking_uri=store)
    >>> flagged.path.name, int(flagged.table["flag"].sum())
    ('flags.parquet', 15)
    >>> flagged.usage[["route", "households", "capacity"]].values.tolist()
    [['trigger', 2, 15], ['model', 9, 15], ['outreach', 3, 15], ['review', 1, 15]]
    >>> tags = client.get_run(flagged.run_id).data.tags
    >>> tags["flag_table.sha256"] == flagged.sha256
    True
    """
    import mlflow.pyfunc

    salt = salt_from_env() if salt is None else salt
    pseudonymise(["check"], salt)  # fail on a bad salt before any work
    as_of = as_date(as_of)
    client, uri = _client(tracking_uri)
    # MLflow's INFO lines and progress bars stay out of the caller's output meanwhile
    with _quiet_mlflow(), tempfile.TemporaryDirectory() as workdir:
        name, version, pinned = resolve_model(model, uri)
        pyfunc_model = loaded_model
        if pyfunc_model is None:
            with _not_found_as_value_error(model, uri):
                local = verified_copy(pinned, name, version, Path(workdir), tracking_uri=uri)
            pyfunc_model = mlflow.pyfunc.load_model(str(local))
        return _flag_and_log(
            pyfunc_model,
            data,
            as_of,
            capacity,
            out,
            groups,
            quotas,
            salt,
            client,
            uri,
            name,
            version,
            pinned,
        )


def _flag_and_log(
    pyfunc_model: PyFuncModel,
    data: HouseholdData | str | os.PathLike[str],
    as_of: dt.date,
    capacity: float,
    out: str | os.PathLike[str] | None,
    groups: str | None,
    quotas: Mapping[str, float] | None,
    salt: str | bytes,
    client: MlflowClient,
    uri: str,
    name: str | None,
    version: str,
    pinned: str,
) -> FlagResult:
    from mlflow.entities import Metric, Param, RunTag

    quotas = check_quotas(quotas)
    bundle, data_path = _read(data)
    step("validating the data")
    validate(bundle)  # a broken extract stops here, every problem named, nothing written
    check_dates(bundle, as_of)
    table = _flag_table(pyfunc_model, bundle, as_of, capacity, groups, name, version, quotas)
    group_of = None
    if groups is not None:
        hh = bundle.to_polars().households.select("household_id", groups).to_pandas()
        group_of = hh.set_index("household_id")[groups].astype(str)
    usage = capacity_usage(table, quotas, group_of)
    step("writing the flag table and logging its manifest")
    payload = _parquet_bytes(table)
    sha = hashlib.sha256(payload).hexdigest()
    path = None
    if out is not None:
        path = Path(out)
        _write_atomic(path, payload)
    manifest = (
        table.with_columns(
            pl.Series("household_id", pseudonymise(table["household_id"].to_list(), salt))
        )
        .rename({"household_id": "pseudonym"})
        .sort("pseudonym")
    )
    params = {
        "model_uri": pinned,
        "model_name": str(name),
        "model_version": str(version),
        "as_of": as_of.isoformat(),
        "capacity": str(capacity),
        "groups": str(groups),
        "capacity_by": str(groups),
        **{f"quota.{r}": str(q) for r, q in sorted(quotas.items())},
        "data_path": str(data_path),
        "rule_set_version": str(table["rule_set_version"].drop_nulls().first()),
    }
    run_tags = {
        "data.fingerprint": bundle.fingerprint(),
        "flag_table.sha256": sha,
        "needsid.version": _installed_version(),
        "git.commit": _git_commit()[0],
    }
    counts = {f"n_{route}": n for route, n in table.group_by("route").len().iter_rows()}
    counts["n_households"] = table.height
    counts["capacity_households"] = int(
        usage.groupby("group", dropna=False)["capacity"].first().sum()
    )
    for route, n in usage.groupby("route")["households"].sum().items():
        counts[f"visits_{route}"] = int(n)
    now = int(time.time() * 1000)
    try:
        experiment_id = _experiment_id(client, FLAG_EXPERIMENT, uri)
        _reap_stale_runs(client, experiment_id)
        with _run(client, experiment_id) as run, tempfile.TemporaryDirectory() as tmp:
            run_id = run.info.run_id
            client.log_batch(
                run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in counts.items()],
                params=[Param(k, v) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in run_tags.items()],
            )
            mfile = Path(tmp) / "flag_manifest.parquet"
            mfile.write_bytes(_parquet_bytes(manifest))
            client.log_artifact(run_id, str(mfile))
    except Exception as exc:
        where = f"written to {path}" if path else "kept in memory (no out= given)"
        raise TrackingError(
            f"The flag table ({table.height} households, sha256 {sha[:12]}...) is {where}, "
            f"but logging the flagging run to {redact(uri)} failed: {type(exc).__name__}: "
            f"{_redact_text(str(exc), uri)}"
        ) from exc
    return FlagResult(table, path, sha, run_id, usage)


@dataclass(frozen=True)
class RescoreResult:
    """A re-run of a flagging run: the table, its SHA-256, and whether it matches.

    Made by :func:`rescore`; the fields are also attributes.

    Parameters
    ----------
    table : polars.DataFrame
        The flag table re-made from the run's record.
    sha256 : str
        SHA-256 of its Parquet bytes.
    expected_sha256 : str
        The SHA-256 the original run recorded.

    Examples
    --------
    >>> import polars as pl
    >>> from needsid.tracking import RescoreResult
    >>> RescoreResult(pl.DataFrame(), "ab" * 32, "ab" * 32).matches
    True
    """

    table: pl.DataFrame
    sha256: str
    expected_sha256: str

    @property
    def matches(self) -> bool:
        """True if the re-run wrote the same bytes as the original run."""
        return self.sha256 == self.expected_sha256


def rescore(
    run_id: str,
    data: HouseholdData | str | os.PathLike[str] | None = None,
    *,
    tracking_uri: str | None = None,
) -> RescoreResult:
    """Re-run a flagging run from its record and compare the table bit for bit.

    Parameters
    ----------
    run_id : str
        A run logged by :func:`flag_households`.
    data : HouseholdData or path, optional
        Default: the data path the run recorded. Its fingerprint must equal the run's.
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``. MLflow's global
        tracking and registry URIs are neither read nor changed.

    Returns
    -------
    RescoreResult
        ``matches`` says whether the table is the same, bit for bit.

    Raises
    ------
    ValueError
        If the run is not a flagging run, or the data's fingerprint differs from the
        run's.
    needsid.tracking._integrity.ModelIntegrityError
        If the run's model version is not needsid's flagging model, or was changed.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from mlflow import MlflowClient
    >>> import needsid as ni
    >>> from needsid import tracking
    >>> folder = Path(tempfile.mkdtemp())
    >>> store = f"sqlite:///{folder}/mlflow.db"
    >>> client = MlflowClient(tracking_uri=store, registry_uri=store)
    >>> for name in ("needsid-train", "needsid-flag"):  # artifacts in the folder too
    ...     _ = client.create_experiment(name, artifact_location=(folder / name).as_uri())
    >>> pop = ni.simulate(n_households=300, months=24, seed=0)
    >>> cfg = tracking.load_train_config(
    ...     model={"kind": "gbm", "params": {"n_estimators": 10, "n_jobs": 1}},
    ...     n_boot=0, train_origins=1)
    >>> result = tracking.train(pop.bundle, "2024-01-01", config=cfg, tracking_uri=store)
    >>> flagged = tracking.flag_households(
    ...     pop.bundle, "2024-01-01", model=result.model_uri, out=folder / "flags.parquet",
    ...     salt="a-secret-of-16-chars", tracking_uri=store)
    >>> again = tracking.rescore(flagged.run_id, data=pop.bundle, tracking_uri=store)
    >>> again.matches, again.sha256 == flagged.sha256
    (True, True)
    """
    client, uri = _client(tracking_uri)
    with _quiet_mlflow():
        return _rescore(client, uri, run_id, data)


def _rescore(
    client: MlflowClient,
    uri: str,
    run_id: str,
    data: HouseholdData | str | os.PathLike[str] | None,
) -> RescoreResult:
    import mlflow.pyfunc

    run = client.get_run(run_id)
    p, tags = run.data.params, run.data.tags
    if "flag_table.sha256" not in tags:
        raise ValueError(f"Run {run_id} is not a flagging run (no flag_table.sha256 tag).")
    bundle, _ = _read(p["data_path"] if data is None else data)
    if bundle.fingerprint() != tags["data.fingerprint"]:
        raise ValueError(
            f"The data's fingerprint differs from run {run_id}'s "
            f"({tags['data.fingerprint'][:12]}...): re-scoring needs the same data."
        )
    # logged as str(capacity): "500" is a count, "0.05" or "1.0" a share
    cap = as_capacity(int(p["capacity"]) if p["capacity"].isdigit() else float(p["capacity"]))
    groups = None if p["groups"] == "None" else p["groups"]
    # runs logged before route quotas existed had none: they re-run with the defaults
    quotas = {k.split(".", 1)[1]: float(v) for k, v in p.items() if k.startswith("quota.")}
    name = None if p["model_name"] == "None" else p["model_name"]
    with tempfile.TemporaryDirectory() as workdir:
        local = verified_copy(
            p["model_uri"], name, p["model_version"], Path(workdir), tracking_uri=uri
        )
        model = mlflow.pyfunc.load_model(str(local))
        table = _flag_table(
            model,
            bundle,
            as_date(p["as_of"]),
            cap,
            groups,
            name,
            p["model_version"],
            quotas or None,
        )
    sha = hashlib.sha256(_parquet_bytes(table)).hexdigest()
    return RescoreResult(table, sha, tags["flag_table.sha256"])
