"""PostgreSQL planning: transactional ALTERs rendered by Alembic, ordered so every statement finds
what it depends on (types before tables, foreign keys after the tables and keys they point to)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from sqlalchemy.schema import CreateSequence
from sqlalchemy.schema import DropSequence as DropSequence_

from atlembic.diff import (
    AddCheck,
    AddColumn,
    AddEnum,
    AddExtension,
    AddForeignKey,
    AddGrant,
    AddIndex,
    AddSchema,
    AddSequence,
    AddTable,
    AddUnique,
    ChangePrimaryKey,
    ChangeRowSecurity,
    ChangeTableComment,
    DropCheck,
    DropColumn,
    DropEnum,
    DropExtension,
    DropForeignKey,
    DropGrant,
    DropIndex,
    DropSchema,
    DropSequence,
    DropTable,
    DropUnique,
    ModifyColumn,
    ModifyEnum,
    ModifyExtension,
    ModifyGrant,
    ModifySequence,
    ModifyTable,
    RenameColumn,
    RenameConstraint,
    RenameIndex,
    RenameTable,
    SchemaDiff,
)
from atlembic.plan.base import (
    HeldUsers,
    PlannedStatement,
    Planner,
    RawType,
    bare_name,
    dependency_order,
    sa_identity,
)
from atlembic.plan.held import hold_function_users
from atlembic.schema import model
from atlembic.schema.model import split_name

_SERIAL_TYPES = {"INTEGER": "SERIAL", "BIGINT": "BIGSERIAL", "SMALLINT": "SMALLSERIAL"}
# A sequence's data types, SQLAlchemy's spelling of each (CREATE SEQUENCE ... AS) and their value ranges.
_SEQUENCE_TYPES: dict[str, tuple[type[sa.types.TypeEngine], int]] = {
    "smallint": (sa.SmallInteger, 2**15 - 1), "integer": (sa.Integer, 2**31 - 1), "bigint": (sa.BigInteger, 2**63 - 1)}
_NEXTVAL = re.compile(r"^nextval\('(?:\"?[\w.]+\"?\.)?\"?(\w+)\"?'::regclass\)$")


class PostgresPlanner(Planner):
    dialect_name = "postgresql"

    standalone_sequences: frozenset[str] = frozenset()
    # Sequences a SERIAL column made and draws from: they come and go with their column.
    implicit_sequences: frozenset[str] = frozenset()
    new_sequences: dict[str, model.Sequence]

    def sa_column(self, column: model.Column) -> sa.Column:
        # A column whose default draws from an implicit sequence (not one the schema declares on its
        # own) is a SERIAL: render it that way so the sequence the default needs gets created.
        serial = _SERIAL_TYPES.get(column.type)
        match = _NEXTVAL.match(column.default or "")
        if serial and match and match.group(1) not in self.standalone_sequences:
            column = model.Column(column.name, serial, column.nullable, None, column.comment)
        return super().sa_column(column)

    def plan(self, diff: SchemaDiff) -> list[PlannedStatement]:
        self.directives = []
        self.implicit_sequences = _implicit_sequences(diff.current) | _implicit_sequences(diff.desired)
        self.standalone_sequences = frozenset(s.name for s in (*diff.current.sequences, *diff.desired.sequences)
                                              if s.name not in self.implicit_sequences)
        self.replaced_serials: set[str] = set()
        # Sequences the plan creates: an IDENTITY -> SERIAL column makes its own (see _modify_column).
        self.new_sequences = {c.sequence.name: c.sequence for c in diff.changes if isinstance(c, AddSequence)}
        removed, redone = self.gone_functions(diff)
        held = hold_function_users(diff, {bare_name(f.name) for f in (*removed, *redone)},
                                   {bare_name(f.name) for f in redone},
                                   {bare_name(f.name) for f in self.late_functions(diff)})
        # Their foreign keys first out, last in, as the tables' own.
        before, after = self.dependents(diff, HeldUsers(
            release=[*(self._drop_fk(change.name, c.foreign_key) for change in held.release for c in change.changes
                       if isinstance(c, DropForeignKey)),
                     *(s for change in held.release for s in self._modify_table(change))],
            restore=[*(s for change in held.restore for s in self._modify_table(change)),
                     *(self._add_fk(change.name, c.foreign_key) for change in held.restore for c in change.changes
                       if isinstance(c, AddForeignKey))],
            rebuilt=held.rebuilt, restored={c.name for c in held.restore}))
        out: list[PlannedStatement] = []
        added = [c.table for c in held.diff.changes if isinstance(c, AddTable)]
        modified = [c for c in held.diff.changes if isinstance(c, ModifyTable)]
        dropped = [c.table for c in diff.changes if isinstance(c, DropTable)]
        out += [PlannedStatement(f'Add schema "{c.name}"', f"CREATE SCHEMA {self.quote(c.name)}")
                for c in diff.changes if isinstance(c, AddSchema)]
        out += [self._extension(c) for c in diff.changes if isinstance(c, AddExtension | ModifyExtension)]
        out += before
        for change in diff.changes:
            if isinstance(change, RenameTable):
                out += [PlannedStatement(f'Rename table "{change.old}" to "{change.new}"', sql)
                        for sql in self.alembic(lambda op, c=change: op.rename_table(c.old, c.new))]
            elif isinstance(change, AddEnum):
                out.append(self._create_enum(change.enum))
            elif isinstance(change, ModifyEnum):
                out += self._modify_enum(change, diff)
            elif isinstance(change, AddSequence) and change.sequence.name in self.implicit_sequences:
                continue  # made by the SERIAL column that draws from it (or renamed with it)
            elif isinstance(change, AddSequence | ModifySequence):
                out.append(self._sequence(change))
        # Foreign keys first out, last in: nothing they reference may be missing at either end.
        for change in modified:
            out += [self._drop_fk(change.name, c.foreign_key) for c in change.changes
                    if isinstance(c, DropForeignKey)]
        out += self._drop_fks_between(dropped)
        existing = {t.name for t in diff.current.tables}
        deferred: list[tuple[str, model.ForeignKey]] = []
        for table in dependency_order(added):
            known = existing | {table.name}
            inline = [fk for fk in table.foreign_keys if fk.ref_table in known]
            deferred += [(table.name, fk) for fk in table.foreign_keys if fk not in inline]
            out += self._create_table(table, inline)
            existing.add(table.name)
        for change in modified:
            out += self._modify_table(change)
        for table_name, fk in deferred:
            out.append(self._add_fk(table_name, fk))
        for change in modified:
            out += [self._add_fk(change.name, c.foreign_key) for c in change.changes
                    if isinstance(c, AddForeignKey)]
        for table in reversed(dependency_order(dropped)):
            out.append(PlannedStatement(f'Drop "{table.name}" table', self.drop_table(table.name)))
        for change in diff.changes:
            if isinstance(change, ChangeRowSecurity):
                verb = "ENABLE" if change.enabled else "DISABLE"
                out.append(PlannedStatement(f'{verb.capitalize()} row level security on "{change.table}"',
                                            f"ALTER TABLE {self.quote_table(change.table)} {verb} ROW LEVEL SECURITY"))
        out += after
        out += self._grants(diff, {(c.name, s.column.name) for c in held.restore for s in c.changes
                                   if isinstance(s, AddColumn)})
        for change in diff.changes:
            if isinstance(change, DropSequence) and not self._goes_with_its_column(change.sequence, diff):
                out.append(PlannedStatement(f'Drop sequence "{change.sequence.name}"',
                                            self.compile(DropSequence_(sa.Sequence(change.sequence.name)))))
            elif isinstance(change, DropExtension):
                out.append(PlannedStatement(f'Drop extension "{change.extension.name}"',
                                            f"DROP EXTENSION {self.quote(change.extension.name)}"))
            elif isinstance(change, DropSchema):
                out.append(PlannedStatement(f'Drop schema "{change.name}"', f"DROP SCHEMA {self.quote(change.name)}"))
            elif isinstance(change, DropEnum):
                out.append(PlannedStatement(f'Drop enum type "{change.enum.name}"',
                                            f"DROP TYPE {self.quote(change.enum.name)}"))
        return out

    def tables_under_dependents(self, diff: SchemaDiff) -> set[str]:
        # PostgreSQL refuses to retype or drop a column a view or a trigger's WHEN uses, or a table one reads.
        return {c.table.name for c in diff.changes if isinstance(c, DropTable)} | {
            c.current.name for c in diff.changes if isinstance(c, ModifyTable) and any(
                isinstance(s, DropColumn) or (isinstance(s, ModifyColumn) and s.current.type != s.desired.type)
                for s in c.changes)}

    def replaceable(self, current: model.View, desired: model.View) -> bool:
        # CREATE OR REPLACE VIEW keeps the columns a view has (names and types, in order) and may add more after.
        return not (current.materialized or desired.materialized) \
            and desired.columns[:len(current.columns)] == current.columns

    def drop_trigger(self, trigger: model.Trigger) -> str:
        return f"DROP TRIGGER {self.quote(trigger.name)} ON {self.quote_table(trigger.table)}"

    def comment_on(self, obj: model.View | model.Trigger | model.Function | model.Policy) -> str:
        if isinstance(obj, model.View):
            what = f"{obj.kind.upper()} {self.quote_table(obj.name)}"
        elif isinstance(obj, model.Function):
            what = f"{obj.kind.upper()} {self.quote_table(obj.name)}({obj.arguments})"
        else:  # a trigger's or policy's name is unique per table
            what = f"{type(obj).__name__.upper()} {self.quote(obj.name)} ON {self.quote_table(obj.table)}"
        return f"COMMENT ON {what} IS {'NULL' if obj.comment is None else self.literal(obj.comment)}"

    def drop_policy(self, policy: model.Policy) -> str:
        return f"DROP POLICY {self.quote(policy.name)} ON {self.quote_table(policy.table)}"

    def function_replaceable(self, current: model.Function, desired: model.Function) -> bool:
        # CREATE OR REPLACE keeps a function's argument types (the key), its result type and its parameters' names
        # and defaults.
        return (current.procedure, current.returns, current.parameters) == \
            (desired.procedure, desired.returns, desired.parameters)

    def drop_function(self, function: model.Function) -> str:
        return f"DROP {function.kind.upper()} {self.quote_table(function.name)}({function.arguments})"

    def _grants(self, diff: SchemaDiff, readded: Collection[tuple[str, str]]) -> list[PlannedStatement]:
        """REVOKE the grants that go or change, then GRANT the new and changed ones, after the tables' changes, and
        again those on the `readded` (table, column)s, whose privileges went with the column."""
        def role(grant: model.TableGrant) -> str:
            return grant.role if grant.role == "PUBLIC" else self.quote(grant.role)

        out = []
        for change in diff.changes:
            if isinstance(change, DropGrant | ModifyGrant):
                grant = change.grant if isinstance(change, DropGrant) else change.current
                out.append(PlannedStatement(f'Revoke {grant.privilege} on "{grant.table}" from {grant.role}',
                                            f"REVOKE {grant.privilege} ON {self.quote_table(grant.table)} "
                                            f"FROM {role(grant)}"))
        granted = [c.grant if isinstance(c, AddGrant) else c.desired for c in diff.changes
                   if isinstance(c, AddGrant | ModifyGrant)]
        granted += [g for g in diff.desired.grants if g not in granted
                    and any((g.table, column) in readded for column in g.columns)]
        for grant in granted:
            columns = f" ({', '.join(self.quote(c) for c in grant.columns)})" if grant.columns else ""
            option = " WITH GRANT OPTION" if grant.grantable else ""
            out.append(PlannedStatement(f'Grant {grant.privilege} on "{grant.table}" to {grant.role}',
                                        f"GRANT {grant.privilege}{columns} ON {self.quote_table(grant.table)} "
                                        f"TO {role(grant)}{option}"))
        return out

    def _extension(self, change: AddExtension | ModifyExtension) -> PlannedStatement:
        """IF NOT EXISTS: a target whose administrator made the extension already (it takes privileges) is fine."""
        if isinstance(change, ModifyExtension):
            schema = self.quote(change.desired.schema) if change.desired.schema else "CURRENT_SCHEMA"
            return PlannedStatement(f'Move extension "{change.desired.name}"',
                                    f"ALTER EXTENSION {self.quote(change.desired.name)} SET SCHEMA {schema}")
        extension = change.extension
        where = f" WITH SCHEMA {self.quote(extension.schema)}" if extension.schema else ""
        return PlannedStatement(f'Add extension "{extension.name}"',
                                f"CREATE EXTENSION IF NOT EXISTS {self.quote(extension.name)}{where}")

    # -- enums -----------------------------------------------------------------------------------

    def _create_enum(self, enum: model.Enum) -> PlannedStatement:
        labels = ", ".join(_literal(v) for v in enum.values)
        return PlannedStatement(f'Create enum type "{enum.name}"',
                                f"CREATE TYPE {self.quote(enum.name)} AS ENUM ({labels})")

    def _modify_enum(self, change: ModifyEnum, diff: SchemaDiff) -> list[PlannedStatement]:
        if not change.only_appends:
            return self._rebuild_enum(change, diff)
        out, values = [], list(change.current.values)
        for pos, value in enumerate(change.desired.values):
            if value in values:
                continue
            # Place each new label next to its desired neighbour so the order comes out right.
            where = f" AFTER {_literal(change.desired.values[pos - 1])}" if pos else (
                f" BEFORE {_literal(values[0])}" if values else "")
            out.append(PlannedStatement(
                f'Add value to enum type: "{change.current.name}"',
                f"ALTER TYPE {self.quote(change.current.name)} ADD VALUE {_literal(value)}{where}",
            ))
            values.insert(pos, value)
            if _used_in(diff.desired, f"'{value}'::{change.desired.name}"):
                # A value added by ALTER TYPE cannot be used before its transaction commits.
                self.directives = ["atlas:txmode none"]
        return out

    def _rebuild_enum(self, change: ModifyEnum, diff: SchemaDiff) -> list[PlannedStatement]:
        """Values removed or reordered: build the new type beside the old one and convert every
        column through text. Rows holding a removed value make the cast fail, so the file's
        transaction rolls back and nothing is lost."""
        name, old_name = change.current.name, f"{change.current.name}_old"
        enum, old = self.quote(name), self.quote(old_name)
        comment = f'Rebuild enum type "{name}"'
        out = [PlannedStatement(comment, f"ALTER TYPE {enum} RENAME TO {old}"),
               self._create_enum(change.desired)]
        renamed = {c.old: c.new for c in diff.changes if isinstance(c, RenameTable)}
        for table in diff.current.tables:
            for column in table.columns:
                if column.type not in (name, f"{name}[]"):
                    continue
                target = renamed.get(table.name, table.name)
                col = self.quote(column.name)
                alter = f"ALTER TABLE {self.quote_table(target)} ALTER COLUMN {col}"
                if column.default is not None:  # a default cannot be cast along with its column
                    out.append(PlannedStatement(comment, f"{alter} DROP DEFAULT"))
                new_type = column.type.replace(name, enum)
                out.append(PlannedStatement(
                    f'Convert column "{column.name}" of table "{target}" to the rebuilt enum "{name}"',
                    f"{alter} TYPE {new_type} USING {col}::text::{new_type}",
                ))
                desired = diff.desired.table(target)
                kept = desired.column(column.name) if desired else None
                if kept is not None and kept.default is not None:
                    out.append(PlannedStatement(comment, f"{alter} SET DEFAULT {kept.default}"))
        out.append(PlannedStatement(comment, f"DROP TYPE {old}"))
        return out

    def _sequence(self, change: AddSequence | ModifySequence) -> PlannedStatement:
        if isinstance(change, AddSequence):
            seq = change.sequence
            data_type, top = _SEQUENCE_TYPES.get(seq.data_type or "bigint", (sa.BigInteger, 2**63 - 1))
            ascending = (seq.increment or 1) > 0
            # Options at PostgreSQL's defaults are left out, as create_all leaves them out.
            return PlannedStatement(f'Create sequence "{seq.name}"', self.compile(CreateSequence(sa.Sequence(
                seq.name, start=seq.start, increment=seq.increment,
                data_type=None if seq.data_type in (None, "bigint") else data_type(),
                minvalue=None if seq.min_value == (1 if ascending else -top - 1) else seq.min_value,
                maxvalue=None if seq.max_value == (top if ascending else -1) else seq.max_value,
                cycle=seq.cycle or None, cache=None if seq.cache in (None, 1) else seq.cache))))
        cur, des = change.current, change.desired
        parts = []
        if des.data_type != cur.data_type and des.data_type:
            parts.append(f"AS {des.data_type}")
        if des.increment != cur.increment:
            parts.append(f"INCREMENT BY {des.increment}")
        for keyword, attr in (("MINVALUE", "min_value"), ("MAXVALUE", "max_value")):
            if getattr(des, attr) != _bound_after_as(cur, des, attr):
                parts.append(f"{keyword} {getattr(des, attr)}")
        if des.start != cur.start:
            parts.append(f"START WITH {des.start}")
        if des.cache != cur.cache:
            parts.append(f"CACHE {des.cache}")
        if des.cycle != cur.cycle:
            parts.append("CYCLE" if des.cycle else "NO CYCLE")
        if des.owned_by != cur.owned_by:
            parts.append(f"OWNED BY {self._owner(des.owned_by)}")
        return PlannedStatement(f'Modify sequence "{cur.name}"',
                                f"ALTER SEQUENCE {self.quote(cur.name)} {' '.join(parts)}")

    def _owner(self, owned_by: str | None) -> str:
        if owned_by is None:
            return "NONE"
        table, _, column = owned_by.rpartition(".")
        return f"{self.quote_table(table)}.{self.quote(column)}"

    def _goes_with_its_column(self, seq: model.Sequence, diff: SchemaDiff) -> bool:
        """Whether a SERIAL's sequence needs no DROP SEQUENCE of its own: its table or column goes (and takes
        it along), the column moves to another implicit sequence (a rename), or it was dropped where its
        column became an identity."""
        if seq.name in self.replaced_serials:
            return True
        if seq.name not in self.implicit_sequences or seq.owner is None:
            return False
        table, column = seq.owner
        renamed = {c.old: c.new for c in diff.changes if isinstance(c, RenameTable)}
        desired = diff.desired.table(renamed.get(table, table))
        kept = desired.column(column) if desired is not None else None
        if kept is None:
            return True
        uses = _NEXTVAL.match(kept.default or "")
        return bool(uses and uses.group(1) != seq.name and uses.group(1) in self.implicit_sequences)

    # -- tables ----------------------------------------------------------------------------------

    def _create_table(self, table: model.Table, fks: list[model.ForeignKey]) -> list[PlannedStatement]:
        out = [PlannedStatement(f'Create "{table.name}" table', self.create_table(table, foreign_keys=fks))]
        out += [PlannedStatement(f'Create index "{i.name}" to table: "{table.name}"',
                                 self.create_index(table, i)) for i in table.indexes]
        if table.comment is not None:
            out += self._comment(table.name, lambda op: op.create_table_comment(table.name, table.comment))
        for column in table.columns:
            if column.comment is not None:
                out += self._comment(table.name, lambda op, c=column: op.alter_column(
                    table.name, c.name, comment=c.comment, existing_type=RawType(c.type)))
        return out

    def _comment(self, table: str, call: Any) -> list[PlannedStatement]:
        return [PlannedStatement(f'Set comment to "{table}" table', sql) for sql in self.alembic(call)]

    def _modify_table(self, change: ModifyTable) -> list[PlannedStatement]:
        name = change.name
        desired = change.desired
        out: list[PlannedStatement] = []

        def emit(comment: str, call: Any) -> None:
            out.extend(PlannedStatement(comment, sql) for sql in self.alembic(call))

        for c in change.changes:
            if isinstance(c, RenameColumn):
                emit(f'Rename column "{c.old}" to "{c.new}" of table: "{name}"',
                     lambda op, r=c: op.alter_column(name, r.old, new_column_name=r.new))
            elif isinstance(c, RenameConstraint):
                out.append(PlannedStatement(
                    f'Rename constraint "{c.old}" to "{c.new}" of table: "{name}"',
                    f"ALTER TABLE {self.quote_table(name)} "
                    f"RENAME CONSTRAINT {self.quote(c.old)} TO {self.quote(c.new)}"))
            elif isinstance(c, RenameIndex):
                out.append(PlannedStatement(
                    f'Rename index "{c.current.name}" to "{c.desired.name}"',
                    f"ALTER INDEX {self._qualify(name, c.current.name)} RENAME TO {self.quote(c.desired.name)}"))
            elif isinstance(c, DropIndex):
                out.append(PlannedStatement(f'Drop index "{c.index.name}" from table: "{name}"',
                                            self.drop_index(desired, c.index, self._concurrently(
                                                self.policy.concurrent_drop))))
            elif isinstance(c, DropUnique | DropCheck):
                obj = c.unique if isinstance(c, DropUnique) else c.check
                kind = "unique" if isinstance(c, DropUnique) else "check"
                emit(f'Drop {kind} constraint "{obj.name}" from table: "{name}"',
                     lambda op, n=obj.name, k=kind: op.drop_constraint(n, name, type_=k))
            elif isinstance(c, ChangePrimaryKey) and c.current is not None:
                emit(f'Drop primary key from table: "{name}"',
                     lambda op, pk=c.current: op.drop_constraint(pk.name, name, type_="primary"))
        for c in change.changes:
            if isinstance(c, AddColumn):
                emit(f'Add column "{c.column.name}" to table: "{name}"',
                     lambda op, col=c.column: op.add_column(name, self.sa_column(col)))
            elif isinstance(c, ModifyColumn):
                out += self._modify_column(name, c)
            elif isinstance(c, DropColumn):
                emit(f'Drop column "{c.column.name}" from table: "{name}"',
                     lambda op, col=c.column: op.drop_column(name, col.name))
        for c in change.changes:
            if isinstance(c, ChangePrimaryKey) and c.desired is not None:
                emit(f'Add primary key to table: "{name}"', lambda op, pk=c.desired: op.create_primary_key(
                    pk.name or f"{name}_pkey", name, list(pk.columns)))
            elif isinstance(c, AddUnique):
                emit(f'Add unique constraint to table: "{name}"',
                     lambda op, u=c.unique: op.create_unique_constraint(u.name, name, list(u.columns),
                                                                        **self.unique_options(u)))
            elif isinstance(c, AddCheck):
                emit(f'Add check constraint to table: "{name}"',
                     lambda op, k=c.check: op.create_check_constraint(k.name, name, sa.text(k.expression)))
            elif isinstance(c, AddIndex):
                out.append(PlannedStatement(f'Create index "{c.index.name}" to table: "{name}"',
                                            self.create_index(desired, c.index, self._concurrently(
                                                self.policy.concurrent_create))))
            elif isinstance(c, ChangeTableComment):
                if c.desired is None:
                    emit(f'Drop comment from "{name}" table', lambda op: op.drop_table_comment(name))
                else:
                    emit(f'Set comment to "{name}" table',
                         lambda op, text=c.desired: op.create_table_comment(name, text))
        return out

    def _concurrently(self, wanted: bool) -> dict[str, bool]:
        """The index keywords of the diff policy's concurrent_index on an existing table. CONCURRENTLY cannot
        run in a transaction block: the file runs without one (``atlas:txmode none``), as Atlas writes it."""
        if not wanted:
            return {}
        self.directives = ["atlas:txmode none"]
        return {"postgresql_concurrently": True}

    def _modify_column(self, table: str, change: ModifyColumn) -> list[PlannedStatement]:
        cur, des = change.current, change.desired
        comment = f'Modify "{cur.name}" column of table: "{table}"'
        if cur.computed != des.computed:
            # A generated column's values come from its expression: replacing the column loses nothing.
            return [PlannedStatement(comment, sql) for sql in
                    self.alembic(lambda op: op.drop_column(table, cur.name))
                    + self.alembic(lambda op: op.add_column(table, self.sa_column(des)))]
        implicit = self._implicit_sequence_rename(cur, des)
        if implicit is not None:
            return [PlannedStatement(comment, implicit)]
        base: dict[str, Any] = {"existing_type": RawType(cur.type), "existing_nullable": cur.nullable}
        calls: list[dict[str, Any] | str] = []
        # ADD / SET / DROP IDENTITY keep the column and its rows. An identity's bounds at its type's limits follow
        # a type change by themselves: not a change of the identity.
        if _identity_key(cur.identity, cur.type) != _identity_key(des.identity, des.type):
            serial = _NEXTVAL.match(cur.default or "")
            if des.identity is not None and cur.default is not None:
                calls.append({"server_default": None, "existing_server_default": sa.text(cur.default)})
                if serial and serial.group(1) in self.implicit_sequences:
                    # SERIAL -> IDENTITY (PostgreSQL's recipe): the old sequence goes before the identity makes
                    # its own under the same name, and the identity continues after the existing values.
                    self.replaced_serials.add(serial.group(1))
                    calls.append(f"DROP SEQUENCE {self._qualify(table, serial.group(1))}")
                cur = replace(cur, default=None)
            calls.append({"server_default": _identity(des.identity, des.type),
                          "existing_server_default": _identity(cur.identity, cur.type)})
            if des.identity is not None and cur.identity is None and (des.identity.increment or 1) > 0:
                calls.append(self._continue_identity(table, des))
            serial = _NEXTVAL.match(des.default or "")
            if cur.identity is not None and serial and serial.group(1) in self.new_sequences:
                # IDENTITY -> SERIAL: DROP IDENTITY took the identity's sequence (and its name) along; the
                # SERIAL's own one is made here, owned by the column, and goes on after the existing values.
                sequence, column = self._qualify(table, serial.group(1)), self.quote(des.name)
                calls += [self._sequence(AddSequence(self.new_sequences[serial.group(1)])).sql,
                          f"ALTER SEQUENCE {sequence} OWNED BY {self.quote_table(table)}.{column}",
                          f"SELECT setval({_literal(sequence)}, MAX({column})) FROM {self.quote_table(table)}"]
        if cur.type != des.type and cur.default is not None and cur.default != des.default:
            # The default changes type with its column ('a'::character varying -> 'a'::mood), and PostgreSQL
            # refuses to cast most defaults along ("cannot be cast automatically"): drop it first, set it after.
            calls.append({"server_default": None, "existing_server_default": sa.text(cur.default)})
            cur = replace(cur, default=None)
        kwargs: dict[str, Any] = {}
        if cur.type != des.type:
            kwargs["type_"] = RawType(des.type)
            kwargs["postgresql_using"] = f"{self.quote(cur.name)}::{des.type}"
        if cur.nullable != des.nullable:
            kwargs["nullable"] = des.nullable
        if cur.default != des.default:
            kwargs["server_default"] = sa.text(des.default) if des.default is not None else None
        if cur.comment != des.comment:
            kwargs["comment"] = des.comment
        if kwargs:
            calls.append(kwargs)
        return [PlannedStatement(comment, sql) for call in calls
                for sql in ([call] if isinstance(call, str) else
                            self.alembic(lambda op, c=call: op.alter_column(table, cur.name, **base, **c)))]

    def _continue_identity(self, table: str, column: model.Column) -> str:
        """An identity added to a column that has values: its next value comes after the largest one at or
        above its start (an empty table, or values below the start, leave it at the start)."""
        assert column.identity is not None
        col = self.quote(column.name)
        start = column.identity.start or 1
        where = f" WHERE {col} >= {start}" if start != 1 else ""
        literal = _literal(self.quote_table(table))
        return f"SELECT setval(pg_get_serial_sequence({literal}, {_literal(column.name)}), MAX({col})) " \
               f"FROM {self.quote_table(table)}{where}"

    def _qualify(self, table: str, name: str) -> str:
        """An index or sequence lives in its table's schema."""
        schema = split_name(table)[0]
        return f"{self.quote(schema)}.{self.quote(name)}" if schema else self.quote(name)

    def _implicit_sequence_rename(self, cur: model.Column, des: model.Column) -> str | None:
        """After a table or column rename, a SERIAL's sequence keeps its old name while the models'
        one is named after the new table/column: rename the sequence instead of re-pointing the default."""
        old, new = _NEXTVAL.match(cur.default or ""), _NEXTVAL.match(des.default or "")
        if not (old and new) or replace(cur, default=des.default) != des:
            return None
        if {old.group(1), new.group(1)} & self.standalone_sequences:
            return None
        return f"ALTER SEQUENCE {self.quote(old.group(1))} RENAME TO {self.quote(new.group(1))}"

    # -- foreign keys ------------------------------------------------------------------------------

    def _add_fk(self, table: str, fk: model.ForeignKey) -> PlannedStatement:
        def call(op: Operations) -> None:
            op.create_foreign_key(fk.name, table, fk.ref_table, list(fk.columns), list(fk.ref_columns),
                                  ondelete=fk.on_delete, onupdate=fk.on_update, deferrable=fk.deferrable or None,
                                  initially=fk.initially)
        return PlannedStatement(f'Add foreign key to table: "{table}"', self.alembic(call)[0])

    def _drop_fk(self, table: str, fk: model.ForeignKey) -> PlannedStatement:
        sql = self.alembic(lambda op: op.drop_constraint(fk.name, table, type_="foreignkey"))[0]
        return PlannedStatement(f'Drop foreign key "{fk.name}" from table: "{table}"', sql)

    def _drop_fks_between(self, dropped: list[model.Table]) -> list[PlannedStatement]:
        """Foreign keys that tie dropped tables into a cycle must go before any of them can."""
        names = {t.name for t in dropped}
        ordered = dependency_order(dropped)
        position = {t.name: i for i, t in enumerate(ordered)}
        return [
            self._drop_fk(t.name, fk)
            for t in dropped
            for fk in t.foreign_keys
            if fk.ref_table in names and fk.ref_table != t.name and position[fk.ref_table] > position[t.name]
        ]


def _used_in(schema: model.Schema, literal: str) -> bool:
    """Whether a default or check of `schema` spells `literal` (e.g. "'new'::mood")."""
    texts = [c.default or "" for t in schema.tables for c in t.columns]
    texts += [k.expression for t in schema.tables for k in t.checks]
    return any(literal in text for text in texts)


def _identity(identity: model.Identity | None, column_type: str) -> sa.Identity | None:
    return sa_identity(identity, column_type) if identity is not None else None


def _identity_key(identity: model.Identity | None, column_type: str) -> tuple[Any, ...] | None:
    ident = _identity(identity, column_type)
    return None if ident is None else (
        ident.always, ident.start, ident.increment, ident.minvalue, ident.maxvalue, ident.cycle, ident.cache)


def _implicit_sequences(schema: model.Schema) -> frozenset[str]:
    """Sequences owned by the column whose default draws from them: what SERIAL makes."""
    found = set()
    for seq in schema.sequences:
        table = schema.table(seq.owner[0]) if seq.owner else None
        column = table.column(seq.owner[1]) if table is not None and seq.owner else None
        uses = _NEXTVAL.match(column.default or "") if column is not None else None
        if uses and uses.group(1) == seq.name:
            found.add(seq.name)
    return frozenset(found)


def _bound_after_as(cur: model.Sequence, des: model.Sequence, attr: str) -> int | None:
    """MINVALUE / MAXVALUE after `ALTER SEQUENCE ... AS`: a bound at the old type's limit moves to the new one's."""
    value = getattr(cur, attr)
    if des.data_type == cur.data_type or cur.data_type not in _SEQUENCE_TYPES or des.data_type not in _SEQUENCE_TYPES:
        return value
    old, new = _SEQUENCE_TYPES[cur.data_type][1], _SEQUENCE_TYPES[des.data_type][1]
    return {old: new, -old - 1: -new - 1}.get(value, value) if value is not None else None


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
