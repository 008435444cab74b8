"""Shared fixtures: real databases only. Under CI=true a missing server fails, never skips."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from atlembic.devdb import DevDatabase, open_dev_database


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


_counter = itertools.count()
