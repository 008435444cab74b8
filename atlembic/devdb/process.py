"""What every ephemeral dev-database server needs, whatever the engine (PostgreSQL, MariaDB/MySQL).

* child-process control that is safe to call from a signal handler (:func:`wait_exit`, :func:`send`,
  :func:`terminate`);
* one process-wide registry of live servers, stopped on every exit path: ``stop()``, ``atexit``,
  SIGINT and SIGTERM (the previous handler then runs, so Ctrl-C still raises KeyboardInterrupt), and
  never by a forked copy of the process;
* where temp dirs and cached templates live, and the unprivileged user a server runs as when we are
  root.

A "server" here is anything with a ``stop()`` that is idempotent and re-entrant.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

__all__ = [
    "RunAs",
    "run_as_user",
    "temp_base",
    "cache_root",
    "remove_dir_atomically",
    "wait_exit",
    "send",
    "terminate",
    "pid_alive",
    "register",
    "unregister",
    "stop_all",
    "signals_deferred",
    "interruptions",
]

_TMPFS_MIN_FREE = 512 * 1024 * 1024


class Stoppable(Protocol):
    def stop(self) -> None: ...


# --------------------------------------------------------------------------------------------------------
# Identity and places


@dataclass(frozen=True)
class RunAs:
    """The unprivileged OS user a server runs as when we are root."""

    name: str
    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        # Popen(user=...) switches identity in the child without a preexec_fn (which is unsafe with
        # threads); extra_groups=[] drops root's supplementary groups.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, path: Path) -> None:
        os.chown(path, self.uid, self.gid)

    def blocked_at(self, path: Path) -> Path | None:
        """The first directory on the way to `path` this user may not enter (no search permission for them by
        its mode bits), or None: the server this user runs must reach its data dir under `path`."""
        for directory in (*reversed(path.resolve().parents), path.resolve()):
            st = directory.stat()
            bit = 0o100 if st.st_uid == self.uid else 0o010 if st.st_gid == self.gid else 0o001
            if not st.st_mode & bit:
                return directory
        return None

    def chown_tree(self, path: Path) -> None:
        for root, dirs, files in os.walk(path):
            for name in (root, *(os.path.join(root, n) for n in (*dirs, *files))):
                os.chown(name, self.uid, self.gid, follow_symlinks=False)


def run_as_user(names: tuple[str, ...]) -> RunAs | None:
    """None unless we are root; then the first existing user of ``names`` (None if there is none)."""
    if os.geteuid() != 0:
        return None
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return RunAs(name, entry.pw_uid, entry.pw_gid)
    return None


def temp_base(override_env: str | None = None) -> str:
    """tmpfs when it is there and roomy (data dirs are created and copied ~2x faster), else the temp dir."""
    override = os.environ.get(override_env) if override_env else None
    if override:
        return override
    shm = "/dev/shm"
    with contextlib.suppress(OSError):
        if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
            st = os.statvfs(shm)
            if st.f_bavail * st.f_frsize >= _TMPFS_MIN_FREE:
                return shm
    return tempfile.gettempdir()


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "atlembic"


def remove_dir_atomically(path: Path) -> None:
    # Rename first: a concurrent reader then sees either the whole old directory or none at all.
    doomed = path.with_name(f"{path.name}.broken-{secrets.token_hex(4)}")
    with contextlib.suppress(OSError):
        path.rename(doomed)
        shutil.rmtree(doomed, ignore_errors=True)


# --------------------------------------------------------------------------------------------------------
# Child processes


def wait_exit(proc: subprocess.Popen[bytes], timeout: float | None) -> bool:
    """Wait for ``proc`` to exit; True if it did.

    Deliberately not ``Popen.wait``: stop() also runs from a signal handler, which may have interrupted
    a ``Popen.wait`` of the same process in the main thread while it holds Popen's internal lock; a
    blocking ``wait`` in the handler would then deadlock. A reaped pid makes Popen see ECHILD later,
    which it takes as exit status 0.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while proc.returncode is None:
        try:
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
        except ChildProcessError:
            proc.returncode = 0  # reaped elsewhere (Popen itself)
            break
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    return True


def send(proc: subprocess.Popen[bytes], sig: int, *, group: bool = False) -> None:
    if proc.returncode is None:  # not reaped, so the pid is still ours
        with contextlib.suppress(OSError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)


def terminate(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """End a helper (initdb, install-db, cp) that leads its own session, and everything it started.

    SIGTERM to the helper alone first: initdb, for one, then stops after the current step and cleans
    up its bootstrap children (killing those directly would leak their shared memory). The whole group
    is SIGKILLed only if that does not happen within ``timeout``.
    """
    send(proc, signal.SIGTERM)
    if not wait_exit(proc, timeout):
        send(proc, signal.SIGKILL, group=True)
        wait_exit(proc, None)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists and has not exited (a zombie nobody reaped yet has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc to ask: it exists
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


# --------------------------------------------------------------------------------------------------------
# Cleanup on every exit path


_live: set[Stoppable] = set()
_live_lock = threading.RLock()
_previous_handlers: dict[int, Any] = {}
_pins = 0  # holders of `pin_signal_handlers`: the handlers stay while any is open, servers or not
CLEANUP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Held by the signal handler while it stops the servers, and by `signals_deferred` in a thread other than the
# main one (where the handler runs), so that a server another thread is starting makes no temp dir or child
# between the handler's stop and the process's death.
_spawn_lock = threading.RLock()
_interruptions = 0  # signals handled so far


def interruptions() -> int:
    """How many SIGINT/SIGTERM the cleanup handler has handled in this process: a server start that began
    at another count was stopped by one and must not go on."""
    return _interruptions


def stop_all() -> None:
    with _live_lock:
        servers = list(_live)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _interruptions
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    with _spawn_lock:
        _interruptions += 1
        stop_all()
    # Then behave as if we had never been there: KeyboardInterrupt for Ctrl-C, death for SIGTERM.
    if callable(previous):
        previous(signum, frame)
    elif previous in (signal.SIG_DFL, None):
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install_signal_handlers() -> None:
    if not _in_main_thread():
        return  # signal.signal only works there; atexit and stop() still clean up
    for sig in CLEANUP_SIGNALS:
        current = signal.getsignal(sig)
        if current is _on_signal or current is signal.SIG_IGN:
            continue  # already ours, or the application wants the signal ignored: respect that
        _previous_handlers[sig] = current
        signal.signal(sig, _on_signal)


def _restore_signal_handlers() -> None:
    if not _in_main_thread() or _pins:
        return
    for sig, previous in list(_previous_handlers.items()):
        if signal.getsignal(sig) is _on_signal:  # someone else re-installed theirs: leave it
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        del _previous_handlers[sig]


def register(server: Stoppable) -> None:
    with _live_lock:
        if not _live:
            _install_signal_handlers()
        _live.add(server)


def unregister(server: Stoppable) -> None:
    with _live_lock:
        _live.discard(server)
        if not _live:
            _restore_signal_handlers()


def pin_signal_handlers() -> None:
    """Install the cleanup handlers now, from the main thread, until `unpin_signal_handlers`: a server that
    another thread starts meanwhile (a replay worker) cannot install them itself (signal.signal works only
    in the main thread), and SIGTERM from a CI runner or `timeout` must still stop it."""
    global _pins
    with _live_lock:
        if not _in_main_thread():
            return
        _pins += 1
        _install_signal_handlers()


def unpin_signal_handlers() -> None:
    global _pins
    with _live_lock:
        if not _in_main_thread() or not _pins:
            return
        _pins -= 1
        if not _live:
            _restore_signal_handlers()


def _forget_after_fork() -> None:
    # A forked child (multiprocessing workers) holds mere copies of the servers: its Ctrl-C or exit must
    # not take down the parent's. (Signal handlers stay: with nothing live they just chain.)
    _live.clear()


atexit.register(stop_all)
os.register_at_fork(after_in_child=_forget_after_fork)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while a child or a temp dir is made and recorded, so the handler never misses it:
    in the main thread by blocking them, in another one by holding the lock the handler takes (a start that
    finds `interruptions` changed inside the block must stop there)."""
    if not _in_main_thread():
        with _spawn_lock:
            yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, CLEANUP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
