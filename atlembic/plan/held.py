"""What of the tables calls a function that does not exist while the tables' changes run: column defaults, generated
columns, CHECK constraints and indexes (their expressions and WHERE).

- Released: those calling a function the plan drops (removed from the models, or changed beyond CREATE OR REPLACE):
  the engine refuses DROP FUNCTION under them ("other objects depend on it"), so they are dropped before anything
  else (a generated column with the keys, checks and indexes over it, and the foreign keys to it: PostgreSQL cannot
  change a generation expression before 17, and a stored one is recomputed, so nothing is lost), left alone by the
  tables' changes, and restored as the models have them after the functions are made.
- Late: the new ones calling a function the plan creates after the tables (its body names one): left out of the
  tables' changes and added after the functions are made.

Found as views over a function are: by the names their expressions spell (a doubt is a yes: an overload of the same
name costs a drop and a re-creation, never a failure)."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field, replace

from atlembic.diff import (
    AddCheck,
    AddColumn,
    AddForeignKey,
    AddIndex,
    AddTable,
    AddUnique,
    Change,
    ChangePrimaryKey,
    DropCheck,
    DropColumn,
    DropForeignKey,
    DropIndex,
    DropUnique,
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
    statements are planned from, without theirs; `rebuilt`: the current names of the tables the release drops
    columns of (what reads those goes first, as for any dropped column)."""

    release: tuple[ModifyTable, ...]
    restore: tuple[ModifyTable, ...]
    diff: SchemaDiff
    rebuilt: frozenset[str] = frozenset()


@dataclass
class _Users:
    """A table's users of some functions, by name (checks by `check_key`, unique constraints by `_unique_key`):
    `defaults` the columns whose default calls one, `columns` the generated columns whose expression does (dropped
    and added whole, with the keys, checks and indexes over them, and the other tables' foreign keys to them)."""

    defaults: set[str] = field(default_factory=set)
    columns: set[str] = field(default_factory=set)
    checks: set[Hashable] = field(default_factory=set)
    indexes: set[str] = field(default_factory=set)
    uniques: set[Hashable] = field(default_factory=set)
    foreign_keys: set[Hashable] = field(default_factory=set)  # those referencing another table's held column
    primary_key: bool = False  # over a held column

    def __bool__(self) -> bool:
        return bool(self.defaults or self.columns or self.checks or self.indexes or self.uniques or self.foreign_keys
                    or self.primary_key)

    def made(self, table: model.Table) -> tuple[TableChange, ...]:
        """The changes that give `table` (without them) its users."""
        return (*(ModifyColumn(replace(c, default=None), c) for c in table.columns
                  if c.name in self.defaults and c.name not in self.columns and c.default is not None),
                *(AddColumn(c) for c in table.columns if c.name in self.columns),
                *([ChangePrimaryKey(None, table.primary_key)] if self.primary_key and table.primary_key else []),
                *(AddUnique(u) for u in table.uniques if _unique_key(u) in self.uniques),
                *(AddCheck(k) for k in table.checks if check_key(k) in self.checks),
                *(AddIndex(i) for i in table.indexes if i.name in self.indexes),
                *(AddForeignKey(k) for k in table.foreign_keys if _fk_key(k) in self.foreign_keys))


def hold_function_users(diff: SchemaDiff, gone: Collection[str], early: Collection[str],
                        late: Collection[str] = ()) -> Held:
    """`gone`: the bare, lower-cased names of the functions the plan drops; `early`: those of them dropped before the
    tables' changes (a table dropped here takes the others' users along before they go); `late`: those of the
    functions the plan creates after the tables' changes."""
    renamed = {c.old: c.new for c in diff.changes if isinstance(c, RenameTable)}
    modified = {c.name: c for c in diff.changes if isinstance(c, ModifyTable)}
    release: list[ModifyTable] = []
    restore: list[ModifyTable] = []
    left: dict[str, ModifyTable | None] = {}  # the tables' own changes without the held ones (None: none left)
    tables = diff.current.tables if gone else ()
    found = {t.name: _users(t, gone if diff.desired.table(renamed.get(t.name, t.name)) is not None else early)
             for t in tables}
    dropped = {(name, column) for name, users in found.items() for column in users.columns}
    for table in tables:
        found[table.name].foreign_keys = {_fk_key(k) for k in table.foreign_keys
                                          if any((k.ref_table, c) in dropped for c in k.ref_columns)}
    for table in tables:
        desired = diff.desired.table(renamed.get(table.name, table.name))
        users = found[table.name]
        if not users:
            continue
        release.append(ModifyTable(table, table, _released(table, users)))
        if desired is None:
            continue
        own = modified.get(desired.name)
        if own is not None:
            users = _renamed(users, own.changes)
            left[own.name] = _without(own, users)
        if back := users.made(desired):
            restore.append(ModifyTable(desired, desired, back))
    changes: list[Change] = []
    for change in diff.changes:
        planned: Change | None = left.get(change.name, change) if isinstance(change, ModifyTable) else change
        if late and isinstance(planned, AddTable):
            users = _users(planned.table, late)
            if users:
                restore.append(ModifyTable(_stripped(planned.table, users), planned.table, users.made(planned.table)))
                planned = AddTable(_stripped(planned.table, users))
        elif late and isinstance(planned, ModifyTable):
            planned, made = _late(planned, late)
            if made is not None:
                restore.append(made)
        if planned is not None:
            changes.append(planned)
    rebuilt = frozenset(c.name for c in release if any(isinstance(s, DropColumn) for s in c.changes))
    return Held(tuple(release), tuple(restore), replace(diff, changes=tuple(changes)), rebuilt)


def _users(table: model.Table, names: Collection[str]) -> _Users:
    columns = {c.name for c in table.columns if c.computed is not None and mentions(c.computed.expression, names)}
    over = {*names, *(c.lower() for c in columns)}  # what also goes with a generated column
    return _Users(
        defaults={c.name for c in table.columns if c.default is not None and mentions(c.default, names)},
        columns=columns,
        checks={check_key(k) for k in table.checks if mentions(k.expression, over)},
        indexes={i.name for i in table.indexes if mentions(_index_sql(i), over)},
        uniques={_unique_key(u) for u in table.uniques if not columns.isdisjoint(u.columns)},
        primary_key=table.primary_key is not None and not columns.isdisjoint(table.primary_key.columns))


def _released(table: model.Table, users: _Users) -> tuple[TableChange, ...]:
    return (*(DropForeignKey(k) for k in table.foreign_keys if _fk_key(k) in users.foreign_keys),
            *([ChangePrimaryKey(table.primary_key, None)] if users.primary_key else []),
            *(ModifyColumn(c, replace(c, default=None)) for c in table.columns
              if c.name in users.defaults and c.name not in users.columns),
            *(DropUnique(u) for u in table.uniques if _unique_key(u) in users.uniques),
            *(DropCheck(k) for k in table.checks if check_key(k) in users.checks),
            *(DropIndex(i) for i in table.indexes if i.name in users.indexes),
            *(DropColumn(c) for c in table.columns if c.name in users.columns))


def _renamed(users: _Users, own: Iterable[TableChange]) -> _Users:
    """`users` (current names) under the names a table's own changes give them."""
    own = tuple(own)
    columns = {c.old: c.new for c in own if isinstance(c, RenameColumn)}
    constraints = {(c.kind, c.old): c.new for c in own if isinstance(c, RenameConstraint)}
    indexes = {c.current.name: c.desired.name for c in own if isinstance(c, RenameIndex)}
    return _Users(defaults={columns.get(c, c) for c in users.defaults},
                  columns={columns.get(c, c) for c in users.columns},
                  checks={constraints.get(("check", k), k) if isinstance(k, str) else k for k in users.checks},
                  indexes={indexes.get(i, i) for i in users.indexes},
                  uniques={constraints.get(("unique", u), u) if isinstance(u, str) else u for u in users.uniques},
                  foreign_keys={constraints.get(("foreignkey", k), k) if isinstance(k, str) else k
                                for k in users.foreign_keys}, primary_key=users.primary_key)


def _unique_key(unique: model.UniqueConstraint) -> Hashable:
    return unique.name or unique.columns


def _fk_key(foreign_key: model.ForeignKey) -> Hashable:
    return foreign_key.name or foreign_key.columns


def _index_sql(index: model.Index) -> str:
    return " ".join((*(p.sql for p in index.parts), index.where or ""))


def _stripped(table: model.Table, users: _Users) -> model.Table:
    """`table` without `users`."""
    return replace(table, columns=tuple(replace(c, default=None) if c.name in users.defaults else c
                                        for c in table.columns if c.name not in users.columns),
                   uniques=tuple(u for u in table.uniques if _unique_key(u) not in users.uniques),
                   checks=tuple(k for k in table.checks if check_key(k) not in users.checks),
                   indexes=tuple(i for i in table.indexes if i.name not in users.indexes))


def _without(change: ModifyTable, users: _Users) -> ModifyTable | None:
    """`change` leaving the released `users` (desired names) alone: those the release dropped are made after."""
    kept: list[TableChange] = []
    for c in change.changes:
        if isinstance(c, ModifyColumn | RenameColumn | AddColumn | DropColumn) and \
                _column_name(c) in users.columns:
            continue
        if isinstance(c, ModifyColumn) and c.desired.name in users.defaults:
            c = ModifyColumn(replace(c.current, default=None), replace(c.desired, default=None))
            if not c.changed:
                continue
        elif isinstance(c, AddCheck | DropCheck) and check_key(c.check) in users.checks or \
                isinstance(c, RenameConstraint) and (c.kind == "check" and c.new in users.checks
                                                     or c.kind == "unique" and c.new in users.uniques) or \
                isinstance(c, AddUnique | DropUnique) and _unique_key(c.unique) in users.uniques or \
                isinstance(c, AddForeignKey | DropForeignKey) and _fk_key(c.foreign_key) in users.foreign_keys or \
                isinstance(c, ChangePrimaryKey) and users.primary_key or \
                isinstance(c, RenameConstraint) and c.kind == "primary" and users.primary_key or \
                isinstance(c, AddIndex | DropIndex) and c.index.name in users.indexes or \
                isinstance(c, RenameIndex) and c.desired.name in users.indexes:
            continue
        kept.append(c)
    return replace(change, changes=tuple(kept)) if kept else None


def _column_name(change: ModifyColumn | RenameColumn | AddColumn | DropColumn) -> str:
    """The desired name of the column a change is about (a dropped one's current name)."""
    if isinstance(change, ModifyColumn):
        return change.desired.name
    return change.new if isinstance(change, RenameColumn) else change.column.name


def _late(change: ModifyTable, late: Collection[str]) -> tuple[ModifyTable | None, ModifyTable | None]:
    """(`change` without what it adds that calls a `late` function, the changes that add those after them)."""
    users = _Users()
    kept: list[TableChange] = []
    for c in change.changes:  # columns first: the checks, indexes and unique constraints over them follow them
        if isinstance(c, AddColumn) and mentions(f"{c.column.default or ''} "
                                                 f"{c.column.computed.expression if c.column.computed else ''}", late):
            users.columns.add(c.column.name)
            continue
        if isinstance(c, ModifyColumn) and c.desired.computed != c.current.computed and \
                c.desired.computed is not None and mentions(c.desired.computed.expression, late):
            users.columns.add(c.desired.name)
            c = DropColumn(c.current)  # replaced whole (as without the function), added back after it
        elif isinstance(c, ModifyColumn) and c.desired.default != c.current.default and \
                c.desired.default is not None and mentions(c.desired.default, late):
            users.defaults.add(c.desired.name)
            c = ModifyColumn(c.current, replace(c.desired, default=None))
            if not c.changed:
                continue
        kept.append(c)
    over = {*late, *(c.lower() for c in users.columns)}
    for c in tuple(kept):
        if isinstance(c, AddCheck) and mentions(c.check.expression, over):
            users.checks.add(check_key(c.check))
        elif isinstance(c, AddIndex) and mentions(_index_sql(c.index), over):
            users.indexes.add(c.index.name)
        elif isinstance(c, AddUnique) and not users.columns.isdisjoint(c.unique.columns):
            users.uniques.add(_unique_key(c.unique))
        else:
            continue
        kept.remove(c)
    if not users:
        return change, None
    return (replace(change, changes=tuple(kept)) if kept else None), \
        ModifyTable(change.desired, change.desired, users.made(change.desired))
