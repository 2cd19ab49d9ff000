"""The need-profile model in the registry, and allocation plans logged like flags.

``train_needs`` fits a :class:`~needsid.models.NeedProfileModel` on a bundle's own
records labels (need by dimension), logs the run and registers the model
(``needsid-needs``) the way ``train`` registers the flagging model: pickle-free JSON,
MLflow's models-from-code loader, and the SHA-256 of every file as version tags.
``allocate_households`` loads a checked copy of a registered version, predicts every
household's need profile at ``as_of``, solves :func:`needsid.allocation.allocate`,
writes the plan atomically and logs a run whose manifest holds salted pseudonyms only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import polars as pl

from .._dates import as_date, months_before
from .._progress import step
from ..data import HouseholdData, validate
from ..features import build, load_spec
from ..models import ID_COLUMN
from ..simulation import NEED_DIMENSIONS
from ._checks import check_dates
from ._integrity import NEEDS_CODE_FILE, verified_copy
from ._need_pyfunc import NeedProfilePyfunc
from ._privacy import pseudonymise, redact, salt_from_env
from ._registry import _not_found_as_value_error, resolve_model
from ._runs import (
    TrackingError,
    _git_commit,
    _installed_version,
    _log_and_register,
    _parquet_bytes,
    _read,
    _write_atomic,
)
from ._store import (
    _client,
    _experiment_id,
    _quiet_mlflow,
    _reap_stale_runs,
    _redact_text,
    _run,
)

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel

    from ..allocation import AllocationPlan, BudgetCurve, Catalogue, NeedFloor

__all__ = [
    "ALLOCATE_EXPERIMENT",
    "NEEDS_MODEL_NAME",
    "AllocateResult",
    "NeedProfilePyfunc",
    "NeedsTrainResult",
    "allocate_households",
    "train_needs",
]

#: The registered need-profile model's default name.
NEEDS_MODEL_NAME = "needsid-needs"
#: The MLflow experiment of allocation runs.
ALLOCATE_EXPERIMENT = "needsid-allocate"
#: Label sources of :func:`train_needs`: the income labels of
#: ``needsid.labels.make_needs`` (the other dimensions from the records), or the truth.
NEEDS_SOURCES = ("pu", "verified", "records", "truth")
_CODE = Path(__file__).with_name(NEEDS_CODE_FILE)


@dataclass(frozen=True)
class NeedsTrainResult:
    """A registered need-profile model: its run, version and what its labels covered.

    Made by :func:`train_needs`.

    Parameters
    ----------
    run_id : str
        The MLflow training run.
    model_name : str
        Registered model name.
    model_version : str
        Registered version.
    dimensions : tuple of str
        The need dimensions modelled (the labels had them).
    n_labelled : dict of str to int
        Dimension -> households labelled for it.
    positive_rate : dict of str to float
        Dimension -> rate of need in its labels, weighted as the model was fitted (the
        ``pu`` income labels' weights make it an estimate for the whole population).
    fingerprint : str
        The bundle's fingerprint.

    Examples
    --------
    >>> from needsid.tracking import NeedsTrainResult
    >>> done = NeedsTrainResult("r1", "needsid-needs", "3", ("income",), {"income": 10},
    ...                         {"income": 0.2}, "ab12")
    >>> done.model_uri
    'models:/needsid-needs/3'
    """

    run_id: str
    model_name: str
    model_version: str
    dimensions: tuple[str, ...]
    n_labelled: dict[str, int]
    positive_rate: dict[str, float]
    fingerprint: str

    @property
    def model_uri(self) -> str:
        """``models:/NAME/VERSION`` of the registered model."""
        return f"models:/{self.model_name}/{self.model_version}"


def _need_estimator(params: dict[str, Any] | None) -> Any:
    from ..models import GBMRiskModel

    return GBMRiskModel(**{"random_state": 0, **(params or {})})


def train_needs(
    data: HouseholdData | str | os.PathLike[str],
    as_of: dt.date | str,
    *,
    horizon_months: int = 12,
    labels: str = "pu",
    params: dict[str, Any] | None = None,
    features: str | os.PathLike[str] | None = None,
    name: str = NEEDS_MODEL_NAME,
    tracking_uri: str | None = None,
) -> NeedsTrainResult:
    """Fit a need-profile model on a bundle's own labels; log the run and register it.

    Features are built at ``as_of - horizon_months``; each household's labels are its
    need in each dimension over the following ``horizon_months``, as a county can tell
    it (``needsid.labels.make_needs``): health, education, care, housing and employment
    from the records, income from the casework's own assessments, so the model learns to
    predict need a horizon ahead from what the county holds.

    Parameters
    ----------
    data : HouseholdData or path
        The bundle, or its folder (``labels="truth"``: a simulated population).
    as_of : date or str
        The latest date the labels may read; the model is trained to be used at it.
    horizon_months : int, default=12
        The labels' window, months.
    labels : {"pu", "verified", "records", "truth"}, default="pu"
        The income labels (``make_needs(..., income=labels)``): casework outcomes as
        positive-unlabeled with selection-aware weights, the assessed households only,
        or wages on record. ``truth`` is for research on a simulated population only.
    params : dict, optional
        Keyword arguments of each dimension's ``GBMRiskModel``.
    features : str or os.PathLike, optional
        Feature spec YAML (default: the package's spec).
    name : str, default="needsid-needs"
        Registered model name.
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``.

    Returns
    -------
    NeedsTrainResult
        The run, the registered version, the dimensions modelled and their labels.

    Raises
    ------
    needsid.DataValidationError
        If the data breaks the contract (every problem named).
    ValueError
        If the dates cannot be described by the data, or ``labels`` is unknown.

    Examples
    --------
    >>> import tempfile, warnings
    >>> from pathlib import Path
    >>> import needsid as ni
    >>> from needsid import tracking
    >>> from mlflow import MlflowClient
    >>> folder = Path(tempfile.mkdtemp())
    >>> store = f"sqlite:///{folder}/mlflow.db"
    >>> _ = MlflowClient(tracking_uri=store).create_experiment(  # artifacts in the folder
    ...     "needsid-train", artifact_location=(folder / "train").as_uri())
    >>> pop = ni.simulate(n_households=400, months=36, seed=0)
    >>> with warnings.catch_warnings():  # a few hundred households: rare dimensions warn
    ...     warnings.simplefilter("ignore")
    ...     done = tracking.train_needs(pop.bundle, "2024-07-01", params={"n_estimators": 10,
    ...                                 "n_jobs": 1}, tracking_uri=store)
    >>> done.model_uri
    'models:/needsid-needs/1'
    >>> done.dimensions  # doctest: +NORMALIZE_WHITESPACE
    ('income', 'health', 'education', 'care', 'housing', 'employment')
    """
    from ..labels import make, make_needs
    from ..models import NeedProfileModel, need_targets, need_weights

    if labels not in NEEDS_SOURCES:
        raise ValueError(f"Got labels={labels!r}; expected one of {NEEDS_SOURCES}.")
    if (
        isinstance(horizon_months, bool)
        or not isinstance(horizon_months, int)
        or horizon_months < 1
    ):
        raise ValueError(f"Got horizon_months={horizon_months!r}; expected a positive int.")
    as_of = as_date(as_of)
    train_date = months_before(as_of, horizon_months)
    if labels == "truth" and not hasattr(data, "truth"):
        raise ValueError(
            "Got labels='truth' with a bundle; true labels exist for a simulated population "
            "only (needsid.simulate). A county's bundle trains on labels='records'."
        )
    bundle, data_path = _read(getattr(data, "bundle", data))
    step("validating the data")
    validate(bundle)
    check_dates(bundle, as_of, earliest=train_date)
    spec = load_spec(None if features is None else Path(features))
    step(f"building features at {train_date.isoformat()}")
    X = build(bundle, train_date, spec=spec)
    X = X if isinstance(X, pl.DataFrame) else pl.from_pandas(X)
    step(f"labelling need by dimension over {horizon_months} months ({labels})")
    if labels == "truth":
        raw = make(cast("Any", data), train_date, horizon_months, source="truth")
    else:
        raw = make_needs(bundle, train_date, horizon_months, income=labels, features=X)
    raw = raw if isinstance(raw, pl.DataFrame) else pl.from_pandas(raw)
    y = need_targets(raw)
    both = X.join(raw, on=ID_COLUMN, how="inner")
    feature_names = [c for c in X.columns if c != ID_COLUMN]
    targets = [c for c in y.columns if c != ID_COLUMN]
    weights = None if labels == "truth" else need_weights(both.drop(targets)).drop(ID_COLUMN)
    step(f"fitting {len(targets)} need models on {both.height:,} households")
    model = NeedProfileModel(_need_estimator(params))
    model.fit(
        both.select(feature_names).to_pandas(),
        both.select(targets).to_pandas(),
        sample_weight=weights,
    )
    positive = {}  # the labels' rate of need, weighted as the model was fitted
    for d in model.dimensions_:
        y_d = both[f"need_{d}"].cast(pl.Float64)
        w_d = both[f"weight_{d}"] if f"weight_{d}" in both.columns else pl.Series([1.0] * len(y_d))
        known = y_d.is_not_null() & (w_d > 0)
        total = float(w_d.filter(known).sum())
        positive[d] = (
            float((y_d.filter(known) * w_d.filter(known)).sum()) / total if total else 0.0
        )
    fingerprint = bundle.fingerprint()
    settings = {
        "features": feature_names,
        "dimensions": list(model.dimensions_),
        "horizon_months": horizon_months,
        "labels": labels,
    }
    run_params = {
        "as_of": as_of.isoformat(),
        "train_as_of": train_date.isoformat(),
        "horizon_months": str(horizon_months),
        "labels": labels,
        "n_households": str(both.height),
        "n_features": str(len(feature_names)),
        "dimensions": ",".join(model.dimensions_),
        **{f"model.{k}": str(v) for k, v in sorted((params or {}).items())},
    }
    kind = {"needsid.model_kind": "need_profile"}
    step("logging the run and registering the need-profile model in MLflow")
    run_id, version = _log_and_register(
        tracking_uri,
        name,
        code=_CODE,
        model_file=("need_model.json", model.to_json()),
        settings=settings,
        spec=spec,
        fingerprint=fingerprint,
        params=run_params,
        metrics={
            **{f"n_labelled.{d}": float(n) for d, n in model.n_labelled_.items()},
            **{f"positive_rate.{d}": v for d, v in positive.items()},
        },
        run_tags=kind,
        version_tags=kind,
    )
    return NeedsTrainResult(
        run_id,
        name,
        version,
        tuple(model.dimensions_),
        dict(model.n_labelled_),
        positive,
        fingerprint,
    )


@dataclass(frozen=True)
class AllocateResult:
    """An allocation plan, where it was written, its SHA-256, and the run that logged it.

    Made by :func:`allocate_households`.

    Parameters
    ----------
    plan : needsid.allocation.AllocationPlan
        The plan (polars tables).
    table : polars.DataFrame
        What was written: ``plan.to_frame()`` with the model version.
    path : pathlib.Path or None
        The Parquet file written; None when no ``out`` was given.
    sha256 : str
        SHA-256 of the table's Parquet bytes.
    run_id : str or None
        The MLflow run that logged it.
    unmodelled : tuple of str
        Need dimensions the catalogue serves that the model does not predict (their
        need counts as 0 in the plan).
    curve : needsid.allocation.BudgetCurve or None
        The budget curve, when budgets for it were given.

    Examples
    --------
    See :func:`allocate_households`, which makes it.

    >>> from needsid.tracking import AllocateResult
    >>> [f for f in AllocateResult.__dataclass_fields__][:4]
    ['plan', 'table', 'path', 'sha256']
    """

    plan: AllocationPlan
    table: pl.DataFrame
    path: Path | None
    sha256: str
    run_id: str | None
    unmodelled: tuple[str, ...]
    curve: BudgetCurve | None = None


def _need_scores(
    pyfunc_model: PyFuncModel, bundle: HouseholdData, as_of: dt.date, groups: Sequence[str]
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Features, region, the region's dibao standard and the need profile per household."""
    impl: NeedProfilePyfunc = pyfunc_model.unwrap_python_model()
    features_path = Path(impl.artifacts["features"])
    from .._yaml import safe_load

    spec = load_spec(safe_load(features_path.read_text("utf-8"), features_path.name))
    step(f"building features at {as_of.isoformat()}")
    X = build(bundle, as_of, spec=spec)
    X = X if isinstance(X, pl.DataFrame) else pl.from_pandas(X)
    step(f"predicting need by dimension for {X.height:,} households")
    profile = pl.from_pandas(
        cast("pd.DataFrame", pyfunc_model.predict(X.select(ID_COLUMN, *impl.features).to_pandas()))
    )
    b = bundle.to_polars()
    wanted = ["region_id", *[g for g in groups if g in b.households.columns]]
    households = b.households.select(ID_COLUMN, *dict.fromkeys(wanted))
    frame = X.join(households, on=ID_COLUMN, how="left").join(
        b.regions.select("region_id", "dibao_standard"), on="region_id", how="left"
    )
    frame = frame.join(profile, on=ID_COLUMN, how="left")
    unmodelled = tuple(d for d in NEED_DIMENSIONS if f"need_{d}" not in profile.columns)
    # a dimension the model has no labels for is no estimated need: said, not hidden
    frame = frame.with_columns(pl.lit(0.0).alias(f"need_{d}") for d in unmodelled)
    return frame, unmodelled


def allocate_households(
    data: HouseholdData | str | os.PathLike[str],
    as_of: dt.date | str,
    budget: float,
    model: str = f"models:/{NEEDS_MODEL_NAME}@champion",
    out: str | os.PathLike[str] | None = None,
    *,
    catalogue: Catalogue | str | os.PathLike[str] | None = None,
    fairness: NeedFloor | Sequence[NeedFloor] | None = None,
    curve_budgets: Sequence[float] | None = None,
    html: str | os.PathLike[str] | None = None,
    time_limit: float | None = None,
    mip_gap: float = 1e-3,
    salt: str | bytes | None = None,
    tracking_uri: str | None = None,
) -> AllocateResult:
    """Plan who gets which programme with a registered need-profile model; write and log it.

    The model (registered by :func:`train_needs`) is checked against the digests
    recorded at registration before it is loaded. The plan is written first
    (atomically), then the run is logged to the ``needsid-allocate`` experiment:
    parameters (model version, date, budget, catalogue, floors), the plan's objective,
    bound, gap and cost, its SHA-256, the summary by programme and region, the budget
    curve and the HTML page when asked for, and a manifest of the assignments in which
    household ids are salted pseudonyms. If logging fails, the plan stays written and
    :class:`TrackingError` says where.

    Parameters
    ----------
    data : HouseholdData or path
        The bundle, or its folder.
    as_of : date or str
        The date to plan for; only records known before it are read.
    budget : float
        Yuan per month.
    model : str, default="models:/needsid-needs@champion"
        Registered need-profile model URI.
    out : str or os.PathLike, optional
        Parquet file for the plan (one row per household and programme).
    catalogue : Catalogue, str, os.PathLike or None
        The programmes (default: the package's catalogue).
    fairness : NeedFloor or list of NeedFloor, optional
        Floors on the need met per group; their ``group`` columns are taken from the
        bundle's ``households`` table.
    curve_budgets : sequence of float, optional
        Budgets for :func:`needsid.allocation.budget_curve` (with the same floors).
    html : str or os.PathLike, optional
        Write an HTML page: the plan by programme and region, and the budget curve.
    time_limit, mip_gap : float
        As for :func:`needsid.allocation.allocate`.
    salt : str or bytes, optional
        Pseudonymisation salt; default ``NEEDSID_SALT``. Never logged.
    tracking_uri : str, optional
        Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``.

    Returns
    -------
    AllocateResult
        The plan, the table written, its SHA-256, the run, and the need dimensions the
        model does not predict.

    Raises
    ------
    needsid.DataValidationError
        If the data breaks the contract; nothing is written.
    ValueError
        If the model is not registered, the budget is below the cheapest package, the
        date cannot be described by the data, or the salt is bad.
    needsid.allocation.InfeasibleError
        If a fairness floor cannot be met (named) before solving.
    needsid.tracking._integrity.ModelIntegrityError
        If the version is not needsid's need-profile model, or was changed.
    TrackingError
        If the plan is written but the run could not be logged.

    Examples
    --------
    >>> import tempfile, warnings
    >>> from pathlib import Path
    >>> from mlflow import MlflowClient
    >>> import needsid as ni
    >>> from needsid import tracking
    >>> folder = Path(tempfile.mkdtemp())
    >>> store = f"sqlite:///{folder}/mlflow.db"
    >>> client = MlflowClient(tracking_uri=store)
    >>> for name in ("needsid-train", "needsid-allocate"):  # artifacts in the folder
    ...     _ = client.create_experiment(name, artifact_location=(folder / name).as_uri())
    >>> pop = ni.simulate(n_households=400, months=36, seed=0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     needs = tracking.train_needs(pop.bundle, "2024-07-01", params={"n_estimators": 10,
    ...                                  "n_jobs": 1}, tracking_uri=store)
    >>> done = tracking.allocate_households(
    ...     pop.bundle, "2024-07-01", 20_000, model=needs.model_uri,
    ...     out=folder / "plan.parquet", salt="a-secret-of-16-chars", tracking_uri=store)
    >>> done.path.name, done.plan.cost <= 20_000, done.unmodelled
    ('plan.parquet', True, ())
    >>> client.get_run(done.run_id).data.tags["plan.sha256"] == done.sha256
    True
    """
    import mlflow.pyfunc

    from ..allocation import Catalogue, allocate, budget_curve, load_catalogue
    from ..allocation._plan import _floors

    salt = salt_from_env() if salt is None else salt
    pseudonymise(["check"], salt)  # fail on a bad salt before any work
    as_of = as_date(as_of)
    floors = _floors(fairness)
    cat = catalogue if isinstance(catalogue, Catalogue) else load_catalogue(catalogue)
    client, uri = _client(tracking_uri)
    with _quiet_mlflow(), tempfile.TemporaryDirectory() as workdir:
        name, version, pinned = resolve_model(model, uri)
        with _not_found_as_value_error(model, uri):
            local = verified_copy(
                pinned, name, version, Path(workdir), tracking_uri=uri, code_file=NEEDS_CODE_FILE
            )
        pyfunc_model = mlflow.pyfunc.load_model(str(local))
        bundle, data_path = _read(data)
        step("validating the data")
        validate(bundle)
        check_dates(bundle, as_of)
        frame, unmodelled = _need_scores(pyfunc_model, bundle, as_of, [f.group for f in floors])
    served = sorted({d for p in cat.programmes for d in p.dimensions})
    unmodelled = tuple(d for d in unmodelled if d in served)
    step(f"solving the allocation for {frame.height:,} households")
    plan = allocate(
        frame, cat, budget, as_of=as_of, fairness=floors, time_limit=time_limit, mip_gap=mip_gap
    )
    curve = None
    if curve_budgets:
        step(f"tracing the budget curve at {len(curve_budgets)} budgets")
        curve = budget_curve(
            frame,
            cat,
            list(curve_budgets),
            fairness=floors,
            time_limit=time_limit,
            mip_gap=mip_gap,
        )
    table = cast("pl.DataFrame", plan.to_frame()).with_columns(
        pl.lit(name).alias("model_name"), pl.lit(str(version)).alias("model_version")
    )
    payload = _parquet_bytes(table)
    sha = hashlib.sha256(payload).hexdigest()
    path = None
    if out is not None:
        path = Path(out)
        _write_atomic(path, payload)
    page = None
    if html is not None:
        from ..allocation._html import plan_page

        page = plan_page(plan, curve, model=f"{name} version {version}", unmodelled=unmodelled)
        from ..report._html import write_atomic as write_text_atomic

        write_text_atomic(Path(html), page)
    step("logging the allocation run and its manifest")
    manifest = (
        table.with_columns(pl.Series(ID_COLUMN, pseudonymise(table[ID_COLUMN].to_list(), salt)))
        .rename({ID_COLUMN: "pseudonym"})
        .sort("pseudonym", "programme_id")
    )
    params = {
        "model_uri": pinned,
        "model_name": str(name),
        "model_version": str(version),
        "as_of": as_of.isoformat(),
        "budget": repr(float(budget)),
        "catalogue_version": str(cat.version),
        "programmes": ",".join(cat.ids),
        "fairness": ";".join(f.describe() for f in floors) or "none",
        "mip_gap": repr(mip_gap),
        "unmodelled_dimensions": ",".join(unmodelled) or "none",
        "data_path": str(data_path),
    }
    metrics = {
        "objective": plan.objective,
        "bound": plan.bound,
        "gap": plan.gap,
        "cost": plan.cost,
        "total_need": plan.total_need,
        "n_households": float(frame.height),
        "n_assigned_households": float(table[ID_COLUMN].n_unique()),
        "n_assignments": float(table.height),
    }
    tags = {
        "data.fingerprint": bundle.fingerprint(),
        "plan.sha256": sha,
        "plan.status": plan.status[:250],
        "needsid.version": _installed_version(),
        "git.commit": _git_commit()[0],
    }
    try:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        experiment_id = _experiment_id(client, ALLOCATE_EXPERIMENT, uri)
        _reap_stale_runs(client, experiment_id)
        with (
            _quiet_mlflow(),
            _run(client, experiment_id) as run,
            tempfile.TemporaryDirectory() as tmp_dir,
        ):
            run_id = run.info.run_id
            client.log_batch(
                run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                params=[Param(k, v) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
            tmp = Path(tmp_dir)
            (tmp / "plan_manifest.parquet").write_bytes(_parquet_bytes(manifest))
            summary = (
                plan.summary
                if isinstance(plan.summary, pl.DataFrame)
                else pl.from_pandas(plan.summary)
            )
            summary.write_csv(tmp / "plan_summary.csv")
            files = ["plan_manifest.parquet", "plan_summary.csv"]
            if curve is not None:
                c = curve.to_frame()
                (c if isinstance(c, pl.DataFrame) else pl.from_pandas(c)).write_csv(
                    tmp / "budget_curve.csv"
                )
                files.append("budget_curve.csv")
            if page is not None:
                (tmp / "allocation.html").write_text(page, "utf-8")
                files.append("allocation.html")
            for f in files:
                client.log_artifact(run_id, str(tmp / f))
    except Exception as exc:
        where = f"written to {path}" if path else "kept in memory (no out= given)"
        raise TrackingError(
            f"The allocation plan ({table.height} assignments, sha256 {sha[:12]}...) is "
            f"{where}, but logging the run to {redact(uri)} failed: {type(exc).__name__}: "
            f"{_redact_text(str(exc), uri)}"
        ) from exc
    return AllocateResult(plan, table, path, sha, run_id, unmodelled, curve)
