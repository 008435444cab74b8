"""Model A -> model B round trips on real SQLite and PostgreSQL databases.

Each case applies A, inserts rows, plans and applies the migration to B, and asserts that the target
reflects equal to a fresh create_all(B), that re-planning is in sync, that the rows survived and that the planned SQL
is its golden file (tests/support/golden.py). The cases are
tests/support/cases.py's, the harness tests/support/roundtrip.py.
"""

from __future__ import annotations

import pytest

from tests.support.cases import Case, build_cases
from tests.support.golden import compare_golden
from tests.support.roundtrip import run_round_trip


def _cases(dialect: str) -> list[Case]:
    return [c for c in build_cases() if dialect in c.dialects]


@pytest.mark.parametrize("case", _cases("sqlite"), ids=lambda c: c.id)
def test_round_trip_sqlite(case: Case, sqlite_env, tmp_path) -> None:
    _check("sqlite", case, *sqlite_env(tmp_path), tmp_path)


@pytest.mark.parametrize("case", _cases("postgresql"), ids=lambda c: c.id)
@pytest.mark.slow  # server-heavy: a full round trip per case on PostgreSQL
def test_round_trip_postgresql(case: Case, pg_env, tmp_path) -> None:
    _check("postgresql", case, *pg_env(), tmp_path)


def _check(dialect: str, case: Case, dev, url: str, tmp_path) -> None:
    text, survived = run_round_trip(dev, url, tmp_path, case.a, case.b, case.rows, allow_destructive=not case.gated)
    compare_golden(dialect, case.id, text)
    for fragment in case.sql:
        assert fragment in text, f"{fragment!r} not in planned migration:\n{text}"
    for table, after in survived.items():
        before = sorted(case.rows[table], key=lambda r: r["id"])
        assert len(after) == len(before), f"rows of {table} lost: {after}"
        for old, new in zip(before, after, strict=True):
            assert {k: str(v) for k, v in new.items()} == {k: str(old[k]) for k in new}
