"""PostgreSQL: ephemeral clusters as dev databases, named schemas, transactional DDL in one round trip."""

from __future__ import annotations

import re

from sqlalchemy.engine import URL

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
_VERSION_IN_PATH = re.compile(r"/(\d+)/extension/")
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
    default_schema_name = "public"
    async_drivers = ("psycopg", "asyncpg")
    read_only_statement = "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
    transactions = PostgresTransactions
    lock = PostgresLock
    scan_options = POSTGRES_SCAN
    revisions = POSTGRES_LAYOUT
    connect_timeout = True

    def connect_url(self, url: URL) -> URL:
        """Atlas's ``search_path=tenant_7`` as libpq's ``options=-csearch_path=tenant_7`` (psycopg refuses the
        former): every unqualified name resolves in that schema, and the target is bound to it (its revisions
        table and lock: migrate/revisions.py, migrate/lock.py)."""
        search_path = url.query.get("search_path")
        if not isinstance(search_path, str):
            return url
        option = f"-csearch_path={search_path}"
        options = url.query.get("options")
        return url.difference_update_query(["search_path"]).update_query_dict(
            {"options": f"{options} {option}" if isinstance(options, str) and options else option})

    def missing_on_dev_server(self, error: str, major: int | None = None) -> str | None:
        match = _NOT_AVAILABLE.search(error)
        if match is None:
            return None
        name = match.group(1) or match.group(2)
        # The control file's path names the server's major version (/usr/share/postgresql/15/extension/...).
        in_path = _VERSION_IN_PATH.search(error)
        version = in_path.group(1) if in_path else str(major) if major else "N"
        package = f"postgresql-{version}-{_PACKAGES.get(name, name.replace('_', '-'))}"
        server = f"PostgreSQL {version} server" if version != "N" else "PostgreSQL N server (N: its major version)"
        return (f'extension "{name}" is not installed on the dev database\'s {server}: install the OS package '
                f"{package} (Debian/Ubuntu) there, or pass --dev-url of a server that has it")

    def dev_dialect(self) -> DevDialect:
        # On first use: the cluster machinery (and what it imports) only when a dev database is needed.
        from atlembic.devdb import postgresql

        return postgresql.DIALECT


POSTGRESQL = PostgreSQL()
