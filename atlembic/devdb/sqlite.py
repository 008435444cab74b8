"""SQLite dev databases: a fresh in-memory database per clean state, nothing to start; a --dev-url file
is used in place; states are the serialized in-memory databases."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from atlembic.devdb.base import DevDatabase, DevDialect, DirectoryStates, StateIO
from atlembic.devdb.url import UrlDevDatabase, used_in_place
from atlembic.errors import AtlembicError, mask_url

__all__ = ["DIALECT", "SqliteMemoryDevDatabase", "find_leftover", "open_embedded", "enable_foreign_keys"]

_SQLITE_MEMORY = ("", ":memory:")
_SQLITE_SIDECARS = ("-journal", "-wal", "-shm")


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
            DIALECT.assert_clean(engine)
            yield engine
        finally:
            # Disposing closes the only connection, which discards the in-memory database.
            engine.dispose()


def embedded_identity(target_dialect: str | None = None) -> str:
    return f"sqlite {sqlite3.sqlite_version}"


def open_embedded(target_dialect: str | None = None, states: Any = None) -> DevDatabase:
    return SqliteMemoryDevDatabase()  # its states are the replay cache's serialized databases


class SqliteUrlDevDatabase(UrlDevDatabase):
    """``--dev-url sqlite://`` (in-memory) or a file: the file must be absent or empty, and is left as found."""

    def _setup(self) -> None:
        if (self.url.database or "") in _SQLITE_MEMORY:
            self.mode = "memory"
            return
        self.mode = "file"
        path = self._sqlite_path()
        if path.exists() and path.stat().st_size > 0:
            # Refuse up front rather than on the first replay: a clear message before any work.
            engine = create_engine(self.url)
            try:
                DIALECT.assert_clean(engine)
            except SQLAlchemyError as exc:
                raise AtlembicError(f"--dev-url {mask_url(self.url)} is not a usable SQLite file: {exc}") from None
            finally:
                engine.dispose()

    def _sqlite_path(self) -> Path:
        return Path(os.path.expanduser(self.url.database or ""))

    @contextmanager
    def _clean_database(self) -> Iterator[Engine]:
        if self.mode == "memory":
            engine = memory_engine(self.url)
            try:
                DIALECT.assert_clean(engine)
                yield engine
            finally:
                engine.dispose()
            return

        path = self._sqlite_path()
        existed = path.exists()
        engine = create_engine(self.url)
        enable_foreign_keys(engine)

        def reset() -> None:
            # A zero-byte file is a valid empty SQLite database: truncate one we were given, remove
            # one we created; either way the user finds what they had.
            for sidecar in _SQLITE_SIDECARS:
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{sidecar}").unlink()
            if existed:
                with open(path, "wb"):
                    pass
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

        with used_in_place(self.dialect, engine, reset) as used:
            yield used


class SqliteState(StateIO):
    cheap = True

    def available(self, conn: Connection) -> bool:
        # Only the in-memory dev database: deserialize() replaces one connection's view of a database
        # file with a private copy, which other connections to that file (a --dev-url) would not see.
        # serialize() and deserialize() are Python 3.11+: on 3.10 SQLite replays without states.
        return sys.version_info >= (3, 11) and conn.engine.url.database in (None, "", ":memory:")

    def dump(self, engine: Engine) -> bytes:
        if sys.version_info < (3, 11):  # see available()
            raise NotImplementedError
        with engine.connect() as conn:
            return cast(sqlite3.Connection, conn.connection.driver_connection).serialize()

    def restore(self, engine: Engine, payload: bytes) -> None:
        if sys.version_info < (3, 11):  # see available()
            raise NotImplementedError
        with engine.connect() as conn:
            raw = cast(sqlite3.Connection, conn.connection.driver_connection)
            raw.deserialize(payload)
            # deserialize() resets the connection's settings; a replay needs the foreign keys it had.
            raw.execute("PRAGMA foreign_keys=ON")
            if raw.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise AtlembicError("restored database fails quick_check")

    def reset(self, engine: Engine) -> None:
        if sys.version_info < (3, 11):  # see available()
            raise NotImplementedError
        with engine.connect() as conn:
            raw = cast(sqlite3.Connection, conn.connection.driver_connection)
            empty = sqlite3.connect(":memory:")  # an empty database that has a page to serialize
            empty.executescript("CREATE TABLE t (x); DROP TABLE t; VACUUM;")
            raw.deserialize(empty.serialize())
            raw.execute("PRAGMA foreign_keys=ON")


class SqliteDevDialect(DevDialect):
    name = "sqlite"

    def find_leftover(self, conn: Connection) -> str | None:
        return find_leftover(conn)

    def embedded_identity(self, target_dialect: str | None = None) -> str:
        return embedded_identity(target_dialect)

    def open_embedded(self, target_dialect: str | None = None, states: DirectoryStates | None = None) -> DevDatabase:
        return open_embedded(target_dialect, states)

    def open_url(self, url: URL) -> DevDatabase:
        return SqliteUrlDevDatabase(url, self)

    def state_io(self) -> StateIO:
        return SqliteState()


DIALECT = SqliteDevDialect()
