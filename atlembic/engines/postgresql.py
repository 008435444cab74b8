"""PostgreSQL: ephemeral clusters as dev databases, named schemas, transactional DDL in one round trip."""

from __future__ import annotations

from atlembic.devdb.base import DevDialect
from atlembic.engines.base import Engine
from atlembic.migrate.lexer import POSTGRES_SCAN
from atlembic.migrate.lock import PostgresLock
from atlembic.migrate.revisions import POSTGRES_LAYOUT
from atlembic.migrate.transactions import PostgresTransactions
from atlembic.plan.postgresql import PostgresPlanner
from atlembic.schema.postgresql import PostgresReflector

__all__ = ["POSTGRESQL", "PostgreSQL"]


class PostgreSQL(Engine):
    name = family = "postgresql"
    title = "PostgreSQL"
    driver = "psycopg"
    extra = "postgresql"
    aliases = ("postgres", "pg")
    docker_images = ("postgres",)
    reflector = PostgresReflector
    planner_class = PostgresPlanner
    mock_url = "postgresql+psycopg://"
    named_schemas = True
    default_schema_name = "public"
    async_drivers = ("psycopg", "asyncpg")
    read_only_statement = "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
    transactions = PostgresTransactions
    lock = PostgresLock
    scan_options = POSTGRES_SCAN
    revisions = POSTGRES_LAYOUT
    connect_timeout = True

    def dev_dialect(self) -> DevDialect:
        # On first use: the cluster machinery (and what it imports) only when a dev database is needed.
        from atlembic.devdb import postgresql

        return postgresql.DIALECT


POSTGRESQL = PostgreSQL()
