"""A `Schema` in Atlas's HCL, as ``atlas schema inspect`` prints it by default: a ``table`` block per table
(``schema = schema.NAME``, its columns with ``null`` and ``type``, ``default``, the primary key, indexes, foreign
keys and checks), ``view`` blocks, and the ``schema`` blocks last. Types are the engine's, as it spelled them
back, lower-cased (Atlas prints them as HCL expressions: ``type = varchar(255)``)."""

from __future__ import annotations

import json
import re

from atlembic.schema.model import Column, ForeignKey, Schema, Table, split_name

__all__ = ["schema_hcl"]

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPE = re.compile(r"[a-z_][a-z0-9_]*(\([0-9, ]+\))?")  # an HCL expression: int, varchar(255), numeric(10, 2)


def schema_hcl(schema: Schema, default: str) -> str:
    """`schema` as Atlas's HCL; unqualified tables are in schema `default`."""
    out: list[str] = []
    for table in sorted(schema.tables, key=lambda t: t.name):
        out.extend(_table(table, default))
    for view in sorted(schema.views, key=lambda v: v.name):
        qualifier, name = split_name(view.name)
        out += [f"view {_q(name)} {{", f"  schema = {_ref('schema', qualifier or default)}",
                f"  as     = {_s(view.definition)}", "}"]
    for name in sorted({default, *schema.schemas}):
        out += [f"schema {_q(name)} {{", "}"]
    return "\n".join(out) + "\n"


def _table(table: Table, default: str) -> list[str]:
    qualifier, name = split_name(table.name)
    lines = [f"table {_q(name)} {{", f"  schema = {_ref('schema', qualifier or default)}"]
    for column in table.columns:
        lines += _column(column)
    if table.primary_key is not None:
        lines += ["  primary_key {", f"    columns = {_columns(table.primary_key.columns)}", "  }"]
    for number, fk in enumerate(table.foreign_keys):
        lines += _foreign_key(fk, default, number)
    for index in sorted(table.indexes, key=lambda i: i.name):
        lines.append(f"  index {_q(index.name)} {{")
        if index.unique:
            lines.append("    unique  = true")
        if all(p.column is not None for p in index.parts):
            lines.append(f"    columns = {_columns(tuple(str(p.column) for p in index.parts))}")
        else:
            lines += [f"    on {{\n      expr = {_s(p.expression or '')}\n    }}" if p.column is None
                      else f"    on {{\n      column = column.{p.column}\n    }}" for p in index.parts]
        if index.where:
            lines.append(f"    where   = {_s(index.where)}")
        lines.append("  }")
    for unique in table.uniques:
        lines += [f"  unique {_q(unique.name or '_'.join(unique.columns))} {{",
                  f"    columns = {_columns(unique.columns)}", "  }"]
    for number, check in enumerate(table.checks):
        lines += [f"  check {_q(check.name or str(number))} {{", f"    expr = {_s(check.expression)}", "  }"]
    if table.comment:
        lines.append(f"  comment = {_s(table.comment)}")
    return [*lines, "}"]


def _column(column: Column) -> list[str]:
    lines = [f"  column {_q(column.name)} {{", f"    null = {'true' if column.nullable else 'false'}",
             f"    type = {_type(column.type)}"]
    if column.default is not None:
        lines.append(f"    default = {_default(column.default)}")
    if column.comment:
        lines.append(f"    comment = {_s(column.comment)}")
    return [*lines, "  }"]


def _foreign_key(fk: ForeignKey, default: str, number: int) -> list[str]:
    """A foreign key block; one without a name (SQLite's) is called by its number, as Atlas calls it."""
    qualifier, ref = split_name(fk.ref_table)
    ref_table = f"table.{ref}" if qualifier is None or qualifier == default else f"table.{qualifier}.{ref}"
    lines = [f"  foreign_key {_q(fk.name or str(number))} {{", f"    columns     = {_columns(fk.columns)}",
             f"    ref_columns = [{', '.join(f'{ref_table}.column.{c}' for c in fk.ref_columns)}]",
             f"    on_update   = {(fk.on_update or 'NO ACTION').replace(' ', '_')}",
             f"    on_delete   = {(fk.on_delete or 'NO ACTION').replace(' ', '_')}"]
    return [*lines, "  }"]


def _type(spelled: str) -> str:
    """A type as Atlas writes it: an HCL expression (``varchar(255)``), quoted when it is not one."""
    text = spelled.lower()
    return text if _TYPE.fullmatch(text) else f"sql({_s(spelled)})"


def _default(value: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    if re.fullmatch(r"'([^']|'')*'", value):
        return _s(value[1:-1].replace("''", "'"))
    return f"sql({_s(value)})"


def _columns(names: tuple[str, ...]) -> str:
    return "[" + ", ".join(_ref("column", n) for n in names) + "]"


def _ref(kind: str, name: str) -> str:
    return f"{kind}.{name}" if _BARE.fullmatch(name) else f"{kind}[{_s(name)}]"


def _q(name: str) -> str:
    return json.dumps(name)


def _s(text: str) -> str:
    return json.dumps(text)
