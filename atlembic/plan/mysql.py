"""MySQL / MariaDB planning.

MySQL has no transactional DDL: every statement commits on its own. The plan is therefore shaped so that
each statement is all-or-nothing and a run that stops anywhere can be finished by running the rest
(``apply`` records progress after every statement and resumes at the failed one):

* every change to one table is **one** ``ALTER TABLE`` with comma-separated clauses (as Atlas writes
  it), which InnoDB applies atomically: a failing clause leaves the table as it was;
* foreign keys come off first and go on last, in statements of their own, so every table they point at
  (and every column type they depend on) is in its final shape when they are re-added;
* a foreign key whose backing index is dropped or whose columns change type is dropped and re-added
  around the change (MySQL refuses "Cannot drop index needed in a foreign key constraint" and
  "Cannot change column used in a foreign key constraint" otherwise);
* indexes of a new table are declared inside its ``CREATE TABLE``, so the engine never makes an
  implicit foreign-key index of its own with a different name.

Column definitions are always rendered in full (type, NULL/NOT NULL, default incl. ``ON UPDATE``,
``AUTO_INCREMENT``, comment, generated expression): ``MODIFY`` replaces the whole definition, and
leaving anything out would silently drop it (the pitfall of Alembic's ``alter_column`` on MySQL,
which needs every attribute restated).
"""

from __future__ import annotations

from collections.abc import Iterable

from atlembic.diff import (
    AddCheck,
    AddColumn,
    AddEnum,
    AddForeignKey,
    AddIndex,
    AddSequence,
    AddTable,
    AddUnique,
    ChangePrimaryKey,
    ChangeTableComment,
    DependentChange,
    DropCheck,
    DropColumn,
    DropEnum,
    DropForeignKey,
    DropIndex,
    DropSequence,
    DropTable,
    DropUnique,
    ModifyColumn,
    ModifyEnum,
    ModifySequence,
    ModifyTable,
    RaiseAutoIncrement,
    RenameColumn,
    RenameConstraint,
    RenameIndex,
    RenameTable,
    SchemaDiff,
)
from atlembic.errors import AtlembicError
from atlembic.plan.base import PlannedStatement, Planner, dependency_order
from atlembic.schema import model

# Column types whose values carry a character set (re-declared when the table's default changes).
_CHARACTER_TYPES = ("CHAR", "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT", "ENUM", "SET")
# Table options and how ALTER/CREATE TABLE spell them.
_OPTION_SQL = {"engine": "ENGINE", "charset": "DEFAULT CHARSET", "collate": "COLLATE"}
_DEFAULT_ENGINE = "InnoDB"


class MySQLPlanner(Planner):
    dialect_name = "mysql"

    # -- rendering helpers ----------------------------------------------------------------------------

    def comment_on(self, obj: model.View | model.Trigger | model.Function | model.Policy) -> str:
        if not isinstance(obj, model.Function):  # MySQL's views and triggers have no comments
            return super().comment_on(obj)
        # ALTER keeps the routine (no drop and create); an empty comment is none.
        return f"ALTER {obj.kind.upper()} {self.quote(obj.name)} COMMENT {self.literal(obj.comment or '')}"

    def column_spec(self, column: model.Column) -> str:
        """The full column definition, as ADD COLUMN / MODIFY COLUMN / CREATE TABLE take it."""
        parts = [self.quote(column.name), column.type]
        if column.computed is not None:
            kind = "STORED" if column.computed.persisted else "VIRTUAL"
            parts.append(f"GENERATED ALWAYS AS ({column.computed.expression}) {kind}")
            if not column.nullable:
                parts.append("NOT NULL")
        else:
            # NULL spelled out: a bare TIMESTAMP would be NOT NULL DEFAULT CURRENT_TIMESTAMP on servers
            # with explicit_defaults_for_timestamp off.
            parts.append("NULL" if column.nullable else "NOT NULL")
            if column.default is not None:
                parts.append(f"DEFAULT {column.default}")
            if column.identity is not None:
                parts.append("AUTO_INCREMENT")
        if column.comment is not None:
            parts.append(f"COMMENT {self.literal(column.comment)}")
        return " ".join(parts)

    def _cols(self, names: Iterable[str]) -> str:
        return ", ".join(self.quote(n) for n in names)

    def index_spec(self, index: model.Index) -> str:
        """``[UNIQUE|FULLTEXT|SPATIAL] INDEX name (part, ...) [USING HASH]`` for CREATE/ALTER TABLE."""
        kind = "INDEX"
        using = (index.using or "").upper()
        if using in ("FULLTEXT", "SPATIAL"):
            kind = f"{using} INDEX"
        elif index.unique:
            kind = "UNIQUE INDEX"
        parts = []
        for part in index.parts:
            sql = self.quote(part.column) if part.column is not None else f"({part.expression})"
            if part.length is not None:
                sql += f"({part.length})"
            if part.descending:
                sql += " DESC"
            parts.append(sql)
        suffix = f" USING {using}" if using in ("HASH", "BTREE", "RTREE") else ""
        return f"{kind} {self.quote(index.name)} ({', '.join(parts)}){suffix}"

    def fk_spec(self, fk: model.ForeignKey) -> str:
        ref = f"{self.quote(fk.ref_table)} ({self._cols(fk.ref_columns)})"
        sql = f"FOREIGN KEY ({self._cols(fk.columns)}) REFERENCES {ref}"
        if fk.on_delete:
            sql += f" ON DELETE {fk.on_delete}"
        if fk.on_update:
            sql += f" ON UPDATE {fk.on_update}"
        return f"CONSTRAINT {self.quote(fk.name)} {sql}" if fk.name else sql

    def check_spec(self, check: model.Check) -> str:
        named = f"CONSTRAINT {self.quote(check.name)} " if check.name else ""
        return f"{named}CHECK ({check.expression})"

    def options_spec(self, options: Iterable[tuple[str, str]]) -> list[str]:
        return [f"{_OPTION_SQL[name]}={value}" for name, value in options if name in _OPTION_SQL]

    def create_table(self, table: model.Table, *, foreign_keys: Iterable[model.ForeignKey] = (),
                     **_: object) -> str:
        items = [self.column_spec(c) for c in table.columns]
        if table.primary_key is not None:
            items.append(f"PRIMARY KEY ({self._cols(table.primary_key.columns)})")
        items += [self.index_spec(i) for i in table.indexes]
        items += [self.check_spec(c) for c in table.checks]
        items += [self.fk_spec(fk) for fk in foreign_keys]
        body = ",\n  ".join(items)
        options = self.options_spec(table.options)
        if table.auto_increment is not None:
            options.append(f"AUTO_INCREMENT={table.auto_increment}")
        if table.comment is not None:
            options.append(f"COMMENT={self.literal(table.comment)}")
        tail = f" {' '.join(options)}" if options else ""
        return f"CREATE TABLE {self.quote(table.name)} (\n  {body}\n){tail}"

    def drop_table(self, name: str) -> str:
        return f"DROP TABLE {self.quote(name)}"

    def replaceable(self, current: model.View, desired: model.View) -> bool:
        return True

    def alter(self, table: str, clauses: list[str]) -> str:
        return f"ALTER TABLE {self.quote(table)} " + ", ".join(clauses)

    # -- the plan ------------------------------------------------------------------------------------

    def plan(self, diff: SchemaDiff) -> list[PlannedStatement]:
        out: list[PlannedStatement] = []
        for change in diff.changes:
            if isinstance(change, AddEnum | DropEnum | ModifyEnum | AddSequence | DropSequence | ModifySequence):
                raise AtlembicError(f"{type(change).__name__}: MySQL has no standalone enum types or sequences here")
            if not isinstance(change, AddTable | DropTable | ModifyTable | RenameTable | DependentChange):
                # e.g. named schemas (schema= on models): on MySQL a schema is another database.
                raise AtlembicError(f"MySQL planning does not support {type(change).__name__} yet: {change}")
        added = [c.table for c in diff.changes if isinstance(c, AddTable)]
        modified = [c for c in diff.changes if isinstance(c, ModifyTable)]
        dropped = [c.table for c in diff.changes if isinstance(c, DropTable)]
        # 0. Views and triggers that go (MySQL keeps a view over a changed table: it is replaced at the end).
        before, after = self.dependents(diff)
        out += before

        # 1. Renames: each its own statement, so the ALTERs below see the new names.
        for change in diff.changes:
            if isinstance(change, RenameTable):
                out.append(PlannedStatement(f'Rename table "{change.old}" to "{change.new}"',
                                            f"ALTER TABLE {self.quote(change.old)} RENAME TO {self.quote(change.new)}"))
        for change in modified:
            out += self._renames(change)

        # 2. Foreign keys off: removed and changed ones, those in the way of a change, and those that
        #    tie dropped tables into a cycle.
        readd: dict[str, list[model.ForeignKey]] = {}
        renamed_fks: dict[str, list[model.ForeignKey]] = {}
        for change in modified:
            gone = [c.foreign_key for c in change.changes if isinstance(c, DropForeignKey)]
            # MySQL cannot rename a foreign key: drop it under the old name, add it under the new one.
            for c in change.changes:
                if isinstance(c, RenameConstraint) and c.kind == "foreignkey":
                    gone += [fk for fk in change.current.foreign_keys if fk.name == c.old]
                    renamed_fks.setdefault(change.name, []).extend(
                        fk for fk in change.desired.foreign_keys if fk.name == c.new)
            in_way = [fk for fk in self._fks_in_the_way(change) if fk not in gone]
            readd[change.name] = in_way
            if gone or in_way:
                out.append(self._drop_fks(change.name, [*gone, *in_way]))
        # A column type change on a referenced column: the referencing table's FK must come off too.
        for table_name, fks in self._referencing_fks_in_the_way(diff).items():
            fks = [fk for fk in fks
                   if fk not in readd.get(table_name, []) and not self._fk_dropped(diff, table_name, fk)]
            if fks:
                out.append(self._drop_fks(table_name, fks))
                readd.setdefault(table_name, []).extend(fks)
        for table_name, fks in self._fks_between(dropped).items():
            out.append(self._drop_fks(table_name, fks))

        # 3. New tables, referenced before referencing; FKs to tables not there yet come later.
        existing = {t.name for t in diff.current.tables} - {t.name for t in dropped}
        existing |= {c.new for c in diff.changes if isinstance(c, RenameTable)}
        deferred: list[tuple[str, model.ForeignKey]] = []
        for table in dependency_order(added):
            known = existing | {table.name}
            inline = [fk for fk in table.foreign_keys if fk.ref_table in known]
            deferred += [(table.name, fk) for fk in table.foreign_keys if fk not in inline]
            out.append(PlannedStatement(f'Create "{table.name}" table', self.create_table(table, foreign_keys=inline)))
            existing.add(table.name)

        # 4. One ALTER TABLE per modified table.
        for change in modified:
            clauses = self._table_clauses(change)
            if clauses:
                out.append(PlannedStatement(f'Modify "{change.name}" table', self.alter(change.name, clauses)))

        # 5. Foreign keys on.
        for table_name, fk in deferred:
            out.append(self._add_fks(table_name, [fk]))
        for change in modified:
            fks = [c.foreign_key for c in change.changes if isinstance(c, AddForeignKey)]
            fks += renamed_fks.get(change.name, []) + readd.pop(change.name, [])
            if fks:
                out.append(self._add_fks(change.name, fks))
        for table_name, fks in readd.items():
            if fks:
                out.append(self._add_fks(table_name, fks))

        # 6. Dropped tables, referencing before referenced.
        for table in reversed(dependency_order(dropped)):
            out.append(PlannedStatement(f'Drop "{table.name}" table', self.drop_table(table.name)))
        # 7. Views and triggers created or replaced, after every table they read.
        return out + after

    # -- pieces --------------------------------------------------------------------------------------

    def _renames(self, change: ModifyTable) -> list[PlannedStatement]:
        name, out = change.name, []
        for c in change.changes:
            if isinstance(c, RenameColumn):
                out.append(PlannedStatement(
                    f'Rename column "{c.old}" to "{c.new}" of table: "{name}"',
                    self.alter(name, [f"RENAME COLUMN {self.quote(c.old)} TO {self.quote(c.new)}"])))
            elif isinstance(c, RenameIndex):
                out.append(PlannedStatement(
                    f'Rename index "{c.current.name}" to "{c.desired.name}" of table: "{name}"',
                    self.alter(name, [f"RENAME INDEX {self.quote(c.current.name)} TO {self.quote(c.desired.name)}"])))
        return out

    def _drop_fks(self, table: str, fks: list[model.ForeignKey]) -> PlannedStatement:
        clauses = [f"DROP FOREIGN KEY {self.quote(self._fk_name(table, fk))}" for fk in fks]
        return PlannedStatement(f'Drop foreign keys of table: "{table}"', self.alter(table, clauses))

    def _add_fks(self, table: str, fks: list[model.ForeignKey]) -> PlannedStatement:
        return PlannedStatement(f'Add foreign keys to table: "{table}"',
                                self.alter(table, [f"ADD {self.fk_spec(fk)}" for fk in fks]))

    @staticmethod
    def _fk_name(table: str, fk: model.ForeignKey) -> str:
        if not fk.name:  # pragma: no cover - MySQL names every foreign key
            raise AtlembicError(f'table "{table}": cannot drop an unnamed foreign key {list(fk.columns)}')
        return fk.name

    @staticmethod
    def _fk_dropped(diff: SchemaDiff, table: str, fk: model.ForeignKey) -> bool:
        for change in diff.changes:
            if isinstance(change, ModifyTable) and change.name == table:
                return any(isinstance(c, DropForeignKey) and c.foreign_key == fk for c in change.changes)
            if isinstance(change, DropTable) and change.table.name == table:
                return True
        return False

    def _fks_in_the_way(self, change: ModifyTable) -> list[model.ForeignKey]:
        """Unchanged FKs of this table that lose their backing index or have a column retyped."""
        current = change.current
        dropped_indexes = {c.index.name for c in change.changes if isinstance(c, DropIndex)}
        remaining = [i for i in current.indexes if i.name not in dropped_indexes]
        retyped = {c.current.name for c in change.changes if isinstance(c, ModifyColumn)
                   and c.current.type != c.desired.type}
        pk = current.primary_key
        if any(isinstance(c, ChangePrimaryKey) for c in change.changes):
            pk = None
        out = []
        for fk in current.foreign_keys:
            if any(isinstance(c, DropForeignKey) and c.foreign_key == fk for c in change.changes):
                continue
            backed = any(_prefix_of(fk.columns, i) for i in remaining) or (
                pk is not None and tuple(pk.columns[: len(fk.columns)]) == tuple(fk.columns))
            if not backed or retyped & set(fk.columns):
                out.append(fk)
        return out

    def _referencing_fks_in_the_way(self, diff: SchemaDiff) -> dict[str, list[model.ForeignKey]]:
        """FKs (of any table) pointing at columns whose type changes."""
        retyped = {(change.name, c.current.name) for change in diff.changes if isinstance(change, ModifyTable)
                   for c in change.changes if isinstance(c, ModifyColumn) and c.current.type != c.desired.type}
        out: dict[str, list[model.ForeignKey]] = {}
        if not retyped:
            return out
        for table in diff.current.tables:
            for fk in table.foreign_keys:
                if any((fk.ref_table, col) in retyped for col in fk.ref_columns):
                    out.setdefault(table.name, []).append(fk)
        return out

    @staticmethod
    def _fks_between(dropped: list[model.Table]) -> dict[str, list[model.ForeignKey]]:
        """Foreign keys among dropped tables that would make some DROP TABLE fail whatever the order."""
        names = {t.name for t in dropped}
        ordered = dependency_order(dropped)
        position = {t.name: i for i, t in enumerate(ordered)}
        out: dict[str, list[model.ForeignKey]] = {}
        for t in dropped:
            for fk in t.foreign_keys:
                if fk.ref_table in names and fk.ref_table != t.name and position[fk.ref_table] > position[t.name]:
                    out.setdefault(t.name, []).append(fk)
        return out

    def _table_clauses(self, change: ModifyTable) -> list[str]:
        current, desired = change.current, change.desired
        drops: list[str] = []
        columns: list[str] = []
        adds: list[str] = []
        for c in change.changes:
            if isinstance(c, DropCheck):
                drops.append(f"DROP CONSTRAINT {self.quote(c.check.name or '')}")
            elif isinstance(c, DropIndex):
                drops.append(f"DROP INDEX {self.quote(c.index.name)}")
            elif isinstance(c, DropUnique):  # pragma: no cover - reflected as unique indexes
                drops.append(f"DROP INDEX {self.quote(c.unique.name or '')}")
            elif isinstance(c, ChangePrimaryKey) and c.current is not None:
                drops.append("DROP PRIMARY KEY")
            elif isinstance(c, RenameConstraint):
                if c.kind == "check":
                    drops.append(f"DROP CONSTRAINT {self.quote(c.old)}")
                    check = next(k for k in desired.checks if k.name == c.new)
                    adds.append(f"ADD {self.check_spec(check)}")
                elif c.kind != "foreignkey":  # FK renames are handled as drop + add by the FK phases
                    raise AtlembicError(f'table "{desired.name}": MySQL cannot rename {c.kind} constraint "{c.old}"')
        modified = {c.current.name for c in change.changes if isinstance(c, ModifyColumn)}
        replaced = {c.current.name for c in change.changes if isinstance(c, ModifyColumn) and _storage_changes(c)}
        added = replaced | {c.column.name for c in change.changes if isinstance(c, AddColumn)}
        for c in change.changes:
            if isinstance(c, AddColumn):
                columns.append(self._add_column(desired, c.column, added))
            elif isinstance(c, ModifyColumn) and c.current.name in replaced:
                # MariaDB cannot MODIFY a column into a stored or virtual one (error 1907); a generated
                # column's values come from its expression, so dropping and adding it loses nothing.
                columns.append(f"DROP COLUMN {self.quote(c.current.name)}")
                columns.append(self._add_column(desired, c.desired, added))
            elif isinstance(c, ModifyColumn):
                columns.append(f"MODIFY COLUMN {self.column_spec(c.desired)}")
            elif isinstance(c, DropColumn):
                columns.append(f"DROP COLUMN {self.quote(c.column.name)}")
        option_clauses = self._option_clauses(current, desired)
        if option_clauses:
            # A new table default character set applies to new columns only: re-declare the existing
            # character columns so their data is converted and they follow the new default.
            columns += [f"MODIFY COLUMN {self.column_spec(col)}" for col in desired.columns
                        if col.name not in modified and current.column(col.name) is not None
                        and _is_character(col.type) and any(n in ("charset", "collate") for n, _ in
                                                            set(current.options) ^ set(desired.options))]
        for c in change.changes:
            if isinstance(c, ChangePrimaryKey) and c.desired is not None:
                adds.append(f"ADD PRIMARY KEY ({self._cols(c.desired.columns)})")
            elif isinstance(c, AddIndex):
                adds.append(f"ADD {self.index_spec(c.index)}")
            elif isinstance(c, AddUnique):  # pragma: no cover - reflected as unique indexes
                adds.append(f"ADD CONSTRAINT {self.quote(c.unique.name or '')} UNIQUE ({self._cols(c.unique.columns)})")
            elif isinstance(c, AddCheck):
                adds.append(f"ADD {self.check_spec(c.check)}")
            elif isinstance(c, ChangeTableComment):
                adds.append(f"COMMENT {self.literal(c.desired or '')}")
            elif isinstance(c, RaiseAutoIncrement):
                adds.append(f"AUTO_INCREMENT={c.value}")
        # Options first: a MODIFY without a character set takes the table's (new) default.
        return [*drops, *option_clauses, *columns, *adds]

    def _add_column(self, desired: model.Table, column: model.Column, added: set[str]) -> str:
        """ADD COLUMN, placed where the models have it: nothing when it goes last (after every column the
        table keeps), else `AFTER` its predecessor (or `FIRST`), so the columns come in the models' order, as
        create_all makes them. Columns added earlier in the same ALTER TABLE already exist for `AFTER`."""
        names = list(desired.column_names)
        pos = names.index(column.name)
        where = "" if all(n in added for n in names[pos + 1:]) else \
            f" AFTER {self.quote(names[pos - 1])}" if pos else " FIRST"
        return f"ADD COLUMN {self.column_spec(column)}{where}"

    def _option_clauses(self, current: model.Table, desired: model.Table) -> list[str]:
        if current.options == desired.options:
            return []
        cur, des = dict(current.options), dict(desired.options)
        clauses = []
        for name, sql in _OPTION_SQL.items():
            if cur.get(name) == des.get(name):
                continue
            value = des.get(name)
            if value is None:  # back to the database's default
                value = _DEFAULT_ENGINE if name == "engine" else "DEFAULT"
            clauses.append(f"{sql}={value}")
        return clauses


def _prefix_of(columns: tuple[str, ...], index: model.Index) -> bool:
    """Can ``index`` back a foreign key on ``columns`` (its leading parts are exactly those columns)?"""
    if index.using in ("FULLTEXT", "SPATIAL") or len(index.parts) < len(columns):
        return False
    return all(p.column == col and p.length is None for p, col in zip(index.parts, columns, strict=False))


def _storage_changes(change: ModifyColumn) -> bool:
    """Whether a column becomes generated, or changes between VIRTUAL and STORED (not back to a plain column:
    that one keeps the values it has)."""
    cur, des = change.current.computed, change.desired.computed
    return des is not None and (cur is None or cur.persisted != des.persisted)


def _is_character(type_: str) -> bool:
    head = type_.split("(", 1)[0].split(" ", 1)[0].upper()
    return head in _CHARACTER_TYPES
