"""The desired side: the models created on a clean dev database and read back as the engine made them."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from atlembic.config import SchemaSource
from atlembic.devdb import DevDatabase
from atlembic.engines import engine_for, inspect_schema
from atlembic.errors import AtlembicError
from atlembic.migrate.executor import execute_as_written
from atlembic.migrate.lexer import split_statements
from atlembic.migrate.transactions import autocommit
from atlembic.provider import mark_engine_named
from atlembic.replay import cache as replay_cache
from atlembic.schema.model import Schema
from atlembic.timings import Timings


def desired_schema(dev: DevDatabase, metadata: sa.MetaData, timings: Timings | None = None) -> Schema:
    """Create the models on a clean dev database and read back what the engine made of them."""
    return desired_schema_keyed(dev, metadata, timings)[0]


def desired_schema_keyed(
    dev: DevDatabase, metadata: sa.MetaData, timings: Timings | None = None
) -> tuple[Schema, str | None]:
    """`desired_schema` and the replay-cache key it is kept under (None: not cached)."""
    timings = timings or Timings()
    with timings.stage("provider"):
        statements = engine_for(dev.dialect_name).metadata_ddl(metadata)
    return _desired_from(dev, statements, timings, metadata)


def desired_schema_from_sql(dev: DevDatabase, source: SchemaSource, timings: Timings | None = None) -> Schema:
    """The schema `source`'s DDL makes on a clean dev database (an atlas.hcl ``src``: a program's output, SQL
    files), split into statements as Atlas splits a file; its comments (``-- atlas:pos``) go with them."""
    timings = timings or Timings()
    with timings.stage("provider"):
        text = source.sql(dev.dialect_name)
    statements = [s.text for s in split_statements(text, dev.dialect_name)]
    return _desired_from(dev, statements, timings, None)[0]


def _desired_from(
    dev: DevDatabase, statements: list[str], timings: Timings, metadata: sa.MetaData | None
) -> tuple[Schema, str | None]:
    key = replay_cache.desired_key(statements, dev.dialect_name, replay_cache.dev_identity(dev))
    cached = replay_cache.load_desired(key)
    if cached is not None:
        return cached, key
    with dev.clean_database() as engine, engine.connect() as raw:
        conn = autocommit(raw)
        with timings.stage("load models"):
            if not (engine_for(conn).transactions.batches and _load_batch(conn, statements)):
                _load_each(conn, statements)
        with timings.stage("inspect"):
            desired = inspect_schema(conn)
            if metadata is not None:
                desired = mark_engine_named(desired, metadata)
    replay_cache.save_desired(key, desired, len(statements))
    return desired, key


def _load_batch(conn: sa.Connection, statements: Sequence[str]) -> bool:
    """All statements in one round trip and one transaction, for an engine whose transactions `batches`
    (PostgreSQL: a third less time than a call per statement at a thousand tables). False when it failed (and
    rolled back) or does not apply."""
    if len(statements) < 2:
        return False
    try:
        conn.exec_driver_sql("BEGIN")
        execute_as_written(conn, "\n;\n".join(statements))
        conn.exec_driver_sql("COMMIT")
    except Exception:  # e.g. CREATE INDEX CONCURRENTLY: run them one by one, which names the culprit
        conn.exec_driver_sql("ROLLBACK")
        return False
    return True


def _load_each(conn: sa.Connection, statements: Sequence[str]) -> None:
    for sql in statements:
        try:
            execute_as_written(conn, sql)
        except Exception as exc:
            missing = engine_for(conn).missing_on_dev_server(str(exc), conn)
            if missing is not None:
                raise AtlembicError(f"models: {missing}") from exc
            first = " ".join(sql.split())[:120]
            raise AtlembicError(f'models: the dev database rejected "{first}": {exc}') from exc
