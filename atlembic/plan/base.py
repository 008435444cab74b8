"""What every dialect planner shares: turning model values back into SQLAlchemy constructs so
SQLAlchemy's DDL compiler and Alembic's operations render the SQL, and the statement record."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable, DropIndex, DropTable

from atlembic.diff import (
    AddFunction,
    AddPolicy,
    AddTrigger,
    AddView,
    DropFunction,
    DropPolicy,
    DropTrigger,
    DropView,
    ModifyFunction,
    ModifyPolicy,
    ModifyTrigger,
    ModifyView,
    RenameTable,
    SchemaDiff,
    object_label,
)
from atlembic.schema import model
from atlembic.schema.model import quote_name, split_name
from atlembic.schema.policy import NO_POLICY, DiffPolicy

_Named = TypeVar("_Named", model.Table, model.View, model.View | model.Function)


@dataclass(frozen=True)
class PlannedStatement:
    """One statement of a migration file and the `-- comment` line Atlas writes above it."""

    comment: str
    sql: str


@dataclass(frozen=True)
class HeldUsers:
    """What `plan.held` takes out of the tables' changes, as statements: `release` runs once the dependents are
    dropped, before the functions are; `restore` once the functions are made, before the views over `restored` (the
    tables' desired names) are; `rebuilt`: the tables (current names) the release drops columns of, whose dependents
    go first."""

    release: Sequence[PlannedStatement] = ()
    restore: Sequence[PlannedStatement] = ()
    rebuilt: Collection[str] = ()
    restored: Collection[str] = ()


class RawType(sa.types.UserDefinedType):
    """A column type spelled exactly as the engine reported it, rendered verbatim."""

    cache_ok = True

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def get_col_spec(self, **_: Any) -> str:
        return self.spec


class Planner:
    """Base planner: one subclass per dialect implements `plan`; `dialect` is the engine's SQLAlchemy
    dialect that the statements are compiled with (the engine's mock engine gives one without a server)."""

    dialect_name: ClassVar[str] = "default"

    def __init__(self, dialect: Dialect, policy: DiffPolicy = NO_POLICY) -> None:
        self.dialect = dialect
        self.policy = policy  # its concurrent_index part (the skipped changes never reach a planner)
        self.quote = self.dialect.identifier_preparer.quote
        # File directives the last plan needs (e.g. "atlas:txmode none"); set by `plan`.
        self.directives: list[str] = []

    def plan(self, diff: SchemaDiff) -> list[PlannedStatement]:
        raise NotImplementedError

    # -- views and triggers: dropped before the tables' changes, created after them ----------------

    def tables_under_dependents(self, diff: SchemaDiff) -> set[str]:
        """The tables whose changes here the engine refuses (or breaks) while a view or trigger over them
        exists: those are dropped before and created again after (none by default)."""
        return set()

    def replaceable(self, current: model.View, desired: model.View) -> bool:
        """Whether CREATE OR REPLACE VIEW turns `current` into `desired` (no by default: drop and create)."""
        return False

    def create_view(self, view: model.View) -> str:
        return view.definition

    def replace_view(self, view: model.View) -> str:
        return re.sub(r"^CREATE\b", "CREATE OR REPLACE", view.definition, count=1, flags=re.IGNORECASE)

    def drop_view(self, view: model.View) -> str:
        return f"DROP {'MATERIALIZED ' if view.materialized else ''}VIEW {self.quote_table(view.name)}"

    def drop_trigger(self, trigger: model.Trigger) -> str:
        return f"DROP TRIGGER {self.quote_table(trigger.name)}"

    def drop_policy(self, policy: model.Policy) -> str:
        raise NotImplementedError(f"{self.dialect_name} has no row-level-security policies")

    def function_replaceable(self, current: model.Function, desired: model.Function) -> bool:
        """Whether `desired`'s CREATE OR REPLACE turns `current` into it (no by default: drop and create)."""
        return False

    def drop_function(self, function: model.Function) -> str:
        return f"DROP {function.kind.upper()} {self.quote_table(function.name)}"

    def gone_functions(self, diff: SchemaDiff) -> tuple[list[model.Function], list[model.Function]]:
        """(removed, redone): the functions the models no longer have, dropped after the tables' changes, and those
        changed beyond CREATE OR REPLACE, dropped before them and created again."""
        removed = [c.function for c in diff.changes if isinstance(c, DropFunction)]
        redone = [c.current for c in diff.changes
                  if isinstance(c, ModifyFunction) and not self.function_replaceable(c.current, c.desired)]
        return removed, redone

    def literal(self, value: str) -> str:
        """`value` as a string literal of the engine."""
        compiler = self.dialect.statement_compiler(self.dialect, None)
        return compiler.render_literal_value(value, sa.String())

    def comment_on(self, obj: model.View | model.Trigger | model.Function | model.Policy) -> str:
        """The statement that sets `obj`'s comment (its `comment`; None: removes it)."""
        raise NotImplementedError(f"{self.dialect_name} has no comment on {object_label(obj)}")

    def late_functions(self, diff: SchemaDiff) -> list[model.Function]:
        """The functions the plan makes (new, replaced or changed beyond CREATE OR REPLACE) after the tables' changes:
        those whose definition names a table, view, type or sequence of the models (a SQL body and the argument types
        are checked when the function is created). The others are made before the tables' changes."""
        made = {c.function.key for c in diff.changes if isinstance(c, AddFunction)} | {
            c.desired.key for c in diff.changes if isinstance(c, ModifyFunction)}
        desired = diff.desired
        things = {bare_name(name) for name in (*(t.name for t in desired.tables), *(v.name for v in desired.views),
                                               *(e.name for e in desired.enums), *(s.name for s in desired.sequences))}
        return [f for f in desired.functions if f.key in made and mentions(f.definition, things)]

    def dependents(self, diff: SchemaDiff, held: HeldUsers = HeldUsers()
                   ) -> tuple[list[PlannedStatement], list[PlannedStatement]]:
        """(before, after) the tables' statements: the views, triggers and policies that go (removed from the models,
        changed beyond CREATE OR REPLACE, or over a table changed in a way the engine refuses under them, or reading
        a function that is dropped, and what reads those, transitively) dropped first, dependents before what they
        read, then the functions changed beyond CREATE OR REPLACE dropped and the functions that read no table,
        view or type created; after: the other functions and the desired views created or replaced (read before
        readers), the triggers and policies created and last the functions removed from the models dropped. Re-creating
        dependents around a change is no drop of the models' objects: only DropView / DropTrigger / DropFunction /
        DropPolicy are. Then the comments of the objects made here that have one, and of those kept (replaced or
        untouched) whose comment changed. `held`: the users of the functions, planned around them (`HeldUsers`)."""
        current, desired = diff.current, diff.desired
        gone_views = {c.view.name for c in diff.changes if isinstance(c, DropView)}
        gone_views |= {c.current.name for c in diff.changes
                       if isinstance(c, ModifyView) and not self.replaceable(c.current, c.desired)}
        gone_triggers = {c.trigger.key for c in diff.changes if isinstance(c, DropTrigger)}
        gone_triggers |= {c.current.key for c in diff.changes if isinstance(c, ModifyTrigger)}
        removed, redone = self.gone_functions(diff)
        under = self.tables_under_dependents(diff) | set(held.rebuilt)
        # Views still name a table renamed here by its old name.
        under |= {c.old for c in diff.changes if isinstance(c, RenameTable) and c.new in under}
        read = {bare_name(name) for name in under | gone_views} | {bare_name(f.name) for f in (*removed, *redone)}
        while True:  # what reads something that goes, goes too
            more = {v.name for v in current.views if v.name not in gone_views and mentions(v.definition, read)}
            gone_views |= more
            read |= {bare_name(name) for name in more}
            if not more:
                break
        gone_triggers |= {t.key for t in current.triggers
                          if bare_name(t.table) in read or mentions(t.definition, read)}
        gone_policies = {c.policy.key for c in diff.changes if isinstance(c, DropPolicy)}
        gone_policies |= {c.current.key for c in diff.changes if isinstance(c, ModifyPolicy)}
        gone_policies |= {p.key for p in current.policies if bare_name(p.table) in read or mentions(p.definition, read)}
        before = [PlannedStatement(f'Drop policy "{p.name}" on "{p.table}"', self.drop_policy(p))
                  for p in current.policies if p.key in gone_policies]
        before += [PlannedStatement(f'Drop trigger "{t.name}"', self.drop_trigger(t))
                   for t in current.triggers if t.key in gone_triggers]
        before += [PlannedStatement(f'Drop "{v.name}" {v.kind}', self.drop_view(v))
                   for v in reversed(view_order(current.views)) if v.name in gone_views]
        before += held.release
        before += [PlannedStatement(f'Drop "{f.key}" {f.kind}', self.drop_function(f)) for f in redone]
        added = {c.view.name for c in diff.changes if isinstance(c, AddView)}
        replaced = {c.desired.name for c in diff.changes if isinstance(c, ModifyView)} - gone_views
        made = {c.function.key for c in diff.changes if isinstance(c, AddFunction)} | {f.key for f in redone}
        replaced_functions = {c.desired.key for c in diff.changes if isinstance(c, ModifyFunction)} - made
        late = {f.key for f in self.late_functions(diff)}
        after: list[PlannedStatement] = []
        # The views over a table the restore completes, and over those, wait for it.
        waiting: list[PlannedStatement] = []
        awaited = {bare_name(name) for name in held.restored}
        for obj in object_order([*desired.functions, *desired.views]):
            if isinstance(obj, model.Function):
                if obj.key not in made | replaced_functions:
                    continue
                verb = "Create" if obj.key in made else "Replace"
                place = after if obj.key in late else before
                place.append(PlannedStatement(f'{verb} "{obj.key}" {obj.kind}', obj.definition))
                continue
            place = after
            if mentions(obj.definition, awaited):
                awaited.add(bare_name(obj.name))
                place = waiting
            if obj.name in replaced:
                place.append(PlannedStatement(f'Replace "{obj.name}" {obj.kind}', self.replace_view(obj)))
            elif obj.name in added or obj.name in gone_views:
                place.append(PlannedStatement(f'Create "{obj.name}" {obj.kind}', self.create_view(obj)))
        after += [*held.restore, *waiting]
        made_triggers = {c.trigger.key for c in diff.changes if isinstance(c, AddTrigger)} | gone_triggers
        after += [PlannedStatement(f'Create trigger "{t.name}" on "{t.table}"', t.definition)
                  for t in desired.triggers if t.key in made_triggers]
        made_policies = {c.policy.key for c in diff.changes if isinstance(c, AddPolicy)} | gone_policies
        after += [PlannedStatement(f'Create policy "{p.name}" on "{p.table}"', p.definition)
                  for p in desired.policies if p.key in made_policies]
        renewed = {("View", n) for n in added | gone_views} | {("Function", k) for k in made} | {
            ("Trigger", k) for k in made_triggers} | {("Policy", k) for k in made_policies}
        comments = {_identity(o): o.comment for o in _commentable(current)}
        for item in _commentable(desired):
            had = None if _identity(item) in renewed else comments.get(_identity(item))
            if item.comment != had:
                after.append(PlannedStatement(f"Set comment to {object_label(item)}", self.comment_on(item)))
        after += [PlannedStatement(f'Drop "{f.key}" {f.kind}', self.drop_function(f)) for f in removed]
        return before, after

    # -- model -> SQLAlchemy -------------------------------------------------------------------

    def sa_column(self, column: model.Column) -> sa.Column:
        args: list[Any] = []
        if column.computed is not None:
            args.append(sa.Computed(sa.text(column.computed.expression), persisted=column.computed.persisted))
        if column.identity is not None:
            args.append(sa_identity(column.identity, column.type))
        return sa.Column(
            column.name,
            RawType(column.type),
            *args,
            nullable=column.nullable,
            server_default=sa.text(column.default) if column.default is not None else None,
            comment=column.comment,
            # Never let SQLAlchemy invent SERIAL/AUTOINCREMENT: the reflected definition is the truth.
            autoincrement="auto" if column.identity is not None else False,
        )

    def sa_table(
        self,
        table: model.Table,
        metadata: sa.MetaData,
        *,
        name: str | None = None,
        foreign_keys: Iterable[model.ForeignKey] | None = None,
    ) -> sa.Table:
        """An SQLAlchemy Table for `table`; referenced tables get stubs so FKs compile."""
        fks = table.foreign_keys if foreign_keys is None else tuple(foreign_keys)
        items: list[Any] = [self.sa_column(c) for c in table.columns]
        if table.primary_key is not None:
            items.append(sa.PrimaryKeyConstraint(*table.primary_key.columns, name=table.primary_key.name))
        items += [sa.UniqueConstraint(*u.columns, name=u.name, **self.unique_options(u)) for u in table.uniques]
        items += [sa.CheckConstraint(sa.text(c.expression), name=c.name) for c in table.checks]
        items += [self.sa_foreign_key(fk) for fk in fks]
        own = name or table.name
        for fk in fks:
            if fk.ref_table != own:  # a key to its own table refers to the table being defined here
                self._stub(metadata, fk.ref_table, fk.ref_columns)
        schema, bare = split_name(own)
        return sa.Table(bare, metadata, *items, schema=schema, comment=table.comment)

    def sa_foreign_key(self, fk: model.ForeignKey) -> sa.ForeignKeyConstraint:
        return sa.ForeignKeyConstraint(
            list(fk.columns),
            [f"{fk.ref_table}.{c}" for c in fk.ref_columns],
            name=fk.name,
            ondelete=fk.on_delete,
            onupdate=fk.on_update,
            deferrable=fk.deferrable or None,
            initially=fk.initially,
        )

    @staticmethod
    def _stub(metadata: sa.MetaData, name: str, columns: Iterable[str]) -> None:
        stub = metadata.tables.get(name)  # MetaData keys are "schema.table" too
        if stub is None:
            schema, bare = split_name(name)
            stub = sa.Table(bare, metadata, schema=schema)
        for col in columns:
            if col not in stub.c:
                stub.append_column(sa.Column(col, RawType("INTEGER")))

    def sa_index(self, index: model.Index, table: sa.Table, options: dict[str, Any] | None = None) -> sa.Index:
        parts: list[Any] = []
        for part in index.parts:
            expr: Any = sa.literal_column(self.quote(part.column)) if part.column else self.index_expression(part)
            parts.append(sa.desc(expr) if part.descending else expr)
        kwargs: dict[str, Any] = dict(options or {})
        if index.where is not None:
            kwargs[f"{self.dialect_name}_where"] = sa.text(index.where)
        if index.using is not None:
            kwargs[f"{self.dialect_name}_using"] = index.using
        if index.include:
            kwargs[f"{self.dialect_name}_include"] = list(index.include)
        if index.nulls_not_distinct:
            kwargs[f"{self.dialect_name}_nulls_not_distinct"] = True
        return sa.Index(index.name, *parts, unique=index.unique, _table=table, **kwargs)

    def unique_options(self, unique: model.UniqueConstraint) -> dict[str, Any]:
        """Dialect keywords of a UNIQUE constraint (SQLAlchemy's and Alembic's spelling)."""
        return {f"{self.dialect_name}_nulls_not_distinct": True} if unique.nulls_not_distinct else {}

    def index_expression(self, part: model.IndexPart) -> Any:
        """An expression key part: parenthesised, as engines that need it for anything but a function call
        (PostgreSQL) take it."""
        return sa.text(part.sql)

    # -- rendering ----------------------------------------------------------------------------

    def compile(self, element: Any) -> str:
        return str(element.compile(dialect=self.dialect)).strip()

    def create_table(self, table: model.Table, **kw: Any) -> str:
        return self.compile(CreateTable(self.sa_table(table, sa.MetaData(), **kw)))

    def drop_table(self, name: str) -> str:
        schema, bare = split_name(name)
        return self.compile(DropTable(sa.Table(bare, sa.MetaData(), schema=schema)))

    def quote_table(self, name: str) -> str:
        """A possibly schema-qualified table name, quoted part by part."""
        return quote_name(name, self.quote)

    def create_index(self, table: model.Table, index: model.Index, options: dict[str, Any] | None = None) -> str:
        """CREATE INDEX; `options`: dialect keywords beyond the index's own (``postgresql_concurrently``)."""
        # The index names its key columns as literal text (sa_index): the table needs its name, and the
        # columns an INCLUDE list names (the dialect looks those up on the table).
        schema, bare = split_name(table.name)
        sa_table = sa.Table(bare, sa.MetaData(), *(sa.Column(c, RawType("INTEGER")) for c in index.include),
                            schema=schema)
        return self.compile(CreateIndex(self.sa_index(index, sa_table, options)))

    def drop_index(self, table: model.Table, index: model.Index, options: dict[str, Any] | None = None) -> str:
        schema, bare = split_name(table.name)
        sa_table = sa.Table(bare, sa.MetaData(), schema=schema)
        return self.compile(DropIndex(sa.Index(index.name, _table=sa_table, **(options or {}))))

    def alembic(self, call: Callable[..., Any]) -> list[str]:
        """Run one Alembic operation in offline mode and return the SQL it rendered."""
        buffer = io.StringIO()
        ctx = MigrationContext.configure(
            dialect=self.dialect, opts={"as_sql": True, "output_buffer": buffer, "literal_binds": True}
        )
        call(_SchemaQualifiedOperations(Operations(ctx)))
        return [s.strip() for s in buffer.getvalue().split(";\n\n") if s.strip()]


# The largest value of each integer type an identity can have: its MAXVALUE when none is given.
_IDENTITY_MAX = {"SMALLINT": 2**15 - 1, "INTEGER": 2**31 - 1, "BIGINT": 2**63 - 1}


def sa_identity(identity: model.Identity, column_type: str) -> sa.Identity:
    """The identity with the options that differ from the engine's defaults for `column_type` (as the models
    spell it: an identity of the models' own leaves them out)."""
    top = _IDENTITY_MAX.get(column_type.upper(), 2**63 - 1)
    ascending = (identity.increment or 1) > 0
    start = identity.start if identity.start not in (None, 1 if ascending else -1) else None
    return sa.Identity(
        always=identity.always, start=start, increment=identity.increment if identity.increment != 1 else None,
        minvalue=None if identity.min_value == (1 if ascending else -top - 1) else identity.min_value,
        maxvalue=None if identity.max_value == (top if ascending else -1) else identity.max_value,
        cycle=identity.cycle or None, cache=None if identity.cache in (None, 1) else identity.cache)


# Which positional argument of an Alembic operation names the table (it gets a `schema=` kwarg).
_TABLE_ARGUMENT = {
    "add_column": 0, "drop_column": 0, "alter_column": 0, "create_table_comment": 0, "drop_table_comment": 0,
    "rename_table": 0, "drop_constraint": 1, "create_primary_key": 1, "create_unique_constraint": 1,
    "create_check_constraint": 1,
}


class _SchemaQualifiedOperations:
    """Alembic operations that accept "schema.table" names: the model spells tables of named
    schemas that way, Alembic wants the schema as a separate argument."""

    def __init__(self, ops: Operations) -> None:
        self._ops = ops

    def __getattr__(self, method: str) -> Any:
        call = getattr(self._ops, method)

        def qualified(*positional: Any, **kwargs: Any) -> Any:
            args = list(positional)
            if method == "create_foreign_key":
                kwargs["source_schema"], args[1] = split_name(args[1])
                kwargs["referent_schema"], args[2] = split_name(args[2])
            elif method in _TABLE_ARGUMENT:
                pos = _TABLE_ARGUMENT[method]
                kwargs["schema"], args[pos] = split_name(args[pos])
                if method == "rename_table":
                    args[1] = split_name(args[1])[1]  # the new name stays in the same schema
            return call(*args, **kwargs)

        return qualified


# An identifier as SQL text writes it: bare, or quoted with "", `` or [].
_IDENTIFIER = re.compile(r'[A-Za-z_][\w$]*|"(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]')


def bare_name(name: str) -> str:
    return split_name(name)[1].lower()


def _words(sql: str) -> set[str]:
    """The identifiers `sql` names, unquoted and lower-cased (string literals count too: a doubt is a yes)."""
    return {w[1:-1].lower() if w[0] in '"`[' else w.lower() for w in _IDENTIFIER.findall(sql)}


def mentions(sql: str, names: Collection[str]) -> bool:
    return not _words(sql).isdisjoint(names)


def view_order(views: Iterable[model.View]) -> list[model.View]:
    """Views read by others before them (a view reads the views its definition names); a cycle keeps its order."""
    views = list(views)
    words = {v.name: _words(v.definition) - {bare_name(v.name)} for v in views}
    return _read_first(views, lambda view: [o for o in views if bare_name(o.name) in words[view.name]])


def object_order(objects: Iterable[model.View | model.Function]) -> list[model.View | model.Function]:
    """Views and functions, each after the others its definition names (a cycle keeps its order)."""
    objects = list(objects)
    words = {_key(o): _words(o.definition) - {bare_name(o.name)} for o in objects}
    return _read_first(objects, lambda obj: [o for o in objects if bare_name(o.name) in words[_key(obj)]], key=_key)


def _key(obj: model.View | model.Function) -> str:
    return obj.key if isinstance(obj, model.Function) else obj.name


def _commentable(schema: model.Schema) -> list[model.View | model.Trigger | model.Function | model.Policy]:
    return [*schema.functions, *schema.views, *schema.triggers, *schema.policies]


def _identity(obj: model.View | model.Trigger | model.Function | model.Policy) -> tuple[str, str]:
    """What tells the objects with comments apart: their kind and key."""
    return type(obj).__name__, obj.name if isinstance(obj, model.View) else obj.key


def dependency_order(tables: list[model.Table]) -> list[model.Table]:
    """Referenced tables before referencing ones; members of a cycle keep their given order."""
    by_name = {t.name: t for t in tables}
    return _read_first(tables, lambda table: [by_name[fk.ref_table] for fk in table.foreign_keys
                                              if fk.ref_table in by_name])


def _read_first(items: list[_Named], reads: Callable[[_Named], list[_Named]],
                key: Callable[[_Named], str] = lambda item: item.name) -> list[_Named]:
    """`items` with what each `reads` before it (depth first, in the given order); a cycle keeps its order."""
    done: list[_Named] = []
    seen: set[str] = set()

    def visit(item: _Named, path: set[str]) -> None:
        if key(item) in seen:
            return
        path = path | {key(item)}
        for other in reads(item):
            if key(other) not in path:
                visit(other, path)
        if key(item) not in seen:
            seen.add(key(item))
            done.append(item)

    for item in items:
        visit(item, set())
    return done
