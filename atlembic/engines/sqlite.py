"""SQLite: in-memory dev databases, no named schemas, the database is a file."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from sqlalchemy.engine import URL, Connection

from atlembic.devdb.base import DevDialect
from atlembic.engines.base import Engine
from atlembic.migrate.lexer import SQLITE_SCAN
from atlembic.migrate.lock import SqliteLock
from atlembic.migrate.revisions import SQLITE_LAYOUT
from atlembic.migrate.transactions import SqliteTransactions
from atlembic.plan.sqlite import SqlitePlanner
from atlembic.schema.sqlite import SqliteReflector

__all__ = ["SQLITE", "SQLite"]


class SQLite(Engine):
    name = family = "sqlite"
    title = "SQLite"
    driver = "pysqlite"
    aliases = ("sqlite3",)
    reflector = SqliteReflector
    planner_class = SqlitePlanner
    mock_url = "sqlite://"
    async_drivers = ("aiosqlite",)
    read_only_statement = "PRAGMA query_only = ON"
    in_process = True
    transactions = SqliteTransactions
    lock = SqliteLock
    scan_options = SQLITE_SCAN
    revisions = SQLITE_LAYOUT

    def dev_dialect(self) -> DevDialect:
        # On first use, as the servers' (it shares the --dev-url machinery with them).
        from atlembic.devdb import sqlite

        return sqlite.DIALECT

    def connection_identity(self, conn: Connection) -> str:
        return f"sqlite {sqlite3.sqlite_version}"

    def database_key(self, url: URL) -> tuple[Any, ...]:
        return ("sqlite", os.path.realpath(url.database or ":memory:"))


SQLITE = SQLite()
