"""Exactly once under kill -9 (issue 19): a statement a killed `upgrade` ran is never run a second time by the
next one, on every engine and transaction mode.

Outside a file transaction (`-- atlas:txmode none`, and MySQL, whose DDL commits on its own) each statement
commits together with its progress row where the engine can run it in a transaction; the others (MySQL DDL,
CREATE INDEX CONCURRENTLY) are announced in the revisions row first, and the next run asks the schema whether
they took effect. The kills here land where it matters: while the server runs a statement the test holds
blocked (a row lock, a table lock), so the statement completes on the server after its client is gone.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.engines import engine_for
from atlembic.migrate.directory import MigrationDir, MigrationFile
from atlembic.migrate.executor import run_file
from atlembic.migrate.revisions import INTERRUPTED
from atlembic.migrate.transactions import autocommit
from tests.support.cli import run_cli
from tests.test_cli import REPO

pytestmark = pytest.mark.slow  # CLI processes killed and resumed on real servers

V1, V2 = "20240101000000", "20240102000000"


@dataclass
class Target:
    root: Path
    url: str
    dialect: str

    def __post_init__(self) -> None:
        (self.root / "alembic.ini").write_text(
            f"[alembic]\nsqlalchemy.url = {self.url.replace('%', '%%')}\n\n"
            "[atlembic]\nmigrations_dir = %(here)s/migrations\n")

    def write(self, name: str, text: str) -> None:
        (self.root / "migrations").mkdir(exist_ok=True)
        (self.root / "migrations" / name).write_text(text)
        MigrationDir(self.root / "migrations").write_sum()

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(self.root)}
        return subprocess.Popen([sys.executable, "-m", "atlembic", "-c", str(self.root / "alembic.ini"), *args],
                                cwd=self.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def upgrade(self) -> str:
        """`upgrade head` to completion, in this process (tests/support/cli.run_cli): the runs killed are
        processes of their own (`spawn`); the one before them and the one resuming after them prove nothing of
        a process."""
        return run_cli(self.root, "-c", str(self.root / "alembic.ini"), "upgrade", "head").stdout

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url, poolclass=sa.pool.NullPool)

    def query(self, sql: str, **params: str) -> list[tuple]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql), params).all()]
        finally:
            engine.dispose()

    def revision(self, version: str) -> tuple:
        table = {"sqlite": "atlas_schema_revisions", "mysql": "atlas_schema_revisions"}.get(
            self.dialect, "atlas_schema_revisions.atlas_schema_revisions")
        try:
            rows = self.query(f"SELECT applied, total, error, error_stmt FROM {table} WHERE version = :v", v=version)
        except sa.exc.DBAPIError:  # no revisions table yet
            return ()
        return rows[0] if rows else ()


def _target(dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if dialect == "sqlite":
        return Target(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", "sqlite")
    if dialect == "postgresql":
        from tests.support.pg_fixture import fresh_pg_url

        return Target(tmp_path, fresh_pg_url(request.getfixturevalue("pg_server")), "postgresql")
    from tests.support.mysql_fixture import fresh_mysql_url

    return Target(tmp_path, fresh_mysql_url(request.getfixturevalue("mysql_server")), "mysql")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql), "mysql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return _target(request.param, request, tmp_path)


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgresql), "mysql"])
def server_target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """A target on a server: a statement there outlives its killed client (SQLite dies with the process)."""
    return _target(request.param, request, tmp_path)


def _sessions(target: Target, statement: str) -> list[tuple]:
    """The server's sessions (but the asking one) running or waiting in a statement that starts so."""
    if target.dialect == "postgresql":
        sql = "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE :running"
    else:
        sql = "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND info LIKE :running"
    return target.query(sql, running=statement + "%")


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _killed_while_blocked(target: Target, blocker: list[str], statement: str, *, end_session: bool = False) -> None:
    """Run `upgrade head` while the test's own transaction (`blocker`) holds what `statement` waits for; kill
    the upgrade with SIGKILL once the server shows it waiting, then let the statement go on without its
    client, and wait until the server has finished with that session. `end_session`: the server's session is
    killed too (as an admin's KILL or a server restart would), so the statement never takes effect."""
    engine = target.engine()
    try:
        with engine.connect() as raw:
            conn = autocommit(raw)
            conn.exec_driver_sql("BEGIN")
            for sql in blocker:
                conn.exec_driver_sql(sql)
            proc = target.spawn("upgrade", "head")
            try:
                _wait(lambda: bool(_sessions(target, statement)), f"the upgrade to wait in {statement!r}")
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=30)
            if end_session:
                for (session,) in _sessions(target, statement):
                    conn.exec_driver_sql(f"KILL {session}")
            conn.exec_driver_sql("COMMIT")  # the statement runs on, its client dead
    finally:
        engine.dispose()
    _wait(lambda: not _sessions(target, statement), "the killed client's session to end")


COUNTER = "CREATE TABLE counter (id INT PRIMARY KEY, n INT NOT NULL);\nINSERT INTO counter VALUES (1, 0);\n"


def test_dml_that_ran_after_its_client_died_is_not_run_again(server_target: Target) -> None:
    """UPDATE waits for a row lock, the client is killed, the lock goes: the server finishes the UPDATE. Its
    progress row was never written, so before, the next run ran it a second time (n == 12)."""
    target = server_target
    target.write(f"{V1}_counter.sql", COUNTER)
    target.upgrade()
    txmode = "-- atlas:txmode none\n\n" if target.dialect == "postgresql" else ""
    target.write(f"{V2}_bump.sql", f"{txmode}UPDATE counter SET n = n + 1 WHERE id = 1;\n"
                                   "UPDATE counter SET n = n + 10 WHERE id = 1;\n")
    _killed_while_blocked(target, ["SELECT n FROM counter WHERE id = 1 FOR UPDATE"], "UPDATE counter SET n = n + 1")
    [(n,)] = target.query("SELECT n FROM counter")
    # The row says exactly what ran: on PostgreSQL the statement and its record rolled back together (n == 0);
    # MySQL's server runs the rest of the batch its dead client sent (migrate/batch.py), each with its record.
    assert target.revision(V2)[:2] == ({0: 0, 1: 1, 11: 2}[n], 2)
    assert n == (0 if target.dialect == "postgresql" else 11)
    target.upgrade()
    assert target.query("SELECT n FROM counter") == [(11,)]
    assert target.revision(V2)[:3] == (2, 2, "")


def test_ddl_outside_a_transaction_is_settled_by_the_schema(server_target: Target) -> None:
    """A statement that cannot commit with its record (MySQL DDL, CREATE INDEX CONCURRENTLY) is announced
    first; killed while it waits, the next run asks the schema whether it took effect instead of running it
    blindly (a second ADD COLUMN / CREATE INDEX would fail, or worse)."""
    target = server_target
    target.write(f"{V1}_counter.sql", COUNTER)
    target.upgrade()
    if target.dialect == "postgresql":
        ddl, blocker = "CREATE INDEX CONCURRENTLY counter_n ON counter (n)", "LOCK TABLE counter IN ROW EXCLUSIVE MODE"
        header = "-- atlas:txmode none\n\n"
    else:  # a statement holding a second ';' runs on its own, outside a batch (migrate/batch.batchable)
        ddl, blocker, header = "ALTER TABLE counter ADD COLUMN c INT COMMENT 'a;b'", "SELECT n FROM counter", ""
    target.write(f"{V2}_ddl.sql", f"{header}UPDATE counter SET n = n + 1 WHERE id = 1;\n{ddl};\n"
                                  "UPDATE counter SET n = n + 10 WHERE id = 1;\n")
    _killed_while_blocked(target, [blocker], ddl)
    applied, total, error, stmt = target.revision(V2)
    assert (applied, total, error, stmt) == (1, 3, INTERRUPTED, ddl + ";")  # announced, never recorded as done
    target.upgrade()
    assert target.query("SELECT n FROM counter") == [(11,)]
    assert target.revision(V2)[:3] == (3, 3, "")
    engine = target.engine()
    try:
        inspector = sa.inspect(engine)
        if target.dialect == "postgresql":
            assert [i["name"] for i in inspector.get_indexes("counter")] == ["counter_n"]
        else:
            assert [c["name"] for c in inspector.get_columns("counter")] == ["id", "n", "c"]
    finally:
        engine.dispose()


@pytest.mark.mysql
def test_a_batch_whose_session_died_in_a_statement_is_settled(request: pytest.FixtureRequest,
                                                              tmp_path: Path) -> None:
    """MySQL sends runs of statements in one batch, which its server runs on after the client died; when the
    session dies too, in a DDL statement, the row says so (announced, not recorded) and the next run asks the
    schema, which says it did not take effect: it runs once."""
    target = _target("mysql", request, tmp_path)
    target.write(f"{V1}_counter.sql", COUNTER)
    target.upgrade()
    ddl = "ALTER TABLE counter ADD COLUMN c INT"
    target.write(f"{V2}_ddl.sql", f"UPDATE counter SET n = n + 1 WHERE id = 1;\n{ddl};\n"
                                  "UPDATE counter SET n = n + 10 WHERE id = 1;\n")
    _killed_while_blocked(target, ["SELECT n FROM counter"], ddl, end_session=True)
    assert target.revision(V2) == (1, 3, INTERRUPTED, ddl + ";")
    assert target.query("SELECT n FROM counter") == [(1,)]
    target.upgrade()
    assert target.query("SELECT n FROM counter") == [(11,)]
    assert target.revision(V2)[:3] == (3, 3, "")
    assert ("c",) in target.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'counter' "
                                  "AND table_schema = DATABASE()")


def test_a_failing_record_takes_its_statement_with_it(target: Target) -> None:
    """The in-process view of the same guarantee on all three engines: outside a file transaction, a
    statement whose record fails (the process dying between the two) is not applied either."""
    target.write(f"{V1}_counter.sql", COUNTER)
    target.upgrade()
    txmode = "-- atlas:txmode none\n\n" if target.dialect != "mysql" else ""
    path = target.root / "migrations" / f"{V2}_bump.sql"
    path.write_text(f"{txmode}UPDATE counter SET n = n + 1 WHERE id = 1;\n")
    file = MigrationFile(path.name, path, path.read_bytes())
    driver = engine_for(target.dialect)

    def record(done: int) -> None:
        raise RuntimeError("the process died here")

    engine = target.engine()
    try:
        with engine.connect() as raw, pytest.raises(RuntimeError):
            run_file(autocommit(raw), file, file.statements(driver.scan_options), transactions=driver.transactions,
                     after_statement=record)
    finally:
        engine.dispose()
    assert target.query("SELECT n FROM counter") == [(0,)]


def _slow(dialect: str) -> str:
    """A statement that takes a while and changes nothing (a kill lands in it or around it)."""
    return {
        "postgresql": "SELECT pg_sleep(0.05)",
        "mysql": "DO SLEEP(0.05)",
        "sqlite": "SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                  "WHERE x < 100000) SELECT x FROM c)",
    }[dialect]


def test_kill_at_random_points_applies_each_statement_once(target: Target) -> None:
    """A file of DDL and DML killed at random moments (seeded), resumed, killed again ...: in the end every
    statement's effect exists exactly once and the file is recorded as done."""
    rng = random.Random(19)
    txmode = "-- atlas:txmode none\n\n" if target.dialect != "mysql" else ""
    slow = _slow(target.dialect)
    body = [txmode + "CREATE TABLE ran (step INT NOT NULL)"]
    for step in range(1, 7):
        body += [f"INSERT INTO ran (step) VALUES ({step})", slow]
        if step % 2 == 0:
            body.append(f"CREATE TABLE made_{step} (id INT)" if step != 4 else "ALTER TABLE ran ADD COLUMN note INT")
    target.write(f"{V1}_mixed.sql", ";\n".join(body) + ";\n")
    for _ in range(3 * int(os.environ.get("ATLEMBIC_PROPERTY_SCALE", "1"))):  # more kills for a hunt
        proc = target.spawn("upgrade", "head")
        _wait(lambda p=proc: bool(target.revision(V1)) or p.poll() is not None, "the upgrade to start the file")
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        if target.dialect != "sqlite":  # the server may still run the killed client's statement
            _wait(lambda: not _sessions(target, "INSERT INTO ran") and not _sessions(target, slow[:12]),
                  "the killed client's sessions to end")
    target.upgrade()
    assert sorted(target.query("SELECT step FROM ran")) == [(s,) for s in range(1, 7)]
    applied, total, error, _ = target.revision(V1)
    assert (applied, error) == (total, "")
    engine = target.engine()
    try:
        assert {"made_2", "made_6"} <= set(sa.inspect(engine).get_table_names())
        assert "note" in [c["name"] for c in sa.inspect(engine).get_columns("ran")]
    finally:
        engine.dispose()


SESSION = {  # a session setting, and a statement that depends on it
    "sqlite": ("PRAGMA foreign_keys = off", "INSERT INTO child (parent) VALUES (42)"),
    "postgresql": ("SET atlembic_test.step = '42'", "INSERT INTO child (parent) VALUES "
                                                    "(current_setting('atlembic_test.step')::int)"),
    "mysql": ("SET @step = 42", "INSERT INTO child (parent) VALUES (@step)"),
}


def test_a_resumed_file_runs_its_session_statements_again(target: Target) -> None:
    """A file that failed after a `SET` (or SQLite's PRAGMA foreign_keys) resumes in a new session: the setting
    must be made again before the statements after it, or they run under other rules."""
    setting, dependent = SESSION[target.dialect]
    fk = "REFERENCES parent (id)" if target.dialect == "sqlite" else ""
    target.write(f"{V1}_tables.sql", f"CREATE TABLE parent (id INT PRIMARY KEY);\n"
                                     f"CREATE TABLE child (parent INT NOT NULL {fk});\n")
    target.upgrade()
    txmode = "-- atlas:txmode none\n\n" if target.dialect != "mysql" else ""
    target.write(f"{V2}_fill.sql", f"{txmode}{setting};\nINSERT INTO missing VALUES (1);\n{dependent};\n")
    proc = target.spawn("upgrade", "head")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 255 and "missing" in out
    target.query("SELECT 1")  # the target is reachable
    engine = target.engine()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE missing (id INT)")  # fixed by hand; the file resumes at statement 2
    finally:
        engine.dispose()
    assert "resuming at statement 2 of 3" in target.upgrade()
    assert target.query("SELECT parent FROM child") == [(42,)]


@pytest.mark.postgresql
def test_an_error_at_commit_is_recorded_like_a_failing_statement(request: pytest.FixtureRequest,
                                                                 tmp_path: Path) -> None:
    """A deferred foreign key fails at COMMIT: one line naming the file and COMMIT, the row says 0 of 3 with the
    error, and `status` shows it (before: a traceback, and a row saying 0 of 3 without an error)."""
    target = _target("postgresql", request, tmp_path)
    target.write(f"{V1}_keys.sql", "CREATE TABLE parent (id INT PRIMARY KEY);\n"
                                   "CREATE TABLE child (p INT REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);\n"
                                   "INSERT INTO child VALUES (1);\n")
    proc = target.spawn("upgrade", "head")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 255 and "Traceback" not in err, out + err
    [line] = [ln for ln in out.splitlines() if ln.startswith("FAILED: ")]
    assert f'{V1}_keys.sql:3: executing statement "COMMIT"' in line and "error recorded" in line
    applied, total, error, stmt = target.revision(V1)
    assert (applied, total, stmt) == (0, 3, "COMMIT") and "foreign key" in error.lower()
    status = target.spawn("status")
    out, _ = status.communicate(timeout=120)
    assert "foreign key" in out.lower()
