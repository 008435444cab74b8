"""Compare two schemas and list the changes that turn `current` into `desired`. Pure: no I/O.

Objects are matched by name where the engine keeps names, and by their shape where it does not
(SQLite's unnamed foreign keys and unique constraints). A changed object is dropped and re-added;
a changed column is one `ModifyColumn` carrying both versions.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from atlembic.schema.model import (
    Check,
    Column,
    Enum,
    ForeignKey,
    Index,
    PrimaryKey,
    Schema,
    Table,
    UniqueConstraint,
)


# -- table-level changes --------------------------------------------------------------------------
@dataclass(frozen=True)
class AddColumn:
    column: Column


@dataclass(frozen=True)
class DropColumn:
    column: Column


@dataclass(frozen=True)
class ModifyColumn:
    current: Column
    desired: Column

    @property
    def changed(self) -> tuple[str, ...]:
        """Names of the column attributes that differ (type, nullable, default, ...)."""
        return tuple(
            name
            for name in ("type", "nullable", "default", "comment", "identity", "computed")
            if getattr(self.current, name) != getattr(self.desired, name)
        )


@dataclass(frozen=True)
class ChangePrimaryKey:
    current: PrimaryKey | None
    desired: PrimaryKey | None


@dataclass(frozen=True)
class AddIndex:
    index: Index


@dataclass(frozen=True)
class DropIndex:
    index: Index


@dataclass(frozen=True)
class AddUnique:
    unique: UniqueConstraint


@dataclass(frozen=True)
class DropUnique:
    unique: UniqueConstraint


@dataclass(frozen=True)
class AddForeignKey:
    foreign_key: ForeignKey


@dataclass(frozen=True)
class DropForeignKey:
    foreign_key: ForeignKey


@dataclass(frozen=True)
class AddCheck:
    check: Check


@dataclass(frozen=True)
class DropCheck:
    check: Check


@dataclass(frozen=True)
class ChangeTableComment:
    current: str | None
    desired: str | None


TableChange = (
    AddColumn | DropColumn | ModifyColumn | ChangePrimaryKey | AddIndex | DropIndex | AddUnique
    | DropUnique | AddForeignKey | DropForeignKey | AddCheck | DropCheck | ChangeTableComment
)


# -- schema-level changes -------------------------------------------------------------------------
@dataclass(frozen=True)
class AddTable:
    table: Table


@dataclass(frozen=True)
class DropTable:
    table: Table


@dataclass(frozen=True)
class ModifyTable:
    current: Table
    desired: Table
    changes: tuple[TableChange, ...]

    @property
    def name(self) -> str:
        return self.desired.name


@dataclass(frozen=True)
class AddEnum:
    enum: Enum


@dataclass(frozen=True)
class DropEnum:
    enum: Enum


@dataclass(frozen=True)
class ModifyEnum:
    current: Enum
    desired: Enum

    @property
    def only_appends(self) -> bool:
        """True when every current label keeps its relative order (ADD VALUE can do it)."""
        remaining = iter(self.desired.values)
        return all(any(v == d for d in remaining) for v in self.current.values)


Change = AddTable | DropTable | ModifyTable | AddEnum | DropEnum | ModifyEnum


@dataclass(frozen=True)
class SchemaDiff:
    current: Schema
    desired: Schema
    changes: tuple[Change, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.changes)

    def describe(self) -> list[str]:
        """One human-readable line per change, for `check` output and verification errors."""
        return [line for change in self.changes for line in describe_change(change)]


def diff_schemas(current: Schema, desired: Schema) -> SchemaDiff:
    changes: list[Change] = []
    cur_enums = {e.name: e for e in current.enums}
    des_enums = {e.name: e for e in desired.enums}
    for name, enum in des_enums.items():
        if name not in cur_enums:
            changes.append(AddEnum(enum))
        elif cur_enums[name] != enum:
            changes.append(ModifyEnum(cur_enums[name], enum))
    cur_tables = {t.name: t for t in current.tables}
    des_tables = {t.name: t for t in desired.tables}
    for name, table in des_tables.items():
        if name not in cur_tables:
            changes.append(AddTable(table))
        else:
            table_changes = diff_tables(cur_tables[name], table)
            if table_changes:
                changes.append(ModifyTable(cur_tables[name], table, table_changes))
    changes.extend(DropTable(t) for name, t in cur_tables.items() if name not in des_tables)
    changes.extend(DropEnum(e) for name, e in cur_enums.items() if name not in des_enums)
    return SchemaDiff(current, desired, tuple(changes))


def diff_tables(current: Table, desired: Table) -> tuple[TableChange, ...]:
    changes: list[TableChange] = []
    for column in desired.columns:
        existing = current.column(column.name)
        if existing is None:
            changes.append(AddColumn(column))
        elif existing != column:
            changes.append(ModifyColumn(existing, column))
    changes.extend(DropColumn(c) for c in current.columns if desired.column(c.name) is None)
    if current.primary_key != desired.primary_key:
        changes.append(ChangePrimaryKey(current.primary_key, desired.primary_key))
    changes.extend(_diff_objects(current.indexes, desired.indexes, _index_key, DropIndex, AddIndex))
    changes.extend(_diff_objects(current.uniques, desired.uniques, _unique_key, DropUnique, AddUnique))
    changes.extend(
        _diff_objects(current.foreign_keys, desired.foreign_keys, _fk_key, DropForeignKey, AddForeignKey)
    )
    changes.extend(_diff_objects(current.checks, desired.checks, _check_key, DropCheck, AddCheck))
    if current.comment != desired.comment:
        changes.append(ChangeTableComment(current.comment, desired.comment))
    return tuple(changes)


def _diff_objects(
    current: Sequence[Any], desired: Sequence[Any], key: Any, drop: type, add: type
) -> Iterable[Any]:
    """Drop what is gone or changed, add what is new or changed; equal objects are left alone."""
    cur = {key(o): o for o in current}
    des = {key(o): o for o in desired}
    for k, obj in cur.items():
        if des.get(k) != obj:
            yield drop(obj)
    for k, obj in des.items():
        if cur.get(k) != obj:
            yield add(obj)


def _index_key(i: Index) -> Hashable:
    return i.name


def _unique_key(u: UniqueConstraint) -> Hashable:
    return u.name or u.columns


def _fk_key(f: ForeignKey) -> Hashable:
    return f.name or (f.columns, f.ref_table, f.ref_columns)


def _check_key(c: Check) -> Hashable:
    return c.name or c.expression


def describe_change(change: Change) -> list[str]:
    match change:
        case AddTable(table):
            return [f'add table "{table.name}"']
        case DropTable(table):
            return [f'drop table "{table.name}"']
        case AddEnum(enum):
            return [f'add enum "{enum.name}" {list(enum.values)}']
        case DropEnum(enum):
            return [f'drop enum "{enum.name}"']
        case ModifyEnum(cur, des):
            return [f'change enum "{cur.name}" values {list(cur.values)} -> {list(des.values)}']
        case ModifyTable():
            return [f'table "{change.name}": {describe_table_change(c)}' for c in change.changes]
    raise TypeError(change)  # pragma: no cover - the match above is exhaustive


def describe_table_change(change: TableChange) -> str:
    match change:
        case AddColumn(c):
            return f'add column "{c.name}" {c.type}'
        case DropColumn(c):
            return f'drop column "{c.name}"'
        case ModifyColumn(cur, des):
            detail = ", ".join(f"{a} {getattr(cur, a)!r} -> {getattr(des, a)!r}" for a in change.changed)
            return f'modify column "{cur.name}": {detail}'
        case ChangePrimaryKey(cur, des):
            return f"change primary key {cur and list(cur.columns)} -> {des and list(des.columns)}"
        case AddIndex(i) | DropIndex(i):
            return f'{_verb(change)} index "{i.name}"'
        case AddUnique(u) | DropUnique(u):
            return f"{_verb(change)} unique constraint {u.name or ''}{list(u.columns)}"
        case AddForeignKey(f) | DropForeignKey(f):
            return f"{_verb(change)} foreign key {f.name or ''}{list(f.columns)} -> {f.ref_table}{list(f.ref_columns)}"
        case AddCheck(c) | DropCheck(c):
            return f"{_verb(change)} check {c.name or ''}({c.expression})"
        case ChangeTableComment(cur, des):
            return f"comment {cur!r} -> {des!r}"
    raise TypeError(change)  # pragma: no cover


def _verb(change: TableChange) -> str:
    return "add" if type(change).__name__.startswith("Add") else "drop"
