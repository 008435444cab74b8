"""`atlembic provider` as a drop-in for the upstream atlas-provider-sqlalchemy command: the same options
(`--path` repeatable and defaulting to the current directory, `--dialect`, `--skip-errors`), the same
`-- atlas:pos` directives and the same statements for the same models on every dialect it offers (whitespace
aside), both run as the real commands."""

from __future__ import annotations

import importlib.util
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.pg_fixture import require_module
from tests.test_cli import atlembic

USERS = '''
    import enum

    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        pass


    class Kind(enum.Enum):
        admin = "admin"
        member = "member"


    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(sa.String(120), unique=True)
        kind: Mapped[Kind] = mapped_column(default=Kind.member)
        score: Mapped[float] = mapped_column(sa.Numeric(10, 2), server_default="0")
        bio: Mapped[str | None] = mapped_column(sa.Text)
        __table_args__ = (sa.CheckConstraint("score >= 0", name="score_positive"),)
'''

POSTS = '''

    class Post(Base):
        __tablename__ = "posts"
        id: Mapped[int] = mapped_column(primary_key=True)
        author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
        title: Mapped[str] = mapped_column(sa.String(200))
        __table_args__ = (sa.UniqueConstraint("author_id", "title", name="uq_author_title"),
                          sa.Index("ix_posts_title", "title"))


    post_tags = sa.Table(
        "post_tags", Base.metadata,
        sa.Column("post_id", sa.ForeignKey("posts.id"), primary_key=True),
        sa.Column("tag", sa.String(40), primary_key=True),
    )
'''

AUDIT = '''
    import sqlalchemy as sa

    audit_metadata = sa.MetaData()
    audit = sa.Table("audit_log", audit_metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("at", sa.DateTime, nullable=False))
'''

DIALECTS = ["mysql", "mariadb", "postgresql", "sqlite", "mssql"]


def _models(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    # One file: the upstream provider imports each file on its own, so a file cannot import another.
    (models / "models.py").write_text(textwrap.dedent(USERS) + textwrap.dedent(POSTS))
    audit = tmp_path / "audit"
    audit.mkdir()
    (audit / "audit.py").write_text(textwrap.dedent(AUDIT))
    return models


def _upstream(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    require_module("atlas_provider_sqlalchemy", "the upstream provider is a test dependency")
    return subprocess.run([str(Path(sys.executable).parent / "atlas-provider-sqlalchemy"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _statements(out: str) -> list[str]:
    """The statements of a provider's output, whitespace aside: sorted (within a table SQLAlchemy creates its
    indexes in set order, so both tools may print them in either order)."""
    body = "\n".join(line for line in out.splitlines() if not line.startswith("--"))
    normal = []
    for statement in body.split(";"):
        text = re.sub(r"\s+", " ", statement).strip()
        text = re.sub(r"\( ", "(", re.sub(r" \)", ")", text))
        if text:
            normal.append(text)
    return sorted(normal)


def _tables_in_order(out: str) -> list[str]:
    return re.findall(r"CREATE TABLE (\S+)", out)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_same_statements_as_upstream(tmp_path: Path, dialect: str) -> None:
    models = _models(tmp_path)
    args = ("--path", str(models), "--path", str(tmp_path / "audit"), "--dialect", dialect)
    upstream = _upstream(tmp_path, *args)
    assert upstream.returncode == 0, upstream.stderr
    ours = atlembic(tmp_path, "provider", *args).stdout
    assert _statements(ours) == _statements(upstream.stdout)
    assert len(_statements(ours)) >= 5
    assert _tables_in_order(ours) == _tables_in_order(upstream.stdout)
    # The same directives, pointing at the lines of the models.
    directives = [line for line in ours.splitlines() if line.startswith("-- atlas:pos")]
    assert directives == [line for line in upstream.stdout.splitlines() if line.startswith("-- atlas:pos")]
    assert f"-- atlas:pos users[type=table] {models / 'models.py'}:17" in directives
    assert f"-- atlas:pos post_tags[type=table] {models / 'models.py'}:36" in directives
    # No line ends in whitespace (SQLAlchemy's "NOT NULL, " line ends would be edited by a pre-commit hook).
    assert all(line == line.rstrip() for line in ours.splitlines())


def test_default_dialect_and_path(tmp_path: Path) -> None:
    """Without options: MySQL's DDL of the models in the current directory, as upstream's `--path .
    --dialect mysql` (its code defaults to the current directory too, but its Typer option makes --path
    required)."""
    models = _models(tmp_path)
    ours = atlembic(models, "provider").stdout
    assert "AUTO_INCREMENT" in ours and "ENUM('admin','member')" in ours
    assert _statements(ours) == _statements(_upstream(models, "--path", ".", "--dialect", "mysql").stdout)


def test_output_of_two_paths_builds_the_models_on_sqlite(tmp_path: Path) -> None:
    out = atlembic(tmp_path, "provider", "--path", str(_models(tmp_path)), "--path", "audit", "--dialect",
                   "sqlite").stdout
    db = sqlite3.connect(":memory:")
    db.executescript(out)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"users", "posts", "post_tags", "audit_log"}
    assert ("ix_posts_title",) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()


def test_skip_errors(tmp_path: Path) -> None:
    models = _models(tmp_path)
    (models / "broken.py").write_text("import no_such_module_anywhere\n")
    failed = atlembic(tmp_path, "provider", "--path", str(models), check=False)
    assert failed.returncode != 0
    lines = failed.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("FAILED:") and "broken.py" in lines[0]
    assert "--skip-errors" in lines[0] and "CREATE TABLE" not in failed.stdout
    ours = atlembic(tmp_path, "provider", "--path", str(models), "--skip-errors", "--dialect", "postgresql").stdout
    upstream = _upstream(tmp_path, "--path", str(models), "--skip-errors", "--dialect", "postgresql").stdout
    assert _statements(ours) == _statements(upstream) and "CREATE TABLE posts" in ours


@pytest.mark.parametrize(("dialect", "package", "module"), [
    ("clickhouse", "clickhouse-sqlalchemy", "clickhouse_sqlalchemy"),
    ("snowflake", "snowflake-sqlalchemy", "snowflake.sqlalchemy")])
def test_dialect_from_another_package(tmp_path: Path, dialect: str, package: str, module: str) -> None:
    """Dialects SQLAlchemy does not bring render when their package is installed, else one line naming it
    (before any model is imported)."""
    models = _models(tmp_path)
    (models / "loud.py").write_text("print('imported')\n")
    proc = atlembic(tmp_path, "provider", "--path", str(models), "--dialect", dialect, check=False)
    installed = importlib.util.find_spec(module.split(".")[0]) is not None
    if installed:
        assert proc.returncode == 0 and "CREATE TABLE" in proc.stdout
    else:
        assert proc.returncode != 0
        assert proc.stdout.strip() == (f"FAILED: provider: --dialect {dialect}: its SQLAlchemy dialect is not "
                                       f"installed: pip install {package}")


def test_unknown_dialect_and_missing_path(tmp_path: Path) -> None:
    proc = atlembic(tmp_path, "provider", "--dialect", "nosuchdb", check=False)
    assert proc.returncode != 0 and proc.stdout.startswith("FAILED: provider: --dialect nosuchdb:")
    proc = atlembic(tmp_path, "provider", "--path", str(tmp_path / "nowhere"), check=False)
    assert proc.returncode != 0 and "nowhere" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
