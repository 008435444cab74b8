"""The README's sequence through the real CLI (a subprocess, as a user runs it) on the sample
project: create, apply, change the model, plan the ALTER, apply, and find nothing more to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_project"


def atlembic(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "atlembic", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"atlembic {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "sample_project"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    return dest


def add_age_column(project: Path) -> None:
    models = project / "models.py"
    text = models.read_text()
    anchor = "    fullname: Mapped[Optional[str]]"
    assert anchor in text
    models.write_text(text.replace(anchor, "    age: Mapped[Optional[int]]\n" + anchor, 1))


def migration_files(project: Path) -> list[Path]:
    return sorted((project / "migrations").glob("*.sql"))


def run_sample_sequence(project: Path, url_args: list[str]) -> sa.Inspector:
    out = atlembic(project, *url_args, "revision", "--autogenerate", "-m", "create users").stdout
    assert "Generating" in out
    [first] = migration_files(project)
    assert first.name.endswith("_create_users.sql") and len(first.name.split("_")[0]) == 14
    text = first.read_text()
    assert 'Create "user_account" table' in text and 'Create "address" table' in text
    assert "REFERENCES user_account (id)" in text
    assert text.index("CREATE TABLE user_account") < text.index("CREATE TABLE address")
    atlembic(project, *url_args, "upgrade", "head")

    add_age_column(project)
    atlembic(project, *url_args, "revision", "--autogenerate", "-m", "add age")
    files = migration_files(project)
    assert len(files) == 2 and files[1].name.endswith("_add_age.sql")
    assert "ADD COLUMN age INTEGER" in files[1].read_text()
    atlembic(project, *url_args, "upgrade", "head")

    nothing = atlembic(project, *url_args, "revision", "--autogenerate", "-m", "nothing")
    assert "synced with the desired state" in nothing.stdout
    assert len(migration_files(project)) == 2
    sums = (project / "migrations" / "atlas.sum").read_text().splitlines()
    assert [line.split(" ")[0] for line in sums[1:]] == [f.name for f in files]
    current = atlembic(project, *url_args, "current").stdout
    assert files[1].name.split("_")[0] in current
    return files


@pytest.mark.slow  # the README's sequence, one CLI process per step
def test_sample_sequence_sqlite(project: Path) -> None:
    run_sample_sequence(project, [])
    engine = sa.create_engine(f"sqlite:///{project / 'app.db'}")
    insp = sa.inspect(engine)
    assert {c["name"] for c in insp.get_columns("user_account")} == {"id", "name", "fullname", "age"}
    assert insp.get_foreign_keys("address")[0]["referred_table"] == "user_account"
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT version, applied, total, type FROM atlas_schema_revisions").all()
    assert [r[1:] for r in rows] == [(2, 2, 2), (1, 1, 2)]
    engine.dispose()


@pytest.mark.slow  # the README's sequence, one CLI process per step
def test_sample_sequence_postgresql(project: Path, pg_server) -> None:
    from tests.support.pg_fixture import fresh_pg_url

    url = fresh_pg_url(pg_server)
    # No --dev-url: the embedded default starts (and removes) its own ephemeral cluster.
    run_sample_sequence(project, ["--url", url])
    engine = sa.create_engine(url)
    insp = sa.inspect(engine)
    assert {c["name"] for c in insp.get_columns("user_account")} == {"id", "name", "fullname", "age"}
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT applied, total, type, error FROM atlas_schema_revisions.atlas_schema_revisions ORDER BY version"
        ).all()
    assert rows == [(2, 2, 2, ""), (1, 1, 2, "")]
    engine.dispose()


def test_env_py_import_error_is_one_clear_line(project: Path) -> None:
    env_py = project / "alembic" / "env.py"
    env_py.write_text("import no_such_module_here\n" + env_py.read_text())
    proc = atlembic(project, "revision", "--autogenerate", "-m", "x", check=False)
    assert proc.returncode != 0
    [line] = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert line.startswith("FAILED: ") and "env.py" in line and "no_such_module_here" in line
    assert not (project / "migrations").exists() or not migration_files(project)


def test_password_never_printed(project: Path) -> None:
    proc = atlembic(project, "--url", "postgresql+psycopg://app:s3cret@127.0.0.1:1/app", "current", check=False)
    assert proc.returncode != 0
    assert "s3cret" not in proc.stdout + proc.stderr


@pytest.mark.slow  # atlembic and Alembic, each in its own process
def test_alembic_check_stays_clean_beside_atlembic(project: Path) -> None:
    """Alembic keeps working side by side: after `atlembic upgrade head`, Alembic's own `alembic check` on
    the same database finds nothing to do (the sample env.py leaves atlembic's revisions table out)."""
    atlembic(project, "revision", "--autogenerate", "-m", "init")
    atlembic(project, "upgrade", "head")
    proc = subprocess.run([sys.executable, "-m", "alembic", "check"], cwd=project, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(project)})
    assert proc.returncode == 0 and "No new upgrade operations detected" in proc.stdout + proc.stderr, proc.stderr
