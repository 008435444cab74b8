"""Migration directory: file naming and parsing, directives, checkpoints, rendering, atomic writes."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from atlembic.errors import AtlembicError
from atlembic.migrate import directory
from atlembic.migrate.directory import MigrationDir, MigrationFile, atomic_write, render_migration
from atlembic.migrate.sumfile import ChecksumError
from tests.support.paths import ATLAS_VECTORS

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


def _file(content: str | bytes, name: str = "1.sql") -> MigrationFile:
    data = content.encode() if isinstance(content, str) else content
    return MigrationFile(name, Path(name), data)


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "description"),
    [
        ("1.sql", "1", ""),
        ("2.10.x-20_description.sql", "2.10.x-20", "description"),
        ("1.a_sub.up.sql", "1.a", "sub.up"),
        ("20220318104614_add_users_table.sql", "20220318104614", "add_users_table"),
    ],
)
def test_version_and_description(name: str, version: str, description: str) -> None:
    assert (_file("", name).version, _file("", name).description) == (version, description)


def test_files_are_top_level_sql_in_byte_order(tmp_path: Path) -> None:
    for name in ("2_b.sql", "10_a.sql", "B.sql", "a.sql", "notes.txt", "atlas.sum"):
        (tmp_path / name).write_text("SELECT 1;\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "0_nested.sql").write_text("SELECT 1;\n")
    (tmp_path / "dir.sql").mkdir()
    files = MigrationDir(tmp_path).files()
    assert [f.name for f in files] == ["10_a.sql", "2_b.sql", "B.sql", "a.sql"]
    assert files[0].path == tmp_path / "10_a.sql" and files[0].content == b"SELECT 1;\n"


def test_missing_directory_is_empty(tmp_path: Path) -> None:
    mdir = MigrationDir(tmp_path / "nope")
    assert mdir.files() == [] and mdir.sum_text() is None
    mdir.check_sum()
    assert mdir.files_from_last_checkpoint() == []


def test_new_file_name(tmp_path: Path) -> None:
    mdir = MigrationDir(tmp_path)
    assert mdir.new_file_name("add users table", NOW) == "20240506070809_add_users_table.sql"
    assert mdir.new_file_name("  Add-users: v2!  ", NOW) == "20240506070809_Add_users_v2.sql"
    assert mdir.new_file_name("", NOW) == "20240506070809.sql"
    assert mdir.new_file_name("--", NOW) == "20240506070809.sql"
    assert mdir.new_file_name("x", NOW, version="42") == "42_x.sql"
    # Naive datetimes are UTC; aware ones are converted.
    assert mdir.new_file_name("x", NOW.replace(tzinfo=None)) == "20240506070809_x.sql"
    cest = timezone(timedelta(hours=2))
    assert mdir.new_file_name("x", NOW.astimezone(cest)) == "20240506070809_x.sql"
    assert len(mdir.new_file_name("x").split("_")[0]) == 14


def test_new_file_name_always_sorts_last(tmp_path: Path) -> None:
    mdir = MigrationDir(tmp_path)
    (tmp_path / "20240506070809_first.sql").write_text("SELECT 1;\n")
    assert mdir.new_file_name("second", NOW) == "20240506070810_second.sql"
    assert mdir.new_file_name("second", NOW - timedelta(days=1)) == "20240506070810_second.sql"
    assert mdir.new_file_name("second", NOW + timedelta(seconds=5)) == "20240506070814_second.sql"
    (tmp_path / "3_odd.sql").write_text("SELECT 1;\n")  # "3" sorts after any timestamp
    with pytest.raises(AtlembicError, match="'3'"):
        mdir.new_file_name("third", NOW)


# -- directives and checkpoints ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "directives"),
    [
        ("-- atlas:txmode none\n\nCREATE TABLE t (a int);\n", [("txmode", "none")]),
        ("-- atlas:lint ignore\n-- atlas:txmode none\n\nSELECT 1;", [("lint", "ignore"), ("txmode", "none")]),
        ("# atlas:nolint\n\nSELECT 1;\n", [("nolint", "")]),
        ("-- atlas:import a\n-- atlas:import b\n-- plain comment\n\n", [("import", "a"), ("import", "b")]),
        ("-- atlas:checkpoint v1.2\n\nSELECT 1;\n", [("checkpoint", "v1.2")]),
        # Without the blank line the comments belong to the first statement.
        ("-- atlas:lint ignore\nALTER TABLE t DROP COLUMN a;\n", []),
        ("-- atlas:lint ignore", []),
        ("-- atlas:lint ignore\n", []),
        ("-- atlas:lint ignore\n\n", [("lint", "ignore")]),
        ("-- atlas:lint ignore\n  \nSELECT 1;\n", []),  # the separator must be a truly empty line
        ("", []),
        ("SELECT 1;\n\n-- atlas:lint ignore\n\n", []),
    ],
)
def test_file_directives(content: str, directives: list[tuple[str, str]]) -> None:
    assert _file(content).directives == directives


def test_file_versus_statement_directives() -> None:
    f = _file("-- atlas:txmode none\n\n-- atlas:nolint destructive\nDROP TABLE t;\n")
    assert f.directives == [("txmode", "none")]
    (stmt,) = f.statements("postgresql")
    assert stmt.text == "DROP TABLE t;"
    assert stmt.directive("nolint") == ["destructive"] and stmt.directive("txmode") == []

    f = _file("-- atlas:nolint destructive\nDROP TABLE t;\n")
    assert f.directives == []
    assert f.statements("sqlite")[0].directive("nolint") == ["destructive"]


@pytest.mark.parametrize(
    ("content", "checkpoint"),
    [
        ("-- atlas:checkpoint\n\nSELECT 1;", True),
        ("-- atlas:checkpoint tag\n\nSELECT 1;", True),
        ("SELECT 1;", False),
        ("-- atlas:checkpoint\nSELECT 1;", False),
        ("-- atlas:checkpoint tag\nSELECT 1;", False),
    ],
)
def test_is_checkpoint(content: str, checkpoint: bool) -> None:
    assert _file(content).is_checkpoint is checkpoint


def test_files_from_last_checkpoint(tmp_path: Path) -> None:
    vector = MigrationDir(ATLAS_VECTORS / "sql" / "migrate" / "testdata" / "partial-checkpoint")
    assert [f.name for f in vector.files_from_last_checkpoint()] == ["5_checkpoint.sql", "6_sixth.sql"]
    (tmp_path / "1_a.sql").write_text("SELECT 1;\n")
    (tmp_path / "2_b.sql").write_text("SELECT 2;\n")
    assert [f.name for f in MigrationDir(tmp_path).files_from_last_checkpoint()] == ["1_a.sql", "2_b.sql"]


def test_sum_ignored_and_text() -> None:
    assert _file("-- atlas:sum ignore\nSELECT 1;\n").sum_ignored
    assert not _file("SELECT 1;\n").sum_ignored
    with pytest.raises(AtlembicError, match="not valid UTF-8"):
        _ = _file(b"SELECT '\xff';\n").text


# -- rendering ---------------------------------------------------------------------------------


def test_render_migration() -> None:
    changes = [("create \"users\" table", 'CREATE TABLE "users" ("id" integer NOT NULL)'), ("", "SELECT 1;")]
    assert render_migration(changes) == (
        '-- Create "users" table\nCREATE TABLE "users" ("id" integer NOT NULL);\nSELECT 1;\n'
    )
    changes = [("add index", "CREATE INDEX i ON t (a);  \n")]
    assert render_migration(changes, ["txmode none", "atlas:nolint"]) == (
        "-- atlas:txmode none\n-- atlas:nolint\n\n-- Add index\nCREATE INDEX i ON t (a);\n"
    )
    assert render_migration([]) == ""


# -- writing -----------------------------------------------------------------------------------


def test_write_migration_and_sum(tmp_path: Path) -> None:
    mdir = MigrationDir(tmp_path / "migrations")
    first = mdir.write_text("20240101000000_a.sql", "CREATE TABLE a (x int);\n")
    assert first.read_text() == "CREATE TABLE a (x int);\n"
    mdir.check_sum()
    mdir.write_text("20240102000000_b.sql", "CREATE TABLE b (x int);\n")
    mdir.check_sum()
    assert mdir.sum_text() == mdir.compute_sum().to_text()
    assert [name for name, _ in mdir.compute_sum().rows] == ["20240101000000_a.sql", "20240102000000_b.sql"]
    names = sorted(p.name for p in mdir.path.iterdir())
    assert names == ["20240101000000_a.sql", "20240102000000_b.sql", "atlas.sum"]

    first.write_text("CREATE TABLE a (x bigint);\n")
    with pytest.raises(ChecksumError, match="L2: 20240101000000_a.sql was edited"):
        mdir.check_sum()
    mdir.write_sum()
    mdir.check_sum()

    with pytest.raises(AtlembicError, match="already exists"):
        mdir.write_text("20240101000000_a.sql", "SELECT 1;\n")
    for bad in ("x.txt", "../x.sql", "sub/x.sql"):
        with pytest.raises(AtlembicError, match="invalid migration file name"):
            mdir.write_text(bad, "SELECT 1;\n")


@pytest.mark.parametrize("folder", ["migrate", "migrate/sub", "partial-checkpoint"])
def test_directory_sum_matches_atlas(folder: str) -> None:
    mdir = MigrationDir(ATLAS_VECTORS / "sql" / "migrate" / "testdata" / folder)
    assert mdir.compute_sum().to_text() == mdir.sum_text()
    mdir.check_sum()


def test_check_sum_without_sum_file(tmp_path: Path) -> None:
    (tmp_path / "1.sql").write_text("SELECT 1;\n")
    with pytest.raises(ChecksumError, match="checksum file not found"):
        MigrationDir(tmp_path).check_sum()


def test_failed_sum_write_leaves_no_migration_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mdir = MigrationDir(tmp_path)
    mdir.write_text("1_a.sql", "SELECT 1;\n")
    old_sum = mdir.sum_path.read_bytes()
    real_replace = os.replace

    def failing_replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        if Path(dst).name == "atlas.sum":
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(directory.os, "replace", failing_replace)
    with pytest.raises(AtlembicError, match="atlas.sum: disk full; nothing was written"):
        mdir.write_text("2_b.sql", "SELECT 2;\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1_a.sql", "atlas.sum"]  # no .sql, no temp files
    assert mdir.sum_path.read_bytes() == old_sum
    mdir.check_sum()


def test_sum_path_being_a_directory_aborts_the_write(tmp_path: Path) -> None:
    (tmp_path / "atlas.sum").mkdir()
    with pytest.raises(AtlembicError, match="Is a directory; nothing was written"):
        MigrationDir(tmp_path).write_text("1_a.sql", "SELECT 1;\n")
    assert [p.name for p in tmp_path.iterdir()] == ["atlas.sum"]


def test_atomic_write(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    with pytest.raises(AtlembicError, match="No such file or directory; nothing was written"):
        atomic_write(tmp_path / "missing" / "f.txt", b"x")
