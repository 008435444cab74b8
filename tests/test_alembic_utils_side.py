"""The alembic_utils column of docs/coverage.md (tests/support/alembic_utils_side.py): which cases it measures, the
entities it registers for them, and two measurements pinned on a real server."""

from __future__ import annotations

import pytest

from tests.support.alembic_side import case_for, cases_for
from tests.support.alembic_utils_side import entity_of, object_statements, run_alembic_utils
from tests.support.cases import ROW_SECURITY, Case, _with_ddl, users

UNUSED = "postgresql://unused.invalid/db"  # never connected: these cases are not measured


def test_every_object_of_the_postgresql_cases_is_an_entity_named_as_its_statement() -> None:
    found = set()
    for case in cases_for("postgresql"):
        for sql in (*object_statements(case.a), *object_statements(case.b)):
            entity = entity_of(sql)
            if entity is not None:
                found.add((type(entity).__name__, entity.schema, entity.signature))
    assert found == {("PGView", "public", "user_names"), ("PGMaterializedView", "public", "user_scores"),
                     ("PGFunction", "public", "fill_score()"), ("PGTrigger", "public", "fill_score"),
                     ("PGFunction", "public", "score_or(s integer)"), ("PGPolicy", "public", "low_scores"),
                     ("PGExtension", "public", "citext"),
                     ("PGGrantTable", "public", "PGGrantTable: public.users.coverage_reader.SELECT")}


def test_a_case_without_objects_or_with_one_alembic_utils_cannot_express_is_not_measured() -> None:
    assert entity_of(ROW_SECURITY) is None
    # Shared by both models (policy-added) it is table setup, measured; made by model B alone, not expressible.
    assert ROW_SECURITY in object_statements(case_for("postgresql", "policy-added").a)
    unexpressed = Case("row-security-enabled", users(), _with_ddl(users(), ROW_SECURITY))
    for case in (case_for("postgresql", "add-index"), unexpressed):
        assert run_alembic_utils(None, UNUSED, case) is None  # type: ignore[arg-type]


@pytest.mark.slow  # two Alembic runs on PostgreSQL
def test_alembic_utils_creates_a_view_and_misses_the_last_one_dropped(pg_env) -> None:  # noqa: ANN001
    for case_id, kind in (("view-added", "correct"), ("view-dropped", "missed")):
        dev, url = pg_env()
        outcome = run_alembic_utils(dev, url, case_for("postgresql", case_id))
        assert outcome is not None and outcome.kind == kind, (case_id, outcome)
