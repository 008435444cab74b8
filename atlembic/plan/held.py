"""Column defaults and CHECK constraints that call a function the plan drops (removed from the models, or changed
beyond CREATE OR REPLACE): the engine refuses DROP FUNCTION under them ("other objects depend on it"), so they are
released (the default dropped, the check dropped) before anything else, left alone by the tables' changes, and
restored as the models have them after the functions are made. Found as views over a function are: by the names
their expressions spell (a doubt is a yes: an overload of the same name costs a DROP and SET, never a failure)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from atlembic.diff import (
    AddCheck,
    DropCheck,
    ModifyColumn,
    ModifyTable,
    RenameColumn,
    RenameConstraint,
    RenameTable,
    SchemaDiff,
    TableChange,
    check_key,
)
from atlembic.plan.base import mentions


@dataclass(frozen=True)
class Held:
    """`release`: the changes that drop them, under the tables' current names (planned first); `restore`: those that
    make the models' ones, under the desired names (planned after the functions); `diff`: the changes the tables'
    statements are planned from, without theirs."""

    release: tuple[ModifyTable, ...]
    restore: tuple[ModifyTable, ...]
    diff: SchemaDiff


def hold_function_users(diff: SchemaDiff, gone: Collection[str], early: Collection[str]) -> Held:
    """`gone`: the bare, lower-cased names of the functions the plan drops; `early`: those of them dropped before the
    tables' changes (a table dropped here takes the others' users along before they go)."""
    if not gone:
        return Held((), (), diff)
    renamed = {c.old: c.new for c in diff.changes if isinstance(c, RenameTable)}
    modified = {c.name: c for c in diff.changes if isinstance(c, ModifyTable)}
    release: list[ModifyTable] = []
    restore: list[ModifyTable] = []
    left: dict[str, ModifyTable | None] = {}  # the tables' own changes without the held ones (None: none left)
    for table in diff.current.tables:
        desired = diff.desired.table(renamed.get(table.name, table.name))
        names = gone if desired is not None else early
        columns = [c for c in table.columns if c.default is not None and mentions(c.default, names)]
        checks = [k for k in table.checks if mentions(k.expression, names)]
        if not columns and not checks:
            continue
        release.append(ModifyTable(table, table, (*(ModifyColumn(c, replace(c, default=None)) for c in columns),
                                                  *(DropCheck(k) for k in checks))))
        if desired is None:
            continue
        change = modified.get(desired.name)
        moved = {c.old: c.new for c in change.changes if isinstance(c, RenameColumn)} if change else {}
        held_columns = {moved.get(c.name, c.name) for c in columns}
        held_checks = {check_key(k) for k in checks} | {
            c.new for c in (change.changes if change else ()) if isinstance(c, RenameConstraint)
            and c.kind == "check" and c.old in {k.name for k in checks}}
        back: list[TableChange] = [ModifyColumn(replace(c, default=None), c) for c in desired.columns
                                   if c.name in held_columns and c.default is not None]
        back += [AddCheck(k) for k in desired.checks if check_key(k) in held_checks]
        if back:
            restore.append(ModifyTable(desired, desired, tuple(back)))
        if change is not None:
            left[change.name] = _without(change, held_columns, held_checks)
    changes = [left.get(c.name, c) if isinstance(c, ModifyTable) else c for c in diff.changes]
    return Held(tuple(release), tuple(restore), replace(diff, changes=tuple(c for c in changes if c is not None)))


def _without(change: ModifyTable, columns: Collection[str], checks: Collection[object]) -> ModifyTable | None:
    """`change` leaving the held defaults (of `columns`, desired names) and `checks` (their keys) alone."""
    kept: list[TableChange] = []
    for c in change.changes:
        if isinstance(c, ModifyColumn) and c.desired.name in columns:
            c = ModifyColumn(replace(c.current, default=None), replace(c.desired, default=None))
            if not c.changed:
                continue
        elif isinstance(c, AddCheck | DropCheck) and check_key(c.check) in checks or \
                isinstance(c, RenameConstraint) and c.kind == "check" and c.new in checks:
            continue
        kept.append(c)
    return replace(change, changes=tuple(kept)) if kept else None

