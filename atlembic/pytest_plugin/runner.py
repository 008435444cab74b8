"""The `atlembic_runner` fixture's object: pytest-alembic's ``MigrationContext`` names on atlembic's commands,
so a test written for pytest-alembic moves over unchanged.

Moving up is `atlembic.commands.upgrade` (every file recorded in the revisions table, as on production),
moving down is `atlembic.commands.downgrade` (planned from the database's real schema to the directory at
the version asked for). The lint gate and the data-loss refusal are off: whether a file should be applied
is `test_lint`'s question, whether it applies is the test's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast, overload

import sqlalchemy as sa

from atlembic import commands
from atlembic.config import Settings
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import files_to_reach
from atlembic.migrate.history import History
from atlembic.target import target_engine

__all__ = ["BASE", "MigrationFailed", "MigrationHistory", "MigrationRunner"]

BASE = "base"  # pytest-alembic's name of the empty database
_F = TypeVar("_F", bound=Callable[..., Any])


class MigrationFailed(AtlembicError):
    """A move of the runner failed: the line atlembic prints, raised from the test's own line."""


def _reported_in_one_line(method: _F) -> _F:
    """Re-raise atlembic's error from the runner's method with its traceback hidden, so a failing test shows
    its own line and the message, not atlembic's internals."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        try:
            return method(*args, **kwargs)
        except AtlembicError as exc:
            raise MigrationFailed(str(exc)) from None

    return cast(_F, wrapper)


@dataclass(frozen=True)
class MigrationHistory(Sequence[str]):
    """The versions a fresh database goes through (from the last checkpoint), oldest first; pytest-alembic's
    ``revisions`` list (``base``, the versions, ``heads``) and neighbours too."""

    versions: tuple[str, ...]

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self.versions[index]

    def __len__(self) -> int:
        return len(self.versions)

    def __iter__(self) -> Iterator[str]:
        return iter(self.versions)

    @property
    def revisions(self) -> list[str]:
        return [BASE, *self.versions, "heads"]

    def previous_revision(self, version: str) -> str:
        """The version before `version`, ``base`` before the first."""
        index = self._index(version)
        return self.versions[index - 1] if index > 0 else BASE

    def next_revision(self, version: str) -> str | None:
        """The version after `version` (``base``: the first), None after the last."""
        index = -1 if version == BASE else self._index(version)
        return self.versions[index + 1] if index + 1 < len(self.versions) else None

    def _index(self, version: str) -> int:
        if version not in self.versions:
            raise AtlembicError(f"Can't locate revision identified by '{version}' in the migration directory")
        return self.versions.index(version)


class MigrationRunner:
    """Moves one clean test database along the migration directory. `engine` is an SQLAlchemy Engine on it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        files = settings.migration_dir().checked().files()
        self._history = History(files)
        self.history = MigrationHistory(tuple(f.version for f in files_to_reach(files, len(files) - 1)))
        self.engine: sa.Engine = target_engine(settings)

    @property
    def heads(self) -> list[str]:
        return list(self.history.versions[-1:])

    @property
    def current(self) -> str:
        """The database's last recorded version, ``base`` when none."""
        return commands.current(self._settings).version or BASE

    def _version(self, revision: str) -> str:
        """A version, unique prefix, ``head``/``heads`` or ``base`` as the version it names (or ``base``)."""
        if revision == BASE:
            return BASE
        return self._history.version_at(self._history.resolve(revision, None, current_known=False)) or BASE

    @_reported_in_one_line
    def migrate_up_to(self, revision: str) -> str:
        """Apply the files up to and including `revision`; returns the version the database is at."""
        version = self._version(revision)
        if version != BASE:
            commands.upgrade(self._settings, version, allow_destructive=True)
        return self.current

    @_reported_in_one_line
    def migrate_up_before(self, revision: str) -> str:
        """Apply the files up to the one before `revision` (so a test can insert rows `revision` moves)."""
        return self.migrate_up_to(self.history.previous_revision(self._version(revision)))

    @_reported_in_one_line
    def migrate_up_one(self) -> str | None:
        """Apply the next file; returns its version, None when the database is at the last one."""
        following = self.history.next_revision(self.current)
        if following is not None:
            commands.upgrade(self._settings, following, allow_destructive=True)
        return following

    @_reported_in_one_line
    def migrate_down_to(self, revision: str) -> str:
        """Downgrade to `revision` (``base``: nothing applied) with atlembic's planned downgrade."""
        version = self._version(revision)
        commands.downgrade(self._settings, version, allow_destructive=True)
        return version

    @_reported_in_one_line
    def migrate_down_one(self) -> str:
        """Downgrade by one file; returns the version the database is at then."""
        current = self.current
        if current == BASE:
            raise AtlembicError("migrate_down_one: the test database is at base, nothing to downgrade")
        return self.migrate_down_to(self.history.previous_revision(current))

    def insert_into(self, table: str, data: dict[str, Any] | Sequence[dict[str, Any]] | None = None) -> None:
        """Insert a row (a dict) or rows (a list of dicts) into `table` as it is in the database now."""
        if not data:
            return
        rows = [data] if isinstance(data, dict) else list(data)
        with self.engine.begin() as conn:
            reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
            conn.execute(reflected.insert(), rows)
