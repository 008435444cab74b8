"""PostgreSQL: ephemeral clusters as dev databases, named schemas, transactional DDL in one round trip."""

from __future__ import annotations

import re

from sqlalchemy.engine import Connection

from atlembic.devdb.base import DevDialect
from atlembic.engines.base import Engine
from atlembic.migrate.lexer import POSTGRES_SCAN
from atlembic.migrate.lock import PostgresLock
from atlembic.migrate.revisions import POSTGRES_LAYOUT
from atlembic.migrate.transactions import PostgresTransactions
from atlembic.plan.postgresql import PostgresPlanner
from atlembic.schema.postgresql import PostgresReflector

__all__ = ["POSTGRESQL", "PostgreSQL"]

_NOT_AVAILABLE = re.compile(r'extension "([^"]+)" is not available|could not open extension control file '
                            r'"[^"]*/([^"/]+)\.control"')
# Debian's packages of the extensions postgresql-NN does not ship (its contrib ones are all there), by the name
# the package carries after postgresql-NN-.
_PACKAGES = {"vector": "pgvector", "postgis": "postgis-3", "postgis_raster": "postgis-3",
             "postgis_topology": "postgis-3", "postgis_tiger_geocoder": "postgis-3",
             "address_standardizer": "postgis-3", "pg_cron": "cron", "pg_partman": "partman", "pg_repack": "repack"}


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
    async_drivers = ("psycopg", "asyncpg")
    read_only_statement = "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
    transactions = PostgresTransactions
    lock = PostgresLock
    scan_options = POSTGRES_SCAN
    revisions = POSTGRES_LAYOUT
    connect_timeout = True

    def missing_on_dev_server(self, error: str, conn: Connection) -> str | None:
        match = _NOT_AVAILABLE.search(error)
        if match is None:
            return None
        name = match.group(1) or match.group(2)
        major = (conn.dialect.server_version_info or (15,))[0]
        package = f"postgresql-{major}-{_PACKAGES.get(name, name.replace('_', '-'))}"
        return (f'extension "{name}" is not installed on the dev database\'s PostgreSQL {major} server: install the '
                f"OS package {package} (Debian/Ubuntu) there, or pass --dev-url of a server that has it")

    def dev_dialect(self) -> DevDialect:
        # On first use: the cluster machinery (and what it imports) only when a dev database is needed.
        from atlembic.devdb import postgresql

        return postgresql.DIALECT


POSTGRESQL = PostgreSQL()
