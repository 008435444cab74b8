"""Golden SQL files (tests/support/golden.py): each belongs to a round-trip case of its dialect. The round trips
themselves compare what they planned with their file and fail when it is missing; this catches the stale ones."""

from __future__ import annotations

from tests.support.cases import Case, build_cases, mysql_only_cases
from tests.support.golden import GOLDEN


def _cases(dialect: str) -> list[Case]:
    extra = mysql_only_cases() if dialect == "mysql" else []
    return [c for c in [*build_cases(), *extra] if dialect in c.dialects]


def test_every_golden_file_belongs_to_a_case() -> None:
    """A golden file of a case that no longer exists (renamed, removed) is stale."""
    for dialect in ("sqlite", "postgresql", "mysql"):
        wanted = {f"{c.id}.sql" for c in _cases(dialect)}
        present = {p.name for p in (GOLDEN / dialect).glob("*.sql")}
        assert present <= wanted, f"{dialect}: golden files without a case: {sorted(present - wanted)}"
