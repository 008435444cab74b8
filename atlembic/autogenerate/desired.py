"""The desired side: the models created on a clean dev database and read back as the engine made them."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from atlembic.config import SchemaSource, Settings
from atlembic.devdb import DevDatabase
from atlembic.engines import engine_for, inspect_schema
from atlembic.errors import AtlembicError, one_line
from atlembic.migrate.executor import execute_as_written, execute_batch
from atlembic.migrate.formats import as_written
from atlembic.migrate.lexer import split_statements
from atlembic.migrate.transactions import autocommit
from atlembic.provider import SchemaStatement, mark_engine_named
from atlembic.replay import cache as replay_cache
from atlembic.schema.model import Schema
from atlembic.timings import Timings


def desired_schema(dev: DevDatabase, metadata: sa.MetaData, timings: Timings | None = None,
                   extra: Sequence[SchemaStatement] = (), first: Sequence[SchemaStatement] = ()) -> Schema:
    """Create the models on a clean dev database and read back what the engine made of them."""
    return desired_schema_keyed(dev, metadata, timings, extra, first)[0]


def desired_schema_keyed(
    dev: DevDatabase, metadata: sa.MetaData, timings: Timings | None = None, extra: Sequence[SchemaStatement] = (),
    first: Sequence[SchemaStatement] = (),
) -> tuple[Schema, str | None]:
    """`desired_schema` and the replay-cache key it is kept under (None: not cached). `extra`: statements run after
    the models' (the `schema_files`, alembic_utils' entities), `first`: before them (alembic_utils' extensions),
    each with where it comes from."""
    timings = timings or Timings()
    with timings.stage("provider"):
        models = [("models", as_written(sql)) for sql in engine_for(dev.dialect_name).metadata_ddl(metadata)]
    statements = [*first, *models, *extra]
    return _desired_from(dev, [sql for _, sql in statements], timings, metadata, [where for where, _ in statements])


def schema_file_statements(settings: Settings, dialect: str) -> list[SchemaStatement]:
    """The statements of the SQL files `[atlembic] schema_files` names (globs relative to alembic.ini, separated by
    commas or spaces; files in name order), split as Atlas splits a migration file: plain CREATE VIEW / FUNCTION /
    TRIGGER / POLICY / EXTENSION statements the desired side runs after the models."""
    patterns = settings.options.get("schema_files", "").replace(",", " ").split()
    out: list[SchemaStatement] = []
    for pattern in patterns:
        paths = sorted(glob.glob(os.path.join(settings.here, os.path.expanduser(pattern)), recursive=True))
        if not paths:
            raise AtlembicError(f"[atlembic] schema_files: no file matches {pattern!r} (relative to {settings.here})")
        for path in paths:
            try:
                text = Path(path).read_text(encoding="utf-8")
                out += [(path, s.text) for s in split_statements(text, dialect)]
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise AtlembicError(f"[atlembic] schema_files: {path}: {one_line(exc)}") from exc
    return out


def desired_schema_from_sql(dev: DevDatabase, source: SchemaSource, timings: Timings | None = None) -> Schema:
    """The schema `source`'s DDL makes on a clean dev database (an atlas.hcl ``src``: a program's output, SQL
    files), split into statements as Atlas splits a file; its comments (``-- atlas:pos``) go with them."""
    timings = timings or Timings()
    with timings.stage("provider"):
        text = source.sql(dev.dialect_name)
    statements = [s.text for s in split_statements(text, dev.dialect_name)]
    return _desired_from(dev, statements, timings, None)[0]


def _desired_from(
    dev: DevDatabase, statements: list[str], timings: Timings, metadata: sa.MetaData | None,
    origins: Sequence[str] = (),
) -> tuple[Schema, str | None]:
    key = replay_cache.desired_key(statements, dev.dialect_name, replay_cache.dev_identity(dev))
    cached = replay_cache.load_desired(key)
    if cached is not None:
        return cached, key
    with dev.clean_database() as engine, engine.connect() as raw:
        conn = autocommit(raw)
        with timings.stage("load models"):
            if not (engine_for(conn).transactions.batches and _load_batch(conn, statements)):
                _load_each(conn, statements, origins)
        with timings.stage("inspect"):
            desired = inspect_schema(conn)
            if metadata is not None:
                desired = mark_engine_named(desired, metadata)
    replay_cache.save_desired(key, desired, len(statements))
    return desired, key


def _load_batch(conn: sa.Connection, statements: Sequence[str]) -> bool:
    """All statements in one round trip and one transaction, for an engine whose transactions `batches`
    (PostgreSQL: a third less time than a call per statement at a thousand tables). False when it failed (and
    rolled back; e.g. CREATE INDEX CONCURRENTLY: run them one by one, which names the culprit) or does not apply."""
    return len(statements) >= 2 and execute_batch(conn, statements)


def _load_each(conn: sa.Connection, statements: Sequence[str], origins: Sequence[str]) -> None:
    """Each statement on its own; one the dev database rejects is named with where it comes from (`origins`, by
    position: the models, or a schema file; the models by default)."""
    for pos, sql in enumerate(statements):
        try:
            execute_as_written(conn, sql)
        except Exception as exc:
            where = origins[pos] if pos < len(origins) else "models"
            version = conn.dialect.server_version_info
            missing = engine_for(conn).missing_on_dev_server(str(exc), int(version[0]) if version else None)
            if missing is not None:
                raise AtlembicError(f"{where}: {missing}") from exc
            first = " ".join(sql.split())[:120]
            raise AtlembicError(f'{where}: the dev database rejected "{first}": {exc}') from exc
