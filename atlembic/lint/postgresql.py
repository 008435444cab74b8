"""PostgreSQL: the locks a migration takes on tables that already hold data.

Beyond Atlas's free edition. Every message names the lock level and the safer sequence. Lock levels are
PostgreSQL's documented ones:

* "Explicit Locking", 13.3.1 Table-Level Locks (https://www.postgresql.org/docs/current/explicit-locking.html):
  SHARE is taken by CREATE INDEX (without CONCURRENTLY) and conflicts with writes; SHARE UPDATE EXCLUSIVE by
  CREATE INDEX CONCURRENTLY and ALTER TABLE VALIDATE CONSTRAINT (reads and writes go on); SHARE ROW
  EXCLUSIVE by some forms of ALTER TABLE (ADD FOREIGN KEY); ACCESS EXCLUSIVE by DROP INDEX, most forms of
  ALTER TABLE, and conflicts with everything, plain SELECT included.
* ALTER TABLE, Notes (https://www.postgresql.org/docs/current/sql-altertable.html): ADD FOREIGN KEY takes SHARE
  ROW EXCLUSIVE on the table and the referenced table; NOT VALID skips the scan of existing rows and a later
  VALIDATE CONSTRAINT takes only SHARE UPDATE EXCLUSIVE (ROW SHARE on the referenced table); SET NOT NULL
  scans the table unless a valid CHECK constraint proves no NULL can exist (PostgreSQL 12+); changing a
  column's type rewrites the table unless the old type is binary coercible to the new one; a volatile
  DEFAULT in ADD COLUMN rewrites the table (non-volatile defaults are stored in the catalog since 11).
* CREATE INDEX, "Building Indexes Concurrently", and DROP INDEX, CONCURRENTLY: cannot run inside a
  transaction block.

Rewrites are observed, not guessed: the statement ran on the dev database, and a table whose
``pg_class.relfilenode`` changed was rewritten (PostgreSQL gives a rewritten table a new file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlembic.diff import (
    AddCheck,
    AddColumn,
    AddForeignKey,
    AddIndex,
    AddUnique,
    ChangePrimaryKey,
    DropIndex,
    ModifyColumn,
)
from atlembic.engines.postgresql import PostgreSQL
from atlembic.errors import AtlembicError
from atlembic.lint.analyzers import Analyzer
from atlembic.lint.model import Diagnostic, FileContext, LintHooks, Step, register_hooks
from atlembic.migrate.executor import file_tx_mode

_NAME = ("CASE WHEN n.nspname = current_schema() THEN c.relname ELSE n.nspname || '.' || c.relname END")
_RELFILENODES = sa.text(
    f"SELECT {_NAME}, c.relfilenode FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%'"
)
_CONSTRAINTS = sa.text(
    f"SELECT {_NAME}, con.conname, con.contype, pg_get_constraintdef(con.oid), con.convalidated "
    "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE con.contype IN ('c', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
)


def probe(conn: Connection) -> dict[str, Any]:
    """relfilenode per table, and (table, name) -> (type, definition, validated) per CHECK / FOREIGN KEY."""
    nodes = {name: node for name, node in conn.execute(_RELFILENODES)}
    constraints = {(t, name): (kind, definition, bool(valid)) for t, name, kind, definition, valid
                   in conn.execute(_CONSTRAINTS)}
    return {"relfilenode": nodes, "constraints": constraints}


# When is a statement on one table certain to change only that table (atlembic.lint.targets)? When it has
# no inheritance children or partitions (ALTER TABLE and CREATE INDEX recurse into them), no enabled event
# trigger can run more DDL, and unqualified names resolve in the default schema alone.
_LOCAL = sa.text(
    "SELECT NOT EXISTS (SELECT 1 FROM pg_inherits"
    "  WHERE inhparent = to_regclass(format('%I.%I', CAST(:schema AS text), CAST(:table AS text))))"
    " AND NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtenabled <> 'D')"
    " AND current_schemas(false) = ARRAY[CAST(:default AS name)]"
)


def local_change(conn: Connection, table: str) -> bool:
    default = sa.inspect(conn).default_schema_name
    schema, _, name = table.rpartition(".")
    return bool(conn.execute(_LOCAL, {"schema": schema or default, "table": name, "default": default}).scalar())



def _rewritten(step: Step, table: str) -> bool:
    before = step.facts_before.get("relfilenode", {}).get(table)
    after = step.facts_after.get("relfilenode", {}).get(table)
    return before is not None and after is not None and before != after


def _not_null_check(step: Step, table: str, column: str) -> bool:
    """A validated ``CHECK (<column> IS NOT NULL)`` on the table before the step."""
    wanted = re.sub(r"[\s()\"]", "", f"CHECK({column}ISNOTNULL)").lower()
    for (t, _), (kind, definition, valid) in step.facts_before.get("constraints", {}).items():
        if t == table and kind == "c" and valid and re.sub(r"[\s()\"]", "", definition).lower() == wanted:
            return True
    return False



def _validated(step: Step, table: str, name: str | None) -> bool | None:
    """Whether the constraint `name` was validated when added (None: cannot tell)."""
    if not name:
        return None
    found = step.facts_after.get("constraints", {}).get((table, name))
    return None if found is None else found[2]


_CONCURRENTLY = re.compile(r"\bCONCURRENTLY\b", re.IGNORECASE)
# The forms PostgreSQL refuses inside a transaction block (REFRESH MATERIALIZED VIEW CONCURRENTLY is fine).
_NO_TX = re.compile(r"^\s*(?:(?:CREATE\s+(?:UNIQUE\s+)?|DROP\s+)INDEX\s+CONCURRENTLY|REINDEX\b.*\bCONCURRENTLY|"
                    r"ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY)", re.IGNORECASE | re.DOTALL)
_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\b", re.IGNORECASE)
_DROP_INDEX = re.compile(r"^\s*DROP\s+INDEX\b", re.IGNORECASE)
_USING_INDEX = re.compile(r"\bUSING\s+INDEX\b", re.IGNORECASE)
TXMODE_HINT = "the `-- atlas:txmode none` header"


class ConcurrentIndex(Analyzer):
    """PG101-PG103: Atlas's former OSS analyzer (``sql/postgres/postgrescheck``, removed from the OSS
    tree in af0f49f2), same codes and names."""

    name = "concurrent_index"
    codes = {"PG101": "index created without CONCURRENTLY", "PG102": "index dropped without CONCURRENTLY",
             "PG103": "CONCURRENTLY inside a transaction"}
    dialects = ("postgresql",)

    def run(self, ctx: FileContext) -> Iterator[Diagnostic]:
        try:
            no_tx = ctx.file is not None and file_tx_mode(ctx.file) == "none"
        except AtlembicError:
            no_tx = False
        for step in ctx.steps:
            if not step.statements:
                continue  # a planned diff (downgrade): no statement text to judge
            text = step.text
            concurrent = bool(_CONCURRENTLY.search(text))
            if _NO_TX.match(text) and not no_tx and ctx.file is not None:
                yield Diagnostic(step, "PG103", "CONCURRENTLY cannot run inside a transaction block, and this file "
                                 f"runs in one: add {TXMODE_HINT} so that it runs outside a transaction")
            for mt, sub in step.table_changes():
                if ctx.existed(mt.name) is None or concurrent:
                    continue
                if isinstance(sub, AddIndex) and _CREATE_INDEX.match(text):
                    yield Diagnostic(step, "PG101", (
                        f'Creating index "{sub.index.name}" non-concurrently takes a SHARE lock on table '
                        f'"{mt.name}": INSERT, UPDATE and DELETE wait until the index is built. Use CREATE INDEX '
                        f"CONCURRENTLY (SHARE UPDATE EXCLUSIVE: writes go on) in a file with {TXMODE_HINT}"))
                elif isinstance(sub, DropIndex) and _DROP_INDEX.match(text):
                    yield Diagnostic(step, "PG102", (
                        f'Dropping index "{sub.index.name}" non-concurrently takes an ACCESS EXCLUSIVE lock on table '
                        f'"{mt.name}": every read and write waits. Use DROP INDEX CONCURRENTLY in a file with '
                        f"{TXMODE_HINT}"))


class Locking(Analyzer):
    """PG104-PG109: ALTER TABLE forms that hold strong locks for as long as the table's size.

    Codes are atlembic's (Atlas's commercial PostgreSQL codes are not in its OSS tree)."""

    name = "locking"
    codes = {"PG104": "table rewrite", "PG105": "ADD COLUMN rewrites the table",
             "PG106": "SET NOT NULL scans under ACCESS EXCLUSIVE", "PG107": "foreign key added without NOT VALID",
             "PG108": "UNIQUE / PRIMARY KEY constraint built under ACCESS EXCLUSIVE",
             "PG109": "CHECK constraint added without NOT VALID"}
    dialects = ("postgresql",)

    def run(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for step in ctx.steps:
            if not step.statements:
                continue
            reported: set[str] = set()
            for mt, sub in step.table_changes():
                table = mt.name
                if ctx.existed(table) is None:
                    continue
                rewritten = _rewritten(step, table)
                diag = self._check(ctx, step, table, sub, rewritten)
                if diag is not None:
                    if diag.code in ("PG104", "PG105"):
                        reported.add(table)
                    yield diag
            for mt, _ in step.table_changes():
                if mt.name not in reported and ctx.existed(mt.name) is not None and _rewritten(step, mt.name):
                    reported.add(mt.name)
                    yield Diagnostic(step, "PG104", (
                        f'This statement rewrites table "{mt.name}" and its indexes under an ACCESS EXCLUSIVE lock: '
                        "every read and write waits for the whole rewrite"))

    def _check(self, ctx: FileContext, step: Step, table: str, sub: object, rewritten: bool) -> Diagnostic | None:
        if isinstance(sub, ModifyColumn) and "type" in sub.changed and rewritten:
            return Diagnostic(step, "PG104", (
                f'Changing the type of column "{sub.current.name}" ({sub.current.type.lower()} -> '
                f'{sub.desired.type.lower()}) rewrites table "{table}" and its indexes under an ACCESS EXCLUSIVE '
                "lock: every read and write waits for the whole rewrite. Safer: add a column of the new type, "
                "back-fill it in batches and switch to it (no rewrite: varchar(n) to a longer varchar or to text, "
                "numeric(p,s) to a larger p)"))
        if isinstance(sub, AddColumn) and rewritten:
            column = sub.column
            cause = (f"as a STORED generated column ({column.computed.expression})" if column.computed is not None
                     else f"with the volatile DEFAULT {column.default}" if column.default is not None
                     else "")
            return Diagnostic(step, "PG105", (
                f'Adding column "{column.name}" {cause} rewrites table "{table}" under an ACCESS EXCLUSIVE lock: '
                "every read and write waits for the whole rewrite. Safer: add the column without a default (or "
                "with a constant one), set the default with ALTER COLUMN ... SET DEFAULT for new rows, and "
                "back-fill existing rows in batches").replace("  ", " "))
        if isinstance(sub, ModifyColumn) and sub.current.nullable and not sub.desired.nullable \
                and not _not_null_check(step, table, sub.current.name):
            column_name = sub.current.name
            return Diagnostic(step, "PG106", (
                f'Setting column "{column_name}" NOT NULL scans table "{table}" under an ACCESS EXCLUSIVE lock: every '
                f'read and write waits for the scan. Safer: ADD CONSTRAINT ... CHECK ("{column_name}" IS NOT NULL) NOT '
                "VALID, then VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE: reads and writes go on), then SET NOT "
                "NULL (no scan on PostgreSQL 12+) and drop the CHECK"))
        if isinstance(sub, AddForeignKey):
            fk = sub.foreign_key
            valid = _validated(step, table, fk.name)
            if valid or (valid is None and "NOT VALID" not in step.text.upper()):
                label = fk.name or f"({', '.join(fk.columns)})"
                return Diagnostic(step, "PG107", (
                    f'Adding foreign key "{label}" checks every row of "{table}" while holding SHARE ROW EXCLUSIVE '
                    f'locks on "{table}" and "{fk.ref_table}": writes to both wait. Safer: add it with NOT VALID, '
                    "then VALIDATE CONSTRAINT in a later statement (SHARE UPDATE EXCLUSIVE on the table, ROW SHARE "
                    "on the referenced one: writes go on)"))
        if isinstance(sub, AddCheck):
            valid = _validated(step, table, sub.check.name)
            if valid or (valid is None and "NOT VALID" not in step.text.upper()):
                label = sub.check.name or sub.check.expression
                return Diagnostic(step, "PG109", (
                    f'Adding check constraint "{label}" scans table "{table}" under an ACCESS EXCLUSIVE lock. '
                    "Safer: add it with NOT VALID, then VALIDATE CONSTRAINT in a later statement (SHARE UPDATE "
                    "EXCLUSIVE: reads and writes go on)"))
        added_pk = isinstance(sub, ChangePrimaryKey) and sub.desired is not None
        if (isinstance(sub, AddUnique) or added_pk) and step.statements and not _USING_INDEX.search(step.text):
            kind = "UNIQUE" if isinstance(sub, AddUnique) else "PRIMARY KEY"
            pk = sub.desired if isinstance(sub, ChangePrimaryKey) else None
            name = (sub.unique.name if isinstance(sub, AddUnique) else pk.name if pk is not None else None) or ""
            return Diagnostic(step, "PG108", (
                f'Adding {kind} constraint "{name}" builds its index under an ACCESS EXCLUSIVE lock on table '
                f'"{table}": every read and write waits. Safer: CREATE UNIQUE INDEX CONCURRENTLY (in a file with '
                f"{TXMODE_HINT}), then ADD CONSTRAINT ... {kind} USING INDEX"))
        return None


register_hooks(PostgreSQL, LintHooks(probe=probe, local_change=local_change, has_not_null_check=_not_null_check))
