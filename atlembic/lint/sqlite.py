"""SQLite: the table rebuild read as one modification, and LT101.

SQLite's ALTER TABLE cannot change a column, so a migration rebuilds the table (SQLite's documented
procedure, https://www.sqlite.org/lang_altertable.html#otheralter, also what Atlas, Alembic's batch mode
and our planner write): CREATE TABLE new_t, INSERT INTO new_t SELECT ... FROM t, DROP TABLE t, ALTER TABLE
new_t RENAME TO t, then CREATE INDEX again. Statement by statement that reads as "drop table t" and "rename
table"; the analyzers must see what it is: table t modified. Source: Atlas
``sql/sqlite/sqlitecheck/sqlitecheck.go`` (``modifyUsingTemp``, LT101 in ``modifyNotNull``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from atlembic.diff import AddIndex, AddTable, DropTable, ModifyColumn, ModifyTable, RenameTable, diff_schemas
from atlembic.engines.sqlite import SQLite
from atlembic.lint import analyzers
from atlembic.lint.model import Diagnostic, FileContext, LintHooks, Step, register_hooks


def _rebuild_end(steps: list[Step], i: int) -> int | None:
    """Index of the last step of a rebuild starting at `i` (CREATE TABLE tmp), or None."""
    first = steps[i].changes
    if len(first) != 1 or not isinstance(first[0], AddTable):
        return None
    temp, dropped = first[0].table.name, None
    for j in range(i + 1, len(steps)):
        changes = steps[j].changes
        if not changes:
            continue  # the copy (INSERT ... SELECT), PRAGMAs
        if dropped is None and len(changes) == 1 and isinstance(changes[0], DropTable) \
                and steps[i].before.table(changes[0].table.name) is not None:
            dropped = changes[0].table.name
            continue
        if dropped is not None and any(isinstance(c, RenameTable) and c.old == temp and c.new == dropped
                                       for c in changes):
            end = j
            # The indexes recreated right after belong to the rebuild too.
            while end + 1 < len(steps) and _only_adds_indexes(steps[end + 1], dropped):
                end += 1
            return end
        return None
    return None


def _only_adds_indexes(step: Step, table: str) -> bool:
    return bool(step.changes) and all(
        isinstance(c, ModifyTable) and c.name == table and all(isinstance(s, AddIndex) for s in c.changes)
        for c in step.changes
    )


def merge_rebuilds(steps: list[Step]) -> list[Step]:
    out: list[Step] = []
    i = 0
    while i < len(steps):
        end = _rebuild_end(steps, i)
        if end is None:
            out.append(steps[i])
            i += 1
            continue
        group = steps[i : end + 1]
        before, after = group[0].before, group[-1].after
        out.append(Step(group[0].index, [s for g in group for s in g.statements], before, after,
                        diff_schemas(before, after).changes, group[0].facts_before, group[-1].facts_after))
        i = end + 1
    return out



def modify_not_null(ctx: FileContext, step: Step, table: str, change: ModifyColumn) -> Iterator[Diagnostic]:
    """LT101: the rebuild copies NULLs into a NOT NULL column, unless a default or a back-fill covers them."""
    column = change.current.name
    if change.desired.default is not None or ctx.filled_before(step, table, column):
        return
    if re.search(rf"\b(?:IFNULL|COALESCE)\s*\(\s*[\"`\[]?{re.escape(column)}\b", step.text, re.IGNORECASE):
        return  # the copy fills them
    text = (f'Modifying nullable column "{change.desired.name}" to non-nullable without default value might fail '
            "in case it contains NULL values")
    yield from analyzers._nulls(ctx, step, "LT101", text, table, column)


register_hooks(SQLite, LintHooks(rewrite_steps=merge_rebuilds, modify_not_null=modify_not_null))
