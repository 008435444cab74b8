"""Whether a statement that a killed run left unrecorded took effect on the target, told by the schema.

A statement that cannot commit together with its record (MySQL's DDL, CREATE INDEX CONCURRENTLY) is
announced in the revisions row before it runs (atlembic.migrate.executor). When the run died there, the next
one replays the directory on a dev database up to just before that statement and just after it: the objects
the statement changes must be on the target as they are after it (it took effect: record it, do not run it
again) or as they are before it (run it). Anything else, or a statement that changes no object the schema
model holds, is an error naming the statement: never a silent second run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from atlembic.devdb import DevDatabase
from atlembic.engines import engine_for, inspect_schema
from atlembic.errors import AtlembicError, one_line
from atlembic.migrate.directory import MigrationFile, files_to_reach
from atlembic.migrate.executor import execute_as_written
from atlembic.migrate.transactions import autocommit
from atlembic.replay.replayed import replayed_database
from atlembic.schema.model import Function, Schema

__all__ = ["statement_took_effect"]


def statement_took_effect(
    dev: DevDatabase, target: Connection, files: Sequence[MigrationFile], file: MigrationFile, index: int
) -> bool:
    """Whether statement `index` of `file` (one of `files`, the directory) took effect on `target`, whose
    revisions say every file before `file` and the statements of `file` before `index` are applied."""
    statements = file.statements(engine_for(target).scan_options)
    before_files = files_to_reach(files, list(files).index(file) - 1)
    where = f"{file.name}:{statements[index].line}: the last run stopped while statement {index + 1} ran"
    try:
        with replayed_database(dev, before_files) as engine, engine.connect() as raw:
            conn = autocommit(raw)
            for stmt in statements[:index]:
                execute_as_written(conn, stmt.text)
            before = inspect_schema(conn)
            execute_as_written(conn, statements[index].text)
            after = inspect_schema(conn)
    except SQLAlchemyError as exc:
        raise AtlembicError(f"{where}; finding out on the dev database whether it took effect failed: "
                            f"{one_line(exc, first_line=True)}; nothing was applied") from exc
    old, new = _objects(before), _objects(after)
    changed = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
    if not changed:
        raise AtlembicError(f"{where}, and the schema cannot tell whether it took effect (it changes no table, "
                            "index, view, type or sequence): check it by hand; nothing was applied")
    now = _objects(inspect_schema(target))
    if all(now.get(key) == new.get(key) for key in changed):
        return True
    if all(now.get(key) == old.get(key) for key in changed):
        return False
    names = ", ".join(sorted(f"{kind.rstrip('s')} {'.'.join(p for p in name if p)}" for kind, name in changed))
    raise AtlembicError(f"{where}, and the target's {names} match neither before nor after it: check them by "
                        "hand; nothing was applied")


def _objects(schema: Schema) -> dict[tuple[str, tuple[Any, ...]], Any]:
    """Every object of the schema model by (kind, name): tables, types, sequences, views, named schemas..."""
    out: dict[tuple[str, tuple[Any, ...]], Any] = {}
    for f in fields(schema):
        for obj in getattr(schema, f.name):
            name = (obj,) if isinstance(obj, str) else (  # a function's overloads by their argument types
                getattr(obj, "schema", None), getattr(obj, "table", None),
                obj.key if isinstance(obj, Function) else obj.name)
            out[(f.name, name)] = obj
    return out
