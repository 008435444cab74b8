"""Column defaults, CHECK constraints and indexes (their expressions and WHERE) that call a function the plan drops
(removed from the models, or changed beyond CREATE OR REPLACE): the engine refuses DROP FUNCTION under them ("other
objects depend on it"), so they are released (the default, the check, the index dropped) before anything else, left
alone by the tables' changes, and restored as the models have them after the functions are made. Found as views over
a function are: by the names their expressions spell (a doubt is a yes: an overload of the same name costs a drop and
a re-creation, never a failure)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from atlembic.diff import (
    AddCheck,
    AddIndex,
    DropCheck,
    DropIndex,
    ModifyColumn,
    ModifyTable,
    RenameColumn,
    RenameConstraint,
    RenameIndex,
    RenameTable,
    SchemaDiff,
    TableChange,
    check_key,
)
from atlembic.plan.base import mentions
from atlembic.schema import model


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
        indexes = [i for i in table.indexes if mentions(_index_sql(i), names)]
        if not (columns or checks or indexes):
            continue
        release.append(ModifyTable(table, table, (*(ModifyColumn(c, replace(c, default=None)) for c in columns),
                                                  *(DropCheck(k) for k in checks), *(DropIndex(i) for i in indexes))))
        if desired is None:
            continue
        change = modified.get(desired.name)
        own = change.changes if change else ()
        moved = {c.old: c.new for c in own if isinstance(c, RenameColumn)}
        held_columns = {moved.get(c.name, c.name) for c in columns}
        held_checks = {check_key(k) for k in checks} | {c.new for c in own if isinstance(c, RenameConstraint)
                                                       and c.kind == "check" and c.old in {k.name for k in checks}}
        held_indexes = {i.name for i in indexes} | {
            c.desired.name for c in own if isinstance(c, RenameIndex) and c.current.name in {i.name for i in indexes}}
        back: list[TableChange] = [ModifyColumn(replace(c, default=None), c) for c in desired.columns
                                   if c.name in held_columns and c.default is not None]
        back += [AddCheck(k) for k in desired.checks if check_key(k) in held_checks]
        back += [AddIndex(i) for i in desired.indexes if i.name in held_indexes]
        if back:
            restore.append(ModifyTable(desired, desired, tuple(back)))
        if change is not None:
            left[change.name] = _without(change, held_columns, held_checks, held_indexes)
    changes = [left.get(c.name, c) if isinstance(c, ModifyTable) else c for c in diff.changes]
    return Held(tuple(release), tuple(restore), replace(diff, changes=tuple(c for c in changes if c is not None)))


def _index_sql(index: model.Index) -> str:
    return " ".join((*(p.sql for p in index.parts), index.where or ""))


def _without(change: ModifyTable, columns: Collection[str], checks: Collection[object],
             indexes: Collection[str]) -> ModifyTable | None:
    """`change` leaving the held defaults (of `columns`, desired names), `checks` (their keys) and `indexes` (desired
    names) alone."""
    kept: list[TableChange] = []
    for c in change.changes:
        if isinstance(c, ModifyColumn) and c.desired.name in columns:
            c = ModifyColumn(replace(c.current, default=None), replace(c.desired, default=None))
            if not c.changed:
                continue
        elif isinstance(c, AddCheck | DropCheck) and check_key(c.check) in checks or \
                isinstance(c, RenameConstraint) and c.kind == "check" and c.new in checks or \
                isinstance(c, AddIndex | DropIndex) and c.index.name in indexes or \
                isinstance(c, RenameIndex) and c.desired.name in indexes:
            continue
        kept.append(c)
    return replace(change, changes=tuple(kept)) if kept else None

