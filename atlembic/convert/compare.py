"""Comparing a schema the Alembic history made with one rebuilt from SQL text that atlembic wrote.

An engine does not always print an expression the way it prints the same expression parsed again from
its own output: PostgreSQL turns ``x::text = ANY (ARRAY['a'::varchar::text])`` (a CHECK made before a
column type change) into ``x::text = ANY (ARRAY['a'::varchar]::text[])`` once re-parsed. pg_dump has the
same property. Such a difference is not drift: the text atlembic wrote *is* the engine's own spelling
of the original. Two tools here:

* `respellings` picks out the differences that are only that (same-named CHECK with other text, a column
  default with other text) so that `convert` can accept them, and says which;
* `canonical` sends a schema through the engine once (create it on a clean dev database, inspect), so
  that a live database and a replayed directory can be compared spelling for spelling.
"""

from __future__ import annotations

from pathlib import Path

from atlembic.devdb import DevDatabase
from atlembic.diff import (
    AddCheck,
    DropCheck,
    ModifyColumn,
    ModifyTable,
    SchemaDiff,
    describe_table_change,
    diff_schemas,
)
from atlembic.engines import engine_for, inspect_schema
from atlembic.migrate.directory import MigrationFile, render_migration
from atlembic.migrate.executor import run_file
from atlembic.migrate.transactions import autocommit
from atlembic.schema.model import Schema

__all__ = ["canonical", "respellings"]

_PATH = Path("canonical.sql")


def respellings(diff: SchemaDiff) -> list[str] | None:
    """Descriptions of the changes if every one is an expression re-spelling; None if any is not."""
    found: list[str] = []
    for change in diff.changes:
        if not isinstance(change, ModifyTable):
            return None
        drops = {c.check.name: c.check for c in change.changes if isinstance(c, DropCheck) and c.check.name}
        adds = {c.check.name: c.check for c in change.changes if isinstance(c, AddCheck) and c.check.name}
        for sub in change.changes:
            if isinstance(sub, (DropCheck, AddCheck)):
                name = sub.check.name
                if name is None or name not in drops or name not in adds:
                    return None
                if isinstance(sub, AddCheck):
                    found.append(f'table "{change.name}": check "{name}" re-spelled by the engine')
            elif isinstance(sub, ModifyColumn) and sub.changed == ("default",) and sub.current.default \
                    and sub.desired.default:
                found.append(f'table "{change.name}": {describe_table_change(sub)} (re-spelled by the engine)')
            else:
                return None
    return found


def canonical(dev: DevDatabase, schema: Schema) -> Schema:
    """`schema` as the engine reflects it after being created from atlembic's own SQL for it."""
    if schema.is_empty:
        return schema
    target = engine_for(dev.dialect_name)
    planner = target.planner()
    statements = planner.plan(diff_schemas(Schema(), schema))
    text = render_migration([(s.comment, s.sql) for s in statements], planner.directives)
    file = MigrationFile("0_canonical.sql", _PATH, text.encode())
    with dev.clean_database() as engine, engine.connect() as raw:
        conn = autocommit(raw)
        run_file(conn, file, file.statements(target.scan_options), transactions=target.transactions)
        return inspect_schema(conn)
