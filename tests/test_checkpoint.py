"""Checkpoints (issue 18 item 4, Atlas's ``migrate checkpoint``): `atlembic checkpoint [TAG]` and `atlembic migrate
checkpoint [TAG] --env|--dir` write the whole schema the directory builds as one ``-- atlas:checkpoint`` file
(verified on a clean dev database, atlas.sum rewritten). A fresh database then applies the checkpoint and the
files after it only, one that has revisions skips it, and both equal a database built from every file: on
SQLite, PostgreSQL and MariaDB, through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.engines import inspect_schema
from atlembic.migrate.directory import MigrationDir
from atlembic.schema.model import Schema
from tests.support.cli import run_cli
from tests.support.pg_fixture import fresh_database_url

HISTORY = {
    "20200101000001_users.sql":
        "CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, PRIMARY KEY (id));\n",
    "20200101000002_posts.sql": (
        "CREATE TABLE posts (id INTEGER NOT NULL, user_id INTEGER NOT NULL, title VARCHAR(100), PRIMARY KEY (id),\n"
        "  CONSTRAINT fk_posts_user FOREIGN KEY (user_id) REFERENCES users (id));\n"
        "CREATE INDEX ix_posts_user ON posts (user_id);\n"),
    "20200101000003_email.sql": (
        "ALTER TABLE users ADD COLUMN email VARCHAR(120);\n"
        "CREATE UNIQUE INDEX uq_users_email ON users (email);\n"
        "CREATE VIEW user_names AS SELECT name FROM users;\n"),
    "20200101000004_scratch.sql": "CREATE TABLE scratch (id INTEGER NOT NULL, PRIMARY KEY (id));\n",
    "20200101000005_drop_scratch.sql": "-- atlas:nolint DS102\nDROP TABLE scratch;\n",
}
AFTER = ("20991231000000_body.sql", "ALTER TABLE posts ADD COLUMN body VARCHAR(200);\n")
LAST_BEFORE = "20200101000005"


def _directory(root: Path) -> Path:
    directory = root / "migrations"
    directory.mkdir(parents=True)
    for name, text in HISTORY.items():
        (directory / name).write_text(text)
    MigrationDir(directory).write_sum()
    return directory


def _schema(url: str) -> Schema:
    """The target's schema, without atlembic's revisions table."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            schema = inspect_schema(conn)
    finally:
        engine.dispose()
    return Schema(tables=tuple(t for t in schema.tables if t.name != "atlas_schema_revisions"), enums=schema.enums,
                  sequences=schema.sequences, views=schema.views, triggers=schema.triggers,
                  schemas=tuple(s for s in schema.schemas if s != "atlas_schema_revisions"))


def _versions(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            table = sa.Table("atlas_schema_revisions", sa.MetaData(), autoload_with=conn,
                             schema="atlas_schema_revisions" if engine.dialect.name == "postgresql" else None)
            return [r[0] for r in conn.execute(sa.select(table.c.version).order_by(table.c.version))]
    finally:
        engine.dispose()


def _apply(root: Path, url: str, directory: Path) -> str:
    return run_cli(root, "migrate", "apply", "--dir", f"file://{directory}", "--url", url).stdout


def checkpoint_scenario(root: Path, urls: list[str], dev: str, *, alembic_style: bool) -> str:
    """The directory applied to an existing database, checkpointed, one more file written; that database, a fresh
    one and one built from every file end equal. Returns the checkpoint's text."""
    existing, fresh, full = urls
    directory = _directory(root)
    _apply(root, existing, directory)
    engine = sa.create_engine(existing)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO users (id, name, email) VALUES (1, 'ada', 'ada@example.invalid')")
            conn.exec_driver_sql("INSERT INTO posts (id, user_id, title) VALUES (7, 1, 'notes')")
    finally:
        engine.dispose()

    before = sorted(p.name for p in directory.iterdir())
    if alembic_style:  # the Alembic-style command: the target's dialect, its dev database
        out = run_cli(root, "--dir", str(directory), "--url", fresh, "checkpoint", "v1").stdout
        assert "done (checkpoint of 5 files, " in out
    else:
        run_cli(root, "migrate", "checkpoint", "v1", "--dir", f"file://{directory}", "--dev-url", dev)
    [written] = sorted(set(p.name for p in directory.iterdir()) - set(before))
    assert written.endswith("_checkpoint.sql") and len(written.split("_")[0]) == 14
    text = (directory / written).read_text()
    assert text.startswith("-- atlas:checkpoint v1\n\n")
    assert "users" in text and "posts" in text and "user_names" in text and "scratch" not in text
    assert all(line == line.rstrip() for line in text.splitlines())
    MigrationDir(directory).check_sum()  # atlas.sum rewritten with it
    (directory / AFTER[0]).write_text(AFTER[1])
    run_cli(root, "migrate", "hash", "--dir", f"file://{directory}")

    # The existing database skips the checkpoint: only the file after it runs, and its rows survive.
    applied = _apply(root, existing, directory)
    assert f"Migrating to version {AFTER[0][:14]} from {LAST_BEFORE} (1 migration in total)" in applied
    assert _versions(existing) == [*(name[:14] for name in HISTORY), AFTER[0][:14]]
    # A fresh database starts at the checkpoint: two files, none of the history before it.
    applied = _apply(root, fresh, directory)
    assert "(2 migrations in total)" in applied and "scratch" not in applied
    assert _versions(fresh) == [written[:14], AFTER[0][:14]]
    # A database built from every file, checkpoint left out.
    every = root / "every"
    shutil.copytree(directory, every)
    (every / written).unlink()
    MigrationDir(every).write_sum()
    _apply(root, full, every)

    reference = _schema(full)
    assert {t.name for t in reference.tables} == {"users", "posts"} and len(reference.views) == 1
    assert _schema(existing) == reference
    assert _schema(fresh) == reference
    engine = sa.create_engine(existing)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT u.email, p.title FROM users u JOIN posts p ON p.user_id = u.id"
                                        ).all() == [("ada@example.invalid", "notes")]
    finally:
        engine.dispose()
    # Planning after the checkpoint replays from it: the next checkpoint stands for two files.
    out = run_cli(root, "--dir", str(directory), "--url", fresh, "checkpoint", "--rev-id", "29991231000000").stdout
    assert "done (checkpoint of 2 files, " in out
    return text


@pytest.mark.parametrize("alembic_style", [False, True], ids=["migrate-checkpoint", "checkpoint"])
def test_checkpoint_sqlite(tmp_path: Path, alembic_style: bool) -> None:
    urls = [f"sqlite:///{tmp_path / name}.db" for name in ("existing", "fresh", "full")]
    text = checkpoint_scenario(tmp_path, urls, "sqlite://dev?mode=memory", alembic_style=alembic_style)
    assert "CREATE TABLE users (\n\tid INTEGER NOT NULL," in text


@pytest.mark.slow
@pytest.mark.parametrize("alembic_style", [False, True], ids=["migrate-checkpoint", "checkpoint"])
def test_checkpoint_postgresql(tmp_path: Path, pg_server, alembic_style: bool) -> None:  # noqa: ANN001
    urls = [fresh_database_url(pg_server) for _ in range(3)]
    checkpoint_scenario(tmp_path, urls, "docker://postgres/15/dev", alembic_style=alembic_style)


@pytest.mark.slow
@pytest.mark.parametrize("alembic_style", [False, True], ids=["migrate-checkpoint", "checkpoint"])
def test_checkpoint_mariadb(tmp_path: Path, mysql_server, alembic_style: bool) -> None:  # noqa: ANN001
    urls = [fresh_database_url(mysql_server) for _ in range(3)]
    checkpoint_scenario(tmp_path, urls, "docker://mariadb/latest/dev", alembic_style=alembic_style)


def test_checkpoint_refuses(tmp_path: Path) -> None:
    """Nothing to checkpoint, a bad tag, a broken file: one FAILED line, nothing written."""
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli(tmp_path, "--dir", str(empty), "checkpoint", check=False)
    assert proc.returncode == 255 and proc.stdout == f"FAILED: {empty}: no migration files to checkpoint\n"
    directory = _directory(tmp_path)
    proc = run_cli(tmp_path, "--dir", str(directory), "checkpoint", "two words", check=False)
    assert proc.returncode == 255 and "checkpoint tag 'two words'" in proc.stdout
    (directory / "20200101000006_broken.sql").write_text("CREATE TABLE nope (;\n")
    MigrationDir(directory).write_sum()
    before = sorted(p.name for p in directory.iterdir())
    proc = run_cli(tmp_path, "--dir", str(directory), "checkpoint", check=False)
    assert proc.returncode == 255 and "20200101000006_broken.sql" in proc.stdout
    assert len(proc.stdout.strip().splitlines()) == 1
    assert sorted(p.name for p in directory.iterdir()) == before


def test_migrate_checkpoint_env_of_the_sqlalchemy_guide(tmp_path: Path) -> None:
    """`migrate checkpoint --env`: the env's dev database and format template (two-space bodies); planning replays
    from the checkpoint afterwards and finds the models in sync."""
    from tests.test_atlas_hcl import guide_walkthrough, sqlalchemy_guide_project

    project = sqlalchemy_guide_project(tmp_path, "sqlite", "sqlite://dev?mode=memory", "sqlite://app.db")
    guide_walkthrough(project)
    assert run_cli(project, "migrate", "checkpoint", "--env", "sqlalchemy").stdout == ""
    [written] = sorted((project / "migrations").glob("*_checkpoint.sql"))
    text = written.read_text()
    assert text.startswith('-- atlas:checkpoint\n\n-- Create "users" table\nCREATE TABLE users (\n'
                           "  id INTEGER NOT NULL,\n")
    synced = run_cli(project, "migrate", "diff", "--env", "sqlalchemy")
    assert "The migration directory is synced with the desired state" in synced.stdout
    fresh = tmp_path / "fresh.db"
    out = run_cli(project, "migrate", "apply", "--env", "sqlalchemy", "--url", f"sqlite:///{fresh}").stdout
    assert f"Migrating to version {written.name[:14]} (1 migration in total)" in out
    assert "No migration files to execute" in run_cli(project, "migrate", "apply", "--env", "sqlalchemy").stdout


@pytest.mark.slow
def test_checkpoint_postgresql_types_schemas_sequences(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    """What only PostgreSQL has goes into its checkpoint too: an enum (with a value added later), a named schema
    whose SERIAL table references the default one, a standalone sequence and a default drawing from it; the
    checkpoint alone builds the same database. (Sequences of a named schema, and a named schema's table drawing
    from the default schema's sequence, are not planned right yet: the checkpoint's verification refuses them.)"""
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "20200101000001_base.sql").write_text(
        "CREATE TYPE mood AS ENUM ('ok', 'sad');\n"
        "CREATE TABLE people (id SERIAL PRIMARY KEY, mood mood NOT NULL DEFAULT 'ok');\n")
    (directory / "20200101000002_billing.sql").write_text(
        "CREATE SCHEMA billing;\nCREATE SEQUENCE invoice_no START 1000;\n"
        "CREATE TABLE billing.invoices (id SERIAL PRIMARY KEY,\n"
        "  person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE);\n"
        "ALTER TABLE people ADD COLUMN badge BIGINT NOT NULL DEFAULT nextval('invoice_no');\n"
        "ALTER TYPE mood ADD VALUE 'glad';\n")
    MigrationDir(directory).write_sum()
    full, fresh = fresh_database_url(pg_server), fresh_database_url(pg_server)
    run_cli(tmp_path, "migrate", "apply", "--dir", f"file://{directory}", "--url", full)
    run_cli(tmp_path, "--dir", str(directory), "--url", full, "checkpoint")
    [written] = sorted(directory.glob("*_checkpoint.sql"))
    text = written.read_text()
    assert "CREATE TYPE" in text and "'glad'" in text and "CREATE SCHEMA" in text and "billing.invoices" in text
    assert "CREATE SEQUENCE" in text and "START WITH 1000" in text
    out = run_cli(tmp_path, "migrate", "apply", "--dir", f"file://{directory}", "--url", fresh).stdout
    assert "(1 migration in total)" in out
    assert _schema(fresh) == _schema(full)
    assert run_cli(tmp_path, "schema", "diff", "--from", full, "--to", fresh).stdout == (
        "Schemas are synced, no changes to be made.\n")
