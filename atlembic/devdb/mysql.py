"""MySQL / MariaDB dev databases: an ephemeral server started from the local binaries.

The server lives in a private temp dir (tmpfs when there is one), listens only on a unix socket inside
that dir (``--skip-networking``), runs with durability off (no binlog, no flush at commit, no
doublewrite) and a small buffer pool, and is removed on every exit path: ``stop()``, ``atexit``,
SIGINT and SIGTERM (see :mod:`atlembic.devdb.process`). As root it runs as the ``mysql`` OS user.

Grant tables are on (``root`` without a password over the socket), so migrations may CREATE USER and
GRANT like on a real server.

``mariadb-install-db`` takes ~0.35 s; the installed data dir is cached under the user cache dir and
copied instead (the cache entry is trusted only when its marker file, written last, matches).

MySQL 8 targets: when only MariaDB is installed locally, plans for a ``mysql://`` target are computed
and verified on MariaDB and a one-line warning says so; ``--dev-url mysql://...`` of a MySQL server
gives exact results. An Oracle MySQL server found locally is used instead (``mysqld
--initialize-insecure``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL

from atlembic.devdb import DevDatabase, assert_clean
from atlembic.devdb.process import (
    RunAs,
    cache_root,
    pid_alive,
    register,
    remove_dir_atomically,
    run_as_user,
    send,
    signals_deferred,
    temp_base,
    terminate,
    unregister,
    wait_exit,
)
from atlembic.errors import AtlembicError

__all__ = [
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

_TEMP_PREFIX = "atlembic-mysql-"
_OWNER_FILE = "atlembic-owner.pid"
_SOCKET = "mysqld.sock"
_TEMPLATE_MARKER = "complete.json"
_TEMPLATE_FORMAT = 1  # bump when the install options below change
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
    "--skip-name-resolve",
    "--performance-schema=OFF",
    "--character-set-server=utf8mb4",
    "--skip-ssl",
)
_MARIADB_OPTIONS = ("--collation-server=utf8mb4_general_ci", "--innodb-flush-method=nosync")
_STARTUP_TIMEOUT = 60.0
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
# Stale servers of killed processes


def _sweep_stale_servers(base: str) -> None:
    """Remove servers left by processes that were SIGKILLed (the only exit we cannot clean up after)."""
    try:
        entries = list(os.scandir(base))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(_TEMP_PREFIX):
            continue
        path = Path(entry.path)
        try:
            if entry.stat(follow_symlinks=False).st_uid != os.geteuid():
                continue
            owner = int((path / _OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            continue
        if pid_alive(owner):
            continue
        _kill_server_of(path)
        shutil.rmtree(path, ignore_errors=True)


def _kill_server_of(tmpdir: Path) -> None:
    try:
        pid = int((tmpdir / "run" / "mysqld.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if str(tmpdir).encode() in cmdline:  # guard against a recycled pid
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------------------------------------
# The server


class EphemeralMariaDB:
    """A private, throwaway MariaDB (or MySQL) server: ``start()`` ... ``stop()``, or a context manager.

    ``use_template`` (default on unless ``ATLEMBIC_MYSQL_TEMPLATE=0``): copy a cached installed data dir
    instead of running mariadb-install-db each time.
    """

    def __init__(
        self,
        binaries: MySQLBinaries | None = None,
        *,
        use_template: bool | None = None,
        cache_dir: Path | None = None,
        temp_base: str | None = None,
    ) -> None:
        self.binaries = binaries if binaries is not None else find_mysql_binaries()
        if use_template is None:
            use_template = os.environ.get("ATLEMBIC_MYSQL_TEMPLATE", "1") not in ("0", "false", "no")
        self.use_template = use_template
        self.cache_dir = Path(cache_dir) if cache_dir is not None else cache_root()
        self._temp_base = temp_base
        self.tmpdir: Path | None = None
        self.started_from_template = False
        self._run_as = self._server_user()
        self._proc: subprocess.Popen[bytes] | None = None
        self._child: subprocess.Popen[bytes] | None = None  # install-db / cp while starting
        self._admin: Engine | None = None
        self._owner_pid = os.getpid()

    @staticmethod
    def _server_user() -> RunAs | None:
        run_as = run_as_user(("mysql", "nobody"))
        if os.geteuid() == 0 and run_as is None:
            raise AtlembicError(
                "running as root and there is neither a 'mysql' nor a 'nobody' user to run the dev "
                "MariaDB server as; create one or pass --dev-url"
            )
        return run_as

    # -- paths and state ----------------------------------------------------------------------------------

    @property
    def version(self) -> str:
        return self.binaries.version

    @property
    def flavor(self) -> str:
        return self.binaries.flavor

    @property
    def is_mariadb(self) -> bool:
        return self.flavor == "MariaDB"

    @property
    def datadir(self) -> Path:
        return self._require_tmpdir() / "data"

    @property
    def run_dir(self) -> Path:
        return self._require_tmpdir() / "run"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / _SOCKET

    @property
    def log_path(self) -> Path:
        return self.run_dir / "mysqld.log"

    @property
    def template_dir(self) -> Path:
        return self.cache_dir / f"{self.flavor.lower()}-template-{self.version}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def _require_tmpdir(self) -> Path:
        if self.tmpdir is None:
            raise AtlembicError(f"the ephemeral {self.flavor} server is not started")
        return self.tmpdir

    @property
    def description(self) -> str:
        where = self.tmpdir if self.tmpdir is not None else "not started"
        return f"ephemeral {self.flavor} {self.version} server ({where})"

    def __repr__(self) -> str:
        return f"<EphemeralMariaDB {self.flavor} {self.version} {self.tmpdir} pid={self.pid}>"

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> EphemeralMariaDB:
        if self.running:
            return self
        base = self._temp_base or temp_base("ATLEMBIC_MYSQL_TMPDIR")
        _sweep_stale_servers(base)
        self._owner_pid = os.getpid()
        register(self)
        try:
            self.tmpdir = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=base))
            (self.tmpdir / _OWNER_FILE).write_text(f"{os.getpid()}\n")
            self.run_dir.mkdir(mode=0o700)
            if self._run_as is not None:
                # The top dir stays ours (so the stale sweep recognizes it); the server only needs to
                # traverse it, and to own data/ and run/ (socket, pid file, log, temp files).
                self.tmpdir.chmod(0o711)
                self._run_as.chown(self.run_dir)
            if not self._start_from_template():
                self._install()
                self._save_template()
                self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_from_template(self) -> bool:
        if not self.use_template:
            return False
        template = self.template_dir
        if not self._template_valid(template):
            return False
        try:
            self._copy_tree(template / "data", self.datadir)
        except (OSError, subprocess.SubprocessError, AtlembicError):
            shutil.rmtree(self.datadir, ignore_errors=True)
            return False  # e.g. another process is replacing it right now: just install afresh
        try:
            self._launch()
        except AtlembicError:
            # A template that looks complete but does not start is corrupt: drop it, start afresh.
            self._kill_server()
            shutil.rmtree(self.datadir, ignore_errors=True)
            remove_dir_atomically(template)
            return False
        self.started_from_template = True
        return True

    def _fingerprint(self) -> dict[str, Any]:
        return {
            "format": _TEMPLATE_FORMAT,
            "flavor": self.flavor,
            "version": self.version,
            "server": str(self.binaries.server),
            "options": list(_STORAGE_OPTIONS),
        }

    def _template_valid(self, template: Path) -> bool:
        try:
            marker = json.loads((template / _TEMPLATE_MARKER).read_text())
        except (OSError, ValueError):
            return False
        data = template / "data"
        return marker == self._fingerprint() and (data / "mysql").is_dir() and (data / "ibdata1").is_file()

    def _copy_tree(self, src: Path, dst: Path) -> None:
        cp = shutil.which("cp")
        if cp:
            self._run([cp, "-a", str(src), str(dst)], as_server_user=False)
        else:
            shutil.copytree(src, dst, symlinks=True)
        if self._run_as is not None and dst.stat().st_uid != self._run_as.uid:
            self._run_as.chown_tree(dst)

    def _install(self) -> None:
        self.datadir.mkdir(mode=0o700)
        if self._run_as is not None:
            self._run_as.chown(self.datadir)
        if self.binaries.install_db is not None:
            cmd = [
                str(self.binaries.install_db),
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--basedir={self._basedir()}",
                "--auth-root-authentication-method=normal",  # root without password, on our socket only
                "--skip-test-db",
                "--skip-name-resolve",
                *_STORAGE_OPTIONS,
            ]
        else:  # Oracle MySQL 5.7+/8: the server initializes its own data dir
            cmd = [
                str(self.binaries.server),
                "--no-defaults",
                "--initialize-insecure",
                f"--datadir={self.datadir}",
                *_STORAGE_OPTIONS,
            ]
        self._run(cmd)

    def _basedir(self) -> Path:
        # mariadb-install-db finds share/ (the system tables' SQL) relative to the basedir.
        return self.binaries.server.parent.parent

    def _save_template(self) -> None:
        """Cache the pristine data dir (before the first start) for the next runs; failures are harmless."""
        if not self.use_template:
            return
        template = self.template_dir
        staging = template.with_name(f"{template.name}.tmp-{secrets.token_hex(4)}")
        try:
            staging.mkdir(parents=True)
            self._copy_tree(self.datadir, staging / "data")
            # The marker is written last: a template without it is incomplete and never used.
            (staging / _TEMPLATE_MARKER).write_text(json.dumps(self._fingerprint()))
            if template.exists():
                remove_dir_atomically(template)
            staging.rename(template)
        except (OSError, subprocess.SubprocessError, AtlembicError):
            pass  # read-only home, a concurrent builder won the rename, ...
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _run(self, cmd: Sequence[str], *, as_server_user: bool = True) -> None:
        with signals_deferred():
            self._child = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self._require_tmpdir(),
                env=_child_env(),
                start_new_session=True,  # Ctrl-C in the terminal is ours to handle, not the child's
                **(self._run_as.popen_kwargs() if as_server_user and self._run_as else {}),
            )
        child = self._child
        try:
            output, _ = child.communicate()
        finally:
            terminate(child)
            self._child = None
        if self.tmpdir is None:  # stop() ran meanwhile (a signal handler that did not raise)
            raise AtlembicError(f"the dev {self.flavor} server was stopped while it was starting")
        if child.returncode != 0:
            raise AtlembicError(
                f"{Path(cmd[0]).name} failed for the dev database (exit {child.returncode}): "
                f"{output.decode(errors='replace').strip()[-2000:]}"
            )

    def _launch(self) -> None:
        run = self.run_dir
        cmd = [
            str(self.binaries.server),
            "--no-defaults",  # must come first: no /etc/mysql/my.cnf, no ~/.my.cnf
            f"--datadir={self.datadir}",
            f"--socket={self.socket_path}",
            f"--pid-file={run / 'mysqld.pid'}",
            f"--log-error={self.log_path}",
            f"--tmpdir={run}",
            *_STORAGE_OPTIONS,
            *_SERVER_OPTIONS,
            *(_MARIADB_OPTIONS if self.is_mariadb else ("--mysqlx=OFF",)),
        ]
        with signals_deferred():
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=run,
                env=_child_env(),
                start_new_session=True,
                **(self._run_as.popen_kwargs() if self._run_as else {}),
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        import pymysql

        assert self._proc is not None
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise AtlembicError(
                    f"the dev {self.flavor} server exited during start-up (exit {self._proc.returncode}): "
                    f"{self._log_tail()}"
                )
            if self.socket_path.exists():
                try:
                    pymysql.connect(unix_socket=str(self.socket_path), user=_ADMIN_USER, connect_timeout=5,
                                    ssl_disabled=True).close()
                    return
                except pymysql.err.OperationalError:
                    pass
            time.sleep(0.005)
        raise AtlembicError(
            f"the dev {self.flavor} server did not start in {_STARTUP_TIMEOUT:.0f}s: {self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace").strip()[-2000:]
        except OSError:
            return "(no log)"

    def _kill_server(self) -> None:
        proc = self._proc
        if proc is None:
            return
        # SIGKILL is a correct shutdown here: the server holds nothing outside its temp dir (no shared
        # memory, no network), and that dir is deleted next. A clean shutdown would only flush InnoDB.
        send(proc, signal.SIGKILL)
        wait_exit(proc, None)
        self._proc = None

    def stop(self) -> None:
        """Stop the server and remove its temp dir. Idempotent, and re-entrant from a signal handler."""
        if os.getpid() != self._owner_pid:
            return  # a forked copy: the server belongs to the parent process
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                admin.dispose()
        if self._child is not None:
            terminate(self._child)
        self._kill_server()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            if not self.tmpdir.exists():
                self.tmpdir = None
        unregister(self)

    close = stop

    def __enter__(self) -> EphemeralMariaDB:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases ----------------------------------------------------------------------------------------

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

    def _admin_engine(self) -> Engine:
        if not self.running:
            raise AtlembicError(f"the ephemeral {self.flavor} server is not running")
        if self._admin is None:
            self._admin = create_engine(self.url(), isolation_level="AUTOCOMMIT", pool_size=1)
        return self._admin

    def create_database(self, name: str) -> URL:
        with self._admin_engine().connect() as conn:
            create_database(conn, name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if not self.running:
            return  # stopped (e.g. by Ctrl-C): the whole server is gone already
        with self._admin_engine().connect() as conn:
            drop_database(conn, name)


def _child_env() -> dict[str, str]:
    # MYSQL_HOME, MYSQL_UNIX_PORT, MYSQL_TCP_PORT... of the user's environment must not reconfigure our
    # private server; HOME would let it read ~/.my.cnf if --no-defaults were ever lost.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL", "MARIADB"))}
    env["LC_ALL"] = "C"
    return env


# --------------------------------------------------------------------------------------------------------
# SQL helpers shared with the --dev-url implementation


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise AtlembicError(f"refusing unusual database name {name!r}")
    return f"`{name}`"


def scratch_database_name() -> str:
    return f"atlembic_dev_{secrets.token_hex(6)}"


def create_database(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"CREATE DATABASE {_quote_ident(name)}")


def drop_database(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote_ident(name)}")


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


class EphemeralMySQLDevDatabase(DevDatabase):
    """One scratch database (``atlembic_dev_<random>``) per clean state on an ephemeral server.

    Owns (and stops on close) the server it started; a server passed in is left running.
    """

    dialect_name = "mysql"

    def __init__(self, server: EphemeralMariaDB | None = None) -> None:
        self._owns_server = server is None
        self.server = server if server is not None else EphemeralMariaDB()
        if not self.server.running:
            self.server.start()

    @property
    def description(self) -> str:  # type: ignore[override]
        return self.server.description

    @contextmanager
    def clean_database(self) -> Iterator[Engine]:
        name = scratch_database_name()
        url = self.server.create_database(name)
        engine: Engine | None = None
        try:
            engine = create_engine(url)
            assert_clean(engine)
            yield engine
        finally:
            if engine is not None:
                engine.dispose()
            self.server.drop_database(name)

    def close(self) -> None:
        if self._owns_server:
            self.server.stop()


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


def open_embedded(target_dialect: str | None = None) -> DevDatabase:
    dev = EphemeralMySQLDevDatabase()
    warning = flavor_warning(target_dialect, dev.server.flavor, dev.server.version)
    if warning is not None and warning not in _warned:
        _warned.add(warning)
        print(f"atlembic: {warning}", file=sys.stderr)
    return dev
