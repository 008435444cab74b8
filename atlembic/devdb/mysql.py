"""MySQL / MariaDB dev databases: an ephemeral server started from the local binaries.

The server lives in a private temp dir (tmpfs when there is one), listens only on a unix socket inside
that dir (``--skip-networking``), runs with durability off (no binlog, no flush at commit, no
doublewrite) and a small buffer pool, and is removed on every exit path: ``stop()``, ``atexit``,
SIGINT and SIGTERM (see :mod:`atlembic.devdb.server`). As root it runs as the ``mysql`` OS user.

Grant tables are on (``root`` without a password over the socket), so migrations may CREATE USER and
GRANT like on a real server.

The data dir ``mariadb-install-db`` makes is cached under the user cache dir and copied instead of
installing again (the cache entry is trusted only when its marker file, written last, matches).

MySQL 8 targets: when only MariaDB is installed locally, plans for a ``mysql://`` target are computed
and verified on MariaDB and a one-line warning says so; ``--dev-url mysql://...`` of a MySQL server
gives exact results. An Oracle MySQL server found locally is used instead (``mysqld
--initialize-insecure``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from atlembic.devdb.base import DevDatabase, DevDialect, DirectoryStates, StateIO, client_run
from atlembic.devdb.server import (
    EphemeralServer,
    EphemeralServerDevDatabase,
    embedded_server_identity,
    scratch_database_name,
)
from atlembic.devdb.url import ServerUrlDevDatabase
from atlembic.errors import AtlembicError, mask_url

__all__ = [
    "DIALECT",
    "MySQLBinaries",
    "EphemeralMariaDB",
    "EphemeralMySQLDevDatabase",
    "find_mysql_binaries",
    "find_leftover",
    "drop_all_objects",
    "create_database",
    "drop_database",
    "scratch_database_name",
    "open_embedded",
]

_SOCKET = "mysqld.sock"
_SERVERS = ("mariadbd", "mysqld")
_INSTALLERS = ("mariadb-install-db", "mysql_install_db")
_SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/mysql/bin", "/usr/local/mysql/scripts", "/usr/local/bin")
# Options that shape the data dir; the server gets the same ones so nothing is resized at start.
_STORAGE_OPTIONS = ("--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M")
_SERVER_OPTIONS = (
    "--skip-networking",  # unix socket only: nothing on the network can reach it
    "--skip-log-bin",
    "--sync-binlog=0",
    "--innodb-flush-log-at-trx-commit=0",  # a dev database is thrown away: durability buys nothing
    "--innodb-doublewrite=0",
    # Optimizer statistics kept in mysql.innodb_*_stats are written for every CREATE TABLE, for plans nobody
    # runs on a dev database.
    "--innodb-stats-persistent=0",
    "--skip-name-resolve",
    "--performance-schema=OFF",
    "--character-set-server=utf8mb4",
    "--skip-ssl",
)
_MARIADB_OPTIONS = ("--collation-server=utf8mb4_general_ci", "--innodb-flush-method=nosync")
_ADMIN_USER = "root"


# --------------------------------------------------------------------------------------------------------
# Locating the server binaries


@dataclass(frozen=True)
class MySQLBinaries:
    server: Path  # mariadbd / mysqld
    install_db: Path | None  # mariadb-install-db / mysql_install_db (None: mysqld --initialize-insecure)
    flavor: str  # "MariaDB" or "MySQL"
    version: str  # e.g. "10.11.19"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _first(names: Sequence[str], dirs: Sequence[Path]) -> Path | None:
    for directory in dirs:
        for name in names:
            if _executable(directory / name):
                return directory / name
    return None


def _search_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    return [*dirs, *(Path(d) for d in _SEARCH_DIRS)]


def find_mysql_binaries() -> MySQLBinaries:
    """The MariaDB (or MySQL) server and its install-db script.

    Order: ``$ATLEMBIC_MYSQL_BINDIR`` (and its sibling ``bin``/``sbin``/``scripts`` dirs), ``PATH``,
    ``/usr/sbin``, ``/usr/bin``, ``/usr/local/mysql/{bin,scripts}``. MariaDB is preferred when both are
    installed.
    """
    override = os.environ.get("ATLEMBIC_MYSQL_BINDIR")
    if override:
        base = Path(override).expanduser()
        dirs = [base, *(base.parent / d for d in ("bin", "sbin", "scripts"))]
        server = _first(_SERVERS, dirs)
        if server is None:
            raise AtlembicError(f"ATLEMBIC_MYSQL_BINDIR={override} contains neither mariadbd nor mysqld")
    else:
        dirs = _search_dirs()
        server = _first(_SERVERS, dirs)
    if server is None:
        raise AtlembicError(
            "no MariaDB/MySQL server binaries (mariadbd, mariadb-install-db) found for the dev database: "
            "install them (e.g. Debian/Ubuntu `apt-get install mariadb-server`, Fedora `dnf install "
            "mariadb-server`, macOS `brew install mariadb`), set ATLEMBIC_MYSQL_BINDIR, or pass "
            "--dev-url mysql+pymysql://..."
        )
    flavor, version = server_version(server)
    install_db = _first(_INSTALLERS, [server.parent, *dirs]) if flavor == "MariaDB" else None
    if flavor == "MariaDB" and install_db is None:
        raise AtlembicError(
            f"found {server} but not mariadb-install-db to create its data directory: install the full "
            "mariadb-server package, set ATLEMBIC_MYSQL_BINDIR, or pass --dev-url mysql+pymysql://..."
        )
    return MySQLBinaries(server, install_db, flavor, version)


@functools.lru_cache(maxsize=8)
def server_version(server: Path) -> tuple[str, str]:
    """("MariaDB", "10.11.19") or ("MySQL", "8.0.36") for a server binary."""
    try:
        out = subprocess.run([str(server), "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise AtlembicError(f"cannot run {server} --version: {exc}") from None
    match = re.search(r"Ver\s+(\d+\.\d+\.\d+)(\S*)", out.stdout)
    if out.returncode != 0 or match is None:
        raise AtlembicError(f"cannot tell the version of {server}: {(out.stderr or out.stdout).strip()}")
    flavor = "MariaDB" if "mariadb" in (match.group(2) + out.stdout).lower() else "MySQL"
    return flavor, match.group(1)


# --------------------------------------------------------------------------------------------------------
# The server


class EphemeralMariaDB(EphemeralServer):
    """A private, throwaway MariaDB (or MySQL) server: ``start()`` ... ``stop()``, or a context manager.

    ``use_template`` (default on unless ``ATLEMBIC_MYSQL_TEMPLATE=0``): copy a cached installed data dir
    instead of running mariadb-install-db each time. ``cache_dir``, ``temp_base``: see :class:`EphemeralServer`.
    """

    name = "mysql"
    run_as_names = ("mysql", "nobody")
    env_prefixes = ("MYSQL", "MARIADB")  # MYSQL_HOME, MYSQL_UNIX_PORT, MYSQL_TCP_PORT...
    run_dir_name = "run"  # socket, pid file, log, temp files
    pid_file = "run/mysqld.pid"
    log_file = "run/mysqld.log"
    log_stdout = False
    # SIGKILL is a correct shutdown here: the server holds nothing outside its temp dir (no shared
    # memory, no network), and that dir is deleted next. A clean shutdown would only flush InnoDB.
    stop_signal = signal.SIGKILL
    # SIGTERM: a clean shutdown (InnoDB flushed), after which the data dir is kept (atlembic.devdb.kept).
    clean_stop_signal = signal.SIGTERM
    startup_timeout = 60.0
    keeps_data_dirs = True
    system_databases = frozenset({"mysql", "information_schema", "performance_schema", "sys"})

    @property
    def sql(self) -> DevDialect:
        return DIALECT

    def __init__(self, binaries: MySQLBinaries | None = None, **options: Any) -> None:
        self.binaries = binaries if binaries is not None else find_mysql_binaries()
        super().__init__(**options)

    @property
    def version(self) -> str:  # type: ignore[override]
        return self.binaries.version

    @property
    def flavor(self) -> str:
        return self.binaries.flavor

    product = flavor

    @property
    def is_mariadb(self) -> bool:
        return self.flavor == "MariaDB"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / _SOCKET

    @property
    def _template_name(self) -> str:
        return self.flavor.lower()

    def _template_inputs(self) -> dict[str, Any]:
        return {"flavor": self.flavor, "server": str(self.binaries.server), "options": list(_STORAGE_OPTIONS)}

    def _template_complete(self, data: Path) -> bool:
        return (data / "mysql").is_dir() and (data / "ibdata1").is_file()

    def _init_command(self) -> list[str]:
        if self.binaries.install_db is None:  # Oracle MySQL 5.7+/8: the server initializes its own data dir
            return [
                str(self.binaries.server),
                "--no-defaults",
                "--initialize-insecure",
                f"--datadir={self.datadir}",
                *_STORAGE_OPTIONS,
            ]
        return [
            str(self.binaries.install_db),
            "--no-defaults",
            f"--datadir={self.datadir}",
            # mariadb-install-db finds share/ (the system tables' SQL) relative to the basedir.
            f"--basedir={self.binaries.server.parent.parent}",
            "--auth-root-authentication-method=normal",  # root without password, on our socket only
            "--skip-test-db",
            "--skip-name-resolve",
            *_STORAGE_OPTIONS,
        ]

    def _server_command(self) -> list[str]:
        run = self.run_dir
        return [
            str(self.binaries.server),
            "--no-defaults",  # must come first: no /etc/mysql/my.cnf, no ~/.my.cnf
            f"--datadir={self.datadir}",
            f"--socket={self.socket_path}",
            f"--pid-file={self._require_tmpdir() / self.pid_file}",
            f"--log-error={self.log_path}",
            f"--tmpdir={run}",
            *_STORAGE_OPTIONS,
            *_SERVER_OPTIONS,
            *(_MARIADB_OPTIONS if self.is_mariadb else ("--mysqlx=OFF",)),
        ]

    def _ready(self) -> bool:
        import pymysql

        if not self.socket_path.exists():
            return False
        try:
            pymysql.connect(
                unix_socket=str(self.socket_path), user=_ADMIN_USER, connect_timeout=5, ssl_disabled=True
            ).close()
        except pymysql.err.OperationalError:
            return False
        return True

    def url(self, database: str | None = None) -> URL:
        """PyMySQL URL over the unix socket, e.g. ``mysql+pymysql://root@localhost/db?unix_socket=...``."""
        return URL.create(
            "mysql+pymysql",
            username=_ADMIN_USER,
            host="localhost",
            database=database,
            # ssl_disabled: a local socket needs no TLS, and PyMySQL would otherwise build an SSL context
            # (~20 ms) for every connection.
            query={"unix_socket": str(self.socket_path), "charset": "utf8mb4", "ssl_disabled": "1"},
        )


# --------------------------------------------------------------------------------------------------------
# SQL helpers shared with the --dev-url implementation


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise AtlembicError(f"refusing unusual database name {name!r}")
    return f"`{name}`"


def create_database(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"CREATE DATABASE {_quote_ident(name)}")


def drop_database(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote_ident(name)}")


def list_databases(conn: Connection) -> set[str]:
    return set(conn.exec_driver_sql("SHOW DATABASES").scalars())


# The tables of the `mysql` schema that hold what every database of a server shares and a migration can
# change: accounts, roles, grants (MySQL 8 keeps accounts in `user`, MariaDB 10.4+ in `global_priv`, with
# `user` a view over it) and federated servers. Routines and events belong to their database; global
# variables set by a migration end with the server.
_SHARED_TABLES = ("global_priv", "user", "db", "tables_priv", "columns_priv", "procs_priv", "proxies_priv",
                  "roles_mapping", "role_edges", "default_roles", "servers")


def server_globals(conn: Connection) -> str:
    """A digest of the rows of those tables (see `_SHARED_TABLES`)."""
    present = set(conn.exec_driver_sql(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql'").scalars())
    rows: list[str] = []
    for table in _SHARED_TABLES:
        if table in present:
            rows += sorted(f"{table}:{tuple(row)!r}" for row in conn.exec_driver_sql(f"SELECT * FROM mysql.`{table}`"))
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


_LEFTOVER_SQL = """
SELECT 0 AS ord, CASE TABLE_TYPE WHEN 'VIEW' THEN 'view' WHEN 'SEQUENCE' THEN 'sequence' ELSE 'table' END,
       TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()
UNION ALL
SELECT 1, LOWER(ROUTINE_TYPE), ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
UNION ALL
SELECT 2, 'event', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()
ORDER BY 1, 3
LIMIT 1
"""


def find_leftover(conn: Connection) -> str | None:
    """First object in the connection's database (``table "x"``), or None when it is empty."""
    if conn.exec_driver_sql("SELECT DATABASE()").scalar() is None:
        raise AtlembicError("the MySQL dev database URL names no database")
    row = conn.execute(text(_LEFTOVER_SQL)).first()
    return None if row is None else f'{row[1]} "{row[2]}"'


def drop_all_objects(conn: Connection) -> None:
    """Empty the connection's database without dropping it (AUTOCOMMIT connection)."""
    rows = conn.execute(
        text(
            "SELECT TABLE_TYPE, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "ORDER BY TABLE_TYPE = 'VIEW' DESC"
        )
    ).all()
    conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
    try:
        for kind, name in rows:
            keyword = {"VIEW": "VIEW", "SEQUENCE": "SEQUENCE"}.get(kind, "TABLE")
            conn.exec_driver_sql(f"DROP {keyword} IF EXISTS `{name.replace('`', '``')}`")
    finally:
        conn.exec_driver_sql("SET SESSION foreign_key_checks = 1")
    for kind, name in conn.execute(
        text("SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()")
    ).all():
        conn.exec_driver_sql(f"DROP {kind} IF EXISTS `{name.replace('`', '``')}`")
    for (name,) in conn.execute(
        text("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()")
    ).all():
        conn.exec_driver_sql(f"DROP EVENT IF EXISTS `{name.replace('`', '``')}`")


# --------------------------------------------------------------------------------------------------------
# The dev database


class EphemeralMySQLDevDatabase(EphemeralServerDevDatabase[EphemeralMariaDB]):
    """One scratch database (``atlembic_dev_<random>``) per clean state on an ephemeral server.

    Owns (and stops on close) the server it started; a server passed in is left running.
    """

    dialect_name = "mysql"
    server_class = EphemeralMariaDB


_warned: set[str] = set()


def flavor_warning(target_dialect: str | None, flavor: str, version: str) -> str | None:
    """The warning for a MySQL target planned on a MariaDB dev database (None when they agree)."""
    if (target_dialect or "").split("+", 1)[0].lower() != "mysql" or flavor != "MariaDB":
        return None
    return (
        f"warning: the dev database is MariaDB {version} (no MySQL server found locally); if the target is "
        "MySQL 8, plans are computed with MariaDB: pass --dev-url mysql+pymysql://... of a MySQL server "
        "for exact results"
    )


def warn_flavor(target_dialect: str | None, flavor: str, version: str) -> None:
    """Print `flavor_warning` once per process."""
    warning = flavor_warning(target_dialect, flavor, version)
    if warning is not None and warning not in _warned:
        _warned.add(warning)
        print(f"atlembic: {warning}", file=sys.stderr)


def embedded_identity(target_dialect: str | None = None) -> str:
    binaries = find_mysql_binaries()
    warn_flavor(target_dialect, binaries.flavor, binaries.version)
    return embedded_server_identity(binaries.flavor, binaries.version)


def open_embedded(target_dialect: str | None = None, states: DirectoryStates | None = None) -> DevDatabase:
    dev = EphemeralMySQLDevDatabase(states=states)
    warn_flavor(target_dialect, dev.server.flavor, dev.server.version)
    return dev


# MySQL/MariaDB: ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR.
_MYSQL_ACCESS_DENIED = (1044, 1045, 1227)


class MySQLUrlDevDatabase(ServerUrlDevDatabase):
    in_place_needs_database = True

    def _setup(self) -> None:
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=1)
        # MySQL has no single "may create databases" flag to look up (grants can be per pattern), so
        # try it: create and drop a probe database. Denied -> the given database itself, if it is named.
        probe = scratch_database_name()
        try:
            with self._admin.connect() as conn:
                try:
                    create_database(conn, probe)
                except DBAPIError as exc:
                    if not self._permission_denied(exc):
                        raise
                    self.mode = "in-place"
                else:
                    drop_database(conn, probe)
                    self.mode = "scratch"
        except SQLAlchemyError as exc:
            raise self._connect_failed(exc) from None
        if self.mode == "in-place" and not self.url.database:
            self._admin.dispose()
            raise AtlembicError(
                f"--dev-url {mask_url(self.url)}: may not CREATE DATABASE there, and the URL names no database "
                "to use instead; add an empty database to the URL (mysql://user@host/devdb)"
            )

    def _permission_denied(self, exc: DBAPIError) -> bool:
        args: tuple[Any, ...] = getattr(exc.orig, "args", None) or ()
        return bool(args) and isinstance(args[0], int) and args[0] in _MYSQL_ACCESS_DENIED  # (errno, message)

    def _emptying_engine(self) -> Engine:
        # A connection of its own, so that its session settings end with it.
        return create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


class MySQLState(StateIO):
    """``mariadb-dump`` / ``mysqldump`` (schema, rows, routines, triggers, events) and the ``mariadb`` client."""

    def _tools(self) -> tuple[str, str] | None:
        dump = shutil.which("mariadb-dump") or shutil.which("mysqldump")
        client = shutil.which("mariadb") or shutil.which("mysql")
        return (dump, client) if dump and client else None

    def available(self, conn: Connection) -> bool:
        # The client tools must be of the server's family: mysqldump of MariaDB speaks to MariaDB.
        tools = self._tools()
        return tools is not None and bool(getattr(conn.dialect, "is_mariadb", False)) == ("mariadb" in tools[0])

    def _args(self, engine: Engine) -> tuple[list[str], dict[str, str]]:
        url = engine.url
        env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL")}
        args = ["--no-defaults"]
        if url.query.get("unix_socket"):
            args.append(f"--socket={url.query['unix_socket']}")
        else:
            args += [f"--host={url.host or 'localhost'}", f"--port={url.port or 3306}", "--protocol=TCP"]
        if url.username:
            args.append(f"--user={url.username}")
        if url.password:
            env["MYSQL_PWD"] = str(url.password)
        return args, env

    def dump(self, engine: Engine) -> bytes:
        tools = self._tools()
        assert tools is not None
        args, env = self._args(engine)
        return client_run([tools[0], *args, "--routines", "--triggers", "--events", "--skip-comments",
                            "--skip-dump-date", "--hex-blob", "--single-transaction", "--skip-add-locks",
                            str(engine.url.database)], env)

    def restore(self, engine: Engine, payload: bytes) -> None:
        tools = self._tools()
        assert tools is not None
        args, env = self._args(engine)
        client_run([tools[1], *args, str(engine.url.database)], env, payload)

    def reset(self, engine: Engine) -> None:
        with engine.connect() as conn:
            drop_all_objects(conn)


class MySQLDevDialect(DevDialect):
    name = "mysql"
    lock_timeout = "SET SESSION lock_wait_timeout = 10"

    def find_leftover(self, conn: Connection) -> str | None:
        return find_leftover(conn)

    def create_database(self, conn: Connection, name: str, template: str | None = None, *,
                        file_copy: bool = False) -> None:
        create_database(conn, name)

    def drop_database(self, conn: Connection, name: str) -> None:
        drop_database(conn, name)

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
        return MySQLUrlDevDatabase(url, self)

    def state_io(self) -> StateIO:
        return MySQLState()


DIALECT = MySQLDevDialect()
