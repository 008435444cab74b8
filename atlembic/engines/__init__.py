"""The engine registry: one `Engine` per database engine (engines/<engine>.py), found by
`engine_for(name, URL, dialect, connection or SQLAlchemy engine)`; MariaDB is MySQL's variant.

Also the entry points that take a dialect name or a connection and need an engine's part: opening a dev
database, inspecting a schema."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Dialect
from sqlalchemy.exc import ArgumentError

from atlembic.devdb.base import DevDatabase, DirectoryStates
from atlembic.engines.base import Engine
from atlembic.engines.mysql import MARIADB, MYSQL
from atlembic.engines.postgresql import POSTGRESQL
from atlembic.engines.sqlite import SQLITE
from atlembic.errors import AtlembicError, mask_url
from atlembic.schema.model import Schema, Sequence, Table
from atlembic.schema.reflector import REVISIONS_TABLE

__all__ = ["ENGINES", "Engine", "docker_engine", "engine_for", "find_engine", "normalize_dialect", "open_dev_database",
           "embedded_identity", "assert_clean", "find_leftover", "inspect_schema", "inspect_sequences",
           "inspect_tables", "unmanaged_objects"]

ENGINES: tuple[Engine, ...] = (SQLITE, POSTGRESQL, MYSQL, MARIADB)
_BY_NAME = {name: engine for engine in ENGINES for name in (engine.name, *engine.aliases)}

Which = str | URL | Dialect | Connection | sa.Engine


def _name(which: Which) -> str:
    if isinstance(which, str):
        return which.split("+", 1)[0].lower()
    if isinstance(which, URL):
        return which.get_backend_name()
    dialect = which if isinstance(which, Dialect) else which.dialect
    return "mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name


def find_engine(which: Which) -> Engine | None:
    """The engine of a dialect name (``postgresql+psycopg``, ``postgres``), a URL, a SQLAlchemy dialect, a
    connection or a SQLAlchemy engine; None for one atlembic does not support. A ``mysql://`` connection to
    a MariaDB server is MariaDB."""
    return _BY_NAME.get(_name(which))


def engine_for(which: Which, missing: str = "dialect {name!r} is not supported (supported: {supported})") -> Engine:
    """`find_engine`, or AtlembicError(`missing` formatted with the name and the supported ones)."""
    engine = find_engine(which)
    if engine is None:
        supported = ", ".join(sorted({e.family for e in ENGINES}))
        raise AtlembicError(missing.format(name=_name(which), supported=supported))
    return engine


def docker_engine(image: str) -> Engine | None:
    """The engine whose embedded dev database stands in for Atlas's ``docker://IMAGE/...`` dev URLs."""
    return next((engine for engine in ENGINES if image in engine.docker_images), None)


def normalize_dialect(name: str) -> str:
    """``postgresql+psycopg`` / ``postgres`` / ``mariadb`` -> the engine family (``postgresql``, ``mysql``);
    unknown names pass through (lower-cased, without the driver)."""
    engine = find_engine(name)
    return engine.family if engine is not None else name.split("+", 1)[0].lower()


# -- dev databases ---------------------------------------------------------------------------------------

_NO_DEV = "no dev database support for dialect {name!r} (supported: {supported})"


def open_dev_database(
    target: str | Connection, dev_url: str | None = None, *, states: DirectoryStates | None = None
) -> DevDatabase:
    """The dev database for ``target`` (its dialect name, or a connection to it): the embedded default, or
    the server behind ``dev_url``.

    Never silently substitutes another engine: a ``dev_url`` of a different dialect is an error.
    ``states``: the embedded server may start from a data dir kept by an earlier run that holds the
    longest of them, and keeps its own states at close (ignored for a ``dev_url``: not our server).
    """
    engine = engine_for(target, _NO_DEV)
    if dev_url is None:
        # The target's own engine (MySQL or MariaDB: a connection asks the server, a name says what it
        # says) lets the engine warn when the dev database is of another flavor.
        return engine.open_dev_database(engine.name, states=states)
    try:
        url = sa.make_url(dev_url)
    except ArgumentError as exc:
        raise AtlembicError(f"invalid --dev-url: {exc}") from None
    url_dialect = normalize_dialect(url.get_backend_name())
    if url_dialect != engine.family:
        raise AtlembicError(
            f"--dev-url {mask_url(url)} is a {url_dialect} database but the target is {engine.family}; "
            f"the dev database must use the same engine as the target"
        )
    return engine.open_dev_database(engine.name, url)


def embedded_identity(target_dialect: str) -> str | None:
    """The `cache_identity` the embedded dev database of `target_dialect` will have, without starting it
    (None: not available here). A MySQL target hears now that it is planned on MariaDB, if it is."""
    try:
        return engine_for(target_dialect, _NO_DEV).embedded_identity(target_dialect)
    except AtlembicError:
        return None


def find_leftover(engine: sa.Engine) -> str | None:
    """Describe the first schema object found in the engine's database (``table "x"``), or None."""
    with engine.connect() as conn:
        return engine_for(conn, _NO_DEV).dev_dialect().find_leftover(conn)


def assert_clean(engine: sa.Engine) -> None:
    """Refuse a dev database that is not empty (Atlas does the same): a replay on it would lie."""
    engine_for(engine, _NO_DEV).dev_dialect().assert_clean(engine)


# -- inspection ------------------------------------------------------------------------------------------

_NO_INSPECTION = "dialect {name!r} is not supported for inspection"


def inspect_schema(conn: Connection, exclude: Iterable[str] = (REVISIONS_TABLE,)) -> Schema:
    """Reflect everything atlembic manages in the connection's default schema."""
    return engine_for(conn, _NO_INSPECTION).inspect_schema(conn, exclude)


def unmanaged_objects(conn: Connection) -> list[str]:
    """Views, triggers, functions... of the connection's default schema: objects atlembic does not manage."""
    return engine_for(conn, _NO_INSPECTION).unmanaged_objects(conn)


def inspect_sequences(conn: Connection) -> tuple[Sequence, ...]:
    """The standalone and SERIAL sequences, as `inspect_schema` reports them (engines without any: none)."""
    return engine_for(conn, _NO_INSPECTION).inspect_sequences(conn)


def inspect_tables(
    conn: Connection, names: Collection[str], exclude: Iterable[str] = (REVISIONS_TABLE,)
) -> dict[str, Table]:
    """Reflect just the named tables (`schema.table` for a named schema), keyed by name; absent ones are
    left out. Each `Table` equals the one `inspect_schema` would report for it."""
    return engine_for(conn, _NO_INSPECTION).inspect_tables(conn, names, exclude)

