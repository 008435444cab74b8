"""The alembic_utils column of docs/coverage.md: Alembic's autogenerate with the case's objects registered.

A case's views, materialized views, functions, triggers, policies, extensions and grants (the statements
`tests.support.cases._with_ddl` declares on the models) are written as the alembic_utils entities a project would
register in env.py (PostgreSQL, schema ``public``), ``register_entities(<model B's entities>)`` is called as env.py
calls it, and :func:`tests.support.alembic_side.run_alembic` runs Alembic's autogenerate and applies its operations
(alembic_utils' ``create_entity`` / ``replace_entity`` / ``drop_entity`` with Alembic's own) on a real server, the
outcome classified as for plain Alembic. A case with no such objects, or with one alembic_utils has no entity for
(and that both models do not share), is not one it can express: no outcome.

Importing this module registers alembic_utils' comparator with Alembic for the whole process; with nothing
registered it compares nothing, so plain Alembic runs in the same process are unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from alembic_utils.pg_extension import PGExtension
from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_grant_table import PGGrantTable
from alembic_utils.pg_materialized_view import PGMaterializedView
from alembic_utils.pg_policy import PGPolicy
from alembic_utils.pg_trigger import PGTrigger
from alembic_utils.pg_view import PGView
from alembic_utils.replaceable_entity import ReplaceableEntity, register_entities, registry

from atlembic.devdb import DevDatabase
from tests.support.alembic_side import Outcome, run_alembic
from tests.support.cases import OBJECT_DDL, Case
from tests.support.roundtrip import Model, metadata_of

__all__ = ["entity_of", "object_statements", "run_alembic_utils"]

SCHEMA = "public"

# A CREATE statement of the corpus (unqualified names, as projects write them) -> the entity of what it creates.
_ENTITIES: list[tuple[str, Callable[[re.Match[str]], ReplaceableEntity]]] = [
    (r"CREATE MATERIALIZED VIEW (\w+) AS (.+)",
     lambda m: PGMaterializedView(schema=SCHEMA, signature=m[1], definition=m[2], with_data=True)),
    (r"CREATE VIEW (\w+) AS (.+)", lambda m: PGView(schema=SCHEMA, signature=m[1], definition=m[2])),
    (r"CREATE FUNCTION (\w+\([^)]*\)) (.+)", lambda m: PGFunction(schema=SCHEMA, signature=m[1], definition=m[2])),
    (r"CREATE TRIGGER .+", lambda m: PGTrigger.from_sql(m[0])),
    (r"CREATE POLICY .+", lambda m: PGPolicy.from_sql(m[0])),
    (r"CREATE EXTENSION (\w+)", lambda m: PGExtension(schema=SCHEMA, signature=m[1])),
    (r"GRANT (\w+) \(([\w, ]+)\) ON (\w+) TO (\w+)", lambda m: PGGrantTable(
        schema=SCHEMA, table=m[3], role=m[4], grant=m[1], columns=[c.strip() for c in m[2].split(",")])),
]


def entity_of(statement: str) -> ReplaceableEntity | None:
    """The alembic_utils entity `statement` creates, or None when alembic_utils has none for it."""
    for pattern, make in _ENTITIES:
        match = re.fullmatch(pattern, statement.strip(), re.DOTALL)
        if match:
            return make(match)
    return None


def object_statements(model: Model) -> list[str]:
    """The statements of the objects beyond tables `model` declares (`cases._with_ddl`)."""
    return list(metadata_of(model).info.get(OBJECT_DDL, []))


def run_alembic_utils(dev: DevDatabase, target_url: str, case: Case) -> Outcome | None:
    """Alembic's autogenerate A -> B with model B's objects registered as alembic_utils entities, applied to a
    database holding A and the rows; None when the case has nothing alembic_utils expresses."""
    before, after = object_statements(case.a), object_statements(case.b)
    if not before and not after:
        return None
    if any(entity_of(sql) is None and not (sql in before and sql in after) for sql in (*before, *after)):
        return None
    entities = [e for e in map(entity_of, after) if e is not None]
    registry.clear()
    register_entities(entities)
    try:
        return run_alembic(dev, target_url, case.a, case.b, case.rows)
    finally:
        registry.clear()
