"""Golden SQL: the migration planned for every round-trip case, per dialect, compared byte for byte with
tests/fixtures/golden/<dialect>/<case>.sql (as Atlas keeps testdata/ per driver), so the SQL users read is pinned
and every change to it shows in review.

    ATLEMBIC_REGENERATE_GOLDEN=1 python -m pytest tests/test_coverage2_golden.py   # rewrite the files

A case's migration is planned from model A's schema (itself planned and written first) to model B, on the
dialect's dev database, and verified there, as `revision --autogenerate` does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from atlembic.migrate.directory import MigrationDir
from tests.support.cases import Case, build_cases, mysql_only_cases
from tests.support.roundtrip import metadata_of, plan_and_write

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
REGENERATE = os.environ.get("ATLEMBIC_REGENERATE_GOLDEN") == "1"


def _cases(dialect: str) -> list[Case]:
    extra = mysql_only_cases() if dialect == "mysql" else []
    return [c for c in [*build_cases(), *extra] if dialect in c.dialects]


def _planned(dev, case: Case, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    directory = MigrationDir(tmp_path / "migrations")
    assert plan_and_write(dev, directory, metadata_of(case.a), "a") is not None
    text = plan_and_write(dev, directory, metadata_of(case.b), "b")
    assert text is not None, "A -> B planned nothing"
    return text


def _compare(dialect: str, case: Case, text: str) -> None:
    path = GOLDEN / dialect / f"{case.id}.sql"
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no golden file {path}: run with ATLEMBIC_REGENERATE_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{path} differs from the planned SQL:\n{text}"


def _ids(dialect: str) -> list:  # type: ignore[type-arg]
    return [pytest.param(c, id=c.id) for c in _cases(dialect)]


@pytest.mark.parametrize("case", _ids("sqlite"))
def test_golden_sqlite(case: Case, sqlite_dev, tmp_path: Path) -> None:  # noqa: ANN001
    _compare("sqlite", case, _planned(sqlite_dev, case, tmp_path))


@pytest.mark.slow  # a PostgreSQL dev database per plan
@pytest.mark.parametrize("case", _ids("postgresql"))
def test_golden_postgresql(case: Case, pg_dev, tmp_path: Path) -> None:  # noqa: ANN001
    _compare("postgresql", case, _planned(pg_dev, case, tmp_path))


@pytest.mark.slow  # a MariaDB dev database per plan
@pytest.mark.parametrize("case", _ids("mysql"))
def test_golden_mysql(case: Case, mysql_dev, tmp_path: Path) -> None:  # noqa: ANN001
    _compare("mysql", case, _planned(mysql_dev, case, tmp_path))


def test_every_golden_file_belongs_to_a_case() -> None:
    """A golden file of a case that no longer exists (renamed, removed) is stale."""
    for dialect in ("sqlite", "postgresql", "mysql"):
        wanted = {f"{c.id}.sql" for c in _cases(dialect)}
        present = {p.name for p in (GOLDEN / dialect).glob("*.sql")}
        assert present <= wanted, f"{dialect}: golden files without a case: {sorted(present - wanted)}"
