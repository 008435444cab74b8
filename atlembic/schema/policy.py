"""Atlas's diff policy (``diff { skip { ... } concurrent_index { ... } }`` in atlas.hcl): which kinds of change a
plan leaves out, and whether PostgreSQL indexes on existing tables are created and dropped ``CONCURRENTLY``.

A skipped kind is left out by taking the current schema's side of it into the desired schema (a table
``drop_table`` keeps, a column ``modify_column`` keeps as it is), so the planner, the verification of a plan and
the check after an apply all see the one schema the plan is meant to reach."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from atlembic.schema.model import Column, ForeignKey, Index, Schema, Table

__all__ = ["NO_POLICY", "SKIP_KINDS", "DiffPolicy"]

# Atlas's ``skip`` attributes that atlembic honours (Atlas's others, renames and procedures, are refused).
SKIP_KINDS = frozenset(f"{verb}_{kind}" for verb in ("add", "drop", "modify")
                       for kind in ("schema", "table", "column", "index", "foreign_key", "view", "func",
                                    "trigger"))

_T = TypeVar("_T")


@dataclass(frozen=True)
class DiffPolicy:
    skip: frozenset[str] = frozenset()
    concurrent_create: bool = False  # CREATE INDEX CONCURRENTLY on a table that exists (PostgreSQL)
    concurrent_drop: bool = False  # DROP INDEX CONCURRENTLY

    def restrain(self, current: Schema, desired: Schema) -> Schema:
        """`desired` with the changes of the skipped kinds undone: what a plan under this policy reaches."""
        if not self.skip:
            return desired
        skip = self.skip
        tables = tuple(self._table(current.table(t.name), t) for t in desired.tables
                       if "add_table" not in skip or current.table(t.name) is not None)
        # A schema whose drop is skipped keeps its tables (DROP SCHEMA would take them along).
        kept = {s for s in current.schemas if s not in desired.schemas} if "drop_schema" in skip else set()
        tables += tuple(t for t in current.tables if desired.table(t.name) is None
                        and ("drop_table" in skip or t.schema in kept))
        if "add_table" in skip:  # a foreign key to a table left out has nothing to reference
            names = {t.name for t in tables}
            tables = tuple(replace(t, foreign_keys=tuple(f for f in t.foreign_keys if f.ref_table in names))
                           for t in tables)
        return replace(
            desired, tables=tables,
            schemas=self._named(current.schemas, desired.schemas, "schema", lambda s: s),
            views=self._named(current.views, desired.views, "view", lambda v: v.name),
            functions=self._named(current.functions, desired.functions, "func", lambda f: f.key),
            triggers=self._named(current.triggers, desired.triggers, "trigger", lambda t: t.key))

    def _table(self, current: Table | None, desired: Table) -> Table:
        if current is None or current == desired:
            return desired
        if "modify_table" in self.skip:
            return current
        return replace(
            desired,
            columns=self._named(current.columns, desired.columns, "column", _column_name),
            indexes=self._named(current.indexes, desired.indexes, "index", _index_name),
            foreign_keys=self._named(current.foreign_keys, desired.foreign_keys, "foreign_key", _fk_key))

    def _named(self, current: Sequence[_T], desired: Sequence[_T], kind: str, key: Callable[[_T], Hashable]
               ) -> tuple[_T, ...]:
        """`desired`'s objects of one kind with skipped additions left out, skipped drops kept (where they
        were) and skipped modifications as they are now."""
        now = {key(o): o for o in current}
        wanted = {key(o) for o in desired}
        out: list[Any] = []
        for obj in desired:
            was = now.get(key(obj))
            if was is None:
                if f"add_{kind}" not in self.skip:
                    out.append(obj)
            else:
                out.append(was if f"modify_{kind}" in self.skip else obj)
        if f"drop_{kind}" in self.skip:
            out += [o for o in current if key(o) not in wanted]
        return tuple(out)


def _column_name(column: Column) -> str:
    return column.name


def _index_name(index: Index) -> str | None:
    return index.name


def _fk_key(fk: ForeignKey) -> Hashable:
    # Known by what it links (SQLite's are unnamed, and engines name them): a changed ON DELETE is a modification.
    return fk.columns, fk.ref_table, fk.ref_columns


NO_POLICY = DiffPolicy()
