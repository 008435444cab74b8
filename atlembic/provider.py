"""MetaData -> DDL text for one dialect: the "provider" side of the pipeline.

SQLAlchemy's own `create_all` runs against a mock engine, so the DDL is exactly what the application
would emit itself: tables in dependency order, indexes after their table, enum types before the
tables that use them, and foreign keys in a cycle added afterwards with ALTER TABLE.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine.mock import MockConnection
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable, ExecutableDDLElement

from atlembic.diff import Renames
from atlembic.errors import AtlembicError, one_line
from atlembic.schema.model import Schema, Table


def metadata_ddl(metadata: sa.MetaData, dialect_name: str,
                 mock_engine: Callable[[Any], MockConnection], *, named_schemas: bool) -> list[str]:
    """The CREATE statements (without trailing `;`) that build `metadata` on the engine `dialect_name`, whose
    `mock_engine(executor)` compiles without a server; `named_schemas`: whether `schema=` names a schema
    inside the database (on MySQL it would be another database). Through `Engine.metadata_ddl`."""
    statements: list[str] = []

    def executor(element: ExecutableDDLElement, *_: Any, **__: Any) -> None:
        try:
            statements.append(str(element.compile(dialect=engine.dialect)).strip())
        except sa.exc.CompileError as exc:  # SQLAlchemy names the table and column: pass it on
            message = re.sub(r"Compiler <[^>]+> ", "", str(exc))
            raise AtlembicError(f"models: {dialect_name} cannot express {message}") from exc

    engine = mock_engine(executor)
    if named_schemas:
        # create_all expects the schemas of `schema=` tables to exist already; create them first.
        for schema in sorted({t.schema for t in metadata.tables.values() if t.schema}):
            executor(CreateSchema(schema))
    if engine.dialect.supports_alter:
        metadata.create_all(engine, checkfirst=False)
        return statements
    # Without ALTER (SQLite), create_all would silently leave out foreign keys that form a cycle.
    # Such engines do not check references at CREATE time, so every foreign key goes inline.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Cannot correctly sort tables", sa.exc.SAWarning)
        tables = metadata.sorted_tables
    # The DDL events create_all fires, in its order (the models' CREATE VIEW / TRIGGER statements come this way).
    metadata.dispatch.before_create(metadata, engine, tables=tables, checkfirst=False, _ddl_runner=None)
    for table in tables:
        table_events: dict[str, Any] = {"checkfirst": False, "_ddl_runner": None, "_is_metadata_operation": True}
        table.dispatch.before_create(table, engine, **table_events)
        executor(CreateTable(table))
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            executor(CreateIndex(index))
        table.dispatch.after_create(table, engine, **table_events)
    metadata.dispatch.after_create(metadata, engine, tables=tables, checkfirst=False, _ddl_runner=None)
    return statements


def rename_hints(metadata: sa.MetaData) -> Renames:
    """Renames declared in the models: `info={"atlembic": {"renamed_from": "old_name"}}` on a
    Table or Column. The dev database cannot see them, so they travel next to the desired schema."""
    tables: dict[str, str] = {}
    columns: dict[tuple[str, str], str] = {}
    for table in metadata.tables.values():
        old = (table.info.get("atlembic") or {}).get("renamed_from")
        if old:  # the old name is in the same schema
            tables[table.fullname] = f"{table.schema}.{old}" if table.schema and "." not in old else old
        for column in table.columns:
            old = (column.info.get("atlembic") or {}).get("renamed_from")
            if old:
                columns[(table.fullname, column.name)] = old
    return Renames(tables, columns)


def mark_engine_named(desired: Schema, metadata: sa.MetaData) -> Schema:
    """Flag the constraints of `desired` (the models, as the dev database made them) whose names the
    models left to the engine: a constraint without a name, and without one from a naming convention,
    is named by the engine (``t_a_fkey`` on PostgreSQL, ``t_ibfk_1`` on MySQL, none on SQLite), and the
    diff then matches it by shape rather than by that name (see `diff.adopt_engine_names`)."""
    models = {t.fullname: t for t in metadata.tables.values()}
    return replace(desired, tables=tuple(
        _mark_table(t, models[t.name]) if t.name in models else t for t in desired.tables))


def _mark_table(table: Table, model: sa.Table) -> Table:
    pk = table.primary_key
    if pk is not None and not isinstance(model.primary_key.name, str):
        pk = replace(pk, engine_named=True)
    # Indexes the models do not declare are the engine's own, made for a constraint under a name of its
    # choosing (MySQL: a unique constraint's index is named after its first column, a foreign key's after
    # the key or its column).
    return replace(table, primary_key=pk,
                   indexes=_flag_others(table.indexes, {i.name for i in model.indexes if i.name is not None}),
                   uniques=_flag_others(table.uniques, _explicit_names(model, sa.UniqueConstraint)),
                   foreign_keys=_flag_others(table.foreign_keys, _explicit_names(model, sa.ForeignKeyConstraint)),
                   checks=_flag_others(table.checks, _explicit_names(model, sa.CheckConstraint)))


def _explicit_names(model: sa.Table, kind: type) -> set[str] | None:
    """The names the models give their constraints of `kind`; None when they name every one of them (then
    nothing is left to the engine)."""
    declared = [c for c in model.constraints if isinstance(c, kind)]
    names = {c.name for c in declared if isinstance(c.name, str)}
    return None if len(names) == len(declared) else names


def _flag_others(items: tuple[Any, ...], named: set[str] | None) -> tuple[Any, ...]:
    """`items` with those not called by one of the `named` flagged `engine_named`."""
    if named is None:
        return items
    return tuple(replace(i, engine_named=True) if i.name not in named else i for i in items)


def merge_metadata(items: Iterable[sa.MetaData], where: str) -> sa.MetaData:
    """One MetaData holding the tables of several (env.py may hand over a sequence, a models directory
    define several). A table several of them define identically (the same CREATE TABLE and indexes) is
    taken once; one defined differently is an error naming it and `where`."""
    unique: list[sa.MetaData] = []
    for md in items:
        if not any(md is seen for seen in unique):
            unique.append(md)
    if len(unique) == 1:
        # Keep the original object: callers may rely on identity with the ORM's tables.
        return unique[0]
    conventions = {tuple(sorted((str(k), str(v)) for k, v in md.naming_convention.items())) for md in unique}
    schemas = {md.schema for md in unique}
    merged = sa.MetaData(
        naming_convention=dict(cast(Mapping[str, Any], unique[0].naming_convention)) if len(conventions) == 1 else None,
        schema=unique[0].schema if len(schemas) == 1 else None,
    )
    first: dict[str, sa.Table] = {}
    for md in unique:
        for key, table in md.tables.items():
            if key in first:
                if _definition(first[key]) != _definition(table):
                    raise AtlembicError(f"{where}: table {key!r} is defined in more than one MetaData, "
                                        "differently")
                continue
            first[key] = table
            table.to_metadata(merged)
    return merged


# Dialects a table definition is compiled with to compare it (any one that compiles it will do).
_COMPILE_WITH = ("sqlite://", "postgresql+psycopg://", "mysql+pymysql://")


def _definition(table: sa.Table) -> tuple[str, ...]:
    """What makes two definitions of a table the same one: its DDL (CREATE TABLE, then its indexes) on the
    first dialect that compiles it, else the reprs of its columns, constraints and indexes."""
    indexes = sorted(table.indexes, key=lambda i: i.name or "")
    for url in _COMPILE_WITH:
        dialect = sa.create_mock_engine(url, None).dialect
        dialect_name = dialect.name
        try:
            return (dialect_name, str(CreateTable(table).compile(dialect=dialect)),
                    *(str(CreateIndex(i).compile(dialect=dialect)) for i in indexes))
        except Exception:  # a type or construct this dialect cannot express; FK target not resolvable
            continue
    return ("repr", repr(table), *sorted(repr(c) for c in table.constraints), *(repr(i) for i in indexes))


def load_models_path(path: Path, *, skip_errors: bool = False) -> sa.MetaData:
    """Import every module under `path` and collect the MetaData objects they define.

    This is how atlas-provider-sqlalchemy finds models: no configuration, just a directory. With `skip_errors`
    a module that fails to import is left out (its `--skip-errors`).
    """
    path = path.resolve()
    if not path.exists():
        raise AtlembicError(f"provider: path {path} does not exist")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    root = path.parent if path.is_file() else path
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    found: dict[int, sa.MetaData] = {}
    for file in files:
        rel = file.relative_to(root).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        name = ".".join(parts) or file.stem
        try:
            module = sys.modules.get(name) or _import_file(name, file)
        except Exception as exc:  # an import error in user code is the user's to fix: name it
            if skip_errors:
                sys.modules.pop(name, None)
                continue
            raise AtlembicError(f"{file}: {type(exc).__name__}: {exc} (--skip-errors leaves out files that fail "
                                "to import)") from exc
        for value in vars(module).values():
            md = value if isinstance(value, sa.MetaData) else getattr(value, "metadata", None)
            if isinstance(md, sa.MetaData) and md.tables:
                found[id(md)] = md
    if not found:
        raise AtlembicError(f"provider: no SQLAlchemy MetaData with tables found under {path}")
    return merge_metadata(found.values(), f"provider: {path}")


def table_positions(path: Path, metadata: sa.MetaData) -> list[str]:
    """Atlas's `atlas:pos TABLE[type=table] FILE:LINE` directives for the tables of `metadata` that the files
    under `path` define (a class with a literal `__tablename__`, or `Table("name", ...)`), as the upstream
    provider writes them: Atlas points its diagnostics at the model's line."""
    path = path.resolve()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    directives: list[str] = []
    for file in files:
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue  # a file that does not parse defines no table we loaded
        seen: dict[str, int] = {}
        for node in ast.walk(tree):
            name = _defined_table(node)
            if name is not None and name in metadata.tables:
                seen[name] = node.lineno  # type: ignore[attr-defined]
        directives.extend(f"atlas:pos {name}[type=table] {file}:{line}"
                          for name, line in sorted(seen.items(), key=lambda item: item[1]))
    return directives


def _defined_table(node: ast.AST) -> str | None:
    """The table name `node` defines: a class whose body assigns a literal `__tablename__`, or an assignment
    of `Table("name", ...)` / `sa.Table("name", ...)`."""
    if isinstance(node, ast.ClassDef):
        for statement in node.body:
            if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == "__tablename__"
                    and isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str)):
                return statement.value.value
        return None
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and node.value.args:
        func, first = node.value.func, node.value.args[0]
        called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if called == "Table" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


# SQLAlchemy dialects the upstream provider offers that SQLAlchemy itself does not bring, and their packages.
DIALECT_PACKAGES = {"clickhouse": "clickhouse-sqlalchemy", "snowflake": "snowflake-sqlalchemy"}


def dialect_mock_engine(dialect: str) -> Callable[[Any], MockConnection]:
    """`mock_engine(executor)` for a SQLAlchemy dialect atlembic has no engine for (mssql, clickhouse ...): its
    DDL compiled as the upstream provider compiles it, or one line naming the package that brings it."""
    url = f"{dialect}://"
    try:
        sa.create_mock_engine(url, None)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        package = DIALECT_PACKAGES.get(dialect)
        raise AtlembicError(f"provider: --dialect {dialect}: " + (
            f"its SQLAlchemy dialect is not installed: pip install {package}" if package
            else f"no SQLAlchemy dialect of that name is installed ({one_line(exc)})")) from None
    return lambda executor: sa.create_mock_engine(url, executor)


def _import_file(name: str, file: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# -- alembic_utils' entities (register_entities in env.py) -----------------------------------------------------

SchemaStatement = tuple[str, str]  # (where it comes from, for messages; the statement)

# The entity classes taken into the desired state, in the order their statements run after the models (the
# functions a view or trigger calls first, policies last); extensions run before the models (a column's type may
# come from one), and so does the creation of the roles PGGrantTable names where the dev server lacks them (roles are
# the server's: the target must have them; the dev server gets them as NOLOGIN roles).
_ENTITIES_AFTER = ("PGFunction", "PGView", "PGMaterializedView", "PGTrigger", "PGPolicy", "PGGrantTable")
_REGISTRY_MODULE = "alembic_utils.replaceable_entity"


def _role_on_dev(role: str) -> str:
    """The role `role` made on the dev server unless it has it (two runs at once: the second finds it made)."""
    literal = "'" + role.replace("'", "''") + "'"
    return ("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " + literal + ") THEN "
            "EXECUTE format('CREATE ROLE %I NOLOGIN', " + literal + "); END IF; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")


@contextlib.contextmanager
def registered_entities() -> Iterator[tuple[list[SchemaStatement], list[SchemaStatement]]]:
    """Around running env.py: the CREATE statements of the alembic_utils entities it registers with
    `register_entities([...])`, as (before the models, after them), filled in when the block ends. alembic_utils is
    never imported here: a project without it registers nothing. Its registry is emptied first, so a second load
    in one process sees only what this env.py registers."""
    before: list[SchemaStatement] = []
    after: list[SchemaStatement] = []
    module = sys.modules.get(_REGISTRY_MODULE)
    if module is not None:
        module.registry.clear()
    yield before, after
    module = sys.modules.get(_REGISTRY_MODULE)
    entities = list(module.registry.entities()) if module is not None else []
    ranked: list[tuple[int, SchemaStatement]] = []
    for entity in entities:
        kind = type(entity).__name__
        if kind != "PGExtension" and kind not in _ENTITIES_AFTER:
            continue
        where = f"env.py register_entities: {kind} {entity.schema}.{entity.signature}"
        try:
            sql = str(entity.to_sql_statement_create()).strip().rstrip(";")
        except Exception as exc:  # alembic_utils could not parse its definition
            raise AtlembicError(f"{where}: {one_line(exc)}") from exc
        if kind == "PGExtension":
            before.append((where, sql))
        elif kind == "PGGrantTable" and entity.role.upper() != "PUBLIC":
            before.append((where, _role_on_dev(entity.role)))
            ranked.append((_ENTITIES_AFTER.index(kind), (where, sql)))
        else:
            ranked.append((_ENTITIES_AFTER.index(kind), (where, sql)))
    after.extend(statement for _, statement in sorted(ranked, key=lambda item: item[0]))
