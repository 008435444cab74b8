"""A real PostgreSQL server for the test session, started from the local server binaries.

Import from conftest.py (or a test module)::

    from tests.support.pg_fixture import fresh_pg_url, pg_server  # noqa: F401

``pg_server`` is session-scoped: one ephemeral cluster (~0.1 s to start with the cached template) serves
every test; ``fresh_pg_url(pg_server)`` gives each test its own new, empty database on it.

Without PostgreSQL server binaries the tests are skipped, except under ``CI=true``, where they fail:
CI must not go green by silently not testing PostgreSQL.

The engine-neutral helpers at the end serve tests/support/mysql_fixture.py too.
"""

from __future__ import annotations

import importlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import NoReturn, TypeVar

import pytest

from atlembic.devdb.postgresql import EphemeralPostgres, find_pg_bindir
from atlembic.devdb.server import EphemeralServer
from atlembic.errors import AtlembicError

__all__ = ["pg_server", "fresh_pg_url", "pg_bindir_or_skip", "pg_unavailable"]

_S = TypeVar("_S", bound=EphemeralServer)


def pg_unavailable(reason: str) -> NoReturn:
    """Skip locally, fail in CI."""
    server_unavailable("PostgreSQL", reason)


def pg_bindir_or_skip() -> Path:
    try:
        return find_pg_bindir()
    except AtlembicError as exc:
        pg_unavailable(str(exc))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EphemeralPostgres]:
    """A started :class:`EphemeralPostgres`, stopped at the end of the session."""
    bindir = pg_bindir_or_skip()
    try:
        import psycopg  # noqa: F401 - the driver every URL below uses
    except ImportError:
        pg_unavailable("psycopg is not installed (pip install 'psycopg[binary]')")
    yield from running(EphemeralPostgres(bindir))


# ------------------------------------------------------------------------------------ any engine's server


def server_unavailable(engine: str, reason: str) -> NoReturn:
    """Skip locally, fail in CI (also at module level: a module that cannot run is a failure there)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{engine} is required in CI: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)  # only outside CI: under CI=true it failed above


def require_module(name: str, reason: str) -> ModuleType:
    """`import name`; when it is missing, skip locally and fail in CI, as for a missing server."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        server_unavailable(name, f"{reason} ({exc})")


def running(server: _S) -> Iterator[_S]:
    """The body of a session fixture: ``server`` started, and stopped at the end."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fresh_database_url(server: EphemeralServer) -> str:
    """Create a new empty database on ``server`` and return its URL (e.g. as a migration target).

    Not dropped afterwards: it disappears with the session's server.
    """
    name = f"atlembic_test_{secrets.token_hex(6)}"
    return server.create_database(name).render_as_string(hide_password=False)


fresh_pg_url = fresh_database_url
