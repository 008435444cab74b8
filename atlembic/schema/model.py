"""The schema model: plain, hashable values describing what a database holds.

Both sides of a diff are built from reflection of the same dev-database engine, so every field holds
the engine's own spelling (type names, default expressions, constraint names) and plain equality is
an exact comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Identity:
    """A SQL-standard identity (PostgreSQL ``GENERATED ... AS IDENTITY``)."""

    always: bool = False
    start: int | None = None
    increment: int | None = None
    # The options of its sequence, as the engine reports them (its defaults included: both sides have them).
    min_value: int | None = None
    max_value: int | None = None
    cycle: bool = False
    cache: int | None = None


@dataclass(frozen=True)
class Computed:
    """A generated column: its expression and whether it is stored."""

    expression: str
    persisted: bool | None = None


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    default: str | None = None
    comment: str | None = None
    identity: Identity | None = None
    computed: Computed | None = None


def _engine_named() -> Any:
    """The ``engine_named`` flag of constraints and indexes. True on the desired side when the models left the name to
    the engine: any name satisfies them, and an existing constraint of the same shape keeps its own
    (diff.adopt_engine_names). Never compared: it does not make two constraints differ."""
    return field(default=False, compare=False, repr=False)


@dataclass(frozen=True)
class PrimaryKey:
    columns: tuple[str, ...]
    name: str | None = None
    engine_named: bool = _engine_named()


@dataclass(frozen=True)
class IndexPart:
    """One key part: a column name or an expression, with its sort order."""

    column: str | None = None
    expression: str | None = None
    descending: bool = False
    length: int | None = None  # MySQL prefix length: KEY (name(10))

    @property
    def sql(self) -> str:
        return self.column if self.column is not None else f"({self.expression})"


@dataclass(frozen=True)
class Index:
    name: str
    parts: tuple[IndexPart, ...]
    unique: bool = False
    where: str | None = None
    using: str | None = None
    include: tuple[str, ...] = ()
    nulls_not_distinct: bool = False  # PostgreSQL 15: NULLs collide in the unique index
    engine_named: bool = _engine_named()  # an index the engine made for a constraint (MySQL)


@dataclass(frozen=True)
class UniqueConstraint:
    columns: tuple[str, ...]
    name: str | None = None
    nulls_not_distinct: bool = False
    engine_named: bool = _engine_named()


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    name: str | None = None
    on_delete: str | None = None
    on_update: str | None = None
    deferrable: bool = False
    initially: str | None = None  # "DEFERRED"; None: IMMEDIATE, the default
    engine_named: bool = _engine_named()


@dataclass(frozen=True)
class Check:
    expression: str
    name: str | None = None
    engine_named: bool = _engine_named()


def split_name(name: str) -> tuple[str | None, str]:
    """`schema.table` -> (schema, table); a plain name -> (None, name)."""
    schema, _, table = name.rpartition(".")
    return schema or None, table


def quote_name(name: str, quote: Callable[[str], str]) -> str:
    """A possibly schema-qualified name, quoted part by part with the dialect's `quote`."""
    schema, bare = split_name(name)
    return f"{quote(schema)}.{quote(bare)}" if schema else quote(bare)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: PrimaryKey | None = None
    indexes: tuple[Index, ...] = ()
    uniques: tuple[UniqueConstraint, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    checks: tuple[Check, ...] = ()
    comment: str | None = None
    # Engine-specific table options as (name, value) pairs, e.g. MySQL's ("engine", "InnoDB").
    options: tuple[tuple[str, str], ...] = ()
    # MySQL's next AUTO_INCREMENT value where it is above 1 (CREATE TABLE ... AUTO_INCREMENT=N, or rows). Not
    # part of what the table is: once it has rows the counter is data, so tables compare equal whatever it
    # is; the diff only raises it to a value the models name, never lowers it (as Atlas does).
    auto_increment: int | None = field(default=None, compare=False)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def schema(self) -> str | None:
        """The named schema of a `schema.table` name; None for the default schema."""
        return split_name(self.name)[0]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class Enum:
    """A PostgreSQL enum type and its labels in declaration order."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Sequence:
    """A sequence: standalone, or the one a SERIAL column made (owned by that column, which draws its
    default from it). An IDENTITY column's sequence is part of its `Identity`."""

    name: str
    start: int | None = None
    increment: int | None = None
    data_type: str | None = None  # "bigint", "integer", "smallint"
    min_value: int | None = None
    max_value: int | None = None
    cycle: bool = False
    cache: int | None = None
    owned_by: str | None = None  # "table.column" whose drop drops the sequence (OWNED BY)

    @property
    def owner(self) -> tuple[str, str] | None:
        """(table, column) of `owned_by`; the table may be schema-qualified."""
        if self.owned_by is None:
            return None
        table, _, column = self.owned_by.rpartition(".")
        return table, column


@dataclass(frozen=True)
class View:
    """A view or a materialized view. `definition` is the statement that creates it as the engine spells it back
    (SQLite: its `sqlite_master` text; PostgreSQL: built around `pg_get_viewdef`; MySQL: `SHOW CREATE VIEW`
    without the DEFINER and the default options), so two views compare equal when the engine made the same of
    them. `columns`: its output columns as (name, type) where the engine says what replacing it may change
    (PostgreSQL: CREATE OR REPLACE VIEW may only add columns at the end); empty elsewhere."""

    name: str
    definition: str
    materialized: bool = False
    columns: tuple[tuple[str, str], ...] = ()
    comment: str | None = None  # COMMENT ON (MATERIALIZED) VIEW (PostgreSQL)

    @property
    def kind(self) -> str:
        """What messages call it: "view" or "materialized view"."""
        return "materialized view" if self.materialized else "view"


@dataclass(frozen=True)
class Trigger:
    """A trigger on a table (or a view): `definition` is its CREATE TRIGGER statement as the engine spells it back
    (SQLite: `sqlite_master`; PostgreSQL: `pg_get_triggerdef`; MySQL: built from information_schema.TRIGGERS)."""

    name: str
    table: str
    definition: str
    comment: str | None = None  # COMMENT ON TRIGGER (PostgreSQL)

    @property
    def key(self) -> str:
        """PostgreSQL's trigger names are unique per table only (many tables have a `set_updated_at`)."""
        return f"{self.name} on {self.table}"


@dataclass(frozen=True)
class Function:
    """A function or procedure (PostgreSQL, MySQL). Overloads share a name: one is identified by its `arguments`,
    the types of its input arguments (PostgreSQL's `oidvectortypes(proargtypes)`; empty on MySQL, which has no
    overloads). `parameters` are its arguments as written (names, modes, defaults: `pg_get_function_arguments`),
    `returns` its result type (None for a procedure), `definition` its CREATE statement as the engine spells it back
    (PostgreSQL: `pg_get_functiondef` without the default schema's name; MySQL: `SHOW CREATE FUNCTION` without the
    DEFINER)."""

    name: str
    arguments: str
    returns: str | None
    definition: str
    procedure: bool = False
    parameters: str = ""
    # COMMENT ON FUNCTION (PostgreSQL); the COMMENT characteristic (MySQL), kept out of `definition` there.
    comment: str | None = None

    @property
    def kind(self) -> str:
        return "procedure" if self.procedure else "function"

    @property
    def key(self) -> str:
        """What tells overloads apart: the name and the argument types."""
        return f"{self.name}({self.arguments})"


@dataclass(frozen=True)
class Policy:
    """A row-level-security policy on a table (PostgreSQL): `definition` is its CREATE POLICY statement built from
    pg_policies (the engine's normalized USING and WITH CHECK expressions, its roles, command and kind)."""

    name: str
    table: str
    definition: str
    comment: str | None = None  # COMMENT ON POLICY

    @property
    def key(self) -> str:
        """Policy names are unique per table."""
        return f"{self.name} on {self.table}"


@dataclass(frozen=True)
class Extension:
    """A PostgreSQL extension and the schema it was created in (None: the default one). Its version is the server's
    business: a dev server and a target may ship different ones. Its own functions, types, tables and views are
    never the project's objects."""

    name: str
    schema: str | None = None


@dataclass(frozen=True)
class TableGrant:
    """A privilege on a table granted to a role (PostgreSQL; alembic_utils' PGGrantTable), from the table's ACL (its
    owner's own privileges left out): on the whole table (`columns` empty) or on some of its columns (SELECT,
    INSERT, UPDATE, REFERENCES). The role is the server's: it must exist there (and on the dev server)."""

    table: str
    role: str  # "PUBLIC" for everyone
    privilege: str  # "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"
    columns: tuple[str, ...] = ()
    grantable: bool = False  # WITH GRANT OPTION

    @property
    def key(self) -> str:
        return f"{self.privilege} on {self.table} to {self.role}"


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...] = ()
    enums: tuple[Enum, ...] = field(default=())
    sequences: tuple[Sequence, ...] = ()
    schemas: tuple[str, ...] = ()  # named schemas besides the default one (PostgreSQL)
    views: tuple[View, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    functions: tuple[Function, ...] = ()
    extensions: tuple[Extension, ...] = ()
    policies: tuple[Policy, ...] = ()
    row_security: tuple[str, ...] = ()  # the tables with ENABLE ROW LEVEL SECURITY (PostgreSQL)
    grants: tuple[TableGrant, ...] = ()

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def enum(self, name: str) -> Enum | None:
        return next((e for e in self.enums if e.name == name), None)

    def view(self, name: str) -> View | None:
        return next((v for v in self.views if v.name == name), None)

    def function(self, key: str) -> Function | None:
        return next((f for f in self.functions if f.key == key), None)

    @property
    def is_empty(self) -> bool:
        return not (self.tables or self.enums or self.sequences or self.schemas or self.views or self.triggers
                    or self.functions or self.extensions or self.policies or self.row_security or self.grants)
