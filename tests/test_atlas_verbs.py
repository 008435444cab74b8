"""Atlas's `migrate` verbs beyond diff/apply/status/lint: `new`, `set`, `down`, and `apply --dry-run`,
`--baseline`, `--allow-dirty`, `--tx-mode`, with the output and failures Atlas's own CLI tests show
(ariga/atlas cmd/atlas/internal/cmdapi/migrate_test.go, internal/integration/testdata/sqlite/cli-migrate-set.txtar
and cli-migrate-apply.txtar), on SQLite and on the PostgreSQL and MariaDB servers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.migrate.directory import MigrationDir
from tests.support.cli import run_cli
from tests.support.pg_fixture import fresh_database_url

FILES = {
    "1_first.sql": "CREATE TABLE users (id INTEGER NOT NULL, age INTEGER NOT NULL, name VARCHAR(255) NOT NULL, "
                   "PRIMARY KEY (id));\n",
    "2_second.sql": "CREATE UNIQUE INDEX uq_age ON users (age);\n",
    "3_third.sql": "CREATE TABLE pets (id INTEGER NOT NULL, name VARCHAR(255) NOT NULL, PRIMARY KEY (id));\n",
}


def _dir(root: Path, files: dict[str, str] = FILES, *, hashed: bool = True) -> str:
    directory = root / "migrations"
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    if hashed:
        MigrationDir(directory).write_sum()
    return f"file://{directory}"


def _atlas(root: Path, *args: str, check: bool = True) -> tuple[int, str]:
    proc = run_cli(root, "migrate", *args, check=check)
    return proc.returncode, proc.stdout


def _versions(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            schema = "atlas_schema_revisions" if engine.dialect.name == "postgresql" else None
            if not sa.inspect(conn).has_table("atlas_schema_revisions", schema=schema):
                return []
            table = sa.Table("atlas_schema_revisions", sa.MetaData(), autoload_with=conn, schema=schema)
            return [r[0] for r in conn.execute(sa.select(table.c.version).order_by(table.c.version))]
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"atlas_schema_revisions"}
    finally:
        engine.dispose()


def migrate_set_scenario(root: Path, url: str) -> None:
    """cli-migrate-set.txtar, step by step."""
    directory = _dir(root, hashed=False)
    code, out = _atlas(root, "set", "0", "--url", url, "--dir", directory, check=False)
    assert code != 0 and "checksum file not found" in out
    _atlas(root, "hash", "--dir", directory)
    code, out = _atlas(root, "set", "--url", url, "--dir", directory, check=False)
    assert code != 0 and out == "FAILED: accepts 1 arg(s), received 0\n"
    code, out = _atlas(root, "set", "--url", url, "--dir", directory, "foo", "bar", check=False)
    assert code != 0 and out == "FAILED: accepts 1 arg(s), received 2\n"
    # A fresh database: recorded, nothing run.
    assert _atlas(root, "set", "1", "--url", url, "--dir", directory)[1] == (
        "Current version is 1 (1 set):\n\n  + 1 (first)\n\n")
    assert _tables(url) == set()
    assert "Migrating to version 2 from 1" in _atlas(root, "apply", "1", "--url", url, "--dir", directory,
                                                     "--dry-run")[1]
    _atlas(root, "set", "2", "--url", url, "--dir", directory)
    assert "Migrating to version 3 from 2" in _atlas(root, "apply", "1", "--url", url, "--dir", directory,
                                                     "--dry-run")[1]
    code, out = _atlas(root, "set", "4", "--url", url, "--dir", directory, check=False)
    assert code != 0 and out == 'FAILED: migration with version "4" not found\n'
    _atlas(root, "set", "3", "--url", url, "--dir", directory)
    assert _atlas(root, "apply", "--url", url, "--dir", directory)[1] == "No migration files to execute\n"
    assert _tables(url) == set() and _versions(url) == ["1", "2", "3"]
    # Back to 1: the later rows go, as TestMigrate_Set shows them.
    assert _atlas(root, "set", "1", "--url", url, "--dir", directory)[1] == (
        "Current version is 1 (2 removed):\n\n  - 2 (second)\n  - 3 (third)\n\n")
    # Without a version on a database with revisions: the last file's.
    assert _atlas(root, "set", "--url", url, "--dir", directory)[1] == (
        "Current version is 3 (2 set):\n\n  + 2 (second)\n  + 3 (third)\n\n")
    # Setting what is already recorded changes and prints nothing.
    assert _atlas(root, "set", "3", "--url", url, "--dir", directory)[1] == ""
    # An empty directory purges the revisions.
    empty = root / "empty"
    empty.mkdir()
    MigrationDir(empty).write_sum()
    assert _atlas(root, "set", "--url", url, "--dir", f"file://{empty}")[1] == (
        "All revisions deleted (3 in total):\n\n  - 1 (first)\n  - 2 (second)\n  - 3 (third)\n\n")
    assert _versions(url) == []


def test_migrate_set_sqlite(tmp_path: Path) -> None:
    migrate_set_scenario(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.slow
def test_migrate_set_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    migrate_set_scenario(tmp_path, fresh_database_url(pg_server))


@pytest.mark.slow
def test_migrate_set_mariadb(tmp_path: Path, mysql_server) -> None:  # noqa: ANN001
    migrate_set_scenario(tmp_path, fresh_database_url(mysql_server))


def test_migrate_new(tmp_path: Path) -> None:
    """TestMigrate_New: `<version>.sql`, then `<version>_NAME.sql` with the name as given, atlas.sum each time,
    nothing printed."""
    directory = tmp_path / "migrations"
    before = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
    assert _atlas(tmp_path, "new", "--dir", f"file://{directory}")[1] == ""
    assert _atlas(tmp_path, "new", "my-migration-file", "--dir", f"file://{directory}")[1] == ""
    names = sorted(p.name for p in directory.iterdir())
    assert len(names) == 3 and names[-1] == "atlas.sum"
    assert re.fullmatch(r"\d{14}\.sql", names[0]) and names[0][:14] >= before
    assert re.fullmatch(r"\d{14}_my-migration-file\.sql", names[1]) and names[1] > names[0]
    assert (directory / names[0]).read_bytes() == b"" and (directory / names[1]).read_bytes() == b""
    MigrationDir(directory).check_sum()
    code, out = _atlas(tmp_path, "new", "a/b", "--dir", f"file://{directory}", check=False)
    assert code != 0 and out.startswith("FAILED: invalid migration name 'a/b'")
    assert len(list(directory.iterdir())) == 3
    # A directory whose atlas.sum does not match is refused, as Atlas refuses it.
    (directory / names[0]).write_text("SELECT 1;\n")
    code, out = _atlas(tmp_path, "new", "x", "--dir", f"file://{directory}", check=False)
    assert code != 0 and "atlas.sum" in out and len(list(directory.iterdir())) == 3


def test_apply_dry_run_and_amounts(tmp_path: Path) -> None:
    """TestMigrate_Apply: an empty directory, amounts below 1, --dry-run runs and records nothing,
    --tx-mode names only file, all and none."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _atlas(tmp_path, "apply", "--dir", f"file://{empty}", "--url", url)[1] == "No migration files to execute\n"
    directory = _dir(tmp_path)
    for amount in ("0", "-1"):
        code, out = _atlas(tmp_path, "apply", "--dir", directory, "--url", url, "--", amount, check=False)
        assert code != 0 and out == f"FAILED: cannot apply '{amount}' migration files\n"
    code, out = _atlas(tmp_path, "apply", "--dir", directory, "--url", url, "--tx-mode", "invalid", check=False)
    assert code != 0 and out == 'FAILED: unknown tx-mode "invalid"\n'
    out = _atlas(tmp_path, "apply", "1", "--dir", directory, "--url", url, "--dry-run")[1]
    assert out.startswith("Migrating to version 1 (1 migration in total):\n")
    assert "-> CREATE TABLE users (" in out and "uq_age" not in out
    assert "-- 1 migration\n" in out and "-- 1 sql statement\n" in out
    assert _tables(url) == set() and _versions(url) == []
    out = _atlas(tmp_path, "apply", "--dir", directory, "--url", url, "--dry-run")[1]
    assert "Migrating to version 3 (3 migrations in total)" in out and "-- 3 sql statements" in out
    assert _tables(url) == set() and _versions(url) == []
    out = _atlas(tmp_path, "apply", "--dir", directory, "--url", url, "--tx-mode", "all")[1]
    assert "Migrating to version 3 (3 migrations in total)" in out
    assert _tables(url) == {"users", "pets"} and _versions(url) == ["1", "2", "3"]
    assert _atlas(tmp_path, "apply", "--dir", directory, "--url", url, "--dry-run")[1] == (
        "No migration files to execute\n")


def test_apply_baseline_and_allow_dirty(tmp_path: Path) -> None:
    """TestMigrate_ApplyBaseline: --baseline records the baseline file without running it and runs the rest;
    a database with tables and no revisions needs --baseline or --allow-dirty."""
    files = {"1_baseline.sql": "CREATE TABLE baseline (c INTEGER NOT NULL);\n",
             "20220318104614_initial.sql": "CREATE TABLE tbl (col INTEGER NOT NULL);\n",
             "20220318104615_second.sql": "ALTER TABLE tbl ADD COLUMN col_2 BIGINT;\n"}
    directory = _dir(tmp_path, files)
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    out = _atlas(tmp_path, "apply", "--dir", directory, "--url", url, "--baseline", "1")[1]
    assert "Migrating to version 20220318104615 from 1 (2 migrations in total)" in out
    assert _tables(url) == {"tbl"} and _versions(url) == ["1", "20220318104614", "20220318104615"]
    assert "Migrating to version 20220318104615 (3 migrations in total)" in _atlas(
        tmp_path, "apply", "--dir", directory, "--url", f"sqlite:///{tmp_path / 'all.sqlite'}")[1]
    dirty = f"sqlite:///{tmp_path / 'dirty.sqlite'}"
    engine = sa.create_engine(dirty)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE legacy (id INTEGER)")
    engine.dispose()
    code, out = _atlas(tmp_path, "apply", "--dir", directory, "--url", dirty, check=False)
    assert code != 0 and 'found table "legacy"' in out and "--allow-dirty" in out and _versions(dirty) == []
    code, out = _atlas(tmp_path, "apply", "--dir", directory, "--url", dirty, "--baseline", "1", "--allow-dirty",
                       check=False)
    assert code != 0 and "mutually exclusive" in out
    assert "(3 migrations in total)" in _atlas(tmp_path, "apply", "--dir", directory, "--url", dirty,
                                                "--allow-dirty")[1]
    assert _tables(dirty) == {"legacy", "baseline", "tbl"}


def migrate_down_scenario(root: Path, url: str) -> None:
    files = {"20200101000001_users.sql": "CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, "
                                         "PRIMARY KEY (id));\n",
             "20200101000002_age.sql": "ALTER TABLE users ADD COLUMN age INTEGER;\n",
             "20200101000003_pets.sql": "CREATE TABLE pets (id INTEGER NOT NULL, PRIMARY KEY (id));\n"}
    directory = _dir(root, files)
    assert _atlas(root, "down", "--url", url, "--dir", directory)[1] == "No migration files to revert\n"
    _atlas(root, "apply", "--dir", directory, "--url", url)
    code, out = _atlas(root, "down", "5", "--url", url, "--dir", directory, check=False)
    assert code != 0 and out == "FAILED: cannot revert 5 migration files: only 3 applied\n"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (id, name, age) VALUES (1, 'ada', 36)")
    engine.dispose()
    # --dry-run: the plan, nothing changed.
    out = _atlas(root, "down", "--url", url, "--dir", directory, "--dry-run")[1]
    assert out.startswith("Migrating down from version 20200101000003 to 20200101000002 "
                          "(1 migration in total, dry run):\n")
    assert "  -- reverting version 20200101000003\n" in out and "DROP TABLE pets" in out
    assert _tables(url) == {"users", "pets"} and len(_versions(url)) == 3
    # Losing data is refused (a column with a value), nothing changes; --allow-destructive goes ahead.
    code, out = _atlas(root, "down", "--url", url, "--dir", directory, "--to-version", "20200101000001",
                       check=False)
    assert code != 0 and out.startswith("FAILED: downgrade to 20200101000001 would lose data:") and '"age"' in out
    assert _tables(url) == {"users", "pets"} and len(_versions(url)) == 3
    out = _atlas(root, "down", "--url", url, "--dir", directory, "--allow-destructive")[1]
    assert "(1 migration in total):" in out and "-- 1 migration\n" in out
    assert _tables(url) == {"users"} and _versions(url) == ["20200101000001", "20200101000002"]
    out = _atlas(root, "down", "1", "--url", url, "--dir", directory, "--allow-destructive")[1]
    assert "reverting version 20200101000002" in out
    engine = sa.create_engine(url)
    try:
        assert [c["name"] for c in sa.inspect(engine).get_columns("users")] == ["id", "name"]
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT id, name FROM users").all() == [(1, "ada")]
    finally:
        engine.dispose()
    assert _versions(url) == ["20200101000001"]
    # --to / --to-version at the current version: nothing to revert; bad combinations are one line.
    assert _atlas(root, "down", "--url", url, "--dir", directory, "--to", "20200101000001")[1] == (
        "No migration files to revert\n")
    code, out = _atlas(root, "down", "2", "--to-version", "20200101000001", "--url", url, "--dir", directory,
                       check=False)
    assert code != 0 and out == "FAILED: --to-version and an amount cannot be combined\n"
    # The directory applies again on top.
    assert "(2 migrations in total)" in _atlas(root, "apply", "--dir", directory, "--url", url)[1]


def test_migrate_down_sqlite(tmp_path: Path) -> None:
    migrate_down_scenario(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.slow
def test_migrate_down_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    migrate_down_scenario(tmp_path, fresh_database_url(pg_server))


@pytest.mark.slow
def test_migrate_down_mariadb(tmp_path: Path, mysql_server) -> None:  # noqa: ANN001
    migrate_down_scenario(tmp_path, fresh_database_url(mysql_server))


@pytest.mark.parametrize(("mode", "left"), [("all", set()), ("file", {"users", "pets"}),
                                            ("none", {"users", "pets", "broken"})])
def test_apply_tx_modes_on_a_failing_file(tmp_path: Path, mode: str, left: set[str]) -> None:
    """cli-migrate-apply.txtar: a failing third file under each --tx-mode; the log streams up to the failing
    statement (Atlas prints it before the error), then one FAILED line."""
    files = {"1_first.sql": "CREATE TABLE users (id INTEGER NOT NULL, PRIMARY KEY (id));\n",
             "2_second.sql": "CREATE TABLE pets (id INTEGER NOT NULL, PRIMARY KEY (id));\n",
             "3_third.sql": "CREATE TABLE broken (id INTEGER);\nTHIS IS A FAILING STATEMENT;\n"}
    directory = _dir(tmp_path, files)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    code, out = _atlas(tmp_path, "apply", "--dir", directory, "--url", url, "--tx-mode", mode, check=False)
    assert code == 1  # Atlas exits 1 on an error, not Alembic's 255
    assert out.startswith("Migrating to version 3 (3 migrations in total):\n\n  -- migrating version 1\n")
    assert "    -> THIS IS A FAILING STATEMENT;\n    Error: " in out
    assert out.splitlines()[-1].startswith('FAILED: 3_third.sql:2: executing statement "THIS IS A FAILING STATEMENT;"')
    assert _tables(url) == left
    assert _versions(url) == ([] if mode == "all" else ["1", "2", "3"])


def test_exit_codes_follow_atlas_for_its_verbs_and_alembic_for_the_rest(tmp_path: Path) -> None:
    """Atlas's main exits 1 on any error a command returns; Alembic's util.err exits 255. Pending files are no
    error for `migrate status` (Atlas prints them and exits 0), nor a difference for `schema diff`."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    directory = _dir(tmp_path)
    assert _atlas(tmp_path, "apply", "--dir", directory, "--url", url, "--tx-mode", "bad", check=False)[0] == 1
    assert run_cli(tmp_path, "schema", "diff", "--from", "nowhere", "--to", "file://x.sql", check=False
                   ).returncode == 1
    assert run_cli(tmp_path, "--url", url, "upgrade", "nowhere", check=False).returncode == 255
    code, out = _atlas(tmp_path, "status", "--dir", directory, "--url", url)
    assert code == 0 and "PENDING" in out
    (tmp_path / "x.sql").write_text("CREATE TABLE t (id INTEGER PRIMARY KEY);\n")
    proc = run_cli(tmp_path, "schema", "diff", "--from", url, "--to", f"file://{tmp_path / 'x.sql'}")
    assert proc.returncode == 0 and "CREATE TABLE" in proc.stdout


def test_migrate_diff_several_to_urls(tmp_path: Path) -> None:
    """Atlas's cli-migrate-diff-multifile.txtar: several --to file:// URLs are one desired schema; mixed kinds of
    source, or several database URLs, are refused with Atlas's messages."""
    (tmp_path / "migrations").mkdir()
    (tmp_path / "users.sql").write_text(FILES["1_first.sql"])
    (tmp_path / "pets.sql").write_text(FILES["3_third.sql"])
    diff = ("diff", "--dev-url", "sqlite://dev?mode=memory", "--dir", "file://migrations")
    for to, message in ((("file://users.sql", "other://scheme"), "got mixed --to url schemes"),
                        (("mysql://localhost/x", "mysql://localhost/y"), "got multiple --to urls of scheme")):
        code, out = _atlas(tmp_path, *diff, "--to", to[0], "--to", to[1], check=False)
        assert code == 1 and out.startswith(f"FAILED: {message}"), out
    _atlas(tmp_path, *diff, "--to", "file://users.sql", "--to", "file://pets.sql", "both")
    written = next((tmp_path / "migrations").glob("*_both.sql")).read_text()
    assert "CREATE TABLE users" in written and "CREATE TABLE pets" in written
