"""Dev databases against real engines: in-memory SQLite, real PostgreSQL clusters and MariaDB servers (no mocks).

The ephemeral servers' life cycle, template cache and cleanup on signals run for both engines
(the ``server_engine`` fixture); MySQL-only dev-database tests are in test_mysql.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

from atlembic.devdb import DevDatabase, process
from atlembic.devdb.mysql import EphemeralMariaDB, EphemeralMySQLDevDatabase
from atlembic.devdb.postgresql import (
    EphemeralPostgres,
    EphemeralPostgresDevDatabase,
    find_leftover,
    find_pg_bindir,
)
from atlembic.devdb.server import EphemeralServer, EphemeralServerDevDatabase
from atlembic.devdb.sqlite import SqliteMemoryDevDatabase
from atlembic.devdb.url import UrlDevDatabase
from atlembic.engines import open_dev_database
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir
from tests.support.cli import run_cli
from tests.support.mysql_fixture import mysql_binaries_or_skip
from tests.support.pg_fixture import fresh_pg_url, pg_bindir_or_skip, pg_server  # noqa: F401 - pg_server: fixture

REPO = Path(__file__).resolve().parent.parent


def _table_names(engine) -> list[str]:  # type: ignore[no-untyped-def]
    return inspect(engine).get_table_names()


def _processes_mentioning(path: Path) -> list[int]:
    """Live processes whose command line names ``path`` (a server started on a data dir in it)."""
    needle = str(path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (reparented to a PID 1 that does not reap) is dead for our purposes.
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@dataclass(frozen=True)
class ServerEngine:
    """An engine with an ephemeral server, and what its tests expect of it."""

    dialect: str  # for open_dev_database
    binaries_or_skip: Callable[[], Any]  # the server class's first argument (skips, or fails in CI)
    server_class: type[EphemeralServer]
    dev_class: type[EphemeralServerDevDatabase[Any]]
    description: str  # formatted with the started server as ``s``
    settings: dict[str, object]  # query -> value on the ephemeral server
    statements: tuple[str, ...]  # that must work on it
    databases_sql: str  # lists the server's databases
    vital_file: str  # in the data dir: garbled, the server does not start

    def server(self, **options: Any) -> EphemeralServer:
        return self.server_class(self.binaries_or_skip(), **options)


ENGINES = [
    pytest.param(
        ServerEngine(
            "postgresql", pg_bindir_or_skip, EphemeralPostgres, EphemeralPostgresDevDatabase,
            "ephemeral PostgreSQL {s.version} cluster ({s.tmpdir})",
            # Unix socket only: nothing listens on TCP.
            {"SHOW listen_addresses": "", "SHOW fsync": "off"}, (),
            "SELECT datname FROM pg_database", "global/pg_control",
        ),
        id="postgresql",
    ),
    pytest.param(
        ServerEngine(
            "mariadb", mysql_binaries_or_skip, EphemeralMariaDB, EphemeralMySQLDevDatabase,
            "ephemeral {s.flavor} {s.version} server ({s.tmpdir})",
            {"SELECT @@skip_networking": 1, "SELECT @@log_bin": 0},
            ("CREATE USER 'app'@'localhost' IDENTIFIED BY 'pw'",),  # grant tables are on
            "SHOW DATABASES", "ibdata1",
        ),
        id="mariadb",
    ),
]


@pytest.fixture(params=ENGINES)
def server_engine(request: pytest.FixtureRequest) -> ServerEngine:
    spec: ServerEngine = request.param
    spec.binaries_or_skip()
    return spec


@pytest.fixture
def isolated_cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


# ------------------------------------------------------------------------------------------------ SQLite


def test_sqlite_clean_databases_are_independent() -> None:
    with open_dev_database("sqlite") as dev:
        assert isinstance(dev, SqliteMemoryDevDatabase)
        assert dev.dialect_name == "sqlite"
        assert dev.description == "in-memory SQLite"
        with dev.clean_database() as engine:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE a (id INTEGER PRIMARY KEY)"))
            # StaticPool: a second connection sees the same in-memory database.
            assert _table_names(engine) == ["a"]
            with engine.connect() as conn:
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        with dev.clean_database() as engine:
            assert _table_names(engine) == []


def test_unknown_dialect_and_mismatched_dev_url_are_errors() -> None:
    with pytest.raises(AtlembicError, match="no dev database support for dialect 'oracle'"):
        open_dev_database("oracle")
    with pytest.raises(AtlembicError, match="same engine"):
        open_dev_database("postgresql", "sqlite://")


def test_sqlite_dev_url_memory() -> None:
    with open_dev_database("sqlite", "sqlite://") as dev:
        assert isinstance(dev, UrlDevDatabase)
        assert dev.description == "in-memory SQLite"
        with dev.clean_database() as engine, engine.begin() as conn:
            conn.execute(text("CREATE TABLE a (id INTEGER)"))
        with dev.clean_database() as engine:
            assert _table_names(engine) == []


def test_sqlite_dev_url_file_refused_when_not_empty(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE x (id INTEGER)"))
    engine.dispose()
    with pytest.raises(AtlembicError, match=r'is not clean: found table "x"'):
        open_dev_database("sqlite", f"sqlite:///{path}")


@pytest.mark.parametrize("exists", [True, False])
def test_sqlite_dev_url_file_left_as_found(tmp_path: Path, exists: bool) -> None:
    path = tmp_path / "dev.db"
    if exists:
        path.touch()
    with open_dev_database("sqlite", f"sqlite:///{path}") as dev:
        assert "SQLite file" in dev.description
        for _ in range(2):
            with dev.clean_database() as engine:
                assert _table_names(engine) == []
                with engine.begin() as conn:
                    conn.execute(text("CREATE TABLE a (id INTEGER)"))
    assert path.exists() == exists
    if exists:
        assert path.stat().st_size == 0


# -------------------------------------------------------------------------------------- locating binaries


def test_find_pg_bindir_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = pg_bindir_or_skip()
    monkeypatch.setenv("ATLEMBIC_PG_BINDIR", str(real))
    assert find_pg_bindir() == real
    monkeypatch.setenv("ATLEMBIC_PG_BINDIR", str(tmp_path))
    with pytest.raises(AtlembicError, match="does not contain initdb"):
        find_pg_bindir()


def test_missing_binaries_error_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import atlembic.devdb.postgresql as pg

    monkeypatch.delenv("ATLEMBIC_PG_BINDIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_config, no initdb
    monkeypatch.setattr(pg, "_glob", lambda pattern: [])  # no /usr/lib/postgresql/*/bin
    with pytest.raises(AtlembicError, match=r"postgresql-15.*--dev-url"):
        pg.find_pg_bindir()


# ---------------------------------------------------------------------------------------- ephemeral servers


def test_ephemeral_server_lifecycle(server_engine: ServerEngine) -> None:
    dev = open_dev_database(server_engine.dialect)
    try:
        assert isinstance(dev, server_engine.dev_class)
        server = dev.server
        tmpdir, pid = server.tmpdir, server.pid
        assert tmpdir is not None and tmpdir.is_dir() and pid is not None
        assert dev.description == server_engine.description.format(s=server)
        with create_engine(server.url()).connect() as conn:
            for query, value in server_engine.settings.items():
                assert conn.execute(text(query)).scalar() == value, query
            for statement in server_engine.statements:
                conn.execute(text(statement))

        with dev.clean_database() as db:
            first_db = db.url.database
            assert first_db.startswith("atlembic_dev_")
            with db.begin() as conn:
                conn.execute(text("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))"))
                conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'x')"))
            assert _table_names(db) == ["t"]
        with dev.clean_database() as db:  # the dropped database's name (and Engine) may come back: empty
            assert _table_names(db) == []
        with create_engine(server.url()).connect() as conn:
            names = conn.execute(text(server_engine.databases_sql)).scalars().all()
        assert not [n for n in names if n.startswith("atlembic_dev_")], "scratch databases must be dropped"
    finally:
        dev.close()
    assert not tmpdir.exists()
    assert _wait_until(lambda: not _pid_alive(pid))
    assert _processes_mentioning(tmpdir) == []
    dev.close()  # idempotent


def test_scratch_database_dropped_when_the_block_fails(pg_server: EphemeralPostgres) -> None:  # noqa: F811
    dev = EphemeralPostgresDevDatabase(pg_server)
    with pytest.raises(RuntimeError), dev.clean_database() as engine:
        name = engine.url.database
        with engine.connect() as conn:  # an open connection must not block the drop
            conn.execute(text("CREATE TABLE t (id int)"))
            raise RuntimeError("boom")
    with create_engine(pg_server.url()).connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
    assert exists is None
    dev.close()
    assert pg_server.running, "a server passed in is not ours to stop"


def test_scratch_names_come_back_with_their_engine(pg_server: EphemeralPostgres) -> None:  # noqa: F811
    """A dropped scratch database's name is handed out again with its Engine (and that Engine's compiled
    reflection queries); the database behind it is new and empty, and two at once never share a name."""
    for dev in (EphemeralPostgresDevDatabase(pg_server),
                open_dev_database("postgresql", pg_server.url().render_as_string(hide_password=False))):
        try:
            with dev.clean_database() as first, first.begin() as conn:
                conn.execute(text("CREATE TABLE t (id int)"))
            with dev.clean_database() as again, dev.clean_database() as other:
                assert again is first and _table_names(again) == []
                assert other is not first and other.url.database != first.url.database
        finally:
            dev.close()


def test_ephemeral_refuses_unclean_database(tmp_path: Path) -> None:
    bindir = pg_bindir_or_skip()
    with EphemeralPostgres(bindir) as server:
        # Scratch databases are copies of template1: pollute it.
        engine = create_engine(server.url("template1"))
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE leftover (id int)"))
        engine.dispose()
        dev = EphemeralPostgresDevDatabase(server)
        refused = r'dev database .* is not clean: found table "leftover"'
        with pytest.raises(AtlembicError, match=refused), dev.clean_database():
            pass
        with create_engine(server.url()).connect() as conn:
            names = conn.execute(text("SELECT datname FROM pg_database")).scalars().all()
        assert not [n for n in names if n.startswith("atlembic_dev_")]


@pytest.mark.slow  # server-heavy: initdb / install-db of a new template
def test_template_cache_is_used_and_rebuilt(server_engine: ServerEngine, isolated_cache: Path) -> None:
    def start_stop() -> bool:
        with server_engine.server(use_template=True, cache_dir=isolated_cache) as server:
            with create_engine(server.url()).connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
            return server.started_from_template

    assert start_stop() is False  # cold: initialize, then the template is saved
    template = server_engine.server(cache_dir=isolated_cache).template_dir
    marker = template / "complete.json"
    assert marker.is_file()
    assert start_stop() is True

    marker.unlink()  # an incomplete template (a builder died before writing the marker)
    assert start_stop() is False
    assert marker.is_file()

    # Complete-looking but broken: the server cannot start from it -> fall back to initializing, rebuild.
    (template / "data" / server_engine.vital_file).write_bytes(b"garbage")
    assert start_stop() is False
    assert start_stop() is True
    assert list(isolated_cache.iterdir()) == [template], "no staging or broken templates left"


# ------------------------------------------------------------------------------------------ --dev-url


def test_dev_url_scratch_mode(pg_server: EphemeralPostgres) -> None:  # noqa: F811
    url = pg_server.url().set(password="s3cret")  # trust auth ignores it; it must not be shown
    with open_dev_database("postgresql", url.render_as_string(hide_password=False)) as dev:
        assert isinstance(dev, UrlDevDatabase) and dev.mode == "scratch"
        assert dev.description.startswith("scratch databases on postgresql+psycopg://postgres:***@")
        assert "s3cret" not in dev.description
        with dev.clean_database() as engine:
            scratch = engine.url.database
            assert scratch.startswith("atlembic_dev_")
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE t (id int)"))
        with dev.clean_database() as engine:
            assert _table_names(engine) == []
    with create_engine(pg_server.url()).connect() as conn:
        gone = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": scratch}).first()
    assert gone is None


@pytest.fixture
def nocreate_db(pg_server: EphemeralPostgres) -> Iterator[str]:  # noqa: F811
    """Role ``nocreate`` (LOGIN, no CREATEDB) owning database ``devfull``; yields its URL."""
    admin = create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS devfull WITH (FORCE)"))
        conn.execute(text("DROP ROLE IF EXISTS nocreate"))
        conn.execute(text("CREATE ROLE nocreate LOGIN NOCREATEDB PASSWORD 'Secret-9z7q'"))
        conn.execute(text("CREATE DATABASE devfull OWNER nocreate"))
    url = pg_server.url("devfull").set(username="nocreate", password="Secret-9z7q")
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS devfull WITH (FORCE)"))
        conn.execute(text("DROP ROLE IF EXISTS nocreate"))
    admin.dispose()


def test_dev_url_without_createdb_uses_the_database_itself(nocreate_db: str) -> None:
    user_engine = create_engine(nocreate_db)
    with user_engine.begin() as conn:
        conn.execute(text("CREATE TABLE x (id int)"))

    with open_dev_database("postgresql", nocreate_db) as dev:
        assert isinstance(dev, UrlDevDatabase) and dev.mode == "in-place"
        assert "itself" in dev.description and "Secret-9z7q" not in dev.description
        assert "nocreate:***@" in dev.description
        refused = r'dev database .*devfull.* is not clean: found table "x"'
        with pytest.raises(AtlembicError, match=refused), dev.clean_database():
            pass
        with user_engine.begin() as conn:  # refused, and left alone
            assert conn.execute(text("SELECT count(*) FROM x")).scalar() == 0
            conn.execute(text("DROP TABLE x"))

        for _ in range(2):
            with dev.clean_database() as engine:
                assert engine.url.database == "devfull"
                with engine.begin() as conn:
                    conn.execute(text("CREATE TYPE mood AS ENUM ('a', 'b')"))
                    conn.execute(text("CREATE TYPE pair AS (a int, b int)"))
                    conn.execute(text("CREATE DOMAIN posint AS int CHECK (VALUE > 0)"))
                    conn.execute(text("CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY, m mood, p pair, s serial)"))
                    conn.execute(text("CREATE SEQUENCE standalone"))
                    conn.execute(text("CREATE VIEW v AS SELECT id FROM t"))
                    conn.execute(text("CREATE MATERIALIZED VIEW mv AS SELECT id FROM t"))
                    conn.execute(text("CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS 'SELECT x'"))
                    conn.execute(text("CREATE SCHEMA other"))
                    conn.execute(text("CREATE TABLE other.y (id int)"))
    # Left empty, and the public schema is still the one the database came with.
    with user_engine.connect() as conn:
        assert find_leftover(conn) is None
        owner_sql = "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'"
        assert conn.execute(text(owner_sql)).scalar() == "pg_database_owner"
    user_engine.dispose()


def test_dev_url_switches_to_in_place_when_create_database_is_denied(nocreate_db: str) -> None:
    dev = open_dev_database("postgresql", nocreate_db)
    dev.mode = "scratch"  # as if the role looked privileged but CREATE DATABASE is refused
    with dev.clean_database() as engine:
        assert engine.url.database == "devfull"
    assert dev.mode == "in-place" and "itself" in dev.description
    dev.close()


def test_dev_url_unreachable_is_a_clear_error(tmp_path: Path) -> None:
    pg_bindir_or_skip()
    url = f"postgresql+psycopg://u:hunter2@/db?host={tmp_path}"
    with pytest.raises(AtlembicError, match="cannot connect to --dev-url") as info:
        open_dev_database("postgresql", url)
    assert "hunter2" not in str(info.value)


# ------------------------------------------------------------------------------- cleanup on signals

_CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from atlembic.engines import open_dev_database

    dialect, mode = sys.argv[1:]
    if mode == "thread":
        # As `revision --autogenerate` does: the dev database made in the main thread, its server started
        # by the replay worker (a thread cannot install signal handlers).
        import threading
        from atlembic.replay.lazy import LazyDevDatabase

        with LazyDevDatabase(dialect, None) as lazy:
            def worker():
                with lazy.clean_database() as engine, engine.connect():
                    server = lazy.dev.server
                    print(json.dumps({"tmpdir": str(server.tmpdir), "pid": server.pid}), flush=True)
                    time.sleep(60)
            thread = threading.Thread(target=worker, daemon=True)
            thread.start()
            thread.join()
        sys.exit(0)
    dev = open_dev_database(dialect)
    with dev, dev.clean_database() as engine:
        with engine.connect():
            print(json.dumps({"tmpdir": str(dev.server.tmpdir), "pid": dev.server.pid}), flush=True)
            if mode == "self-sigint":
                os.kill(os.getpid(), signal.SIGINT)
            elif mode == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)
    """
)


def _spawn_child(server_engine: ServerEngine, mode: str) -> tuple[subprocess.Popen[str], Path, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, server_engine.dialect, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,  # its own process group, like a shell job: Ctrl-C goes to the group
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=30)
        pytest.fail(f"child did not start the dev database: {proc.stderr.read() if proc.stderr else ''}")
    info = json.loads(line)
    return proc, Path(info["tmpdir"]), int(info["pid"])


def _assert_cleaned_up(tmpdir: Path, pid: int) -> None:
    assert not tmpdir.exists(), f"temp dir {tmpdir} left behind"
    assert _wait_until(lambda: not _pid_alive(pid)), f"server {pid} still running"
    assert _wait_until(lambda: _processes_mentioning(tmpdir) == []), "stray server processes"


@pytest.mark.parametrize(
    ("mode", "sig", "returncode"),
    [
        ("wait", signal.SIGINT, -signal.SIGINT),  # Ctrl-C: KeyboardInterrupt, then death by SIGINT
        ("wait", signal.SIGTERM, -signal.SIGTERM),
        ("self-sigint", None, -signal.SIGINT),
        ("thread", signal.SIGTERM, -signal.SIGTERM),  # what CI runners, systemd and `timeout` send
    ],
)
@pytest.mark.slow  # a child process starting a server, signalled
def test_signal_cleans_up(
    server_engine: ServerEngine, mode: str, sig: signal.Signals | None, returncode: int
) -> None:
    proc, tmpdir, pid = _spawn_child(server_engine, mode)
    if sig is not None:
        os.killpg(proc.pid, sig)  # what the terminal does on Ctrl-C; the server is in a session of its own
    proc.wait(timeout=30)
    assert proc.returncode == returncode, proc.stderr.read() if proc.stderr else ""
    _assert_cleaned_up(tmpdir, pid)


def test_server_of_a_killed_process_is_swept_by_the_next_start(server_engine: ServerEngine) -> None:
    proc, tmpdir, pid = _spawn_child(server_engine, "sigkill")
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert tmpdir.exists() and _pid_alive(pid)  # SIGKILL cannot be cleaned up after by the process itself...
    with server_engine.server(use_template=True):
        pass  # ...so the next start removes what dead owners left
    _assert_cleaned_up(tmpdir, pid)


def test_forked_child_does_not_stop_the_parents_server(pg_server: EphemeralPostgres) -> None:  # noqa: F811
    child = os.fork()
    if child == 0:  # multiprocessing workers: their exit or Ctrl-C must leave the parent's server alone
        try:
            pg_server.stop()
            process.stop_all()
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    assert pg_server.running and pg_server.tmpdir is not None and pg_server.tmpdir.is_dir()
    engine = create_engine(pg_server.url())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


def test_devdatabase_api_surface() -> None:
    assert issubclass(SqliteMemoryDevDatabase, DevDatabase)
    assert issubclass(EphemeralPostgresDevDatabase, DevDatabase)
    assert issubclass(EphemeralMySQLDevDatabase, DevDatabase)
    assert issubclass(UrlDevDatabase, DevDatabase)
    assert make_url("postgresql://u:p@h/db").render_as_string(hide_password=True) == "postgresql://u:***@h/db"


_URL_OF = {"postgresql": "postgresql+psycopg://u:secret@127.0.0.1:1/db",
           "mariadb": "mysql+pymysql://u:secret@127.0.0.1:1/db"}


@pytest.mark.slow  # the CLI in a child process, its dev server started, signalled
def test_sigterm_to_a_planning_command_stops_its_server_at_once(server_engine: ServerEngine, tmp_path: Path) -> None:
    """`revision --autogenerate` through the CLI, SIGTERM'd (as `timeout`, systemd and CI runners stop a job)
    while the replay worker's dev server runs and the models are still loading: the command dies of the signal,
    its server and temp dir go with it, and no migration file is written. The target URL is a closed port:
    planning never connects to it."""
    # The servers' temp base as the system's: a root run starts them as another user, who must reach it.
    base, migrations = Path(tempfile.mkdtemp(prefix="atlembic-sigterm-")), tmp_path / "migrations"
    base.chmod(0o755)
    migrations.mkdir()
    url = _URL_OF[server_engine.dialect]
    (tmp_path / "alembic.ini").write_text(f"[alembic]\nsqlalchemy.url = {url}\n\n[atlembic]\n"
                                          "migrations_dir = %(here)s/migrations\nmetadata = models:metadata\n")
    (tmp_path / "models.py").write_text("import time\nimport sqlalchemy as sa\nmetadata = sa.MetaData()\n"
                                        "sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
                                        "time.sleep(60)  # still loading when the signal comes\n")
    (migrations / "20260101000000_a.sql").write_text("CREATE TABLE t (id INT PRIMARY KEY);\n")
    MigrationDir(migrations).write_sum()
    temp_env = f"ATLEMBIC_{server_engine.server_class.name.upper()}_TMPDIR"
    env = {**os.environ, "PYTHONPATH": str(REPO), temp_env: str(base), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "atlembic", "revision", "--autogenerate", "-m", "x"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if not _wait_until(lambda: bool(_processes_mentioning(base)), timeout=60):
            proc.kill()
            pytest.fail(f"no dev server started: {proc.communicate()}")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGTERM
        assert _wait_until(lambda: _processes_mentioning(base) == []), "the dev server outlived the command"
        assert not [p.name for p in base.iterdir() if p.name.startswith("atlembic-")], list(base.iterdir())
    finally:
        proc.kill()
        shutil.rmtree(base, ignore_errors=True)
    assert sorted(p.name for p in migrations.iterdir()) == ["20260101000000_a.sql", "atlas.sum"]


def test_a_temp_base_the_server_user_cannot_enter_is_named() -> None:
    """As root the servers run as another user, who must reach their data dirs: the first directory on the way
    they may not enter (by its mode bits for them) is what the one-line error names."""
    other = process.RunAs("someone", uid=os.getuid() + 4242, gid=os.getgid() + 4242)
    top = Path(tempfile.mkdtemp(prefix="atlembic-blocked-"))  # in the system's temp dir, which others enter
    try:
        inner = top / "closed" / "open"
        inner.mkdir(parents=True)
        top.chmod(0o755)
        (top / "closed").chmod(0o700)
        assert other.blocked_at(inner) == top / "closed"
        (top / "closed").chmod(0o711)
        assert other.blocked_at(inner) is None
    finally:
        shutil.rmtree(top)


# Imported by the first revision below: waits until a process names the servers' temp base in its command line
# (the dev server, started next to this import) and says in `seen` whether one did.
_MODELS_WAITING_FOR_THE_SERVER = textwrap.dedent(
    """
    import os, time
    from pathlib import Path
    import sqlalchemy as sa

    def _server_running(base):
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and base.encode() in (entry / "cmdline").read_bytes():
                    return True
            except OSError:
                pass
        return False

    deadline = time.monotonic() + float(os.environ["WAITED_SECONDS"])
    while not _server_running(os.environ["WAITED_BASE"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    Path(os.environ["WAITED_SEEN"]).write_text(str(_server_running(os.environ["WAITED_BASE"])))
    metadata = sa.MetaData()
    sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True))
    """
)


def test_first_revision_starts_the_dev_server_while_the_models_load(
    server_engine: ServerEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project with no migration files yet has nothing to replay, but its models' DDL needs the dev server: it
    starts while the models load (they are the first to need it), not after. The models here wait for a server
    process: without the early start they would give up after 30 s and say so. Once they have loaded, a change to
    them that compiles to the same schema (a comment) starts no server: `check` finds both schemas cached (the
    directory's since the `check` before)."""
    base = Path(tempfile.mkdtemp(prefix="atlembic-early-"))
    base.chmod(0o755)  # a root run starts the servers as another user, who must reach it
    (tmp_path / "alembic.ini").write_text(
        f"[alembic]\nsqlalchemy.url = {_URL_OF[server_engine.dialect]}\n\n[atlembic]\n"
        "migrations_dir = %(here)s/migrations\nmetadata = waiting_models:metadata\n")
    (tmp_path / "waiting_models.py").write_text(_MODELS_WAITING_FOR_THE_SERVER)
    seen = tmp_path / "seen"
    for name, value in ((f"ATLEMBIC_{server_engine.server_class.name.upper()}_TMPDIR", str(base)),
                        ("WAITED_BASE", str(base)), ("WAITED_SEEN", str(seen)), ("WAITED_SECONDS", "30"),
                        ("XDG_CACHE_HOME", str(tmp_path / "cache"))):
        monkeypatch.setenv(name, value)
    try:
        out = run_cli(tmp_path, "revision", "--autogenerate", "-m", "first").stdout
        assert seen.read_text() == "True"
        assert "add table" in out, out
        [written] = (tmp_path / "migrations").glob("*_first.sql")
        assert "CREATE TABLE" in written.read_text()

        monkeypatch.setenv("WAITED_SECONDS", "1.5")
        run_cli(tmp_path, "check")  # replays the directory, which the replay cache keeps
        with (tmp_path / "waiting_models.py").open("a") as models:
            models.write("# a comment: the same schema\n")
        run_cli(tmp_path, "check")
        assert seen.read_text() == "False"
    finally:
        shutil.rmtree(base, ignore_errors=True)
