"""What `convert` says it did not convert (PostgreSQL's aggregates, MySQL's events), per engine; views, materialized
views, triggers, functions and procedures are part of the inspected schema instead."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from atlembic.devdb import DevDatabase
from atlembic.engines import inspect_schema, unmanaged_objects

DDL = {
    "sqlite": ["CREATE TABLE t (x INTEGER)", "CREATE VIEW v AS SELECT x FROM t",
               "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END"],
    "postgresql": ["CREATE TABLE t (x INTEGER)", "CREATE VIEW v AS SELECT x FROM t",
                   "CREATE MATERIALIZED VIEW mv AS SELECT x FROM t",
                   "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
                   "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
                   "CREATE AGGREGATE total(integer) (SFUNC = int4pl, STYPE = integer)"],
    "mysql": ["CREATE TABLE t (x INTEGER)", "CREATE VIEW v AS SELECT x FROM t",
              "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW SET @n = 1",
              "CREATE FUNCTION f() RETURNS INTEGER DETERMINISTIC RETURN 1",
              "CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO SET @n = 1"],
}
EXPECTED = {
    "sqlite": [],
    "postgresql": ['aggregate "total"'],
    "mysql": ['event "ev"'],
}
MANAGED = {
    "sqlite": (["v"], ["tr"], []),
    "postgresql": (["mv", "v"], ["tr"], ["f"]),
    "mysql": (["v"], ["tr"], ["f"]),
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql), "mysql"])
def dev(request: pytest.FixtureRequest) -> DevDatabase:
    return request.getfixturevalue({"sqlite": "sqlite_dev", "postgresql": "pg_dev", "mysql": "mysql_dev"}[
        request.param])


def test_functions_are_listed_views_and_triggers_inspected(dev: DevDatabase) -> None:
    with dev.clean_database() as engine:
        with engine.begin() as conn:
            assert unmanaged_objects(conn) == []
            for sql in DDL[dev.dialect_name]:
                conn.exec_driver_sql(sql)
        with engine.connect() as conn:
            assert unmanaged_objects(conn) == EXPECTED[dev.dialect_name]
            schema = inspect_schema(conn)
            assert ([v.name for v in schema.views], [t.name for t in schema.triggers],
                    [f.name for f in schema.functions]) == MANAGED[dev.dialect_name]
            assert [t for t in sa.inspect(conn).get_table_names()] == ["t"]
