"""A real MariaDB (or MySQL) server for the test session, started from the local server binaries.

Import from conftest.py (or a test module)::

    from tests.support.mysql_fixture import fresh_mysql_url, mysql_server  # noqa: F401

``mysql_server`` is session-scoped: one ephemeral server (~0.1 s to start with the cached template) serves
every test; ``fresh_mysql_url(mysql_server)`` gives each test its own new, empty database on it.

Without MariaDB/MySQL server binaries (or PyMySQL) the tests are skipped, except under ``CI=true``,
where they fail: CI must not go green by silently not testing MySQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

import pytest

from atlembic.devdb.mysql import EphemeralMariaDB, MySQLBinaries, find_mysql_binaries
from atlembic.errors import AtlembicError
from tests.support.pg_fixture import fresh_database_url, running, server_unavailable

__all__ = ["mysql_server", "fresh_mysql_url", "mysql_binaries_or_skip", "mysql_unavailable"]


def mysql_unavailable(reason: str) -> NoReturn:
    """Skip locally, fail in CI."""
    server_unavailable("MariaDB/MySQL", reason)


def mysql_binaries_or_skip() -> MySQLBinaries:
    try:
        import pymysql  # noqa: F401 - the driver every URL below uses
    except ImportError:
        mysql_unavailable("PyMySQL is not installed (pip install pymysql)")
    try:
        return find_mysql_binaries()
    except AtlembicError as exc:
        mysql_unavailable(str(exc))


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[EphemeralMariaDB]:
    """A started :class:`EphemeralMariaDB`, stopped at the end of the session."""
    yield from running(EphemeralMariaDB(mysql_binaries_or_skip()))


fresh_mysql_url = fresh_database_url
