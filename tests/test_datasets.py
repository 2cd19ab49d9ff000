"""Loaders of the real poverty datasets (read in place from ../shared/data).

The data folder is ``NEEDSID_DATA``, else ``shared/data`` beside the repository's folder.
Without the files the tests skip, except in CI (the CI variable set), where they fail.
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from needsid.data import FIES_POVERTY_LINE, load_costa_rica, load_fies

DATA = Path(
    os.environ.get("NEEDSID_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
COSTA_RICA = DATA / "costa-rica-poverty"
FIES = DATA / "philippines-fies"


def require(path: Path, what: str) -> None:
    """Skip without ``path``; fail instead in CI, where the real data must be read."""
    if path.is_file():
        return
    message = (
        f"{what} not found at {path}: set NEEDSID_DATA to the folder holding "
        "costa-rica-poverty/ and philippines-fies/ (see ../shared/data/README.md)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must test the loaders on the real data.")
    pytest.skip(message)


def test_costa_rica_heads_cleaned():
    require(COSTA_RICA / "train.csv", "Costa Rica train.csv")
    d = load_costa_rica(COSTA_RICA)
    # one row per household with a head, its Target in 1..4
    assert len(d.X) == len(d.y) == d.groups.nunique() == 2973
    assert set(d.y.unique()) == {1, 2, 3, 4}
    assert d.y.value_counts().sort_index().tolist() == [222, 442, 355, 1954]
    assert {"Id", "idhogar", "Target", "rez_esc", "SQBage"}.isdisjoint(d.X.columns)
    assert all(dtype == np.float64 for dtype in d.X.dtypes)  # "yes"/"no" became numbers
    assert set(d.X["edjefe"].unique()) <= set(range(0, 22))
    # missing for a reason is filled: no tablet -> 0 tablets, owned home -> 0 rent
    assert d.X.loc[d.X["v18q"] == 0, "v18q1"].eq(0).all()
    assert d.X.loc[d.X["tipovivi1"] == 1, "v2a1"].eq(0).all()
    assert d.X["v18q1"].notna().all()
    # the file itself works as well as its folder
    assert load_costa_rica(COSTA_RICA / "train.csv").X.shape == d.X.shape


def test_fies_label_and_no_money_columns():
    require(FIES / "family-income-expenditure.csv.gz", "FIES file")
    d = load_fies(FIES)
    assert d.X.shape == (41_544, 37)
    assert not [c for c in d.X if re.search("income|expenditure|expenses|rental", c, re.I)]
    pc = d.info["income_per_capita"]
    np.testing.assert_array_equal(d.y.to_numpy(), (pc < FIES_POVERTY_LINE).to_numpy())
    assert 0.19 < d.y.mean() < 0.21  # about 20% unweighted, as the data README says
    assert "Region" in d.categorical and d.X["Region"].nunique() == 17


def test_missing_data_folder_is_named(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f"No Costa Rica train.csv at {str(tmp_path / 'train.csv')!r}"),
    ):
        load_costa_rica(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape("No FIES file at")):
        load_fies(tmp_path / "nope.csv.gz")


@pytest.mark.parametrize("ci", [None, "true"])
def test_missing_data_skips_locally_and_fails_in_ci(tmp_path, monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
        with pytest.raises(pytest.skip.Exception, match="set NEEDSID_DATA"):
            require(tmp_path / "train.csv", "Costa Rica train.csv")
    else:
        monkeypatch.setenv("CI", ci)
        with pytest.raises(pytest.fail.Exception, match="CI must test the loaders"):
            require(tmp_path / "train.csv", "Costa Rica train.csv")
