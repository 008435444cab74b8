"""What every dev database shares (:class:`DevDatabase`), and what each engine's dialect module of this
package provides to the shared code (:class:`DevDialect`: the catalog SQL, the emptiness check, the
embedded default, the state dump and restore). The engine registry (atlembic.engines) picks the
`DevDialect` of a target; nothing here looks up a dialect by its name."""

from __future__ import annotations

import abc
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ClassVar, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from atlembic.errors import AtlembicError, mask_url

__all__ = ["CloseOnExit", "DevDatabase", "DevDialect", "DirectoryStates", "StateIO", "client_run"]

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
    # file copy, much cheaper than a replay) keeps the directory's replayed state for
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

    def start_early(self) -> None:
        """A clean database will soon be needed: a dev database that starts on first use may start now, in the
        background. Nothing to do for one that is up."""

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


class StateIO:
    """How one engine's database contents are saved and restored (the replay cache's states)."""

    # Whether a dump and a restore cost less than any replay (a serialized in-memory database), so that
    # every replayed state is worth saving; a server's dump is restored by executing it.
    cheap = False

    def available(self, conn: Connection) -> bool:
        return True

    def dump(self, engine: Engine) -> bytes:
        raise NotImplementedError

    def restore(self, engine: Engine, payload: bytes) -> None:
        raise NotImplementedError

    def reset(self, engine: Engine) -> None:
        """Empty the database again after a failed restore."""
        raise NotImplementedError


def client_run(cmd: list[str], env: dict[str, str], data: bytes | None = None) -> bytes:
    """Run a client tool of the engine (a dump, a restore); its stderr is the error when it fails."""
    proc = subprocess.run(cmd, input=data, capture_output=True, env=env, timeout=600, check=False)
    if proc.returncode != 0:
        raise AtlembicError(f"{Path(cmd[0]).name} failed: {proc.stderr.decode(errors='replace').strip()[-500:]}")
    return proc.stdout


class DevDialect(abc.ABC):
    """One engine's part of this package, which the shared code (server.py, url.py) and the engine
    registry ask: each dialect module defines one (``DIALECT``)."""

    name: ClassVar[str]  # SQLAlchemy's name of the engine's family ("mysql" for MariaDB too)
    # Bounds on lock waits while a --dev-url database is emptied in place (None: nothing to bound).
    lock_timeout: ClassVar[str | None] = None

    @abc.abstractmethod
    def find_leftover(self, conn: Connection) -> str | None:
        """First schema object in the connection's database (``table "x"``), or None when it is empty."""

    def assert_clean(self, engine: Engine) -> None:
        """Refuse a dev database that is not empty (Atlas does the same): a replay on it would lie."""
        with engine.connect() as conn:
            leftover = self.find_leftover(conn)
        if leftover is not None:
            raise AtlembicError(f"dev database {mask_url(engine.url)} is not clean: found {leftover}")

    # -- servers (our ephemeral ones and --dev-url ones): AUTOCOMMIT connections --------------------------

    def create_database(self, conn: Connection, name: str, template: str | None = None, *,
                        file_copy: bool = False) -> None:
        raise NotImplementedError(f"{self.name} has no databases to create")

    def drop_database(self, conn: Connection, name: str) -> None:
        raise NotImplementedError(f"{self.name} has no databases to drop")

    def rename_database(self, conn: Connection, name: str, new_name: str) -> None:
        raise NotImplementedError(f"{self.name} cannot rename databases")

    def list_databases(self, conn: Connection) -> set[str]:
        raise NotImplementedError(f"{self.name} has no databases to list")

    def server_globals(self, conn: Connection) -> str:
        """A digest of what every database of the server shares (roles, accounts, settings)."""
        raise NotImplementedError(f"{self.name} has no server")

    def drop_all_objects(self, conn: Connection) -> None:
        """Empty the connection's database without dropping it."""
        raise NotImplementedError(f"{self.name} cannot empty a database in place")

    # -- the dev databases ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def embedded_identity(self, target_dialect: str | None = None) -> str:
        """The `cache_identity` the embedded dev database will have, without starting it (AtlembicError:
        not available here). ``target_dialect``: the target's own name (mysql vs mariadb), which lets the
        engine warn when it plans on another flavor."""

    @abc.abstractmethod
    def open_embedded(self, target_dialect: str | None = None, states: DirectoryStates | None = None) -> DevDatabase:
        """The embedded default dev database (see `embedded_identity` for ``target_dialect``)."""

    @abc.abstractmethod
    def open_url(self, url: URL) -> DevDatabase:
        """Dev databases behind a --dev-url of this engine."""

    @abc.abstractmethod
    def state_io(self) -> StateIO:
        """How the replay cache dumps and restores this engine's databases."""
