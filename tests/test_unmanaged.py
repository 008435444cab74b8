"""What `convert` says it did not convert (PostgreSQL's aggregates, MySQL's events), per engine; views, materialized
views, triggers, functions and procedures are part of the inspected schema instead."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.devdb import DevDatabase
from atlembic.engines import inspect_schema, unmanaged_objects
from tests.support.cli import run_cli
from tests.test_cli import SAMPLE

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


def test_atlembic_exclude_in_alembic_ini_leaves_objects_alone(tmp_path: Path) -> None:
    """``[atlembic] exclude = legacy_*, *.internal_note`` (Atlas's globs, as atlas.hcl's ``exclude``): a table and a
    column the history made and the models lack are neither dropped by a revision nor drift for check."""
    project = Path(shutil.copytree(SAMPLE, tmp_path / "project", ignore=shutil.ignore_patterns("*.db", "migrations")))
    (project / "migrations").mkdir()
    run_cli(project, "revision", "--autogenerate", "-m", "init")
    run_cli(project, "revision", "-m", "legacy")
    [legacy] = sorted((project / "migrations").glob("*_legacy.sql"))
    legacy.write_text("CREATE TABLE legacy_audit (id INTEGER PRIMARY KEY);\n"
                      "ALTER TABLE user_account ADD COLUMN internal_note VARCHAR(100);\n")
    run_cli(project, "hash")
    drift = run_cli(project, "check", check=False)
    assert drift.returncode != 0 and "legacy_audit" in drift.stdout and "internal_note" in drift.stdout, drift.stdout
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("[atlembic]\n", "[atlembic]\nexclude = legacy_*, *.internal_note\n", 1))
    run_cli(project, "check")
    assert run_cli(project, "revision", "--autogenerate", "-m", "nothing", check=False).returncode == 0
    assert not list((project / "migrations").glob("*_nothing.sql"))
