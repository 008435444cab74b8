"""What every dialect's reflection shares: `Reflector`, the SQLAlchemy multi-table Inspector path that a
dialect's subclass (schema/<dialect>.py) adjusts where its engine reports differently."""


from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Inspector

from atlembic.errors import AtlembicError
from atlembic.schema.model import (
    Check,
    Column,
    Computed,
    Enum,
    Extension,
    ForeignKey,
    Function,
    Identity,
    Index,
    Policy,
    PrimaryKey,
    Schema,
    Sequence,
    Table,
    TableGrant,
    Trigger,
    UniqueConstraint,
    View,
    split_name,
)

REVISIONS_TABLE = "atlas_schema_revisions"

Reflected = dict[tuple[Any, str], Any]


def _by_table(multi: Reflected) -> dict[str, Any]:
    return {name: value for (_schema, name), value in multi.items()}


class Reflector:
    """Turns Inspector output into model values; subclasses override what their engine needs."""

    dialect_name: ClassVar[str] = "default"

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.inspector: Inspector = sa.inspect(conn)

    def inspect(self, exclude: Iterable[str] = (REVISIONS_TABLE,)) -> Schema:
        skip = set(exclude)
        named = self.schema_names(skip)
        tables = [t for schema in (None, *named) for t in self.tables(schema, skip)]
        return Schema(tables=tuple(tables), enums=self.enums(), sequences=self.sequences(), schemas=named,
                      views=self.views(named), triggers=self.triggers(named), functions=self.functions(named),
                      extensions=self.extensions(), policies=self.policies(named),
                      row_security=self.row_security(named),
                      grants=tuple(g for g in self.grants(named) if g.table in {t.name for t in tables}))

    def inspect_tables(self, names: Collection[str], exclude: Iterable[str] = (REVISIONS_TABLE,)) -> list[Table]:
        """Only the named tables (as `Schema` names them) that exist, reflected exactly as `inspect` would."""
        skip = set(exclude)
        by_schema: dict[str | None, set[str]] = {}
        for name in names:
            schema, table = split_name(name)
            by_schema.setdefault(schema, set()).add(table)
        named = set(self.schema_names(skip)) if set(by_schema) - {None} else set()
        return [t for schema, only in by_schema.items() if schema is None or schema in named
                for t in self.tables(schema, skip, only)]

    def tables(self, schema: str | None, skip: set[str], only: Collection[str] | None = None) -> list[Table]:
        """The tables of one schema (None: the default one), or those of them named in `only`. Tables of a
        named schema are called `schema.table`, so every name-keyed comparison keeps working across schemas."""
        insp = self.inspector
        # The catalog's list decides which names exist (exact spelling), also when only a few are wanted.
        names = sorted(n for n in insp.get_table_names(schema=schema)
                       if n not in skip and (only is None or n in only))
        if not names:
            return []
        # Dialects without named schemas keep their one-argument hooks.
        where: dict[str, Any] = {"schema": schema} if schema is not None else {}
        columns = _by_table(insp.get_multi_columns(filter_names=names, **where))
        pks = _by_table(insp.get_multi_pk_constraint(filter_names=names, **where))
        with_uniques = self.may_have_uniques(names, **where)
        uniques = _by_table(insp.get_multi_unique_constraints(filter_names=with_uniques, **where)) \
            if with_uniques else {}
        fks = _by_table(insp.get_multi_foreign_keys(filter_names=names, **where))
        checks = _by_table(insp.get_multi_check_constraints(filter_names=names, **where))
        indexes = self.indexes(names, **where)
        comments = self.table_comments(names, **where)
        return [
            Table(
                name=f"{schema}.{name}" if schema else name,
                columns=tuple(self.column(c) for c in columns[name]),
                primary_key=self.primary_key(pks.get(name)),
                indexes=tuple(sorted(indexes.get(name, ()), key=lambda i: i.name)),
                uniques=tuple(sorted((self.unique(u) for u in uniques.get(name, ())), key=_sort_key)),
                foreign_keys=tuple(sorted((self.foreign_key(f) for f in fks.get(name, ())), key=_sort_key)),
                checks=tuple(sorted((self.check(c) for c in checks.get(name, ())), key=_sort_key)),
                comment=comments.get(name),
            )
            for name in names
        ]

    def may_have_uniques(self, names: list[str], **where: Any) -> list[str]:
        """Those of `names` whose unique constraints are worth asking the Inspector for (all by default)."""
        return names

    def unmanaged_objects(self) -> list[str]:
        """Objects the schema model does not hold, as `kind "name"` (none here; dialects add what their engine
        has): what a conversion says it left out."""
        return []

    def schema_names(self, skip: set[str]) -> tuple[str, ...]:
        """Named schemas besides the default one (engines without them: none)."""
        return ()

    # -- per-object conversion; dialects override where their engine differs -------------------

    def type_name(self, type_: sa.types.TypeEngine) -> str:
        try:
            return type_.compile(dialect=self.conn.dialect)
        except sa.exc.CompileError as exc:  # NullType and friends: the engine gave us nothing usable
            raise AtlembicError(f"cannot name reflected type {type_!r}: {exc}") from exc

    def column(self, info: dict[str, Any]) -> Column:
        computed = info.get("computed")
        identity = info.get("identity")
        return Column(
            name=info["name"],
            type=self.type_name(info["type"]),
            nullable=bool(info["nullable"]),
            default=info.get("default"),
            comment=info.get("comment"),
            identity=Identity(bool(identity.get("always")), identity.get("start"), identity.get("increment"),
                              identity.get("minvalue"), identity.get("maxvalue"), bool(identity.get("cycle")),
                              identity.get("cache"))
            if identity
            else None,
            computed=Computed(computed["sqltext"], computed.get("persisted")) if computed else None,
        )

    def primary_key(self, info: dict[str, Any] | None) -> PrimaryKey | None:
        if not info or not info.get("constrained_columns"):
            return None
        return PrimaryKey(tuple(info["constrained_columns"]), info.get("name"))

    def unique(self, info: dict[str, Any]) -> UniqueConstraint:
        options = info.get("dialect_options") or {}
        return UniqueConstraint(tuple(info["column_names"]), info.get("name"),
                                bool(options.get("postgresql_nulls_not_distinct")))

    def check(self, info: dict[str, Any]) -> Check:
        return Check(info["sqltext"], info.get("name"))

    def foreign_key(self, info: dict[str, Any]) -> ForeignKey:
        options = info.get("options") or {}
        ref_schema = info.get("referred_schema")
        return ForeignKey(
            columns=tuple(info["constrained_columns"]),
            ref_table=f"{ref_schema}.{info['referred_table']}" if ref_schema else info["referred_table"],
            ref_columns=tuple(info["referred_columns"]),
            name=info.get("name"),
            on_delete=_action(options.get("ondelete")),
            on_update=_action(options.get("onupdate")),
            deferrable=bool(options.get("deferrable")),
            initially=_initially(options.get("initially")),
        )

    def indexes(self, names: list[str]) -> dict[str, list[Index]]:
        raise NotImplementedError

    def table_comments(self, names: list[str]) -> dict[str, str | None]:
        return {}

    def enums(self) -> tuple[Enum, ...]:
        return ()

    def sequences(self) -> tuple[Sequence, ...]:
        return ()

    def views(self, schemas: tuple[str, ...]) -> tuple[View, ...]:
        """The views of the default schema and of `schemas` (named `schema.view` there), sorted by name."""
        return ()

    def triggers(self, schemas: tuple[str, ...]) -> tuple[Trigger, ...]:
        """The triggers on the tables and views of the default schema and of `schemas`, sorted by name."""
        return ()

    def policies(self, schemas: tuple[str, ...]) -> tuple[Policy, ...]:
        """The row-level-security policies on the tables of the default schema and of `schemas`."""
        return ()

    def row_security(self, schemas: tuple[str, ...]) -> tuple[str, ...]:
        """The tables (of the default schema and of `schemas`) with row-level security enabled, sorted."""
        return ()

    def grants(self, schemas: tuple[str, ...]) -> tuple[TableGrant, ...]:
        """The privileges granted on the tables of the default schema and of `schemas` (not their owners')."""
        return ()

    def extensions(self) -> tuple[Extension, ...]:
        """The extensions the database has (none on engines without them)."""
        return ()

    def functions(self, schemas: tuple[str, ...]) -> tuple[Function, ...]:
        """The functions and procedures of the default schema and of `schemas` (none an extension brought), sorted
        by name and arguments."""
        return ()


def _action(value: str | None) -> str | None:
    """NO ACTION is what an absent action means; spell both the same way so they compare equal."""
    if value is None or value.upper() == "NO ACTION":
        return None
    return value.upper()


def _initially(value: str | None) -> str | None:
    """INITIALLY IMMEDIATE is what an absent INITIALLY means."""
    if value is None or value.upper() == "IMMEDIATE":
        return None
    return value.upper()


def _sort_key(obj: Any) -> tuple[str, str]:
    return (getattr(obj, "name", None) or "", repr(obj))


