"""What `convert` says it did not convert: views, triggers and functions, per engine."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from atlembic.devdb import DevDatabase
from atlembic.engines import unmanaged_objects

DDL = {
    "sqlite": ["CREATE TABLE t (x INTEGER)", "CREATE VIEW v AS SELECT x FROM t",
               "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END"],
    "postgresql": ["CREATE TABLE t (x INTEGER)", "CREATE VIEW v AS SELECT x FROM t",
                   "CREATE MATERIALIZED VIEW mv AS SELECT x FROM t",
                   "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
                   "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()"],
    "mysql": ["CREATE TABLE t (x INTEGER)", "CREATE VIEW v AS SELECT x FROM t",
              "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW SET @n = 1",
              "CREATE FUNCTION f() RETURNS INTEGER DETERMINISTIC RETURN 1"],
}
EXPECTED = {
    "sqlite": ['view "v"', 'trigger "tr"'],
    "postgresql": ['view "v"', 'materialized view "mv"', 'trigger "tr"', 'function "f"'],
    "mysql": ['view "v"', 'trigger "tr"', 'function "f"'],
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql), "mysql"])
def dev(request: pytest.FixtureRequest) -> DevDatabase:
    return request.getfixturevalue({"sqlite": "sqlite_dev", "postgresql": "pg_dev", "mysql": "mysql_dev"}[
        request.param])


def test_views_triggers_and_functions_are_listed(dev: DevDatabase) -> None:
    with dev.clean_database() as engine:
        with engine.begin() as conn:
            assert unmanaged_objects(conn) == []
            for sql in DDL[dev.dialect_name]:
                conn.exec_driver_sql(sql)
        with engine.connect() as conn:
            assert unmanaged_objects(conn) == EXPECTED[dev.dialect_name]
            assert [t for t in sa.inspect(conn).get_table_names()] == ["t"]
