"""`atlembic convert` and the hand-over of Alembic databases, through the real CLI, on a small fixture
history (branches, a merge, batch operations on SQLite, a non-deterministic data migration)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.pg_fixture import require_module
from tests.test_cli import atlembic

FIXTURE = Path(__file__).parent / "fixtures" / "convert"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(FIXTURE / "project", dest, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    return dest


def alembic_upgrade(project: Path, url: str, target: str = "heads") -> None:
    proc = subprocess.run([sys.executable, "-m", "alembic", "-x", "unused=1", "upgrade", target], cwd=project,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "APP_DATABASE_URL": url})
    assert proc.returncode == 0, proc.stderr


def set_url(project: Path, url: str) -> None:
    ini = project / "alembic.ini"
    text = ini.read_text().replace("sqlalchemy.url = sqlite:///%(here)s/app.db", f"sqlalchemy.url = {url}")
    ini.write_text(text)


def sql_files(project: Path) -> list[Path]:
    return sorted((project / "migrations").glob("*.sql"))


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_baseline_is_deterministic_schema_only_and_in_sync(project: Path, tmp_path: Path) -> None:
    out = atlembic(project, "convert").stdout
    assert "5 revisions run to head eee555" in out
    assert "ddd444" in out and "eee555" in out  # the data migrations are listed
    [baseline] = sql_files(project)
    text = baseline.read_text()
    assert "-- alembic:head eee555" in text
    body = text.split("\n\n", 1)[1]
    assert "alembic_version" not in body and "INSERT" not in body
    assert body.index("CREATE TABLE user_account") < body.index("CREATE TABLE address")
    # Same input, same bytes (the history inserts a random label and the current time).
    again = atlembic(project, "--dir", str(tmp_path / "again"), "convert").stdout
    assert "Generating" in again
    [second] = sorted((tmp_path / "again").glob("*.sql"))
    assert second.read_text() == text
    # The models agree with the history: nothing to plan.
    assert "synced" in atlembic(project, "revision", "--autogenerate", "-m", "next").stdout


@pytest.mark.slow  # alembic and atlembic CLI processes end to end
def test_handover_checks_version_and_schema(project: Path) -> None:
    atlembic(project, "convert")
    [baseline] = sql_files(project)
    version = baseline.name.split("_")[0]
    url = f"sqlite:///{project / 'app.db'}"
    alembic_upgrade(project, url, "ddd444")
    proc = atlembic(project, "upgrade", "head", "--baseline", version, check=False)
    assert proc.returncode == 255 and "is at ddd444" in proc.stdout and "alembic upgrade eee555" in proc.stdout
    alembic_upgrade(project, url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE tag ADD COLUMN extra INTEGER")
    engine.dispose()
    proc = atlembic(project, "upgrade", "head", "--baseline", version, check=False)
    assert proc.returncode == 255 and 'table "tag": add column "extra"' in proc.stdout
    assert "atlas_schema_revisions" not in tables(url)  # refused: nothing recorded
    out = atlembic(project, "upgrade", "head", "--baseline", version, "--allow-drift",
                   "--drop-alembic-version").stdout
    assert "drift accepted" in out and "Dropped alembic_version" in out
    assert "alembic_version" not in tables(url) and "atlas_schema_revisions" in tables(url)
    assert version in atlembic(project, "current").stdout


@pytest.mark.slow  # alembic and atlembic CLI processes end to end
def test_stamp_hands_over_with_the_same_checks(project: Path) -> None:
    atlembic(project, "convert")
    [baseline] = sql_files(project)
    version = baseline.name.split("_")[0]
    url = f"sqlite:///{project / 'app.db'}"
    alembic_upgrade(project, url, "ddd444")
    proc = atlembic(project, "stamp", version, check=False)
    assert proc.returncode == 255 and "is at ddd444" in proc.stdout
    assert "atlas_schema_revisions" not in tables(url)  # refused before anything was written
    alembic_upgrade(project, url)
    out = atlembic(project, "stamp", version, "--drop-alembic-version").stdout
    assert "Schema equals" in out and f"Stamped {version}" in out
    assert "alembic_version" not in tables(url)
    assert version in atlembic(project, "current").stdout


def test_history_mode_one_file_per_revision(project: Path, tmp_path: Path) -> None:
    atlembic(project, "convert", "--history")
    files = sql_files(project)
    assert len(files) == 5
    texts = [f.read_text() for f in files]
    assert [t.splitlines()[0] for t in texts] == [f"-- alembic:revision {r}" for r in
                                                   ("aaa111", "bbb222", "ccc333", "ddd444", "eee555")] or \
        sorted(t.splitlines()[0] for t in texts) == [f"-- alembic:revision {r}" for r in
                                                     ("aaa111", "bbb222", "ccc333", "ddd444", "eee555")]
    assert files[0].name.endswith("_create_users.sql")
    merge = next(t for t in texts if t.startswith("-- alembic:revision eee555"))
    assert "-- alembic:down_revision ccc333 ddd444" in merge and "-- REVIEW: data migration" in merge
    assert "UPDATE user_account SET status = 'active' WHERE status IS NULL;" in merge
    seed = next(t for t in texts if t.startswith("-- alembic:revision ddd444"))
    assert "-- (ran with bound parameters, not repeated): INSERT INTO tag" in seed
    # A new database built from the files equals one built by Alembic.
    fresh = tmp_path / "fresh.db"
    atlembic(project, "--url", f"sqlite:///{fresh}", "upgrade", "head")
    assert tables(f"sqlite:///{fresh}") == {"user_account", "address", "tag", "atlas_schema_revisions"}


def test_async_env_py(project: Path) -> None:
    require_module("aiosqlite", "pip install -e .[test] installs it (Alembic's async template)")
    shutil.copy(FIXTURE / "env" / "async_env.py", project / "alembic" / "env.py")
    set_url(project, "sqlite+aiosqlite:///%(here)s/app.db")
    out = atlembic(project, "--url", f"sqlite:///{project / 'app.db'}", "convert").stdout
    assert "through sqlalchemy.url" in out and "head eee555" in out


def test_env_py_with_its_own_url_is_redirected(project: Path, tmp_path: Path) -> None:
    shutil.copy(FIXTURE / "env" / "app_url_env.py", project / "alembic" / "env.py")
    elsewhere = tmp_path / "production.db"
    env = {"APP_DATABASE_URL": f"sqlite:///{elsewhere}"}
    proc = subprocess.run([sys.executable, "-m", "atlembic", "convert"], cwd=project, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "redirected it to the dev database" in proc.stdout
    assert not elsewhere.exists() or "tag" not in tables(f"sqlite:///{elsewhere}")


@pytest.mark.slow  # alembic and atlembic CLI processes end to end
def test_bad_input(project: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = atlembic(empty, "convert", check=False)
    assert proc.returncode == 255 and "no [alembic] script_location" in proc.stdout

    versions = project / "alembic" / "versions"
    for rev in ("fff666", "ggg777"):
        (versions / f"{rev}_branch.py").write_text(
            f'"""branch {rev}"""\nrevision = "{rev}"\ndown_revision = "eee555"\nbranch_labels = None\n'
            "depends_on = None\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n")
    proc = atlembic(project, "convert", check=False)
    assert proc.returncode == 255 and "2 heads without a merge: fff666" in proc.stdout and "--head" in proc.stdout
    assert not (project / "migrations").exists()
    (versions / "ggg777_branch.py").write_text(
        '"""breaks"""\nfrom alembic import op\nrevision = "ggg777"\ndown_revision = "eee555"\nbranch_labels = None\n'
        'depends_on = None\n\n\ndef upgrade():\n    op.execute("ALTER TABLE missing ADD COLUMN x INTEGER")\n\n\n'
        "def downgrade():\n    pass\n")
    proc = atlembic(project, "convert", "--head", "ggg777", check=False)
    assert proc.returncode == 255, proc.stdout
    assert "Alembic revision ggg777 failed" in proc.stdout and "ggg777_branch.py:10" in proc.stdout
    assert "no such table: missing" in proc.stdout and not (project / "migrations").exists()
    out = atlembic(project, "convert", "--head", "fff666").stdout
    assert "head fff666" in out
    proc = atlembic(project, "convert", "--head", "fff666", check=False)
    assert proc.returncode == 255 and "already holds" in proc.stdout


@pytest.mark.postgresql
@pytest.mark.slow  # alembic and atlembic CLI processes end to end, on PostgreSQL
def test_postgresql_convert_and_handover(project: Path, pg_server, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.support.pg_fixture import fresh_pg_url

    url = fresh_pg_url(pg_server)
    set_url(project, url.replace("%", "%%"))
    dev = ["--dev-url", pg_server.url("postgres").render_as_string(hide_password=False)]
    atlembic(project, *dev, "convert")
    [baseline] = sql_files(project)
    alembic_upgrade(project, url)
    out = atlembic(project, *dev, "upgrade", "head", "--baseline", baseline.name.split("_")[0]).stdout
    assert "Schema equals" in out
    assert "synced" in atlembic(project, *dev, "revision", "--autogenerate", "-m", "next").stdout
    # --history on PostgreSQL, with the async template (psycopg's async mode).
    shutil.copy(FIXTURE / "env" / "async_env.py", project / "alembic" / "env.py")
    out = atlembic(project, *dev, "--dir", str(tmp_path / "hist"), "convert", "--history").stdout
    assert len(list((tmp_path / "hist").glob("*.sql"))) == 5 and "head eee555" in out
