"""SQLite reflection is a function of sqlite_master: a catalog seen before is not reflected again, a changed
one is."""

from __future__ import annotations

import sqlalchemy as sa

from atlembic.engines import inspect_schema


def _database(*ddl: str) -> sa.Engine:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        for sql in ddl:
            conn.exec_driver_sql(sql)
    return engine


def _reflect(engine: sa.Engine):  # noqa: ANN202
    with engine.connect() as conn:
        return inspect_schema(conn)


def test_equal_catalogs_reflect_once_and_a_changed_catalog_again() -> None:
    ddl = ("CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT UNIQUE)",
           "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id))",
           "CREATE INDEX ix_child_parent ON child (parent_id)")
    first, second = _database(*ddl), _database(*ddl)
    seen = _reflect(first)
    assert _reflect(second) is seen  # the same catalog: not reflected again
    with second.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE child ADD COLUMN note TEXT")
    changed = _reflect(second)
    assert changed.table("child").column("note") is not None
    assert seen.table("child").column("note") is None
    # Rows are not part of the catalog, and do not change the schema.
    with first.begin() as conn:
        conn.exec_driver_sql("INSERT INTO parent (id, code) VALUES (1, 'a')")
    assert _reflect(first) == seen
