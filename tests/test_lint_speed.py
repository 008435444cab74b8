"""Lint re-inspects only the table a whitelisted statement changed (atlembic.lint.targets): the schema it
reaches that way must equal a full inspection, statement after statement, on every dialect; anything not
whitelisted (or a table a dialect guard refuses) is inspected in full. Runs of statements on tables the
file created are inspected once per run: the same schema, each table's changes on its CREATE TABLE line."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.devdb import DevDatabase
from atlembic.diff import AddTable, ModifyTable
from atlembic.engines import inspect_schema, inspect_tables
from atlembic.lint.runner import file_steps
from atlembic.lint.targets import changed_table, inspect_after, reinspected
from atlembic.migrate.directory import MigrationDir
from atlembic.migrate.transactions import autocommit

BASE = [
    "CREATE TABLE p (id INT PRIMARY KEY, name VARCHAR(20))",
    "CREATE TABLE c (id INT PRIMARY KEY, p_id INT, CONSTRAINT c_p_fk FOREIGN KEY (p_id) REFERENCES p (id))",
]

# (statement, re-inspected locally?) in order, on top of BASE.
COMMON = [
    ("ALTER TABLE p ADD COLUMN age INT", True),
    ("ALTER TABLE p ADD COLUMN c_id INT REFERENCES c (id)", True),
    ("CREATE INDEX p_name_idx ON p (name)", True),
    ("CREATE UNIQUE INDEX p_age_uq ON p (age)", True),
    ("CREATE TABLE d (id INT PRIMARY KEY, c_id INT, CONSTRAINT d_c_fk FOREIGN KEY (c_id) REFERENCES c (id))", True),
    ("CREATE TABLE IF NOT EXISTS d (id INT PRIMARY KEY)", True),
    ("INSERT INTO p (id, name) VALUES (1, 'x')", False),
    ("DROP TABLE d", False),
    ("ALTER TABLE c RENAME TO c2", False),
]

CASES = {
    "sqlite": [
        # A foreign key to a table that does not exist yet: its referred columns come from that table's
        # primary key once it exists, so creating it changes the referencing table's reflection.
        ("CREATE TABLE orphan (id INT PRIMARY KEY, later_id INT REFERENCES later)", True),
        ("CREATE TABLE later (code INT PRIMARY KEY)", True),
        ("ALTER TABLE P ADD COLUMN upper_case INT", True),  # SQLite's names ignore case
        *COMMON,
        ("DROP INDEX p_name_idx", False),
        # The rebuild: the new table is local, the drop and rename are not.
        ("CREATE TABLE new_p (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)", True),
        ("INSERT INTO new_p (id, name) SELECT id, name FROM p", False),
        ("DROP TABLE p", False),
        ("ALTER TABLE new_p RENAME TO p", False),
        ("CREATE INDEX p_name_idx2 ON p (name)", True),
    ],
    "postgresql": [
        ("CREATE TYPE mood AS ENUM ('sad', 'ok')", False),
        ("CREATE SEQUENCE free_seq", False),
        ("CREATE SCHEMA billing", False),
        ("CREATE TABLE billing.inv (id INT PRIMARY KEY)", True),
        ("ALTER TABLE billing.inv ADD COLUMN total NUMERIC(10, 2) DEFAULT 0", True),
        ("ALTER TABLE public.p ADD COLUMN spelled_out INT", False),  # the default schema spelled out
        *COMMON[:6],
        ("ALTER TABLE p ADD COLUMN s SERIAL, ADD COLUMN m mood", True),  # and its sequence, reflected beside
        ("CREATE TABLE e (id INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, m mood DEFAULT 'ok')", True),
        ("ALTER TABLE p ALTER COLUMN name SET NOT NULL, ALTER COLUMN name SET DEFAULT 'n'", True),
        ("ALTER TABLE ONLY p ALTER COLUMN name DROP DEFAULT", True),
        ("ALTER TABLE c ADD COLUMN code INT, ADD CONSTRAINT c_code_uq UNIQUE (code)", True),
        ("ALTER TABLE d ADD CONSTRAINT d_p_fk FOREIGN KEY (c_id) REFERENCES p (id) NOT VALID", True),
        ("CREATE INDEX CONCURRENTLY IF NOT EXISTS e_m_idx ON e USING hash (m)", True),
        ("CREATE INDEX ON e ((id + 1)) WHERE id > 0", True),
        ('CREATE TABLE "Mixed" (id INT)', True),
        ('ALTER TABLE "Mixed" ADD COLUMN x INT', True),
        ("CREATE TABLE mixed (id INT)", False),  # "Mixed" and mixed: an unquoted name is ambiguous
        ("ALTER TABLE MIXED ADD COLUMN y INT", False),
        ("ALTER TABLE c ADD COLUMN z INT, DROP COLUMN code", False),
        ("ALTER TABLE p ALTER COLUMN age TYPE BIGINT", False),
        ("DO $$ BEGIN EXECUTE 'CREATE TABLE from_do (id INT)'; END $$", False),
        # Inheritance: ALTER TABLE on the parent recurses into the child, the guard says so.
        ("CREATE TABLE kid () INHERITS (p)", False),
        ("ALTER TABLE p ADD COLUMN inherited INT", False),
        *COMMON[6:],
        ("DROP INDEX p_name_idx", False),
    ],
    "mysql": [
        *COMMON[:6],
        ("ALTER TABLE p ADD COLUMN a INT NULL, ADD INDEX p_a (a), ALGORITHM=DEFAULT", True),
        ("ALTER TABLE p ADD COLUMN ts TIMESTAMP NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP", True),
        ("ALTER TABLE p ALTER COLUMN name SET DEFAULT 'n'", True),
        # The index MySQL makes for a new foreign key, and the one it drops once another index serves it.
        ("ALTER TABLE c ADD COLUMN p2 INT, ADD CONSTRAINT c_p2_fk FOREIGN KEY (p2) REFERENCES p (id)", True),
        ("CREATE INDEX c_p2_name ON c (p2, id)", True),
        ("CREATE INDEX p_name_prefix USING BTREE ON p (name(5))", True),
        ("CREATE TABLE t_opts (id INT PRIMARY KEY) ENGINE=MyISAM COMMENT='opts'", True),
        ("CREATE TABLE t_like LIKE p", True),
        ("ALTER TABLE p MODIFY name VARCHAR(40)", False),
        ("ALTER TABLE p ADD COLUMN b INT, DROP COLUMN a", False),
        *COMMON[6:],
        ("DROP INDEX p_name_idx ON p", False),
    ],
}


def _dev(request: pytest.FixtureRequest, dialect: str) -> DevDatabase:
    return request.getfixturevalue({"sqlite": "sqlite_dev", "postgresql": "pg_dev", "mysql": "mysql_dev"}[dialect])


@pytest.mark.parametrize("dialect", list(CASES))
def test_targeted_reinspection_equals_full_inspection(request: pytest.FixtureRequest, dialect: str) -> None:
    dev = _dev(request, dialect)
    with dev.clean_database() as engine, engine.connect() as raw:
        conn = autocommit(raw)
        for sql in BASE:
            conn.exec_driver_sql(sql)
        before = inspect_schema(conn)
        for sql, local in CASES[dialect]:
            conn.exec_driver_sql(sql)
            assert (reinspected(conn, before, sql) is not None) == local, sql
            after, tables = inspect_after(conn, before, sql)
            full = inspect_schema(conn)
            assert after == full, sql
            assert (tables is not None) == local, sql
            before = full


def test_inspect_tables_matches_inspect_schema(request: pytest.FixtureRequest) -> None:
    dev = _dev(request, "sqlite")
    with dev.clean_database() as engine, engine.connect() as conn:
        for sql in BASE:
            conn.exec_driver_sql(sql)
        full = inspect_schema(conn)
        assert inspect_tables(conn, {"c", "missing"}) == {"c": full.table("c")}


@pytest.mark.parametrize(("sql", "table"), [
    ("ALTER TABLE t ADD COLUMN x INT", "t"),
    ('ALTER TABLE IF EXISTS ONLY "s"."t" ADD x INT', '"s"."t"'),
    ("alter table `t` add column x varchar(10) default 'a,b', add index i (x)", "`t`"),
    ("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY t USING gin (x)", "t"),
    ("CREATE INDEX ON t (x)", "t"),
    ("CREATE TABLE IF NOT EXISTS t (id INT)", "t"),
    ("CREATE TABLE t AS SELECT 1 AS x", "t"),
    ("-- note\nCREATE TABLE t (id INT);", "t"),
    ("ALTER TABLE t ALTER COLUMN x SET NOT NULL", "t"),
    ("ALTER TABLE t ALTER x DROP DEFAULT", "t"),
])
def test_whitelisted_forms(sql: str, table: str) -> None:
    assert changed_table(sql) == table


@pytest.mark.parametrize("sql", [
    "DROP TABLE t",
    "DROP TABLE t CASCADE",
    "ALTER TABLE t DROP COLUMN x CASCADE",
    "ALTER TABLE t RENAME TO u",
    "ALTER TABLE t RENAME COLUMN x TO y",
    "ALTER TABLE t ADD COLUMN x INT, DROP COLUMN y",
    "ALTER TABLE t ADD x INT -- , DROP y\n",
    "ALTER TABLE t ALTER COLUMN x TYPE BIGINT",
    "ALTER TABLE t ADD PARTITION (PARTITION p1 VALUES LESS THAN (10))",
    "CREATE TABLE t () INHERITS (p)",
    "CREATE TABLE t PARTITION OF p FOR VALUES IN (1)",
    "CREATE TEMPORARY TABLE t (id INT)",
    "CREATE VIEW v AS SELECT 1",
    "CREATE TYPE mood AS ENUM ('a')",
    "DROP INDEX i",
    "DO $$ BEGIN END $$",
    "COMMENT ON TABLE t IS 'x'",
])
def test_everything_else_is_inspected_in_full(sql: str) -> None:
    assert changed_table(sql) is None


def _created_file(tables: int, dialect: str) -> str:
    """A first revision's shape: per table CREATE TABLE (with a key to the one before), two indexes and
    an added column; in the middle, statements on the table the file started with, which end the run."""
    out = []
    for i in range(tables):
        ref = f", prev_id INT REFERENCES n{i - 1} (id)" if i else ""
        key = "SERIAL" if dialect == "postgresql" else "INT"  # a sequence beside the table
        out += [f"CREATE TABLE n{i} (id {key} PRIMARY KEY, name VARCHAR(20){ref})",
                f"CREATE INDEX n{i}_name ON n{i} (name)",
                f"CREATE UNIQUE INDEX n{i}_name_id ON n{i} (name, id)",
                f"ALTER TABLE n{i} ADD COLUMN extra INT"]
        if i == tables // 2:
            out += ["ALTER TABLE p ADD COLUMN age INT", "INSERT INTO p (id, name) VALUES (1, 'x')"]
    return "".join(f"{sql};\n" for sql in out)


def _steps(dev: DevDatabase, root: Path, body: str, dialect: str, queries: list[str] | None = None):  # noqa: ANN202
    root.mkdir()
    (root / "20240101000000_f.sql").write_text(body)
    [file] = MigrationDir(root).files()
    with dev.clean_database() as engine, engine.connect() as raw:
        conn = autocommit(raw)
        conn.exec_driver_sql(BASE[0])
        start = inspect_schema(conn)
        if queries is not None:
            sa.event.listen(conn, "before_cursor_execute", lambda *args: queries.append(args[2]))
        _, steps, statements = file_steps(conn, file, dialect, start)
        return start, steps, statements, inspect_schema(conn)


@pytest.mark.parametrize("dialect", list(CASES))
def test_created_runs_reach_the_full_inspection(request: pytest.FixtureRequest, dialect: str, tmp_path: Path) -> None:
    start, steps, statements, full = _steps(_dev(request, dialect), tmp_path / "m", _created_file(4, dialect), dialect)
    assert steps[-1].after == full
    assert [s.index for s in steps] == list(range(len(statements)))  # one step per statement, in order
    for step in steps:
        text = step.text
        added = [c.table.name for c in step.changes if isinstance(c, AddTable)]
        if text.startswith("CREATE TABLE"):
            name = text.split()[2]
            assert added == [name], text
            # The run's later statements on it are in the table the step adds: its indexes and the column.
            table = next(c.table for c in step.changes if isinstance(c, AddTable))
            assert table == full.table(name), text
        else:
            assert not added, text
        if text.startswith("ALTER TABLE p "):
            assert [c.name for c in step.changes if isinstance(c, ModifyTable)] == ["p"], text
        if text.startswith(("CREATE INDEX", "CREATE UNIQUE", "ALTER TABLE n")):
            assert step.changes == (), text  # inside a run: reported on the table's CREATE TABLE line


def test_a_run_of_creates_costs_one_inspection(pg_dev: DevDatabase, tmp_path: Path) -> None:
    """PostgreSQL reflects many tables in one query per kind: the catalog queries of a run do not grow with
    the number of tables the file creates (statement by statement, each would add its own)."""
    counts = []
    for tables in (3, 12):
        queries: list[str] = []
        _steps(pg_dev, tmp_path / f"m{tables}", _created_file(tables, "postgresql"), "postgresql", queries)
        counts.append(len([q for q in queries if "pg_catalog" in q or "information_schema" in q]))
    assert counts[0] == counts[1], counts
