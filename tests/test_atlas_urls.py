"""Atlas's URLs as atlembic takes them: target URLs mapped onto SQLAlchemy URLs and atlembic's drivers,
``docker://`` dev URLs onto the embedded dev databases (the local servers, no docker), and Atlas's SQLAlchemy
guide walked through the CLI on PostgreSQL and MariaDB (SQLite: tests/test_atlas_hcl.py)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from atlembic.atlas import dev_target, load_env, target_url
from atlembic.devdb.mysql import find_mysql_binaries
from atlembic.devdb.postgresql import find_pg_bindir, pg_version
from atlembic.errors import AtlembicError
from tests.support.cli import run_cli
from tests.support.mysql_fixture import mysql_binaries_or_skip
from tests.support.pg_fixture import fresh_database_url, pg_bindir_or_skip
from tests.test_atlas_hcl import guide_walkthrough, sqlalchemy_guide_project

HERE = Path("/project")


@pytest.mark.parametrize(("atlas", "sqlalchemy"), [
    ("postgres://user:p%40ss@localhost:5432/db?sslmode=disable&search_path=public",
     "postgresql+psycopg://user:p%40ss@localhost:5432/db?options=-csearch_path%3Dpublic&sslmode=disable"),
    ("postgresql://user@db.invalid/app", "postgresql+psycopg://user@db.invalid/app"),
    ("postgres://postgres@/app?host=/run/pg&options=-cstatement_timeout%3D5s&search_path=tenant",
     "postgresql+psycopg://postgres@/app?host=%2Frun%2Fpg&options=-cstatement_timeout%3D5s+-csearch_path%3Dtenant"),
    ("mysql://root:pass@localhost:3306/app?parseTime=true&charset=utf8mb4",
     "mysql+pymysql://root:pass@localhost:3306/app?charset=utf8mb4"),
    ("mysql://root:pass@localhost:3306/", "mysql+pymysql://root:pass@localhost:3306"),
    ("maria://root@127.0.0.1:3307/app", "mariadb+pymysql://root@127.0.0.1:3307/app"),
    ("mariadb://root@127.0.0.1/app", "mariadb+pymysql://root@127.0.0.1/app"),
    ("mysql+unix://root:pw@/run/mysqld/mysqld.sock?database=app",
     "mysql+pymysql://root:pw@localhost/app?unix_socket=%2Frun%2Fmysqld%2Fmysqld.sock"),
    ("sqlite://file.db", "sqlite:////project/file.db"),
    ("sqlite://sub/file.db?_fk=1", "sqlite:////project/sub/file.db"),
    ("sqlite:///abs/file.db", "sqlite:////abs/file.db"),
    ("sqlite://dev?mode=memory", "sqlite://"),
    ("postgresql+psycopg://u@localhost/db", "postgresql+psycopg://u@localhost/db"),  # SQLAlchemy's already
])
def test_target_urls(atlas: str, sqlalchemy: str) -> None:
    mapped = target_url(atlas, HERE)
    assert mapped == sqlalchemy
    parsed = make_url(mapped)
    if "p%40ss" in atlas:
        assert parsed.password == "p@ss"  # Atlas's URL escaping undone once, as SQLAlchemy renders it


def test_search_path_is_a_libpq_option_psycopg_passes_on() -> None:
    url = make_url(target_url("postgres://u@localhost/db?search_path=app", HERE))
    dialect = url.get_dialect()()
    _, kwargs = dialect.create_connect_args(url)
    assert kwargs["options"] == "-csearch_path=app"


@pytest.mark.parametrize(("atlas", "reason"), [
    ("mysql://root@localhost/app?tls=skip-verify", "query parameter 'tls' is not supported for MySQL"),
    ("sqlite://file.db?_journal=wal", "query parameter '_journal' is not supported for SQLite"),
    ("postgres://u:secret@localhost:99999/db", "invalid port in URL postgres://u:***@localhost:99999/db"),
])
def test_bad_target_urls_are_one_line_without_the_password(atlas: str, reason: str) -> None:
    with pytest.raises(AtlembicError) as info:
        target_url(atlas, HERE)
    assert reason in str(info.value)
    assert "secret" not in str(info.value)


def test_dev_urls_of_files_and_memory() -> None:
    assert dev_target("sqlite://dev?mode=memory", HERE) == dev_target("sqlite://x?mode=memory&_fk=1", HERE)
    assert dev_target("sqlite://dev?mode=memory", HERE).url is None
    assert dev_target("sqlite://devdb", HERE).url == "sqlite:////project/devdb"
    # The spellings of an in-memory database Atlas's SQLite driver accepts: no file is named, or SQLite's own name.
    for memory in ("sqlite://", "sqlite://?_fk=1", "sqlite://:memory:", "sqlite:///:memory:",
                   "sqlite://file::memory:?cache=shared", "sqlite://file:dev?mode=memory&_fk=1"):
        assert dev_target(memory, HERE) == dev_target("sqlite://dev?mode=memory", HERE), memory
    server = dev_target("postgres://u@localhost/dev", HERE)
    assert (server.url, server.engine) == ("postgresql+psycopg://u@localhost/dev", "postgresql")


def test_unknown_docker_image_is_one_line() -> None:
    with pytest.raises(AtlembicError) as info:
        dev_target("docker://oracle/21/dev", HERE)
    assert str(info.value) == ('docker://oracle/21/dev: unsupported docker image "oracle" (atlembic runs the local '
                               "server of: maria, mariadb, mysql, postgres)")


def test_docker_postgres_is_the_local_server() -> None:
    pg_bindir_or_skip()
    major = pg_version(find_pg_bindir()).split(".")[0]
    same = dev_target(f"docker://postgres/{major}/dev", HERE)
    assert (same.url, same.engine, same.warning) == (None, "postgresql", None)
    assert dev_target("docker://postgres/latest", HERE).warning is None
    other = str(int(major) + 1)
    newer = dev_target(f"docker://postgres/{other}/dev?search_path=public", HERE)
    assert (newer.url, newer.engine) == (None, "postgresql")
    assert newer.warning == f"docker://postgres/{other}/dev: using the local PostgreSQL {major} server"


def test_docker_mysql_and_mariadb_are_the_local_server() -> None:
    mysql_binaries_or_skip()
    local = find_mysql_binaries()
    major = local.version.split(".")[0]
    for image in ("mariadb", "maria", "mysql"):
        found = dev_target(f"docker://{image}/latest/dev", HERE)
        assert found.url is None and found.engine == local.flavor.lower()
        named_other = image != local.flavor.lower() and not (image == "maria" and local.flavor == "MariaDB")
        expected = f"docker://{image}/latest/dev: using the local {local.flavor} {major} server"
        assert found.warning == (expected if named_other else None)
    old = dev_target("docker://mariadb/5/dev", HERE)
    if local.flavor == "MariaDB":
        assert old.warning == f"docker://mariadb/5/dev: using the local MariaDB {major} server"


def test_env_urls_are_mapped_and_flags_win(tmp_path: Path) -> None:
    (tmp_path / "atlas.hcl").write_text(textwrap.dedent('''
        env "local" {
          url = "postgres://app:${urlescape("p&ss?")}@localhost:5432/app?search_path=public"
          dev = "sqlite://dev?mode=memory"
        }
    '''))
    env = load_env(f"file://{tmp_path / 'atlas.hcl'}", "local")
    assert make_url(env.settings.url or "").password == "p&ss?"
    assert env.settings.redacted_url() == "postgresql+psycopg://app:***@localhost:5432/app?options=-csearch_path%3Dpublic"
    flagged = load_env(f"file://{tmp_path / 'atlas.hcl'}", "local", url="sqlite://other.db")
    assert flagged.settings.url == f"sqlite:///{Path.cwd() / 'other.db'}"  # a flag's path: the working directory


# -- Atlas's SQLAlchemy guide through the CLI on the servers -------------------------------------------------


@pytest.mark.slow
def test_guide_walkthrough_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    url = make_url(fresh_database_url(pg_server))
    with sa.create_engine(url).begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA app")
    atlas_url = (f"postgres://{url.username}@/{url.database}?host={url.query['host']}&port={url.query['port']}"
                 "&sslmode=disable&search_path=app")
    project = sqlalchemy_guide_project(tmp_path, "postgresql", "docker://postgres/15/dev", atlas_url)
    [written] = guide_walkthrough(project)
    text = written.read_text()
    assert ('CREATE TABLE users (\n  id SERIAL NOT NULL,\n  name VARCHAR(30) NOT NULL,\n'
            '  CONSTRAINT users_pkey PRIMARY KEY (id)\n);') in text
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        # search_path=app: a schema-bound URL, as in Atlas: the tables and the revisions table are in app,
        # nothing in public, no schema atlas_schema_revisions.
        assert set(inspector.get_table_names(schema="app")) == {"users", "posts", "atlas_schema_revisions"}
        assert inspector.get_table_names(schema="public") == []
        assert "atlas_schema_revisions" not in inspector.get_schema_names()
    finally:
        engine.dispose()
    # The guide's script mode (a load_models.py printing the DDL) describes the same schema: nothing to plan.
    script = sqlalchemy_guide_project(tmp_path / "script", "postgresql", "docker://postgres/15/dev", atlas_url,
                                      script=True)
    shutil.copytree(project / "migrations", script / "migrations")
    synced = run_cli(script, "migrate", "diff", "--env", "sqlalchemy")
    assert "The migration directory is synced with the desired state" in synced.stdout


@pytest.mark.slow
def test_guide_walkthrough_mariadb(tmp_path: Path, mysql_server) -> None:  # noqa: ANN001
    url = make_url(fresh_database_url(mysql_server))
    atlas_url = f"maria+unix://{url.username}@{url.query['unix_socket']}?database={url.database}"
    project = sqlalchemy_guide_project(tmp_path, "mysql", "docker://mariadb/latest/dev", atlas_url)
    [written] = guide_walkthrough(project)
    assert "CREATE TABLE users (\n  id INTEGER(11) NOT NULL AUTO_INCREMENT,\n  name VARCHAR(30) NOT NULL,\n" in (
        written.read_text())
    engine = sa.create_engine(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) == {"users", "posts", "atlas_schema_revisions"}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_docker_dev_url_of_another_version_warns_once(tmp_path: Path) -> None:
    pg_bindir_or_skip()
    major = pg_version(find_pg_bindir()).split(".")[0]
    other = str(int(major) + 1)
    project = sqlalchemy_guide_project(tmp_path, "postgresql", f"docker://postgres/{other}/dev?search_path=public",
                                       "postgres://u@localhost.invalid/db")
    proc = run_cli(project, "migrate", "diff", "--env", "sqlalchemy")
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert warnings == [f"atlembic: warning: docker://postgres/{other}/dev: using the local PostgreSQL {major} server"]
    assert len(list((project / "migrations").glob("*.sql"))) == 1
