"""Inspection: a live connection -> `Schema`, through the `Reflector` its dialect registered.

What every engine shares is in reflector.py; what one engine reports differently (index expressions on
SQLite, enums and index options on PostgreSQL) lives in that dialect's `Reflector` subclass.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlembic.errors import AtlembicError
from atlembic.schema import mysql, postgresql, sqlite  # noqa: F401  (register the reflectors)
from atlembic.schema.model import Schema, Table
from atlembic.schema.reflector import _REFLECTORS, REVISIONS_TABLE, Reflector

__all__ = ["REVISIONS_TABLE", "inspect_schema", "inspect_tables", "unmanaged_objects"]


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        # SQLite expression indexes are reflected from the catalog by SqliteReflector instead.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        yield


def _reflector(conn: Connection) -> Reflector:
    cls = _REFLECTORS.get(conn.dialect.name)
    if cls is None:
        raise AtlembicError(f"dialect {conn.dialect.name!r} is not supported for inspection")
    return cls(conn)


def inspect_schema(conn: Connection, exclude: Iterable[str] = (REVISIONS_TABLE,)) -> Schema:
    """Reflect everything atlembic manages in the connection's default schema."""
    with _quiet():
        return _reflector(conn).inspect(exclude)


def unmanaged_objects(conn: Connection) -> list[str]:
    """Views, triggers, functions... of the connection's default schema: objects atlembic does not manage."""
    return _reflector(conn).unmanaged_objects()


def inspect_tables(
    conn: Connection, names: Collection[str], exclude: Iterable[str] = (REVISIONS_TABLE,)
) -> dict[str, Table]:
    """Reflect just the named tables (`schema.table` for a named schema), keyed by name; absent ones are
    left out. Each `Table` equals the one `inspect_schema` would report for it."""
    with _quiet():
        return {t.name: t for t in _reflector(conn).inspect_tables(names, exclude)}
