"""Alembic's autogenerate vs atlembic on the round-trip cases: the measurements behind docs/coverage.md.

Per case and dialect, Alembic's side (tests/support/alembic_side.py: autogenerate with the generic env.py defaults,
applied for real) must classify exactly as pinned below for Alembic 1.20, and atlembic's round trip must be
correct. atlembic's side is a full round trip: cheap on SQLite and MariaDB, ~4 s per case on PostgreSQL, where
test_roundtrip.py already runs it for every case; so on PostgreSQL it runs here only with
ATLEMBIC_COMPARISON_FULL=1 (tests/support/coverage.py always runs both sides everywhere).

When Alembic changes or a case is added, regenerate the table (`python -m tests.support.coverage`) and pin the new
outcome here; test_coverage_doc_lists_every_case fails until the table is regenerated.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import alembic
import pytest

from tests.support.alembic_side import ALEMBIC_OUTCOMES, case_for, cases_for, run_alembic, run_atlembic

REPO = Path(__file__).resolve().parent.parent
FULL = os.environ.get("ATLEMBIC_COMPARISON_FULL") == "1"

_SHARED_MISSES = ["add-server-default", "change-server-default", "drop-server-default", "add-check",
                  "primary-key-single-to-composite", "check-expression-change"]

# Alembic 1.20's outcome per case that is not "correct"; every other case listed in CORRECT is correct.
NOT_CORRECT: dict[str, dict[str, list[str]]] = {
    "sqlite": {
        "missed": [*_SHARED_MISSES, "expression-index"],
        "error": ["widen-varchar", "varchar-to-text", "int-to-bigint", "numeric-precision", "set-not-null",
                  "drop-not-null", "add-expression-default", "add-unique-constraint", "drop-unique-constraint",
                  "add-fk", "drop-fk", "fk-on-delete", "rename-table-declared", "add-generated-column",
                  "self-referential-fk"],
        "data loss": ["rename-column-declared"],
    },
    "postgresql": {
        "missed": [*_SHARED_MISSES, "identity-added-to-existing-column", "identity-options-change",
                   "enum-add-value", "enum-remove-and-reorder-values", "enum-add-value-used-as-default",
                   "schema-drop"],
        "error": ["foreign-key-cycle", "rename-table-declared", "standalone-sequence-default", "create-enum-column",
                  "schema-create-with-table", "schema-table-modify"],
        "data loss": ["rename-column-declared"],
    },
    "mysql": {
        "missed": [*_SHARED_MISSES, "column-charset", "column-collation", "table-charset", "table-collation",
                   "table-engine", "table-charset-back-to-default", "on-update-current-timestamp",
                   "on-update-with-null-default", "drop-auto-increment", "add-auto-increment", "prefix-length-index",
                   "set-values-change", "unsigned-int"],
        # drop-fk: the index MySQL made for the FK stays behind.
        "partial": ["drop-fk", "table-charset-and-column"],
        "error": ["foreign-key-cycle", "rename-table-declared", "fk-index-changes-under-kept-fk",
                  "fk-column-type-change"],
        "data loss": ["rename-column-declared"],
    },
}
CORRECT = {
    "add-nullable-column", "add-not-null-column-with-default", "drop-column", "widen-varchar", "varchar-to-text",
    "int-to-bigint", "numeric-precision", "set-not-null", "drop-not-null", "add-expression-default", "add-index",
    "drop-index", "index-becomes-unique", "index-column-order", "index-desc", "partial-index", "expression-index",
    "add-unique-constraint", "drop-unique-constraint", "add-table-with-fk", "drop-table", "add-fk", "drop-fk",
    "fk-on-delete", "foreign-key-cycle", "rename-index", "add-generated-column", "self-referential-fk",
    "column-collation", "index-using-and-include", "table-comment-drop", "add-identity-column", "table-comment",
    "column-comment", "enum-values-change", "fulltext-index",
}


def expected_alembic(dialect: str, case_id: str) -> str | None:
    """The pinned outcome, or None for a case added after the pinning (any known outcome passes)."""
    for kind, ids in NOT_CORRECT[dialect].items():
        if case_id in ids:
            return kind
    return "correct" if case_id in CORRECT else None


def _check(dialect: str, case_id: str, dev, alembic_url: str, atlembic_target) -> None:  # type: ignore[no-untyped-def]
    case = case_for(dialect, case_id)
    theirs = run_alembic(dev, alembic_url, case.a, case.b, case.rows)
    assert theirs.kind in ALEMBIC_OUTCOMES, theirs
    expected = expected_alembic(dialect, case_id)
    if expected is not None and alembic.__version__.startswith("1.20."):
        assert theirs.kind == expected, f"Alembic: expected {expected}, got {theirs}"
    if atlembic_target is not None:
        case = case_for(dialect, case_id)
        url, tmp = atlembic_target()
        ours = run_atlembic(dev, url, tmp, case.a, case.b, case.rows)
        assert ours.kind == "correct", f"atlembic: {ours}"


def _ids(dialect: str) -> list[str]:
    return [c.id for c in cases_for(dialect)]


@pytest.mark.parametrize("case_id", _ids("sqlite"))
def test_compare_sqlite(case_id: str, sqlite_env, tmp_path: Path) -> None:
    (tmp_path / "alembic").mkdir()
    (tmp_path / "atlembic").mkdir()
    dev, url = sqlite_env(tmp_path / "alembic")

    def atlembic_target() -> tuple[str, Path]:
        return sqlite_env(tmp_path / "atlembic")[1], tmp_path / "atlembic"

    _check("sqlite", case_id, dev, url, atlembic_target)


@pytest.mark.parametrize("case_id", _ids("postgresql"))
@pytest.mark.slow  # server-heavy: both tools on PostgreSQL, per case
def test_compare_postgresql(case_id: str, pg_env, tmp_path: Path) -> None:
    dev, url = pg_env()
    _check("postgresql", case_id, dev, url, (lambda: (pg_env()[1], tmp_path)) if FULL else None)


@pytest.mark.parametrize("case_id", _ids("mysql"))
@pytest.mark.slow  # server-heavy: both tools' round trips on MariaDB, per case
def test_compare_mysql(case_id: str, mysql_env, tmp_path: Path) -> None:
    dev, url = mysql_env()
    _check("mysql", case_id, dev, url, lambda: (mysql_env()[1], tmp_path))


# -------------------------------------------------------------------------------------- docs/coverage.md

_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB"}


def test_coverage_doc_lists_every_case() -> None:
    """docs/coverage.md has a row for every case on every dialect it measured, and no row for a removed case."""
    text = (REPO / "docs" / "coverage.md").read_text()
    assert "Generated by tests/support/coverage.py" in text
    measured = [d for d, title in _TITLES.items() if re.search(rf"^- {re.escape(title)}: (?!not measured)", text,
                                                             re.MULTILINE)]
    assert "sqlite" in measured and "postgresql" in measured, "regenerate with PostgreSQL installed"
    rows = set(re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", text, re.MULTILINE))
    wanted = {(c.id, _TITLES[d]) for d in measured for c in cases_for(d)}
    stale = "docs/coverage.md is stale (run python -m tests.support.coverage)"
    assert not wanted - rows, f"{stale}: missing {wanted - rows}"
    assert not rows - wanted, f"{stale}: extra {rows - wanted}"
