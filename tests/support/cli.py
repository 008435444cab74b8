"""The atlembic CLI run inside the test process, as the executable runs it (`atlembic.cli.app.main`: the same
parsing, ``FAILED:`` lines and exit codes), without a Python start and atlembic's imports per command: a CLI
scenario of many commands costs its commands, not a second or more of interpreter start each. Tests that prove
something of the executable itself (its entry point, PATH, a second process) use tests/test_cli.py's
`atlembic` subprocess instead."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from atlembic.cli.app import main

__all__ = ["forget_modules_under", "run_cli"]


def forget_modules_under(project: Path, before: set[str]) -> None:
    """Modules the command imported from the project (its models, env.py's imports) are forgotten, as the
    process that ran them would be: the next command, of this test or another, imports the project's files as
    they are then, never a module of the same name another project left behind."""
    root = project.resolve()
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None)
        if file and Path(file).resolve().is_relative_to(root):
            del sys.modules[name]


def run_cli(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``atlembic ARGS`` run in `cwd` in this process; its exit code and what it printed, as a subprocess's.
    `check`: the command must succeed."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    before, argv = Path.cwd(), sys.argv
    modules = set(sys.modules)
    try:
        os.chdir(cwd)
        sys.argv = ["atlembic", *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code
    finally:
        os.chdir(before)
        sys.argv = argv
        forget_modules_under(cwd, modules)
    returncode = code if isinstance(code, int) else int(code is not None)
    proc = subprocess.CompletedProcess(["atlembic", *args], returncode, out.getvalue(), err.getvalue())
    if check:
        assert returncode == 0, f"atlembic {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc
