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


if __name__ == "__main__":  # pragma: no cover
    app()
