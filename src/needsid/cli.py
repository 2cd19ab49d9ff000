"""The ``needsid`` command line."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    from pydantic import BaseModel
    from rich.progress import Progress

    from .allocation import NeedFloor
    from .data import HouseholdData
    from .fairness import FairnessAudit
    from .features import FeatureSpec

#: A command's config class (``needsid._cli_configs``).
_Config = TypeVar("_Config", bound="BaseModel")

app = typer.Typer(
    help="needsid: find the households that need help in administrative records.",
    no_args_is_help=True,
    add_completion=False,
)


def _width() -> int | None:
    # rich falls back to 80 columns when the output is not a terminal, which wraps
    # tables in logs and pipes; COLUMNS still wins where it is set
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return None
    return 4096


console = Console(width=_width())


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"needsid {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """needsid: find the households that need help in administrative records."""


@contextmanager
def _progress(first_step: str | None) -> Iterator[Progress]:
    """Show the library's steps (``needsid._progress``) as progress bars in the block."""
    from ._progress import show_progress

    with show_progress(console) as progress:
        if first_step is not None:
            _step(first_step)
        yield progress


def _step(message: str) -> None:
    from ._progress import step

    step(message)


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def _config(cls: type[_Config], path: Path | None, **overrides: Any) -> _Config:
    """Load a command's config (``needsid._cli_configs``); a bad one ends the command."""
    from ._cli_configs import ConfigError, load_config

    try:
        return load_config(cls, path, **overrides)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


@app.command()
def demo(
    households: int = typer.Option(50_000, help="Households to simulate."),
    seed: int = typer.Option(0, help="Random seed (same seed, same figures)."),
    markdown: bool = typer.Option(
        False, "--markdown", help="Print the figures as README's Markdown table, nothing else."
    ),
) -> None:
    """Simulate, train a LightGBM model, flag at the status quo's capacity, compare."""
    from ._demo import run_demo

    start = time.perf_counter()
    if markdown:
        typer.echo(run_demo(n_households=households, seed=seed).markdown())
        return
    with _progress("simulating, building features, training"):
        result = run_demo(n_households=households, seed=seed)
    table = Table(title="needsid demo", show_header=False)
    for label, value in result.rows():
        table.add_row(label, value)
    console.print(table)
    console.print(f"finished in {time.perf_counter() - start:.0f} s")


@app.command()
def simulate(
    households: int = typer.Option(None, help="Households at the start (default: 50000)."),
    months: int = typer.Option(None, help="Months to simulate (default: 36)."),
    seed: int = typer.Option(None, help="Random seed (default: 0)."),
    out: Path = typer.Option(..., help="Folder to write the HouseholdData tables to (Parquet)."),
    config: Path = typer.Option(
        None,
        help="YAML with households, months, seed and parameter overrides "
        "(see configs/simulate/default.yaml); options given here win.",
    ),
    overwrite: bool = typer.Option(False, help="Replace the folder if it exists."),
) -> None:
    """Simulate a population and write its HouseholdData folder (the truth stays out)."""
    from ._cli_configs import SimulateConfig
    from .simulation import simulate as _simulate

    cfg = _config(SimulateConfig, config, households=households, months=months, seed=seed)
    with _progress("simulating"):
        pop = _simulate(
            n_households=cfg.households,
            months=cfg.months,
            seed=cfg.seed,
            config=cfg.simulation_config(),
        )
    pop.bundle.write(out, overwrite=overwrite)
    console.print(f"wrote {pop.bundle.households.height:,} households to {out}")


@app.command()
def validate(
    folder: Path = typer.Argument(..., help="A HouseholdData folder (CSV or Parquet)."),
) -> None:
    """Check a HouseholdData folder; print every problem found, exit 1 if any."""
    import datetime as dt

    from rich.markup import escape

    from .data import DataValidationError, validate_folder

    # the files, their cells and the contract in one report: a bad CSV cell does not
    # hide the contract's problems in the rest of the folder
    ref = dt.date.today()
    today = f"reference date {ref.isoformat()}, today's date"
    try:
        validate_folder(folder, reference_date=ref)
    except FileNotFoundError as err:
        raise _fail(escape(str(err))) from None
    except DataValidationError as err:
        n = len(err.report)
        console.print(f"{n} problem{'s' if n != 1 else ''} in {folder} ({today}):", markup=False)
        for row in err.report.itertuples(index=False):
            where = f"{row.table}.{row.column}" if row.column else row.table
            line = f"  {where}: {row.rule}"
            if len(row.examples):
                line += f" ({row.count} row{'s' if row.count != 1 else ''}, e.g. "
                line += f"{', '.join(row.examples)})"
            console.print(line, markup=False, highlight=False)
            if row.note:
                console.print(f"      {row.note}", markup=False, highlight=False)
        raise typer.Exit(code=1) from None
    console.print(f"{folder}: valid ({today})", markup=False)


@app.command()
def train(
    data: Path = typer.Option(
        ..., help="HouseholdData folder (from `needsid simulate` or yours)."
    ),
    as_of: str = typer.Option(..., help="Last date the run may read, e.g. 2025-07-01."),
    horizon: int = typer.Option(
        None, help="Months ahead a household must be in need (default: the config's, 6)."
    ),
    config: Path = typer.Option(None, help="Training config YAML (see configs/train/)."),
    name: str = typer.Option("needsid-risk", help="Registered model name."),
    labels: str = typer.Option(
        None,
        help="Label source: pu (casework outcomes, selection-aware; the default), verified, "
        "ipw, or records (a proxy from wages and pensions that marks far too many).",
    ),
) -> None:
    """Train a risk model, compare it with the status quo and rules, register it in MLflow.

    The store is MLFLOW_TRACKING_URI (default: a local mlflow.db). The model is tested on
    the households of as_of minus the horizon, whose outcomes are known by as_of.
    """
    from .tracking import ConfigError
    from .tracking import train as _train

    try:
        with _progress("reading the data"):
            result = _train(
                data, as_of, horizon_months=horizon, config=config, name=name, labels=labels
            )
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    li = result.labels
    console.print(
        f"labels: {li['source']}; {li['labelled_share']:.1%} of training households labelled, "
        f"base rate {li['base_rate']:.1%} (paid dibao or tekun: {li['low_income_share']:.1%})"
    )
    if "warning" in li:
        console.print(f"[yellow]warning:[/yellow] {li['warning']}")
    table = Table(title=f"{name} version {result.model_version} (run {result.run_id})")
    wide = result.comparison.to_frame()
    table.add_column("model")
    for col in wide.columns:
        table.add_column(col, justify="right")
    for model, row in wide.iterrows():
        table.add_row(str(model), *[f"{v:.3f}" for v in row])
    console.print(table)
    console.print(f"registered models:/{name}/{result.model_version}")


@app.command()
def promote(
    name: str = typer.Option("needsid-risk", help="Registered model name."),
    version: str = typer.Option(..., help="Version to promote, e.g. 3."),
    alias: str = typer.Option("champion", help="Alias to point at it: champion or challenger."),
    reason: str = typer.Option("", help="Why (kept in the version's tags)."),
) -> None:
    """Point an alias (champion, challenger) at a model version; record who and why."""
    from .tracking import promote as _promote

    try:
        rec = _promote(name, version, alias, reason=reason)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"{name}@{alias} -> version {rec.version} (was {rec.previous_version or 'none'}), "
        f"by {rec.promoted_by}"
    )


@app.command("train-needs")
def train_needs(
    data: Path = typer.Option(
        ..., help="HouseholdData folder (from `needsid simulate` or yours)."
    ),
    as_of: str = typer.Option(..., help="Last date the labels may read, e.g. 2025-07-01."),
    horizon: int = typer.Option(12, help="Months of records each household's labels read."),
    name: str = typer.Option("needsid-needs", help="Registered model name."),
    labels: str = typer.Option(
        "pu",
        help="Income labels: pu (casework outcomes, selection-aware weights; the default), "
        "verified (assessed households only) or records (wages on record: marks far too many).",
    ),
    n_estimators: int = typer.Option(None, help="Trees per need dimension (default: 300)."),
) -> None:
    """Train the need-profile model (need by dimension) on the bundle; register it in MLflow.

    Features at as_of minus the horizon; labels of each household's need over the horizon:
    health, education, care, housing and employment from the records, income from the
    county's own verification and review outcomes. Promote a version
    (`needsid promote --name needsid-needs`) for `needsid allocate`.
    """
    from .tracking import train_needs as _train_needs

    params = {} if n_estimators is None else {"n_estimators": n_estimators}
    try:
        with _progress("reading the data"):
            result = _train_needs(
                data, as_of, horizon_months=horizon, labels=labels, params=params, name=name
            )
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"{name} version {result.model_version} (run {result.run_id})")
    for col in ("need dimension", "households labelled", "rate of need"):
        table.add_column(col, justify="left" if col == "need dimension" else "right")
    for d in result.dimensions:
        table.add_row(d, f"{result.n_labelled[d]:,}", f"{result.positive_rate[d]:.1%}")
    console.print(table)
    console.print(f"registered models:/{name}/{result.model_version}")


def _floor(text: str) -> NeedFloor:
    from .allocation import NeedFloor

    group, sep, share = text.partition("=")
    try:
        value = float(share) if sep and group.strip() else None
    except ValueError:
        value = None
    if value is None:
        raise _fail(
            f"--floor {text!r}: expected GROUP=SHARE, e.g. region_id=0.3 (each region gets at "
            "least 30% of its own estimated need met)."
        )
    try:
        return NeedFloor(group.strip(), value)
    except (TypeError, ValueError) as exc:
        raise _fail(f"--floor {text!r}: {exc}") from None


@app.command()
def allocate(
    data: Path = typer.Option(..., help="HouseholdData folder."),
    as_of: str = typer.Option(..., help="Plan as of this date, e.g. 2025-07-01."),
    budget: float = typer.Option(..., help="Monthly budget, yuan, e.g. 5000000."),
    out: Path = typer.Option(..., help="Parquet file for the plan."),
    model: str = typer.Option(
        "models:/needsid-needs@champion", help="Registered need-profile model URI."
    ),
    catalogue: Path = typer.Option(
        None, help="Programme catalogue YAML (default: the package's, 11 programmes)."
    ),
    floor: list[str] = typer.Option(
        None, help="Fairness floor GROUP=SHARE, e.g. region_id=0.3; may be repeated."
    ),
    curve: str = typer.Option(
        None, help="Also trace need met at these multiples of the budget, e.g. 0.5,1,2."
    ),
    html: Path = typer.Option(None, help="Write an HTML page: plan by programme, region, curve."),
    time_limit: float = typer.Option(None, help="Seconds the solver may take."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace --out even if it is not a Parquet file."
    ),
) -> None:
    """Plan who gets which programme under a monthly budget, meeting the most need.

    Loads the checked registered need-profile model, predicts every household's need by
    dimension at as_of, solves the allocation (HiGHS) and writes one row per household and
    programme. The run is logged in MLflow (experiment needsid-allocate) with a manifest of
    salted pseudonyms only (salt from NEEDSID_SALT).
    """
    import polars as pl

    from .allocation import CatalogueError, InfeasibleError
    from .tracking import TrackingError, allocate_households

    floors = [_floor(f) for f in floor or []]
    _check_out(out, overwrite)
    if html is not None and html.is_dir():
        raise _fail(f"--html {str(html)!r} is a folder; give a file path, e.g. plan.html.")
    multiples = []
    for part in (curve or "").split(","):
        try:
            m = float(part) if part.strip() else None
        except ValueError:
            m = -1.0
        if m is not None and not m >= 0:
            raise _fail(
                f"--curve {curve!r}: expected multiples of the budget, 0 or more, e.g. 0.5,1,2."
            )
        if m is not None:
            multiples.append(m)
    try:
        with _progress("loading the model"):
            result = allocate_households(
                data,
                as_of,
                budget,
                model,
                out,
                catalogue=catalogue,
                fairness=floors,
                curve_budgets=[m * budget for m in multiples] or None,
                html=html,
                time_limit=time_limit,
            )
    except (
        TrackingError,
        CatalogueError,
        InfeasibleError,
        FileNotFoundError,
        ValueError,
        TypeError,
    ) as exc:
        raise _fail(str(exc)) from None
    plan = result.plan
    table = Table(
        title=f"{out}: {result.table['household_id'].n_unique():,} households, "
        f"{plan.cost:,.0f} of {plan.budget:,.0f} yuan a month (run {result.run_id})"
    )
    for col in ("programme", "households", "cost", "need met"):
        table.add_column(col, justify="left" if col == "programme" else "right")
    by = result.table.group_by("programme_id", "name_en", maintain_order=True).agg(
        pl.len().alias("n"), pl.col("monthly_cost").sum(), pl.col("expected_need_met").sum()
    )
    for pid, name_en, n, cost, met in by.iter_rows():
        table.add_row(f"{pid} ({name_en})", f"{n:,}", f"{cost:,.0f}", f"{met:,.1f}")
    console.print(table)
    console.print(
        f"expected need met {plan.objective:,.1f} of {plan.total_need:,.1f}; gap to the LP "
        f"bound {plan.gap:.2e}; {plan.status}"
    )
    if result.unmodelled:
        console.print(
            "[yellow]warning:[/yellow] the model does not predict need in "
            f"{', '.join(result.unmodelled)} (the records cannot tell it); programmes that "
            "serve only those dimensions get no one."
        )


@app.command()
def flag(
    data: Path = typer.Option(..., help="HouseholdData folder."),
    as_of: str = typer.Option(..., help="Flag as of this date, e.g. 2025-07-01."),
    out: Path = typer.Option(..., help="Parquet file for the flag table."),
    model: str = typer.Option(
        None, help="Registered model URI (default: models:/needsid-risk@champion)."
    ),
    capacity: float = typer.Option(
        None, help="Share (e.g. 0.05) or count (e.g. 500) a county can verify (default: 0.05)."
    ),
    by: str = typer.Option(None, help="Apply the capacity per group, e.g. region_id."),
    config: Path = typer.Option(
        None,
        help="YAML with model, capacity and by (see configs/flag/default.yaml); "
        "options given here win.",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace --out even if it is not a Parquet file."
    ),
) -> None:
    """Flag households for help with a registered model and its rule set.

    Writes the flag table (household_id, score, risk_band, flag, route, reasons, rule ids,
    model version ...) and logs a run whose manifest holds salted pseudonyms only
    (salt from NEEDSID_SALT).
    """
    from ._cli_configs import FlagConfig
    from .tracking import TrackingError, flag_households

    cfg = _config(FlagConfig, config, model=model, capacity=capacity, by=by)
    # route names are str (a Mapping's key type is invariant: no Literal keys for str ones)
    quotas = cast("dict[str, float]", cfg.quotas)
    _check_out(out, overwrite)
    try:
        with _progress("loading the model and reading the data"):
            result = flag_households(
                data, as_of, cfg.model, cfg.capacity, out, groups=cfg.by, quotas=quotas
            )
    except (TrackingError, FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    usage = result.usage
    assert usage is not None  # flag_households always measures it
    per_route = usage.groupby("route", sort=False)
    capacity_total = int(usage.groupby("group", dropna=False)["capacity"].first().sum())
    flagged = int(result.table["flag"].sum())
    table = Table(
        title=f"{out}: {flagged:,} of {result.table.height:,} households flagged, capacity "
        f"{capacity_total:,} visits (run {result.run_id})"
    )
    for col in ("route", "households", "quota", "used / capacity"):
        table.add_column(col, justify="left" if col == "route" else "right")
    from .flagging import ROUTES

    for route, part in per_route:
        n = int(part["households"].sum())
        quota = "-" if part["quota"].isna().all() else f"{int(part['quota'].sum()):,}"
        share = n / capacity_total if capacity_total else 0.0
        table.add_row(ROUTES[route], f"{n:,}", quota, f"{share:.0%}")
    console.print(table)
    over = usage[(usage["route"] == "trigger") & (usage["households"] > usage["capacity"])]
    for row in over.itertuples():
        where = "" if row.group is None else f" in {cfg.by} {row.group}"
        console.print(
            f"[yellow]warning:[/yellow] {row.households:,} households hit a trigger rule{where}, "
            f"more than the capacity of {row.capacity:,}: all are kept for immediate "
            "assistance, and no other route had room."
        )


@app.command()
def serve(
    model: str = typer.Option(
        None, help="Registered model URI (default: models:/needsid-risk@champion)."
    ),
    port: int = typer.Option(None, help="Port (default: 5001)."),
    host: str = typer.Option(None, help="Interface to listen on (default: 127.0.0.1)."),
    workers: int = typer.Option(None, help="Server worker processes (default: 1)."),
    config: Path = typer.Option(
        None,
        help="YAML with model, host, port and workers (see configs/serve/default.yaml); "
        "options given here win.",
    ),
) -> None:
    """Serve the flagging model over HTTP (`mlflow models serve`, this environment).

    POST /invocations with {"dataframe_split": {"columns": [...], "data": [[...]]}}:
    household_id and the model's features in; score, risk_band, flag, reasons out.
    """
    import os
    import shutil
    import sys

    from ._cli_configs import ServeConfig

    cfg = _config(ServeConfig, config, model=model, host=host, port=port, workers=workers)
    import tempfile

    from .tracking import resolve_model
    from .tracking._integrity import verified_copy

    # the server loads the checked copy, which stays for its lifetime (no household data)
    try:
        name, version, pinned = resolve_model(cfg.model)
        local = verified_copy(pinned, name, version, Path(tempfile.mkdtemp(prefix="needsid-")))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    mlflow_bin = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    args = [mlflow_bin, "models", "serve", "-m", str(local), "--env-manager", "local"]
    args += ["-h", cfg.host, "-p", str(cfg.port), "-w", str(cfg.workers)]
    # mlflow starts uvicorn by name: make this environment's scripts findable
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["NEEDSID_SERVE_MAX_ROWS"] = str(cfg.max_rows)
    os.execve(args[0], args, env)


# -- features, rules, compare, audit ---------------------------------------------------------


def _check_out(out: Path | None, overwrite: bool) -> None:
    """Refuse an --out that would fail or destroy something, before any work is done."""
    import os

    if out is None:
        return
    out = Path(out)
    if out.is_dir():
        raise _fail(
            f"--out {str(out)!r} is a folder; give a file path, e.g. {out / 'out.parquet'}."
        )
    if out.exists() and not overwrite:
        with open(out, "rb") as f:
            head = f.read(4)
        if head != b"PAR1":
            raise _fail(
                f"--out {str(out)!r} exists and is not a Parquet file; refusing to replace it. "
                "Give another path, or --overwrite if it should go."
            )
    parent = next(p for p in (out.parent, *out.parent.parents) if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise _fail(f"--out {str(out)!r}: cannot write in {str(parent)!r}.")


def _write_atomic(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    from ._io import umask_mode, write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, write, mode=umask_mode())  # mkstemp makes it 0600; the usual mode


def _print_frame(frame: pd.DataFrame | pl.DataFrame, title: str, *, digits: int = 3) -> None:
    """Print a pandas or polars frame as a rich table (floats rounded)."""
    import pandas as pd

    frame = frame if isinstance(frame, pd.DataFrame) else frame.to_pandas()
    table = Table(title=title)
    for i, col in enumerate(frame.columns):
        numeric = pd.api.types.is_numeric_dtype(frame[col]) and frame[col].dtype != bool
        table.add_column(
            str(col),
            justify="right" if numeric else "left",
            overflow="fold",
            no_wrap=i == 0,  # the row's name (model, rule id, feature) stays on one line
        )

    def cell(v: object) -> str:
        if v is None or (not isinstance(v, str | list | tuple) and pd.isna(v)):
            return ""
        return f"{v:.{digits}f}" if isinstance(v, float) else str(v)

    for row in frame.itertuples(index=False):
        table.add_row(*[cell(v) for v in row])
    console.print(table)


def _need(**options: object) -> None:
    missing = [f"--{k.replace('_', '-')}" for k, v in options.items() if v is None]
    if missing:
        raise _fail(f"missing option(s) {', '.join(missing)}; see --help.")


def _read_bundle(data: Path) -> HouseholdData:
    """Read and validate a bundle folder; any problem ends the command, every one named."""
    from .data import HouseholdData, validate

    try:
        return validate(HouseholdData.read(data))
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(f"--data {str(data)!r}: {exc}") from None


@app.command()
def features(
    data: Path = typer.Option(
        None, help="HouseholdData folder (from `needsid simulate` or yours)."
    ),
    as_of: str = typer.Option(
        None, help="Build from records known before this date, e.g. 2025-01-01."
    ),
    spec: Path = typer.Option(
        None, help="Feature spec YAML (see configs/features/); default: the packaged spec."
    ),
    out: Path = typer.Option(None, help="Parquet file to write, one row per household."),
    describe: bool = typer.Option(
        False, "--describe", help="Only print the feature catalogue of the spec, then stop."
    ),
    engine: str = typer.Option(
        "polars",
        help="polars (in memory, fastest) or duckdb (Parquet bundles larger than memory: "
        "reads the files in place and spills to disk within --memory-limit).",
    ),
    memory_limit: str = typer.Option(
        None, help="With --engine duckdb: DuckDB's memory limit, e.g. 4GB (default: 80% of RAM)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace --out even if it is not a Parquet file."
    ),
) -> None:
    """Build one row of features per household alive at a date, and save it as Parquet.

    Only records known before --as-of are read, so the table is what a caseworker could
    have known that day. With --describe, print what each feature means instead
    (name, family, window in months, meaning); --data, --as-of and --out are not needed.
    Both engines give the same values.

    Example: needsid features --data data/sim --as-of 2025-01-01 --out features.parquet
    """
    from ._cli_configs import ConfigError, load_feature_spec
    from .features import build
    from .features import describe as _describe

    try:
        feature_spec = load_feature_spec(spec)
    except (ConfigError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    if describe:
        _print_frame(_describe(feature_spec), f"features ({spec or 'default spec'})")
        return
    _need(data=data, as_of=as_of, out=out)
    _check_out(out, overwrite)
    if engine not in ("polars", "duckdb"):
        raise _fail(f"--engine {engine!r}: expected polars or duckdb.")
    if memory_limit is not None and engine != "duckdb":
        raise _fail("--memory-limit applies to --engine duckdb only.")
    if engine == "duckdb":
        height, width = _features_duckdb(data, as_of, feature_spec, out, memory_limit)
    else:
        bundle = _read_bundle(data)
        try:
            with _progress(f"building features as of {as_of}"):
                X = build(bundle, as_of, feature_spec)
        except ValueError as exc:
            raise _fail(str(exc)) from None
        _write_atomic(out, X.write_parquet)
        height, width = X.height, X.width - 1
    console.print(f"wrote {height:,} households x {width} features to {out}")


def _features_duckdb(
    data: Path, as_of: str, spec: FeatureSpec, out: Path, memory_limit: str | None
) -> tuple[int, int]:
    """Build features inside DuckDB on the Parquet files in place; return the output shape."""
    import tempfile

    import duckdb
    import polars as pl

    from .data import HouseholdData
    from .features import build

    with tempfile.TemporaryDirectory(prefix="needsid-duckdb-") as spill:
        config: dict[str, str | bool | int | float | list[str]] = {"temp_directory": spill}
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        try:
            con = duckdb.connect(config=config)
        except duckdb.Error as exc:
            raise _fail(f"--memory-limit {memory_limit!r}: {exc}") from None
        con.execute("PRAGMA disable_progress_bar")  # the command draws its own
        try:
            bundle = HouseholdData.scan(data, connection=con)
            with _progress(f"building features as of {as_of} in DuckDB"):
                rel = build(bundle, as_of, spec)
                width = len(rel.columns) - 1
                _write_atomic(out, rel.write_parquet)
        except FileNotFoundError as exc:
            raise _fail(f"--data {str(data)!r}: {exc}") from None
        except ValueError as exc:
            raise _fail(str(exc)) from None
        except duckdb.OutOfMemoryException as exc:
            raise _fail(
                f"DuckDB ran out of memory ({str(exc).splitlines()[0]}); raise "
                "--memory-limit. Nothing was written."
            ) from None
        except duckdb.Error as exc:
            raise _fail(f"DuckDB could not build the features: {exc}") from None
        finally:
            con.close()
    height = pl.scan_parquet(out).select(pl.len()).collect().item()
    return height, width


@app.command()
def rules(
    data: Path = typer.Option(..., help="HouseholdData folder."),
    as_of: str = typer.Option(..., help="Evaluate on records known before this date."),
    rules: str = typer.Option(
        "default",
        "--rules",
        help="Rule set YAML (see configs/rules/default.yaml); default: the packaged set.",
    ),
    out: Path = typer.Option(
        None,
        help="Parquet file for every hit with its evidence (holds household ids: keep it local).",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace --out even if it is not a Parquet file."
    ),
) -> None:
    """Evaluate a rule set (triggers, cross-checks, exits, outreach) and count its hits.

    Prints, for every rule, how many hits it had and how many distinct households they
    concern. Households already flagged by the same rule in the months before are not
    repeated (the rule set's suppression). With --out, also writes one row per hit with
    the record ids and values that made the rule fire.

    Example: needsid rules --data data/sim --as-of 2025-01-01 --out hits.parquet
    """
    from .rules import RuleSetError, load

    _check_out(out, overwrite)
    try:
        rule_set = load(rules)
    except (RuleSetError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    bundle = _read_bundle(data)
    try:
        with _progress(f"evaluating {len(rule_set.ids)} rules as of {as_of}"):
            hits = rule_set.evaluate(bundle, as_of)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _print_frame(
        hits.summary(),
        f"rule set {rule_set.id} {rule_set.version} as of {as_of}: {len(hits):,} hits, "
        f"{hits.n_households:,} households",
    )
    if out is not None:
        _write_atomic(out, hits.to_frame().write_parquet)
        console.print(f"wrote {len(hits):,} hits to {out}")


@app.command()
def verify(
    data: Path = typer.Option(..., help="HouseholdData folder."),
    household: str = typer.Option(..., help="Id of the household to verify."),
    as_of: str = typer.Option(..., help="Verify on records known before this date."),
    out: Path = typer.Option(
        ...,
        help="Report file: .html (a printable page) or .json (for a service). It holds "
        "the household's ids: keep it with the case file.",
    ),
    rules: str = typer.Option(
        "default",
        "--rules",
        help="Rule set YAML whose cross-checks and exits are run; default: the packaged set.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists."),
) -> None:
    """Check one household against every department's records (核对报告).

    Runs the rule set's cross-checks and exits for the household alone, lists which
    departments hold records of it ("no data" where one holds none: never a pass), and
    compares its latest assessed income with the dibao, low-income and tekun standards.

    Example: needsid verify --data data/sim --household H0000001 --as-of 2025-01-01 --out r.html
    """
    from rich.markup import escape

    from .casework import verification_report
    from .rules import RuleSetError, load

    formats = (".html", ".json")
    if out.suffix.lower() not in formats:
        raise _fail(
            f"--out {escape(repr(str(out)))}: expected a file ending in "
            f"{' or '.join(formats)}, e.g. {escape(str(out.with_suffix('.html')))}."
        )
    if out.exists() and not overwrite:
        raise _fail(
            f"--out {escape(repr(str(out)))} exists; refusing to replace it. Give another "
            "path, or --overwrite if it should go."
        )
    _check_out(out, overwrite=True)
    try:
        rule_set = load(rules)
    except (RuleSetError, FileNotFoundError) as exc:
        raise _fail(escape(str(exc))) from None
    bundle = _read_bundle(data)
    try:
        report = verification_report(bundle, household, as_of, rules=rule_set)
    except ValueError as exc:
        raise _fail(escape(str(exc))) from None
    text = report.to_html() if out.suffix.lower() == ".html" else report.to_json()

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    _write_atomic(out, write)
    counts = ", ".join(f"{n} {s}" for s, n in report.status_counts().items())
    console.print(f"wrote {escape(str(out))}: {len(report.checks)} checks ({counts})")


@app.command()
def monitor(
    data: Path = typer.Option(..., help="HouseholdData folder."),
    start: str = typer.Option(..., help="First month (the first of a month), e.g. 2025-01-01."),
    end: str = typer.Option(..., help="Last month (the first of a month)."),
    out: Path = typer.Option(
        ...,
        help="Folder for levels, alerts, drift, performance and excess (Parquet) and "
        "monitoring.html.",
    ),
    model: str = typer.Option(
        None,
        help="Registered model URI, e.g. models:/needsid-risk@champion: model alerts, the "
        "score's drift and the estimated precision (none without a model).",
    ),
    register: str = typer.Option(
        "default", help="Indicator register YAML, or 'default' for the packaged one."
    ),
    rules: str = typer.Option("default", help="Rule set YAML, or 'default'."),
    capacity: float = typer.Option(
        0.05, help="Share (e.g. 0.05) or count the model flags each month."
    ),
    reference_months: int = typer.Option(1, help="Months pooled as the drift reference."),
    reference: str = typer.Option(
        "rolling",
        help="Drift reference: rolling (the months before each month), calendar (the "
        "same, with the change a year before taken out; needs 13 months of records "
        "before --start), fixed (before --start) or seasonal (a year before).",
    ),
    min_psi: float = typer.Option(
        0.0,
        help="A drift must also reach this PSI to be marked (e.g. 0.01 on a large county, "
        "where the critical value is tiny).",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace the files of an earlier run in --out."
    ),
) -> None:
    """Run the monthly monitoring from --start to --end and write its tables and page.

    Each month reads only the records known before it: warning levels and indicator
    alerts from the register, rule alerts, the model's alerts at the capacity, drift of
    every feature and of the score against the reference months (PSI with a critical value
    from the sample sizes), and the estimated precision next to the observed one.

    Example: needsid monitor --data data/sim --start 2025-01-01 --end 2025-06-01
    --model models:/needsid-risk@champion --out monitoring/
    """
    import tempfile

    import mlflow.pyfunc

    from ._errors import ConfigError
    from .indicators import load as load_register
    from .monitoring import run
    from .monitoring._run import TABLES
    from .rules import RuleSetError, household_attributes
    from .rules import load as load_rules
    from .tracking import resolve_model
    from .tracking._integrity import verified_copy

    names = tuple(f"{t}.parquet" for t in TABLES)
    if out.exists() and not out.is_dir():
        raise _fail(f"--out {str(out)!r} is a file; give a folder for the run's files.")
    taken = [n for n in (*names, "monitoring.html") if (out / n).exists()]
    if taken and not overwrite:
        raise _fail(
            f"--out {str(out)!r} already holds {', '.join(taken)}; give another folder, or "
            "--overwrite to replace them."
        )
    try:
        rule_set = load_rules(rules)
        indicators = load_register(None if register == "default" else register)
    except (RuleSetError, ConfigError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    bundle = _read_bundle(data)
    with tempfile.TemporaryDirectory(prefix="needsid-") as workdir:
        loaded = None
        if model is not None:
            try:
                with _progress("loading the model"):
                    name, version, pinned = resolve_model(model)
                    local = verified_copy(pinned, name, version, Path(workdir))
                    loaded = mlflow.pyfunc.load_model(str(local))
            except ValueError as exc:
                raise _fail(str(exc)) from None
        try:
            with _progress("monitoring"):
                result = run(
                    bundle,
                    start,
                    end,
                    model=loaded,
                    register=indicators,
                    rules=rule_set,
                    capacity=capacity,
                    reference_months=reference_months,
                    reference=reference,
                    min_psi=min_psi,
                )
        except (TypeError, ValueError) as exc:
            raise _fail(str(exc)) from None
    attrs = household_attributes(bundle.to_polars(), result.months[-1])
    paths = result.write(out, attrs=attrs.select("household_id", "region_id"))
    drifted = int(result.drift["drifted"].sum())
    new = int((result.alerts["status"] == "new").sum())
    excess = int(result.excess["marked"].sum())
    console.print(
        f"{len(result.months)} months: {new:,} new alerts, {drifted:,} of "
        f"{result.drift.height:,} drift tests beyond their critical value, {excess:,} "
        "groups with an excess of an alert source's new alerts; wrote "
        + ", ".join(p.name for p in paths)
        + f" to {out}"
    )


@app.command()
def compare(
    data: Path = typer.Option(..., help="HouseholdData folder."),
    config: Path = typer.Option(
        ..., help="Comparison config YAML (see configs/experiments/compare.yaml)."
    ),
) -> None:
    """Compare risk models with the status quo and the rules alone, at a fixed capacity.

    Each model in the config is trained on the households of the training dates and
    tested on other households at the test date; every model flags the same number of
    households (the capacity). Prints one row per model (coverage, precision, exclusion
    error ...), writes the table with 95% bootstrap intervals to the config's `out`
    (CSV), and, if the config names a `report`, an HTML report that opens without a
    server.

    Example: needsid compare --data data/sim --config configs/experiments/compare.yaml
    """
    from ._cli_configs import CompareConfig, ConfigError, load_feature_spec

    cfg = _config(CompareConfig, config)
    from .evaluate import compare as _compare
    from .evaluate import rule_flags, temporal_split
    from .rules import RuleSetError, load

    try:
        feature_spec = load_feature_spec(cfg.features)
        rule_set = load(cfg.rules) if cfg.rules else None
        estimators = {name: m.estimator() for name, m in cfg.models.items()}
    except (ConfigError, RuleSetError, FileNotFoundError) as exc:
        raise _fail(f"{config}: {exc}") from None
    bundle = _read_bundle(data)
    hits = None
    try:
        with _progress(None):
            split = temporal_split(
                bundle,
                cfg.train_as_of,
                cfg.test_as_of,
                horizon_months=cfg.horizon_months,
                test_size=cfg.test_size,
                seed=cfg.seed,
                spec=feature_spec,
            )
            if rule_set is not None:
                _step(f"evaluating {len(rule_set.ids)} rules at {cfg.test_as_of}")
                hits = rule_set.evaluate(bundle, cfg.test_as_of, suppress=False)
            cmp = _compare(
                estimators,
                split,
                capacity=cfg.capacity,
                bundle=bundle,
                rule_flags=None if hits is None else rule_flags(hits, split),
                n_boot=cfg.n_boot,
                seed=cfg.seed,
            )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    wide = cmp.to_frame().reset_index()
    wide.columns = [str(c).replace("_", " ") for c in wide.columns]  # headers wrap at words
    _print_frame(
        wide,
        f"{len(split.test):,} test households as of {cfg.test_as_of}, capacity {cfg.capacity:g}",
    )
    if cmp.fixed:
        console.print(f"{' and '.join(cmp.fixed)}: at their own caseload, not the capacity")
    _write_atomic(cfg.out, lambda tmp: cmp.to_frame(wide=False).to_csv(tmp, index=False))
    console.print(f"wrote {cfg.out} (estimates with 95% intervals)")
    if cfg.report is not None:
        from . import __version__
        from .models import PointsScorecard
        from .report import build_report

        card = next((m for m in cmp.fitted.values() if isinstance(m, PointsScorecard)), None)
        meta = {
            "command": "needsid compare",
            "config": str(config),
            "train_as_of": ", ".join(d.isoformat() for d in cfg.train_as_of),
            "test_as_of": cfg.test_as_of.isoformat(),
            "horizon_months": cfg.horizon_months,
            "capacity": cfg.capacity,
            "test households": len(split.test),
            "rule set": "none" if rule_set is None else f"{rule_set.id} {rule_set.version}",
            "needsid": __version__,
        }
        cfg.report.parent.mkdir(parents=True, exist_ok=True)
        with _progress("writing the report"):
            build_report(cfg.report, comparison=cmp, scorecard=card, rule_hits=hits, meta=meta)
        console.print(f"wrote {cfg.report}")


def _audit_table(result: FairnessAudit, by: list[str]) -> pd.DataFrame:
    """One row per group: size, share flagged, ratio to the reference with its interval."""
    table = result.by_group.reset_index()[[*by, "n", "selection_rate", "small"]]
    d = result.disparities
    d = d[d["metric"] == "selection_rate"].reset_index(drop=True)  # in by_group's order
    failing = set(result.failing().index)
    sel = result.disparities.index[result.disparities["metric"] == "selection_rate"]
    verdicts = []
    for i, row in d.iterrows():
        key = row["group"] if isinstance(row["group"], tuple) else (row["group"],)
        if key == tuple(result.reference):
            v = "reference"
        elif sel[i] in failing:
            v = "FAIL"
        else:
            v = "ok" if row["within_band"] else "warn"
        verdicts.append(v + (" (small)" if row["small"] else ""))
    return table.assign(
        flagged=(table["n"] * table["selection_rate"]).round().astype(int),
        ratio=d["ratio"].to_numpy(),
        interval=[
            f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(d["ratio_lo"], d["ratio_hi"], strict=True)
        ],
        verdict=verdicts,
    )[[*by, "n", "flagged", "selection_rate", "ratio", "interval", "verdict"]].rename(
        columns={"n": "households", "selection_rate": "share", "interval": "95% interval"}
    )


@app.command()
def audit(
    data: Path = typer.Option(..., help="HouseholdData folder the flags were made from."),
    flags: Path = typer.Option(..., help="Flag table Parquet (from `needsid flag`)."),
    by: list[str] = typer.Option(
        None,
        help="Household attribute to compare: region_id, urban, minority or head_sex. "
        "Repeat for intersections (e.g. --by urban --by minority). Default: the config's "
        "`by` (urban and minority).",
    ),
    config: Path = typer.Option(
        None, help="Audit config YAML (optional; see configs/experiments/audit.yaml)."
    ),
    html: Path = typer.Option(None, help="Also write a self-contained HTML audit report."),
) -> None:
    """Check whether some groups are flagged much less (or more) often than others.

    Compares the share of households flagged (the selection rate) in each group with the
    largest group's (the reference), with 95% bootstrap intervals. Verdicts: FAIL (the
    reference flags no one and the group does; or the ratio is outside the tolerance
    band, default 0.8 to 1.25, and its interval excludes 1; or the difference's interval
    lies wholly beyond 5 points); warn (outside the band, but the interval includes 1, so
    it may be chance); ok otherwise. Groups under 30 households are marked small. Who
    really needed help is not known yet, so exclusion errors are not audited here.

    Example: needsid audit --data data/sim --flags flags.parquet --by urban
    """
    import polars as pl

    from ._cli_configs import AuditConfig
    from .fairness import audit as _audit
    from .rules import household_attributes

    cfg = _config(AuditConfig, config, by=by or None)
    try:
        table = pl.read_parquet(flags)
    except (FileNotFoundError, OSError, pl.exceptions.PolarsError) as exc:
        raise _fail(f"--flags {str(flags)!r}: cannot read a Parquet flag table ({exc}).") from None
    missing = [c for c in ("household_id", "as_of", "flag") if c not in table.columns]
    if missing:
        raise _fail(
            f"--flags {str(flags)!r} has no column(s) {missing}; expected a flag table "
            "from `needsid flag`."
        )
    dates = table["as_of"].unique().to_list()
    if len(dates) != 1:
        raise _fail(f"--flags {str(flags)!r}: expected one as_of date, found {len(dates)}.")
    bundle = _read_bundle(data)
    with _progress("joining household attributes, bootstrapping"):
        attrs = household_attributes(bundle, dates[0])
        rows = table.select(pl.col("household_id").cast(pl.String), "flag").join(
            attrs.with_columns(pl.col("household_id").cast(pl.String)),
            on="household_id",
            how="inner",
        )
        dropped = table.height - rows.height
        if rows.height == 0:
            raise _fail(
                f"no household of {flags} is in {data} at {dates[0]}; wrong --data folder?"
            )
        groups = rows.select(cfg.by).to_pandas()
        result = _audit(
            None,
            rows["flag"].to_numpy().astype(bool),
            sensitive_features=groups,
            band=cfg.band,
            min_group_size=cfg.min_group_size,
            n_boot=cfg.n_boot,
            seed=cfg.seed,
        )
    if dropped:
        console.print(f"{dropped:,} flagged rows not alive at {dates[0]} in {data}: left out")
    _print_frame(
        _audit_table(result, cfg.by),
        f"share flagged by {' x '.join(cfg.by)} ({rows.height:,} households), ratio to "
        f"the largest group, band {cfg.band[0]:g}-{cfg.band[1]:g}",
    )
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        result.to_html(html)
        console.print(f"wrote {html}")


if __name__ == "__main__":  # pragma: no cover
    app()
