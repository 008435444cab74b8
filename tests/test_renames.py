"""Renames through the CLI: declared on the model, confirmed at Atlas's prompt on a terminal, and
planned as drop + add (said so) when nobody can be asked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cli import run_on_terminal
from tests.test_cli import SAMPLE, atlembic, migration_files


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
    """Run the CLI on a pseudo-terminal and answer its rename question."""
    code, seen = run_on_terminal(project, args, b"Did you rename", answer)
    assert code == 0, seen
    return seen


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
