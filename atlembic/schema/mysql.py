"""MySQL / MariaDB reflection.

What differs from the shared Inspector path:

* indexes come from ``information_schema.STATISTICS``: SQLAlchemy reports neither DESC parts nor MySQL
  8 functional parts there, and we need prefix lengths and FULLTEXT/SPATIAL (as ``Index.using``);
* unique constraints *are* unique indexes on MySQL, so they are reported once, as ``Index(unique=True)``
  (``Table.uniques`` stays empty). The index MySQL creates implicitly for a foreign key is an ordinary
  index here: both sides of a diff are made by the same engine, so it matches unless the key changes;
* ``AUTO_INCREMENT`` is the column's ``identity`` (``Identity()``), so adding or dropping it is a column
  change like PostgreSQL's identity;
* table options ``engine``, ``charset`` and ``collate`` go to ``Table.options`` when they differ from the
  database's defaults (so plans do not pin the dev server's defaults on the target); column charsets and
  collations that differ from the table's are part of the column type (``VARCHAR(10) CHARACTER SET
  latin1 COLLATE latin1_bin``), as SQLAlchemy reflects them; ``ON UPDATE CURRENT_TIMESTAMP`` is part of
  the default, as SQLAlchemy reflects it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from atlembic.errors import AtlembicError
from atlembic.schema.model import (
    Column,
    Function,
    Identity,
    Index,
    IndexPart,
    Table,
    Trigger,
    UniqueConstraint,
    View,
)
from atlembic.schema.reflector import Reflector

_TABLES_SQL = """
SELECT t.TABLE_NAME, t.ENGINE, t.TABLE_COLLATION, c.CHARACTER_SET_NAME, t.TABLE_COMMENT, t.AUTO_INCREMENT
FROM information_schema.TABLES t
LEFT JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY c ON c.COLLATION_NAME = t.TABLE_COLLATION
WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
"""

_DEFAULTS_SQL = """
SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME, @@default_storage_engine
FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()
"""

_DEFAULT_INDEX_TYPE = "BTREE"
# What SHOW CREATE VIEW adds before VIEW to a plain CREATE VIEW: the creating account and the default options.
_VIEW_DEFAULTS = re.compile(r"ALGORITHM=UNDEFINED |DEFINER=\S+ |SQL SECURITY DEFINER ")
# The creating account SHOW CREATE FUNCTION / PROCEDURE names: the dev server's.
_ROUTINE_DEFINER = re.compile(r"^CREATE\s+DEFINER=\S+\s+", re.IGNORECASE)
# The COMMENT characteristic as SHOW CREATE prints it, on a line of its own before the body (as written: '' or \').
_ROUTINE_COMMENT = re.compile(r"\n[ \t]*COMMENT\s+'(?:[^'\\]|''|\\.)*'")
_ON_UPDATE = re.compile(r"on update (.+)$", re.IGNORECASE)


class MySQLReflector(Reflector):
    dialect_name = "mysql"

    def unmanaged_objects(self) -> list[str]:
        events = self.conn.exec_driver_sql("SELECT EVENT_NAME FROM information_schema.EVENTS "
                                           "WHERE EVENT_SCHEMA = DATABASE() ORDER BY 1")
        return [f'event "{r[0]}"' for r in events]

    def functions(self, schemas: tuple[str, ...]) -> tuple[Function, ...]:
        # MySQL has no overloads: a routine is its name. SHOW CREATE leaves the database's name out.
        rows = self.conn.exec_driver_sql(
            "SELECT ROUTINE_NAME, ROUTINE_TYPE, DTD_IDENTIFIER, ROUTINE_COMMENT FROM information_schema.ROUTINES "
            "WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY 1, 2").all()
        quote = self.conn.dialect.identifier_preparer.quote
        out = []
        for name, kind, returns, comment in rows:
            created = self.conn.exec_driver_sql(f"SHOW CREATE {kind} {quote(name)}").first()
            definition = created[2] if created is not None else None
            if definition is None:  # hidden from an account without the privilege to see it
                raise AtlembicError(f'cannot read the definition of {kind.lower()} "{name}": the account may not')
            procedure = kind.upper() == "PROCEDURE"
            definition = _ROUTINE_DEFINER.sub("CREATE ", definition, count=1)
            if comment:  # modelled apart: a changed comment is ALTER FUNCTION ... COMMENT, not a new routine
                definition = _ROUTINE_COMMENT.sub("", definition, count=1)
            out.append(Function(name, "", None if procedure else returns, definition.strip(), procedure,
                                comment=comment or None))
        return tuple(out)

    def views(self, schemas: tuple[str, ...]) -> tuple[View, ...]:
        names = self.conn.exec_driver_sql("SELECT TABLE_NAME FROM information_schema.VIEWS "
                                          "WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1").scalars().all()
        quote = self.conn.dialect.identifier_preparer.quote
        out = []
        for name in names:
            # SHOW CREATE VIEW leaves out the current database's name (information_schema.VIEWS spells it everywhere);
            # the DEFINER is the dev server's account, and the defaults are what a plain CREATE VIEW gives anyway.
            created = self.conn.exec_driver_sql(f"SHOW CREATE VIEW {quote(name)}").first()
            assert created is not None
            head, _, rest = created[1].partition(" VIEW ")
            out.append(View(name, f"{_VIEW_DEFAULTS.sub('', head + ' ')}VIEW {rest}"))
        return tuple(out)

    def triggers(self, schemas: tuple[str, ...]) -> tuple[Trigger, ...]:
        # In the order the server fires them (ACTION_ORDER), so creating them in this order keeps it.
        rows = self.conn.exec_driver_sql(
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT "
            "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
            "ORDER BY EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER").all()
        quote = self.conn.dialect.identifier_preparer.quote
        return tuple(Trigger(name, table, f"CREATE TRIGGER {quote(name)} {timing} {event} ON {quote(table)} "
                                          f"FOR EACH ROW {statement}")
                     for name, table, timing, event, statement in rows)

    def tables(self, schema: str | None, skip: set[str], only: Collection[str] | None = None) -> list[Table]:
        self._table_info = self._read_tables()
        tables = super().tables(schema, skip, only)
        on_update = self._on_update([t.name for t in tables])
        return [
            replace(t, uniques=(), options=self._options(t.name), auto_increment=self._counter(t.name),
                    columns=tuple(_with_on_update(c, on_update.get((t.name, c.name))) for c in t.columns))
            for t in tables
        ]

    def _on_update(self, names: list[str]) -> dict[tuple[str, str], str]:
        """``ON UPDATE`` clauses from the catalog: SQLAlchemy loses them when the default is NULL."""
        if not names:
            return {}
        rows = self.conn.execute(sa.text(
            "SELECT TABLE_NAME, COLUMN_NAME, EXTRA FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names AND LOWER(EXTRA) LIKE '%on update %'"
        ).bindparams(_names()), {"names": names}).all()
        out = {}
        for table, column, extra in rows:
            match = _ON_UPDATE.search(extra)
            if match:
                out[(table, column)] = match.group(1)
        return out

    def _read_tables(self) -> dict[str, tuple[Any, ...]]:
        row = self.conn.execute(sa.text(_DEFAULTS_SQL)).first()
        self._defaults = {"charset": row[0], "collate": row[1], "engine": row[2]} if row else {}
        return {row[0]: tuple(row[1:]) for row in self.conn.execute(sa.text(_TABLES_SQL)).all()}

    def _options(self, table: str) -> tuple[tuple[str, str], ...]:
        """Only what differs from the database's defaults: a table that follows them keeps following
        them on the target (CREATE TABLE without options), whatever that server's defaults are."""
        engine, collation, charset = self._table_info.get(table, (None,) * 5)[:3]
        found = (("charset", charset), ("collate", collation), ("engine", engine))
        return tuple(
            (name, value) for name, value in found
            if value and str(value).lower() != str(self._defaults.get(name) or "").lower()
        )

    def _counter(self, table: str) -> int | None:
        value = self._table_info.get(table, (None,) * 5)[4]
        return int(value) if value is not None and int(value) > 1 else None

    def table_comments(self, names: list[str]) -> dict[str, str | None]:
        return {name: (self._table_info.get(name, (None,) * 5)[3] or None) for name in names}

    def column(self, info: dict[str, Any]) -> Column:
        column = super().column(info)
        if info.get("autoincrement") is True:
            column = replace(column, identity=Identity())
        return column

    def unique(self, info: dict[str, Any]) -> UniqueConstraint:
        return UniqueConstraint(tuple(info["column_names"]), info.get("name"))

    def indexes(self, names: list[str]) -> dict[str, list[Index]]:
        if not names:
            return {}
        rows = self.conn.execute(
            sa.text(
                "SELECT * FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
                "AND TABLE_NAME IN :names ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
            ).bindparams(_names()), {"names": names}
        ).mappings().all()
        grouped: dict[tuple[str, str], list[Any]] = {}
        for row in rows:
            if row["INDEX_NAME"] != "PRIMARY":
                grouped.setdefault((row["TABLE_NAME"], row["INDEX_NAME"]), []).append(row)
        result: dict[str, list[Index]] = {}
        for (table, name), parts in grouped.items():
            first = parts[0]
            index_type = (first["INDEX_TYPE"] or _DEFAULT_INDEX_TYPE).upper()
            result.setdefault(table, []).append(
                Index(
                    name=name,
                    parts=tuple(_part(p) for p in parts),
                    unique=not int(first["NON_UNIQUE"]),
                    using=None if index_type == _DEFAULT_INDEX_TYPE else index_type,
                )
            )
        return result


def _names() -> sa.BindParameter[Any]:
    return sa.bindparam("names", expanding=True)


def _with_on_update(column: Column, on_update: str | None) -> Column:
    if on_update is None or "ON UPDATE" in (column.default or "").upper():
        return column
    return replace(column, default=f"{column.default or 'NULL'} ON UPDATE {on_update}")


def _part(row: Any) -> IndexPart:
    expression = row.get("EXPRESSION")  # MySQL 8.0.13+ functional key parts; MariaDB has no such column
    sub_part = row["SUB_PART"]
    return IndexPart(
        column=row["COLUMN_NAME"] if row["COLUMN_NAME"] is not None else None,
        expression=expression if row["COLUMN_NAME"] is None else None,
        descending=row["COLLATION"] == "D",
        length=int(sub_part) if sub_part is not None else None,
    )
