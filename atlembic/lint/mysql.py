"""MySQL / MariaDB: MY101 (a NOT NULL column added without a default silently fills existing rows) and
MY102 (an inline ``REFERENCES`` on a column definition creates no foreign key).

Source: Atlas ``sql/mysql/mysqlcheck/mysqlcheck.go`` (``addNotNull``, ``inlineRefs``): the implicit values
are MySQL's "implicit default" for each type (MySQL manual, "Data Type Default Values"). MY102 is checked
against what the dev database did: MySQL before 9.0 ignores an inline REFERENCES, MariaDB 10.5+ creates the
foreign key, so the finding only appears where the engine dropped it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from atlembic.engines.mysql import MySQL
from atlembic.lint import analyzers
from atlembic.lint.analyzers import Analyzer
from atlembic.lint.model import (
    IDENT,
    QUALIFIED,
    Diagnostic,
    FileContext,
    LintHooks,
    Step,
    ident_eq,
    register_hooks,
    unquote,
)
from atlembic.schema.model import Column

_FAILS = object()  # MySQL refuses the zero value (no implicit default): the ALTER fails on a non-empty table

_ZERO = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "dec", "fixed",
         "float", "double", "real", "bit", "bool", "boolean"}
_TEXT = {"tinytext", "text", "mediumtext", "longtext", "json"}
_BINARY = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}
_SPATIAL = {"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
            "geometrycollection"}


def implicit_value(ctx: FileContext, step: Step, table: str, column: Column) -> object:
    """What MySQL/MariaDB puts in existing rows for a new NOT NULL column without default; None: no report."""
    spec = column.type.strip()
    base = re.match(r"[A-Za-z ]+", spec)
    name = base[0].strip().lower().split(" ")[0] if base else ""
    maria = ctx.mariadb
    if name in _ZERO:
        return "0"
    if name in ("varchar", "char", "set") or name in _BINARY:
        return '""'
    if name in _TEXT:
        return '""' if maria else None  # MySQL: '' too, but Atlas leaves these alone (no ALTER + UPDATE pair)
    if name == "enum":
        label = re.search(r"'((?:[^']|'')*)'", spec)
        return f'"{label[1]}"' if label else None
    if name == "date":
        return '"0000-00-00"' if maria else _FAILS
    if name == "datetime":
        return '"0000-00-00 00:00:00"' if maria else _FAILS
    if name == "time":
        return '"00:00:00"'
    if name == "year":
        return "0000"
    if name == "timestamp":
        if maria:  # MariaDB: the table's first TIMESTAMP column defaults to the current time
            after = step.after.table(table)
            first = next((c for c in after.columns if c.type.lower().startswith("timestamp")), None) if after else None
            if first is not None and first.name == column.name:
                return "CURRENT_TIMESTAMP"
        return '"0000-00-00 00:00:00"'
    if name in _SPATIAL:
        return '""' if maria else _FAILS
    return None


def add_not_null(ctx: FileContext, step: Step, table: str, column: Column) -> Iterator[Diagnostic]:
    value = implicit_value(ctx, step, table, column)
    if value is _FAILS:
        yield from analyzers.add_not_null(ctx, step, table, column)
        return
    if value is None or ctx.filled_after(step, table, column.name):
        return
    text = (f'Adding a non-nullable "{column.type.lower()}" column "{column.name}" on table "{table}" without a '
            f"default value implicitly sets existing rows with {value}")
    rows = ctx.data.has_rows(ctx.start_name(table)) if ctx.data is not None else None
    if rows is False and ctx.data is not None:
        ctx.verified.append(f"{ctx.name}:{step.line}: MY101: checked on {ctx.data.url}: table \"{table}\" is empty")
        return
    if rows and ctx.data is not None:
        text += f' (table "{table}" has rows on {ctx.data.url})'
    yield Diagnostic(step, "MY101", text)



# -- MY102 ------------------------------------------------------------------------------------------------


def split_top(text: str) -> list[str]:
    """Split on commas outside parentheses and quotes."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote in "'\"":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


_NOT_COLUMNS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "KEY", "INDEX", "FOREIGN", "CHECK", "FULLTEXT", "SPATIAL",
                "PERIOD", "COLUMN", "IF"}
_CREATE = re.compile(rf"^\s*CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<t>{QUALIFIED})\s*\(",
                     re.IGNORECASE)
_ALTER = re.compile(rf"^\s*ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\s+(?P<t>{QUALIFIED})\s+(?P<rest>.*)$",
                    re.IGNORECASE | re.DOTALL)
_ADD = re.compile(rf"^\s*ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?P<c>{IDENT})\s+(?P<def>.*)$",
                  re.IGNORECASE | re.DOTALL)
_REFERENCES = re.compile(r"\bREFERENCES\b", re.IGNORECASE)


def inline_references(text: str) -> tuple[str, list[str]] | None:
    """(table as written, columns defined with an inline REFERENCES) of a CREATE / ALTER TABLE."""
    m = _CREATE.match(text)
    if m is not None:
        body = text[m.end():]
        defs = split_top(body[: _closing(body)])
        cols = [unquote(d.split()[0]) for d in defs
                if d.split() and d.split()[0].upper() not in _NOT_COLUMNS and _REFERENCES.search(d)]
        return m["t"], cols
    m = _ALTER.match(text)
    if m is not None:
        cols = []
        for clause in split_top(m["rest"]):
            add = _ADD.match(clause)
            if add and add["c"].upper() not in _NOT_COLUMNS and _REFERENCES.search(add["def"]):
                cols.append(unquote(add["c"]))
        return m["t"], cols
    return None


def _closing(body: str) -> int:
    depth = 1
    for i, ch in enumerate(body):
        depth += (ch == "(") - (ch == ")")
        if depth == 0:
            return i
    return len(body)


class InlineReferences(Analyzer):
    name = "inline_refs"
    codes = {"MY102": "inline REFERENCES ignored"}
    dialects = ("mysql",)

    def run(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for step in ctx.steps:
            for stmt in step.statements:
                found = inline_references(stmt.text)
                if not found or not found[1]:
                    continue
                written, columns = found
                table = next((t for t in step.after.tables if ident_eq(written, t.name)), None)
                for column in columns:
                    if table is not None and any(fk.columns == (column,) for fk in table.foreign_keys):
                        continue  # this engine honoured it (MariaDB 10.5+, MySQL 9+)
                    name = table.name if table is not None else unquote(written)
                    yield Diagnostic(step, "MY102", (
                        f'Defining column "{column}" on table "{name}" with inline REFERENCES is ignored by MySQL: '
                        "no foreign key is created. Declare it as a table constraint: FOREIGN KEY (...) "
                        "REFERENCES ..."))


register_hooks(MySQL, LintHooks(add_not_null=add_not_null))  # MariaDB's too
