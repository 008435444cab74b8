"""``--dev-url``: dev databases on a server (or file) the user points us at.

PostgreSQL: a scratch database ``atlembic_dev_<random>`` per clean state, created and dropped on that
server. Without the right to create databases (managed servers, CI roles), the given database itself is
used when it is empty, and emptied again after every use (Atlas's semantics).

MySQL/MariaDB: the same, with a probe CREATE DATABASE deciding the mode (grants can be per pattern); the
in-place fallback needs the URL to name the (empty) database.

SQLite: ``sqlite://`` is in-memory; a file path must be absent or empty, and is left as it was found.

What the engines share is here; each engine's subclass (its set-up, its driver's "permission denied") is in
its dialect module.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from atlembic.devdb.base import DevDatabase, DevDialect
from atlembic.devdb.server import ScratchDatabases
from atlembic.errors import AtlembicError, mask_url, one_line

__all__ = ["ServerUrlDevDatabase", "UrlDevDatabase", "used_in_place"]


class UrlDevDatabase(DevDatabase):
    """Dev databases behind a user-given URL; ``mode``: ``memory``, ``file``, ``scratch`` or ``in-place``.
    Each engine's dialect module subclasses it with how it sets up (`_setup`) and gives a clean database."""

    mode: str

    def __init__(self, url: URL, dialect: DevDialect) -> None:
        self.url = url
        self.dialect = dialect
        self.dialect_name = dialect.name
        self._admin: Engine | None = None
        self._scratch = ScratchDatabases()
        self._setup()

    @abc.abstractmethod
    def _setup(self) -> None:
        """Decide (and check) the mode up front, so that the description tells the user which is in use."""

    @abc.abstractmethod
    def _clean_database(self) -> AbstractContextManager[Engine]:
        """`clean_database`, in the mode set up."""

    @property
    def description(self) -> str:  # type: ignore[override]
        where = mask_url(self.url)
        return {
            "memory": "in-memory SQLite",
            "file": f"SQLite file {self.url.database} (emptied after each use)",
            "scratch": f"scratch databases on {where}",
            "in-place": f"the empty database {where} itself (no CREATEDB privilege; emptied after each use)",
        }[self.mode]

    # -- DevDatabase --------------------------------------------------------------------------------------

    @contextmanager
    def clean_database(self) -> Iterator[Engine]:
        with self._clean_database() as engine:
            yield engine

    def close(self) -> None:
        self._scratch.close()
        admin, self._admin = self._admin, None
        if admin is not None:
            admin.dispose()


class ServerUrlDevDatabase(UrlDevDatabase):
    """PostgreSQL and MySQL / MariaDB: scratch databases on the server, else the URL's database in place."""

    # In place needs a database to use: PostgreSQL has a default one, MySQL must be told.
    in_place_needs_database = False

    @abc.abstractmethod
    def _permission_denied(self, exc: DBAPIError) -> bool:
        """Whether the driver error says we may not create (or use) a database."""

    def _connect_failed(self, exc: SQLAlchemyError) -> AtlembicError:
        assert self._admin is not None
        self._admin.dispose()
        reason = one_line(exc, self.url, first_line=True)
        return AtlembicError(f"cannot connect to --dev-url {mask_url(self.url)}: {reason}")

    def _emptying_engine(self) -> Engine:
        """The engine whose connection empties the database in place (default: the admin one)."""
        assert self._admin is not None
        return self._admin

    @contextmanager
    def _clean_database(self) -> Iterator[Engine]:
        sql = self.dialect
        assert self._admin is not None
        if self.mode == "scratch":
            name = self._scratch.take()
            try:
                with self._admin.connect() as conn:
                    sql.create_database(conn, name)
            except DBAPIError as exc:
                if not self._permission_denied(exc) or (self.in_place_needs_database and not self.url.database):
                    raise AtlembicError(
                        f"cannot create a scratch database on {mask_url(self.url)}: "
                        f"{one_line(exc, self.url, first_line=True)}"
                    ) from None
                self.mode = "in-place"
            else:
                engine = self._scratch.engine(name, self.url.set(database=name))
                try:
                    self._scratch.assert_clean(sql, engine)  # template1 may have been filled by someone
                    yield engine
                finally:
                    self._scratch.disconnect(name)
                    with self._admin.connect() as conn:
                        sql.drop_database(conn, name)
                    self._scratch.release(name)
                return

        with used_in_place(sql, create_engine(self.url), self._empty_in_place) as used:
            yield used

    def _empty_in_place(self) -> None:
        sql = self.dialect
        engine = self._emptying_engine()
        try:
            with engine.connect() as conn:
                # A connection the caller leaked may still hold locks: fail loudly instead of hanging.
                if sql.lock_timeout is not None:
                    conn.exec_driver_sql(sql.lock_timeout)
                sql.drop_all_objects(conn)
                leftover = sql.find_leftover(conn)
        finally:
            if engine is not self._admin:
                engine.dispose()
        if leftover is not None:
            raise AtlembicError(
                f"could not empty dev database {mask_url(self.url)} after use: {leftover} remains; drop it by hand"
            )


@contextmanager
def used_in_place(dialect: DevDialect, engine: Engine, reset: Callable[[], None]) -> Iterator[Engine]:
    """Use the given database itself: refuse it unless empty, and empty it again afterwards."""
    checked = False
    try:
        dialect.assert_clean(engine)
        checked = True
        yield engine
    finally:
        engine.dispose()
        if checked:
            reset()
