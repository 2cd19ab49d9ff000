"""Checking a bundle folder in one report: its files, their cells and the contract.

A bad cell or a missing file does not hide the rest: the contract is checked on whatever
could be read, and what could not is reported once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._bundle import HouseholdData
from ._read import read_folder
from ._report import make_error
from ._schema import TABLES
from ._validate import _as_date, _check_vocabulary, _Checks

__all__ = ["validate_folder"]


def validate_folder(
    path: str | Path,
    *,
    reference_date: str | dt.date | None = None,
    vocabulary: Mapping[str, Mapping[str, Any]] | None = None,
) -> HouseholdData:
    r"""Read a bundle folder and check it against the data contract, in one report.

    What ``validate(HouseholdData.read(path))`` does, except that problems with the files
    and cells do not hide the others: the contract is checked on whatever could be read.
    A table whose file is missing or unreadable, and a column with cells that cannot be
    parsed, are reported once and left out of the contract checks (no follow-on errors).

    Parameters
    ----------
    path : str or os.PathLike
        A folder with ``<table>.csv`` or ``<table>.parquet`` per table.
    reference_date : str or datetime.date, optional
        No date may be later than this; default today's date (stated in the report).
    vocabulary : mapping, optional
        ``{source: {kind: properties}}`` replacing the packaged record vocabulary.

    Returns
    -------
    HouseholdData
        The bundle read (polars), when nothing is wrong.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a folder.
    DataValidationError
        With ``.report``: every file, cell and contract problem (see ``RULES``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from needsid.data import DataValidationError, HouseholdData, validate_folder
    >>> folder = Path(tempfile.mkdtemp()) / "county"
    >>> _ = HouseholdData.empty().write(folder, format="csv")
    >>> validate_folder(folder).households.height
    0
    >>> _ = (folder / "households.csv").write_text(
    ...     "household_id,region_id,formed_on,dissolved_on\nh1,r9,2020-05-01,\nh2,r9,30/05/2020,\n"
    ... )
    >>> try:
    ...     validate_folder(folder, reference_date="2025-01-01")
    ... except DataValidationError as err:
    ...     print(err.report[["column", "rule", "examples"]].to_string(index=False))
    ...     print(*err.report.loc[0, "note"].split("; "), sep="\n  ")
    ...     print(err.reference_date, err.today)
       column             rule examples
    formed_on unparsable_value     [h2]
    region_id   unknown_region [h1, h2]
    households.csv: '30/05/2020' is not a YYYY-MM-DD date
      use YYYY-MM-DD, e.g. 2020-05-30 for '30/05/2020'
    2025-01-01 False
    """
    vocab = _check_vocabulary(vocabulary)
    ref, today = _as_date(reference_date), reference_date is None
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Bundle folder {str(folder)!r} does not exist or is not a folder."
        )
    read = read_folder(folder)
    empty = HouseholdData.empty().tables
    frames = {name: empty[name] if f is None else f for name, f in read.frames.items()}
    skip = set(read.unparsed) | {
        (name, c)
        for name, f in read.frames.items()
        if f is None
        for c in TABLES[name].column_names
    }
    failures = read.problems + _Checks(frames, ref, today, vocab, skip).run()
    if failures:
        raise make_error(failures, reference_date=ref, today=today, source=str(folder))
    return HouseholdData(**frames)
