"""SQLite reflection: indexes are read from the catalog, because SQLAlchemy skips expression
indexes and does not report per-column sort order there."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any, ClassVar

from atlembic.schema.model import Column, Index, IndexPart, Schema, Table, Trigger, View
from atlembic.schema.reflector import REVISIONS_TABLE, Reflector
from atlembic.schema.sqltext import split_top_level, unwrap, walk

_ON_TABLE = re.compile(r"\bON\s+(\"[^\"]+\"|`[^`]+`|\[[^\]]+\]|\S+?)\s*\(", re.IGNORECASE | re.DOTALL)
_SORT_SUFFIX = re.compile(r"\s+(ASC|DESC)\s*$", re.IGNORECASE)


def parse_index_sql(sql: str) -> tuple[list[str], str | None]:
    """Return the key part texts and the WHERE predicate of a CREATE INDEX statement."""
    match = _ON_TABLE.search(sql)
    if match is None:
        return [], None
    start = match.end()  # just after the "(" that opens the key list
    close = next((start + i for i, ch, depth in walk(sql[start:]) if ch == ")" and depth < 0), len(sql))
    rest = sql[close + 1 :].strip()
    where = re.sub(r"^WHERE\s+", "", rest, flags=re.IGNORECASE).strip() if rest else None
    return split_top_level(sql[start:close]), " ".join(where.split()) if where else None


_LEADING_NAME = re.compile(r"(\"[^\"]+\"|`[^`]+`|\[[^\]]+\]|\S+)")
_COLLATE = re.compile(r"\bCOLLATE\s+(\"[^\"]+\"|'[^']+'|`[^`]+`|\[[^\]]+\]|\w+)", re.IGNORECASE)


def collations(sql: str) -> dict[str, str]:
    """The COLLATE of each column of a CREATE TABLE statement that names one, by column name."""
    start = sql.find("(")
    close = next((start + 1 + i for i, ch, depth in walk(sql[start + 1:]) if ch == ")" and depth < 0), len(sql))
    out: dict[str, str] = {}
    for item in split_top_level(sql[start + 1 : close]) if start >= 0 else ():
        column = _LEADING_NAME.match(item)
        match = _COLLATE.search(item, column.end()) if column else None
        if column and match:
            out[unwrap_name(column.group(1))] = unwrap_name(match.group(1))
    return out


def unwrap_name(name: str) -> str:
    return name[1:-1] if name[:1] in "\"'`[" else name


def _with_collations(table: Table, sql: str) -> Table:
    """`table` with the COLLATE its statement `sql` gives a column in that column's type. The statement is
    parsed once per table, and not at all when it names no collation (most tables)."""
    if "COLLATE" not in sql.upper():
        return table
    found = collations(sql)
    return replace(table, columns=tuple(_with_collation(c, found) for c in table.columns))


def _with_collation(column: Column, found: dict[str, str]) -> Column:
    collation = found.get(column.name)
    if collation is None or "COLLATE" in column.type.upper():
        return column
    return replace(column, type=f'{column.type} COLLATE "{collation}"')


class SqliteReflector(Reflector):
    dialect_name = "sqlite"
    # SQLite derives every fact reflection reads (columns, keys, indexes, checks) from the schema SQL in
    # sqlite_master, so two databases with the same rows there reflect equal: planning often inspects
    # such a pair (the models, and a directory that created the same tables), and a second reflection of
    # the same catalog is skipped. Bounded: a few recent catalogs.
    _seen: ClassVar[OrderedDict[str, Schema]] = OrderedDict()

    def inspect(self, exclude: Iterable[str] = (REVISIONS_TABLE,)) -> Schema:
        rows = self.conn.exec_driver_sql(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").all()
        key = hashlib.sha256(repr(([tuple(r) for r in rows], sorted(exclude))).encode()).hexdigest()
        schema = self._seen.get(key)
        if schema is None:
            schema = super().inspect(exclude)
            self._seen[key] = schema
            while len(self._seen) > 4:
                self._seen.popitem(last=False)
        return schema

    def tables(self, schema: str | None, skip: set[str], only: Collection[str] | None = None) -> list[Table]:
        # SQLAlchemy's SQLite reflection drops a column's COLLATE (PRAGMA table_xinfo has none): read it from the
        # table's statement, spelled as the models' type compiles (`VARCHAR(10) COLLATE "NOCASE"`).
        tables = super().tables(schema, skip, only)
        rows = self.conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all()
        statements: dict[str, str] = {name: sql for name, sql in rows}
        return [_with_collations(t, statements.get(t.name) or "") for t in tables]

    def views(self, schemas: tuple[str, ...]) -> tuple[View, ...]:
        # SQLite keeps the statement's text and nothing else: that text is the view.
        rows = self.conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name")
        return tuple(View(name, sql) for name, sql in rows)

    def triggers(self, schemas: tuple[str, ...]) -> tuple[Trigger, ...]:
        rows = self.conn.exec_driver_sql(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        return tuple(Trigger(name, table, sql) for name, table, sql in rows)

    def may_have_uniques(self, names: list[str], **where: Any) -> list[str]:
        # A UNIQUE constraint always has an automatic index (sql IS NULL); SQLAlchemy's reflection of them
        # parses every table's SQL, half of all reflection time at 1000 tables: skip tables without one.
        rows = self.conn.exec_driver_sql("SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'index' "
                                         "AND sql IS NULL").all()
        auto = {r[0] for r in rows}
        return [n for n in names if n in auto]

    def indexes(self, names: list[str]) -> dict[str, list[Index]]:
        rows = self.conn.exec_driver_sql(
            "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).all()
        wanted = set(names)
        result: dict[str, list[Index]] = {}
        for table, name, sql in rows:
            if table not in wanted:
                continue
            info = self.conn.exec_driver_sql(f'PRAGMA index_xinfo("{name}")').all()
            key_rows = [r for r in info if r[5]]  # key=1 rows are the index key; the rest is rowid
            key_texts, where = parse_index_sql(sql)
            parts = []
            for pos, row in enumerate(key_rows):
                _seq, cid, column, desc = row[0], row[1], row[2], row[3]
                if cid == -2:  # an expression: SQLite keeps only the statement text
                    text = key_texts[pos] if pos < len(key_texts) else ""
                    text = unwrap(_SORT_SUFFIX.sub("", text))
                    parts.append(IndexPart(expression=" ".join(text.split()), descending=bool(desc)))
                else:
                    parts.append(IndexPart(column=column, descending=bool(desc)))
            unique = sql.lstrip().upper().startswith("CREATE UNIQUE")
            result.setdefault(table, []).append(Index(name, tuple(parts), unique, where))
        return result
