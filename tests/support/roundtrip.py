"""Round-trip harness: apply model A, insert rows, plan and apply A -> B, then check the target
reflects equal to a fresh create_all(B) and the rows survived."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from atlembic import autogenerate, commands
from atlembic.config import load_settings
from atlembic.devdb import DevDatabase
from atlembic.diff import diff_schemas
from atlembic.engines import inspect_schema
from atlembic.migrate.directory import MigrationDir
from atlembic.provider import rename_hints
from atlembic.schema.model import Schema

Model = Callable[[sa.MetaData], None]


def metadata_of(model: Model) -> sa.MetaData:
    md = sa.MetaData()
    model(md)
    return md


def plan_and_write(dev: DevDatabase, directory: MigrationDir, metadata: sa.MetaData, name: str,
                   desired: Schema | None = None) -> str | None:
    """Plan the directory towards `metadata` (its `desired` schema, when already known), verify and write it;
    return the file text (None: in sync)."""
    files = directory.files_from_last_checkpoint()
    if desired is None:
        desired = autogenerate.desired_schema(dev, metadata)
    current = autogenerate.replay_schema(dev, files)
    plan = autogenerate.plan_changes(current, desired, dev.dialect_name, renames=rename_hints(metadata))
    if not plan.statements:
        return None
    autogenerate.verify_plan(dev, files, plan, desired)
    text = plan.render()
    directory.write_text(directory.new_file_name(name), text)
    return text


def query(url: str, sql: str) -> list[tuple]:
    """The rows `sql` returns on `url` (none for a statement), in a transaction of its own."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.exec_driver_sql(sql)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def reflect(url: str) -> Schema:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return inspect_schema(conn)
    finally:
        engine.dispose()


def fresh_schema(dev: DevDatabase, metadata: sa.MetaData) -> Schema:
    with dev.clean_database() as engine:
        with engine.begin() as conn:
            for schema in sorted({t.schema for t in metadata.tables.values() if t.schema}):
                conn.execute(sa.schema.CreateSchema(schema))  # create_all expects them to exist
        metadata.create_all(engine)
        with engine.connect() as conn:
            return inspect_schema(conn)


def run_round_trip(
    dev: DevDatabase,
    target_url: str,
    tmp: Path,
    model_a: Model,
    model_b: Model,
    rows: dict[str, list[dict]],
    *,
    allow_destructive: bool = True,
) -> tuple[str, dict[str, list[dict]]]:
    """Return the planned A -> B migration text and the rows read back after it. `allow_destructive=False`:
    A -> B is applied through the lint gate, which must not refuse it."""
    directory = MigrationDir(tmp / "migrations")
    settings = load_settings(None, url=target_url, directory=directory.path)
    md_a, md_b = metadata_of(model_a), metadata_of(model_b)
    assert plan_and_write(dev, directory, md_a, "a") is not None
    commands.upgrade(settings)
    engine = sa.create_engine(target_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for table, values in rows.items():
                conn.execute(md_a.tables[table].insert(), values)
        desired_b = autogenerate.desired_schema(dev, md_b)
        text = plan_and_write(dev, directory, md_b, "b", desired_b)
        assert text is not None, "A -> B planned nothing"
        commands.upgrade(settings, allow_destructive=allow_destructive)  # drops are part of some cases
        # The directory replayed again, A's file and the new one, against the same models' schema.
        assert plan_and_write(dev, directory, md_b, "c", desired_b) is None, "planning B again is not in sync"
        remaining = diff_schemas(reflect(target_url), fresh_schema(dev, md_b))
        assert not remaining, remaining.describe()
        # Rows are read back under B's names: a declared rename carries its values along.
        hints = rename_hints(md_b)
        new_table = {old: new for new, old in hints.tables.items()}
        survived: dict[str, list[dict]] = {}
        with engine.connect() as conn:
            for table, values in rows.items():
                t = md_b.tables.get(new_table.get(table, table))
                if t is None:
                    continue
                new_column = {old: new for (tbl, new), old in hints.columns.items() if tbl == t.name}
                keep = [(c, new_column.get(c, c)) for c in values[0] if new_column.get(c, c) in t.c]
                order = [t.c[new].label(old) for old, new in keep]
                result = conn.execute(sa.select(*order).order_by(*order))
                survived[table] = [dict(r._mapping) for r in result]
        return text, survived
    finally:
        engine.dispose()
