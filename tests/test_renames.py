"""Renames through the CLI: declared on the model, confirmed at Atlas's prompt on a terminal, and
planned as drop + add (said so) when nobody can be asked."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_cli import REPO, SAMPLE, atlembic, migration_files


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    atlembic(dest, "revision", "--autogenerate", "-m", "init")
    return dest


def rename_fullname(project: Path, hint: bool) -> None:
    models = project / "models.py"
    old = "    fullname: Mapped[Optional[str]]"
    new = ("    full_name: Mapped[Optional[str]] = mapped_column(info={'atlembic': {'renamed_from': 'fullname'}})"
           if hint else "    full_name: Mapped[Optional[str]]")
    assert old in models.read_text()
    models.write_text(models.read_text().replace(old, new))


def test_declared_rename_is_planned_as_rename(project: Path) -> None:
    rename_fullname(project, hint=True)
    atlembic(project, "revision", "--autogenerate", "-m", "rename")
    text = migration_files(project)[-1].read_text()
    assert "ALTER TABLE user_account RENAME COLUMN fullname TO full_name" in text
    assert "DROP" not in text


def test_without_terminal_drop_and_add_is_planned_and_said(project: Path) -> None:
    rename_fullname(project, hint=False)
    out = atlembic(project, "revision", "--autogenerate", "-m", "rename").stdout
    assert "Planned drop + add for column 'fullname' -> 'full_name' of table 'user_account'" in out
    assert "renamed_from" in out
    text = migration_files(project)[-1].read_text()
    assert "RENAME COLUMN" not in text and "full_name" in text


def _run_on_terminal(project: Path, args: list[str], answer: str) -> str:
    """Run the CLI with a pseudo-terminal as stdin/stdout and answer its first question."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "dumb"}
    proc = subprocess.Popen([sys.executable, "-m", "atlembic", *args], cwd=project, env=env,
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
            if not answered and b"Did you rename" in seen:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        assert proc.wait(timeout=30) == 0, seen.decode(errors="replace")
    finally:
        os.close(master)
    return seen.decode(errors="replace")


@pytest.mark.slow  # CLI processes on a pseudo-terminal, end to end
def test_on_a_terminal_atlembic_asks_and_plans_the_rename(project: Path) -> None:
    rename_fullname(project, hint=False)
    out = _run_on_terminal(project, ["revision", "--autogenerate", "-m", "rename"], "y")
    assert "Did you rename column 'fullname' to 'full_name' of table 'user_account'?" in out
    text = migration_files(project)[-1].read_text()
    assert "RENAME COLUMN fullname TO full_name" in text and "DROP" not in text


@pytest.mark.slow  # CLI processes on a pseudo-terminal, end to end
def test_on_a_terminal_no_keeps_drop_and_add(project: Path) -> None:
    rename_fullname(project, hint=False)
    _run_on_terminal(project, ["revision", "--autogenerate", "-m", "rename"], "n")
    text = migration_files(project)[-1].read_text()
    assert "RENAME COLUMN" not in text and "full_name" in text
