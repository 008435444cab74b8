"""``--dev-url``: dev databases on a server (or file) the user points us at.

PostgreSQL: a scratch database ``atlembic_dev_<random>`` per clean state, created and dropped on that
server. Without the right to create databases (managed servers, CI roles), the given database itself is
used when it is empty, and emptied again after every use (Atlas's semantics).

MySQL/MariaDB: the same, with a probe CREATE DATABASE deciding the mode (grants can be per pattern); the
in-place fallback needs the URL to name the (empty) database.

SQLite: ``sqlite://`` is in-memory; a file path must be absent or empty, and is left as it was found.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from atlembic.devdb import DevDatabase, _dialect_module, assert_clean, normalize_dialect
from atlembic.devdb import sqlite as sqlite_devdb
from atlembic.devdb.server import scratch_database_name
from atlembic.errors import AtlembicError, mask_url, one_line

__all__ = ["UrlDevDatabase"]

_INSUFFICIENT_PRIVILEGE = "42501"
_SQLITE_MEMORY = ("", ":memory:")
_SQLITE_SIDECARS = ("-journal", "-wal", "-shm")


# MySQL/MariaDB: ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR.
_MYSQL_ACCESS_DENIED = (1044, 1045, 1227)
# Bounds on lock waits while a database is emptied in place.
_LOCK_TIMEOUT = {"postgresql": "SET lock_timeout = '10s'", "mysql": "SET SESSION lock_wait_timeout = 10"}


def _is_permission_denied(exc: DBAPIError) -> bool:
    orig = exc.orig
    args = getattr(orig, "args", None) or ()
    if args and isinstance(args[0], int):  # PyMySQL / mysqlclient: (errno, message)
        return args[0] in _MYSQL_ACCESS_DENIED
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code == _INSUFFICIENT_PRIVILEGE


class UrlDevDatabase(DevDatabase):
    """Dev databases behind a user-given URL; ``mode``: ``memory``, ``file``, ``scratch`` or ``in-place``."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.dialect_name = normalize_dialect(url.get_backend_name())
        setup = {"sqlite": self._setup_sqlite, "postgresql": self._setup_postgresql,
                 "mysql": self._setup_mysql}.get(self.dialect_name)
        if setup is None:
            raise AtlembicError(f"--dev-url {mask_url(url)}: {self.dialect_name} dev databases are not supported")
        self._admin: Engine | None = None
        setup()

    @property
    def description(self) -> str:  # type: ignore[override]
        where = mask_url(self.url)
        return {
            "memory": "in-memory SQLite",
            "file": f"SQLite file {self.url.database} (emptied after each use)",
            "scratch": f"scratch databases on {where}",
            "in-place": f"the empty database {where} itself (no CREATEDB privilege; emptied after each use)",
        }[self.mode]

    # -- SQLite -------------------------------------------------------------------------------------------

    def _setup_sqlite(self) -> None:
        self._clean_impl = self._sqlite_clean_database
        if (self.url.database or "") in _SQLITE_MEMORY:
            self.mode = "memory"
            return
        self.mode = "file"
        path = self._sqlite_path()
        if path.exists() and path.stat().st_size > 0:
            # Refuse up front rather than on the first replay: a clear message before any work.
            engine = create_engine(self.url)
            try:
                assert_clean(engine)
            except SQLAlchemyError as exc:
                raise AtlembicError(f"--dev-url {mask_url(self.url)} is not a usable SQLite file: {exc}") from None
            finally:
                engine.dispose()

    def _sqlite_path(self) -> Path:
        return Path(os.path.expanduser(self.url.database or ""))

    @contextmanager
    def _sqlite_clean_database(self) -> Iterator[Engine]:
        if self.mode == "memory":
            engine = sqlite_devdb.memory_engine(self.url)
            try:
                assert_clean(engine)
                yield engine
            finally:
                engine.dispose()
            return

        path = self._sqlite_path()
        existed = path.exists()
        engine = create_engine(self.url)
        sqlite_devdb.enable_foreign_keys(engine)

        def reset() -> None:
            # A zero-byte file is a valid empty SQLite database: truncate one we were given, remove
            # one we created; either way the user finds what they had.
            for sidecar in _SQLITE_SIDECARS:
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{sidecar}").unlink()
            if existed:
                with open(path, "wb"):
                    pass
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

        with _used_in_place(engine, reset) as used:
            yield used

    # -- PostgreSQL ---------------------------------------------------------------------------------------

    def _setup_postgresql(self) -> None:
        self._clean_impl = self._server_clean_database
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=1)
        try:
            with self._admin.connect() as conn:
                may_create = conn.execute(
                    text("SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user")
                ).scalar()
        except SQLAlchemyError as exc:
            self._admin.dispose()
            reason = one_line(exc, self.url, first_line=True)
            raise AtlembicError(f"cannot connect to --dev-url {mask_url(self.url)}: {reason}") from None
        # Decided up front so that the description tells the user which mode is in use; CREATE DATABASE
        # failing with "permission denied" later switches modes too.
        self.mode = "scratch" if may_create else "in-place"

    # -- MySQL / MariaDB ----------------------------------------------------------------------------------

    def _setup_mysql(self) -> None:
        from atlembic.devdb import mysql

        self._clean_impl = self._server_clean_database
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=1)
        # MySQL has no single "may create databases" flag to look up (grants can be per pattern), so
        # try it: create and drop a probe database. Denied -> the given database itself, if it is named.
        probe = scratch_database_name()
        try:
            with self._admin.connect() as conn:
                try:
                    mysql.create_database(conn, probe)
                except DBAPIError as exc:
                    if not _is_permission_denied(exc):
                        raise
                    self.mode = "in-place"
                else:
                    mysql.drop_database(conn, probe)
                    self.mode = "scratch"
        except SQLAlchemyError as exc:
            self._admin.dispose()
            reason = one_line(exc, self.url, first_line=True)
            raise AtlembicError(f"cannot connect to --dev-url {mask_url(self.url)}: {reason}") from None
        if self.mode == "in-place" and not self.url.database:
            self._admin.dispose()
            raise AtlembicError(
                f"--dev-url {mask_url(self.url)}: may not CREATE DATABASE there, and the URL names no database "
                "to use instead; add an empty database to the URL (mysql://user@host/devdb)"
            )

    # -- PostgreSQL and MySQL / MariaDB -------------------------------------------------------------------

    @contextmanager
    def _server_clean_database(self) -> Iterator[Engine]:
        sql = _dialect_module(self.dialect_name)
        assert self._admin is not None
        if self.mode == "scratch":
            name = scratch_database_name()
            try:
                with self._admin.connect() as conn:
                    sql.create_database(conn, name)
            except DBAPIError as exc:
                # In place needs a database to use: PostgreSQL has a default one, MySQL must be told.
                if not _is_permission_denied(exc) or (self.dialect_name == "mysql" and not self.url.database):
                    raise AtlembicError(
                        f"cannot create a scratch database on {mask_url(self.url)}: "
                        f"{one_line(exc, self.url, first_line=True)}"
                    ) from None
                self.mode = "in-place"
            else:
                engine = create_engine(self.url.set(database=name))
                try:
                    assert_clean(engine)  # template1 may have been filled by someone
                    yield engine
                finally:
                    engine.dispose()
                    with self._admin.connect() as conn:
                        sql.drop_database(conn, name)
                return

        with _used_in_place(create_engine(self.url), self._empty_in_place) as used:
            yield used

    def _empty_in_place(self) -> None:
        sql = _dialect_module(self.dialect_name)
        assert self._admin is not None
        # MySQL: a connection of its own, so that its session settings end with it.
        engine = (
            self._admin
            if self.dialect_name == "postgresql"
            else create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        )
        try:
            with engine.connect() as conn:
                # A connection the caller leaked may still hold locks: fail loudly instead of hanging.
                conn.exec_driver_sql(_LOCK_TIMEOUT[self.dialect_name])
                sql.drop_all_objects(conn)
                leftover = sql.find_leftover(conn)
        finally:
            if engine is not self._admin:
                engine.dispose()
        if leftover is not None:
            raise AtlembicError(
                f"could not empty dev database {mask_url(self.url)} after use: {leftover} remains; drop it by hand"
            )

    # -- DevDatabase --------------------------------------------------------------------------------------

    @contextmanager
    def clean_database(self) -> Iterator[Engine]:
        with self._clean_impl() as engine:
            yield engine

    def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            admin.dispose()


@contextmanager
def _used_in_place(engine: Engine, reset: Callable[[], None]) -> Iterator[Engine]:
    """Use the given database itself: refuse it unless empty, and empty it again afterwards."""
    checked = False
    try:
        assert_clean(engine)
        checked = True
        yield engine
    finally:
        engine.dispose()
        if checked:
            reset()
