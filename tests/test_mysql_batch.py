"""MySQL/MariaDB `upgrade` sends runs of statements in one round trip, each between the revision-row writes that
record it (migrate/batch.py): what the row says when a statement in the middle of a batch fails, the error the
user reads, and the resumed run."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlembic.config import load_settings
from atlembic.migrate.batch import batchable, multi_statements
from atlembic.migrate.lexer import MYSQL_SCAN, split_statements
from atlembic.target import connect_target
from tests.test_exactly_once import V1, Target, _target

GOOD = "CREATE TABLE c (id INT, note VARCHAR(20) DEFAULT '100% sure');"
FILE = [
    "CREATE TABLE a (id INT PRIMARY KEY);",
    "INSERT INTO a VALUES (1);",
    "CREATE TABLE b (id INT);",
    "CREATE TABLE a (id INT);",  # fails: a exists
    "INSERT INTO a VALUES (2);",
]


def _file(target: Target, failing: str) -> None:
    target.write(f"{V1}_batch.sql", "\n".join(FILE[:3]) + f"\n\n{failing}\n" + "\n".join(FILE[4:]) + "\n")


def test_only_statements_the_server_splits_as_the_lexer_does_are_batched() -> None:
    text = ("CREATE TABLE t (a INT DEFAULT 1);\n"  # batched
            "CREATE TABLE u (a VARCHAR(9) DEFAULT 'x;y');\n"  # a ';' in a string: the server could cut there
            "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END//\nDELIMITER ;\n"
            "CALL p();\n"  # a result per SELECT the procedure runs
            "INSERT INTO t VALUES (2);\n"  # batched
            "INSERT INTO t VALUES (3) -- no delimiter after this comment")
    assert [batchable(s) for s in split_statements(text, MYSQL_SCAN)] == [True, False, False, False, True, False]


@pytest.mark.mysql
def test_a_statement_failing_in_a_batch_leaves_the_row_at_the_statements_before_it(
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    target = _target("mysql", request, tmp_path)
    with connect_target(load_settings(str(tmp_path / "alembic.ini"))) as conn:
        assert multi_statements(conn)  # the target connection batches
    _file(target, FILE[3])
    proc = target.spawn("upgrade", "head")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 255, out + err
    [line] = [ln for ln in out.splitlines() if ln.startswith("FAILED: ")]
    assert line.startswith(f'FAILED: {V1}_batch.sql:5: executing statement "{FILE[3]}": ')
    assert "already exists" in line and "version 20240101000000 applied 3 of 5 statements" in line
    applied, total, error, stmt = target.revision(V1)
    assert (applied, total, stmt) == (3, 5, FILE[3]) and "already exists" in error
    assert target.query("SELECT id FROM a") == [(1,)]
    _file(target, GOOD)  # fixed where it failed: the statements before it are unchanged
    assert "resuming at statement 4 of 5" in target.upgrade()
    assert target.revision(V1)[:3] == (5, 5, "")
    assert target.query("SELECT id FROM a ORDER BY id") == [(1,), (2,)]  # each INSERT once
    assert target.query("SELECT column_default FROM information_schema.columns WHERE table_schema = DATABASE() "
                        "AND table_name = 'c' AND column_name = 'note'") == [("'100% sure'",)]
