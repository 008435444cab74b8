"""The schema after one statement, re-inspecting only the table it changed when that is certain.

Lint inspects the dev database after every schema-changing statement; on a schema of a thousand tables a
full inspection takes about a second, though ``ALTER TABLE t ADD COLUMN`` can only have changed ``t``.
For a whitelist of statement forms whose effect is confined to the one table they name, only that table
is reflected again and put in place of its old version; everything else (DROP, RENAME, CASCADE, DO
blocks, functions, unknown forms) is inspected in full. Correctness over speed: any doubt (a name that
does not resolve to exactly one table, a comment inside the statement, a dialect guard that says no)
means a full inspection.

Besides the named table, the tables with a foreign key to it are reflected again: their reflected key
may depend on it (SQLite fills in the referred columns of ``REFERENCES t`` from t's primary key).

Tables the file itself creates are not inspected statement by statement at all: a run of whitelisted
statements on such tables (a first revision's or a baseline's CREATE TABLE / CREATE INDEX pairs) is
executed, then its tables are reflected together once (`inspect_created`). No analyzer looks inside a table
the file created (it has no rows, no readers, no locks to take), so the run's changes are given to the
first statement of each table; a lint of N such statements costs one inspection, not N.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlembic.engines import inspect_schema, inspect_sequences, inspect_tables
from atlembic.lint.model import IDENT, QUALIFIED, hooks_for, unquote
from atlembic.schema.model import Schema, Table, split_name
from atlembic.schema.sqlite import split_top_level

__all__ = [
    "changed_table", "creates_table", "folded", "inspect_after", "inspect_created", "may_denote", "reinspected",
    "table_names",
]

_LEAD = r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\#[^\n]*(?:\n|$))*"
_FLAGS = re.IGNORECASE | re.DOTALL
_TABLE = rf"(?P<table>{QUALIFIED})"
_CREATE_TABLE = re.compile(
    rf"{_LEAD}CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_TABLE}\s*(?:\(|AS\b|LIKE\b)", _FLAGS)
# Whatever ties the new table to others: inheritance and partitions (their indexes and columns follow).
_CREATE_TABLE_NOT = re.compile(r"\b(?:INHERITS|PARTITION\s+OF)\b", re.IGNORECASE)
_CREATE_INDEX = re.compile(
    rf"{_LEAD}CREATE\s+(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"(?:(?!ON\b){QUALIFIED}\s+)?(?:USING\s+\w+\s+)?ON\s+(?:ONLY\s+)?{_TABLE}\s*(?:\(|USING\b)", _FLAGS)
_ALTER_TABLE = re.compile(
    rf"{_LEAD}ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_TABLE}\s+(?P<actions>.+)$", _FLAGS)
# ALTER TABLE clauses that change only the altered table: ADD of anything but a partition (a column, an
# index, a key or constraint), a column's default or nullability, MySQL's algorithm and lock options.
_LOCAL_ACTION = re.compile(
    rf"^(?:ADD\b(?!\s+PARTITION\b)|ALTER\s+(?:COLUMN\s+)?{IDENT}\s+(?:SET|DROP)\s+(?:DEFAULT|NOT\s+NULL)\b"
    r"|(?:ALGORITHM|LOCK)\s*=)", _FLAGS)


def changed_table(text: str) -> str | None:
    """The table (as written) that a whitelisted statement changes, or None when it may change more."""
    if _CREATE_TABLE.match(text.strip()) is not None:
        return creates_table(text)
    text = text.strip().rstrip(";")
    if (m := _CREATE_INDEX.match(text)) is not None:
        return m["table"]
    if (m := _ALTER_TABLE.match(text)) is not None:
        actions = m["actions"]
        if "--" in actions or "/*" in actions or "#" in actions:
            return None  # a comment could hide a comma or a clause from the split below
        if all(_LOCAL_ACTION.match(action) for action in split_top_level(actions)):
            return m["table"]
    return None


def creates_table(text: str) -> str | None:
    """The table (as written) that a whitelisted CREATE TABLE statement creates, else None."""
    text = text.strip().rstrip(";")
    m = _CREATE_TABLE.match(text)
    return None if m is None or _CREATE_TABLE_NOT.search(text, m.end()) else m["table"]


def table_names(schema: Schema) -> frozenset[str]:
    """The names a statement could denote the tables of `schema` by, folded: `schema.table` and bare."""
    return frozenset(n for t in schema.tables for n in (t.name.lower(), split_name(t.name)[1].lower()))


def folded(written: str) -> str:
    """A table name as a statement writes it, unquoted part by part and lower-cased."""
    return ".".join(unquote(p).lower() for p in re.findall(IDENT, written))


def may_denote(names: frozenset[str], written: str) -> bool:
    """Whether `written` could name a table of those `table_names` gave (ignoring case: a doubt counts as yes)."""
    name = folded(written)
    return name in names or name.rpartition(".")[2] in names


def _resolve(conn: Connection, before: Schema, written: str,
             catalog: Callable[[str | None], list[str]] | None = None) -> str | None:
    """The name (as `Schema` spells it) of the one existing table `written` denotes, or None when unsure.

    Quoted: that exact name. Unquoted: the one table whose name matches ignoring case (engines fold or
    compare unquoted names in their own ways; two candidates are a doubt). `catalog` lists a schema's
    tables (default: ask the Inspector each time)."""
    parts = re.findall(IDENT, written)
    if len(parts) == 2:
        schema: str | None = unquote(parts[0])
        if schema not in before.schemas:
            return None  # a database, an attached file, the default schema spelled out: inspect in full
    elif len(parts) == 1:
        schema = None
    else:
        return None
    raw = parts[-1]
    name = unquote(raw)
    if "." in name:
        return None  # a dotted table name reads like `schema.table` in the model
    existing = catalog(schema) if catalog is not None else sa.inspect(conn).get_table_names(schema=schema)
    if raw[0] in '"`[':
        found = [n for n in existing if n == name]
    else:
        found = [n for n in existing if n.lower() == name.lower()]
    if len(found) != 1:
        return None
    return f"{schema}.{found[0]}" if schema else found[0]


def _referencing(before: Schema, tables: Collection[str]) -> set[str]:
    """Tables with a foreign key to one of `tables` (matched loosely: reflecting one table too many costs
    nothing)."""
    bare = {split_name(table)[1].lower() for table in tables}
    return {t.name for t in before.tables if any(split_name(fk.ref_table)[1].lower() in bare for fk in t.foreign_keys)}


def _order(table: Table) -> tuple[bool, str, str]:
    """Where `inspect_schema` puts a table: the default schema's first, then by schema and name."""
    schema, name = split_name(table.name)
    return schema is not None, schema or "", name


def reinspected(conn: Connection, before: Schema, text: str) -> set[str] | None:
    """The tables to reflect again after statement `text` ran (None: the whole schema). The engine's
    `local_change` hook may say that a change to the table does not stay in it on this connection
    (PostgreSQL: inheritance children, event triggers, a search_path of several schemas)."""
    written = changed_table(text)
    table = _resolve(conn, before, written) if written is not None else None
    guard = hooks_for(conn).local_change
    if table is None or (guard is not None and not guard(conn, table)):
        return None
    return {table} | _referencing(before, {table})


def inspect_after(conn: Connection, before: Schema, text: str) -> tuple[Schema, set[str] | None]:
    """The schema after statement `text` ran, `before` being the schema before it, and the tables that
    were reflected again (None: the whole schema was)."""
    names = reinspected(conn, before, text)
    return (inspect_schema(conn), None) if names is None else _with_tables(conn, before, names)


def inspect_created(
    conn: Connection, before: Schema, written: Collection[str], *, whole: bool = False
) -> tuple[Schema, set[str] | None, dict[str, str]]:
    """The schema after a run of whitelisted statements on tables the file created (`written`, as the
    statements name them), `before` being the schema before the run; the tables reflected again (None: the
    whole schema was, because a name or the dialect guard left a doubt, or the caller needs all of it: `whole`);
    and each written name's table."""
    catalogs: dict[str | None, list[str]] = {}

    def catalog(schema: str | None) -> list[str]:
        if schema not in catalogs:
            catalogs[schema] = sa.inspect(conn).get_table_names(schema=schema)
        return catalogs[schema]

    resolved = {name: _resolve(conn, before, name, catalog) for name in written}
    tables = {t for t in resolved.values() if t is not None}
    named = {w: t for w, t in resolved.items() if t is not None}
    guard = hooks_for(conn).local_change
    # Nothing but the run's own statements ran since they did: one table answers for the connection's
    # settings (event triggers, search_path), and a created table has no inheritance children yet.
    if whole or len(tables) != len(resolved) or not tables or \
            (guard is not None and not guard(conn, next(iter(tables)))):
        return inspect_schema(conn), None, named
    after, reflected = _with_tables(conn, before, tables | _referencing(before, tables))
    return after, reflected, named


def _with_tables(conn: Connection, before: Schema, names: set[str]) -> tuple[Schema, set[str] | None]:
    """`before` with the tables `names` reflected again, and its sequences (one query: a SERIAL column makes
    a sequence beside its table)."""
    found = inspect_tables(conn, names)
    if not names <= found.keys():
        return inspect_schema(conn), None  # a table vanished: not the local change this form promises
    kept = [t for t in before.tables if t.name not in names]
    tables = tuple(sorted([*kept, *found.values()], key=_order))
    return replace(before, tables=tables, sequences=inspect_sequences(conn)), names
