"""PostgreSQL dev databases: an ephemeral cluster started from the local server binaries.

The cluster lives in a private temp dir (on tmpfs when there is one: initdb and the copies are about
twice as fast there), listens only on a unix socket inside that dir, runs with fsync and friends off, and
is removed on every exit path: ``stop()``, ``atexit``, SIGINT and SIGTERM.

Start-up cost is dominated by initdb (~0.35 s on tmpfs, ~0.6 s on disk). An initdb'd data directory is
therefore cached under the user cache dir and copied instead (~0.05 s to tmpfs); the cache entry is only
trusted when its marker file, written last, is present and matches, and it is rebuilt when a cluster
copied from it does not start.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    send,
    signals_deferred,
    stop_all,
    temp_base,
    terminate,
    unregister,
    wait_exit,
)
from atlembic.errors import AtlembicError

__all__ = [
    "EphemeralPostgres",
    "EphemeralPostgresDevDatabase",
    "find_pg_bindir",
    "pg_version",
    "find_leftover",
    "drop_all_objects",
    "create_database",
    "drop_database",
    "scratch_database_name",
    "open_embedded",
]

_PORT = 5432  # any port works: the socket lives in our private dir, so nothing can collide with it
_REQUIRED_BINARIES = ("initdb", "postgres")
_TEMP_PREFIX = "atlembic-pg-"
_OWNER_FILE = "atlembic-owner.pid"
_TEMPLATE_MARKER = "complete.json"
_TEMPLATE_FORMAT = 1  # bump when the initdb options below change
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
_STARTUP_TIMEOUT = 30.0


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
# Running as an unprivileged user


_RunAs = RunAs


def _run_as_user() -> _RunAs | None:
    """PostgreSQL refuses to run as root; as root, pick the ``postgres`` user, else ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _RunAs(name, entry.pw_uid, entry.pw_gid)
    raise AtlembicError(
        "running as root and there is neither a 'postgres' nor a 'nobody' user to run the dev "
        "PostgreSQL server as (PostgreSQL refuses to run as root); create one or pass --dev-url"
    )


def _child_env() -> dict[str, str]:
    # PGPORT, PGDATA, PGOPTIONS... of the user's environment must not reconfigure our private server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


# --------------------------------------------------------------------------------------------------------
# Where the cluster and the template live


def _temp_base() -> str:
    return temp_base("ATLEMBIC_PG_TMPDIR")


_cache_root = cache_root


def _template_fingerprint(bindir: Path, version: str) -> dict[str, Any]:
    return {
        "format": _TEMPLATE_FORMAT,
        "version": version,
        "bindir": str(bindir),
        "initdb": list(_INITDB_OPTIONS),
    }


def _template_valid(template: Path, fingerprint: dict[str, Any]) -> bool:
    try:
        marker = json.loads((template / _TEMPLATE_MARKER).read_text())
    except (OSError, ValueError):
        return False
    data = template / "data"
    return marker == fingerprint and (data / "PG_VERSION").is_file() and (data / "global" / "pg_control").is_file()


_remove_template = remove_dir_atomically
_wait_exit = wait_exit
_send = send
_terminate = terminate
_pid_alive = pid_alive


def _sweep_stale_clusters(base: str) -> None:
    """Remove clusters left by processes that were SIGKILLed (the only exit we cannot clean up after)."""
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
        if _pid_alive(owner):
            continue
        _kill_postmaster_of(path / "data")
        shutil.rmtree(path, ignore_errors=True)


def _kill_postmaster_of(datadir: Path) -> None:
    try:
        pid = int((datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if str(datadir).encode() in cmdline:  # guard against a recycled pid
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGQUIT)


# --------------------------------------------------------------------------------------------------------
# Cleanup on every exit path


# Shared with the other ephemeral servers (atlembic.devdb.process): one registry of live servers, stopped
# by atexit, SIGINT and SIGTERM.
_stop_all = stop_all
_register = register
_unregister = unregister
_signals_deferred = signals_deferred


# --------------------------------------------------------------------------------------------------------
# The server


class EphemeralPostgres:
    """A private, throwaway PostgreSQL cluster: ``start()`` ... ``stop()`` (or use it as a context manager).

    ``use_template`` (default on unless ``ATLEMBIC_PG_TEMPLATE=0``): copy a cached initdb'd data dir
    instead of running initdb each time.
    """

    def __init__(
        self,
        bindir: Path | None = None,
        *,
        use_template: bool | None = None,
        cache_dir: Path | None = None,
        temp_base: str | None = None,
    ) -> None:
        self.bindir = Path(bindir) if bindir is not None else find_pg_bindir()
        self.version = pg_version(self.bindir)
        if use_template is None:
            use_template = os.environ.get("ATLEMBIC_PG_TEMPLATE", "1") not in ("0", "false", "no")
        self.use_template = use_template
        self.cache_dir = Path(cache_dir) if cache_dir is not None else _cache_root()
        self._temp_base = temp_base
        self.tmpdir: Path | None = None
        self.started_from_template = False
        self._run_as = _run_as_user()
        self._proc: subprocess.Popen[bytes] | None = None
        self._child: subprocess.Popen[bytes] | None = None  # initdb / cp while starting
        self._admin: Engine | None = None
        self._owner_pid = os.getpid()

    # -- paths --------------------------------------------------------------------------------------------

    @property
    def datadir(self) -> Path:
        return self._require_tmpdir() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._require_tmpdir() / "socket"

    @property
    def log_path(self) -> Path:
        return self._require_tmpdir() / "postgres.log"

    @property
    def template_dir(self) -> Path:
        return self.cache_dir / f"pg-template-{self.version}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def _require_tmpdir(self) -> Path:
        if self.tmpdir is None:
            raise AtlembicError("the ephemeral PostgreSQL server is not started")
        return self.tmpdir

    @property
    def description(self) -> str:
        where = self.tmpdir if self.tmpdir is not None else "not started"
        return f"ephemeral PostgreSQL {self.version} cluster ({where})"

    def __repr__(self) -> str:
        return f"<EphemeralPostgres {self.version} {self.tmpdir} pid={self.pid}>"

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> EphemeralPostgres:
        if self.running:
            return self
        base = self._temp_base or _temp_base()
        _sweep_stale_clusters(base)
        self._owner_pid = os.getpid()
        _register(self)
        try:
            self.tmpdir = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX, dir=base))
            (self.tmpdir / _OWNER_FILE).write_text(f"{os.getpid()}\n")
            self._prepare_dirs()
            if not self._start_from_template():
                self._initdb()
                self._save_template()
                self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare_dirs(self) -> None:
        tmp = self._require_tmpdir()
        self.socket_dir.mkdir(mode=0o700)
        if self._run_as is not None:
            # The top dir stays ours (so the stale sweep recognizes it); the server only needs to
            # traverse it and to own data/ and socket/.
            tmp.chmod(0o711)
            self._run_as.chown(self.socket_dir)

    def _start_from_template(self) -> bool:
        if not self.use_template:
            return False
        template = self.template_dir
        fingerprint = _template_fingerprint(self.bindir, self.version)
        if not _template_valid(template, fingerprint):
            return False
        try:
            self._copy_tree(template / "data", self.datadir)
        except (OSError, subprocess.SubprocessError, AtlembicError):
            shutil.rmtree(self.datadir, ignore_errors=True)
            return False  # e.g. another process is replacing it right now: just run initdb
        try:
            self._launch()
        except AtlembicError:
            # A template that looks complete but does not start is corrupt: drop it, start afresh.
            self._kill_server()
            shutil.rmtree(self.datadir, ignore_errors=True)
            _remove_template(template)
            return False
        self.started_from_template = True
        return True

    def _copy_tree(self, src: Path, dst: Path) -> None:
        cp = shutil.which("cp")
        if cp:
            # cp -a is ~2x faster than shutil.copytree here and keeps owners and modes (as root).
            self._run([cp, "-a", str(src), str(dst)], as_server_user=False)
        else:
            shutil.copytree(src, dst, symlinks=True)
        if self._run_as is not None and dst.stat().st_uid != self._run_as.uid:
            for root, dirs, files in os.walk(dst):
                for name in (root, *(os.path.join(root, n) for n in (*dirs, *files))):
                    os.chown(name, self._run_as.uid, self._run_as.gid)

    def _initdb(self) -> None:
        self.datadir.mkdir(mode=0o700)
        if self._run_as is not None:
            self._run_as.chown(self.datadir)
        self._run([str(self.bindir / "initdb"), "-D", str(self.datadir), *_INITDB_OPTIONS])

    def _save_template(self) -> None:
        """Cache the pristine data dir (before the first start) for the next runs; failures are harmless."""
        if not self.use_template:
            return
        template = self.template_dir
        staging = template.with_name(f"{template.name}.tmp-{secrets.token_hex(4)}")
        try:
            staging.mkdir(parents=True)
            self._copy_tree(self.datadir, staging / "data")
            marker = _template_fingerprint(self.bindir, self.version)
            # The marker is written last: a template without it is incomplete and never used.
            (staging / _TEMPLATE_MARKER).write_text(json.dumps(marker))
            if template.exists():
                _remove_template(template)
            staging.rename(template)
        except (OSError, subprocess.SubprocessError, AtlembicError):
            pass  # read-only home, a concurrent builder won the rename, ...
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _run(self, cmd: Sequence[str], *, as_server_user: bool = True) -> None:
        with _signals_deferred():
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
            _terminate(child)
            self._child = None
        if self.tmpdir is None:  # stop() ran meanwhile (a signal handler that did not raise)
            raise AtlembicError("the dev PostgreSQL server was stopped while it was starting")
        if child.returncode != 0:
            raise AtlembicError(
                f"{Path(cmd[0]).name} failed for the dev database (exit {child.returncode}): "
                f"{output.decode(errors='replace').strip()[-2000:]}"
            )

    def _launch(self) -> None:
        cmd = [str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(_PORT)]
        settings = {**_SERVER_SETTINGS, "unix_socket_directories": str(self.socket_dir)}
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        with open(self.log_path, "ab") as log, _signals_deferred():
            # postgres directly rather than pg_ctl: pg_ctl -w polls every 100 ms, which would be most of
            # the start-up time; we poll postmaster.pid at 5 ms and own the pid for a precise stop.
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._require_tmpdir(),
                env=_child_env(),
                start_new_session=True,
                **(self._run_as.popen_kwargs() if self._run_as else {}),
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        pidfile = self.datadir / "postmaster.pid"
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise AtlembicError(
                    f"the dev PostgreSQL server exited during start-up (exit {self._proc.returncode}): "
                    f"{self._log_tail()}"
                )
            with contextlib.suppress(OSError):
                lines = pidfile.read_text().split("\n")
                # Line 8 is the postmaster status; "ready" once it accepts connections (PG 10+).
                if len(lines) > 7 and lines[7].strip() == "ready":
                    return
            time.sleep(0.005)
        raise AtlembicError(f"the dev PostgreSQL server did not start in {_STARTUP_TIMEOUT:.0f}s")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace").strip()[-2000:]
        except OSError:
            return "(no log)"

    def _kill_server(self) -> None:
        proc = self._proc
        if proc is None:
            return
        # SIGQUIT = immediate shutdown (pg_ctl stop -m immediate): the postmaster takes its backends
        # down, releases its shared memory and exits; nothing needs to be durable.
        _send(proc, signal.SIGQUIT)
        if not _wait_exit(proc, 10):
            _send(proc, signal.SIGKILL)
            _wait_exit(proc, None)
        self._proc = None

    def stop(self) -> None:
        """Stop the server and remove its temp dir. Idempotent, and re-entrant from a signal handler:
        every step checks what is left to do, so an interrupted stop is finished by the next call."""
        if os.getpid() != self._owner_pid:
            return  # a forked copy: the server belongs to the parent process
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                admin.dispose()
        if self._child is not None:
            _terminate(self._child)
        self._kill_server()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            if not self.tmpdir.exists():
                self.tmpdir = None
        _unregister(self)

    close = stop

    def __enter__(self) -> EphemeralPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases ----------------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> URL:
        """psycopg URL of ``database`` over the unix socket, e.g. ``postgresql+psycopg://postgres@/db?host=...``."""
        # The port goes in explicitly: libpq would otherwise take $PGPORT and miss our socket.
        return URL.create(
            "postgresql+psycopg",
            username="postgres",
            database=database,
            query={"host": str(self.socket_dir), "port": str(_PORT)},
        )

    def _admin_engine(self) -> Engine:
        if not self.running:
            raise AtlembicError("the ephemeral PostgreSQL server is not running")
        if self._admin is None:
            self._admin = create_engine(self.url(), isolation_level="AUTOCOMMIT", pool_size=1)
        return self._admin

    def create_database(self, name: str) -> URL:
        with self._admin_engine().connect() as conn:
            create_database(conn, name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if not self.running:
            return  # stopped (e.g. by Ctrl-C): the whole cluster is gone already
        with self._admin_engine().connect() as conn:
            drop_database(conn, name)


# --------------------------------------------------------------------------------------------------------
# SQL helpers shared with the --dev-url implementation


_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise AtlembicError(f"refusing unusual database name {name!r}")
    return f'"{name}"'


def scratch_database_name() -> str:
    return f"atlembic_dev_{secrets.token_hex(6)}"


def _server_major(conn: Connection) -> int:
    info = conn.dialect.server_version_info or (0,)
    return int(info[0])


def create_database(conn: Connection, name: str) -> None:
    """CREATE DATABASE on an AUTOCOMMIT connection."""
    conn.exec_driver_sql(f"CREATE DATABASE {_quote_ident(name)}")


def drop_database(conn: Connection, name: str) -> None:
    """Drop ``name`` even if something still holds a connection to it (AUTOCOMMIT connection)."""
    quoted = _quote_ident(name)
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


class EphemeralPostgresDevDatabase(DevDatabase):
    """One scratch database (``atlembic_dev_<random>``) per clean state on an ephemeral cluster.

    Owns (and stops on close) the server it started; a server passed in is left running.
    """

    dialect_name = "postgresql"

    def __init__(self, server: EphemeralPostgres | None = None) -> None:
        self._owns_server = server is None
        self.server = server if server is not None else EphemeralPostgres()
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


def open_embedded(target_dialect: str | None = None) -> DevDatabase:
    return EphemeralPostgresDevDatabase()
