"""Compare two schemas and list the changes that turn `current` into `desired`. Pure: no I/O.

Objects are matched by name where the engine keeps names, and by their shape where it does not
(SQLite's unnamed foreign keys and unique constraints). A changed object is dropped and re-added;
a changed column is one `ModifyColumn` carrying both versions.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from collections.abc import Sequence as Sequence_
from dataclasses import dataclass, field, fields, replace
from typing import Any

from atlembic.schema.model import (
    Check,
    Column,
    Enum,
    Extension,
    ForeignKey,
    Function,
    Index,
    Policy,
    PrimaryKey,
    Schema,
    Sequence,
    Table,
    TableGrant,
    Trigger,
    UniqueConstraint,
    View,
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
class RenameColumn:
    old: str
    new: str


@dataclass(frozen=True)
class RenameIndex:
    current: Index
    desired: Index


@dataclass(frozen=True)
class RenameConstraint:
    """Same primary key / unique / check / foreign key under a new name."""

    kind: str  # "primary" | "unique" | "check" | "foreignkey"
    old: str
    new: str


@dataclass(frozen=True)
class ChangeTableOptions:
    """Engine-specific table options changed (MySQL's ENGINE, CHARSET, COLLATE)."""

    current: tuple[tuple[str, str], ...]
    desired: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RaiseAutoIncrement:
    """The table's AUTO_INCREMENT counter raised to the value the models name (MySQL)."""

    value: int


@dataclass(frozen=True)
class ChangeTableComment:
    current: str | None
    desired: str | None


TableChange = (
    RenameColumn | AddColumn | DropColumn | ModifyColumn | ChangePrimaryKey | AddIndex | DropIndex
    | RenameIndex | AddUnique | DropUnique | AddForeignKey | DropForeignKey | AddCheck | DropCheck
    | RenameConstraint | ChangeTableComment | ChangeTableOptions | RaiseAutoIncrement
)


# -- schema-level changes -------------------------------------------------------------------------
@dataclass(frozen=True)
class AddTable:
    table: Table


@dataclass(frozen=True)
class DropTable:
    table: Table


@dataclass(frozen=True)
class RenameTable:
    old: str
    new: str


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


@dataclass(frozen=True)
class AddSchema:
    name: str


@dataclass(frozen=True)
class DropSchema:
    name: str


@dataclass(frozen=True)
class AddSequence:
    sequence: Sequence


@dataclass(frozen=True)
class DropSequence:
    sequence: Sequence


@dataclass(frozen=True)
class ModifySequence:
    current: Sequence
    desired: Sequence


@dataclass(frozen=True)
class AddView:
    view: View


@dataclass(frozen=True)
class DropView:
    view: View


@dataclass(frozen=True)
class ModifyView:
    current: View
    desired: View


@dataclass(frozen=True)
class AddTrigger:
    trigger: Trigger


@dataclass(frozen=True)
class DropTrigger:
    trigger: Trigger


@dataclass(frozen=True)
class ModifyTrigger:
    current: Trigger
    desired: Trigger


@dataclass(frozen=True)
class AddFunction:
    function: Function


@dataclass(frozen=True)
class DropFunction:
    function: Function


@dataclass(frozen=True)
class ModifyFunction:
    """The same function (name and argument types) with another definition."""

    current: Function
    desired: Function


@dataclass(frozen=True)
class AddExtension:
    extension: Extension


@dataclass(frozen=True)
class DropExtension:
    extension: Extension


@dataclass(frozen=True)
class ModifyExtension:
    """The extension moved to another schema."""

    current: Extension
    desired: Extension


@dataclass(frozen=True)
class AddPolicy:
    policy: Policy


@dataclass(frozen=True)
class DropPolicy:
    policy: Policy


@dataclass(frozen=True)
class ModifyPolicy:
    current: Policy
    desired: Policy


@dataclass(frozen=True)
class AddGrant:
    grant: TableGrant


@dataclass(frozen=True)
class DropGrant:
    grant: TableGrant


@dataclass(frozen=True)
class ModifyGrant:
    """The same privilege of a role on a table, on other columns or with(out) GRANT OPTION: revoked and granted."""

    current: TableGrant
    desired: TableGrant


@dataclass(frozen=True)
class ChangeObjectComment:
    """A view, trigger, function or policy that differs only by its comment: COMMENT ON (ALTER ... COMMENT on
    MySQL), never a re-creation."""

    current: View | Trigger | Function | Policy
    desired: View | Trigger | Function | Policy


@dataclass(frozen=True)
class ChangeRowSecurity:
    """ENABLE (or DISABLE) ROW LEVEL SECURITY on a table both sides have, or one added."""

    table: str
    enabled: bool


Change = (
    AddSchema | DropSchema | RenameTable | AddTable | DropTable | ModifyTable | AddEnum | DropEnum
    | ModifyEnum | AddSequence | DropSequence | ModifySequence | AddView | DropView | ModifyView
    | AddTrigger | DropTrigger | ModifyTrigger | AddFunction | DropFunction | ModifyFunction | AddExtension
    | DropExtension | ModifyExtension | AddPolicy | DropPolicy | ModifyPolicy | ChangeObjectComment | ChangeRowSecurity
    | AddGrant | DropGrant | ModifyGrant
)
# The changes of objects defined by a statement (views, triggers, functions, policies): planned around the tables'
# changes.
DependentChange = (AddView | DropView | ModifyView | AddTrigger | DropTrigger | ModifyTrigger | AddFunction
                   | DropFunction | ModifyFunction | AddPolicy | DropPolicy | ModifyPolicy | ChangeObjectComment)


@dataclass(frozen=True)
class Renames:
    """Renames the models declare: new table -> old table, (table, new column) -> old column.

    Table keys are desired (new) names; a hint that no longer applies (already renamed) is ignored.
    """

    tables: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tables or self.columns)

    def merged(self, other: Renames) -> Renames:
        return Renames({**self.tables, **other.tables}, {**self.columns, **other.columns})


@dataclass(frozen=True)
class RenameCandidate:
    """A drop + add of the same shape that may be a rename; only the user can tell."""

    kind: str  # "table" | "column"
    old: str
    new: str
    table: str | None = None

    @property
    def question(self) -> str:
        where = f" of table '{self.table}'" if self.table else ""
        return f"Did you rename {self.kind} '{self.old}' to '{self.new}'{where}?"

    def as_renames(self) -> Renames:
        if self.kind == "table":
            return Renames(tables={self.new: self.old})
        return Renames(columns={(self.table or "", self.new): self.old})


@dataclass(frozen=True)
class SchemaDiff:
    current: Schema
    desired: Schema
    changes: tuple[Change, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.changes)

    def describe(self) -> list[str]:
        """One human-readable line per change, for `check` output and verification errors. The sequence of a
        SERIAL column of a table added or dropped here goes with its table's line (CREATE/DROP TABLE makes or
        removes it)."""
        whole = {c.table.name for c in self.changes if isinstance(c, AddTable | DropTable)}
        return [line for change in self.changes
                if not (isinstance(change, AddSequence | DropSequence) and change.sequence.owned_by
                        and change.sequence.owned_by.rpartition(".")[0] in whole)
                for line in describe_change(change)]

    def reverse_renames(self) -> Renames:
        """The renames of this diff as hints for the diff back from `desired` to `current` (old and new names
        swapped; a renamed column's table by its old name)."""
        tables = {c.old: c.new for c in self.changes if isinstance(c, RenameTable)}
        back = {new: old for old, new in tables.items()}
        columns = {(back.get(m.name, m.name), c.old): c.new for m in self.changes if isinstance(m, ModifyTable)
                   for c in m.changes if isinstance(c, RenameColumn)}
        return Renames(tables, columns)


def diff_schemas(current: Schema, desired: Schema, renames: Renames | None = None) -> SchemaDiff:
    changes: list[Change] = [AddSchema(s) for s in desired.schemas if s not in current.schemas]
    extensions = list(_diff_named(current.extensions, desired.extensions, AddExtension, DropExtension,
                                  ModifyExtension))
    changes.extend(c for c in extensions if not isinstance(c, DropExtension))
    table_renames, column_renames = _applicable_renames(current, desired, renames or Renames())
    changes.extend(RenameTable(old, new) for new, old in table_renames.items())
    renamed = _apply_renames(current, table_renames, column_renames)
    changes.extend(_diff_named(renamed.sequences, desired.sequences, AddSequence, DropSequence, ModifySequence))
    enum_changes = list(_diff_named(current.enums, desired.enums, AddEnum, DropEnum, ModifyEnum))
    changes.extend(c for c in enum_changes if not isinstance(c, DropEnum))
    cur_tables = {t.name: t for t in renamed.tables}
    # Not in tables being renamed, or with renamed columns: the engine's names there derive from the old
    # names (users_pkey), and following the rename is what a database made afresh would hold.
    moving = set(table_renames) | {t for t, _ in column_renames}
    desired = replace(desired, tables=tuple(
        adopt_engine_names(cur_tables[t.name], t) if t.name in cur_tables and t.name not in moving else t
        for t in desired.tables))
    for table in desired.tables:
        existing = cur_tables.get(table.name)
        if existing is None:
            changes.append(AddTable(table))
            continue
        moved = [RenameColumn(old, new) for (t, new), old in column_renames.items() if t == table.name]
        if not moved and existing == table and not _raises_counter(existing, table):  # most tables: equal
            continue
        table_changes = (*moved, *diff_tables(existing, table))
        if table_changes:
            changes.append(ModifyTable(existing, table, table_changes))
    wanted = {t.name for t in desired.tables}
    changes.extend(DropTable(t) for t in renamed.tables if t.name not in wanted)
    changes.extend(c for c in enum_changes if isinstance(c, DropEnum))
    changes.extend(_diff_named(current.views, desired.views, AddView, DropView, ModifyView))
    changes.extend(_diff_named(current.triggers, desired.triggers, AddTrigger, DropTrigger, ModifyTrigger,
                               key=lambda t: t.key))
    changes.extend(_diff_named(current.functions, desired.functions, AddFunction, DropFunction, ModifyFunction,
                               key=lambda f: f.key))
    changes.extend(_diff_named(current.policies, desired.policies, AddPolicy, DropPolicy, ModifyPolicy,
                               key=lambda p: p.key))
    changes.extend(ChangeRowSecurity(t, True) for t in desired.row_security if t not in current.row_security)
    changes.extend(ChangeRowSecurity(t, False) for t in current.row_security  # a dropped table takes it along
                   if t not in desired.row_security and desired.table(t) is not None)
    changes.extend(c for c in _diff_named(current.grants, desired.grants, AddGrant, DropGrant, ModifyGrant,
                                          key=lambda g: g.key)  # a dropped table takes its grants along
                   if not isinstance(c, DropGrant) or desired.table(c.grant.table) is not None)
    changes.extend(c for c in extensions if isinstance(c, DropExtension))
    changes.extend(DropSchema(s) for s in current.schemas if s not in desired.schemas)
    return SchemaDiff(current, desired, tuple(changes))


def _diff_named(current: Sequence_[Any], desired: Sequence_[Any], add: type, drop: type, modify: type,
                key: Callable[[Any], Hashable] = lambda o: o.name) -> Iterable[Any]:
    """Add / modify / drop for objects identified by name alone (enums, sequences, views), or by `key` (a function's
    name and argument types, a trigger's or policy's name and table). An object that differs only by its comment is
    a ChangeObjectComment."""
    cur = {key(o): o for o in current}
    for obj in desired:
        if key(obj) not in cur:
            yield add(obj)
        elif cur[key(obj)] != obj:
            if hasattr(obj, "comment") and replace(cur[key(obj)], comment=obj.comment) == obj:
                yield ChangeObjectComment(cur[key(obj)], obj)
            else:
                yield modify(cur[key(obj)], obj)
    names = {key(o) for o in desired}
    yield from (drop(o) for o in current if key(o) not in names)


def _applicable_renames(
    current: Schema, desired: Schema, renames: Renames
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Keep the hints that still describe a difference: the old name exists and the new one does not."""
    tables = {
        new: old for new, old in renames.tables.items()
        if current.table(new) is None and current.table(old) is not None and desired.table(old) is None
        and desired.table(new) is not None
    }
    columns = {}
    for (table, new), old in renames.columns.items():
        source = current.table(tables.get(table, table))
        target = desired.table(table)
        if (source and target and source.column(old) and not source.column(new) and target.column(new)
                and not target.column(old)):
            columns[(table, new)] = old
    return tables, columns


def _apply_renames(
    schema: Schema, tables: Mapping[str, str], columns: Mapping[tuple[str, str], str]
) -> Schema:
    """`schema` as it is after the renames ran: names changed everywhere they are referenced."""
    if not tables and not columns:
        return schema
    new_table = {old: new for new, old in tables.items()}
    moved: dict[str, dict[str, str]] = {}
    for (table, new), old in columns.items():
        moved.setdefault(table, {})[old] = new

    def cols(table: str, names: tuple[str, ...]) -> tuple[str, ...]:
        mapping = moved.get(table, {})
        return tuple(mapping.get(n, n) for n in names)

    out = []
    for t in schema.tables:
        name = new_table.get(t.name, t.name)
        out.append(replace(
            t,
            name=name,
            columns=tuple(replace(c, name=moved.get(name, {}).get(c.name, c.name)) for c in t.columns),
            primary_key=t.primary_key and replace(t.primary_key, columns=cols(name, t.primary_key.columns)),
            indexes=tuple(replace(i, parts=tuple(
                replace(p, column=cols(name, (p.column,))[0]) if p.column else p for p in i.parts
            )) for i in t.indexes),
            uniques=tuple(replace(u, columns=cols(name, u.columns)) for u in t.uniques),
            foreign_keys=tuple(replace(
                f,
                columns=cols(name, f.columns),
                ref_table=new_table.get(f.ref_table, f.ref_table),
                ref_columns=cols(new_table.get(f.ref_table, f.ref_table), f.ref_columns),
            ) for f in t.foreign_keys),
        ))

    def owner(seq: Sequence) -> str | None:
        if seq.owner is None:
            return None
        table = new_table.get(seq.owner[0], seq.owner[0])
        return f"{table}.{cols(table, (seq.owner[1],))[0]}"

    return replace(schema, tables=tuple(out), sequences=tuple(replace(s, owned_by=owner(s)) for s in schema.sequences))


def rename_candidates(diff: SchemaDiff) -> list[RenameCandidate]:
    """Drop + add pairs of the same shape: tables with the same columns, columns of the same type."""
    found = []
    added = [c.table for c in diff.changes if isinstance(c, AddTable)]
    dropped = [c.table for c in diff.changes if isinstance(c, DropTable)]
    for new in added:
        for old in dropped:
            if {(c.name, c.type) for c in old.columns} == {(c.name, c.type) for c in new.columns}:
                found.append(RenameCandidate("table", old.name, new.name))
    for change in diff.changes:
        if isinstance(change, ModifyTable):
            adds = [c.column for c in change.changes if isinstance(c, AddColumn)]
            drops = [c.column for c in change.changes if isinstance(c, DropColumn)]
            found.extend(
                RenameCandidate("column", d.name, a.name, change.name)
                for a in adds for d in drops if a.type == d.type
            )
    return found


def adopt_engine_names(current: Table, desired: Table) -> Table:
    """`desired` with each constraint (or engine-made index) whose name the models left to the engine renamed
    after the existing one of the same shape, if any: the models do not care about that name, so a history that chose
    another one (a naming convention, Alembic's batch mode, an older engine's default) is no difference."""
    if current == desired:  # every name already equal (engine_named is not compared): nothing to adopt
        return desired

    def adopt(existing: Sequence_[Any], wanted: Sequence_[Any]) -> tuple[Any, ...]:
        named = {c.name for c in wanted if not c.engine_named}
        # Current constraints that no desired one equals, under a name no desired one asks for.
        free = [c for c in existing if c not in wanted and (c.name is None or c.name not in named)]
        out = []
        for con in wanted:
            if con.engine_named and con not in existing:
                twin = next((c for c in free if replace(c, name=con.name) == con), None)
                if twin is not None:
                    free.remove(twin)
                    con = replace(con, name=twin.name)
            out.append(con)
        return tuple(out)

    cur_pk, des_pk = current.primary_key, desired.primary_key
    if cur_pk is not None and des_pk is not None and des_pk.engine_named \
            and replace(cur_pk, name=des_pk.name) == des_pk:
        des_pk = replace(des_pk, name=cur_pk.name)
    return replace(desired, primary_key=des_pk, indexes=adopt(current.indexes, desired.indexes),
                   uniques=adopt(current.uniques, desired.uniques),
                   foreign_keys=adopt(current.foreign_keys, desired.foreign_keys),
                   checks=adopt(current.checks, desired.checks))


def diff_tables(current: Table, desired: Table) -> tuple[TableChange, ...]:
    changes: list[TableChange] = []
    for column in desired.columns:
        existing = current.column(column.name)
        if existing is None:
            changes.append(AddColumn(column))
        elif existing != column:
            changes.append(ModifyColumn(existing, column))
    changes.extend(DropColumn(c) for c in current.columns if desired.column(c.name) is None)
    cur_pk, des_pk = current.primary_key, desired.primary_key
    if cur_pk and des_pk and cur_pk.name and des_pk.name and replace(cur_pk, name=des_pk.name) == des_pk \
            and cur_pk != des_pk:
        changes.append(RenameConstraint("primary", cur_pk.name, des_pk.name))
    elif cur_pk != des_pk:
        changes.append(ChangePrimaryKey(cur_pk, des_pk))
    changes.extend(_pair_renames(
        list(_diff_objects(current.indexes, desired.indexes, _index_key, DropIndex, AddIndex)),
        DropIndex, AddIndex, lambda old, new: RenameIndex(old, new),
    ))
    for kind, attr, key, drop, add in (
        ("unique", "uniques", _unique_key, DropUnique, AddUnique),
        ("foreignkey", "foreign_keys", _fk_key, DropForeignKey, AddForeignKey),
        ("check", "checks", check_key, DropCheck, AddCheck),
    ):
        found = list(_diff_objects(getattr(current, attr), getattr(desired, attr), key, drop, add))
        changes.extend(_pair_renames(
            found, drop, add, lambda old, new, k=kind: RenameConstraint(k, old.name, new.name)
        ))
    if current.comment != desired.comment:
        changes.append(ChangeTableComment(current.comment, desired.comment))
    if current.options != desired.options:
        changes.append(ChangeTableOptions(current.options, desired.options))
    if _raises_counter(current, desired):
        changes.append(RaiseAutoIncrement(desired.auto_increment or 0))
    return tuple(changes)


def _raises_counter(current: Table, desired: Table) -> bool:
    """The models name an AUTO_INCREMENT start above the table's counter (a counter rows moved further is kept)."""
    return desired.auto_increment is not None and desired.auto_increment > (current.auto_increment or 1)


def _diff_objects(
    current: Sequence_[Any], desired: Sequence_[Any], key: Any, drop: type, add: type
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


def _pair_renames(changes: list[Any], drop: type, add: type, rename: Any) -> list[Any]:
    """A dropped and an added object that differ only by their (non-empty) names are one rename.

    Not when the new name is itself being dropped here: renaming onto it would have to wait for that
    drop, and a plain drop + add says the same without an ordering trap.
    """
    out = list(changes)
    dropped_names = {_payload(c).name for c in changes if isinstance(c, drop)}
    for gone in [c for c in changes if isinstance(c, drop)]:
        old = _payload(gone)
        twin = next((c for c in out if isinstance(c, add) and old.name and _payload(c).name
                     and _payload(c).name not in dropped_names
                     and old.name != _payload(c).name and replace(old, name=_payload(c).name) == _payload(c)),
                    None)
        if twin is not None:
            out[out.index(gone)] = rename(old, _payload(twin))
            out.remove(twin)
    return out


def _payload(change: Any) -> Any:
    """The object an Add*/Drop* change carries (its single field)."""
    return getattr(change, fields(change)[0].name)


def _index_key(i: Index) -> Hashable:
    return i.name


def _unique_key(u: UniqueConstraint) -> Hashable:
    return u.name or u.columns


def _fk_key(f: ForeignKey) -> Hashable:
    return f.name or (f.columns, f.ref_table, f.ref_columns)


def check_key(c: Check) -> Hashable:
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
        case AddSchema(name) | DropSchema(name):
            return [f'{_verb(change)} schema "{name}"']
        case RenameTable(old, new):
            return [f'rename table "{old}" to "{new}"']
        case AddSequence(seq) | DropSequence(seq):
            return [f'{_verb(change)} sequence "{seq.name}"']
        case ModifySequence(cur, des):
            detail = ", ".join(f"{f.name} {getattr(cur, f.name)!r} -> {getattr(des, f.name)!r}" for f in fields(cur)
                               if getattr(cur, f.name) != getattr(des, f.name))
            return [f'change sequence "{cur.name}": {detail}']
        case AddView(view) | DropView(view):
            return [f'{_verb(change)} {view.kind} "{view.name}"']
        case ModifyView(cur, des):
            definitions = f"{_one_line(cur.definition)} -> {_one_line(des.definition)}"
            return [f'change {des.kind} "{cur.name}": {definitions}']
        case AddTrigger(trigger) | DropTrigger(trigger):
            return [f'{_verb(change)} trigger "{trigger.name}" on "{trigger.table}"']
        case ModifyTrigger(cur, des):
            return [f'change trigger "{cur.name}": {_one_line(cur.definition)} -> {_one_line(des.definition)}']
        case AddPolicy(policy) | DropPolicy(policy):
            return [f'{_verb(change)} policy "{policy.name}" on "{policy.table}"']
        case ModifyPolicy(cur, des):
            return [f'change policy "{cur.name}": {_one_line(cur.definition)} -> {_one_line(des.definition)}']
        case AddGrant(grant) | DropGrant(grant):
            on = f" ({', '.join(grant.columns)})" if grant.columns else ""
            return [f'{"grant" if isinstance(change, AddGrant) else "revoke"} {grant.privilege}{on} on '
                    f'"{grant.table}" {"to" if isinstance(change, AddGrant) else "from"} {grant.role}']
        case ModifyGrant(cur, des):
            return [f"change grant {des.key}: columns {list(cur.columns)} -> {list(des.columns)}, grant option "
                    f"{cur.grantable} -> {des.grantable}"]
        case ChangeObjectComment(cur, des):
            return [f'comment on {object_label(des)}: {cur.comment!r} -> {des.comment!r}']
        case ChangeRowSecurity(table, enabled):
            return [f'{"enable" if enabled else "disable"} row level security on "{table}"']
        case AddExtension(extension) | DropExtension(extension):
            return [f'{_verb(change)} extension "{extension.name}"']
        case ModifyExtension(cur, des):
            return [f'move extension "{cur.name}" from schema {cur.schema!r} to {des.schema!r}']
        case AddFunction(function) | DropFunction(function):
            return [f'{_verb(change)} {function.kind} "{function.key}"']
        case ModifyFunction(cur, des):
            return [f'change {des.kind} "{des.key}": {_one_line(cur.definition)} -> {_one_line(des.definition)}']
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
        case ChangeTableOptions(cur, des):
            return f"options {dict(cur)} -> {dict(des)}"
        case RaiseAutoIncrement(value):
            return f"AUTO_INCREMENT -> {value}"
        case RenameColumn(old, new):
            return f'rename column "{old}" to "{new}"'
        case RenameConstraint(kind, old, new):
            return f'rename {kind} constraint "{old}" to "{new}"'
        case RenameIndex(cur, des):
            return f'rename index "{cur.name}" to "{des.name}"'
    raise TypeError(change)  # pragma: no cover


def object_label(obj: View | Trigger | Function | Policy) -> str:
    """`view "v"`, `trigger "t" on "item"`, `function "f(integer)"`: what messages call an object."""
    match obj:
        case View():
            return f'{obj.kind} "{obj.name}"'
        case Function():
            return f'{obj.kind} "{obj.key}"'
        case Trigger() | Policy():
            return f'{type(obj).__name__.lower()} "{obj.name}" on "{obj.table}"'
    raise TypeError(obj)  # pragma: no cover


def _one_line(sql: str) -> str:
    return " ".join(sql.split())


def _verb(change: Any) -> str:
    return "add" if type(change).__name__.startswith("Add") else "drop"
