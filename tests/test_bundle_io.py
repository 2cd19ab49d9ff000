import dataclasses
import os
import re
from datetime import date
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from needsid._compat import PANDAS_STRING_DTYPE
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
    assert dtypes["person_id"] == PANDAS_STRING_DTYPE  # object, or str in pandas 3
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
    msg = (
        "households.formed_on: unparsable_value (1 row, e.g. H2) [households.csv: '15/06/2018' "
        "is not a YYYY-MM-DD date; use YYYY-MM-DD, e.g. 2018-06-15 for '15/06/2018']"
    )
    with pytest.raises(DataValidationError, match=re.escape(msg)):
        HouseholdData.read(target)


def test_read_lists_every_missing_table(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b")
    (target / "members.parquet").unlink()
    (target / "records.parquet").unlink()
    with pytest.raises(DataValidationError) as info:
        HouseholdData.read(target)
    assert str(info.value).startswith(
        f"HouseholdData folder {str(target)!r} failed validation with 2 failures:\n"
    )
    assert info.value.report[["table", "rule", "note"]].to_dict("records") == [
        {"table": t, "rule": "missing_table", "note": f"expected {t}.csv or {t}.parquet; the "
         "folder holds households.parquet, regions.parquet"}
        for t in ("members", "records")
    ]  # fmt: skip
    assert info.value.reference_date is None


def test_read_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        HouseholdData.read(tmp_path / "nope")


def test_read_ambiguous_table(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b")
    tiny_bundle.regions.write_csv(target / "regions.csv")
    msg = "regions: ambiguous_table [both regions.parquet and regions.csv exist; remove one]"
    with pytest.raises(DataValidationError, match=re.escape(msg)):
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


# --- a county brings its own CSV extract: every problem in one report ----------------------


def _edit_csv(path: Path, edit, separator: str = ",") -> None:
    """Rewrite a CSV file through ``edit`` (all columns as strings)."""
    edit(pl.read_csv(path, infer_schema=False)).write_csv(path, separator=separator)


def _set(column: str, rows: list[int], value: str):
    """An edit setting ``column`` to ``value`` in the 0-based data ``rows``."""
    at = pl.int_range(pl.len()).is_in(rows)
    return lambda f: f.with_columns(
        pl.when(at).then(pl.lit(value)).otherwise(column).alias(column)
    )


@pytest.fixture(scope="module")
def county_bundle():
    import needsid as ni

    return ni.simulate(n_households=30, months=12, seed=1).bundle


@pytest.fixture
def county(county_bundle, tmp_path):
    """The simulated bundle as a county's CSV extract, with the usual spreadsheet damage.

    - regions.csv: booleans as yes/no (accepted), and one 'maybe' (row G03);
    - households.csv: a day-first date '15/01/2023' (H0000002);
    - members.csv: saved with ';' and a sex 'X' (a contract problem, P00000004);
    - records.csv: saved as Records.csv, with two amounts '1,978.74' (R000000006-7) and
      three 'hospitalisation' records of source health (R000000001-3).
    """
    folder = county_bundle.write(tmp_path / "county", format="csv")
    yes_no = pl.col("urban").replace({"true": "yes", "false": "no"})
    _edit_csv(
        folder / "regions.csv", lambda f: _set("urban", [2], "maybe")(f.with_columns(yes_no))
    )
    _edit_csv(folder / "households.csv", _set("formed_on", [1], "15/01/2023"))
    _edit_csv(folder / "members.csv", _set("sex", [3], "X"), separator=";")

    def records(f):
        f = _set("amount", [5, 6], "1,978.74")(f)
        return _set("kind", [0, 1, 2], "hospitalisation")(_set("source", [0, 1, 2], "health")(f))

    _edit_csv(folder / "records.csv", records)
    (folder / "records.csv").rename(folder / "Records.csv")
    return folder


READ_PROBLEMS = [
    ("regions", "urban", "unparsable_value", 1, ["G03"],
     "regions.csv: 'maybe' is not true/false; use true/false (1/0, yes/no, y/n and t/f are "
     "read too)"),
    ("households", "formed_on", "unparsable_value", 1, ["H0000002"],
     "households.csv: '15/01/2023' is not a YYYY-MM-DD date; use YYYY-MM-DD, e.g. 2023-01-15 "
     "for '15/01/2023'"),
    ("members", "", "wrong_delimiter", 1, [],
     "members.csv uses ';' as delimiter: save it with ','"),
    ("records", "", "missing_table", 1, [], "found Records.csv: rename it to records.csv"),
    ("records", "amount", "unparsable_value", 2, ["R000000006", "R000000007"],
     "Records.csv: '1,978.74' is not a number; remove the thousands separator, e.g. 1978.74 "
     "for '1,978.74'"),
]  # fmt: skip


def _rows(err: DataValidationError) -> list[tuple]:
    return [tuple(r) for r in err.report.itertuples(index=False)]


def test_read_reports_every_file_and_cell_problem_at_once(county):
    with pytest.raises(DataValidationError) as info:
        HouseholdData.read(county)
    assert _rows(info.value) == READ_PROBLEMS
    message = str(info.value)
    assert message.startswith(f"HouseholdData folder {str(county)!r} failed validation with 5")
    assert "Traceback" not in message


def test_validate_folder_adds_the_contract_problems(county):
    from needsid.data import validate_folder

    with pytest.raises(DataValidationError) as info:
        validate_folder(county, reference_date="2025-01-01")
    contract = [
        ("members", "sex", "unknown_category", 1, ["P00000004@2013-09-06"],
         "'X' not in ['F', 'M']"),
        ("records", "source, kind", "unknown_kind", 3, ["R000000001", "R000000002", "R000000003"],
         "'hospitalisation' is not a health kind (hospitalization, chronic_illness); did you "
         "mean 'hospitalization'?"),
    ]  # fmt: skip
    assert _rows(info.value) == sorted(
        READ_PROBLEMS + contract, key=lambda r: (list(TABLES).index(r[0]), r[0] == "records")
    )
    assert str(info.value).startswith(
        f"HouseholdData folder {str(county)!r} failed validation with 7 failures (reference "
        "date 2025-01-01):\n"
    )
    assert info.value.reference_date == date(2025, 1, 1) and not info.value.today


def test_unparsable_columns_and_unreadable_tables_are_not_reported_twice(county):
    from needsid.data import validate_folder

    (county / "Records.csv").unlink()  # no records: nothing else about records is reported
    with pytest.raises(DataValidationError) as info:
        validate_folder(county)
    report = info.value.report
    assert report.loc[report["table"] == "records", "rule"].tolist() == ["missing_table"]
    # the bad formed_on cell is not also a null_value
    assert report.loc[report["column"] == "formed_on", "rule"].tolist() == ["unparsable_value"]
    assert info.value.today and info.value.reference_date == date.today()
    assert f"(reference date {date.today().isoformat()}, today's date):\n" in str(info.value)


def test_cli_validate_prints_every_problem_and_exits_1_without_traceback(county):
    from typer.testing import CliRunner

    from needsid.cli import app

    result = CliRunner().invoke(app, ["validate", str(county)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = re.sub(r"\s+", " ", result.output)
    assert "Traceback" not in text
    assert f"7 problems in {county} (reference date {date.today().isoformat()}" in text
    for table, column, rule, _, _, note in READ_PROBLEMS:
        assert (f"{table}.{column}: {rule}" if column else f"{table}: {rule}") in text
        assert note in text
    assert "members.sex: unknown_category (1 row, e.g. P00000004@2013-09-06)" in text
    assert "did you mean 'hospitalization'?" in text


def test_cli_validate_good_folder_and_missing_folder(county_bundle, tmp_path):
    from typer.testing import CliRunner

    from needsid.cli import app

    good = county_bundle.write(tmp_path / "good", format="csv")
    result = CliRunner().invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert f"{good}: valid (reference date {date.today().isoformat()}, today's date)" in (
        re.sub(r"\s+", " ", result.output)
    )
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "does not exist or is not a folder" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_good_simulated_folder_reads_exactly_as_written(county_bundle, fmt, tmp_path):
    back = HouseholdData.read(county_bundle.write(tmp_path / "b", format=fmt))
    assert back.fingerprint() == county_bundle.fingerprint()
    for name, frame in county_bundle.tables.items():
        if fmt == "csv":  # CSV has no categorical type: text comes back as String
            frame = frame.with_columns(pl.col(pl.Categorical).cast(pl.String))
        assert_frame_equal(back.tables[name], frame)


def test_boolean_spellings_are_read(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b", format="csv")
    text = (target / "members.csv").read_text()
    words = iter(["YES", "n", "1", "F", "t", "No", "y", "0"])
    lines = text.splitlines()
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        row[5] = next(words)
    (target / "members.csv").write_text("\n".join([lines[0], *map(",".join, rows)]) + "\n")
    members = HouseholdData.read(target).members
    assert members["minority"].to_list() == [True, False, True, False, True, False, True, False]


@pytest.mark.parametrize(
    ("column", "value", "note"),
    [
        ("amount", "1.978,74", "'1.978,74' is not a number; remove the thousands separator "
         "and use '.' as decimal mark, e.g. 1978.74"),
        ("amount", "12,5", "'12,5' is not a number; use '.' as decimal mark, e.g. 12.5 for "
         "'12,5'"),
        ("amount", "¥1978", "'¥1978' is not a number; write the number alone, without currency "
         "sign, unit or spaces: 1978"),
        ("amount", "lots", "'lots' is not a number; write a plain number such as 1978.74"),
        ("event_date", "01/02/2023", "use YYYY-MM-DD: '01/02/2023' is 2023-02-01 if the day comes "
         "first, 2023-01-02 if the month does"),
        ("event_date", "2023-01-15 10:30:00", "drop the time of day, e.g. 2023-01-15 for "
         "'2023-01-15 10:30:00'"),
        ("event_date", "20230115", "use YYYY-MM-DD, e.g. 2023-01-15 for '20230115'"),
        ("event_date", "2023年1月15日", "use YYYY-MM-DD, e.g. 2023-01-15 for '2023年1月15日'"),
        ("event_date", "44941", "'44941' looks like a spreadsheet serial date (2023-01-15): "
         "format the column as YYYY-MM-DD before saving"),
        ("event_date", "2023-02-30", "there is no such day as '2023-02-30'"),
    ],
)  # fmt: skip
def test_bad_cells_name_the_value_and_the_fix(tiny_bundle, tmp_path, column, value, note):
    target = tiny_bundle.write(tmp_path / "b", format="csv")
    _edit_csv(target / "records.csv", _set(column, [0], value))
    with pytest.raises(DataValidationError) as info:
        HouseholdData.read(target)
    if column == "event_date":
        note = f"{value!r} is not a YYYY-MM-DD date; {note}"
    assert _rows(info.value) == [
        ("records", column, "unparsable_value", 1, ["R01"], f"records.csv: {note}")
    ]


def test_int_column_names_values_and_uses_line_numbers_without_a_key(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b", format="csv")
    _edit_csv(target / "members.csv", lambda f: _set("education_years", [1, 4], "9.0")(
        _set("education_years", [6], "nine")(f.drop("person_id"))
    ))  # fmt: skip
    with pytest.raises(DataValidationError) as info:
        HouseholdData.read(target)
    assert _rows(info.value) == [
        ("members", "education_years", "unparsable_value", 3, ["line 3", "line 6", "line 8"],
         "members.csv: '9.0', 'nine' are not whole numbers; write whole numbers without "
         "decimals, e.g. 9 for '9.0'; write a plain whole number such as 9"),
    ]  # fmt: skip


def test_unreadable_files_are_named_with_the_fix(tiny_bundle, tmp_path):
    target = tiny_bundle.write(tmp_path / "b", format="csv")
    (target / "regions.csv").write_text("")
    (target / "households.csv").write_bytes("household_id,region_id\nH1,南\n".encode("gbk"))
    (target / "members.csv").write_text("person_id,household_id\nP1,H1\nP2,H1,extra\n")
    (target / "records.csv").rename(target / "records.xlsx")
    with pytest.raises(DataValidationError) as info:
        HouseholdData.read(target)
    columns = ",".join(TABLES["regions"].column_names)
    assert [(r[0], r[2], r[5]) for r in _rows(info.value)] == [
        ("regions", "unreadable_file",
         f"regions.csv is empty: write at least the header row ({columns})"),
        ("households", "unreadable_file",
         "households.csv is not UTF-8 text (a spreadsheet's plain 'CSV' may be GBK or "
         "Latin-1): save it as 'CSV UTF-8'"),
        ("members", "unreadable_file",
         "members.csv: line 3 has 3 fields, the header 2; quote values that contain ',' "
         '("a, b")'),
        ("records", "missing_table",
         "found records.xlsx: save it as records.csv (comma-separated, UTF-8)"),
    ]  # fmt: skip
