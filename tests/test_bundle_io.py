import dataclasses
import os
import re
from datetime import date
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from needsid.data import TABLES, DataValidationError, HouseholdData, _bundle, validate


def assert_bundles_equal(left: HouseholdData, right: HouseholdData) -> None:
    assert left.backend == right.backend
    for name in TABLES:
        a, b = left.tables[name], right.tables[name]
        if left.backend == "pandas":
            pd.testing.assert_frame_equal(a, b, check_exact=True)
            assert a.dtypes.to_dict() == b.dtypes.to_dict()
        else:
            assert_frame_equal(a, b, check_exact=True)


def test_tables_are_in_contract_order(tiny_bundle):
    assert repr(tiny_bundle) == (
        "HouseholdData(backend='polars', regions=2 rows, households=4 rows, members=8 rows, "
        "records=9 rows)"
    )
    assert tiny_bundle == tiny_bundle
    assert tiny_bundle != tiny_bundle.to_polars()  # identity; content: fingerprint()
    assert list(tiny_bundle.tables) == list(TABLES)
    assert tiny_bundle.backend == "polars"
    assert tiny_bundle.to_pandas().backend == "pandas"


def test_canonical_dtypes(tiny_bundle):
    pl_members = tiny_bundle.members
    assert pl_members.schema["birth_date"] == pl.Date
    assert pl_members.schema["education_years"] == pl.Int64
    pd_bundle = tiny_bundle.to_pandas()
    dtypes = pd_bundle.members.dtypes
    assert dtypes["birth_date"] == "datetime64[ns]"
    assert dtypes["minority"] == "bool"
    assert dtypes["education_years"] == "int64"
    assert dtypes["person_id"] == "object"
    assert pd_bundle.records.dtypes["amount"] == "float64"
    assert_bundles_equal(pd_bundle.to_polars(), tiny_bundle)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_round_trip_is_lossless(tiny_bundle, backend, fmt, tmp_path):
    bundle = tiny_bundle if backend == "polars" else tiny_bundle.to_pandas()
    target = bundle.write(tmp_path / "bundle", format=fmt)
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{n}.{fmt}" for n in TABLES)
    back = HouseholdData.read(target, backend=backend)
    assert_bundles_equal(back, bundle)
    assert back.fingerprint() == bundle.fingerprint()
    validate(back)


def test_csv_keeps_numeric_looking_ids_and_empty_strings(tiny_bundle, tmp_path):
    records = tiny_bundle.records.with_columns(
        record_id=pl.Series(["0001", "2", "3e5", "1.0", "5", "6", "7", "8", "9"]),
        value=pl.when(pl.col("record_id") == "R09").then(pl.lit("")).otherwise("value"),
    )
    bundle = dataclasses.replace(tiny_bundle, records=records)
    back = HouseholdData.read(bundle.write(tmp_path / "b", format="csv"))
    assert back.regions["region_id"].to_list() == ["001", "002"]
    assert back.records["record_id"].to_list()[:4] == ["0001", "2", "3e5", "1.0"]
    assert back.records["value"].to_list()[-1] == ""
    assert back.records["value"].null_count() == records["value"].null_count()
    assert back.households.schema["dissolved_on"] == pl.Date
    assert back.households["dissolved_on"].null_count() == 3
    assert_frame_equal(back.records, records)


def test_csv_with_extra_column_reads_it_as_string(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b", format="csv")
    (target / "regions.csv").write_text(
        "region_id,urban,dibao_standard,low_income_multiplier,tekun_standard,"
        "disposable_income_prev_year,note\n7,True,1.0,1.5,2,3,12\n"
    )
    regions = HouseholdData.read(target).regions
    assert regions.schema["region_id"] == pl.String
    assert regions.schema["note"] == pl.String
    assert regions.schema["tekun_standard"] == pl.Float64
    assert regions.row(0) == ("7", True, 1.0, 1.5, 2.0, 3.0, "12")


def test_csv_bad_cell_is_named(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b", format="csv")
    text = (target / "households.csv").read_text().replace("2018-06-15", "15/06/2018")
    (target / "households.csv").write_text(text)
    msg = "column 'formed_on' expects date values but has '15/06/2018' (1 bad cell(s))"
    with pytest.raises(ValueError, match=re.escape(msg)):
        HouseholdData.read(target)


def test_read_missing_table_names_table_and_folder(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b")
    (target / "members.parquet").unlink()
    msg = f"Table 'members' is missing from bundle folder {str(target)!r}"
    with pytest.raises(FileNotFoundError, match=re.escape(msg)):
        HouseholdData.read(target)


def test_read_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        HouseholdData.read(tmp_path / "nope")


def test_read_ambiguous_table(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b")
    tiny_bundle.regions.write_csv(target / "regions.csv")
    with pytest.raises(ValueError, match=re.escape("both regions.parquet and regions.csv")):
        HouseholdData.read(target)


def test_scan_gives_duckdb_relations_with_the_same_content(tiny_bundle, tmp_path):
    import duckdb

    target = tiny_bundle.write(tmp_path / "b")
    con = duckdb.connect()
    scanned = HouseholdData.scan(target, connection=con)
    assert scanned.backend == "duckdb"
    assert all(isinstance(t, duckdb.DuckDBPyRelation) for t in scanned.tables.values())
    assert scanned.fingerprint() == tiny_bundle.fingerprint()
    # without a connection it opens its own, which outlives the call
    assert HouseholdData.scan(target).to_polars().fingerprint() == tiny_bundle.fingerprint()


def test_scan_names_missing_parquet_files(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b", format="csv")
    msg = "regions.parquet, households.parquet, members.parquet, records.parquet missing"
    with pytest.raises(FileNotFoundError, match=re.escape(msg)):
        HouseholdData.scan(target)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        HouseholdData.scan(tmp_path / "nope")


def test_bad_backend_and_format(tiny_bundle, tmp_path):
    with pytest.raises(
        ValueError, match=re.escape("Got backend='arrow'; expected one of pandas, polars.")
    ):
        HouseholdData.read(tmp_path, backend="arrow")
    with pytest.raises(
        ValueError, match=re.escape("Got format='xlsx'; expected one of parquet, csv.")
    ):
        tiny_bundle.write(tmp_path / "b", format="xlsx")
    assert not (tmp_path / "b").exists()


def test_mixed_frame_kinds_are_rejected(tiny_bundle):
    with pytest.raises(TypeError, match="must all be of one kind"):
        dataclasses.replace(tiny_bundle, regions=tiny_bundle.regions.to_pandas())
    with pytest.raises(TypeError, match=re.escape("got {'records': 'dict'}")):
        dataclasses.replace(tiny_bundle, records={})


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_empty_bundle_round_trip(backend, fmt, tmp_path):
    bundle = HouseholdData.empty(backend)
    assert bundle.backend == backend
    assert validate(bundle) is bundle
    for name, spec in TABLES.items():
        assert list(bundle.tables[name].columns) == list(spec.column_names)
    back = HouseholdData.read(bundle.write(tmp_path / "b", format=fmt), backend=backend)
    assert_bundles_equal(back, bundle)


def test_csv_empty_field_in_required_column_is_null_for_validation(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b", format="csv")
    text = (target / "households.csv").read_text().replace("H2,001,", "H2,,")
    (target / "households.csv").write_text(text)
    with pytest.raises(DataValidationError, match=re.escape("households.region_id: null_value")):
        validate(HouseholdData.read(target))


def test_write_refuses_existing_without_overwrite(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b")
    with pytest.raises(FileExistsError, match=re.escape("pass overwrite=True")):
        tiny_bundle.write(target)


def test_overwrite_replaces_content(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b", format="csv")
    changed = dataclasses.replace(tiny_bundle, households=tiny_bundle.households.head(2))
    changed.write(target, format="parquet", overwrite=True)
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{n}.parquet" for n in TABLES)
    assert HouseholdData.read(target).fingerprint() == changed.fingerprint()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_overwrite_refuses_foreign_folder(tiny_bundle, tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(
        FileExistsError, match=re.escape("holds files that are not bundle tables (notes.txt)")
    ):
        tiny_bundle.write(tmp_path, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "precious"


def _fail_on_third_table(monkeypatch):
    real = _bundle._write_table
    calls = []

    def flaky(frame, path, format):
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError("disk full")
        real(frame, path, format)

    monkeypatch.setattr(_bundle, "_write_table", flaky)
    return calls


def test_failed_write_leaves_nothing(tiny_bundle, tmp_path, monkeypatch):
    calls = _fail_on_third_table(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        tiny_bundle.write(tmp_path / "b")
    assert calls == ["regions.parquet", "households.parquet", "members.parquet"]
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_old_content(tiny_bundle, tmp_path, monkeypatch):
    target = tiny_bundle.write(tmp_path / "b", format="csv")
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    _fail_on_third_table(monkeypatch)
    changed = dataclasses.replace(tiny_bundle, households=tiny_bundle.households.head(1))
    with pytest.raises(OSError, match="disk full"):
        changed.write(target, overwrite=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_failed_rename_restores_old_bundle(tiny_bundle, tmp_path, monkeypatch):
    target = tiny_bundle.write(tmp_path / "b")
    real_rename = Path.rename

    def rename(self, other):
        if Path(other) == target and self.name.startswith(".b.tmp-"):
            raise OSError("rename failed")
        return real_rename(self, other)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="rename failed"):
        tiny_bundle.write(target, overwrite=True)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["b"]
    assert HouseholdData.read(target).fingerprint() == tiny_bundle.fingerprint()


def test_fingerprint_ignores_row_order_and_backend(tiny_bundle):
    fp = tiny_bundle.fingerprint()
    assert re.fullmatch("[0-9a-f]{64}", fp)
    shuffled = HouseholdData(
        **{
            name: frame.sample(fraction=1.0, shuffle=True, seed=3)
            for name, frame in tiny_bundle.tables.items()
        }
    )
    assert shuffled.records["record_id"].to_list() != tiny_bundle.records["record_id"].to_list()
    assert shuffled.fingerprint() == fp
    assert tiny_bundle.to_pandas().fingerprint() == fp
    assert shuffled.to_pandas().fingerprint() == fp


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("records", "amount", 4200.000001),
        ("records", "value", "walk_in"),
        ("members", "minority", True),
        ("members", "left_on", date(2030, 1, 1)),
        ("regions", "region_id", "003"),
    ],
)
def test_fingerprint_changes_with_one_cell(tiny_bundle, table, column, value):
    frame = tiny_bundle.tables[table]
    changed = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(value))
        .otherwise(pl.col(column))
        .alias(column)
    )
    assert changed.row(0) != frame.row(0)
    other = dataclasses.replace(tiny_bundle, **{table: changed})
    assert other.fingerprint() != tiny_bundle.fingerprint()
    assert other.to_pandas().fingerprint() == other.fingerprint()


def test_fingerprint_sees_extra_columns(tiny_bundle):
    regions = tiny_bundle.regions.with_columns(note=pl.lit("x"))
    assert (
        dataclasses.replace(tiny_bundle, regions=regions).fingerprint()
        != tiny_bundle.fingerprint()
    )


def test_a_killed_writers_temporary_folder_is_removed_by_the_next_write(tiny_bundle, tmp_path):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    stale = tmp_path / f".bundle.tmp-{dead.pid}-abc123"
    stale.mkdir()
    (stale / "members.parquet").write_bytes(b"personal data of a killed write")
    alive = tmp_path / f".bundle.tmp-{os.getpid()}-def456"  # a writer still running
    alive.mkdir()
    other = tmp_path / ".bundle.notes"  # not a temporary folder of ours
    other.mkdir()
    tiny_bundle.write(tmp_path / "bundle")
    assert not stale.exists()
    assert alive.exists() and other.exists()
    assert (tmp_path / "bundle" / "members.parquet").is_file()
