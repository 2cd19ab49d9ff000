"""The ``needsid`` command line."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="needsid: find the households that need help in administrative records.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.command()
def demo(
    households: int = typer.Option(50_000, help="Households to simulate."),
    seed: int = typer.Option(0, help="Random seed (same seed, same figures)."),
) -> None:
    """Simulate, train a LightGBM model, flag at the status quo's capacity, compare."""
    from ._demo import run_demo

    start = time.perf_counter()
    with console.status("simulating, building features, training ..."):
        result = run_demo(n_households=households, seed=seed)
    table = Table(title="needsid demo", show_header=False)
    for label, value in result.rows():
        table.add_row(label, value)
    console.print(table)
    console.print(f"finished in {time.perf_counter() - start:.0f} s")


@app.command()
def simulate(
    households: int = typer.Option(50_000, help="Households at the start."),
    months: int = typer.Option(36, help="Months to simulate."),
    seed: int = typer.Option(0, help="Random seed."),
    out: Path = typer.Option(..., help="Folder to write the HouseholdData tables to (Parquet)."),
    overwrite: bool = typer.Option(False, help="Replace the folder if it exists."),
) -> None:
    """Simulate a population and write its HouseholdData folder (the truth stays out)."""
    from .simulation import simulate as _simulate

    with console.status("simulating ..."):
        pop = _simulate(n_households=households, months=months, seed=seed)
    pop.bundle.write(out, overwrite=overwrite)
    console.print(f"wrote {pop.bundle.households.height:,} households to {out}")


@app.command()
def validate(
    folder: Path = typer.Argument(..., help="A HouseholdData folder (CSV or Parquet)."),
) -> None:
    """Check a HouseholdData folder; print every problem found, exit 1 if any."""
    from .data import DataValidationError, HouseholdData
    from .data import validate as _validate

    bundle = HouseholdData.read(folder)
    try:
        _validate(bundle)
    except DataValidationError as err:
        table = Table(title=f"{len(err.report)} problems in {folder}")
        for col in err.report.columns:
            table.add_column(str(col))
        for row in err.report.itertuples(index=False):
            table.add_row(*[str(v) for v in row])
        console.print(table)
        raise typer.Exit(code=1) from None
    console.print(f"{folder}: valid")


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


@app.command()
def train(
    data: Path = typer.Option(
        ..., help="HouseholdData folder (from `needsid simulate` or yours)."
    ),
    as_of: str = typer.Option(..., help="Last date the run may read, e.g. 2025-07-01."),
    horizon: int = typer.Option(
        None, help="Months ahead a household must be in need [config: 6]."
    ),
    config: Path = typer.Option(None, help="Training config YAML (see configs/train/)."),
    name: str = typer.Option("needsid-risk", help="Registered model name."),
) -> None:
    """Train a risk model, compare it with the status quo and rules, register it in MLflow.

    The store is MLFLOW_TRACKING_URI (default: a local mlflow.db). The model is tested on
    the households of as_of minus the horizon, whose outcomes are known by as_of.
    """
    from .tracking import ConfigError
    from .tracking import train as _train

    try:
        with console.status("building features, training, comparing, logging ..."):
            result = _train(data, as_of, horizon_months=horizon, config=config, name=name)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
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
        f"{name}@{alias} -> version {rec['version']} (was {rec['previous_version']}), "
        f"by {rec['promoted_by']}"
    )


@app.command()
def flag(
    data: Path = typer.Option(..., help="HouseholdData folder."),
    as_of: str = typer.Option(..., help="Flag as of this date, e.g. 2025-07-01."),
    model: str = typer.Option("models:/needsid-risk@champion", help="Registered model URI."),
    capacity: float = typer.Option(0.05, help="Share (e.g. 0.05) or count (e.g. 500) to verify."),
    out: Path = typer.Option(..., help="Parquet file for the flag table."),
    by: str = typer.Option(None, help="Apply the capacity per group, e.g. region_id."),
) -> None:
    """Flag households for help with a registered model and its rule set.

    Writes the flag table (household_id, score, risk_band, flag, route, reasons, rule ids,
    model version ...) and logs a run whose manifest holds salted pseudonyms only
    (salt from NEEDSID_SALT).
    """
    from .tracking import TrackingError, flag_households

    cap = int(capacity) if capacity >= 1 else capacity
    if capacity >= 1 and capacity != int(capacity):
        raise _fail(f"--capacity {capacity}: a share in (0, 1] or a whole number of households")
    try:
        with console.status("building features, scoring, evaluating rules ..."):
            result = flag_households(data, as_of, model, cap, out, groups=by)
    except TrackingError as exc:
        raise _fail(str(exc)) from None
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    routes = result.table.group_by("route").len().sort("route")
    table = Table(title=f"{out}: {result.table.height:,} households (run {result.run_id})")
    table.add_column("route")
    table.add_column("households", justify="right")
    for route, n in routes.iter_rows():
        table.add_row(route, f"{n:,}")
    console.print(table)


@app.command()
def serve(
    model: str = typer.Option("models:/needsid-risk@champion", help="Registered model URI."),
    port: int = typer.Option(5001, help="Port on 127.0.0.1."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    workers: int = typer.Option(1, help="Server worker processes."),
) -> None:
    """Serve the flagging model over HTTP (`mlflow models serve`, this environment).

    POST /invocations with {"dataframe_split": {"columns": [...], "data": [[...]]}}:
    household_id and the model's features in; score, risk_band, flag, reasons out.
    """
    import os
    import shutil
    import sys

    mlflow_bin = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    args = [mlflow_bin, "models", "serve", "-m", model, "--env-manager", "local",
            "-h", host, "-p", str(port), "-w", str(workers)]  # fmt: skip
    # mlflow starts uvicorn by name: make this environment's scripts findable
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    os.execve(args[0], args, env)


if __name__ == "__main__":  # pragma: no cover
    app()
