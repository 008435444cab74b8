"""SQLite reflection: indexes are read from the catalog, because SQLAlchemy skips expression
indexes and does not report per-column sort order there."""

from __future__ import annotations

import re

from atlembic.schema.inspect import Reflector
from atlembic.schema.model import Index, IndexPart

_ON_TABLE = re.compile(r"\bON\s+(\"[^\"]+\"|`[^`]+`|\[[^\]]+\]|\S+?)\s*\(", re.IGNORECASE | re.DOTALL)
_SORT_SUFFIX = re.compile(r"\s+(ASC|DESC)\s*$", re.IGNORECASE)


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses and quotes (index key lists, expression lists)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def parse_index_sql(sql: str) -> tuple[list[str], str | None]:
    """Return the key part texts and the WHERE predicate of a CREATE INDEX statement."""
    match = _ON_TABLE.search(sql)
    if match is None:
        return [], None
    start = match.end()
    depth = 1
    i = start
    quote = ""
    while i < len(sql) and depth:
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        i += 1
    keys = split_top_level(sql[start : i - 1])
    rest = sql[i:].strip()
    where = re.sub(r"^WHERE\s+", "", rest, flags=re.IGNORECASE).strip() if rest else None
    return keys, " ".join(where.split()) if where else None


class SqliteReflector(Reflector):
    dialect_name = "sqlite"

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
                    text = _SORT_SUFFIX.sub("", text)
                    if text.startswith("(") and text.endswith(")"):
                        text = text[1:-1]
                    parts.append(IndexPart(expression=" ".join(text.split()), descending=bool(desc)))
                else:
                    parts.append(IndexPart(column=column, descending=bool(desc)))
            unique = sql.lstrip().upper().startswith("CREATE UNIQUE")
            result.setdefault(table, []).append(Index(name, tuple(parts), unique, where))
        return result
