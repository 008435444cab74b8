"""`atlembic schema inspect` and `schema diff` (Atlas's schema verbs, migra's job): a schema read from a live
database, a migration directory, SQL files, the models or an atlas.hcl env, as Atlas's HCL or as SQL, and the
statements from one to another planned by atlembic's planner; `--exclude` globs as Atlas's
(internal/integration/testdata/*/cli-inspect.txtar). SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.migrate.directory import MigrationDir
from tests.support.cli import run_cli
from tests.support.pg_fixture import fresh_database_url
from tests.test_cli import SAMPLE, atlembic

USERS = "CREATE TABLE users (id int NOT NULL, a int NOT NULL, b int NOT NULL, ab int NOT NULL, ac int NOT NULL)"


def _column(name: str) -> str:
    return f'  column "{name}" {{\n    null = false\n    type = integer\n  }}\n'


def test_inspect_hcl_and_exclude_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute(USERS)
    url = f"sqlite://{db}"
    table = 'table "users" {\n  schema = schema.main\n'
    schema = 'schema "main" {\n}\n'
    out = run_cli(tmp_path, "schema", "inspect", "-u", url).stdout
    assert out == table + "".join(_column(c) for c in ("id", "a", "b", "ab", "ac")) + "}\n" + schema
    assert run_cli(tmp_path, "schema", "inspect", "-u", url, "--exclude", "users").stdout == schema
    assert run_cli(tmp_path, "schema", "inspect", "-u", url, "--exclude", "*.[ab]*").stdout == (
        table + _column("id") + "}\n" + schema)
    assert run_cli(tmp_path, "schema", "inspect", "-u", url, "--exclude", "*.*").stdout == table + "}\n" + schema


HISTORY = {
    "20200101000001_users.sql":
        "CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, PRIMARY KEY (id));\n",
    "20200101000002_posts.sql": (
        "CREATE TABLE posts (id INTEGER NOT NULL, user_id INTEGER NOT NULL, title VARCHAR(100), PRIMARY KEY (id),\n"
        "  CONSTRAINT fk_posts_user FOREIGN KEY (user_id) REFERENCES users (id));\n"
        "CREATE INDEX ix_posts_user ON posts (user_id);\n"),
}
DESIRED = textwrap.dedent("""\
    CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, email VARCHAR(120), PRIMARY KEY (id));
    CREATE UNIQUE INDEX uq_users_email ON users (email);
    CREATE TABLE posts (id INTEGER NOT NULL, user_id INTEGER NOT NULL, title VARCHAR(200), PRIMARY KEY (id),
      CONSTRAINT fk_posts_user FOREIGN KEY (user_id) REFERENCES users (id));
    CREATE INDEX ix_posts_user ON posts (user_id);
    CREATE TABLE tags (post_id INTEGER NOT NULL, tag VARCHAR(40) NOT NULL, PRIMARY KEY (post_id, tag));
""")


def schema_diff_scenario(root: Path, url: str, dev: str) -> None:
    """A database built from a migration directory, with rows; `schema diff` from it to a SQL file; the printed
    statements applied to it; then the database, the SQL file and `inspect --format sql` agree, rows intact."""
    directory = root / "migrations"
    directory.mkdir()
    for name, text in HISTORY.items():
        (directory / name).write_text(text)
    MigrationDir(directory).write_sum()
    run_cli(root, "migrate", "apply", "--dir", f"file://{directory}", "--url", url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (id, name) VALUES (1, 'ada')")
        conn.exec_driver_sql("INSERT INTO posts (id, user_id, title) VALUES (7, 1, 'notes')")
    (root / "schema.sql").write_text(DESIRED)
    desired = f"file://{root / 'schema.sql'}"
    # The directory and the database agree; both differ from the SQL file in the same way.
    same = run_cli(root, "schema", "diff", "--from", f"file://{directory}", "--to", url, "--dev-url", dev,
                   "--exclude", "atlas_schema_revisions")
    assert same.stdout == "Schemas are synced, no changes to be made.\n"
    from_dir = run_cli(root, "schema", "diff", "--from", f"file://{directory}", "--to", desired, "--dev-url", dev)
    planned = run_cli(root, "schema", "diff", "--from", url, "--to", desired, "--dev-url", dev,
                      "--exclude", "atlas_schema_revisions").stdout
    assert planned == from_dir.stdout
    assert 'Create "tags" table' in planned and "email" in planned and "uq_users_email" in planned
    assert "atlas_schema_revisions" not in planned
    # Applied to the database (as a migration file), it reaches the SQL file's schema; the rows survive.
    (directory / "20200101000003_diff.sql").write_text(planned)
    MigrationDir(directory).write_sum()
    run_cli(root, "migrate", "apply", "--dir", f"file://{directory}", "--url", url, "--allow-dirty")
    assert run_cli(root, "schema", "diff", "--from", url, "--to", desired, "--dev-url", dev,
                   "--exclude", "atlas_schema_revisions").stdout == "Schemas are synced, no changes to be made.\n"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT u.name, p.title FROM users u JOIN posts p ON p.user_id = u.id").all() \
            == [("ada", "notes")]
    engine.dispose()
    hcl = run_cli(root, "schema", "inspect", "-u", url, "--exclude", "atlas_schema_revisions").stdout
    assert 'table "tags" {' in hcl and "    columns = [column.post_id, column.tag]\n" in hcl
    assert 'index "uq_users_email" {\n    unique  = true\n    columns = [column.email]\n  }' in hcl
    assert "ref_columns = [table.users.column.id]" in hcl and "atlas_schema_revisions" not in hcl
    # `inspect --format sql` of the database is SQL that builds the same schema.
    sql = run_cli(root, "schema", "inspect", "-u", url, "--format", "sql", "--exclude", "atlas_schema_revisions",
                  "--dev-url", dev).stdout
    assert sql.startswith("-- Create ") and "atlas_schema_revisions" not in sql
    (root / "inspected.sql").write_text(sql)
    assert run_cli(root, "schema", "diff", "--from", f"file://{root / 'inspected.sql'}", "--to", desired,
                   "--dev-url", dev).stdout == "Schemas are synced, no changes to be made.\n"


def test_schema_diff_sqlite(tmp_path: Path) -> None:
    schema_diff_scenario(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", "sqlite://dev?mode=memory")


@pytest.mark.slow
def test_schema_diff_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    schema_diff_scenario(tmp_path, fresh_database_url(pg_server), "docker://postgres/15/dev")


@pytest.mark.slow
def test_schema_diff_mariadb(tmp_path: Path, mysql_server) -> None:  # noqa: ANN001
    schema_diff_scenario(tmp_path, fresh_database_url(mysql_server), "docker://mariadb/latest/dev")


def test_schema_diff_models_and_directory(tmp_path: Path) -> None:
    """The models (alembic.ini) on one side, the migration directory on the other: the next revision's
    statements; after `revision --autogenerate` they agree."""
    project = tmp_path / "sample_project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    (project / "migrations").mkdir()
    MigrationDir(project / "migrations").write_sum()
    out = atlembic(project, "schema", "diff", "--from", "file://migrations", "--to", "alembic://alembic.ini").stdout
    assert 'Create "user_account" table' in out and 'Create "address" table' in out
    atlembic(project, "revision", "--autogenerate", "-m", "init")
    out = atlembic(project, "schema", "diff", "--from", "file://migrations", "--to", "alembic.ini").stdout
    assert out == "Schemas are synced, no changes to be made.\n"
    hcl = atlembic(project, "schema", "inspect", "-u", "alembic://alembic.ini").stdout
    assert 'table "address" {' in hcl and "ref_columns = [table.user_account.column.id]" in hcl


def test_schema_bad_input(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "schema", "diff", "--from", "nowhere", "--to", "file://x.sql", check=False)
    assert proc.returncode == 1 and proc.stdout.startswith("FAILED: nowhere: give a URL")
    proc = run_cli(tmp_path, "schema", "inspect", "-u", f"file://{tmp_path / 'missing.sql'}", check=False)
    assert proc.returncode == 1 and "missing.sql does not exist" in proc.stdout
    proc = run_cli(tmp_path, "schema", "diff", "--from", "postgres://app:s3cret@127.0.0.1:1/app",
                   "--to", "sqlite://x.db", check=False)
    assert proc.returncode == 1 and "s3cret" not in proc.stdout and len(proc.stdout.strip().splitlines()) == 1
    proc = run_cli(tmp_path, "schema", "inspect", "-u", "sqlite://x.db", "--format", "{{ json . }}", check=False)
    assert proc.returncode == 1 and proc.stdout.startswith("FAILED: --format: only a template")


def test_schema_diff_in_memory_dev_url_spellings(tmp_path: Path) -> None:
    """`--dev-url sqlite://` (no file) and `sqlite://:memory:` are the in-memory dev database, as in Atlas: no file
    is written next to the project."""
    (tmp_path / "schema.sql").write_text("CREATE TABLE t (id INTEGER NOT NULL, PRIMARY KEY (id));\n")
    for dev in ("sqlite://", "sqlite://:memory:"):
        out = run_cli(tmp_path, "schema", "diff", "--from", "file://schema.sql", "--to", "file://schema.sql",
                      "--dev-url", dev).stdout
        assert out == "Schemas are synced, no changes to be made.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schema.sql"]
