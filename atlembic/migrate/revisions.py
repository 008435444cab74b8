"""Atlas's revisions table (`atlas_schema_revisions`): where applied files are recorded.

Column names, types and meanings follow Atlas (``sql/migrate`` ``Revision``, stored by
``cmd/atlas/internal/migrate/ent/revision``) so the Atlas CLI can take over a database atlembic
migrated, and the other way round.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import URL, Connection

from atlembic import __version__

TABLE = "atlas_schema_revisions"
CLOUD_IDENTIFIER = ".atlas_cloud_identifier"
OPERATOR_VERSION = f"atlembic v{__version__}"

# The error of a row whose statement (`error_stmt`) runs outside any transaction with its record: written before
# it runs, replaced by the progress after. Left behind by a run that died there; the next run decides.
INTERRUPTED = "atlembic: the run stopped while this statement ran; it may or may not have taken effect"

# Revision.type bit flags (sql/migrate/migrate.go).
TYPE_BASELINE, TYPE_EXECUTE, TYPE_RESOLVED = 1, 2, 4

# The table on one engine (the engine, atlembic.engines, names its layout): the column types Ent gives it,
# where it lives (Atlas's default schema; a callable: asked of the target's connection).
RevisionsLayout: TypeAlias = dict[str, Any]
SQLITE_LAYOUT: RevisionsLayout = {
    "schema": None, "string": sa.Text, "int": sa.Integer, "time": sa.String, "json": sa.JSON}


def postgres_bound_schema(url: URL) -> str | None:
    """The one schema a PostgreSQL URL binds its connection to: Atlas's ``search_path=tenant_7`` query parameter
    or libpq's ``options=-csearch_path=tenant_7`` (``-c search_path=...`` too); None for a URL that names no
    search_path, or several schemas."""
    value = url.query.get("search_path")
    if value is None:
        options = url.query.get("options")
        found = re.search(r"(?:^|\s)-c\s*search_path\s*=\s*(\S+)", options if isinstance(options, str) else "")
        value = found[1] if found else None
    if not isinstance(value, str):
        return None
    names = [n.strip().strip('"') for n in value.split(",") if n.strip()]
    return names[0] if len(names) == 1 and names[0] and not names[0].startswith("$") else None


# A schema-bound URL keeps the table in its schema, as Atlas does; any other in the schema atlas_schema_revisions.
POSTGRES_LAYOUT: RevisionsLayout = {
    "schema": lambda conn: postgres_bound_schema(conn.engine.url) or TABLE, "string": sa.String,
    "int": sa.BigInteger, "time": lambda: sa.TIMESTAMP(timezone=True),
    "json": postgresql.JSONB}
# The URL's database, else a database named atlas_schema_revisions; Ent's types and table options.
# executed_at is nullable as Ent makes it on MariaDB: a NOT NULL TIMESTAMP may get ON UPDATE
# CURRENT_TIMESTAMP implicitly (explicit_defaults_for_timestamp off) and change on every write.
MYSQL_LAYOUT: RevisionsLayout = {
    "schema": lambda conn: None if conn.exec_driver_sql("SELECT DATABASE()").scalar() else TABLE,
    "string": lambda: sa.String(255), "int": sa.BigInteger, "time": sa.TIMESTAMP, "json": sa.JSON,
    "uint": lambda: mysql.BIGINT(unsigned=True), "text": mysql.LONGTEXT, "time_nullable": True,
    "table": {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}}


@dataclass
class Revision:
    version: str
    description: str
    type: int = TYPE_EXECUTE
    applied: int = 0
    total: int = 0
    executed_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    execution_time: int = 0  # nanoseconds, as Go's time.Duration
    error: str | None = ""
    error_stmt: str | None = ""
    hash: str = ""
    partial_hashes: list[str] | None = None
    operator_version: str = OPERATOR_VERSION

    @property
    def done(self) -> bool:
        return self.applied == self.total and not self.error


class RevisionStore:
    """Reads and writes revision rows on one connection; `layout`: the engine's (see migrate/driver.py)."""

    def __init__(self, conn: Connection, layout: dict[str, Any]) -> None:
        self.conn = conn
        schema = layout["schema"]
        self.schema: str | None = schema(conn) if callable(schema) else schema
        self._time_as_text = layout["time"] is sa.String
        string, integer = layout["string"], layout["int"]
        uint, text = layout.get("uint", integer), layout.get("text", sa.Text)
        self.table = sa.Table(
            TABLE,
            sa.MetaData(),
            sa.Column("version", string(), primary_key=True),
            sa.Column("description", string(), nullable=False),
            sa.Column("type", uint(), nullable=False, server_default="2"),
            sa.Column("applied", integer(), nullable=False, server_default="0"),
            sa.Column("total", integer(), nullable=False, server_default="0"),
            sa.Column("executed_at", layout["time"](), nullable=layout.get("time_nullable", False)),
            sa.Column("execution_time", integer(), nullable=False),
            sa.Column("error", text(), nullable=True),
            sa.Column("error_stmt", text(), nullable=True),
            sa.Column("hash", string(), nullable=False),
            sa.Column("partial_hashes", layout["json"](), nullable=True),
            sa.Column("operator_version", string(), nullable=False),
            schema=self.schema,
            **layout.get("table", {}),
        )

    def exists(self) -> bool:
        return sa.inspect(self.conn).has_table(TABLE, schema=self.schema)

    def ensure(self) -> None:
        if self.schema is not None:
            self.conn.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
        self.table.create(self.conn, checkfirst=True)

    def read_all(self) -> list[Revision]:
        if not self.exists():
            return []
        t = self.table
        rows = self.conn.execute(sa.select(t).where(t.c.version != CLOUD_IDENTIFIER).order_by(t.c.version))
        return [self._from_row(r._mapping) for r in rows]

    def _from_row(self, row: Any) -> Revision:
        values = dict(row)
        if self._time_as_text and isinstance(values["executed_at"], str):
            values["executed_at"] = dt.datetime.fromisoformat(values["executed_at"])
        return Revision(**values)

    def write(self, rev: Revision, *, new: bool = False) -> None:
        """Upsert: on an existing row keep version, description and executed_at (as Ent does).

        An UPDATE first, an INSERT when it matched no row: one round trip for the rows that `upgrade`
        writes again and again (progress, finish), two for a new one. The upgrade lock keeps anybody
        else from inserting the row in between. `new`: the caller knows there is no such row (it read
        the table under the lock): just INSERT.
        """
        t = self.table
        values = self._to_row(rev)
        if new:
            self.conn.execute(self._insert, values)
            return
        changes = self.changes(rev)
        changes["row_version"] = rev.version
        if self.conn.dialect.supports_sane_rowcount:
            if self.conn.execute(self._update, changes).rowcount > 0:
                return
        elif self.conn.execute(sa.select(t.c.version).where(t.c.version == rev.version)).first():
            self.conn.execute(self._update, changes)
            return
        self.conn.execute(self._insert, values)

    @functools.cached_property
    def _insert(self) -> sa.Insert:
        return self.table.insert()

    @functools.cached_property
    def _update(self) -> sa.Update:
        # Built once (the SET clause comes from each call's parameters): writes happen after every
        # statement of an upgrade, and building the statement cost more than sending it.
        return self.table.update().where(self.table.c.version == sa.bindparam("row_version"))

    def changes(self, rev: Revision) -> dict[str, Any]:
        """The columns `write` sets on an existing row (all but those Ent keeps), by column name."""
        return {k: v for k, v in self._to_row(rev).items() if k not in ("version", "description", "executed_at")}

    def _to_row(self, rev: Revision) -> dict[str, Any]:
        values = {c.name: getattr(rev, c.name) for c in self.table.columns}
        if self._time_as_text:
            values["executed_at"] = rev.executed_at.isoformat(sep=" ")
        return values

    def delete(self, version: str) -> None:
        self.conn.execute(self.table.delete().where(self.table.c.version == version))


def finished(rev: Revision, elapsed_ns: int) -> Revision:
    return replace(rev, execution_time=elapsed_ns, partial_hashes=None, error="", error_stmt="")
