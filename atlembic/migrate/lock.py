"""One writer per target: the lock every applying command takes, per engine, compatible with Atlas.

Atlas takes a lock named ``atlas_migrate_execute`` before it reads the revisions table, and so does
atlembic, with the same primitive per engine so that an Atlas CLI and atlembic exclude each other too
(Atlas's ``migrate apply``, ``sql/migrate/migrate.go``):

- PostgreSQL: a session advisory lock whose key is the 32-bit FNV-1 hash of the name (2686470616),
  polled with ``pg_try_advisory_lock`` until the timeout. The server drops it when the session ends,
  so a killed process never leaves it behind. Advisory locks are per database; a schema-bound target
  (``search_path=tenant_7``) hashes ``atlas_migrate_execute.tenant_7``: one lock per schema.
- MySQL/MariaDB: ``GET_LOCK(name, timeout)`` / ``RELEASE_LOCK`` (session-scoped as well), named
  ``atlas_migrate_execute.<database>``: one lock per database (GET_LOCK names are server-wide, Atlas's one
  name would make the databases of a server wait for each other).
- SQLite: a file ``$TMPDIR/atlas_migrate_execute_<adler32 hex of the database path>.lock`` holding
  the expiry in Unix nanoseconds, which is all Atlas looks at. atlembic writes a short expiry and
  refreshes it while it works (a long migration is never mistaken for an abandoned one, and a killed
  holder blocks others for a few seconds only), and also holds an ``flock`` on the file, so a live
  atlembic is recognised even if its refresh were late. TMPDIR is often world-writable: the file is
  opened without following symbolic links, and one that is not a regular file of this user is refused
  (another user could otherwise plant a link that makes us truncate a file of ours).

Each engine is a `Lock` subclass, which the engine (atlembic.engines) names, as its `Transactions`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import threading
import time
import zlib
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.engine import Connection

from atlembic.errors import AtlembicError, mask_url
from atlembic.migrate.revisions import postgres_bound_schema

__all__ = ["APPLY_LOCK", "DEFAULT_TIMEOUT", "Lock", "LockTimeout", "fnv1_32", "target_lock"]

APPLY_LOCK = "atlas_migrate_execute"
DEFAULT_TIMEOUT = 10.0

class LockTimeout(AtlembicError):
    """Somebody else holds the target's lock and did not let go within the timeout."""


def fnv1_32(data: bytes) -> int:
    """32-bit FNV-1 (multiply, then xor; not FNV-1a), as Go's ``hash/fnv.New32``."""
    h = 0x811C9DC5
    for byte in data:
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= byte
    return h


class Lock:
    """Base class: a named lock on one target. ``acquire(timeout)`` waits at most `timeout` seconds."""

    def __init__(self, conn: Connection, name: str = APPLY_LOCK) -> None:
        self.conn = conn
        self.name = name

    def describe(self) -> str:
        return self.name

    def try_acquire(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def acquire(self, timeout: float) -> None:
        """Poll `try_acquire` with a growing pause until it succeeds or `timeout` seconds passed."""
        deadline = time.monotonic() + max(timeout, 0.0)
        pause = 0.02
        while not self.try_acquire():
            left = deadline - time.monotonic()
            if left <= 0:
                raise self.timeout_error(timeout)
            time.sleep(min(pause, left))
            pause = min(pause * 1.5, 0.5)

    def timeout_error(self, timeout: float) -> LockTimeout:
        url = mask_url(self.conn.engine.url)
        return LockTimeout(
            f"another atlembic/atlas is applying migrations to {url} (lock {self.describe()} held); "
            f"gave up after {timeout:g} s (--lock-timeout)"
        )


class PostgresLock(Lock):
    """A schema-bound target (migrate/revisions.py: its revisions live in its schema) locks that schema alone:
    tenants of one database are applied side by side. Advisory locks are per database already."""

    def __init__(self, conn: Connection, name: str = APPLY_LOCK) -> None:
        schema = postgres_bound_schema(conn.engine.url)
        super().__init__(conn, name if schema is None else f"{name}.{schema}")

    @property
    def key(self) -> int:
        return fnv1_32(self.name.encode())

    def describe(self) -> str:
        return f"{self.name}: advisory lock {self.key}"

    def try_acquire(self) -> bool:
        return bool(self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())

    def release(self) -> None:
        self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})


class MysqlLock(Lock):
    """``GET_LOCK`` waits on the server itself. Its names are server-wide: a target (one database) locks its
    database's name alone, so the databases of one server are applied side by side (at most 64 characters:
    a long database name is hashed)."""

    def __init__(self, conn: Connection, name: str = APPLY_LOCK) -> None:
        database = conn.exec_driver_sql("SELECT DATABASE()").scalar()
        if database:
            name = f"{name}.{database}"
            if len(name) > 64:
                name = f"{APPLY_LOCK}.{hashlib.sha256(str(database).encode()).hexdigest()[:40]}"
        super().__init__(conn, name)

    def describe(self) -> str:
        return f"GET_LOCK('{self.name}')"

    def try_acquire(self) -> bool:
        return bool(self.conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": self.name}).scalar())

    def acquire(self, timeout: float) -> None:
        seconds = max(int(timeout + 0.999), 0)
        got = self.conn.execute(text("SELECT GET_LOCK(:n, :t)"), {"n": self.name, "t": seconds}).scalar()
        if got != 1:
            raise self.timeout_error(timeout)

    def release(self) -> None:
        self.conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": self.name})


class SqliteLock(Lock):
    """Atlas's lock file, made safe against crashed holders and long runs (see the module doc)."""

    # Seconds of validity written into the file, refreshed every LEASE / 4 while held: a crashed
    # holder blocks the others for at most this long.
    LEASE = 3.0

    def __init__(self, conn: Connection, name: str = APPLY_LOCK) -> None:
        super().__init__(conn, name)
        database = conn.engine.url.database or ""
        if database and database != ":memory:" and not database.startswith("file::memory:"):
            path = os.path.abspath(database.removeprefix("file:").split("?", 1)[0])
            name = f"{name}_{zlib.adler32(path.encode()):x}"
        self.path = os.path.join(tempfile.gettempdir(), f"{name}.lock")
        self._fd: int | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def describe(self) -> str:
        return f"file {self.path}"

    def _expiry(self) -> bytes:
        return str(time.time_ns() + int(self.LEASE * 1e9)).encode()

    def try_acquire(self) -> bool:
        fd = self._open_existing()
        if fd is None:
            fd = self._create()
        if fd is None:
            return False
        self._fd = fd
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._refresh, name="atlembic-lock", daemon=True)
        self._heartbeat.start()
        return True

    def _create(self) -> int | None:
        """Publish a new lock file atomically, already flocked, so nobody sees it unowned."""
        tmp = f"{self.path}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            os.unlink(tmp)  # our own leftover (same pid and thread: a crashed earlier run), or a planted link
        except FileNotFoundError:
            pass
        except OSError as exc:  # another user's, in a sticky TMPDIR
            raise self._refused(tmp, exc.strerror or str(exc)) from None
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
        except FileExistsError:
            raise self._refused(tmp, "it was created again while being replaced") from None
        try:
            _flock(fd, blocking=False)
            os.write(fd, self._expiry())
            os.link(tmp, self.path)  # fails if a lock file exists: creation is atomic
        except FileExistsError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return fd

    def _open_existing(self) -> int | None:
        """Take over an existing lock file whose holder is gone; None if there is none or it is held."""
        try:
            fd = os.open(self.path, os.O_RDWR | _NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as exc:  # ELOOP: a symbolic link; EACCES: another user's file
            raise self._refused(self.path, exc.strerror or str(exc)) from None
        try:
            mine = os.fstat(fd)
            if not stat.S_ISREG(mine.st_mode) or (hasattr(os, "getuid") and mine.st_uid != os.getuid()):
                raise self._refused(self.path, "not a regular file of this user")
            if not _flock(fd, blocking=False):
                return self._close(fd)  # a live atlembic holds it
            if not _same_file(fd, self.path):
                return self._close(fd)  # released and removed meanwhile: try again from scratch
            expires = _read_int(fd)
            if expires is not None and expires > time.time_ns():
                # Not flocked but unexpired: an Atlas CLI holds it (Atlas only writes the expiry),
                # or an atlembic that crashed less than LEASE ago. Either way: wait.
                return self._close(fd)
            # Expired and nobody flocks it: the holder is gone. Ours now.
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, self._expiry())
            return fd
        except BaseException:
            os.close(fd)
            raise

    @staticmethod
    def _close(fd: int) -> None:
        os.close(fd)
        return None

    @staticmethod
    def _refused(path: str, why: str) -> AtlembicError:
        return AtlembicError(f"refusing the SQLite lock file {path}: {why} (remove it, or set TMPDIR to a "
                             "directory only you can write)")

    def _refresh(self) -> None:
        while not self._stop.wait(self.LEASE / 4):
            fd = self._fd
            if fd is None:
                return
            with contextlib.suppress(OSError):
                os.pwrite(fd, self._expiry(), 0)

    def release(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _same_file(fd, self.path):
                os.unlink(self.path)  # unlink before unlocking: a waiter never takes a dying file
        finally:
            os.close(fd)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

try:
    import fcntl

    _HAVE_FLOCK = True
except ImportError:  # pragma: no cover - Windows: the expiry alone decides
    _HAVE_FLOCK = False


def _flock(fd: int, *, blocking: bool) -> bool:
    if not _HAVE_FLOCK:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _read_int(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 64).strip()
    try:
        return int(raw)
    except ValueError:
        return None


class target_lock:  # noqa: N801 - used as a context manager, like contextlib's helpers
    """``with target_lock(lock, timeout):`` holds `lock` (the engine's `Lock` on the target's connection,
    see migrate/driver.py) for the duration of the block."""

    def __init__(self, lock: Lock, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.lock = lock
        self.timeout = timeout

    def __enter__(self) -> Lock:
        self.lock.acquire(self.timeout)
        return self.lock

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(Exception):
            self.lock.release()
