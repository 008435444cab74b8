"""SQLite planning: ALTER TABLE where SQLite can, a row-preserving table rebuild everywhere else.

SQLite's ALTER TABLE adds and renames columns, nothing more. Atlas rebuilds the table for the rest
(create `new_<t>` with the desired definition, copy the rows, drop, rename, recreate indexes), with
foreign-key enforcement off around it; we follow the same sequence so Atlas users read the same SQL.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from atlembic.diff import (
    AddColumn,
    AddIndex,
    AddTable,
    DependentChange,
    DropIndex,
    DropTable,
    ModifyTable,
    RenameColumn,
    RenameIndex,
    RenameTable,
    SchemaDiff,
)
from atlembic.plan.base import PlannedStatement, Planner, dependency_order
from atlembic.schema import model

# Defaults SQLite refuses in ALTER TABLE ADD COLUMN (not constant), per its documentation.
_NON_CONSTANT_DEFAULT = re.compile(r"^\(|^(CURRENT_TIME|CURRENT_DATE|CURRENT_TIMESTAMP)$", re.IGNORECASE)


class SqlitePlanner(Planner):
    dialect_name = "sqlite"

    def plan(self, diff: SchemaDiff) -> list[PlannedStatement]:
        before, after = self.dependents(diff)
        out: list[PlannedStatement] = list(before)
        fk_off = False
        # New tables first, referenced before referencing, so later rebuilds can point at them.
        added = dependency_order([c.table for c in diff.changes if isinstance(c, AddTable)])
        rest = [c for c in diff.changes if not isinstance(c, AddTable | DependentChange)]
        for change in [AddTable(t) for t in added] + rest:
            match change:
                case RenameTable(old, new):
                    out.append(PlannedStatement(
                        f'Rename table "{old}" to "{new}"',
                        f"ALTER TABLE {self.quote(old)} RENAME TO {self.quote(new)}"))
                case AddTable(table):
                    out.append(PlannedStatement(f'Create "{table.name}" table', self.create_table(table)))
                    out += [self._create_index(table, i) for i in table.indexes]
                case DropTable(table):
                    fk_off = True
                    out.append(PlannedStatement(f'Drop "{table.name}" table', self.drop_table(table.name)))
                case ModifyTable() if self._alterable(change):
                    out += self._alter(change)
                case ModifyTable():
                    fk_off = True
                    out += self._renames(change) + self._rebuild(change)
                case _:  # pragma: no cover - enums and sequences do not exist on SQLite
                    raise TypeError(change)
        out += after
        if fk_off:
            out.insert(0, PlannedStatement("Disable the enforcement of foreign-keys constraints",
                                           "PRAGMA foreign_keys = off"))
            out.append(PlannedStatement("Enable back the enforcement of foreign-keys constraints",
                                        "PRAGMA foreign_keys = on"))
        return out

    def tables_under_dependents(self, diff: SchemaDiff) -> set[str]:
        # A rebuild drops its table (taking the table's triggers along) and renames another into its place, and
        # SQLite's RENAME checks every view and trigger: none may read a table that is not there.
        return {c.table.name for c in diff.changes if isinstance(c, DropTable)} | {
            c.current.name for c in diff.changes if isinstance(c, ModifyTable) and not self._alterable(c)}

    def index_expression(self, part: model.IndexPart) -> Any:
        # As create_all writes it, `(lower(email))`: SQLite keeps the statement's text, and an index whose
        # text differs from the models' is the same index spelled another way in sqlite_master.
        return sa.text(part.expression or "")

    @staticmethod
    def _addable(column: model.Column) -> bool:
        if column.computed is not None and column.computed.persisted:
            return False
        if column.default is not None and _NON_CONSTANT_DEFAULT.search(column.default.strip()):
            return False
        return column.nullable or column.default is not None

    def _alterable(self, change: ModifyTable) -> bool:
        return all(
            isinstance(c, AddIndex | DropIndex | RenameIndex | RenameColumn)
            or (isinstance(c, AddColumn) and self._addable(c.column))
            for c in change.changes
        )

    def _renames(self, change: ModifyTable) -> list[PlannedStatement]:
        """Column renames run first and in place, so a rebuild after them copies by the new names."""
        table = self.quote(change.name)
        return [
            PlannedStatement(f'Rename column "{c.old}" to "{c.new}" of table: "{change.name}"',
                             f"ALTER TABLE {table} RENAME COLUMN {self.quote(c.old)} TO {self.quote(c.new)}")
            for c in change.changes if isinstance(c, RenameColumn)
        ]

    def _create_index(self, table: model.Table, index: model.Index) -> PlannedStatement:
        return PlannedStatement(f'Create index "{index.name}" to table: "{table.name}"',
                                self.create_index(table, index))

    def _alter(self, change: ModifyTable) -> list[PlannedStatement]:
        table = change.desired
        out = self._renames(change)
        for c in change.changes:
            # SQLite cannot rename an index: drop it and create it under the new name.
            dropped = c.index if isinstance(c, DropIndex) else c.current if isinstance(c, RenameIndex) else None
            if dropped is not None:
                out.append(PlannedStatement(f'Drop index "{dropped.name}" from table: "{table.name}"',
                                            self.drop_index(table, dropped)))
        for c in change.changes:
            if isinstance(c, AddColumn):
                sql = self.alembic(lambda op, col=c.column: op.add_column(table.name, self.sa_column(col)))
                out.append(PlannedStatement(f'Add column "{c.column.name}" to table: "{table.name}"', sql[0]))
        out += [self._create_index(table, c.index) for c in change.changes if isinstance(c, AddIndex)]
        out += [self._create_index(table, c.desired) for c in change.changes if isinstance(c, RenameIndex)]
        return out

    def _rebuild(self, change: ModifyTable) -> list[PlannedStatement]:
        current, desired = change.current, change.desired
        temp = f"new_{desired.name}"
        out = [PlannedStatement(f'Create "{temp}" table', self.create_table(desired, name=temp))]
        targets, sources = [], []
        for column in desired.columns:
            old = current.column(column.name)
            if old is None or column.computed is not None or old.computed is not None:
                continue  # new and generated columns are filled by the engine, not copied
            name = self.quote(column.name)
            targets.append(name)
            if old.nullable and not column.nullable and column.default is not None:
                sources.append(f"IFNULL({name}, {column.default}) AS {name}")
            else:
                sources.append(name)
        if targets:
            out.append(PlannedStatement(
                f'Copy rows from old table "{current.name}" to new temporary table "{temp}"',
                f"INSERT INTO {self.quote(temp)} ({', '.join(targets)}) "
                f"SELECT {', '.join(sources)} FROM {self.quote(current.name)}",
            ))
        out.append(PlannedStatement(f'Drop "{current.name}" table after copying rows',
                                    self.drop_table(current.name)))
        out.append(PlannedStatement(
            f'Rename temporary table "{temp}" to "{desired.name}"',
            f"ALTER TABLE {self.quote(temp)} RENAME TO {self.quote(desired.name)}",
        ))
        out += [self._create_index(desired, i) for i in desired.indexes]
        return out
