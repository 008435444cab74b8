"""`Engine`: everything atlembic knows about one database engine, in one object (Alembic's `DefaultImpl` per
dialect, Atlas's `Driver`). Each engine's module of this package composes its parts from the layers below:
its reflector (schema/), planner (plan/), dev databases and state dumps (devdb/), and says what shared code
would otherwise ask by comparing dialect names. Code that needs one of those parts asks
`atlembic.engines.engine_for(...)` for the engine instead of looking a dialect name up.

The layers above this one add their own per-engine parts keyed by the engine class, whose variants inherit
them: lint's hooks (atlembic.lint.model.register_hooks)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.engine.mock import MockConnection

from atlembic import provider
from atlembic.devdb.base import DevDatabase, DevDialect, DirectoryStates, StateIO
from atlembic.errors import AtlembicError, mask_url, one_line
from atlembic.migrate.lexer import ScanOptions
from atlembic.migrate.lock import Lock
from atlembic.migrate.revisions import RevisionsLayout
from atlembic.migrate.transactions import Transactions
from atlembic.plan.base import Planner
from atlembic.schema.inspect import quiet
from atlembic.schema.model import Schema, Sequence, Table
from atlembic.schema.policy import NO_POLICY, DiffPolicy
from atlembic.schema.reflector import REVISIONS_TABLE, Reflector

__all__ = ["Engine"]


class Engine:
    """One engine; MariaDB is a variant (subclass) of MySQL that differs only where it says so."""

    name: ClassVar[str]  # SQLAlchemy's dialect name: sqlite, postgresql, mysql, mariadb
    title: ClassVar[str]  # the engine as messages name it: SQLite, PostgreSQL, MySQL, MariaDB
    # The engine whose dev databases, cache keys and lint rules this one shares (MariaDB: mysql).
    family: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()  # other spellings users write (postgres, pg, sqlite3)
    # The images of Atlas's ``docker://IMAGE/TAG/DB`` dev URLs that mean this engine's embedded dev database.
    docker_images: ClassVar[tuple[str, ...]] = ()
    reflector: ClassVar[type[Reflector]]
    planner_class: ClassVar[type[Planner]]
    # A driver whose SQLAlchemy dialect imports without its DBAPI: SQL for the engine without a server.
    mock_url: ClassVar[str]
    # Whether `schema=` names a schema inside the database (on MySQL it would be another database).
    named_schemas: ClassVar[bool] = False
    # The schema a database's unqualified names are in, as `schema inspect` names it when no live database says.
    default_schema_name: ClassVar[str] = "main"
    # The driver atlembic's dev databases connect with (SQLAlchemy's name), and atlembic's pip extra that
    # installs it (None: Python brings it). Checked before a command starts a server or connects.
    driver: ClassVar[str]
    extra: ClassVar[str | None] = None
    async_drivers: ClassVar[tuple[str, ...]] = ()  # what create_async_engine may use, in order of preference
    # The statement that makes a session refuse writes (lint's connection to a target).
    read_only_statement: ClassVar[str | None] = None
    # What applying migration files needs (migrate/driver.py: an Engine is the executor's Driver): how a file
    # runs in a transaction (its `batches`: whether many DDL statements may go to the server as one batch in
    # one transaction, one round trip), the apply lock, how statements are split, the revisions table.
    transactions: ClassVar[type[Transactions]]
    lock: ClassVar[type[Lock]]
    scan_options: ClassVar[ScanOptions]
    revisions: ClassVar[RevisionsLayout]
    # Whether the engine runs inside this process (SQLite): no server to start, its work is all Python (two
    # threads gain nothing), and an in-memory database is seen by its one connection only.
    in_process: ClassVar[bool] = False
    # Whether its drivers take ``connect_timeout`` (seconds) in connect_args (used when the URL sets none).
    connect_timeout: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"<engine {self.name}>"

    def connect_args(self, url: URL, seconds: int) -> dict[str, Any]:
        """What bounds opening a connection to `url` to about `seconds` (a server that accepts and never
        answers must not hang a command), where the URL does not say itself."""
        return {"connect_timeout": seconds} if self.connect_timeout and "connect_timeout" not in url.query else {}

    def connect_url(self, url: URL) -> URL:
        """`url` as the driver takes it (a target URL may carry a parameter in the spelling users write, which
        the driver would refuse)."""
        return url

    def connected(self, dbapi_connection: Any) -> None:
        """Called once a connection made with `connect_args` is open: lift what must not bound its queries."""

    # -- dev databases (devdb/) -----------------------------------------------------------------------------

    def dev_dialect(self) -> DevDialect:
        """This engine's part of devdb (imported on first use: the servers' machinery is not cheap)."""
        raise NotImplementedError

    def require_driver(self, url: URL | None = None) -> None:
        """Import the driver `url` connects with (default: the dev databases' driver); when it is missing, one
        line naming the URL and what to install, before a server is started or a connection opened."""
        ours = make_url(f"{self.name}+{self.driver}://")
        what = mask_url(url) if url is not None else f"the dev database ({ours})"
        url = url if url is not None else ours
        try:
            url.get_dialect().import_dbapi()
        except ImportError as exc:
            missing = f"no {self.title} driver for {what} ({one_line(exc)})"
            if self.extra is None:
                raise AtlembicError(missing) from None
            install = f'pip install "atlembic[{self.extra}]"'
            if url.get_driver_name() != self.driver:  # the extra brings atlembic's driver, not this URL's
                install = f"install it, or {install} and use {self.name}+{self.driver}://"
            raise AtlembicError(f"{missing}: {install}") from None

    def open_dev_database(self, target_dialect: str, url: URL | None = None, *,
                          states: DirectoryStates | None = None) -> DevDatabase:
        """The embedded default dev database, or dev databases behind a --dev-url of this engine.
        ``target_dialect``: the target's own name (mysql vs mariadb), which lets the engine warn when its
        dev database is of another flavor."""
        self.require_driver(url)
        if url is None:
            return self.dev_dialect().open_embedded(target_dialect, states=states)
        return self.dev_dialect().open_url(url)

    def embedded_identity(self, target_dialect: str) -> str:
        """The `cache_identity` of the embedded dev database, without starting it (AtlembicError: none here)."""
        return self.dev_dialect().embedded_identity(target_dialect)

    def local_server(self) -> str:
        """The embedded dev database's engine and version, e.g. ``PostgreSQL 15.18`` (AtlembicError: none here)."""
        return self.dev_dialect().embedded_identity(None).removeprefix("embedded ")

    def state_io(self) -> StateIO:
        return self.dev_dialect().state_io()

    def connection_identity(self, conn: Connection) -> str:
        """The engine and version of the server behind `conn` (what replay-cache states are keyed with)."""
        return f"{self.name} {'.'.join(map(str, conn.dialect.server_version_info or ()))}"

    def database_key(self, url: URL) -> tuple[Any, ...]:
        """What tells two URLs of this engine apart as databases (driver and options aside)."""
        return (url.get_backend_name(), url.host, url.port, url.database, url.username, url.query.get("host"))

    # -- inspection (schema/) and planning (plan/) ------------------------------------------------------------

    def inspect_schema(self, conn: Connection, exclude: Iterable[str] = (REVISIONS_TABLE,)) -> Schema:
        with quiet():
            return self.reflector(conn).inspect(exclude)

    def inspect_tables(self, conn: Connection, names: Collection[str],
                       exclude: Iterable[str] = (REVISIONS_TABLE,)) -> dict[str, Table]:
        with quiet():
            return {t.name: t for t in self.reflector(conn).inspect_tables(names, exclude)}

    def inspect_sequences(self, conn: Connection) -> tuple[Sequence, ...]:
        with quiet():
            return self.reflector(conn).sequences()

    def unmanaged_objects(self, conn: Connection) -> list[str]:
        return self.reflector(conn).unmanaged_objects()

    def missing_on_dev_server(self, error: str, major: int | None = None) -> str | None:
        """What to do when a dev database refused a statement with `error` because its server (of major version
        `major`, if known) lacks a part (an extension that is not installed), one line; None for any other error."""
        return None

    def mock_engine(self, executor: Any = None) -> MockConnection:
        """An engine that only compiles: SQL for this engine without a driver or a server. Its SQL goes to files
        that run as written (migrate.executor.execute_as_written), so a literal's % stays one % (the driver's
        format paramstyle would double it)."""
        return sa.create_mock_engine(self.mock_url, executor, paramstyle="named")

    def planner(self, policy: DiffPolicy = NO_POLICY) -> Planner:
        return self.planner_class(self.mock_engine().dialect, policy)

    def metadata_ddl(self, metadata: sa.MetaData) -> list[str]:
        """The CREATE statements (without trailing `;`) that build `metadata` on this engine."""
        return provider.metadata_ddl(metadata, self.name, self.mock_engine, named_schemas=self.named_schemas)

