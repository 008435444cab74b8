"""What the analyzers look at (a file's statements and the schema changes each one made) and what
they report (diagnostics, turned into findings once nolint directives and configuration are applied)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from atlembic.diff import Change, ModifyColumn, ModifyTable, RenameColumn, RenameTable, TableChange
from atlembic.engines import Engine, find_engine
from atlembic.migrate.lexer import Statement
from atlembic.schema.model import Column, Schema, Table

if TYPE_CHECKING:
    from atlembic.lint.data import TargetData
    from atlembic.migrate.directory import MigrationFile

__all__ = ["Diagnostic", "FileContext", "Finding", "LintHooks", "Step", "hooks_for", "ident_eq", "register_hooks",
           "unquote"]


@dataclass(frozen=True)
class Finding:
    """One reported problem: ``<path>:<line>: <code>: <message>``."""

    path: str  # the file as shown to the user (relative to the working directory when below it)
    line: int
    code: str
    analyzer: str
    message: str
    error: bool = False
    file: str = ""  # the migration file's name

    def as_json(self) -> dict[str, Any]:
        return {"file": self.path, "name": self.file, "line": self.line, "code": self.code,
                "analyzer": self.analyzer, "message": self.message, "error": self.error}


@dataclass(frozen=True)
class Diagnostic:
    """What an analyzer says about a step; ``fails`` marks a failure the target's data confirms."""

    step: Step
    code: str
    message: str
    fails: bool = False


@dataclass(eq=False)
class Step:
    """One statement, or a run of statements recognised as one change (SQLite's table rebuild), and the
    schema changes it made on the dev database (``diff_schemas(before, after)``)."""

    index: int  # position of its first statement in the file
    statements: list[Statement]
    before: Schema
    after: Schema
    changes: tuple[Change, ...] = ()
    # Dialect facts read from the dev database around the statement (PostgreSQL: relfilenodes, whether
    # constraints are validated); empty where the dialect collects none.
    facts_before: dict[str, Any] = field(default_factory=dict)
    facts_after: dict[str, Any] = field(default_factory=dict)

    @property
    def line(self) -> int:
        return self.statements[0].line if self.statements else 0

    @property
    def text(self) -> str:
        return "\n".join(s.text for s in self.statements)

    def directive(self, name: str) -> list[str]:
        return [arg for s in self.statements for arg in s.directive(name)]

    def table_changes(self) -> Iterator[tuple[ModifyTable, TableChange]]:
        for change in self.changes:
            if isinstance(change, ModifyTable):
                for sub in change.changes:
                    yield change, sub


@dataclass(eq=False)
class FileContext:
    """One migration file as the analyzers see it: the schema before it and its steps."""

    name: str
    path: str
    dialect: str  # "sqlite" | "postgresql" | "mysql"
    start: Schema  # the dev database's schema right before the file
    steps: list[Step]
    statements: list[Statement] = field(default_factory=list)
    file: MigrationFile | None = None
    mariadb: bool = False
    data: TargetData | None = None  # the target database, for data-dependent checks (lint --url)
    verified: list[str] = field(default_factory=list)  # data checks the target passed

    def __post_init__(self) -> None:
        # New name -> name at the start of the file, for tables and columns renamed in the file.
        self._table_origin: dict[str, str] = {}
        self._column_origin: dict[tuple[str, str], str] = {}
        for step in self.steps:
            for change in step.changes:
                if isinstance(change, RenameTable):
                    self._table_origin[change.new] = self._table_origin.get(change.old, change.old)
            for mt, sub in step.table_changes():
                if isinstance(sub, RenameColumn):
                    table = self.start_name(mt.name)
                    self._column_origin[(table, sub.new)] = self._column_origin.get((table, sub.old), sub.old)

    # -- spans: did an object exist before this file (Atlas: "not added in this file")? ---------------

    def existed(self, table: str) -> Table | None:
        """The table as it was at the start of the file, or None if the file created it."""
        return self.start.table(self._table_origin.get(table, table))

    def column_existed(self, table: str, column: str) -> Column | None:
        t = self.existed(table)
        return None if t is None else t.column(self._column_origin.get((t.name, column), column))

    def start_name(self, table: str) -> str:
        return self._table_origin.get(table, table)

    def later_steps(self, step: Step) -> list[Step]:
        return self.steps[self.steps.index(step) + 1:]

    # -- back-fills: UPDATE statements of this file that give a column values ------------------------

    def filled_before(self, step: Step, table: str, column: str) -> bool:
        """An ``UPDATE <table> SET <column> = ...`` (no WHERE, or WHERE <column> IS NULL) before the step."""
        return any(_fills(s.text, table, column) for s in self.statements[: step.index])

    def filled_after(self, step: Step, table: str, column: str) -> bool:
        last = step.index + len(step.statements)
        return any(_fills(s.text, table, column) for s in self.statements[last:])


# -- identifiers in statement text --------------------------------------------------------------------

IDENT = r'(?:"(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]|[A-Za-z_][\w$]*)'
QUALIFIED = rf"{IDENT}(?:\s*\.\s*{IDENT})?"


def unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] in '"`[':
        inner = name[1:-1]
        return inner.replace('""', '"') if name[0] == '"' else inner.replace("``", "`")
    return name


def ident_eq(written: str, name: str) -> bool:
    """Does an identifier as written in SQL (maybe quoted, maybe schema-qualified) name `name`?

    Case-insensitive, and a qualified spelling matches a bare model name (the default schema)."""
    parts = [unquote(p).lower() for p in re.findall(IDENT, written)]
    wanted = name.lower().split(".")
    if not parts:
        return False
    return parts[-len(wanted):] == wanted or (len(wanted) == 1 and parts[-1] == wanted[0])


_UPDATE = re.compile(rf"^\s*UPDATE\s+(?:ONLY\s+)?(?P<table>{QUALIFIED})\s+(?:AS\s+{IDENT}\s+)?SET\s+(?P<rest>.*)$",
                     re.IGNORECASE | re.DOTALL)


def _fills(text: str, table: str, column: str) -> bool:
    m = _UPDATE.match(text)
    if m is None or not ident_eq(m["table"], table):
        return False
    assignments, _, where = _split_where(m["rest"])
    assigned = any(ident_eq(target, column) for target in re.findall(rf"(?:^|,)\s*({IDENT})\s*=", assignments))
    if not assigned:
        return False
    if not where:
        return True
    return any(ident_eq(c, column) for c in re.findall(rf"({IDENT})\s+IS\s+NULL", where, re.IGNORECASE))


def _split_where(rest: str) -> tuple[str, str, str]:
    parts = re.split(r"\bWHERE\b", rest, maxsplit=1, flags=re.IGNORECASE)
    return (parts[0], "WHERE", parts[1]) if len(parts) == 2 else (parts[0], "", "")


# -- what one engine adds to the shared analysis ---------------------------------------------------------

# (ctx, step, table, column) -> diagnostics.
AddNotNullHandler = Callable[[FileContext, Step, str, Column], Iterator[Diagnostic]]
ModifyNotNullHandler = Callable[[FileContext, Step, str, ModifyColumn], Iterator[Diagnostic]]


@dataclass(frozen=True)
class LintHooks:
    """One engine's hooks into the shared lint code: its lint module registers them for its engine class
    (`register_hooks`), and the engine's variants inherit them (MariaDB MySQL's). None: nothing to add."""

    # Facts read from the dev database around each schema-changing statement (PostgreSQL: relfilenodes).
    probe: Callable[[Connection], dict[str, Any]] | None = None
    # Whether a statement on one table is certain to change only that table (atlembic.lint.targets).
    local_change: Callable[[Connection, str], bool] | None = None
    # Rewrites of the step list: SQLite's create-copy-drop-rename rebuild becomes one modification.
    rewrite_steps: Callable[[list[Step]], list[Step]] | None = None
    # Instead of the shared handlers of atlembic.lint.analyzers (data_depend).
    add_not_null: AddNotNullHandler | None = None
    modify_not_null: ModifyNotNullHandler | None = None
    # Does a (validated) CHECK (<column> IS NOT NULL) exist before the step? PostgreSQL can tell.
    has_not_null_check: Callable[[Step, str, str], bool] | None = None


_HOOKS: dict[type[Engine], LintHooks] = {}
_NO_HOOKS = LintHooks()


def register_hooks(engine: type[Engine], hooks: LintHooks) -> LintHooks:
    _HOOKS[engine] = hooks
    return hooks


def hooks_for(which: str | Connection) -> LintHooks:
    """The hooks of the engine of a dialect name or a connection (none for an engine without any)."""
    engine = find_engine(which)
    for cls in type(engine).__mro__ if engine is not None else ():
        if cls in _HOOKS:
            return _HOOKS[cls]
    return _NO_HOOKS
