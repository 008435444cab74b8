"""The atlembic CLI run inside the test process, as the executable runs it (`atlembic.cli.app.main`: the same
parsing, ``FAILED:`` lines and exit codes), without a Python start and atlembic's imports per command: a CLI
scenario of many commands costs its commands, not a second or more of interpreter start each. Tests that prove
something of the executable itself (its entry point, PATH, a second process) use tests/test_cli.py's
`atlembic` subprocess instead."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import select
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import atlembic
from atlembic.cli.app import main
from atlembic.replay import cache as replay_cache

__all__ = ["as_a_new_process", "run_cli", "run_on_terminal"]


_INSTALLED = tuple(os.path.realpath(p) + os.sep for key, p in sysconfig.get_paths().items()
                   if key in ("stdlib", "platstdlib", "purelib", "platlib"))
_TESTS = str(Path(__file__).resolve().parents[1]) + os.sep  # the test modules and tests/support
_ATLEMBIC = str(Path(atlembic.__file__).resolve().parent) + os.sep


@contextlib.contextmanager
def as_a_new_process() -> Iterator[None]:
    """What the block imported from a project (its models, env.py's imports: anything but installed packages,
    atlembic and the test modules; the fixtures' projects count) is forgotten after it, and sys.path is as it
    was, as a process of its own would leave things: a later command, of this test or another, imports its own
    project's files as they are then, never a module of the same name another project left on sys.path."""
    before, path = set(sys.modules), list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = path
        fixtures = _TESTS + "fixtures" + os.sep
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            real = os.path.realpath(file) if file else None
            if real and not (real.startswith((*_INSTALLED, _ATLEMBIC, _TESTS)) and not real.startswith(fixtures)):
                del sys.modules[name]


def run_cli(cwd: Path, *args: str, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``atlembic ARGS`` run in `cwd` in this process, with the environment variables `env` set for it; its exit
    code and what it printed, as a subprocess's. `check`: the command must succeed. Like a process of its own, it
    leaves the replay cache as it found it (``--no-cache`` turns it off)."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    before, argv, cached = Path.cwd(), sys.argv, replay_cache.enabled()
    try:
        os.chdir(cwd)
        sys.argv = ["atlembic", *args]
        with pytest.MonkeyPatch.context() as patch, as_a_new_process(), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            try:
                main()
            except SystemExit as exc:
                code = exc.code
    finally:
        os.chdir(before)
        sys.argv = argv
        if cached:
            replay_cache.enable()
    returncode = code if isinstance(code, int) else int(code is not None)
    proc = subprocess.CompletedProcess(["atlembic", *args], returncode, out.getvalue(), err.getvalue())
    if check:
        assert returncode == 0, f"atlembic {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def run_on_terminal(cwd: Path, args: list[str], prompt: bytes, answer: str) -> tuple[int, str]:
    """`atlembic ARGS` in a new process whose stdin, stdout and stderr are a pseudo-terminal: `answer` (and a
    newline) typed once `prompt` shows; its exit code and what it wrote."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "TERM": "dumb"}  # the repository
    proc = subprocess.Popen([sys.executable, "-m", "atlembic", *args], cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen, answered, deadline = b"", False, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and prompt in seen:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
    return code, seen.decode(errors="replace").replace("\r\n", "\n")
