"""PostgreSQL reflection: enum types, table comments and index options."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from atlembic.migrate.revisions import postgres_bound_schema
from atlembic.schema.model import (
    Check,
    Enum,
    Extension,
    Function,
    Index,
    IndexPart,
    Policy,
    Sequence,
    Table,
    TableGrant,
    Trigger,
    View,
    quote_name,
)
from atlembic.schema.reflector import Reflector, _by_table
from atlembic.schema.sqltext import split_top_level

if TYPE_CHECKING:  # not imported at run time: sa.inspect() of a PostgreSQL connection gives one
    from sqlalchemy.dialects.postgresql.base import PGInspector


# A string literal cast to VARCHAR and then to TEXT: `('a'::character varying)::text`, parenthesised or not.
_VARCHAR_LITERAL_AS_TEXT = re.compile(
    r"\(('(?:[^']|'')*')::character varying\)::text|('(?:[^']|'')*')::character varying::text")
# An array of literals cast as a whole: `(ARRAY['a'::character varying])::text[]`, parenthesised or not.
_CAST_ARRAY = re.compile(r"\(ARRAY\[([^\[\]]*)\]\)::([\w ]+)\[\]|ARRAY\[([^\[\]]*)\]::([\w ]+)\[\]")


def canonical_check(expression: str) -> str:
    """One spelling for what PostgreSQL re-spells each time it parses its own output (a CHECK's expression, a
    partial index's WHERE).

    `CHECK (status IN ('a', 'b'))` on a VARCHAR column is stored as `(ARRAY['a'::character varying, ...])::text[]`;
    that text, executed again, is stored as `ARRAY[('a'::character varying)::text, ...]` (a non-native enum's
    CHECK, copied by a plan, would never compare equal to the models'). Both are `ARRAY['a'::text, ...]`, which
    PostgreSQL keeps as it is: the cast moves into the elements, and a literal cast to VARCHAR then TEXT is the
    literal as TEXT."""
    def elements(match: re.Match[str]) -> str:
        items, type_ = (match.group(1), match.group(2)) if match.group(1) is not None else match.group(3, 4)
        return "ARRAY[" + ", ".join(f"{item}::{type_}" for item in split_top_level(items)) + "]"

    expression = _CAST_ARRAY.sub(elements, expression)
    return _VARCHAR_LITERAL_AS_TEXT.sub(lambda m: f"{m.group(1) or m.group(2)}::text", expression)


_SEQUENCES_SQL = """
SELECT c.relname, s.seqstart, s.seqincrement, format_type(s.seqtypid, NULL), s.seqmin, s.seqmax, s.seqcycle,
       s.seqcache, (SELECT CASE WHEN tn.nspname = current_schema() THEN '' ELSE tn.nspname || '.' END
                           || t.relname || '.' || a.attname
                    FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                    JOIN pg_namespace tn ON tn.oid = t.relnamespace
                    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a'
                      AND d.refclassid = 'pg_class'::regclass)
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND NOT EXISTS (
  SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('i', 'e'))
ORDER BY c.relname
"""


# Views and materialized views of the default schema and the named ones, but not an extension's own.
_VIEWS_SQL = """
SELECT CASE WHEN n.nspname = current_schema() THEN '' ELSE n.nspname || '.' END || c.relname, c.relkind = 'm',
       pg_get_viewdef(c.oid, true), c.reloptions, c.relispopulated,
       ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum),
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
       obj_description(c.oid, 'pg_class')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND (n.nspname = current_schema() OR n.nspname = ANY(:schemas)) AND NOT EXISTS (
  SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1
"""


# Functions and procedures (not aggregates or window functions), an extension's own left out. The definition is
# pg_get_functiondef's, which always names the schema: the default one's name is taken out below.
_FUNCTIONS_SQL = """
SELECT CASE WHEN n.nspname = current_schema() THEN '' ELSE n.nspname || '.' END || p.proname,
       oidvectortypes(p.proargtypes), pg_get_function_arguments(p.oid), p.prokind = 'p',
       CASE WHEN p.prokind = 'p' THEN NULL ELSE pg_get_function_result(p.oid) END,
       pg_get_functiondef(p.oid), CASE WHEN n.nspname = current_schema() THEN quote_ident(n.nspname) END,
       obj_description(p.oid, 'pg_proc')
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND (n.nspname = current_schema() OR n.nspname = ANY(:schemas)) AND NOT EXISTS (
  SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""

# Triggers a user made (not those behind foreign keys, not a partition's copy of its parent's), spelled by
# pg_get_triggerdef (pretty: the table and the function are qualified only outside the search path).
_TRIGGERS_SQL = """
SELECT t.tgname, CASE WHEN n.nspname = current_schema() THEN '' ELSE n.nspname || '.' END || c.relname,
       pg_get_triggerdef(t.oid, true), obj_description(t.oid, 'pg_trigger')
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND t.tgparentid = 0  -- not the copies a trigger of a partitioned table makes
  AND (n.nspname = current_schema() OR n.nspname = ANY(:schemas)) AND NOT EXISTS (
  SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""


_QUALIFIED = "CASE WHEN n.nspname = current_schema() THEN '' ELSE n.nspname || '.' END || c.relname"
_POLICIES_SQL = f"""
SELECT p.polname, {_QUALIFIED}, p.polpermissive,
       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE'
                     ELSE 'ALL' END,
       CASE WHEN p.polroles = '{{0}}' THEN 'PUBLIC'
            ELSE array_to_string(ARRAY(SELECT quote_ident(rolname) FROM pg_roles WHERE oid = ANY(p.polroles)
                                       ORDER BY rolname), ', ') END,
       pg_get_expr(p.polqual, p.polrelid, true), pg_get_expr(p.polwithcheck, p.polrelid, true),
       obj_description(p.oid, 'pg_policy')
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() OR n.nspname = ANY(:schemas)
ORDER BY 2, 1
"""
_ROW_SECURITY_SQL = f"""
SELECT {_QUALIFIED} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relrowsecurity AND c.relkind IN ('r', 'p') AND (n.nspname = current_schema() OR n.nspname = ANY(:schemas))
ORDER BY 1
"""

# The privileges granted on tables (their ACLs exploded, the owner's own left out), on the whole table (column NULL)
# or on one column.
_GRANTEE = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END"
_GRANTS_SQL = f"""
SELECT {_QUALIFIED}, {_GRANTEE}, a.privilege_type, a.is_grantable, NULL
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) a
WHERE c.relkind IN ('r', 'p') AND a.grantee <> c.relowner
  AND (n.nspname = current_schema() OR n.nspname = ANY(:schemas))
UNION ALL
SELECT {_QUALIFIED}, {_GRANTEE}, a.privilege_type, a.is_grantable, att.attname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute att ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
CROSS JOIN LATERAL aclexplode(att.attacl) a
WHERE c.relkind IN ('r', 'p') AND a.grantee <> c.relowner
  AND (n.nspname = current_schema() OR n.nspname = ANY(:schemas))
ORDER BY 1, 2, 3, 5
"""

# Every extension but plpgsql, which each database has from the start.
_EXTENSIONS_SQL = """
SELECT e.extname, CASE WHEN n.nspname = current_schema() THEN NULL ELSE n.nspname END
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname <> 'plpgsql'
ORDER BY 1
"""

# The tables an extension made (PostGIS's spatial_ref_sys): its own, never the project's.
_EXTENSION_TABLES_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
WHERE d.deptype = 'e' AND c.relkind IN ('r', 'p') AND n.nspname = COALESCE(CAST(:schema AS text), current_schema())
"""


class PostgresReflector(Reflector):
    dialect_name = "postgresql"

    def check(self, info: dict[str, Any]) -> Check:
        return Check(canonical_check(info["sqltext"]), info.get("name"))

    def views(self, schemas: tuple[str, ...]) -> tuple[View, ...]:
        rows = self.conn.execute(sa.text(_VIEWS_SQL), {"schemas": list(schemas)}).all()
        quote = self.conn.dialect.identifier_preparer.quote
        out = []
        for name, materialized, query, options, populated, column_names, column_types, comment in rows:
            spelled = quote_name(name, quote)
            with_options = f" WITH ({', '.join(options)})" if options else ""
            kind = "MATERIALIZED VIEW" if materialized else "VIEW"
            data = ("\nWITH DATA" if populated else "\nWITH NO DATA") if materialized else ""
            definition = f"CREATE {kind} {spelled}{with_options} AS\n{query.strip().rstrip(';')}{data}"
            out.append(View(name, definition, materialized, tuple(zip(column_names, column_types, strict=True)),
                            comment))
        return tuple(out)

    def policies(self, schemas: tuple[str, ...]) -> tuple[Policy, ...]:
        rows = self.conn.execute(sa.text(_POLICIES_SQL), {"schemas": list(schemas)}).all()
        quote = self.conn.dialect.identifier_preparer.quote
        out = []
        for name, table, permissive, command, roles, using, check, comment in rows:
            on = quote_name(table, quote)
            definition = (f"CREATE POLICY {quote(name)} ON {on} AS {'PERMISSIVE' if permissive else 'RESTRICTIVE'} "
                          f"FOR {command} TO {roles}" + (f" USING ({using})" if using is not None else "")
                          + (f" WITH CHECK ({check})" if check is not None else ""))
            out.append(Policy(name, table, definition, comment))
        return tuple(out)

    def row_security(self, schemas: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.conn.execute(sa.text(_ROW_SECURITY_SQL), {"schemas": list(schemas)}).scalars().all())

    def grants(self, schemas: tuple[str, ...]) -> tuple[TableGrant, ...]:
        rows = self.conn.execute(sa.text(_GRANTS_SQL), {"schemas": list(schemas)}).all()
        whole = {(table, role, privilege): grantable for table, role, privilege, grantable, column in rows
                 if column is None}
        columns: dict[tuple[str, str, str, bool], list[str]] = {}
        for table, role, privilege, grantable, column in rows:
            if column is not None and (table, role, privilege) not in whole:  # the table's grant covers them
                columns.setdefault((table, role, privilege, grantable), []).append(column)
        out = [TableGrant(table, role, privilege, (), grantable)
               for (table, role, privilege), grantable in whole.items()]
        out += [TableGrant(table, role, privilege, tuple(sorted(names)), grantable)
                for (table, role, privilege, grantable), names in columns.items()]
        return tuple(sorted(out, key=lambda g: (g.table, g.role, g.privilege)))

    def extensions(self) -> tuple[Extension, ...]:
        return tuple(Extension(name, schema) for name, schema in self.conn.execute(sa.text(_EXTENSIONS_SQL)))

    def tables(self, schema: str | None, skip: set[str], only: Collection[str] | None = None) -> list[Table]:
        owned = self.conn.execute(sa.text(_EXTENSION_TABLES_SQL), {"schema": schema}).scalars().all()
        return super().tables(schema, skip | set(owned), only)

    def functions(self, schemas: tuple[str, ...]) -> tuple[Function, ...]:
        rows = self.conn.execute(sa.text(_FUNCTIONS_SQL), {"schemas": list(schemas)}).all()
        out = []
        for name, arguments, parameters, procedure, returns, definition, default_schema, comment in rows:
            kind = "PROCEDURE" if procedure else "FUNCTION"
            if default_schema is not None:  # the target's default schema may have another name
                definition = definition.replace(f"{kind} {default_schema}.", f"{kind} ", 1)
            out.append(Function(name, arguments, returns, definition.strip(), procedure, parameters, comment))
        return tuple(out)

    def triggers(self, schemas: tuple[str, ...]) -> tuple[Trigger, ...]:
        rows = self.conn.execute(sa.text(_TRIGGERS_SQL), {"schemas": list(schemas)}).all()
        return tuple(Trigger(*row) for row in rows)

    def unmanaged_objects(self) -> list[str]:
        # Aggregates and window functions that an extension did not bring.
        rows = self.conn.exec_driver_sql(
            "SELECT p.proname FROM pg_proc p LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' "
            "WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('a', 'w') AND d.objid IS NULL "
            "ORDER BY 1")
        return [f'aggregate "{r[0]}"' for r in rows]

    def schema_names(self, skip: set[str]) -> tuple[str, ...]:
        if postgres_bound_schema(self.conn.engine.url) is not None:
            return ()  # a schema-bound target (search_path=tenant_7) is its schema alone, as in Atlas
        default = self.inspector.default_schema_name
        return tuple(sorted(
            s for s in self.inspector.get_schema_names()
            if s != default and s not in skip and s != "information_schema" and not s.startswith("pg_")
        ))

    def indexes(self, names: list[str], schema: str | None = None) -> dict[str, list[Index]]:
        result: dict[str, list[Index]] = {}
        multi = self.inspector.get_multi_indexes(filter_names=names, schema=schema)
        for table, infos in _by_table(multi).items():
            # Indexes that back a UNIQUE constraint are the constraint; compare them as such.
            result[table] = [self._index(i) for i in infos if not i.get("duplicates_constraint")]
        return result

    @staticmethod
    def _index(info: dict[str, Any]) -> Index:
        sorting = info.get("column_sorting") or {}
        expressions = info.get("expressions") or []
        options = info.get("dialect_options") or {}
        parts = []
        for pos, column in enumerate(info["column_names"]):
            if column is None:
                expression = expressions[pos]
                desc = "desc" in sorting.get(expression, ())
                parts.append(IndexPart(expression=expression, descending=desc))
            else:
                parts.append(IndexPart(column=column, descending="desc" in sorting.get(column, ())))
        using = options.get("postgresql_using")
        return Index(
            name=info["name"],
            parts=tuple(parts),
            unique=bool(info.get("unique")),
            where=canonical_check(where) if (where := options.get("postgresql_where")) else None,
            using=None if using in (None, "btree") else using,
            include=tuple(options.get("postgresql_include") or ()),
            nulls_not_distinct=bool(options.get("postgresql_nulls_not_distinct")),
        )

    def table_comments(self, names: list[str], schema: str | None = None) -> dict[str, str | None]:
        comments = _by_table(self.inspector.get_multi_table_comment(filter_names=names, schema=schema))
        return {name: c.get("text") for name, c in comments.items()}

    def enums(self) -> tuple[Enum, ...]:
        return tuple(
            Enum(e["name"], tuple(e["labels"]))
            for e in sorted(cast("PGInspector", self.inspector).get_enums(), key=lambda e: e["name"])
            if e.get("visible", True)
        )

    def sequences(self) -> tuple[Sequence, ...]:
        # An IDENTITY column's sequence ('i') is part of that column; a SERIAL's is owned ('a') by its column.
        rows = self.conn.execute(sa.text(_SEQUENCES_SQL)).all()
        return tuple(Sequence(name, start, increment, data_type, min_value, max_value, cycle, cache, owned_by)
                     for name, start, increment, data_type, min_value, max_value, cycle, cache, owned_by in rows)
