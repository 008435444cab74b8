"""The current side: the migration directory replayed on a clean dev database (through the replay
cache) and read back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

import sqlalchemy as sa

from atlembic.devdb import DevDatabase
from atlembic.engines import engine_for, inspect_schema
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationFile
from atlembic.migrate.executor import StatementError
from atlembic.replay import cache as replay_cache
from atlembic.replay.replayed import replayed_database
from atlembic.schema.model import Schema
from atlembic.timings import Timings


def replay_schema(
    dev: DevDatabase, files: Sequence[MigrationFile], timings: Timings | None = None
) -> Schema:
    """Replay migration files on a clean dev database and read back the resulting schema.

    Through the replay cache: an unchanged directory's schema is read from it without a dev database,
    and a replay starts from the longest cached prefix of `files` (see atlembic.replay.cache).
    """
    if not files:
        return Schema()  # what a clean dev database reads back as (each is checked empty): no need to make one
    timings = timings or Timings()
    identity = replay_cache.dev_identity(dev)
    cached = replay_cache.load_schema(files, dev.dialect_name, identity)
    if cached is not None:
        return cached
    with ExitStack() as stack:
        with timings.stage("replay"):
            engine = stack.enter_context(directory_state(dev, files, keep=True))
        with engine.connect() as conn, timings.stage("inspect"):
            current = inspect_schema(conn)
    replay_cache.save_schema(files, dev.dialect_name, identity, current)
    return current


@contextmanager
def directory_state(dev: DevDatabase, files: Sequence[MigrationFile], *, keep: bool = False) -> Iterator[sa.Engine]:
    """A clean dev database holding the directory's state (`replayed_database`); a failing
    file is an error naming it."""
    try:
        with replayed_database(dev, files, keep=keep) as engine:
            yield engine
    except StatementError as exc:
        missing = engine_for(dev.dialect_name).missing_on_dev_server(str(exc.cause))
        if missing is not None:
            raise AtlembicError(f"replaying the migration directory failed: {exc.file.name}:{exc.statement.line}: "
                                f"{missing}") from exc
        raise AtlembicError(f"replaying the migration directory failed: {exc}") from exc
