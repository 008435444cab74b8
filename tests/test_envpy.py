"""Real projects' env.py files as they come, through the real CLI: engines made by wrappers never reach
anything but the dev database, and env.py's own Alembic configuration (version_locations, include_object,
include_name, include_schemas, version_table) is honoured as Alembic's runtime honours it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pg_fixture import require_module
from tests.test_cli import REPO

INI = """\
[alembic]
script_location = %(here)s/alembic
prepend_sys_path = .
path_separator = os
sqlalchemy.url = {url}

[atlembic]
migrations_dir = %(here)s/migrations
"""

MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
account = sa.Table("account", metadata, sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("name", sa.String(40)))
"""

REVISION = '''\
"""{message}"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{body}


def downgrade():
    pass
'''

CREATE_ACCOUNT = """\
    op.create_table("account", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(40)))"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def make_project(root: Path, env_py: str, *, url: str = "sqlite:///%(here)s/app.db", models: str = MODELS,
                 revisions: tuple[tuple[str, str | None, str], ...] = (("aaa111", None, CREATE_ACCOUNT),),
                 versions: str = "versions") -> Path:
    """A project with alembic.ini, models.py, alembic/env.py and the given revisions (rev, down, body)."""
    write(root / "alembic.ini", INI.format(url=url))
    write(root / "models.py", models)
    write(root / "alembic" / "env.py", env_py)
    for rev, down, body in revisions:
        write(root / "alembic" / versions / f"{rev}_rev.py",
              REVISION.format(message=f"revision {rev}", rev=rev, down=down, body=body))
    return root


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "atlembic", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=180)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def failed(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 255, proc.stdout + proc.stderr
    return proc.stdout


# ----------------------------------------------------------------------------------------------------
# 1. Nothing but the dev database is ever connected to


class Listener:
    """A TCP server on a loopback port that records every connection made to it (and closes it)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.accepted: list[tuple[str, int]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, addr = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(addr)
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


# A package of the project that builds engines the way wrappers do (SQLModel, an app's own factory): with
# SQLAlchemy's functions bound before atlembic runs anything, under other names, from modules no
# redirection patches.
APPDB = """\
import sqlalchemy as sa
from sqlalchemy.engine.create import create_engine as _create_engine
from sqlalchemy.ext.asyncio.engine import create_async_engine as _create_async_engine


def create_engine(url, **kw):
    return _create_engine(url, **kw)


def create_async_engine(url, **kw):
    return _create_async_engine(url, **kw)


def engine_attribute(url, **kw):
    return sa.engine.create_engine(url, **kw)
"""

WRAPPED_ENV = """\
import asyncio
import os

import appdb
from alembic import context
from models import metadata

FACTORY = os.environ["APP_FACTORY"]


def do_run(connection):
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_async(url):
    engine = appdb.create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(do_run)
    await engine.dispose()


def connect(url):
    if FACTORY == "async":
        asyncio.run(run_async(url))
        return
    engine = getattr(appdb, FACTORY)(url)
    with engine.connect() as connection:
        do_run(connection)


if context.is_offline_mode():
    if os.environ.get("APP_CONNECT_OFFLINE"):
        connect(os.environ["APP_DATABASE_URL"])
    context.configure(url="sqlite://", target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    connect(os.environ["APP_DATABASE_URL"])
"""


def wrapped_project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "proj", WRAPPED_ENV)
    write(root / "appdb.py", APPDB)
    return root


GUARDED = [
    ("create_engine", "postgresql+psycopg"),
    ("engine_attribute", "postgresql+psycopg"),
    ("create_engine", "mysql+pymysql"),
    ("async", "postgresql+psycopg"),
    ("async", "postgresql+asyncpg"),
]


@pytest.mark.parametrize(("factory", "driver"), GUARDED, ids=[f"{f}-{d}" for f, d in GUARDED])
def test_wrapped_engines_never_reach_another_server(tmp_path: Path, listener: Listener, factory: str,
                                                    driver: str) -> None:
    root = wrapped_project(tmp_path)
    url = f"{driver}://app:s3cret@127.0.0.1:{listener.port}/production"
    env = {"APP_DATABASE_URL": url, "APP_FACTORY": factory}
    proc = run(root, "convert", env=env)
    assert listener.accepted == []
    if factory == "engine_attribute":  # sa.engine.create_engine is one of the factories convert redirects
        assert "redirected it to the dev database" in ok(proc)
    else:  # another engine than the dev database's (SQLite here): nowhere to redirect it, refused
        out = failed(proc)
        assert f"env.py tried to connect to {driver}://app:***@127.0.0.1:{listener.port}/production" in out
        assert "s3cret" not in out and "not the dev database" in out
        assert not (root / "migrations").exists()
    # Offline too (revision --autogenerate / check run env.py in Alembic's offline mode): refused.
    out = failed(run(root, "check", env={**env, "APP_CONNECT_OFFLINE": "1"}))
    assert listener.accepted == []
    assert f"env.py tried to connect to {driver}://app:***@127.0.0.1:{listener.port}/production" in out


@pytest.mark.parametrize("factory", ["create_engine", "async"])
def test_wrapped_engine_never_opens_another_sqlite_file(tmp_path: Path, factory: str) -> None:
    """convert: an engine of the dev database's kind, built by a wrapper for another database, is redirected to
    the dev database when it connects (the project's history runs there); offline (check): refused."""
    require_module("aiosqlite", "the async SQLite driver of the wrapped-engine test")
    root = wrapped_project(tmp_path)
    elsewhere = tmp_path / "production.db"
    driver = "sqlite+aiosqlite" if factory == "async" else "sqlite"
    env = {"APP_DATABASE_URL": f"{driver}:///{elsewhere}", "APP_FACTORY": factory}
    out = ok(run(root, "convert", env=env))
    assert f"an engine of its own (to {driver}:///{elsewhere}); redirected to the dev database" in out, out
    assert "CREATE TABLE account" in next((root / "migrations").glob("*.sql")).read_text()
    assert not elsewhere.exists()
    out = failed(run(root, "check", env={**env, "APP_CONNECT_OFFLINE": "1"}))
    assert f"env.py tried to connect to {driver}:///{elsewhere}" in out
    assert not elsewhere.exists()


# env.py that runs its migrations in a worker thread of its own (as apps that migrate from async startup code
# do), on an engine its own factory builds for the database its settings name.
THREADED_ENV = """\
import threading

import appdb
from alembic import context
from models import metadata
import os


def migrate(failures):
    try:
        engine = appdb.create_engine(os.environ["APP_DATABASE_URL"])
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=metadata)
            with context.begin_transaction():
                context.run_migrations()
    except BaseException as exc:
        failures.append(exc)


if context.is_offline_mode():
    context.configure(url="sqlite://", target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    failures = []
    worker = threading.Thread(target=migrate, args=(failures,), name="app-migrations")
    worker.start()
    worker.join()
    if failures:
        raise failures[0]
"""


def test_engine_in_a_worker_thread_is_guarded_too(tmp_path: Path, listener: Listener) -> None:
    root = make_project(tmp_path / "proj", THREADED_ENV)
    write(root / "appdb.py", APPDB)
    elsewhere = tmp_path / "production.db"
    out = ok(run(root, "convert", env={"APP_DATABASE_URL": f"sqlite:///{elsewhere}"}))
    assert "redirected to the dev database" in out and not elsewhere.exists(), out
    url = f"postgresql+psycopg://app:s3cret@127.0.0.1:{listener.port}/production"
    out = failed(run(root, "--dir", str(tmp_path / "other"), "convert", env={"APP_DATABASE_URL": url}))
    assert f"env.py tried to connect to postgresql+psycopg://app:***@127.0.0.1:{listener.port}/production" in out
    assert listener.accepted == []


def test_wrapped_engine_for_the_dev_database_is_allowed(tmp_path: Path) -> None:
    """A wrapper given the URL atlembic set (sqlalchemy.url is the dev database) connects as usual."""
    root = make_project(tmp_path / "proj", WRAPPED_ENV.replace('os.environ["APP_DATABASE_URL"]',
                                                               'context.config.get_main_option("sqlalchemy.url")'))
    write(root / "appdb.py", APPDB)
    out = ok(run(root, "convert", env={"APP_FACTORY": "create_engine"}))
    assert "through sqlalchemy.url" in out


# ----------------------------------------------------------------------------------------------------
# 2. env.py as Alembic's runtime runs it

STANDARD_ENV = """\
import os

from alembic import context
from models import metadata
from sqlalchemy import engine_from_config, pool

config = context.config
{prologue}

def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, {options})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = engine_from_config(config.get_section(config.config_ini_section, {{}}), prefix="sqlalchemy.",
                                     poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, {options})
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""


def standard_env(prologue: str = "", options: str = "") -> str:
    return STANDARD_ENV.format(prologue=prologue, options=options)


def test_version_locations_set_by_env_py(tmp_path: Path) -> None:
    """Per-dialect version folders: env.py points context.script at them before the revisions are read."""
    prologue = """
dialect = config.get_main_option("sqlalchemy.url").split(":")[0].split("+")[0]
context.script.version_locations = [os.path.join(os.path.dirname(__file__), "versions", dialect)]
"""
    root = make_project(tmp_path / "proj", standard_env(prologue), versions="versions/sqlite")
    out = ok(run(root, "convert"))
    assert "1 revision run to head aaa111" in out
    [baseline] = sorted((root / "migrations").glob("*.sql"))
    assert "CREATE TABLE account" in baseline.read_text()


def test_env_py_running_alembic_inside_itself_shows_its_own_error(tmp_path: Path) -> None:
    prologue = ""
    env_py = """\
import os

from alembic import command, context
from alembic.config import Config

# A plugin's own migrations, run first by this env.py: the nested run takes alembic.context's proxy away.
plugin = Config()
plugin.set_main_option("script_location", os.path.join(os.path.dirname(__file__), "..", "plugin"))
plugin.set_main_option("sqlalchemy.url", "sqlite://")
command.upgrade(plugin, "head")
""" + standard_env(prologue).split("\n", 5)[5]
    root = make_project(tmp_path / "proj", env_py)
    write(root / "plugin" / "env.py", "")
    for command in (("convert",), ("check",)):
        out = failed(run(root, *command))
        assert "AttributeError: module 'alembic.context' has no attribute 'config'" in out, out
        assert "KeyError" not in out


def test_env_py_without_a_url_runs_on_the_dev_database(tmp_path: Path) -> None:
    env_py = """\
import os

from alembic import context
from models import metadata
from sqlalchemy import create_engine

if context.is_offline_mode():
    context.configure(url=os.environ.get("UNSET_DATABASE_URL"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(os.environ.get("UNSET_DATABASE_URL"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
"""
    root = make_project(tmp_path / "proj", env_py)
    out = ok(run(root, "convert"))
    assert "1 revision run to head aaa111" in out and "dev database" in out
    assert "No new upgrade operations detected" in ok(run(root, "check"))


SHARED_MODELS = """\
import os

import sqlalchemy as sa


def shared(md, width=40):
    return sa.Table("shared", md, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("label", sa.String(width), nullable=False), sa.Index("ix_shared_label", "label"))


first = sa.MetaData()
sa.Table("account", first, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("shared_id", sa.ForeignKey("shared.id")))
shared(first)
second = sa.MetaData()
sa.Table("other", second, sa.Column("id", sa.Integer, primary_key=True))
shared(second, int(os.environ.get("SHARED_WIDTH", "40")))
metadata = [first, second]
"""


def test_several_metadata_sharing_a_table(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", standard_env(), models=SHARED_MODELS)
    out = ok(run(root, "revision", "--autogenerate", "-m", "init"))
    [file] = sorted((root / "migrations").glob("*.sql"))
    text = file.read_text()
    assert text.count("CREATE TABLE shared") == 1 and "CREATE TABLE other" in text, out
    ok(run(root, "check"))
    out = failed(run(root, "check", env={"SHARED_WIDTH": "80"}))
    assert "table 'shared' is defined in more than one MetaData, differently" in out


# Alembic's cookbook: use the connection the caller offers in config.attributes, else make one.
SHARED_CONNECTION_ENV = """\
from alembic import context
from models import metadata
from sqlalchemy import engine_from_config, pool

config = context.config


def run(connection):
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run(config.attributes["connection"])
else:
    with engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                            poolclass=pool.NullPool).connect() as connection:
        run(connection)
"""


@pytest.mark.postgresql
def test_revisions_that_need_autocommit_convert_on_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    from tests.support.pg_fixture import fresh_pg_url

    concurrently = """\
    with op.get_context().autocommit_block():
        op.create_index("ix_account_name", "account", ["name"], postgresql_concurrently=True)"""
    revisions = (("aaa111", None, CREATE_ACCOUNT), ("bbb222", "aaa111", concurrently))
    url = fresh_pg_url(pg_server)
    root = make_project(tmp_path / "proj", SHARED_CONNECTION_ENV, url=url.replace("%", "%%"), revisions=revisions,
                        models=MODELS + 'sa.Index("ix_account_name", account.c.name)\n')
    dev = ["--dev-url", pg_server.url("postgres").render_as_string(hide_password=False)]
    out = ok(run(root, *dev, "convert"))
    assert "2 revisions run to head bbb222" in out
    [baseline] = sorted((root / "migrations").glob("*.sql"))
    assert "CREATE INDEX ix_account_name ON account" in baseline.read_text()
    ok(run(root, *dev, "check"))
    out = ok(run(root, *dev, "--dir", str(tmp_path / "history"), "convert", "--history"))
    assert "2 revisions run to head bbb222" in out


FILTERED_MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
account = sa.Table("account", metadata, sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("name", sa.String(40)))
sa.Table("report_cache", metadata, sa.Column("id", sa.Integer, primary_key=True), info={"skip": True})
"""

FILTERS = """\
def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and obj.info.get("skip"):
        return False  # made by the application, not by migrations
    return not (type_ == "column" and name == "scratch")


def include_name(name, type_, parent_names):
    return not (type_ == "table" and name.startswith("legacy_"))
"""

INIT_SQL = """\
-- Create "account" table
CREATE TABLE account (id INTEGER NOT NULL, name VARCHAR(40), scratch INTEGER, PRIMARY KEY (id));
-- Create "legacy_audit" table
CREATE TABLE legacy_audit (id INTEGER NOT NULL, PRIMARY KEY (id));
"""


def test_include_object_and_include_name_are_honoured(tmp_path: Path) -> None:
    env_py = standard_env(FILTERS, "include_object=include_object, include_name=include_name")
    root = make_project(tmp_path / "proj", env_py, models=FILTERED_MODELS)
    write(root / "migrations" / "20240101000000_init.sql", INIT_SQL)
    ok(run(root, "hash"))
    # revision and check: report_cache (include_object) is not created, legacy_audit (include_name) and
    # account.scratch (include_object) are not dropped.
    out = ok(run(root, "revision", "--autogenerate", "-m", "next"))
    assert "synced" in out, out
    ok(run(root, "check"))
    ok(run(root, "upgrade", "head"))
    # drift: tables the filters exclude, made by hand on the target, are not drift.
    target = root / "app.db"
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{target}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE legacy_extra (id INTEGER)")
    assert "No drift detected" in ok(run(root, "check", "--drift"))
    # downgrade: a file's table is dropped, what the filters exclude is left alone.
    write(root / "migrations" / "20240102000000_more.sql", '-- Create "more" table\nCREATE TABLE more (id INTEGER);\n')
    ok(run(root, "hash"))
    ok(run(root, "upgrade", "head"))
    sql = ok(run(root, "downgrade", "-1", "--sql"))
    assert "DROP TABLE more" in sql and "legacy" not in sql and "scratch" not in sql, sql
    ok(run(root, "downgrade", "-1", "--allow-destructive"))
    with engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) == {"account", "legacy_audit", "legacy_extra",
                                                            "atlas_schema_revisions"}
    engine.dispose()


def test_include_object_in_convert(tmp_path: Path) -> None:
    """A table the history made and env.py excludes (the application's, made by create_all) is not converted."""
    revisions = (("aaa111", None, CREATE_ACCOUNT + """
    op.create_table("report_cache", sa.Column("id", sa.Integer, primary_key=True))
    op.create_table("legacy_audit", sa.Column("id", sa.Integer, primary_key=True))"""),)
    env_py = standard_env(FILTERS, "include_object=include_object, include_name=include_name")
    root = make_project(tmp_path / "proj", env_py, models=FILTERED_MODELS, revisions=revisions)
    out = ok(run(root, "convert"))
    [baseline] = sorted((root / "migrations").glob("*.sql"))
    text = baseline.read_text()
    assert "CREATE TABLE account" in text and "report_cache" not in text and "legacy_audit" not in text
    assert 'table "legacy_audit"' in out and 'table "report_cache"' in out
    assert "No new upgrade operations detected" in ok(run(root, "check"))


# ----------------------------------------------------------------------------------------------------
# 4. After convert: the Alembic version table is not drift, and downgrade leaves it alone


@pytest.mark.parametrize("source", ["env.py", "converted files"])
def test_version_table_kept_after_handover(tmp_path: Path, source: str) -> None:
    revisions = (("aaa111", None, CREATE_ACCOUNT),
                 ("bbb222", "aaa111", '    op.create_table("other", sa.Column("id", sa.Integer, primary_key=True))'))
    models = MODELS + 'sa.Table("other", metadata, sa.Column("id", sa.Integer, primary_key=True))\n'
    root = make_project(tmp_path / "proj", standard_env(options='version_table="app_versions"'), models=models,
                        revisions=revisions)
    if source == "converted files":  # env.py is not run: only the files' "-- alembic:version_table" says it
        ini = root / "alembic.ini"
        ini.write_text(ini.read_text().replace("[atlembic]\n", "[atlembic]\nmetadata = models:metadata\n"))
    ok(run(root, "convert", "--history"))
    files = sorted((root / "migrations").glob("*.sql"))
    assert "-- alembic:version_table app_versions" in files[-1].read_text()
    proc = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=root, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = ok(run(root, "upgrade", "head", "--baseline", files[-1].name.split("_")[0]))
    assert "app_versions is at bbb222" in out
    assert "No drift detected" in ok(run(root, "check", "--drift"))
    sql = ok(run(root, "downgrade", "-1", "--sql"))
    assert "DROP TABLE other" in sql and "app_versions" not in sql, sql


AUDIT_SQL = """\
-- Add new schema named "audit"
CREATE SCHEMA audit;
-- Create "log" table
CREATE TABLE audit.log (id integer NOT NULL, PRIMARY KEY (id));
-- Create "account" table
CREATE TABLE account (id serial NOT NULL, name character varying(40) NULL, PRIMARY KEY (id));
"""


@pytest.mark.postgresql
def test_include_schemas_on_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    """Without include_schemas only the default schema (and those the models use) is compared, as in Alembic;
    with it, include_name decides about each schema."""
    from tests.support.pg_fixture import fresh_pg_url

    dev = ["--dev-url", pg_server.url("postgres").render_as_string(hide_password=False)]
    cases = {
        "default": ("", "", True),
        "all schemas": ("", "include_schemas=True", False),
        "all but audit": ("def include_name(name, type_, parents):\n"
                          "    return not (type_ == 'schema' and name == 'audit')\n",
                          "include_schemas=True, include_name=include_name", True),
    }
    for case, (prologue, options, synced) in cases.items():
        root = make_project(tmp_path / case.replace(" ", "_"), standard_env(prologue, options),
                            url=fresh_pg_url(pg_server).replace("%", "%%"))
        write(root / "migrations" / "20240101000000_init.sql", AUDIT_SQL)
        ok(run(root, *dev, "hash"))
        proc = run(root, *dev, "check")
        if synced:
            assert "No new upgrade operations detected" in ok(proc), case
        else:
            out = failed(proc)
            assert 'drop table "audit.log"' in out.lower() and "drop schema" in out.lower(), out


def test_downgrade_with_a_keep_what_the_models_lack_filter(tmp_path: Path) -> None:
    """The common ``reflected and compare_to is None`` filter (never drop what the models lack): downgrade still
    drops the tables of the files it reverts (their counterpart is the directory's, at the target's version),
    and leaves alone a table made by hand."""
    prologue = """
def include_object(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and reflected and compare_to is None)
"""
    root = make_project(tmp_path / "proj", standard_env(prologue, "include_object=include_object"))
    write(root / "migrations" / "20240101000000_init.sql",
          '-- Create "account" table\n'
          "CREATE TABLE account (id INTEGER NOT NULL, name VARCHAR(40), PRIMARY KEY (id));\n")
    write(root / "migrations" / "20240102000000_more.sql", '-- Create "more" table\nCREATE TABLE more (id INTEGER);\n')
    ok(run(root, "hash"))
    ok(run(root, "upgrade", "head"))
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{root / 'app.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE handmade (id INTEGER)")
    engine.dispose()
    sql = ok(run(root, "downgrade", "-1", "--sql"))
    assert "DROP TABLE more" in sql and "handmade" not in sql, sql
    assert "No drift detected" in ok(run(root, "check", "--drift"))


# ----------------------------------------------------------------------------------------------------
# 3. convert --history: each revision's DML where the revision ran it

CACHED_REVISIONS = (
    ("aaa111", None, """\
    op.create_table("item", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(40)),
                    sa.Column("is_cached", sa.Boolean, nullable=False, server_default=sa.false()))"""),
    ("bbb222", "aaa111", """\
    op.execute("DELETE FROM item WHERE is_cached")
    op.drop_column("item", "is_cached")
    op.add_column("item", sa.Column("label", sa.String(40)))
    op.execute("UPDATE item SET label = name")"""),
)
CACHED_MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("item", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(40)),
         sa.Column("label", sa.String(40)))
"""


def _dml_order(root: Path, tmp_path: Path, dev: list[str]) -> None:
    out = ok(run(root, *dev, "convert", "--history"))
    assert "2 revisions run to head bbb222" in out
    text = sorted((root / "migrations").glob("*.sql"))[-1].read_text()
    body = text.split("\n\n", 1)[1]
    # The column changes: ALTERs on PostgreSQL, a table rebuild on SQLite.
    change = body.index("DROP COLUMN is_cached" if "DROP COLUMN is_cached" in body else 'Create "new_item" table')
    delete, update = body.index("DELETE FROM item WHERE is_cached;"), body.index("UPDATE item SET label = name;")
    assert delete < change < update, body
    assert body.count("-- REVIEW: data migration of Alembic revision bbb222") == 2, body
    # --data review: the same places, as comments; nothing of it runs.
    review = tmp_path / "review"
    ok(run(root, *dev, "--dir", str(review), "convert", "--history", "--data", "review"))
    text = sorted(review.glob("*.sql"))[-1].read_text()
    assert "-- (not run, --data review): DELETE FROM item WHERE is_cached" in text
    assert "\nDELETE" not in text and "\nUPDATE" not in text
    assert "No new upgrade operations detected" in ok(run(root, *dev, "check"))
    proc = run(root, *dev, "convert", "--data", "review")
    assert "--data goes with --history" in failed(proc)


def test_history_keeps_each_revisions_order(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", standard_env(), models=CACHED_MODELS, revisions=CACHED_REVISIONS)
    _dml_order(root, tmp_path, [])


@pytest.mark.postgresql
def test_history_keeps_each_revisions_order_on_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    from tests.support.pg_fixture import fresh_pg_url

    root = make_project(tmp_path / "proj", standard_env(), models=CACHED_MODELS, revisions=CACHED_REVISIONS,
                        url=fresh_pg_url(pg_server).replace("%", "%%"))
    _dml_order(root, tmp_path, ["--dev-url", pg_server.url("postgres").render_as_string(hide_password=False)])


SELF_REFERENCING = """\
    op.create_table("node", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("parent_id", sa.Integer, sa.ForeignKey("node.id")))"""
NODE_MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("node", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("parent_id", sa.Integer, sa.ForeignKey("node.id")))
"""


def test_self_referencing_table_converts(tmp_path: Path) -> None:
    """A table whose foreign key references itself (a tree: openstack-placement's resource_providers)."""
    root = make_project(tmp_path / "proj", standard_env(), models=NODE_MODELS,
                        revisions=(("aaa111", None, SELF_REFERENCING),))
    ok(run(root, "convert"))
    [baseline] = sorted((root / "migrations").glob("*.sql"))
    assert "REFERENCES node (id)" in baseline.read_text()
    ok(run(root, "check"))
