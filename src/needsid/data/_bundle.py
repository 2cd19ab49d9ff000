"""The HouseholdData bundle: four contract tables, their readers and an atomic writer.

Files are read and written through polars whatever the backend, so the on-disk form does
not depend on how the bundle was built.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import polars as pl

from .._compat import DUCKDB_MODULES
from ._read import FORMATS, read_folder
from ._report import make_error
from ._schema import BOOL, DATE, FLOAT, INT, STRING, TABLES

if TYPE_CHECKING:
    import duckdb

__all__ = ["HouseholdData"]

BACKENDS = ("pandas", "polars")
POLARS_DTYPES: dict[str, pl.DataType] = {
    STRING: pl.String(),
    DATE: pl.Date(),
    BOOL: pl.Boolean(),
    FLOAT: pl.Float64(),
    INT: pl.Int64(),
}
# pandas has no date dtype; nanoseconds is what pd.to_datetime gives, so user-built
# pandas bundles already have the canonical dtype.
PANDAS_DATE_DTYPE = "datetime64[ns]"


@dataclass(frozen=True, eq=False)
class HouseholdData:
    """The four tables of the data contract, all pandas or all polars DataFrames.

    Columns, types and keys are defined in ``needsid.data.TABLES``; use
    :func:`needsid.data.validate` to check a bundle against them. In pandas, dates are
    ``datetime64[ns]``, strings ``object``, and a null float is ``NaN``. In polars the
    types are ``String``, ``Date``, ``Boolean``, ``Float64`` and ``Int64``. Bundles
    compare by identity; compare content with :meth:`fingerprint`.

    Parameters
    ----------
    regions, households, members, records : pandas.DataFrame or polars.DataFrame
        The contract tables, described column by column in ``docs/contract.md``
        (``needsid.data.contract_reference()`` prints the same page).

    Raises
    ------
    TypeError
        If a table is not a DataFrame, or the tables are not all of one kind.

    Examples
    --------
    >>> from datetime import date
    >>> import polars as pl
    >>> from needsid.data import HouseholdData, validate
    >>> empty = HouseholdData.empty()
    >>> households = pl.DataFrame(
    ...     {"household_id": ["h1"], "region_id": ["r1"], "formed_on": [date(2020, 1, 1)]}
    ... ).with_columns(dissolved_on=pl.lit(None, pl.Date))
    >>> regions = pl.DataFrame(
    ...     {"region_id": ["r1"], "urban": [True], "dibao_standard": [900.0],
    ...      "low_income_multiplier": [1.5], "tekun_standard": [1170.0],
    ...      "disposable_income_prev_year": [48000.0]}
    ... )
    >>> bundle = HouseholdData(regions, households, empty.members, empty.records)
    >>> validate(bundle).backend
    'polars'
    >>> bundle.to_pandas().households.dtypes["formed_on"]
    dtype('<M8[ns]')
    >>> bundle.fingerprint() == bundle.to_pandas().fingerprint()
    True
    """

    regions: Any
    households: Any
    members: Any
    records: Any

    def __post_init__(self) -> None:
        kinds = {name: _frame_kind(frame) for name, frame in self._items()}
        bad = {name: type(frame).__name__ for name, frame in self._items() if not kinds[name]}
        if bad:
            raise TypeError(
                "HouseholdData tables must be pandas or polars DataFrames (or, for feature "
                f"building at scale, DuckDB relations or Spark DataFrames); got {bad!r}."
            )
        if len(set(kinds.values())) > 1:
            raise TypeError(
                f"HouseholdData tables must all be of one kind; got {kinds!r}. "
                "Convert them first, e.g. with polars.from_pandas."
            )

    def __repr__(self) -> str:
        if self.backend not in BACKENDS:
            return f"HouseholdData(backend={self.backend!r})"
        sizes = ", ".join(f"{name}={len(frame)} rows" for name, frame in self._items())
        return f"HouseholdData(backend={self.backend!r}, {sizes})"

    def _items(self) -> list[tuple[str, Any]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]

    @property
    def tables(self) -> dict[str, Any]:
        """Tables by name, in contract order."""
        return dict(self._items())

    @property
    def backend(self) -> str:
        """The kind of table: ``"pandas"``, ``"polars"``, or lazy ``"duckdb"``, ``"pyspark"``."""
        return _frame_kind(self.regions)

    @classmethod
    def empty(cls, backend: str = "polars") -> HouseholdData:
        """Return a bundle of empty tables with the contract columns and types.

        Parameters
        ----------
        backend : {"polars", "pandas"}, default "polars"
            Kind of DataFrame to build.

        Returns
        -------
        HouseholdData
            Four tables with no rows.

        Raises
        ------
        ValueError
            If ``backend`` is not one of the above.

        Examples
        --------
        >>> from needsid.data import HouseholdData
        >>> HouseholdData.empty(backend="pandas")  # doctest: +NORMALIZE_WHITESPACE
        HouseholdData(backend='pandas', regions=0 rows, households=0 rows,
                      members=0 rows, records=0 rows)
        >>> HouseholdData.empty().households.columns
        ['household_id', 'region_id', 'formed_on', 'dissolved_on']
        """
        _check_choice("backend", backend, BACKENDS)
        frames = {
            name: pl.DataFrame(schema={c.name: POLARS_DTYPES[c.dtype] for c in spec.columns})
            for name, spec in TABLES.items()
        }
        return cls(**frames).to_pandas() if backend == "pandas" else cls(**frames)

    def to_polars(self) -> HouseholdData:
        """Return the bundle with polars tables (dates as ``pl.Date``).

        Returns
        -------
        HouseholdData
            The same content in ``polars.DataFrame`` tables; lazy tables are collected.

        Examples
        --------
        >>> import needsid as ni
        >>> bundle = ni.HouseholdData.empty(backend="pandas").to_polars()
        >>> bundle.backend, bundle.households.schema["formed_on"]
        ('polars', Date)
        """
        return HouseholdData(**{n: _to_polars(n, f) for n, f in self._items()})

    def to_pandas(self) -> HouseholdData:
        """Return the bundle with pandas tables (dates as ``datetime64[ns]``).

        Returns
        -------
        HouseholdData
            The same content in ``pandas.DataFrame`` tables.

        Examples
        --------
        >>> import needsid as ni
        >>> bundle = ni.HouseholdData.empty().to_pandas()
        >>> bundle.backend, bundle.households["formed_on"].dtype
        ('pandas', dtype('<M8[ns]'))
        """
        return HouseholdData(**{n: _to_pandas(n, f) for n, f in self._items()})

    def fingerprint(self) -> str:
        """Return a SHA-256 hex digest of the content.

        The digest ignores row order and backend: each table is converted to polars,
        sorted by its key (then all other columns) and hashed as canonical CSV.

        Returns
        -------
        str
            64 hexadecimal characters.

        Examples
        --------
        >>> import needsid as ni
        >>> bundle = ni.simulate(n_households=300, months=12, seed=0).bundle
        >>> len(bundle.fingerprint())
        64
        >>> bundle.fingerprint() == bundle.to_pandas().fingerprint()
        True
        """
        digest = hashlib.sha256()
        for name, frame in self.to_polars()._items():
            key = [c for c in TABLES[name].key if c in frame.columns]
            rest = sorted(c for c in frame.columns if c not in key)
            canonical = frame.select(key + rest)
            if canonical.width:
                canonical = canonical.sort(key + rest, nulls_last=True)
            digest.update(f"\x00{name}\x00".encode())
            digest.update(canonical.write_csv().encode())
        return digest.hexdigest()

    @classmethod
    def read(cls, path: str | os.PathLike[str], *, backend: str = "polars") -> HouseholdData:
        r"""Read a bundle folder holding ``<table>.parquet`` or ``<table>.csv`` per table.

        CSV columns of the contract are parsed with the contract types (ids stay
        strings, dates are ``YYYY-MM-DD``, numbers use ``.`` as decimal mark and no
        thousands separator, booleans are ``true``/``false`` or ``1/0``, ``yes/no``,
        ``y/n``, ``t/f`` in any case, an empty field is null, a quoted ``""`` is an empty
        string); other columns are read as strings. Every problem in every file is
        collected before anything is raised: missing, misnamed or ambiguous table files,
        files that cannot be read, a delimiter other than ``,`` and each column's bad
        cells, named with the file, the values and the fix. The contract itself (keys,
        links, vocabulary) is checked by :func:`needsid.data.validate`;
        :func:`needsid.data.validate_folder` does both in one report.

        Parameters
        ----------
        path : str or os.PathLike
            The folder.
        backend : {"polars", "pandas"}, default "polars"
            Kind of DataFrame to return.

        Returns
        -------
        HouseholdData

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a folder.
        DataValidationError
            If a table's file is missing, ambiguous or unreadable, or cells cannot be
            parsed; ``.report`` lists every problem (rules ``missing_table``,
            ``ambiguous_table``, ``unreadable_file``, ``wrong_delimiter``,
            ``unparsable_value``).

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from needsid.data import DataValidationError, HouseholdData
        >>> folder = Path(tempfile.mkdtemp()) / "county"
        >>> _ = HouseholdData.empty().write(folder, format="csv")
        >>> HouseholdData.read(folder).backend
        'polars'
        >>> header = ",".join(HouseholdData.empty().regions.columns)
        >>> _ = (folder / "regions.csv").write_text(header + '\n001,yes,"1,090",1.5,9,9\n')
        >>> _ = (folder / "records.csv").rename(folder / "Records.csv")
        >>> try:
        ...     HouseholdData.read(folder)
        ... except DataValidationError as err:
        ...     print(err.report[["table", "column", "rule", "count"]].to_string(index=False))
        ...     for note in err.report["note"]:
        ...         print(*note.split("; "), sep="\n  ")
          table         column             rule  count
        regions dibao_standard unparsable_value      1
        records                   missing_table      1
        regions.csv: '1,090' is not a number
          remove the thousands separator, e.g. 1090 for '1,090'
        found Records.csv: rename it to records.csv
        """
        _check_choice("backend", backend, BACKENDS)
        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"Bundle folder {str(folder)!r} does not exist or is not a folder."
            )
        read = read_folder(folder)
        if read.problems:
            raise make_error(read.problems, source=str(folder))
        bundle = cls(**read.frames)
        return bundle.to_pandas() if backend == "pandas" else bundle

    @classmethod
    def scan(
        cls, path: str | os.PathLike[str], *, connection: duckdb.DuckDBPyConnection | None = None
    ) -> HouseholdData:
        """Open a Parquet bundle folder as DuckDB relations, without reading it into memory.

        For building features on more data than fits in memory:
        :func:`needsid.features.build` runs on the relations inside DuckDB, which spills
        to disk within the connection's ``memory_limit``, and returns a relation to
        write with ``write_parquet``. Validation and the other tools need an eager
        bundle: :meth:`read` it, or :meth:`to_polars` the scanned one.

        Parameters
        ----------
        path : str or os.PathLike
            A folder with ``<table>.parquet`` for each table (CSV bundles: convert them
            with ``HouseholdData.read(path).write(new_path)`` first).
        connection : duckdb.DuckDBPyConnection, optional
            Where the relations live, e.g. ``duckdb.connect(config={"memory_limit":
            "4GB", "temp_directory": "/scratch/spill"})``; None opens a new in-memory
            database with DuckDB's defaults (it spills to ``.tmp`` in the working
            folder) and no progress bar.

        Returns
        -------
        HouseholdData
            Tables as ``duckdb.DuckDBPyRelation``.

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a folder or a table's Parquet file is missing.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> import needsid as ni
        >>> folder = Path(tempfile.mkdtemp()) / "county"
        >>> _ = ni.simulate(n_households=300, months=12, seed=0).bundle.write(folder)
        >>> lazy = ni.HouseholdData.scan(folder)
        >>> lazy.backend
        'duckdb'
        >>> lazy.to_polars().fingerprint() == ni.HouseholdData.read(folder).fingerprint()
        True
        """
        import duckdb

        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"Bundle folder {str(folder)!r} does not exist or is not a folder."
            )
        files = {name: folder / f"{name}.parquet" for name in TABLES}
        missing = [name for name, f in files.items() if not f.is_file()]
        if missing:
            raise FileNotFoundError(
                f"Cannot scan {str(folder)!r}: {', '.join(f'{n}.parquet' for n in missing)} "
                "missing. scan reads Parquet bundles only; convert a CSV bundle with "
                "HouseholdData.read(path).write(new_path)."
            )
        if connection is None:
            connection = duckdb.connect()
            connection.execute("PRAGMA disable_progress_bar")
        return cls(**{name: connection.read_parquet(str(f)) for name, f in files.items()})

    def write(
        self, path: str | os.PathLike[str], *, format: str = "parquet", overwrite: bool = False
    ) -> Path:
        """Write the bundle to a folder, atomically.

        The tables are written to a temporary sibling folder which is then renamed into
        place, so ``path`` never holds a half-written bundle. With ``overwrite=True`` an
        existing bundle folder is moved aside and deleted only after the rename; a
        folder holding anything other than bundle table files is never overwritten.

        Parameters
        ----------
        path : str or os.PathLike
            Target folder; it must not exist unless ``overwrite`` is true.
        format : {"parquet", "csv"}, default "parquet"
            File format of the tables.
        overwrite : bool, default False
            Replace an existing bundle folder.

        Returns
        -------
        pathlib.Path
            The folder written.

        Raises
        ------
        ValueError
            If ``format`` is not one of the above.
        FileExistsError
            If ``path`` exists and ``overwrite`` is false, or it holds files other than
            bundle tables.
        NotADirectoryError
            If ``path`` exists and is a file.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from needsid.data import HouseholdData
        >>> folder = Path(tempfile.mkdtemp()) / "county"
        >>> sorted(p.name for p in HouseholdData.empty().write(folder, format="csv").iterdir())
        ['households.csv', 'members.csv', 'records.csv', 'regions.csv']
        >>> HouseholdData.empty().write(folder)
        Traceback (most recent call last):
        ...
        FileExistsError: '...county' already exists; pass overwrite=True to replace it.
        """
        _check_choice("format", format, FORMATS)
        target = Path(path)
        _check_target(target, overwrite)
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(target)
        # the writer's pid in the name: a later write can tell a killed writer's leftovers
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent)
        )
        try:
            for name, frame in self.to_polars()._items():
                _write_table(frame, tmp / f"{name}.{format}", format)
            _check_target(target, overwrite)
            if target.exists():
                old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex}")
                target.rename(old)
                try:
                    tmp.rename(target)
                except BaseException:
                    old.rename(target)
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


def _frame_kind(frame: Any) -> str:
    if isinstance(frame, pl.DataFrame):
        return "polars"
    if isinstance(frame, pd.DataFrame):
        return "pandas"
    # lazy tables: feature building runs on them through narwhals; IO and validation need
    # an eager bundle (to_polars() collects one)
    module = type(frame).__module__.split(".")[0]
    if module in DUCKDB_MODULES:
        return "duckdb"
    if module == "pyspark":
        return "pyspark"
    return ""


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"Got {name}={value!r}; expected one of {', '.join(allowed)}.")


def _to_polars(name: str, frame: Any) -> pl.DataFrame:
    """Convert one table to polars, mapping pandas' representation back to the contract's."""
    if isinstance(frame, pl.DataFrame):
        out = frame
    elif isinstance(frame, pd.DataFrame):
        out = pl.from_pandas(frame)
    else:  # a lazy DuckDB or Spark table
        import narwhals as nw

        out = nw.from_native(frame).collect(backend="polars").to_native()
    casts = {}
    for spec in TABLES[name].columns:
        if spec.name not in out.columns:
            continue
        dtype = out.schema[spec.name]
        if dtype == pl.Null or (spec.dtype == DATE and isinstance(dtype, pl.Datetime)):
            casts[spec.name] = POLARS_DTYPES[spec.dtype]
    return out.with_columns(pl.col(c).cast(t) for c, t in casts.items()) if casts else out


def _to_pandas(name: str, frame: Any) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame
    out = frame.to_pandas()
    for spec in TABLES[name].columns:
        if spec.dtype == DATE and spec.name in out.columns:
            out[spec.name] = out[spec.name].astype(PANDAS_DATE_DTYPE)
    return out


def _check_target(target: Path, overwrite: bool) -> None:
    if not target.exists():
        return
    if not overwrite:
        raise FileExistsError(
            f"{str(target)!r} already exists; pass overwrite=True to replace it."
        )
    if not target.is_dir():
        raise NotADirectoryError(f"{str(target)!r} exists and is not a bundle folder.")
    allowed = {f"{name}.{fmt}" for name in TABLES for fmt in FORMATS}
    foreign = sorted(p.name for p in target.iterdir() if p.name not in allowed)
    if foreign:
        raise FileExistsError(
            f"Refusing to overwrite {str(target)!r}: it holds files that are not bundle "
            f"tables ({', '.join(foreign[:5])}). Remove them or write elsewhere."
        )


def _write_table(frame: pl.DataFrame, path: Path, format: str) -> None:
    if format == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete temporary folders a killed writer of ``target`` left (they hold personal data).

    Only folders named ``.<target>.tmp-<pid>-*`` whose process no longer runs are removed;
    a concurrent writer's folder, or anything else, is left alone.
    """
    removed = []
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        pid = tmp.name[len(f".{target.name}.tmp-") :].split("-", 1)[0]
        if tmp.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed
