"""Does a planned change lose data? Dropped tables, columns and views, narrowed column types, dropped enum labels.

The one classification the downgrade gate applies on top of the analyzers (`downgrade_findings`)."""

from __future__ import annotations

import re

from atlembic.diff import (
    DropColumn,
    DropExtension,
    DropFunction,
    DropPolicy,
    DropTable,
    DropTrigger,
    DropView,
    ModifyColumn,
    ModifyEnum,
    ModifyTable,
    SchemaDiff,
)

_INT_RANK = {"smallint": 1, "int2": 1, "tinyint": 0, "mediumint": 2, "integer": 3, "int": 3, "int4": 3,
             "bigint": 4, "int8": 4}
_SYNONYMS = {"character varying": "varchar", "character": "char", "nvarchar": "varchar", "varchar2": "varchar",
             "double precision": "double", "decimal": "numeric", "float8": "double", "real": "float4"}
_UNBOUNDED_TEXT = {"text", "clob", "mediumtext", "longtext", "string"}
_BOUNDED_TEXT = {"varchar", "char", "tinytext"}


def _parse_type(spec: str) -> tuple[str, tuple[int, ...]]:
    m = re.fullmatch(r"\s*([^(]*?)\s*(?:\(([^)]*)\))?\s*", spec.lower())
    if m is None:
        return spec.lower(), ()
    name = _SYNONYMS.get(m[1], m[1])
    args = tuple(int(a) for a in re.findall(r"\d+", m[2] or ""))
    return name, args


def narrows(old: str, new: str) -> bool:
    """True unless every value of type `old` surely fits `new` (same or a wider type)."""
    (o, oa), (n, na) = _parse_type(old), _parse_type(new)
    if (o, oa) == (n, na):
        return False
    if o in _INT_RANK and n in _INT_RANK:
        return _INT_RANK[n] < _INT_RANK[o]
    if o in _INT_RANK and n == "numeric":
        return bool(na) and na[0] - (na[1] if len(na) > 1 else 0) < 19
    if o == n:
        if not na:
            return False  # varchar(30) -> varchar, numeric(10,2) -> numeric
        if not oa:
            return True  # varchar -> varchar(30)
        return any(b < a for a, b in zip(oa, na, strict=False))
    if o in _BOUNDED_TEXT and n in _UNBOUNDED_TEXT:
        return False
    if o in _BOUNDED_TEXT | _UNBOUNDED_TEXT and n in _BOUNDED_TEXT:
        return not na or (bool(oa) and na[0] < oa[0]) or not oa
    return True  # another type family: the conversion may fail or lose data


def data_loss(diff: SchemaDiff) -> list[str]:
    """The planned changes that drop data: tables, columns, narrower column types, enum labels, views, functions,
    triggers, policies and extensions (what the models stop declaring; a view re-created around a change is not a
    change of the diff)."""
    found: list[str] = []
    for change in diff.changes:
        if isinstance(change, DropTable):
            found.append(f'drop table "{change.table.name}"')
        elif isinstance(change, DropView):
            found.append(f'drop {change.view.kind} "{change.view.name}"')
        elif isinstance(change, DropFunction):
            found.append(f'drop {change.function.kind} "{change.function.key}"')
        elif isinstance(change, DropPolicy):
            found.append(f'drop policy "{change.policy.name}" on "{change.policy.table}"')
        elif isinstance(change, DropExtension):
            found.append(f'drop extension "{change.extension.name}"')
        elif isinstance(change, DropTrigger):
            found.append(f'drop trigger "{change.trigger.name}"')
        elif isinstance(change, ModifyEnum):
            gone = [v for v in change.current.values if v not in change.desired.values]
            if gone:
                found.append(f'enum "{change.current.name}": drop values {gone}')
        elif isinstance(change, ModifyTable):
            for sub in change.changes:
                if isinstance(sub, DropColumn) and sub.column.computed is None:  # generated: recomputable
                    found.append(f'table "{change.name}": drop column "{sub.column.name}"')
                elif isinstance(sub, ModifyColumn) and "type" in sub.changed and narrows(
                    sub.current.type, sub.desired.type
                ):
                    found.append(
                        f'table "{change.name}": column "{sub.current.name}" type {sub.current.type} -> '
                        f"{sub.desired.type}"
                    )
    return found
