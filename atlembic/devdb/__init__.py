"""Throwaway "dev databases" that migrations are replayed on (see ARCHITECTURE.md, "Dev database rules").

Every planner run needs an empty database of the target dialect: the migration directory is replayed on
it and the result compared with the models. :func:`open_dev_database` picks one:

* no ``--dev-url``: an embedded one (in-memory SQLite, or an ephemeral PostgreSQL cluster or MariaDB/MySQL
  server started from the locally installed server binaries);
* ``--dev-url``: scratch databases on that server (or the given database itself, when we may not create
  databases and it is empty).

What every dev database shares is in base.py; each engine's dev databases, and the `DevDialect` that the
shared code asks, are in its dialect module (sqlite.py, postgresql.py, mysql.py; server.py and url.py hold
what the servers share). The drivers are imported only when a server is used.
"""

from __future__ import annotations

from sqlalchemy import Engine, make_url
from sqlalchemy.exc import ArgumentError

from atlembic.devdb import mysql, postgresql, sqlite
from atlembic.devdb.base import CloseOnExit, DevDatabase, DevDialect, DirectoryStates, StateIO
from atlembic.errors import AtlembicError, mask_url

__all__ = ["CloseOnExit", "DevDatabase", "DevDialect", "DirectoryStates", "StateIO", "open_dev_database",
           "assert_clean"]

_DIALECTS = {d.name: d for d in (sqlite.DIALECT, postgresql.DIALECT, mysql.DIALECT)}
_DIALECT_ALIASES = {"postgres": "postgresql", "pg": "postgresql", "sqlite3": "sqlite", "mariadb": "mysql"}


def normalize_dialect(name: str) -> str:
    """``postgresql+psycopg`` / ``postgres`` -> ``postgresql``; unknown names pass through."""
    base = name.split("+", 1)[0].lower()
    return _DIALECT_ALIASES.get(base, base)


def dev_dialect(dialect: str) -> DevDialect:
    """The `DevDialect` of a dialect name (aliases too); AtlembicError for one we do not support."""
    found = _DIALECTS.get(normalize_dialect(dialect))
    if found is None:
        supported = ", ".join(sorted(_DIALECTS))
        raise AtlembicError(f"no dev database support for dialect {dialect!r} (supported: {supported})")
    return found


def find_leftover(engine: Engine) -> str | None:
    """Describe the first schema object found in the engine's database (``table "x"``), or None."""
    with engine.connect() as conn:
        return dev_dialect(engine.dialect.name).find_leftover(conn)


def assert_clean(engine: Engine) -> None:
    """Refuse a dev database that is not empty (Atlas does the same): a replay on it would lie."""
    dev_dialect(engine.dialect.name).assert_clean(engine)


def embedded_identity(target_dialect: str) -> str | None:
    """The `cache_identity` the embedded dev database of `target_dialect` will have, without starting it
    (None: not available here). A MySQL target hears now that it is planned on MariaDB, if it is."""
    try:
        return dev_dialect(target_dialect).embedded_identity(target_dialect)
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
    devdb = dev_dialect(dialect)
    if dev_url is None:
        # The target's own name (mysql vs mariadb) lets the module warn when the engines differ.
        return devdb.open_embedded(target_dialect, states=states)

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
    return devdb.open_url(url)
