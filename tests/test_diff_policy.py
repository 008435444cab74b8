"""atlas.hcl's diff policy (Atlas's ``diff { skip { ... } concurrent_index { ... } }``, on an env or at top level):
skipped kinds of change are left out of `migrate diff` (and `schema diff`), and on PostgreSQL indexes on existing
tables are created and dropped CONCURRENTLY in a file headed ``-- atlas:txmode none``, which `migrate apply` runs
outside a transaction on a real server."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.schema.model import Column, ForeignKey, Index, IndexPart, Schema, Table
from atlembic.schema.policy import DiffPolicy
from tests.support.cli import run_cli
from tests.support.pg_fixture import fresh_database_url

HCL = """\
diff {
  skip {
    drop_table    = true
    drop_column   = true
    modify_column = true
  }
}
env "policy" {
  src = "file://schema.sql"
  dev = "sqlite://dev?mode=memory"
}
env "none" {
  src = "file://schema.sql"
  dev = "sqlite://dev?mode=memory"
  diff {}
}
"""


def test_restrain_per_kind() -> None:
    """Each skipped kind keeps the current side of its changes in the desired schema, and nothing else."""
    ix = Index("ix_a", (IndexPart("a"),))
    fk = ForeignKey(("p",), "parent", ("id",), "fk_p")
    now = Schema(schemas=("old",), tables=(
        Table("t", (Column("id", "integer"), Column("a", "integer"), Column("gone", "text")), indexes=(ix,)),
        Table("old.archive", (Column("id", "integer"),)),
        Table("dropped", (Column("id", "integer"),))))
    child = Table("child", (Column("id", "integer"), Column("p", "integer")), foreign_keys=(fk,))
    wanted = Schema(tables=(
        Table("t", (Column("id", "integer"), Column("a", "bigint"), Column("new", "text")),
              indexes=(Index("ix_new", (IndexPart("new"),)),),
              foreign_keys=(ForeignKey(("a",), "parent", ("id",), "fk_t_parent"),)),
        Table("parent", (Column("id", "integer"),)), child))

    def restrained(*kinds: str) -> Schema:
        return DiffPolicy(frozenset(kinds)).restrain(now, wanted)

    assert restrained() == wanted
    t = restrained("drop_column", "modify_column", "add_index", "drop_index").table("t")
    assert t is not None and [(c.name, c.type) for c in t.columns] == [
        ("id", "integer"), ("a", "integer"), ("new", "text"), ("gone", "text")]
    assert t.indexes == (ix,)
    assert [x.name for x in restrained("drop_table").tables] == ["t", "parent", "child", "old.archive", "dropped"]
    with_schema = restrained("drop_schema")
    assert with_schema.schemas == ("old",) and with_schema.table("old.archive") is not None
    assert with_schema.table("dropped") is None
    no_new = restrained("add_table")  # the foreign key to a table left out goes with it
    assert [x.name for x in no_new.tables] == ["t"] and no_new.tables[0].foreign_keys == ()
    assert restrained("add_foreign_key").tables[0].foreign_keys == ()
    assert restrained("modify_table").table("t") == now.table("t")


def _migrations(root: Path) -> list[str]:
    return [p.read_text() for p in sorted((root / "migrations").glob("*.sql"))]


def test_skip_leaves_changes_out_of_migrate_diff(tmp_path: Path) -> None:
    (tmp_path / "atlas.hcl").write_text(HCL)
    schema = tmp_path / "schema.sql"
    schema.write_text("CREATE TABLE a (id INTEGER, x INTEGER, note VARCHAR(10));\nCREATE TABLE b (id INTEGER);\n")
    run_cli(tmp_path, "migrate", "diff", "--env", "policy", "init")
    # b dropped, a.x dropped, a.note widened: all skipped; the new column y is planned (and verified) alone.
    schema.write_text("CREATE TABLE a (id INTEGER, note VARCHAR(20), y INTEGER);\n")
    run_cli(tmp_path, "migrate", "diff", "--env", "policy", "add_y")
    added = _migrations(tmp_path)[-1]
    assert "ADD COLUMN y INTEGER" in added and "DROP" not in added and "VARCHAR(20)" not in added
    out = run_cli(tmp_path, "migrate", "diff", "--env", "policy").stdout
    assert out == "The migration directory is synced with the desired state, no changes to be made\n"
    # The env's own (empty) diff block replaces the top-level one: everything is planned.
    plan = run_cli(tmp_path, "schema", "diff", "--env", "none", "--from", "file://migrations",
                   "--to", "env://src").stdout
    assert 'Drop "b" table' in plan and "VARCHAR(20)" in plan
    assert run_cli(tmp_path, "schema", "diff", "--env", "policy", "--from", "file://migrations",
                   "--to", "env://src").stdout == "Schemas are synced, no changes to be made.\n"


def test_bad_policy_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "schema.sql").write_text("CREATE TABLE a (id INTEGER);\n")
    for body, expected in (("skip {\n  drop_tables = true\n}", "drop_tables: not a diff policy attribute"),
                           ('skip {\n  drop_table = "yes"\n}', "drop_table: expected true or false"),
                           ("concurrent_index {\n  build = true\n}", "build: not a diff policy attribute")):
        (tmp_path / "atlas.hcl").write_text(f'env "x" {{\n  src = "file://schema.sql"\n  diff {{\n{body}\n}}\n}}\n')
        proc = run_cli(tmp_path, "migrate", "diff", "--env", "x", check=False)
        assert proc.returncode == 1 and proc.stdout.startswith("FAILED: atlas.hcl: ") and expected in proc.stdout
        assert len(proc.stdout.splitlines()) == 1 and not (tmp_path / "migrations").exists()


@pytest.mark.slow
def test_concurrent_index_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    url = fresh_database_url(pg_server)
    (tmp_path / "atlas.hcl").write_text(textwrap.dedent(f"""\
        env "pg" {{
          src = "file://schema.sql"
          url = "{url}"
          dev = "docker://postgres/15/dev"
          diff {{
            concurrent_index {{
              create = true
              drop   = true
            }}
          }}
        }}
    """))
    schema = tmp_path / "schema.sql"
    schema.write_text("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER);\nCREATE INDEX ix_a ON t (a);\n")
    run_cli(tmp_path, "migrate", "diff", "--env", "pg", "init")
    first = _migrations(tmp_path)[0]
    assert "CREATE INDEX ix_a" in first and "CONCURRENTLY" not in first and "txmode" not in first  # a new table
    run_cli(tmp_path, "migrate", "apply", "--env", "pg")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t SELECT g, g, g FROM generate_series(1, 100) g")
    schema.write_text("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER);\nCREATE INDEX ix_b ON t (b);\n")
    run_cli(tmp_path, "migrate", "diff", "--env", "pg", "swap")
    second = _migrations(tmp_path)[1]
    assert second.startswith("-- atlas:txmode none\n\n")
    assert "DROP INDEX CONCURRENTLY ix_a;" in second and "CREATE INDEX CONCURRENTLY ix_b ON t (b);" in second
    run_cli(tmp_path, "migrate", "apply", "--env", "pg")  # CONCURRENTLY fails inside a transaction block
    with engine.connect() as conn:
        assert {i["name"] for i in sa.inspect(conn).get_indexes("t")} == {"ix_b"}
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 100
        valid = conn.exec_driver_sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_b'::regclass").scalar()
        assert valid is True
    engine.dispose()
    # schema apply plans the same way and runs the plan outside a transaction too.
    schema.write_text("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER);\nCREATE INDEX ix_a ON t (a);\n")
    out = run_cli(tmp_path, "schema", "apply", "--env", "pg", "--auto-approve").stdout
    assert "CREATE INDEX CONCURRENTLY ix_a" in out and "DROP INDEX CONCURRENTLY ix_b" in out
