"""Shared fixtures: real databases only. Under CI=true a missing server fails, never skips."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from atlembic.devdb import DevDatabase
from atlembic.engines import open_dev_database
from atlembic.migrate import executor
from tests.support.cli import as_a_new_process


@pytest.fixture(autouse=True)
def _project_modules_forgotten() -> Iterator[None]:
    """What a test imported from its projects (models.py, env.py's modules, their sys.path entries) is gone after
    it: in-process commands of the next test import their own project's `models`, not this one's."""
    with as_a_new_process():
        yield


@pytest.fixture(scope="session")
def sqlite_dev() -> Iterator[DevDatabase]:
    with open_dev_database("sqlite") as dev:
        yield dev


@pytest.fixture
def sqlite_env(sqlite_dev: DevDatabase) -> Callable[[Path], tuple[DevDatabase, str]]:
    """(dev database, target URL) for SQLite: the target is a file in the test's tmp dir."""
    def make(tmp: Path) -> tuple[DevDatabase, str]:
        return sqlite_dev, f"sqlite:///{tmp / 'target.db'}"
    return make



from tests.support.pg_fixture import fresh_pg_url, pg_server  # noqa: E402,F401  (session PostgreSQL server)


@pytest.fixture(scope="session")
def pg_dev(pg_server) -> Iterator[DevDatabase]:  # noqa: F811
    """Dev databases as `--dev-url` makes them: scratch databases on the session's server."""
    url = pg_server.url("postgres").render_as_string(hide_password=False)
    with open_dev_database("postgresql", url) as dev:
        yield dev


@pytest.fixture
def pg_env(pg_server, pg_dev: DevDatabase) -> Callable[[], tuple[DevDatabase, str]]:  # noqa: F811
    """(dev database, target URL) for PostgreSQL: the target is a new database on the server."""
    def make() -> tuple[DevDatabase, str]:
        return pg_dev, fresh_pg_url(pg_server)
    return make


from tests.support.mysql_fixture import fresh_mysql_url, mysql_server  # noqa: E402,F401  (session MariaDB server)


@pytest.fixture(scope="session")
def mysql_dev(mysql_server) -> Iterator[DevDatabase]:  # noqa: F811
    """Dev databases as `--dev-url` makes them: scratch databases on the session's MariaDB server."""
    url = mysql_server.url().render_as_string(hide_password=False)
    with open_dev_database("mysql", url) as dev:
        yield dev


@pytest.fixture
def mysql_env(mysql_server, mysql_dev: DevDatabase) -> Callable[[], tuple[DevDatabase, str]]:  # noqa: F811
    """(dev database, target URL) for MySQL/MariaDB: the target is a new database on the server."""
    def make() -> tuple[DevDatabase, str]:
        return mysql_dev, fresh_mysql_url(mysql_server)
    return make


@pytest.fixture
def replayed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the files that really ran on a dev database (not restored from the replay cache or copied from a
    kept state)."""
    ran: list[str] = []
    original = executor.run_replay

    def spy(engine, files, dialect, **kw):  # type: ignore[no-untyped-def]
        ran.extend(f.name for f in files)
        return original(engine, files, dialect, **kw)

    monkeypatch.setattr(executor, "run_replay", spy)
    return ran


# The longest files first: pytest-xdist (`--dist loadfile`, .ci/run) hands files to its workers in collection
# order, so the property tests and the real projects' converts overlap everything else instead of running last.
_LONGEST_FIRST = ("tests/test_properties.py", "tests/test_convert_real.py", "tests/test_cluster_state.py",
                  "tests/test_models_cache.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return _LONGEST_FIRST.index(path) if path in _LONGEST_FIRST else len(_LONGEST_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its place
