"""An ephemeral dev-database server, whatever the engine, and the dev database that wraps one.

:class:`EphemeralServer` is what the PostgreSQL and the MariaDB/MySQL servers share: a private temp dir,
an unprivileged OS user when run as root, the cached template data dir, start-up, readiness and stop
(registered with :mod:`atlembic.devdb.process` so that every exit path stops it), scratch databases on
an admin connection, and starting on a data dir kept by an earlier run (:mod:`atlembic.devdb.kept`). An
engine subclasses it with its names, files and commands. :class:`EphemeralServerDevDatabase` is the dev
database on such a server: a scratch database per clean state, replayed states kept as databases for the
run and, given the directory's `DirectoryStates`, between runs. See docs/architecture.md ("Ephemeral
servers").
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from atlembic.devdb.base import CloseOnExit, DevDatabase, DevDialect, DirectoryStates
from atlembic.devdb.kept import MAX_STATES, ClusterStore, KeptCluster
from atlembic.devdb.process import (
    RunAs,
    cache_root,
    interruptions,
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
from atlembic.errors import AtlembicError, plural

__all__ = ["EphemeralServer", "EphemeralServerDevDatabase", "ScratchDatabases", "scratch_database_name"]

_OWNER_FILE = "atlembic-owner.pid"
_TEMPLATE_MARKER = "complete.json"
_STOP_GRACE = 10.0  # seconds the stop signal gets before SIGKILL

_S = TypeVar("_S", bound="EphemeralServer")


def embedded_server_identity(product: str, version: str) -> str:
    """`DevDatabase.cache_identity` of an ephemeral server, started or not."""
    return f"embedded {product} {version}"


def scratch_database_name() -> str:
    return f"atlembic_dev_{secrets.token_hex(6)}"


class ScratchDatabases:
    """The scratch database names of one dev database object, each with its Engine, handed out again once
    that database is dropped.

    An Engine has its own dialect and compiled-statement cache, so an inspection through a new one compiles
    every SQLAlchemy reflection query again (on PostgreSQL that costs more than running them). Planning makes
    several scratch databases per run: a name used again brings its Engine back with a warm cache. Names stay
    unique to this object (a random prefix), so other runs on the same server never meet them."""

    def __init__(self) -> None:
        self._prefix = scratch_database_name()
        self._made = 0
        self._free: list[str] = []
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()
        self._found_clean = False

    def assert_clean(self, dialect: DevDialect, engine: Engine) -> None:
        """Refuse the just-created scratch database of `engine` if it is not empty, as the first one only: every
        scratch database is a copy of the same template (PostgreSQL's template1; MySQL's start empty), which no
        one writes while a run uses the server, so once one was empty the others are too (a check costs a
        connection and a catalog query per database)."""
        if not self._found_clean:
            dialect.assert_clean(engine)
            self._found_clean = True

    def take(self) -> str:
        """A name no database of the server has now (one dropped earlier, or a new one)."""
        with self._lock:
            if self._free:
                return self._free.pop()
            self._made += 1
            return f"{self._prefix}{self._made:x}"  # hex like the prefix: one name pattern for scratch databases

    def engine(self, name: str, url: URL) -> Engine:
        """The Engine of database `name` at `url` (made once per name)."""
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                engine = self._engines[name] = create_engine(url)
            return engine

    def disconnect(self, name: str) -> None:
        """Close the connections to database `name` (before it is dropped or renamed); its Engine stays."""
        with self._lock:
            engine = self._engines.get(name)
        if engine is not None:
            engine.dispose()  # dispose only closes the pool: the Engine and its caches stay usable

    def release(self, name: str) -> None:
        """No database is called `name` any more (dropped, or renamed): a name of ours may be taken again."""
        with self._lock:
            if name.startswith(self._prefix):
                self._free.append(name)
            else:
                self._engines.pop(name, None)

    def retire(self, name: str) -> None:
        """Database `name` stays (kept as a state under that name): never hand the name out again."""
        with self._lock:
            self._engines.pop(name, None)

    def close(self) -> None:
        with self._lock:
            engines, self._engines, self._free = list(self._engines.values()), {}, []
        for engine in engines:
            engine.dispose()


_STATE_PREFIX = "atlembic_state_"


class DataDirSource(Protocol):
    """Where a server's data dir may come from instead of the template (a data dir kept by an earlier run)."""

    def fill(self, datadir: Path) -> bool:
        """Put a data dir at `datadir` (absent); False: there is none, start as usual."""

    def accept(self, server: EphemeralServer) -> bool:
        """Whether the server started on it has what was promised; False: it is deleted, start as usual."""


class EphemeralServer(CloseOnExit, abc.ABC):
    """A private, throwaway database server: ``start()`` ... ``stop()`` (or use it as a context manager).

    ``use_template`` (default on unless ``$ATLEMBIC_<NAME>_TEMPLATE`` is 0/false/no): copy a cached
    initialized data dir instead of initializing one each time. ``cache_dir``: where templates live (default
    ``~/.cache/atlembic``); ``temp_base``: where the temp dir goes (default: tmpfs or the temp dir).
    """

    # -- what an engine says about itself -----------------------------------------------------------------

    product: str  # "PostgreSQL", "MariaDB": the server as messages name it
    version: str
    kind: ClassVar[str] = "server"  # the description's word: "ephemeral PostgreSQL 15.18 cluster (...)"
    # "pg": temp dirs atlembic-pg-* (which the sweep recognizes), $ATLEMBIC_PG_TMPDIR to put them
    # elsewhere, $ATLEMBIC_PG_TEMPLATE=0 to do without the template cache, templates pg-template-<version>
    name: ClassVar[str]
    template_format: ClassVar[int] = 1  # bump when what makes a data dir changes beyond the fingerprint
    run_as_names: ClassVar[tuple[str, ...]]  # the OS users to run as when we are root, first existing one
    env_prefixes: ClassVar[tuple[str, ...]]  # variables of the user's environment the children must not see
    run_dir_name: ClassVar[str]  # the directory besides data/ that the server owns
    pid_file: ClassVar[str]  # the server's pid file, relative to the temp dir (first line: the pid)
    log_file: ClassVar[str]  # the server's log, relative to the temp dir
    log_stdout: ClassVar[bool]  # its stdout/stderr go to the log (else it writes the log itself)
    stop_signal: ClassVar[int]  # the immediate shutdown; SIGKILL follows when it takes too long
    clean_stop_signal: ClassVar[int] = signal.SIGTERM  # the shutdown after which the data dir can be kept
    startup_timeout: ClassVar[float] = 30.0  # seconds from launch to accepting connections

    @property
    @abc.abstractmethod
    def sql(self) -> DevDialect:
        """The engine's SQL for databases (create_database, drop_database...): its dialect module's."""

    @abc.abstractmethod
    def _template_inputs(self) -> dict[str, Any]:
        """What a template is made by and with besides the version (binaries, options): the marker file holds
        it, a template made otherwise is stale."""

    @abc.abstractmethod
    def _template_complete(self, data: Path) -> bool:
        """Whether a template's data dir has the files an initialized one has."""

    @abc.abstractmethod
    def _init_command(self) -> list[str]:
        """The command that initializes the (empty, existing) data dir."""

    @abc.abstractmethod
    def _server_command(self) -> list[str]:
        """The command that runs the server in the foreground on the data dir."""

    @abc.abstractmethod
    def _ready(self) -> bool:
        """Whether the started server accepts connections."""

    @abc.abstractmethod
    def url(self, database: str | None = None) -> URL:
        """The URL of ``database`` (default: the admin database) over the server's unix socket."""

    # -- construction and state ---------------------------------------------------------------------------

    def __init__(
        self, *, use_template: bool | None = None, cache_dir: Path | None = None, temp_base: str | None = None
    ) -> None:
        if use_template is None:
            use_template = os.environ.get(self._env("TEMPLATE"), "1") not in ("0", "false", "no")
        self.use_template = use_template
        self.cache_dir = Path(cache_dir) if cache_dir is not None else cache_root()
        self._temp_base = temp_base
        self.tmpdir: Path | None = None
        self.started_from_template = False
        self.started_from_kept = False
        self._run_as = self._server_user()
        self._proc: subprocess.Popen[bytes] | None = None
        self._child: subprocess.Popen[bytes] | None = None  # the init command / cp while starting
        self._admin: Engine | None = None
        self._owner_pid = os.getpid()
        self._started_at = interruptions()  # the signals handled before this start (see `_unless_interrupted`)

    @classmethod
    def _env(cls, what: str) -> str:
        return f"ATLEMBIC_{cls.name.upper()}_{what}"

    @classmethod
    def _temp_prefix(cls) -> str:
        return f"atlembic-{cls.name}-"

    def _server_user(self) -> RunAs | None:
        run_as = run_as_user(self.run_as_names)
        if os.geteuid() == 0 and run_as is None:
            users = " nor a ".join(f"'{name}'" for name in self.run_as_names)
            raise AtlembicError(
                f"running as root and there is neither a {users} user to run the dev {self.product} server "
                f"as ({self.product} refuses to run as root); create one or pass --dev-url"
            )
        return run_as

    @property
    def datadir(self) -> Path:
        return self._require_tmpdir() / "data"

    @property
    def run_dir(self) -> Path:
        return self._require_tmpdir() / self.run_dir_name

    @property
    def log_path(self) -> Path:
        return self._require_tmpdir() / self.log_file

    @property
    def template_dir(self) -> Path:
        """The cache entry of this engine and version."""
        return self.cache_dir / f"{self._template_name}-template-{self.version}"

    @property
    def _template_name(self) -> str:
        return self.name

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def _require_tmpdir(self) -> Path:
        if self.tmpdir is None:
            raise AtlembicError(f"the ephemeral {self.product} server is not started")
        return self.tmpdir

    @property
    def description(self) -> str:
        where = self.tmpdir if self.tmpdir is not None else "not started"
        return f"ephemeral {self.product} {self.version} {self.kind} ({where})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.product} {self.version} {self.tmpdir} pid={self.pid}>"

    # -- life cycle ---------------------------------------------------------------------------------------

    @property
    def base(self) -> Path:
        """Where temp dirs (and kept data dirs) go."""
        return Path(self._temp_base or temp_base(self._env("TMPDIR")))

    def start(self: _S, kept: DataDirSource | None = None) -> _S:
        """Start the server: on the data dir `kept` gives, if it gives one that works, else on a copy of the
        template, else on a freshly initialized one."""
        if self.running:
            return self
        base = str(self.base)
        run_as = self._run_as
        blocked = run_as.blocked_at(Path(base)) if run_as is not None else None
        if run_as is not None and blocked is not None:
            raise AtlembicError(
                f"the {self.product} dev server runs as user {run_as.name} (atlembic runs as root), who may "
                f"not enter {blocked}: set {self._env('TMPDIR')} (or TMPDIR) to a directory others may enter"
            )
        self._sweep_stale_servers(base)
        self._owner_pid = os.getpid()
        self._started_at = interruptions()
        register(self)
        try:
            with self._unless_interrupted():
                self.tmpdir = Path(tempfile.mkdtemp(prefix=self._temp_prefix(), dir=base))
                (self.tmpdir / _OWNER_FILE).write_text(f"{os.getpid()}\n")
            self.run_dir.mkdir(mode=0o700)
            if self._run_as is not None:
                # The top dir stays ours (so the stale sweep recognizes it); the server only needs to
                # traverse it, and to own data/ and its run dir (socket, pid file, temp files).
                self.tmpdir.chmod(0o711)
                self._run_as.chown(self.run_dir)
            if not (kept is not None and self._start_from_kept(kept)) and not self._start_from_template():
                self._init_datadir()
                self._save_template()
                self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self: _S) -> _S:
        return self.start()

    def stop(self) -> None:
        """Stop the server and remove its temp dir. Idempotent, and re-entrant from a signal handler:
        every step checks what is left to do, so an interrupted stop is finished by the next call."""
        if os.getpid() != self._owner_pid:
            return  # a forked copy: the server belongs to the parent process
        self._release_admin()
        if self._child is not None:
            terminate(self._child)
        self._kill_server()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            if not self.tmpdir.exists():
                self.tmpdir = None
        unregister(self)

    close = stop

    def _release_admin(self) -> None:
        """Close the admin engine's connections (the server is about to stop)."""
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                admin.dispose()

    def stop_cleanly(self) -> bool:
        """Shut the server down cleanly (checkpointed: its data dir starts again without recovery), leaving
        the temp dir for `stop`. False when it is not running or does not stop cleanly in time (then it is
        killed, and its data dir must not be kept)."""
        proc = self._proc
        if proc is None or proc.poll() is not None or os.getpid() != self._owner_pid:
            return False
        self._release_admin()
        send(proc, self.clean_stop_signal)
        if not wait_exit(proc, _STOP_GRACE):
            self._kill_server()
            return False
        self._proc = None
        return proc.returncode == 0 and self.tmpdir is not None and not (self.tmpdir / self.pid_file).exists()

    # -- the data dir and its template --------------------------------------------------------------------

    def _start_from_kept(self, kept: DataDirSource) -> bool:
        """Start on the data dir `kept` gives; one that does not start, or lacks what it should hold, is
        deleted (the caller then starts from the template)."""
        try:
            if not kept.fill(self.datadir):
                return False
            if self._run_as is not None and self.datadir.stat().st_uid != self._run_as.uid:
                self._run_as.chown_tree(self.datadir)
            self._launch()
            if kept.accept(self):
                self.started_from_kept = True
                return True
        except Exception:  # OSError, AtlembicError, a driver error from accept(): a data dir we cannot trust
            pass
        self._release_admin()
        self._kill_server()
        shutil.rmtree(self.datadir, ignore_errors=True)
        return False

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
            return False  # e.g. another process is replacing it right now: just initialize afresh
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
        return {"format": self.template_format, "version": self.version, **self._template_inputs()}

    def _template_valid(self, template: Path) -> bool:
        try:
            marker = json.loads((template / _TEMPLATE_MARKER).read_text())
        except (OSError, ValueError):
            return False
        return marker == self._fingerprint() and self._template_complete(template / "data")

    def _init_datadir(self) -> None:
        self.datadir.mkdir(mode=0o700)
        if self._run_as is not None:
            self._run_as.chown(self.datadir)
        self._run(self._init_command())

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

    def _copy_tree(self, src: Path, dst: Path) -> None:
        cp = shutil.which("cp")
        if cp:
            # cp -a is ~2x faster than shutil.copytree here and keeps owners and modes (as root).
            self._run([cp, "-a", str(src), str(dst)], as_server_user=False)
        else:
            shutil.copytree(src, dst, symlinks=True)
        if self._run_as is not None and dst.stat().st_uid != self._run_as.uid:
            self._run_as.chown_tree(dst)

    # -- processes ----------------------------------------------------------------------------------------

    def _child_env(self) -> dict[str, str]:
        # PGPORT, MYSQL_UNIX_PORT... of the user's environment must not reconfigure our private server.
        env = {k: v for k, v in os.environ.items() if not k.startswith(self.env_prefixes)}
        env["LC_ALL"] = "C"
        return env

    def _popen(self, cmd: Sequence[str], *, as_server_user: bool = True, **kwargs: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env=self._child_env(),
            start_new_session=True,  # Ctrl-C in the terminal is ours to handle, not the child's
            **(self._run_as.popen_kwargs() if as_server_user and self._run_as else {}),
            **kwargs,
        )

    @contextmanager
    def _unless_interrupted(self) -> Iterator[None]:
        """`signals_deferred`, refusing to go on (AtlembicError) when a signal stopped the servers since this
        start began: a start in another thread must not leave a child or a temp dir behind that stop."""
        with signals_deferred():
            if interruptions() != self._started_at:
                raise AtlembicError(f"the dev {self.product} server was stopped while it was starting")
            yield

    def _run(self, cmd: Sequence[str], *, as_server_user: bool = True) -> None:
        """Run a helper (the init command, cp) to completion; stop() ends it if it is still running."""
        with self._unless_interrupted():
            self._child = self._popen(
                cmd, as_server_user=as_server_user, stdout=subprocess.PIPE, cwd=self._require_tmpdir()
            )
        child = self._child
        try:
            output, _ = child.communicate()
        finally:
            terminate(child)
            self._child = None
        if self.tmpdir is None:  # stop() ran meanwhile (a signal handler that did not raise)
            raise AtlembicError(f"the dev {self.product} server was stopped while it was starting")
        if child.returncode != 0:
            raise AtlembicError(
                f"{Path(cmd[0]).name} failed for the dev database (exit {child.returncode}): "
                f"{output.decode(errors='replace').strip()[-2000:]}"
            )

    def _launch(self) -> None:
        cmd = self._server_command()
        with contextlib.ExitStack() as stack:
            stdout = stack.enter_context(open(self.log_path, "ab")) if self.log_stdout else subprocess.DEVNULL
            stack.enter_context(self._unless_interrupted())
            # The server itself rather than a wrapper (pg_ctl -w polls every 100 ms, which would be most of
            # the start-up time): we poll at 5 ms and own the pid for a precise stop.
            self._proc = self._popen(cmd, stdout=stdout, cwd=self.run_dir)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise AtlembicError(
                    f"the dev {self.product} server exited during start-up (exit {self._proc.returncode}): "
                    f"{self._log_tail()}"
                )
            if self._ready():
                return
            time.sleep(0.005)
        raise AtlembicError(
            f"the dev {self.product} server did not start in {self.startup_timeout:.0f}s: {self._log_tail()}"
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
        send(proc, self.stop_signal)
        if not wait_exit(proc, _STOP_GRACE):
            send(proc, signal.SIGKILL)
            wait_exit(proc, None)
        self._proc = None

    @classmethod
    def _sweep_stale_servers(cls, base: str) -> None:
        """Remove servers left by processes that were SIGKILLed (the only exit we cannot clean up after)."""
        try:
            entries = list(os.scandir(base))
        except OSError:
            return
        for entry in entries:
            if not entry.name.startswith(cls._temp_prefix()):
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
            server = cls._kill_server_of(path)
            # A server still shutting down writes into its dir: removed under it, files would stay behind.
            deadline = time.monotonic() + _STOP_GRACE
            while server is not None and pid_alive(server) and time.monotonic() < deadline:
                time.sleep(0.01)
            shutil.rmtree(path, ignore_errors=True)

    @classmethod
    def _kill_server_of(cls, tmpdir: Path) -> int | None:
        """Signal the server a dead run left in `tmpdir` to stop; its pid, or None when none runs there."""
        try:
            pid = int((tmpdir / cls.pid_file).read_text().split("\n", 1)[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        if str(tmpdir / "data").encode() not in cmdline:  # guard against a recycled pid
            return None
        with contextlib.suppress(OSError):
            os.kill(pid, cls.stop_signal)
        return pid

    # -- databases ----------------------------------------------------------------------------------------

    def _admin_engine(self) -> Engine:
        if not self.running:
            raise AtlembicError(f"the ephemeral {self.product} server is not running")
        with _ADMIN_LOCK:  # planning uses two scratch databases at once, from two threads
            if self._admin is None:
                self._admin = create_engine(self.url(), isolation_level="AUTOCOMMIT", pool_size=1)
        return self._admin

    # Whether `create_database` can copy another database (`template=`) and `rename_database` exists.
    copies_databases = False
    # Whether its data dir may be kept between runs with the directory's states (atlembic.devdb.kept): the
    # engine can list its databases (`list_databases`) and digest what they all share (`server_globals`).
    keeps_data_dirs = False
    system_databases: ClassVar[frozenset[str]] = frozenset()  # those a fresh server has

    def create_database(self, name: str, template: str | None = None) -> URL:
        with self._admin_engine().connect() as conn:
            if template is None:
                self.sql.create_database(conn, name)
            else:
                self.sql.create_database(conn, name, template=template, file_copy=True)
        return self.url(name)

    def rename_database(self, name: str, new_name: str) -> None:
        with self._admin_engine().connect() as conn:
            self.sql.rename_database(conn, name, new_name)

    def drop_database(self, name: str) -> None:
        if not self.running:
            return  # stopped (e.g. by Ctrl-C): the whole server is gone already
        with self._admin_engine().connect() as conn:
            self.sql.drop_database(conn, name)

    def list_databases(self) -> set[str]:
        with self._admin_engine().connect() as conn:
            return self.sql.list_databases(conn)

    def server_globals(self) -> str:
        """A digest of what every database of the server shares (roles, accounts, settings)."""
        with self._admin_engine().connect() as conn:
            return self.sql.server_globals(conn)


_ADMIN_LOCK = threading.Lock()


class EphemeralServerDevDatabase(DevDatabase, Generic[_S]):
    """One scratch database (``atlembic_dev_<random>``) per clean state on an ephemeral server.

    Owns (and stops on close) the server it started; a server passed in is left running.

    With the directory's `states` (and a server of its own whose data dirs can be kept), the server starts on
    the data dir kept by an earlier run that holds the longest of them (:mod:`atlembic.devdb.kept`): that
    state is then a kept state of this run (`has_state`) from the start. At close, the longest states of
    the directory this run has are kept with the data dir for the next runs, unless the replays changed
    what every database of the server shares (roles, tablespaces, settings...) or left databases of their
    own: then the next run replays on a fresh server, as without the cache.
    """

    server_class: Callable[[], _S]

    def __init__(self, server: _S | None = None, *, states: DirectoryStates | None = None) -> None:
        self._owns_server = server is None
        self._states: dict[str, str] = {}  # in-run states: key -> database kept (dropped with the server)
        self._keep: dict[str, str] = {}  # scratch database -> the key it is kept under when discarded
        self._scratch = ScratchDatabases()
        self.server: _S = server if server is not None else self.server_class()
        self.kept_files = 0  # files covered by the state a kept data dir brought (0: none)
        self._directory = states
        self._store: ClusterStore | None = None
        self._globals: str | None = None  # what every database shares, as the server started
        if states is not None and states.keys and self._owns_server and self.server.keeps_data_dirs:
            self._store = ClusterStore(self.server.name, self.server._fingerprint(), states.cache_dir,
                                       self.server.base)
        if not self.server.running:
            self.server.start(kept=_KeptStates(self) if self._store is not None else None)
        if self._store is not None:
            try:
                self._globals = self._globals or self.server.server_globals()
            except Exception:
                self._store = None  # nothing to compare with at close: keep nothing

    @property
    def description(self) -> str:  # type: ignore[override]
        if self.kept_files:
            kept = plural(self.kept_files, "file")
            return f"{self.server.description}, started on the data dir of an earlier run ({kept})"
        return self.server.description

    @contextmanager
    def clean_database(self) -> Iterator[Engine]:
        with self._scratch_database() as engine:
            yield engine

    @property
    def cache_identity(self) -> str:  # type: ignore[override]
        return embedded_server_identity(self.server.product, self.server.version)

    @property
    def keeps_states(self) -> bool:  # type: ignore[override]
        # Without copies, a state is only worth keeping for the next runs.
        return self.server.copies_databases or self._store is not None

    @property
    def copies_states(self) -> bool:  # type: ignore[override]
        return self.server.copies_databases

    def keep_state(self, engine: Engine, key: str) -> None:
        if self.keeps_states:
            self._keep[str(engine.url.database)] = key

    def has_state(self, key: str) -> bool:
        return key in self._states

    def state_database(self, key: str) -> AbstractContextManager[Engine]:
        if self.copies_states:
            return self._scratch_database(template=self._states[key])
        return self._database(self._states.pop(key), created=False)

    def _scratch_database(self, template: str | None = None) -> AbstractContextManager[Engine]:
        name = self._scratch.take()
        self.server.create_database(name, template=template)
        return self._database(name, created=template is None)

    @contextmanager
    def _database(self, name: str, *, created: bool) -> Iterator[Engine]:
        """An engine on database `name` of the server (`created`: empty, just made), dropped at the end
        unless it was left unchanged and asked to be kept as a state (`keep_state`)."""
        unchanged = False
        try:
            engine = self._scratch.engine(name, self.server.url(name))
            if created:
                self._scratch.assert_clean(self.server.sql, engine)
            yield engine
            unchanged = True
        finally:
            self._scratch.disconnect(name)
            key = self._keep.pop(name, None)
            state = self._kept_as_state(name, key) if unchanged and key is not None else None
            if state is None:
                self.server.drop_database(name)
            if state == name:
                self._scratch.retire(name)
            else:
                self._scratch.release(name)

    def _kept_as_state(self, name: str, key: str) -> str | None:
        """Keep database `name` as state `key`; the database that now holds it (None: not kept)."""
        if key in self._states or not self.server.running:
            return None
        state = name
        if self.server.copies_databases:  # renamed: no longer a scratch database anyone would copy from
            state = f"{_STATE_PREFIX}{secrets.token_hex(6)}"
            try:
                self.server.rename_database(name, state)
            except Exception:  # still in use by some session: drop it as usual, nothing depends on keeping it
                return None
        self._states[key] = state
        return state

    def close(self) -> None:
        self._scratch.close()
        if self._owns_server:
            if self._store is not None:
                # Keeping is an optimization: whatever fails, the server is stopped and deleted as usual.
                with contextlib.suppress(Exception):
                    self._keep_data_dir(self._store)
                self._store.wait()
                self._store = None
            self.server.stop()

    def _keep_data_dir(self, store: ClusterStore) -> None:
        """Keep the data dir with the longest states of the directory this run has (see the class)."""
        directory = self._directory
        if directory is None or not self.server.running:
            return
        index = {key: i for i, key in enumerate(directory.in_run)}
        longest = sorted(((index[key], db) for key, db in self._states.items() if key in index), reverse=True)
        keep = {db: directory.keys[i] for i, db in longest[:MAX_STATES]}
        if not keep:
            return
        for name in self.server.list_databases() - self.server.system_databases:
            if name not in keep:
                if not name.startswith(("atlembic_dev_", _STATE_PREFIX)):
                    return  # a database some migration created: the next run must not find it
                self.server.drop_database(name)
        if self.server.server_globals() != self._globals:
            return  # a role, a setting...: shared by every database, a replay on the next run would see it
        if self.server.stop_cleanly():
            store.put(self.server.datadir, keep)


class _KeptStates:
    """The data dir source of an `EphemeralServerDevDatabase` given its directory's states: the kept data
    dir holding the longest of them, if any (see atlembic.devdb.kept)."""

    def __init__(self, dev: EphemeralServerDevDatabase[Any]) -> None:
        self.dev = dev
        self.cluster: KeptCluster | None = None
        self.covered = 0

    def fill(self, datadir: Path) -> bool:
        store, directory = self.dev._store, self.dev._directory
        assert store is not None and directory is not None
        store.sweep()
        for covered, cluster in store.candidates(directory.keys):
            if store.take(cluster, datadir):
                self.cluster, self.covered = cluster, covered
                return True
        return False

    def accept(self, server: EphemeralServer) -> bool:
        dev, cluster, directory = self.dev, self.cluster, self.dev._directory
        assert cluster is not None and directory is not None
        if not set(cluster.states) <= server.list_databases():
            return False  # a state database is missing: the data dir is not what was kept
        dev._globals = dev.server.server_globals()
        index = {key: i for i, key in enumerate(directory.keys)}
        for db, key in cluster.states.items():
            if key in index:  # the others are dropped at close
                dev._states[directory.in_run[index[key]]] = db
        dev.kept_files = self.covered
        return True
