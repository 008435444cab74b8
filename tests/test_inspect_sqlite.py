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


def test_a_column_collation_is_part_of_its_type() -> None:
    """Found by tests/test_properties.py: SQLAlchemy's SQLite reflection drops COLLATE, so a collation set on (or
    taken off) a column planned nothing. It is read from the table's statement, spelled as the models compile it."""
    schema = _reflect(_database('CREATE TABLE t ("id" INTEGER PRIMARY KEY, a TEXT COLLATE NOCASE, '
                                "\"b c\" VARCHAR(10) NOT NULL COLLATE 'RTRIM' DEFAULT 'x', d TEXT, "
                                "CHECK (a <> ''))"))
    table = schema.table("t")
    assert [c.type for c in table.columns] == ["INTEGER", 'TEXT COLLATE "NOCASE"', 'VARCHAR(10) COLLATE "RTRIM"',
                                               "TEXT"]
    # The keyword in any case (a hand-written statement), on a table of its own among tables without one.
    schema = _reflect(_database("CREATE TABLE plain (id INTEGER PRIMARY KEY, a TEXT)",
                                "CREATE TABLE lower (id INTEGER PRIMARY KEY, a TEXT collate nocase, b TEXT)"))
    assert [c.type for c in schema.table("lower").columns] == ["INTEGER", 'TEXT COLLATE "nocase"', "TEXT"]
    assert [c.type for c in schema.table("plain").columns] == ["INTEGER", "TEXT"]


def test_a_collation_set_and_taken_off_is_planned(sqlite_env, tmp_path) -> None:  # noqa: ANN001
    from tests.support.roundtrip import run_round_trip

    def model(collation: str | None):  # noqa: ANN202
        return lambda md: sa.Table("t", md, sa.Column("id", sa.Integer, primary_key=True),
                                   sa.Column("a", sa.Text(collation=collation)),
                                   sa.Column("b", sa.String(10, collation=None if collation else "NOCASE")))
    rows = {"t": [{"id": 1, "a": "x", "b": "y"}]}
    dev, url = sqlite_env(tmp_path)
    text, survived = run_round_trip(dev, url, tmp_path, model(None), model("NOCASE"), rows)
    assert 'a TEXT COLLATE "NOCASE"' in text and "b VARCHAR(10)," in text
    assert survived == rows
