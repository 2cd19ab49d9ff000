"""Loaders for the public poverty datasets used to check the models on real households.

The files are read in place from where you keep them; nothing is bundled. Costa Rica is
the Inter-American Development Bank's household poverty data (Kaggle competition "Costa
Rican Household Poverty Level Prediction", 2018); FIES is the Philippine Family Income and
Expenditure Survey 2015 (as published on Kaggle). README.md, "Real data", has the results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._compat import is_text_dtype

__all__ = ["FIES_POVERTY_LINE", "Dataset", "load_costa_rica", "load_fies"]

#: 2015 Philippine national per-capita poverty threshold, PHP per person per year.
FIES_POVERTY_LINE = 21_753.0

# Costa Rica: columns that are not features (ids, target) or that restate others
# (squares of features the models can square themselves, household-level copies).
_CR_DROP = ("Id", "idhogar", "Target", "parentesco1", "agesq")
_CR_YES_NO = ("dependency", "edjefe", "edjefa")
# FIES: words that mark an income or expenditure column (money the label is made of).
# "Imputed House Rental Value" is part of total income in the FIES, so it leaks too.
_FIES_MONEY = ("income", "expenditure", "expenses", "imputed house rental value")
_FIES_INCOME = "Total Household Income"
_FIES_SIZE = "Total Number of Family members"


@dataclass(frozen=True)
class Dataset:
    """Features, label and (optional) groups of a real dataset, one row per household.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"costa_rica"``.
    X : pandas.DataFrame
        Features; text categories have the pandas ``category`` dtype.
    y : pandas.Series
        The label (see the loader).
    groups : pandas.Series
        Household id of each row, for grouped cross-validation.
    categorical : tuple of str
        Columns of ``X`` that are categories (to one-hot encode for a linear model).
    info : pandas.DataFrame
        Columns kept for analysis but not features (e.g. per-capita income).

    Examples
    --------
    >>> import pandas as pd
    >>> from needsid.data import Dataset
    >>> d = Dataset(
    ...     name="toy",
    ...     X=pd.DataFrame({"rooms": [1.0, 3.0]}),
    ...     y=pd.Series([True, False], name="poor"),
    ...     groups=pd.Series(["a", "b"]),
    ...     categorical=(),
    ...     info=pd.DataFrame({"income_per_capita": [900.0, 4000.0]}),
    ... )
    >>> d.X.shape, float(d.y.mean())
    ((2, 1), 0.5)
    """

    name: str
    X: pd.DataFrame
    y: pd.Series
    groups: pd.Series
    categorical: tuple[str, ...]
    info: pd.DataFrame


def _find(path: str | os.PathLike[str], filename: str, what: str) -> Path:
    path = Path(os.fspath(path))
    file = path / filename if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(
            f"No {what} at {str(file)!r}. Pass the folder holding {filename!r} (e.g. "
            "'data/costa-rica-poverty') or the file itself."
        )
    return file


def load_costa_rica(path: str | os.PathLike[str]) -> Dataset:
    r"""Load the Costa Rica household poverty data: household heads, cleaned.

    One row per household head (``parentesco1 == 1``), as the competition scored. The
    head's ``Target`` is the household's (a few households disagree between members; the
    head's value is the one the data's authors define as correct); households without a
    head are dropped. ``dependency``, ``edjefe`` and ``edjefa`` mix "yes"/"no" with
    numbers: "yes" is 1 and "no" is 0, as their squared columns show (``SQBdependency``
    and ``SQBedjefe`` are exactly 1 where the text is "yes" and 0 where it is "no").
    Missing for a reason: ``v18q1`` (tablets) is 0 where the household has none
    (``v18q == 0``), ``v2a1`` (monthly rent) is 0 where the home is owned
    (``tipovivi1`` or ``tipovivi2``) and ``rez_esc`` (years behind in school),
    missing for everyone out of school age, is dropped. The squared columns (``SQB*``,
    ``agesq``) are dropped: they restate others.

    Parameters
    ----------
    path : str or os.PathLike
        The ``costa-rica-poverty`` folder or its ``train.csv``.

    Returns
    -------
    Dataset
        ``y`` is ``Target``: 1 extreme poverty, 2 moderate poverty, 3 vulnerable, 4 not
        vulnerable; ``groups`` is ``idhogar``.

    Raises
    ------
    FileNotFoundError
        If there is no ``train.csv`` at ``path``.
    ValueError
        If the file lacks the id, head, target or yes/no columns.

    Examples
    --------
    A two-household stand-in for ``train.csv`` (the real file has 143 columns):

    >>> import tempfile
    >>> from pathlib import Path
    >>> from needsid.data import load_costa_rica
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "train.csv").write_text(
    ...     "Id,idhogar,parentesco1,Target,dependency,edjefe,edjefa,v18q,v18q1,"
    ...     "tipovivi1,tipovivi2,v2a1,rez_esc,agesq,SQBedjefe,rooms\n"
    ...     "i1,h1,1,1,yes,no,6,0,,1,0,,,1600,0,2\n"
    ...     "i2,h1,0,1,yes,no,6,0,,1,0,,1,100,0,2\n"
    ...     "i3,h2,1,4,2,10,no,1,2,0,0,150000,,900,100,5\n"
    ... )
    >>> d = load_costa_rica(folder)
    >>> d.y.tolist(), d.groups.tolist()
    ([1, 4], ['h1', 'h2'])
    >>> d.X[["dependency", "edjefe", "v18q1", "v2a1", "rooms"]]
       dependency  edjefe  v18q1      v2a1  rooms
    0         1.0     0.0    0.0       0.0    2.0
    1         2.0    10.0    2.0  150000.0    5.0
    """
    raw = pd.read_csv(_find(path, "train.csv", "Costa Rica train.csv"))
    missing = [c for c in ("idhogar", "parentesco1", "Target", *_CR_YES_NO) if c not in raw]
    if missing:
        raise ValueError(f"Costa Rica train.csv lacks the columns {missing!r}.")
    heads = raw[raw["parentesco1"] == 1].reset_index(drop=True)
    X = heads.drop(columns=[c for c in heads if c in _CR_DROP or c.startswith("SQB")])
    for col in _CR_YES_NO:
        X[col] = pd.to_numeric(X[col].replace({"yes": "1", "no": "0"}), errors="raise")
    X["v18q1"] = X["v18q1"].where(X["v18q"] != 0, 0)
    owned = (X["tipovivi1"] == 1) | (X["tipovivi2"] == 1)
    X["v2a1"] = X["v2a1"].where(~owned, 0)
    X = X.drop(columns="rez_esc").astype(np.float64)
    return Dataset(
        name="costa_rica",
        X=X,
        y=heads["Target"].astype(np.int64).rename("Target"),
        groups=heads["idhogar"].astype(str),
        categorical=(),
        info=heads[["idhogar"]].copy(),
    )


def load_fies(path: str | os.PathLike[str], poverty_line: float = FIES_POVERTY_LINE) -> Dataset:
    """Load the Philippine FIES as a proxy-means-test problem: poverty from non-income data.

    The label is per-capita income (total household income / family members) below the
    poverty line. Features are the columns that are not money: income and expenditure
    columns (and the imputed rental value, which the FIES counts as income) are left
    out because the label is made of them. What stays: region, household head (sex,
    age, marital status, education, job, occupation, class of worker), composition,
    housing, utilities and asset counts. "Main Source of Income" (wages, enterprise,
    other) is left out too: it names an income column.

    Parameters
    ----------
    path : str or os.PathLike
        The ``philippines-fies`` folder or its ``family-income-expenditure.csv.gz``.
    poverty_line : float, default=21753
        PHP per person per year (the 2015 national threshold).

    Returns
    -------
    Dataset
        ``y`` is ``poor`` (bool); ``groups`` is the row number (one row per household);
        ``info`` holds ``income_per_capita``.

    Raises
    ------
    FileNotFoundError
        If there is no ``family-income-expenditure.csv.gz`` at ``path``.
    ValueError
        If the file lacks the income, family size or region column, or a family size is
        not positive.

    Examples
    --------
    A three-household stand-in for the survey file (the real one has 60 columns):

    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from needsid.data import load_fies
    >>> file = Path(tempfile.mkdtemp()) / "fies.csv"
    >>> pd.DataFrame(
    ...     {
    ...         "Total Household Income": [40_000, 300_000, 90_000],
    ...         "Region": ["ARMM", "NCR", "ARMM"],
    ...         "Total Food Expenditure": [30_000, 90_000, 50_000],
    ...         "Total Number of Family members": [4, 3, 3],
    ...         "Number of Television": [0, 2, 1],
    ...     }
    ... ).to_csv(file, index=False)
    >>> d = load_fies(file)
    >>> d.y.tolist(), d.categorical
    ([True, False, False], ('Region',))
    >>> list(d.X.columns)
    ['Region', 'Total Number of Family members', 'Number of Television']
    """
    raw = pd.read_csv(_find(path, "family-income-expenditure.csv.gz", "FIES file"))
    missing = [c for c in (_FIES_INCOME, _FIES_SIZE, "Region") if c not in raw]
    if missing:
        raise ValueError(f"The FIES file lacks the columns {missing!r}.")
    size = raw[_FIES_SIZE]
    if (size <= 0).any():
        rows = np.flatnonzero(size <= 0)[:5].tolist()
        raise ValueError(f"FIES column {_FIES_SIZE!r} is not positive in rows {rows}.")
    per_capita = raw[_FIES_INCOME] / size
    money = [c for c in raw if any(w in c.lower() for w in _FIES_MONEY)]
    X = raw.drop(columns=money)
    categorical = tuple(c for c in X if is_text_dtype(X[c].dtype))
    for col in categorical:
        X[col] = X[col].astype("category")
    return Dataset(
        name="fies",
        X=X,
        y=(per_capita < poverty_line).rename("poor"),
        groups=pd.Series(np.arange(len(X)).astype(str), name="row"),
        categorical=categorical,
        info=pd.DataFrame({"income_per_capita": per_capita}),
    )
