"""PostgreSQL dev databases: an ephemeral cluster started from the local server binaries.

The cluster lives in a private temp dir (on tmpfs when there is one: initdb and the copies are faster
there), listens only on a unix socket inside that dir, runs with fsync and friends off, and
is removed on every exit path: ``stop()``, ``atexit``, SIGINT and SIGTERM. What it shares with the MariaDB
server (temp dir, template cache, process handling, cleanup) is :mod:`atlembic.devdb.server`.

Start-up cost would be dominated by initdb, so an initdb'd data directory is cached under the user cache
dir and copied instead (figures: docs/benchmarks.md); the cache entry is only
trusted when its marker file, written last, is present and matches, and it is rebuilt when a cluster
copied from it does not start.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from atlembic.devdb.base import DevDatabase, DevDialect, DirectoryStates, StateIO, client_run
from atlembic.devdb.server import (
    EphemeralServer,
    EphemeralServerDevDatabase,
    embedded_server_identity,
    scratch_database_name,
)
from atlembic.devdb.url import ServerUrlDevDatabase
from atlembic.errors import AtlembicError

__all__ = [
    "DIALECT",
    "EphemeralPostgres",
    "EphemeralPostgresDevDatabase",
    "find_pg_bindir",
    "pg_version",
    "find_leftover",
    "drop_all_objects",
    "create_database",
    "drop_database",
    "rename_database",
    "list_databases",
    "server_globals",
    "scratch_database_name",
    "open_embedded",
]

_PORT = 5432  # any port works: the socket lives in our private dir, so nothing can collide with it
_REQUIRED_BINARIES = ("initdb", "postgres")
_INITDB_OPTIONS = ("-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")
_SERVER_SETTINGS = {
    "listen_addresses": "",  # unix socket only: nothing on the network can reach it
    "fsync": "off",  # a dev database is thrown away, durability buys nothing
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",  # fewer processes to start and to stop
    "max_wal_size": "128MB",  # bounds WAL on tmpfs; checkpoints are cheap with fsync off
    "logging_collector": "off",
}


# --------------------------------------------------------------------------------------------------------
# Locating the server binaries


def _has_binaries(path: Path) -> bool:
    return all(os.access(path / name, os.X_OK) for name in _REQUIRED_BINARIES)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", str(path)))


def find_pg_bindir() -> Path:
    """The directory with the PostgreSQL server binaries (initdb, postgres).

    Order: ``$ATLEMBIC_PG_BINDIR``, ``pg_config --bindir``, ``initdb`` on PATH, the newest
    ``/usr/lib/postgresql/*/bin`` (Debian/Ubuntu) or ``/usr/pgsql-*/bin`` (RHEL).
    """
    override = os.environ.get("ATLEMBIC_PG_BINDIR")
    if override:
        path = Path(override).expanduser()
        if not _has_binaries(path):
            raise AtlembicError(f"ATLEMBIC_PG_BINDIR={override} does not contain initdb and postgres")
        return path

    pg_config = shutil.which("pg_config")
    if pg_config:
        # pg_config belongs to the client package too (libpq-dev), so its bindir may lack the server.
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                path = Path(out.stdout.strip())
                if _has_binaries(path):
                    return path

    initdb = shutil.which("initdb")
    if initdb:
        # Distributions put symlinks on PATH (/usr/local/bin/initdb -> .../15/bin/initdb): the real
        # directory is where postgres lives too.
        path = Path(initdb).resolve().parent
        if _has_binaries(path):
            return path

    candidates = [Path(p) for p in (*_glob("/usr/lib/postgresql/*/bin"), *_glob("/usr/pgsql-*/bin"))]
    candidates = [p for p in candidates if _has_binaries(p)]
    if candidates:
        return max(candidates, key=_version_key)

    raise AtlembicError(
        "no PostgreSQL server binaries (initdb, postgres) found for the dev database: install them "
        "(e.g. Debian/Ubuntu `apt-get install postgresql-15`, Fedora `dnf install postgresql-server`, "
        "macOS `brew install postgresql`), set ATLEMBIC_PG_BINDIR, or pass --dev-url postgresql://..."
    )


def _glob(pattern: str) -> list[str]:
    import glob

    return glob.glob(pattern)


@functools.lru_cache(maxsize=8)
def pg_version(bindir: Path) -> str:
    """The server version of the binaries in ``bindir``, e.g. ``15.18``."""
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    match = re.search(r"\(PostgreSQL\)\s+(\S+)", out.stdout)
    if out.returncode != 0 or match is None:
        raise AtlembicError(f"cannot tell the version of {bindir / 'postgres'}: {out.stderr.strip()}")
    return match.group(1)


# --------------------------------------------------------------------------------------------------------
# The server


class EphemeralPostgres(EphemeralServer):
    """A private, throwaway PostgreSQL cluster: ``start()`` ... ``stop()`` (or use it as a context manager).

    ``use_template`` (default on unless ``ATLEMBIC_PG_TEMPLATE=0``): copy a cached initdb'd data dir
    instead of running initdb each time. ``cache_dir``, ``temp_base``: see :class:`EphemeralServer`.
    """

    product = "PostgreSQL"
    kind = "cluster"
    name = "pg"
    run_as_names = ("postgres", "nobody")  # PostgreSQL refuses to run as root
    copies_databases = True  # CREATE DATABASE ... TEMPLATE
    env_prefixes = ("PG",)  # PGPORT, PGDATA, PGOPTIONS...
    run_dir_name = "socket"
    pid_file = "data/postmaster.pid"
    log_file = "postgres.log"
    log_stdout = True
    # SIGQUIT = immediate shutdown (pg_ctl stop -m immediate): the postmaster takes its backends down,
    # releases its shared memory and exits; nothing needs to be durable.
    stop_signal = signal.SIGQUIT
    # SIGINT = fast shutdown (pg_ctl stop -m fast): a checkpoint, then the data dir is consistent and starts
    # without recovery, cheap with fsync off: for a data dir that is kept.
    clean_stop_signal = signal.SIGINT
    system_databases = frozenset({"postgres", "template0", "template1"})
    keeps_data_dirs = True

    @property
    def sql(self) -> DevDialect:
        return DIALECT

    def __init__(self, bindir: Path | None = None, **options: Any) -> None:
        self.bindir = Path(bindir) if bindir is not None else find_pg_bindir()
        self.version = pg_version(self.bindir)
        super().__init__(**options)

    @property
    def socket_dir(self) -> Path:
        return self.run_dir

    def _template_inputs(self) -> dict[str, Any]:
        return {"bindir": str(self.bindir), "initdb": list(_INITDB_OPTIONS)}

    def _template_complete(self, data: Path) -> bool:
        return (data / "PG_VERSION").is_file() and (data / "global" / "pg_control").is_file()

    def _init_command(self) -> list[str]:
        return [str(self.bindir / "initdb"), "-D", str(self.datadir), *_INITDB_OPTIONS]

    def _server_command(self) -> list[str]:
        cmd = [str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(_PORT)]
        settings = {**_SERVER_SETTINGS, "unix_socket_directories": str(self.socket_dir)}
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd

    def _ready(self) -> bool:
        try:
            lines = (self._require_tmpdir() / self.pid_file).read_text().split("\n")
        except OSError:
            return False
        # Line 8 is the postmaster status; "ready" once it accepts connections (PG 10+).
        return len(lines) > 7 and lines[7].strip() == "ready"

    def url(self, database: str | None = "postgres") -> URL:
        """psycopg URL of ``database`` over the unix socket, e.g. ``postgresql+psycopg://postgres@/db?host=...``."""
        # The port goes in explicitly: libpq would otherwise take $PGPORT and miss our socket.
        return URL.create(
            "postgresql+psycopg",
            username="postgres",
            database=database,
            query={"host": str(self.socket_dir), "port": str(_PORT)},
        )


# --------------------------------------------------------------------------------------------------------
# SQL helpers shared with the --dev-url implementation


_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise AtlembicError(f"refusing unusual database name {name!r}")
    return f'"{name}"'


def _server_major(conn: Connection) -> int:
    info = conn.dialect.server_version_info or (0,)
    return int(info[0])


def create_database(conn: Connection, name: str, template: str | None = None, *, file_copy: bool = False) -> None:
    """CREATE DATABASE on an AUTOCOMMIT connection; with `template`, a file-level copy of that database.

    `file_copy` (PostgreSQL 15+, our ephemeral clusters only): ``STRATEGY FILE_COPY`` copies the template's
    files instead of writing every block to the WAL (15's default, WAL_LOG): faster for our throwaway
    clusters (docs/benchmarks.md), and the WAL does not grow by the database's size. It
    checkpoints twice, which a real server with fsync on would feel: never on a --dev-url server.
    """
    copy = f" TEMPLATE {_quote_ident(template)}" if template is not None else ""
    if template is not None and file_copy and _server_major(conn) >= 15:
        copy += " STRATEGY FILE_COPY"
    conn.exec_driver_sql(f"CREATE DATABASE {_quote_ident(name)}{copy}")


def list_databases(conn: Connection) -> set[str]:
    return set(conn.exec_driver_sql("SELECT datname FROM pg_database").scalars())


def server_globals(conn: Connection) -> str:
    """A digest of what every database of the cluster shares and a migration could change: the rows of
    the shared catalogs (roles and their memberships, tablespaces, per-database and per-role settings,
    comments and labels on shared objects, subscriptions, replication origins, parameter privileges...)
    but pg_database (databases are compared by name) and pg_shdepend (bookkeeping), and the settings of
    ALTER SYSTEM. Superuser only."""
    tables = conn.exec_driver_sql(
        "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relisshared AND c.relkind = 'r' "
        "AND c.relname NOT IN ('pg_database', 'pg_shdepend') ORDER BY 1"
    ).scalars().all()
    parts = [f"SELECT '{table}' || ':' || t::text AS row FROM {table} t" for table in tables]
    parts.append("SELECT 'file_settings:' || name || '=' || coalesce(setting, '') FROM pg_file_settings "
                 "WHERE position('postgresql.auto.conf' in sourcefile) > 0")
    rows = conn.exec_driver_sql(" UNION ALL ".join(parts) + " ORDER BY 1").scalars().all()
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def rename_database(conn: Connection, name: str, new_name: str) -> None:
    conn.exec_driver_sql(f"ALTER DATABASE {_quote_ident(name)} RENAME TO {_quote_ident(new_name)}")


def drop_database(conn: Connection, name: str) -> None:
    """Drop ``name`` even if something still holds a connection to it (AUTOCOMMIT connection)."""
    quoted = _quote_ident(name)
    _wait_for_backends_to_exit(conn, name)
    if _server_major(conn) >= 13:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        return
    conn.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": name},
    )
    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")


_EXIT_WAIT = 0.1  # seconds: what DROP DATABASE itself would sleep on finding one
_OTHER_BACKENDS = text(
    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid())")


def _wait_for_backends_to_exit(conn: Connection, name: str) -> None:
    """Wait (briefly) until no backend is connected to `name`. A connection closed just before still has its
    backend exiting for a few milliseconds, and DROP DATABASE that finds it sleeps 100 ms before looking again
    (PostgreSQL's CountOtherDBBackends): a scratch database's drop always follows such a close. Polled every
    millisecond, each statement its own snapshot (AUTOCOMMIT); a connection still held open is left to DROP ...
    WITH (FORCE) after `_EXIT_WAIT`."""
    deadline = time.monotonic() + _EXIT_WAIT
    while conn.execute(_OTHER_BACKENDS, {"name": name}).scalar() and time.monotonic() < deadline:
        time.sleep(0.001)


# Objects in user schemas that make a database "not clean". Extension members are reported as the
# extension; array types, table row types and multiranges come with their owners.
_LEFTOVER_SQL = """
WITH user_ns AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%'
),
ext_member AS (
    SELECT classid, objid FROM pg_depend WHERE deptype = 'e'
)
SELECT 0 AS ord, CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                  WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
                  WHEN 'f' THEN 'foreign table' END AS kind,
       n.nspname AS nsp, c.relname AS name
FROM pg_class c JOIN user_ns n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND NOT EXISTS (SELECT 1 FROM ext_member e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid)
UNION ALL
SELECT 1, 'type', n.nspname, t.typname
FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r')
  AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
  AND NOT EXISTS (SELECT 1 FROM pg_type a WHERE a.typarray = t.oid)
  AND NOT EXISTS (SELECT 1 FROM ext_member e WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid)
UNION ALL
SELECT 2, 'function', n.nspname, p.oid::regprocedure::text
FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
WHERE NOT EXISTS (SELECT 1 FROM ext_member e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid)
UNION ALL
SELECT 3, 'extension', NULL, extname FROM pg_extension WHERE extname <> 'plpgsql'
UNION ALL
SELECT 4, 'schema', NULL, nspname FROM user_ns WHERE nspname <> 'public'
ORDER BY ord, nsp, name
LIMIT 1
"""


def find_leftover(conn: Connection) -> str | None:
    """First user object in the database (``table "x"``, ``schema "s"``), or None when it is empty."""
    row = conn.execute(text(_LEFTOVER_SQL)).first()
    if row is None:
        return None
    _ord, kind, nsp, name = row
    qualified = name if nsp in (None, "public") else f"{nsp}.{name}"
    return f'{kind} "{qualified}"'


# Order matters only for speed; CASCADE + IF EXISTS make it correct in any order.
_DROP_SQL = """
SELECT 0 AS ord, 'EXTENSION' AS kind, quote_ident(extname) AS obj
FROM pg_extension WHERE extname <> 'plpgsql'
UNION ALL
SELECT 1, 'SCHEMA', quote_ident(nspname) FROM pg_namespace
WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
UNION ALL
SELECT 2, CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                         WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype IN ('e', 'i', 'a'))
UNION ALL
SELECT 3, 'TYPE', quote_ident(n.nspname) || '.' || quote_ident(t.typname)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' AND t.typtype IN ('b', 'c', 'd', 'e', 'r')
  AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
  AND NOT EXISTS (SELECT 1 FROM pg_type a WHERE a.typarray = t.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                  AND d.objid = t.oid AND d.deptype = 'e')
UNION ALL
SELECT 4, 'ROUTINE', p.oid::regprocedure::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY ord
"""


def drop_all_objects(conn: Connection) -> None:
    """Empty a database we may not drop, object by object (AUTOCOMMIT connection).

    Object by object rather than ``DROP SCHEMA public CASCADE; CREATE SCHEMA public``: recreating the
    schema would change its owner and lose its grants (PG 15 gives it to pg_database_owner with a
    special ACL), and the user asked us to leave *their* database as we found it.
    """
    rows = conn.execute(text(_DROP_SQL)).all()
    for _ord, kind, obj in rows:
        conn.exec_driver_sql(f"DROP {kind} IF EXISTS {obj} CASCADE")


# --------------------------------------------------------------------------------------------------------
# The dev database


class EphemeralPostgresDevDatabase(EphemeralServerDevDatabase[EphemeralPostgres]):
    """One scratch database (``atlembic_dev_<random>``) per clean state on an ephemeral cluster.

    Owns (and stops on close) the server it started; a server passed in is left running.
    """

    dialect_name = "postgresql"
    server_class = EphemeralPostgres


def embedded_identity(target_dialect: str | None = None) -> str:
    return embedded_server_identity("PostgreSQL", pg_version(find_pg_bindir()))


def open_embedded(target_dialect: str | None = None, states: DirectoryStates | None = None) -> DevDatabase:
    return EphemeralPostgresDevDatabase(states=states)


class PostgresUrlDevDatabase(ServerUrlDevDatabase):
    def _setup(self) -> None:
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=1)
        try:
            with self._admin.connect() as conn:
                may_create = conn.execute(
                    text("SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user")
                ).scalar()
        except SQLAlchemyError as exc:
            raise self._connect_failed(exc) from None
        # Decided up front so that the description tells the user which mode is in use; CREATE DATABASE
        # failing with "permission denied" later switches modes too.
        self.mode = "scratch" if may_create else "in-place"

    def _permission_denied(self, exc: DBAPIError) -> bool:
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code == _INSUFFICIENT_PRIVILEGE


_INSUFFICIENT_PRIVILEGE = "42501"


class PostgresState(StateIO):
    """``pg_dump`` (plain SQL: schema and rows) and ``psql`` in one transaction, from the server binaries."""

    def _bindir(self) -> Path:
        return find_pg_bindir()

    def available(self, conn: Connection) -> bool:
        try:
            bindir = self._bindir()
            local = int(pg_version(bindir).split(".")[0])
        except (AtlembicError, ValueError):
            return False
        server = int((conn.dialect.server_version_info or (0,))[0])
        return local >= server and all(os.access(bindir / b, os.X_OK) for b in ("pg_dump", "psql"))

    def _args(self, engine: Engine) -> tuple[list[str], dict[str, str]]:
        url = engine.url
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        args = ["-d", url.database or "postgres"]
        host = url.query.get("host") or url.host
        if host:
            args += ["-h", str(host)]
        port = url.query.get("port") or url.port
        if port:
            args += ["-p", str(port)]
        if url.username:
            args += ["-U", url.username]
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        return args, env

    def dump(self, engine: Engine) -> bytes:
        args, env = self._args(engine)
        return client_run([str(self._bindir() / "pg_dump"), "--no-owner", "--no-privileges", *args], env)

    def restore(self, engine: Engine, payload: bytes) -> None:
        args, env = self._args(engine)
        client_run([str(self._bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                     *args, "-f", "-"], env, payload)

    def reset(self, engine: Engine) -> None:
        with engine.connect() as conn:
            drop_all_objects(conn.execution_options(isolation_level="AUTOCOMMIT"))


class PostgresDevDialect(DevDialect):
    name = "postgresql"
    lock_timeout = "SET lock_timeout = '10s'"

    def find_leftover(self, conn: Connection) -> str | None:
        return find_leftover(conn)

    def create_database(self, conn: Connection, name: str, template: str | None = None, *,
                        file_copy: bool = False) -> None:
        create_database(conn, name, template, file_copy=file_copy)

    def drop_database(self, conn: Connection, name: str) -> None:
        drop_database(conn, name)

    def rename_database(self, conn: Connection, name: str, new_name: str) -> None:
        rename_database(conn, name, new_name)

    def list_databases(self, conn: Connection) -> set[str]:
        return list_databases(conn)

    def server_globals(self, conn: Connection) -> str:
        return server_globals(conn)

    def drop_all_objects(self, conn: Connection) -> None:
        drop_all_objects(conn)

    def embedded_identity(self, target_dialect: str | None = None) -> str:
        return embedded_identity(target_dialect)

    def open_embedded(self, target_dialect: str | None = None, states: DirectoryStates | None = None) -> DevDatabase:
        return open_embedded(target_dialect, states)

    def open_url(self, url: URL) -> DevDatabase:
        return PostgresUrlDevDatabase(url, self)

    def state_io(self) -> StateIO:
        return PostgresState()


DIALECT = PostgresDevDialect()
