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
    if driver == "postgresql+asyncpg":
        pytest.importorskip("asyncpg")
    root = wrapped_project(tmp_path)
    url = f"{driver}://app:s3cret@127.0.0.1:{listener.port}/production"
    env = {"APP_DATABASE_URL": url, "APP_FACTORY": factory}
    proc = run(root, "convert", env=env)
    assert listener.accepted == []
    if factory == "engine_attribute":  # sa.engine.create_engine is one of the factories convert redirects
        assert "redirected it to the dev database" in ok(proc)
    else:
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
    pytest.importorskip("aiosqlite")
    root = wrapped_project(tmp_path)
    elsewhere = tmp_path / "production.db"
    driver = "sqlite+aiosqlite" if factory == "async" else "sqlite"
    env = {"APP_DATABASE_URL": f"{driver}:///{elsewhere}", "APP_FACTORY": factory}
    out = failed(run(root, "convert", env=env))
    assert f"env.py tried to connect to {driver}:///{elsewhere}" in out
    assert not elsewhere.exists()
    failed(run(root, "check", env={**env, "APP_CONNECT_OFFLINE": "1"}))
    assert not elsewhere.exists()


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
    assert "1 revision(s) run to head aaa111" in out
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
    assert "1 revision(s) run to head aaa111" in out and "dev database" in out
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
