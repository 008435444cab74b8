"""MySQL / MariaDB end to end on a real server: `--dev-url`, reflection, round trips (the shared cases of
tests/support/cases.py plus its MySQL-only ones), and apply without transactional DDL (progress survives a failure,
a re-run resumes at the failed statement). The ephemeral dev server's life cycle, template cache and
cleanup on signals are tested together with PostgreSQL's in test_devdb.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic import commands
from atlembic.config import load_settings
from atlembic.devdb.mysql import (
    find_mysql_binaries,
    flavor_warning,
)
from atlembic.devdb.url import UrlDevDatabase
from atlembic.engines import engine_for, inspect_schema, open_dev_database
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir
from atlembic.migrate.revisions import RevisionStore
from tests.support.cases import Case, build_cases, mysql_only_cases, with_posts
from tests.support.golden import compare_golden
from tests.support.mysql_fixture import fresh_mysql_url
from tests.support.pg_fixture import server_unavailable
from tests.support.roundtrip import fresh_schema, metadata_of, reflect, run_round_trip

REPO = Path(__file__).resolve().parent.parent

# Shared cases assert SQL fragments written with PostgreSQL/SQLite in mind; MySQL spells them so.
_FRAGMENTS = {
    "NUMERIC(12, 4)": "DECIMAL(12, 4)",
    "CREATE INDEX ix_users_name": "ADD INDEX ix_users_name",
    "CREATE UNIQUE INDEX": "ADD UNIQUE INDEX",
    "score * 2": "`score` * 2",
}


# ------------------------------------------------------------------------------------------ round trips


def _cases() -> list[Case]:
    return [c for c in [*build_cases(), *mysql_only_cases()] if "mysql" in c.dialects]


def _params() -> list:  # type: ignore[type-arg]
    return [pytest.param(c, id=c.id) for c in _cases()]


@pytest.mark.parametrize("case", _params())
@pytest.mark.slow  # server-heavy: a full round trip per case on MariaDB
def test_round_trip_mysql(case: Case, mysql_env, tmp_path: Path) -> None:
    dev, url = mysql_env()
    text, survived = run_round_trip(dev, url, tmp_path, case.a, case.b, case.rows)
    compare_golden("mysql", case.id, text)
    for fragment in case.sql:
        wanted = _FRAGMENTS.get(fragment, fragment)
        assert wanted in text, f"{wanted!r} not in planned migration:\n{text}"
    for table, after in survived.items():
        before = sorted(case.rows[table], key=lambda r: r["id"])
        assert len(after) == len(before), f"rows of {table} lost: {after}"
        for old, new in zip(before, after, strict=True):
            assert {k: str(v) for k, v in new.items()} == {k: str(old[k]) for k in new}
    # Stricter than the harness's diff: whole-schema equality also covers table options (engine, charset).
    # (Columns belong to one Table only: build the case afresh for a second MetaData of model B.)
    fresh = next(c for c in _cases() if c.id == case.id)
    assert reflect(url) == fresh_schema(dev, metadata_of(fresh.b))


def test_fk_implicit_index_is_no_spurious_diff(mysql_dev, tmp_path: Path) -> None:
    """The index MySQL adds for an unnamed FK exists on both sides: planning again finds nothing."""
    from tests.support.roundtrip import plan_and_write

    directory = MigrationDir(tmp_path / "migrations")
    md = metadata_of(with_posts())
    text = plan_and_write(mysql_dev, directory, md, "a")
    assert text is not None and "INDEX user_id" in text  # declared in CREATE TABLE, not left to the engine
    assert plan_and_write(mysql_dev, directory, md, "b") is None
    schema = fresh_schema(mysql_dev, md)
    posts = schema.table("posts")
    assert posts is not None and [i.name for i in posts.indexes] == ["user_id"]


def test_reflection_details(mysql_dev) -> None:
    ddl = [
        "CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT, name VARCHAR(40) NOT NULL DEFAULT 'x' COMMENT 'who',"
        " body TEXT, ts TIMESTAMP NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP,"
        " mood ENUM('a','b') NOT NULL, PRIMARY KEY (id), KEY ix (name(8), id DESC), FULLTEXT KEY ft (body),"
        " CONSTRAINT ck CHECK (CHAR_LENGTH(name) > 0)) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='tbl'",
    ]
    with mysql_dev.clean_database() as engine, engine.connect() as conn:
        for sql in ddl:
            conn.exec_driver_sql(sql)
        table = inspect_schema(conn).table("t")
    assert table is not None
    assert table.comment == "tbl" and table.uniques == ()
    # Only what differs from the database's defaults (utf8mb4, InnoDB on the dev server).
    assert table.options == (("charset", "latin1"), ("collate", "latin1_swedish_ci"))
    by_name = {c.name: c for c in table.columns}
    assert by_name["id"].identity is not None and by_name["name"].identity is None
    assert by_name["name"].comment == "who"
    assert "ON UPDATE" in (by_name["ts"].default or "").upper()
    assert by_name["mood"].type == "ENUM('a','b')"
    ix = {i.name: i for i in table.indexes}
    assert [(p.column, p.length, p.descending) for p in ix["ix"].parts] == [("name", 8, False), ("id", None, True)]
    assert ix["ft"].using == "FULLTEXT"
    assert [c.name for c in table.checks] == ["ck"]


# ------------------------------------------------------------------------------ apply without tx DDL


_THREE = "".join(f"CREATE TABLE {t} (id INT PRIMARY KEY);\n" for t in "abc")
_BROKEN = _THREE.replace("CREATE TABLE b (id INT PRIMARY KEY);", "CREATE TABLE b (id INT PRIMARY KEY, nope);")


def _write(directory: MigrationDir, text: str, name: str = "20240101000000_three.sql") -> None:
    directory.path.mkdir(parents=True, exist_ok=True)
    (directory.path / name).write_text(text)
    directory.write_sum()


def _revisions(url: str):  # type: ignore[no-untyped-def]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return RevisionStore(conn, engine_for(conn).revisions).read_all()
    finally:
        engine.dispose()


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return sorted(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("driver", ["mysql+pymysql", "mariadb+pymysql"])
def test_apply_failure_midway_records_progress_and_resumes(mysql_server, tmp_path: Path, driver: str) -> None:
    if driver.startswith("mariadb") and not mysql_server.is_mariadb:
        server_unavailable("MariaDB", "mariadb:// URLs need a MariaDB server")
    url = fresh_mysql_url(mysql_server).replace("mysql+pymysql://", f"{driver}://", 1)
    directory = MigrationDir(tmp_path / "migrations")
    _write(directory, _BROKEN)
    settings = load_settings(None, url=url, directory=directory.path)
    with pytest.raises(AtlembicError, match=r"applied 1 of 3"):
        commands.upgrade(settings)
    [rev] = _revisions(url)
    assert (rev.applied, rev.total) == (1, 3)
    assert rev.partial_hashes is not None and len(rev.partial_hashes) == 1
    assert "nope" in (rev.error_stmt or "") and rev.error
    assert _tables(url) == ["a", "atlas_schema_revisions"]  # statement 1 stayed: DDL commits on MySQL

    _write(directory, _THREE)  # fix the failing statement; statement 1 is unchanged
    commands.upgrade(settings)
    [rev] = _revisions(url)
    assert (rev.applied, rev.total, rev.error, rev.partial_hashes) == (3, 3, "", None)
    assert _tables(url) == ["a", "atlas_schema_revisions", "b", "c"]


def test_apply_refuses_when_an_applied_statement_changed(mysql_server, tmp_path: Path) -> None:
    url = fresh_mysql_url(mysql_server)
    directory = MigrationDir(tmp_path / "migrations")
    _write(directory, _BROKEN)
    settings = load_settings(None, url=url, directory=directory.path)
    with pytest.raises(AtlembicError):
        commands.upgrade(settings)
    _write(directory, _THREE.replace("CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE a (id BIGINT PRIMARY KEY)"))
    with pytest.raises(AtlembicError, match=r"history changed: statement 1 "):
        commands.upgrade(settings)


def test_revisions_table_layout(mysql_server, tmp_path: Path) -> None:
    url = fresh_mysql_url(mysql_server)
    directory = MigrationDir(tmp_path / "migrations")
    _write(directory, "CREATE TABLE a (id INT PRIMARY KEY);\n")
    commands.upgrade(load_settings(None, url=url, directory=directory.path))
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            ddl = conn.exec_driver_sql("SHOW CREATE TABLE atlas_schema_revisions").one()[1]
    finally:
        engine.dispose()
    for fragment in ("`version` varchar(255)", "`type` bigint(20) unsigned", "`error` longtext",
                     "`executed_at` timestamp NULL", "utf8mb4_bin"):
        assert fragment in ddl, ddl


# ------------------------------------------------------------------------------------------ dev database


def test_non_empty_dev_database_is_refused(mysql_server) -> None:
    url = fresh_mysql_url(mysql_server)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE leftover (id INT)")
    engine.dispose()
    from atlembic.engines import assert_clean

    with pytest.raises(AtlembicError, match='not clean: found table "leftover"'):
        assert_clean(sa.create_engine(url))


def test_dev_url_scratch_and_in_place(mysql_server) -> None:
    admin = sa.create_engine(mysql_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE IF NOT EXISTS devonly")
        conn.exec_driver_sql("CREATE USER IF NOT EXISTS 'limited'@'localhost'")
        conn.exec_driver_sql("GRANT ALL ON devonly.* TO 'limited'@'localhost'")
    admin.dispose()
    scratch = open_dev_database("mysql", mysql_server.url().render_as_string(hide_password=False))
    assert isinstance(scratch, UrlDevDatabase) and scratch.mode == "scratch"
    scratch.close()

    limited = mysql_server.url("devonly").set(username="limited").render_as_string(hide_password=False)
    dev = open_dev_database("mysql", limited)
    try:
        assert dev.mode == "in-place" and "itself" in dev.description
        with dev.clean_database() as engine:
            assert engine.url.database == "devonly"
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE a (id INT PRIMARY KEY)")
                conn.exec_driver_sql(
                    "CREATE TABLE b (id INT PRIMARY KEY, a_id INT, FOREIGN KEY (a_id) REFERENCES a (id))")
                conn.exec_driver_sql("CREATE VIEW v AS SELECT id FROM a")
        with dev.clean_database() as engine:  # emptied after use, views and FK-tied tables included
            assert sa.inspect(engine).get_table_names() == []
    finally:
        dev.close()
    no_db = mysql_server.url().set(username="limited").render_as_string(hide_password=False)
    with pytest.raises(AtlembicError, match="names no database"):
        open_dev_database("mysql", no_db)


def test_missing_binaries_error_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import atlembic.devdb.mysql as my

    monkeypatch.delenv("ATLEMBIC_MYSQL_BINDIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(my, "_SEARCH_DIRS", ())
    with pytest.raises(AtlembicError, match=r"mariadb-server.*--dev-url"):
        find_mysql_binaries()
    monkeypatch.setenv("ATLEMBIC_MYSQL_BINDIR", str(tmp_path))
    with pytest.raises(AtlembicError, match="contains neither mariadbd nor mysqld"):
        find_mysql_binaries()


def test_mysql_target_on_mariadb_warns() -> None:
    assert flavor_warning("mysql", "MariaDB", "10.11.19") is not None
    assert "--dev-url" in (flavor_warning("mysql+pymysql", "MariaDB", "10.11.19") or "")
    assert flavor_warning("mariadb", "MariaDB", "10.11.19") is None
    assert flavor_warning("mysql", "MySQL", "8.0.36") is None


_MODELS = """
import sqlalchemy as sa
md = sa.MetaData()
sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(30)),
         sa.Column("updated", sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP")))
sa.Table("posts", md, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")))
"""


@pytest.mark.parametrize("driver", ["mysql+pymysql", "mariadb+pymysql"])
@pytest.mark.slow  # CLI end to end, starting its own MariaDB server
def test_cli_plans_with_the_embedded_server_and_applies(mysql_server, tmp_path: Path, driver: str) -> None:
    """No --dev-url: the CLI starts its own MariaDB; a mysql:// target gets the one-line warning."""
    if driver.startswith("mariadb") and not mysql_server.is_mariadb:
        server_unavailable("MariaDB", "mariadb:// URLs need a MariaDB server")
    (tmp_path / "models.py").write_text(_MODELS)
    (tmp_path / "alembic.ini").write_text("[alembic]\n[atlembic]\nmetadata = models:md\n")
    url = fresh_mysql_url(mysql_server).replace("mysql+pymysql://", f"{driver}://", 1)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "atlembic", "--url", url, *args], capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=120)

    planned = run("revision", "--autogenerate", "-m", "init")
    assert planned.returncode == 0, planned.stderr
    assert "Dev database: ephemeral MariaDB" in planned.stdout
    assert ("dev database is MariaDB" in planned.stderr) == driver.startswith("mysql")
    [sql] = list((tmp_path / "migrations").glob("*_init.sql"))
    assert "ON UPDATE current_timestamp()" in sql.read_text()
    applied = run("upgrade", "head")
    assert applied.returncode == 0, applied.stderr
    assert run("check").returncode == 0
