"""MySQL, and MariaDB declared once as its variant (SQLAlchemy's ``mariadb`` dialect, or a ``mysql://``
connection to a MariaDB server): the same dev databases, reflector, planner and lint rules."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.engine import URL

from atlembic.devdb.base import DevDialect
from atlembic.engines.base import Engine
from atlembic.migrate.batch import MULTI_STATEMENTS
from atlembic.migrate.lexer import MYSQL_SCAN
from atlembic.migrate.lock import MysqlLock
from atlembic.migrate.revisions import MYSQL_LAYOUT
from atlembic.migrate.transactions import MySQLTransactions
from atlembic.plan.mysql import MySQLPlanner
from atlembic.schema.mysql import MySQLReflector

__all__ = ["MARIADB", "MYSQL", "MariaDB", "MySQL"]

_FOUND_ROWS = 2  # the protocol's CLIENT_FOUND_ROWS: UPDATE counts matched rows, as SQLAlchemy asks


class MySQL(Engine):
    name = family = "mysql"
    title = "MySQL"
    default_schema_name = "dev"  # a database; the dev database's own name is a scratch one
    driver = "pymysql"
    extra = "mysql"
    docker_images: ClassVar[tuple[str, ...]] = ("mysql",)
    reflector = MySQLReflector
    planner_class = MySQLPlanner
    mock_url = "mysql+pymysql://"
    async_drivers = ("asyncmy", "aiomysql")
    read_only_statement = "SET SESSION TRANSACTION READ ONLY"
    transactions = MySQLTransactions
    lock = MysqlLock
    scan_options = MYSQL_SCAN
    revisions = MYSQL_LAYOUT
    connect_timeout = True

    def connect_args(self, url: URL, seconds: int) -> dict[str, Any]:
        args = super().connect_args(url, seconds)
        if url.get_driver_name() != "pymysql":
            return args
        if args and "read_timeout" not in url.query:
            # PyMySQL's connect_timeout covers the TCP connect only; the server's greeting and the login are
            # reads: bounded here, and unbounded again once connected (a long ALTER must not time out).
            args["read_timeout"] = seconds
        # Multi-statements, so that `upgrade` sends runs of statements with their records in one round trip
        # (migrate/batch.py); these replace the flags SQLAlchemy computes, so FOUND_ROWS (its sane rowcount)
        # and the URL's client_flag are kept.
        given = url.query.get("client_flag", "0")
        args["client_flag"] = int(given if isinstance(given, str) else given[-1]) | _FOUND_ROWS | MULTI_STATEMENTS
        return args

    def connected(self, dbapi_connection: Any) -> None:
        if type(dbapi_connection).__module__.startswith("pymysql") and hasattr(dbapi_connection, "_read_timeout"):
            dbapi_connection._read_timeout = None  # PyMySQL sets each read's timeout from it

    def dev_dialect(self) -> DevDialect:
        # On first use: the server machinery (and what it imports) only when a dev database is needed.
        from atlembic.devdb import mysql

        return mysql.DIALECT


class MariaDB(MySQL):
    name = "mariadb"
    title = "MariaDB"
    aliases = ("maria",)
    docker_images = ("mariadb", "maria")


MYSQL = MySQL()
MARIADB = MariaDB()
