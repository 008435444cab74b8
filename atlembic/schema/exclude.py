"""Atlas's ``exclude`` globs (``--exclude``, an atlas.hcl ``exclude`` / ``migration { exclude }``): objects whose
names match are left out of a `Schema`, as Atlas leaves them out of what it inspects.

A pattern is a glob (``*``, ``?``, ``[ab]``) per dot-separated part, as Atlas reads it on a connection bound to
one schema: ``users`` (a table, view, trigger, enum, sequence, function or procedure (every overload of the name),
policy or extension; a table's triggers, policies, row-level security and grants go with it), ``users.age`` /
``*.[ab]*`` (a column, index or constraint of the matching tables), and ``app.users`` / ``app.users.age`` for a
table (or another object but an extension) of the named schema ``app``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from fnmatch import fnmatchcase

from atlembic.schema.model import Schema, Table, split_name

__all__ = ["exclude_objects"]


def exclude_objects(schema: Schema, patterns: Sequence[str]) -> Schema:
    """`schema` without the objects `patterns` match (unchanged when there are none)."""
    if not patterns:
        return schema
    globs = [tuple(p.split(".")) for p in patterns]

    def top(name: str) -> bool:
        """A top-level object called `name` (``schema.name`` for a named schema's)."""
        qualifier, bare = split_name(name)
        path = (qualifier, bare) if qualifier else (bare,)
        return any(len(g) == len(path) and all(fnmatchcase(n, p) for n, p in zip(path, g, strict=True))
                   for g in globs)

    def children(table: Table) -> list[str]:
        """The child patterns (the part after the table's) of the patterns that reach into `table`."""
        qualifier, bare = split_name(table.name)
        path = (qualifier, bare) if qualifier else (bare,)
        return [g[-1] for g in globs
                if len(g) == len(path) + 1 and all(fnmatchcase(n, p) for n, p in zip(path, g[:-1], strict=True))]

    def matches(name: str | None, child: list[str]) -> bool:
        return name is not None and any(fnmatchcase(name, p) for p in child)

    tables = []
    for table in schema.tables:
        if top(table.name):
            continue
        child = children(table)
        if child:
            table = replace(
                table, columns=tuple(c for c in table.columns if not matches(c.name, child)),
                indexes=tuple(i for i in table.indexes if not matches(i.name, child)),
                uniques=tuple(u for u in table.uniques if not matches(u.name, child)),
                foreign_keys=tuple(f for f in table.foreign_keys if not matches(f.name, child)),
                checks=tuple(c for c in table.checks if not matches(c.name, child)))
        tables.append(table)
    return replace(schema, tables=tuple(tables),
                   views=tuple(v for v in schema.views if not top(v.name)),
                   triggers=tuple(t for t in schema.triggers if not top(t.name) and not top(t.table)),
                   functions=tuple(f for f in schema.functions if not top(f.name)),
                   policies=tuple(p for p in schema.policies if not top(p.name) and not top(p.table)),
                   row_security=tuple(t for t in schema.row_security if not top(t)),
                   extensions=tuple(e for e in schema.extensions if not top(e.name)),
                   grants=tuple(g for g in schema.grants if not top(g.table)),
                   enums=tuple(e for e in schema.enums if not top(e.name)),
                   sequences=tuple(s for s in schema.sequences if not top(s.name)),
                   schemas=tuple(s for s in schema.schemas if not any(g == (s,) for g in globs)))
