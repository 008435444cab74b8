"""Throwaway "dev databases" that migrations are replayed on (see ARCHITECTURE.md, "Dev database rules").

Every planner run needs an empty database of the target dialect: the migration directory is replayed on
it and the result compared with the models. :func:`open_dev_database` picks one:

* no ``--dev-url``: an embedded one (in-memory SQLite, or an ephemeral PostgreSQL cluster or MariaDB/MySQL
  server started from the locally installed server binaries);
* ``--dev-url``: scratch databases on that server (or the given database itself, when we may not create
  databases and it is empty).

The dialect modules are imported lazily so that SQLite-only users need neither psycopg nor PostgreSQL.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TypeVar

from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError

from atlembic.errors import AtlembicError, mask_url

__all__ = ["DevDatabase", "DirectoryStates", "open_dev_database", "assert_clean"]

# Dialect name -> module (inside this package) implementing the embedded default and the emptiness check.
_DIALECT_MODULES = {"sqlite": "sqlite", "postgresql": "postgresql", "mysql": "mysql"}
_DIALECT_ALIASES = {"postgres": "postgresql", "pg": "postgresql", "sqlite3": "sqlite", "mariadb": "mysql"}
_T = TypeVar("_T")


class CloseOnExit:
    """``with x:`` ... ``x.close()``: for dev databases and the ephemeral servers behind them."""

    def close(self) -> None:
        """Release servers and temporary files. Idempotent."""

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class DevDatabase(CloseOnExit, abc.ABC):
    """A source of clean, empty, disposable databases of one dialect."""

    dialect_name: str
    description: str
    # The engine and version behind this dev database when it is one of ours (embedded: same binaries, same
    # settings every run), which the replay cache keys schemas with; None for a server we do not own.
    cache_identity: str | None = None

    @abc.abstractmethod
    @contextmanager
    def clean_database(self) -> Iterator[Engine]:
        """Yield an Engine bound to a new empty database; the database is discarded on exit."""

    # In-run states: a dev database that can copy a database (PostgreSQL's CREATE DATABASE ... TEMPLATE, a
    # file copy: 0.2 s where replaying 1000 tables takes 1.6 s) keeps the directory's replayed state for
    # the other replays of the same run (verification, lint). An embedded server that cannot copy one
    # (MariaDB) keeps states only to keep them between runs (atlembic.devdb.kept): the state's own database
    # then goes to the one replay that keeps what it makes of it. Others replay (atlembic.replay.cache).

    keeps_states = False  # whether keep_state does anything here
    copies_states = False  # whether `state_database` gives a copy (else the state itself: to a keeper only)

    def keep_state(self, engine: Engine, key: str) -> None:
        """Keep the database of `engine` (a `clean_database` of this object, left unchanged from now on) as
        state `key` instead of discarding it, where states are kept."""

    def has_state(self, key: str) -> bool:
        return False

    def state_database(self, key: str) -> AbstractContextManager[Engine]:
        """Like `clean_database`, but the database holds state `key` (see `has_state`): a copy of it where
        `copies_states`, else the state's own database, which is no longer that state afterwards."""
        raise KeyError(key)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.description}>"


@dataclass(frozen=True)
class DirectoryStates:
    """What an embedded dev database that keeps replayed states between runs (:mod:`atlembic.devdb.kept`)
    must know before its server starts: the states of one migration directory's prefixes. For the prefix
    ``files[:i+1]``, ``keys[i]`` names the state between runs (the replay cache's persistent prefix key)
    and ``in_run[i]`` within the run (the key `has_state` and `state_database` are asked with). The metadata
    of kept data dirs goes in ``cache_dir``."""

    keys: tuple[str, ...]
    in_run: tuple[str, ...]
    cache_dir: Path


def normalize_dialect(name: str) -> str:
    """``postgresql+psycopg`` / ``postgres`` -> ``postgresql``; unknown names pass through."""
    base = name.split("+", 1)[0].lower()
    return _DIALECT_ALIASES.get(base, base)


def _dialect_module(dialect: str) -> ModuleType:
    module = _DIALECT_MODULES.get(normalize_dialect(dialect))
    if module is None:
        supported = ", ".join(sorted(_DIALECT_MODULES))
        raise AtlembicError(f"no dev database support for dialect {dialect!r} (supported: {supported})")
    return importlib.import_module(f"{__name__}.{module}")


def find_leftover(engine: Engine) -> str | None:
    """Describe the first schema object found in the engine's database (``table "x"``), or None."""
    checker = _dialect_module(engine.dialect.name).find_leftover
    with engine.connect() as conn:
        return checker(conn)


def assert_clean(engine: Engine) -> None:
    """Refuse a dev database that is not empty (Atlas does the same): a replay on it would lie."""
    leftover = find_leftover(engine)
    if leftover is not None:
        raise AtlembicError(f"dev database {mask_url(engine.url)} is not clean: found {leftover}")


def embedded_identity(target_dialect: str) -> str | None:
    """The `cache_identity` the embedded dev database of `target_dialect` will have, without starting it
    (None: not available here). A MySQL target hears now that it is planned on MariaDB, if it is."""
    try:
        return _dialect_module(target_dialect).embedded_identity(target_dialect)
    except AtlembicError:
        return None


def open_dev_database(
    target_dialect: str, dev_url: str | None = None, *, states: DirectoryStates | None = None
) -> DevDatabase:
    """The dev database for ``target_dialect``: the embedded default, or the server behind ``dev_url``.

    Never silently substitutes another engine: a ``dev_url`` of a different dialect is an error.
    ``states``: the embedded server may start from a data dir kept by an earlier run that holds the
    longest of them, and keeps its own states at close (ignored for a ``dev_url``: not our server).
    """
    dialect = normalize_dialect(target_dialect)
    module = _dialect_module(dialect)
    if dev_url is None:
        # The target's own name (mysql vs mariadb) lets the module warn when the engines differ.
        return module.open_embedded(target_dialect, states=states)

    try:
        url = make_url(dev_url)
    except ArgumentError as exc:
        raise AtlembicError(f"invalid --dev-url: {exc}") from None
    url_dialect = normalize_dialect(url.get_backend_name())
    if url_dialect != dialect:
        raise AtlembicError(
            f"--dev-url {mask_url(url)} is a {url_dialect} database but the target is {dialect}; "
            f"the dev database must use the same engine as the target"
        )
    from atlembic.devdb.url import UrlDevDatabase

    return UrlDevDatabase(url)
