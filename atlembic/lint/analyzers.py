"""The analyzers every dialect runs, after Atlas's OSS analyzers (Atlas's
``sql/sqlcheck/{destructive,datadepend,condrop,incompatible}``): names, codes and message wording
follow Atlas so that ``atlas:nolint`` directives and CI filters written for Atlas keep working.

An analyzer is a small class registered under its name; it looks at a :class:`FileContext` (the
schema before the file and, per statement, the typed changes the statement made on the dev
database) and yields diagnostics. Dialect modules add their own analyzers and the dialect-specific
parts of ``data_depend`` (MY101 on MySQL, LT101 on SQLite).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import ClassVar

from atlembic.diff import (
    AddColumn,
    AddForeignKey,
    AddFunction,
    AddGrant,
    AddIndex,
    AddPolicy,
    AddTable,
    AddTrigger,
    AddUnique,
    AddView,
    DropColumn,
    DropExtension,
    DropForeignKey,
    DropFunction,
    DropGrant,
    DropPolicy,
    DropSchema,
    DropTable,
    DropTrigger,
    DropView,
    ModifyColumn,
    ModifyTable,
    RenameColumn,
    RenameTable,
)
from atlembic.errors import plural
from atlembic.lint.model import Diagnostic, FileContext, Step, hooks_for, ident_eq
from atlembic.schema.model import Column, ForeignKey, Index, Table, UniqueConstraint

__all__ = ["ANALYZERS", "Analyzer", "analyzers_for", "code_owner"]

ANALYZERS: dict[str, type[Analyzer]] = {}


class Analyzer:
    name: ClassVar[str]
    codes: ClassVar[dict[str, str]]  # code -> what it reports
    dialects: ClassVar[tuple[str, ...]] = ()  # () = every dialect
    error_by_default: ClassVar[bool] = False

    def __init_subclass__(cls, **kw: object) -> None:
        super().__init_subclass__(**kw)
        ANALYZERS[cls.name] = cls

    def run(self, ctx: FileContext) -> Iterator[Diagnostic]:
        raise NotImplementedError


def analyzers_for(dialect: str) -> list[Analyzer]:
    return [cls() for cls in ANALYZERS.values() if not cls.dialects or dialect in cls.dialects]


def code_owner(code: str) -> str | None:
    """The analyzer that reports `code` (MY101 belongs to data_depend, as in Atlas)."""
    return next((name for name, cls in ANALYZERS.items() if code in cls.codes), None)


def _quoted(names: list[str]) -> str:
    quoted = [f'"{n}"' for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


# -- destructive (DS101-DS103): errors by default ------------------------------------------------------


class Destructive(Analyzer):
    """Source: Atlas ``sql/sqlcheck/destructive/destructive.go``."""

    name = "destructive"
    # DS104-DS109 are atlembic's (Atlas's OSS analyzers do not manage views, functions, triggers, extensions,
    # policies or grants). A revoke loses no rows but, like a dropped policy, takes access away from a running
    # application's role, often a grant made by hand that the models never declared: refused like a drop.
    codes = {"DS101": "schema dropped", "DS102": "table dropped", "DS103": "non-virtual column dropped",
             "DS104": "view dropped", "DS105": "function or procedure dropped", "DS106": "trigger dropped",
             "DS107": "extension dropped", "DS108": "policy dropped",
             "DS109": "grant revoked"}
    error_by_default = True

    def run(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for step in ctx.steps:
            dropped_schemas = {c.name for c in step.changes if isinstance(c, DropSchema)}
            for change in step.changes:
                if isinstance(change, DropSchema) and change.name in ctx.start.schemas:
                    n = sum(1 for t in step.before.tables if t.schema == change.name)
                    text = (f'Dropping schema "{change.name}"' if n == 0 else
                            f'Dropping non-empty schema "{change.name}" with {plural(n, "table")}')
                    yield Diagnostic(step, "DS101", text)
                elif isinstance(change, DropTable):
                    table = change.table
                    # Tables of a dropped schema are reported with it; tables made in this file are temporary.
                    if table.schema in dropped_schemas or ctx.existed(table.name) is None:
                        continue
                    yield Diagnostic(step, "DS102", f'Dropping table "{table.name}"')
                elif isinstance(change, ModifyTable):
                    names = [
                        sub.column.name for sub in change.changes
                        if isinstance(sub, DropColumn) and not _virtual(sub.column)
                        and ctx.column_existed(change.name, sub.column.name) is not None
                    ]
                    if names:
                        suffix = "s" if len(names) > 1 else ""
                        yield Diagnostic(step, "DS103", f"Dropping non-virtual column{suffix} {_quoted(names)}")
                elif isinstance(change, DropView) and ctx.start.view(change.view.name) is not None \
                        and not _made_again(ctx, step, AddView, change.view.name):
                    yield Diagnostic(step, "DS104", f'Dropping {change.view.kind} "{change.view.name}"')
                elif isinstance(change, DropFunction) and ctx.start.function(change.function.key) is not None \
                        and not _made_again(ctx, step, AddFunction, change.function.key):
                    yield Diagnostic(step, "DS105", f'Dropping {change.function.kind} "{change.function.key}"')
                elif isinstance(change, DropTrigger) and change.trigger in ctx.start.triggers \
                        and not _made_again(ctx, step, AddTrigger, change.trigger.key) \
                        and step.after.table(change.trigger.table) is not None:  # not with its table
                    yield Diagnostic(step, "DS106", f'Dropping trigger "{change.trigger.name}"')
                elif isinstance(change, DropPolicy) and change.policy in ctx.start.policies \
                        and not _made_again(ctx, step, AddPolicy, change.policy.key) \
                        and step.after.table(change.policy.table) is not None:  # not with its table
                    policy = change.policy
                    yield Diagnostic(step, "DS108", f'Dropping policy "{policy.name}" on "{policy.table}"')
                elif isinstance(change, DropExtension) and change.extension in ctx.start.extensions:
                    yield Diagnostic(step, "DS107", f'Dropping extension "{change.extension.name}"')
                elif isinstance(change, DropGrant) and change.grant in ctx.start.grants \
                        and not _made_again(ctx, step, AddGrant, change.grant.key) \
                        and step.after.table(change.grant.table) is not None:  # not with its table
                    grant = change.grant
                    yield Diagnostic(step, "DS109", f'Revoking {grant.privilege} on "{grant.table}" from {grant.role}')


_Remade = AddView | AddFunction | AddTrigger | AddPolicy | AddGrant


def _made_again(ctx: FileContext, step: Step, add: type[_Remade], name: str) -> bool:
    """Whether a later statement of the file creates the view (function, trigger) again: a dependent dropped around
    a change of what it reads (a column type, a SQLite rebuild, a function's result type) and re-created is no
    drop, nor a grant revoked and granted again on other columns."""
    return any(isinstance(c, add) and _key(c) == name for later in ctx.later_steps(step) for c in later.changes)


def _key(change: _Remade) -> str:
    if isinstance(change, AddView):
        return change.view.name
    return (change.function if isinstance(change, AddFunction) else change.trigger if isinstance(change, AddTrigger)
            else change.grant if isinstance(change, AddGrant) else change.policy).key


def _virtual(column: Column) -> bool:
    """A generated column holds no data of its own, VIRTUAL or STORED: its values come from its expression
    over the others, so dropping it loses nothing."""
    return column.computed is not None


# -- data_depend (MF101-MF104, MY101, LT101) ---------------------------------------------------------


class DataDependent(Analyzer):
    """Changes that may fail depending on the data. Source: Atlas ``sql/sqlcheck/datadepend/datadepend.go``,
    with the dialect handlers of ``sql/{mysql,sqlite,postgres}/*check``."""

    name = "data_depend"
    codes = {
        "MF101": "unique index added on existing columns", "MF102": "index made unique",
        "MF103": "NOT NULL column without default added to an existing table",
        "MF104": "nullable column made NOT NULL", "MY101": "NOT NULL column added: MySQL fills existing rows",
        "LT101": "nullable column made NOT NULL by a table rebuild",
    }

    def run(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for step in ctx.steps:
            for mt, sub in step.table_changes():
                table = mt.name
                if ctx.existed(table) is None:
                    continue  # a table made in this file is empty
                if isinstance(sub, AddIndex) and sub.index.unique:
                    yield from self._unique(ctx, step, table, sub.index.name, _index_columns(sub.index), sub.index)
                elif isinstance(sub, AddUnique):
                    yield from self._unique(ctx, step, table, sub.unique.name, sub.unique.columns, sub.unique)
                elif isinstance(sub, AddColumn) and _needs_value(sub.column):
                    handler = hooks_for(ctx.dialect).add_not_null or add_not_null
                    yield from handler(ctx, step, table, sub.column)
                elif isinstance(sub, ModifyColumn) and sub.current.nullable and not sub.desired.nullable:
                    if ctx.column_existed(table, sub.current.name) is None:
                        continue
                    has_check = hooks_for(ctx.dialect).has_not_null_check
                    if has_check is not None and has_check(step, table, sub.current.name):
                        continue
                    modify_handler = hooks_for(ctx.dialect).modify_not_null or modify_not_null
                    yield from modify_handler(ctx, step, table, sub)

    def _unique(
        self, ctx: FileContext, step: Step, table: str, name: str | None, columns: tuple[str, ...],
        obj: Index | UniqueConstraint,
    ) -> Iterator[Diagnostic]:
        existing = [c for c in columns if ctx.column_existed(table, c) is not None]
        if not existing:
            return  # only new columns: no existing values to collide
        start = ctx.existed(table)
        assert start is not None
        if _was_unique(start, columns):
            return  # the same uniqueness existed before the file (an index recreated or renamed)
        label = name or f"({', '.join(columns)})"
        previous = next((i for i in start.indexes if name and i.name == name), None)
        if previous is not None and not previous.unique:
            code, text = "MF102", f'Modifying an index "{label}" on table "{table}" might fail in case of ' \
                                  "duplicate entries"
        else:
            what = f"column {_quoted(existing)} contains" if len(existing) == 1 else \
                f"columns {_quoted(existing)} contain"
            code, text = "MF101", f'Adding a unique index "{label}" on table "{table}" might fail in case ' \
                                  f"{what} duplicate entries"
        where = obj.where if isinstance(obj, Index) else None  # a partial index: only its rows must be unique
        yield from _with_data(ctx, step, code, text, None if len(existing) != len(columns) else (
            lambda d: d.has_duplicates(ctx.start_name(table), columns, where)),
            fails=f'{table}({", ".join(columns)}) holds duplicate values', passes="no duplicate values")


def _index_columns(index: Index) -> tuple[str, ...]:
    return tuple(p.column for p in index.parts if p.column is not None)


def _was_unique(table: Table, columns: tuple[str, ...]) -> bool:
    if not columns:
        return False
    return any(u.columns == columns for u in table.uniques) or any(
        i.unique and _index_columns(i) == columns and len(i.parts) == len(columns) and not i.where
        for i in table.indexes
    ) or (table.primary_key is not None and table.primary_key.columns == columns)


def _needs_value(column: Column) -> bool:
    """A NOT NULL column whose existing rows get no value from a default, identity or expression."""
    return (not column.nullable and column.default is None and column.identity is None
            and column.computed is None)


def _with_data(
    ctx: FileContext, step: Step, code: str, text: str, ask: Callable | None, *, fails: str, passes: str,
) -> Iterator[Diagnostic]:
    """The diagnostic, sharpened by the target's data when lint has one: a confirmed failure, or nothing
    (noted in the summary) when the target shows the problem cannot happen today."""
    answer = ask(ctx.data) if ask is not None and ctx.data is not None else None
    if answer is None or ctx.data is None:
        yield Diagnostic(step, code, text)
    elif answer:
        yield Diagnostic(step, code, f"{text}: it will fail, {fails} on {ctx.data.url}", fails=True)
    else:
        ctx.verified.append(f"{ctx.name}:{step.line}: {code}: checked on {ctx.data.url}: {passes}")


def add_not_null(ctx: FileContext, step: Step, table: str, column: Column) -> Iterator[Diagnostic]:
    """PostgreSQL and SQLite (Atlas's postgrescheck/sqlitecheck ``addNotNull``): fails on a non-empty table."""
    text = (f'Adding a non-nullable "{column.type.lower()}" column "{column.name}" will fail in case table '
            f'"{table}" is not empty')
    yield from _with_data(ctx, step, "MF103", text, lambda d: d.has_rows(ctx.start_name(table)),
                          fails=f'table "{table}" has rows', passes=f'table "{table}" is empty')


def modify_not_null(ctx: FileContext, step: Step, table: str, change: ModifyColumn) -> Iterator[Diagnostic]:
    column = change.current.name
    if ctx.filled_before(step, table, column):
        return
    text = f'Modifying nullable column "{change.desired.name}" to non-nullable might fail in case it contains ' \
           "NULL values"
    yield from _nulls(ctx, step, "MF104", text, table, column)


def _nulls(ctx: FileContext, step: Step, code: str, text: str, table: str, column: str) -> Iterator[Diagnostic]:
    origin = ctx.column_existed(table, column)
    name = origin.name if origin is not None else column
    yield from _with_data(ctx, step, code, text, lambda d: d.has_nulls(ctx.start_name(table), name),
                          fails=f'column "{column}" of "{table}" holds NULL values', passes="no NULL values")


# -- condrop (CD101) -------------------------------------------------------------------------------------


class ConstraintDrop(Analyzer):
    """Source: Atlas ``sql/sqlcheck/condrop/condrop.go``."""

    name = "condrop"
    codes = {"CD101": "foreign key dropped"}

    def run(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for step in ctx.steps:
            for mt, sub in step.table_changes():
                if not isinstance(sub, DropForeignKey) or not _fk_existed(ctx, mt.name, sub.foreign_key):
                    continue
                fk = sub.foreign_key
                dropped = {c.column.name for _, c in step.table_changes() if isinstance(c, DropColumn)}
                if dropped & set(fk.columns):
                    continue  # its column went: reported as a dropped column
                if _fk_added_back(ctx, step, mt.name, fk):
                    continue  # replaced (actions or target changed), not dropped
                label = fk.name or f"({', '.join(fk.columns)}) -> {fk.ref_table}"
                yield Diagnostic(step, "CD101", f'Dropping foreign-key constraint "{label}"')


def _fk_existed(ctx: FileContext, table: str, fk: ForeignKey) -> bool:
    start = ctx.existed(table)
    return start is not None and any(
        (f.name and f.name == fk.name) or (f.columns == fk.columns and f.ref_columns == fk.ref_columns)
        for f in start.foreign_keys
    )


def _fk_added_back(ctx: FileContext, step: Step, table: str, fk: ForeignKey) -> bool:
    for later in [step, *ctx.later_steps(step)]:
        for mt, sub in later.table_changes():
            if mt.name == table and isinstance(sub, AddForeignKey) and sub.foreign_key.columns == fk.columns:
                return True
    return False


# -- incompatible (BC101, BC102) -------------------------------------------------------------------------


class Incompatible(Analyzer):
    """Renames break the clients still using the old name. Source: Atlas ``sql/sqlcheck/incompatible``."""

    name = "incompatible"
    codes = {"BC101": "table renamed", "BC102": "column renamed"}

    def run(self, ctx: FileContext) -> Iterator[Diagnostic]:
        for step in ctx.steps:
            for change in step.changes:
                if isinstance(change, RenameTable):
                    if ctx.start.table(ctx.start_name(change.old)) is None or _view_for(ctx, step, change.old):
                        continue
                    yield Diagnostic(step, "BC101", f'Renaming table "{change.old}" to "{change.new}"')
            for mt, sub in step.table_changes():
                if not isinstance(sub, RenameColumn) or ctx.existed(mt.name) is None:
                    continue
                if _column_added_back(ctx, step, mt.name, sub.old):
                    continue
                yield Diagnostic(step, "BC102", f'Renaming column "{sub.old}" to "{sub.new}"')


_CREATE_VIEW = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?VIEW\s+(\S+)",
                          re.IGNORECASE)


def _view_for(ctx: FileContext, step: Step, old: str) -> bool:
    """A view under the old name created later in the file keeps old clients working."""
    for s in ctx.statements[step.index + len(step.statements):]:
        m = _CREATE_VIEW.match(s.text)
        if m and ident_eq(m[1], old):
            return True
    return False


def _column_added_back(ctx: FileContext, step: Step, table: str, old: str) -> bool:
    for later in ctx.later_steps(step):
        for mt, sub in later.table_changes():
            if mt.name == table and isinstance(sub, AddColumn) and sub.column.name == old:
                return True
        for change in later.changes:
            if isinstance(change, AddTable) and change.table.name == table:
                return True
    return False
