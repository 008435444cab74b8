"""SQLite dev databases: a fresh in-memory database per clean state, nothing to start."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from atlembic.devdb import DevDatabase, assert_clean

__all__ = ["SqliteMemoryDevDatabase", "find_leftover", "open_embedded", "enable_foreign_keys"]


def find_leftover(conn: Connection) -> str | None:
    """First user object in the database (``table "x"``), or None when it is empty."""
    # sqlite_% names are SQLite's own (sqlite_sequence, sqlite_stat1, sqlite_autoindex_*).
    row = conn.execute(
        text(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'view' THEN 1 ELSE 2 END, name LIMIT 1"
        )
    ).first()
    return None if row is None else f'{row[0]} "{row[1]}"'


def enable_foreign_keys(engine: Engine) -> None:
    """SQLite ignores FOREIGN KEY clauses unless asked; replays must fail like the real database would."""

    @event.listens_for(engine, "connect")
    def _fk_on(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()


def memory_engine(url: URL | str = "sqlite://") -> Engine:
    # StaticPool: an in-memory database lives as long as its one connection, so every checkout must get
    # that same connection or the schema would vanish between connections.
    engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    enable_foreign_keys(engine)
    return engine


class SqliteMemoryDevDatabase(DevDatabase):
    dialect_name = "sqlite"

    def __init__(self, description: str = "in-memory SQLite") -> None:
        self.description = description
        self.cache_identity = embedded_identity()

    @contextmanager
    def clean_database(self) -> Iterator[Engine]:
        engine = memory_engine()
        try:
            assert_clean(engine)
            yield engine
        finally:
            # Disposing closes the only connection, which discards the in-memory database.
            engine.dispose()


def embedded_identity(target_dialect: str | None = None) -> str:
    return f"sqlite {sqlite3.sqlite_version}"


def open_embedded(target_dialect: str | None = None, states: Any = None) -> DevDatabase:
    return SqliteMemoryDevDatabase()  # its states are the replay cache's serialized databases
