"""Read-only questions to the target database behind the data-dependent checks (``lint --url``).

Without a target, a data-dependent change "might fail"; with one, we look: are there rows, NULLs,
duplicates? Each question is a single SELECT that stops at the first matching row. Any answer we cannot
get (the table or column is not on the target yet, no privilege) is ``None``: "cannot tell".
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from atlembic.engines import find_engine
from atlembic.schema.model import quote_name

__all__ = ["TargetData", "make_read_only"]


def make_read_only(conn: Connection) -> None:
    """Belt and braces for a connection lint opened itself: the session refuses writes."""
    engine = find_engine(conn)
    statement = engine.read_only_statement if engine is not None else None
    if statement is not None:
        conn.exec_driver_sql(statement)


class TargetData:
    def __init__(self, conn: Connection, url: str) -> None:
        self.conn = conn
        self.url = url  # as shown (password masked)
        self._cache: dict[tuple[object, ...], bool | None] = {}

    def _quote_table(self, table: str) -> str:
        return quote_name(table, self.conn.dialect.identifier_preparer.quote)

    def _quote(self, column: str) -> str:
        return self.conn.dialect.identifier_preparer.quote(column)

    def _exists(self, key: tuple[object, ...], sql: str) -> bool | None:
        if key not in self._cache:
            try:
                self._cache[key] = self.conn.exec_driver_sql(sql).first() is not None
            except Exception:  # not on the target (yet), or not readable: cannot tell
                self._cache[key] = None
        return self._cache[key]

    def has_rows(self, table: str) -> bool | None:
        return self._exists(("rows", table), f"SELECT 1 FROM {self._quote_table(table)} LIMIT 1")

    def has_nulls(self, table: str, column: str) -> bool | None:
        return self._exists(("nulls", table, column),
                            f"SELECT 1 FROM {self._quote_table(table)} WHERE {self._quote(column)} IS NULL LIMIT 1")

    def has_duplicates(self, table: str, columns: Sequence[str], where: str | None = None) -> bool | None:
        """Two rows with the same non-NULL values in `columns` (NULLs never collide in a unique index), among
        the rows `where` selects (a partial index's predicate, as the engine spells it)."""
        cols = ", ".join(self._quote(c) for c in columns)
        conditions = [f"{self._quote(c)} IS NOT NULL" for c in columns] + ([f"({where})"] if where else [])
        sql = (f"SELECT 1 FROM {self._quote_table(table)} WHERE {' AND '.join(conditions)} GROUP BY {cols} "
               "HAVING COUNT(*) > 1 LIMIT 1")
        return self._exists(("dups", table, *columns, where), sql)
