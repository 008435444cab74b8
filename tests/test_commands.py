"""Command behaviour around bad input and failures, through the real CLI on a real SQLite target."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.test_cli import SAMPLE, add_age_column, atlembic, migration_files


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    return dest


def revisions(project: Path) -> list[tuple]:
    engine = sa.create_engine(f"sqlite:///{project / 'app.db'}")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT version, applied, total, error, error_stmt, partial_hashes FROM atlas_schema_revisions"
            " ORDER BY version"
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


@pytest.mark.slow  # CLI end to end, several processes
def test_edited_file_is_refused_until_rehashed(project: Path) -> None:
    atlembic(project, "revision", "--autogenerate", "-m", "init")
    [first] = migration_files(project)
    first.write_text(first.read_text() + "-- a hand edit\n")
    proc = atlembic(project, "revision", "--autogenerate", "-m", "next", check=False)
    assert proc.returncode != 0
    assert f"L2: {first.name} was edited" in proc.stdout and "atlembic hash" in proc.stdout
    assert len(migration_files(project)) == 1
    atlembic(project, "hash")
    assert "synced" in atlembic(project, "revision", "--autogenerate", "-m", "next").stdout


def test_manual_revision_writes_empty_file_and_sum(project: Path) -> None:
    out = atlembic(project, "revision", "-m", "seed data").stdout
    [file] = migration_files(project)
    assert file.name.endswith("_seed_data.sql") and file.read_text() == "" and str(file) in out
    assert file.name in (project / "migrations" / "atlas.sum").read_text()


@pytest.mark.slow  # CLI end to end, several processes
def test_failing_statement_stops_and_records_where(project: Path) -> None:
    atlembic(project, "revision", "--autogenerate", "-m", "init")
    atlembic(project, "upgrade", "head")
    broken = project / "migrations" / "20990101000000_broken.sql"
    broken.write_text(
        "-- ok\nCREATE TABLE t1 (id INTEGER);\n-- fails\nINSERT INTO no_such_table VALUES (1);\n"
        "-- never runs\nCREATE TABLE t2 (id INTEGER);\n"
    )
    atlembic(project, "hash")
    proc = atlembic(project, "upgrade", "head", check=False)
    assert proc.returncode != 0
    assert "20990101000000_broken.sql:4" in proc.stdout and "no_such_table" in proc.stdout
    assert "applied 0 of 3" in proc.stdout
    last = revisions(project)[-1]
    assert last[:3] == ("20990101000000", 0, 3)
    assert "no_such_table" in last[3] and last[4].startswith("INSERT INTO no_such_table")
    engine = sa.create_engine(f"sqlite:///{project / 'app.db'}")
    assert "t1" not in sa.inspect(engine).get_table_names()  # the file's transaction rolled back
    engine.dispose()
    # The user fixes the file: the next run starts again at the failed file and finishes it.
    broken.write_text(broken.read_text().replace("INSERT INTO no_such_table VALUES (1);", "SELECT 1;"))
    atlembic(project, "hash")
    atlembic(project, "upgrade", "head")
    assert revisions(project)[-1][:4] == ("20990101000000", 3, 3, "")


def test_dirty_target_without_revisions_is_refused(project: Path) -> None:
    atlembic(project, "revision", "--autogenerate", "-m", "init")
    engine = sa.create_engine(f"sqlite:///{project / 'app.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE legacy (id INTEGER)")
    engine.dispose()
    proc = atlembic(project, "upgrade", "head", check=False)
    assert proc.returncode != 0 and 'not clean: found table "legacy"' in proc.stdout
    [file] = migration_files(project)
    atlembic(project, "upgrade", "head", "--baseline", file.name.split("_")[0])
    assert revisions(project)[0][:3] == (file.name.split("_")[0], 0, 0)


@pytest.mark.slow  # CLI end to end, several processes
def test_upgrade_plus_one_and_up_to_date(project: Path) -> None:
    atlembic(project, "revision", "--autogenerate", "-m", "init")
    add_age_column(project)
    atlembic(project, "revision", "--autogenerate", "-m", "age")
    atlembic(project, "upgrade", "+1")
    assert len(revisions(project)) == 1
    atlembic(project, "upgrade", "head")
    assert len(revisions(project)) == 2
    assert "No migration files to execute" in atlembic(project, "upgrade", "head").stdout


def test_check_reports_pending_model_changes(project: Path) -> None:
    proc = atlembic(project, "check", check=False)
    assert proc.returncode != 0 and 'add table "user_account"' in proc.stdout
    atlembic(project, "revision", "--autogenerate", "-m", "init")
    assert "No new upgrade operations detected." in atlembic(project, "check").stdout


def test_provider_prints_models_ddl(project: Path) -> None:
    out = atlembic(project, "provider", "--path", str(project / "models.py"), "--dialect", "postgresql").stdout
    assert "CREATE TABLE user_account" in out and "id SERIAL NOT NULL" in out
    assert out.index("CREATE TABLE user_account") < out.index("CREATE TABLE address")
    assert out.rstrip().endswith(";")
    bad = atlembic(project, "provider", "--path", str(project / "nowhere"), check=False)
    assert bad.returncode != 0 and "nowhere" in bad.stdout
