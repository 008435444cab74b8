"""The Alembic command surface over Atlas's directory and revisions table, through the CLI, on SQLite
and PostgreSQL: upgrade (targets, --sql, --tx-mode), downgrade, stamp, current/history/heads/show,
status, validate, drift, --format json, -q, and the lock.

Most tests call the CLI entry point in-process (`cli.main()` with argv: the same parsing, printing and
exit codes, without the interpreter start-up); the ones about processes (concurrency, kill -9, errors
users see) run `python -m atlembic` as a subprocess. The migration files are hand-written SQL, so no
env.py runs in-process.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from unittest import mock

import pytest
import sqlalchemy as sa

from atlembic.cli import main
from atlembic.migrate.directory import MigrationDir

V1, V2, V3, V4 = "20240101000000", "20240102000000", "20240103000000", "20240104000000"
FILES = {
    f"{V1}_create_users.sql": '-- Create "users" table\nCREATE TABLE users (id INTEGER PRIMARY KEY, '
                              "name VARCHAR(50) NOT NULL);\n",
    f"{V2}_add_email.sql": "ALTER TABLE users ADD COLUMN email VARCHAR(100);\n",
    f"{V3}_create_posts.sql": "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id), "
                              "title TEXT);\nCREATE INDEX posts_user ON posts (user_id);\n",
    f"{V4}_name_index.sql": "CREATE INDEX users_name ON users (name);\n",
}


def run_main(*args: str, code: int = 0) -> str:
    """``atlembic ARGS`` in-process: its stdout, after checking its exit code."""
    out = io.StringIO()
    rc = 0
    with mock.patch.object(sys, "argv", ["atlembic", *args]), contextlib.redirect_stdout(out):
        try:
            main()
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    assert rc == code, f"atlembic {' '.join(args)} -> {rc}:\n{out.getvalue()}"
    return out.getvalue()


class Project:
    def __init__(self, root: Path, url: str, dev_url: str | None, dialect: str) -> None:
        self.root, self.url, self.dialect = root, url, dialect
        self.migrations = root / "migrations"
        esc = url.replace("%", "%%")
        ini = ["[alembic]", f"sqlalchemy.url = {esc}", "", "[atlembic]", "migrations_dir = %(here)s/migrations"]
        if dev_url:
            ini.append(f"dev_url = {dev_url.replace('%', '%%')}")
        (root / "alembic.ini").write_text("\n".join(ini) + "\n")

    @property
    def ini(self) -> Path:
        return self.root / "alembic.ini"

    def write(self, files: dict[str, str]) -> None:
        self.migrations.mkdir(exist_ok=True)
        for name, text in files.items():
            (self.migrations / name).write_text(text)
        MigrationDir(self.migrations).write_sum()

    def run(self, *args: str, code: int = 0) -> str:
        """The CLI in-process: argv in, stdout and the exit code out."""
        return run_main("-c", str(self.ini), *args, code=code)

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url, poolclass=sa.pool.NullPool)

    @property
    def revisions_table(self) -> str:
        return "atlas_schema_revisions" if self.dialect == "sqlite" else "atlas_schema_revisions.atlas_schema_revisions"

    def revisions(self) -> list[tuple]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table(
                    "atlas_schema_revisions", schema=None if self.dialect == "sqlite" else "atlas_schema_revisions"
                ):
                    return []
                rows = conn.exec_driver_sql(
                    f"SELECT version, type, applied, total, error FROM {self.revisions_table} ORDER BY version"
                ).all()
            return [tuple(r) for r in rows]
        finally:
            engine.dispose()

    def tables(self) -> set[str]:
        engine = self.engine()
        try:
            return set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()

    def execute(self, sql: str) -> list[tuple]:
        engine = self.engine()
        try:
            with engine.begin() as conn:
                result = conn.exec_driver_sql(sql)
                return [tuple(r) for r in result.all()] if result.returns_rows else []
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Project:
    if request.param == "sqlite":
        return Project(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", None, "sqlite")
    from tests.support.pg_fixture import fresh_pg_url

    server = request.getfixturevalue("pg_server")
    dev_url = server.url("postgres").render_as_string(hide_password=False)
    return Project(tmp_path, fresh_pg_url(server), dev_url, "postgresql")


# -- history, heads, show, current -----------------------------------------------------------------


def test_history_heads_show_current(project: Project) -> None:
    project.write(FILES)
    assert project.run("history").splitlines() == [
        f"{V3} -> {V4} (head), name_index",
        f"{V2} -> {V3}, create_posts",
        f"{V1} -> {V2}, add_email",
        f"<base> -> {V1}, create_users",
    ]
    assert project.run("heads") == f"{V4} (head)\n"
    assert project.run("history", "-r", f"{V2}:{V3}").splitlines() == [
        f"{V2} -> {V3}, create_posts", f"{V1} -> {V2}, add_email"]
    shown = project.run("show", "202401020")  # a unique prefix
    assert shown.startswith(f"Rev: {V2}\nParent: {V1}\nPath: {project.migrations / (V2 + '_add_email.sql')}\n")
    assert "    add_email\n" in shown and "Create Date: 2024-01-02 00:00:00 UTC" in shown
    assert project.run("current") == ""  # an empty database prints nothing (Alembic)
    project.run("upgrade", "+2")
    assert project.run("current") == f"{V2}\n"
    verbose = project.run("current", "-v")
    assert verbose.startswith("Current revision(s) for ") and f"Rev: {V2}\n" in verbose
    assert project.run("history", "-i").splitlines()[2] == f"{V1} -> {V2} (current), add_email"
    assert project.run("history", "-r", "-1:current").splitlines() == [
        f"{V1} -> {V2}, add_email", f"<base> -> {V1}, create_users"]
    assert project.run("show", "current").startswith(f"Rev: {V2} (current)\n")
    # --format json for tools
    data = json.loads(project.run("current", "--format", "json"))
    assert data["current"] == V2 and data["is_head"] is False and data["revision"]["Applied"] == 1
    assert data["url"].split("?")[0] == project.url.split("?")[0]
    assert [e["revision"] for e in json.loads(project.run("history", "--format", "json"))] == [V4, V3, V2, V1]
    assert json.loads(project.run("heads", "--format", "json"))[0]["revision"] == V4
    assert json.loads(project.run("show", V3, "--format", "json"))["statements"] == 2
    # errors are Alembic's
    assert "Multiple revisions start with '2024'" in project.run("show", "2024", code=255)
    assert "Can't locate revision identified by 'nope'" in project.run("show", "nope", code=255)
    assert "History range requires [start]:[end]" in project.run("history", "-r", V1, code=255)
    # -q prints no results
    assert project.run("-q", "heads") == "" and project.run("-q", "upgrade", "head") == ""


# -- upgrade ----------------------------------------------------------------------------------------


def test_upgrade_targets_and_plain_progress(project: Project) -> None:
    project.write(FILES)
    out = project.run("upgrade", "202401020")
    assert out.splitlines()[0].startswith(f"Running upgrade  -> {V1}, create_users ...  done (1 statement, ")
    assert out.splitlines()[1].startswith(f"Running upgrade {V1} -> {V2}, add_email ...  done (1 statement, ")
    assert [r[:4] for r in project.revisions()] == [(V1, 2, 1, 1), (V2, 2, 1, 1)]
    assert "not a valid upgrade target" in project.run("upgrade", V1, code=255)
    assert "Multiple revisions start with '2024'" in project.run("upgrade", "2024", code=255)
    assert "Range revision not allowed" in project.run("upgrade", f"{V1}:{V2}", code=255)
    project.run("upgrade", "head")
    assert [r[0] for r in project.revisions()] == [V1, V2, V3, V4]
    assert project.run("upgrade", "head") == "No migration files to execute\n"


def test_upgrade_sql_touches_nothing(project: Project) -> None:
    project.write({**FILES, f"{V4}_name_index.sql": "-- atlas:txmode none\n\n" + FILES[f"{V4}_name_index.sql"]})
    sql = project.run("upgrade", "head", "--sql")
    assert "CREATE TABLE IF NOT EXISTS" in sql and "atlas_schema_revisions" in sql
    assert f"-- Running upgrade  -> {V1}, create_users\n\nBEGIN;\n\nCREATE TABLE users" in sql
    assert sql.count("BEGIN;") == 3  # one per file; the txmode none file runs outside a transaction
    assert sql.count("INSERT INTO") == 4 and f"'{V4}', 'name_index', 2, 1, 1" in sql
    assert project.revisions() == [] and "users" not in project.tables()
    later = project.run("upgrade", f"{V2}:{V3}", "--sql")
    assert "CREATE TABLE IF NOT EXISTS" not in later and f"-- Running upgrade {V2} -> {V3}" in later
    assert "CREATE TABLE users" not in later
    assert 'cannot set txmode directive to "none"' in project.run("upgrade", "--sql", "--tx-mode", "all", code=255)
    project.write({f"{V4}_name_index.sql": FILES[f"{V4}_name_index.sql"]})
    everything = project.run("upgrade", "head", "--sql", "--tx-mode", "all")
    assert everything.count("BEGIN;") == 1 and everything.count("COMMIT;") == 1


def test_tx_modes_and_directives(project: Project) -> None:
    broken = f"{V3}_create_posts.sql"
    project.write({**FILES, broken: "CREATE TABLE posts (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n"})
    # all: one transaction for every file, so the failure in the third leaves nothing behind
    out = project.run("upgrade", "head", "--tx-mode", "all", code=255)
    assert "nowhere" in out and "nothing was applied or recorded" in out
    assert project.revisions() == [] and not {"users", "posts"} & project.tables()
    # none: statement by statement, the revisions row keeps the place
    out = project.run("upgrade", "head", "--tx-mode", "none", code=255)
    assert f"{broken}:2" in out and "applied 1 of 2" in out
    assert project.revisions()[-1][:4] == (V3, 2, 1, 2)
    assert "posts" in project.tables()
    status = project.run("status")
    assert f"Current Version: {V3} (1 statement applied)" in status and "(1 statement left)" in status
    assert "Last migration attempt had errors:" in status and "-- SQL:   INSERT INTO nowhere" in status
    # the fix: the run resumes at the failed statement (statement 1 is not run twice)
    project.write({broken: "CREATE TABLE posts (id INTEGER);\nCREATE INDEX posts_id ON posts (id);\n"})
    project.run("upgrade", "head")
    assert [r[2:4] for r in project.revisions()] == [(1, 1), (1, 1), (2, 2), (1, 1)]
    # a directive in the header: "all" is not allowed, and it may not contradict --tx-mode all
    project.write({f"{V4}_name_index.sql": "-- atlas:txmode all\n\nSELECT 1;\n"})
    assert 'txmode "all" is not allowed in file directive' in project.run("upgrade", "--sql", code=255)


# -- downgrade --------------------------------------------------------------------------------------


def test_downgrade(project: Project) -> None:
    project.write(FILES)
    project.run("upgrade", "head")
    project.execute("INSERT INTO users (id, name) VALUES (1, 'ann')")
    # dropping an index loses no data: applied without asking
    out = project.run("downgrade", "-1")
    assert f"Planning downgrade {V4} -> {V3}" in out and 'drop index "users_name"' in out
    assert [r[0] for r in project.revisions()] == [V1, V2, V3]
    # dropping a table does: refused, nothing changed
    out = project.run("downgrade", "-1", code=255)
    assert f"downgrade to {V2} would lose data: drop table \"posts\"" in out and "--allow-destructive" in out
    assert "posts" in project.tables() and len(project.revisions()) == 3
    sql = project.run("downgrade", V1, "--sql")
    assert "-- WARNING: drops data: drop table \"posts\"" in sql and "DROP TABLE posts" in sql
    assert sql.count("DELETE FROM") == 2 and "posts" in project.tables()
    project.run("downgrade", V1, "--allow-destructive")
    assert [r[0] for r in project.revisions()] == [V1] and "posts" not in project.tables()
    assert project.execute("SELECT id, name FROM users") == [(1, "ann")]  # the kept table kept its rows
    assert "not a valid downgrade target" in project.run("downgrade", V3, code=255)
    project.run("downgrade", "base", "--allow-destructive")
    assert project.revisions() == [] and "users" not in project.tables()
    project.run("upgrade", "head")  # and back up from base
    assert len(project.revisions()) == 4


# -- stamp, status, validate, drift ----------------------------------------------------------------


def test_stamp(project: Project) -> None:
    project.write(FILES)
    out = project.run("stamp", "head")
    assert f"Stamped {V1}, create_users" in out and out.endswith(f"Running stamp_revision -> {V4} ...  done\n")
    assert [r[:4] for r in project.revisions()] == [(v, 4, 0, 0) for v in (V1, V2, V3, V4)]
    assert "users" not in project.tables()  # nothing ran
    project.run("stamp", V2)
    assert [r[0] for r in project.revisions()] == [V1, V2]
    project.run("stamp", "base")
    assert project.revisions() == []
    # a failed file marked resolved: the next upgrade goes on after it
    project.write({f"{V2}_add_email.sql": "SELECT 1;\nSELECT * FROM nowhere;\n"})
    project.run("upgrade", "head", code=255)
    project.run("stamp", V2)
    assert project.revisions()[-1] == (V2, 6, 2, 2, "")
    project.run("upgrade", "head")
    assert [r[0] for r in project.revisions()] == [V1, V2, V3, V4]


def test_status_validate_and_tampered_files(project: Project) -> None:
    project.write(FILES)
    status = project.run("status")
    assert status.splitlines() == [
        "Migration Status: PENDING", "  -- Current Version: No migration applied yet", f"  -- Next Version:    {V1}",
        "  -- Executed Files:  0", "  -- Pending Files:   4"]
    project.run("upgrade", "head")
    assert project.run("status").splitlines()[:3] == [
        "Migration Status: OK", f"  -- Current Version: {V4}", "  -- Next Version:    Already at latest version"]
    data = json.loads(project.run("status", "--format", "json"))
    assert data["Status"] == "OK" and len(data["Applied"]) == 4 and data["Problems"] == []
    assert "The migration directory is valid (4 files)" in project.run("validate")
    # somebody edits an applied file
    first = project.migrations / f"{V1}_create_users.sql"
    first.write_text(first.read_text().replace("VARCHAR(50)", "VARCHAR(80)"))
    assert f"L2: {first.name} was edited" in project.run("status", code=255)
    assert f"L2: {first.name} was edited" in project.run("validate", code=255)
    project.run("hash")  # ... and re-hashes it: the revisions table still knows
    out = project.run("status", code=255)
    assert f"{first.name} was changed after it was applied" in out
    assert json.loads(project.run("status", "--format", "json", code=255))["Problems"]
    # validate replays every file on the dev database
    project.write({f"{V2}_add_email.sql": "ALTER TABLE nowhere ADD COLUMN x INTEGER;\n"})
    assert "nowhere" in project.run("validate", code=255)


def test_drift(project: Project) -> None:
    project.write(FILES)
    project.run("upgrade", "+2")
    assert "No drift detected" in project.run("check", "--drift")
    project.execute("CREATE TABLE by_hand (id INTEGER)")
    project.execute("CREATE INDEX users_email ON users (email)")
    out = project.run("check", "--drift", code=255)
    assert "Drift detected: " in out and f"at {V2}" in out and 'add table "by_hand"' in out
    assert 'add index "users_email"' in out
    data = json.loads(project.run("check", "--url", project.url, "--format", "json", code=255))
    assert data["drift"] is True and data["version"] == V2 and len(data["changes"]) == 2
    assert [r[0] for r in project.revisions()] == [V1, V2]  # read-only


# -- progress, lock ---------------------------------------------------------------------------------


def test_rich_progress_on_a_terminal(tmp_path: Path) -> None:
    from rich.console import Console

    from atlembic.cli.progress import RichReporter, reporter_for
    from atlembic.migrate.directory import MigrationFile
    from atlembic.migrate.executor import AppliedFile

    buffer = io.StringIO()
    reporter = RichReporter({V2: V1}, console=Console(file=buffer, force_terminal=True, width=100))
    file = MigrationFile(f"{V2}_add_email.sql", tmp_path / "x.sql", b"SELECT 1;\nSELECT 2;\n")
    reporter.file_started(file, 0, 2)
    reporter.statement_done(file, 1)
    reporter.statement_done(file, 2)
    reporter.file_done(AppliedFile(file, 2, 1_000_000))
    reporter.close()
    text = buffer.getvalue()
    assert f"{V1} -> {V2}, add_email" in text and "2/2" in text and "statements" in text
    assert reporter_for({}, quiet=True) is None


def test_sqlite_lock_file_is_atlas_compatible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zlib

    from atlembic.migrate.lock import SqliteLock, fnv1_32

    assert fnv1_32(b"atlas_migrate_execute") == 2686470616  # Atlas's PostgreSQL advisory key
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    db = tmp_path / "app.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        first, second = SqliteLock(conn), SqliteLock(conn)
        assert Path(first.path) == tmp_path / f"atlas_migrate_execute_{zlib.adler32(str(db).encode()):x}.lock"
        first.acquire(0)
        assert int(Path(first.path).read_text()) > 0  # the expiry in Unix nanoseconds, all Atlas reads
        with pytest.raises(Exception, match="another atlembic/atlas is applying migrations"):
            second.acquire(0.2)
        first.release()
        assert not Path(first.path).exists()
        second.acquire(0)
        second.release()
        # a lock file Atlas left with an expiry in the past is taken over
        Path(first.path).write_text("1")
        first.acquire(0)
        first.release()
    engine.dispose()


def test_postgresql_lock_held_elsewhere_times_out(pg_server, tmp_path: Path) -> None:
    from tests.support.pg_fixture import fresh_pg_url

    project = Project(tmp_path, fresh_pg_url(pg_server), None, "postgresql")
    project.write(FILES)
    holder = project.engine()
    with holder.connect() as conn:
        conn.exec_driver_sql("SELECT pg_advisory_lock(2686470616)")
        out = project.run("upgrade", "head", "--lock-timeout", "300ms", code=255)
        conn.exec_driver_sql("SELECT pg_advisory_unlock(2686470616)")
    holder.dispose()
    assert "another atlembic/atlas is applying migrations to postgresql+psycopg://postgres@/" in out
    assert "advisory lock 2686470616" in out and "gave up after 0.3 s" in out
    assert project.revisions() == []
    project.run("upgrade", "head")


def test_rev_id(tmp_path: Path) -> None:
    project = Project(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", None, "sqlite")
    project.write(FILES)
    assert "Character(s) '-' not allowed in revision identifier 'bad-id'" in project.run(
        "revision", "-m", "x", "--rev-id", "bad-id", code=255)
    assert f"Revision {V4} already exists" in project.run("revision", "--rev-id", V4, code=255)
    assert "sorts before the last version" in project.run("revision", "--rev-id", "20230101000000", code=255)
    out = project.run("revision", "-m", "seed", "--rev-id", "20250101000000")
    assert "20250101000000_seed.sql" in out
    assert project.run("heads") == "20250101000000 (head)\n"


def test_sqlite_lock_file_never_follows_a_planted_link(tmp_path: Path) -> None:
    """TMPDIR is often world-writable: a symbolic link planted at the lock file's path (or at the name its
    atomic creation uses) must not make `upgrade` write through it; one line names the file, nothing runs."""
    import os
    import shutil
    import subprocess
    import threading
    import zlib

    from atlembic.migrate.lock import SqliteLock
    from tests.test_cli import REPO, SAMPLE, atlembic

    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    atlembic(project, "revision", "--autogenerate", "-m", "init")
    lockdir = tmp_path / "tmp"
    lockdir.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    database = (project / "app.db").resolve()
    planted = lockdir / f"atlas_migrate_execute_{zlib.adler32(str(database).encode()):x}.lock"
    planted.symlink_to(victim)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(lockdir)}
    proc = subprocess.run([sys.executable, "-m", "atlembic", "--url", f"sqlite:///{database}", "upgrade", "head"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0 and out.startswith("FAILED: refusing the SQLite lock file"), out
    assert str(planted) in out and len(out.splitlines()) == 1, out
    assert victim.read_text() == "precious\n"
    assert not database.exists() or sa.inspect(sa.create_engine(f"sqlite:///{database}")).get_table_names() == []

    # The name the new lock file is first written under, planted too: never written through.
    planted.unlink()
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        lock = SqliteLock(conn)
        lock.path = str(planted)
        (lockdir / f"{planted.name}.{os.getpid()}.{threading.get_ident()}.tmp").symlink_to(victim)
        lock.acquire(0)
        lock.release()
    engine.dispose()
    assert victim.read_text() == "precious\n"


def test_a_file_with_a_nul_byte_is_refused_before_anything_runs(project: Project) -> None:
    """libpq ends a statement at a NUL byte: the rest of a batch would be dropped and the file recorded as
    applied. Refused in one line naming the file and the offset, before the first pending file runs."""
    files = dict(list(FILES.items())[:2])
    files[f"{V2}_add_email.sql"] = "ALTER TABLE users ADD COLUMN email VARCHAR(100);\n-- \0\nCREATE TABLE x (id INT);\n"
    project.write(files)
    out = project.run("upgrade", "head", code=255).strip()
    offset = files[f"{V2}_add_email.sql"].index("\0")
    assert out == f"FAILED: {V2}_add_email.sql: a NUL byte at offset {offset} (line 2): not a SQL text file; " \
                  "no statement was run", out
    assert "users" not in project.tables() and project.revisions() == []


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_a_server_that_never_answers_times_out_in_one_line(tmp_path: Path, scheme: str) -> None:
    """A loopback listener that accepts connections and never says a word (a hung server, a wrong port behind
    a proxy): `current` gives up after [atlembic] connect_timeout with one line, instead of hanging."""
    import os
    import socket
    import subprocess
    import threading
    import time

    from tests.test_cli import REPO

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(listener.accept()[0])  # and never answer

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"{scheme}://u:hunter2@127.0.0.1:{listener.getsockname()[1]}/db"
    (tmp_path / "alembic.ini").write_text(f"[alembic]\nsqlalchemy.url = {url}\n\n[atlembic]\nconnect_timeout = 1\n"
                                          "migrations_dir = %(here)s/migrations\n")
    began = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "atlembic", "current"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 255 and out.startswith("FAILED: cannot connect to "), out
    assert len(out.splitlines()) == 1 and "hunter2" not in out, out
    assert accepted, "the command never reached the listener"
    assert time.monotonic() - began < 30, "the connect timeout did not bound the wait"


def test_connect_timeout_must_be_seconds(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\nsqlalchemy.url = sqlite:///x.db\n\n[atlembic]\n"
                                          "connect_timeout = soon\n")
    project = Project.__new__(Project)
    project.root = tmp_path
    out = project.run("current", code=255)
    assert "FAILED: [atlembic] connect_timeout: expected a whole number of seconds >= 1, got 'soon'" in out, out


def test_the_connect_timeout_does_not_bound_statements(mysql_server, tmp_path: Path) -> None:  # noqa: ANN001
    """PyMySQL's greeting and login are bounded by a read timeout, lifted once connected: a statement that
    runs longer than connect_timeout (a big ALTER TABLE) still completes."""
    from atlembic.config import load_settings
    from atlembic.target import connect_target
    from tests.support.mysql_fixture import fresh_mysql_url

    url = fresh_mysql_url(mysql_server)
    (tmp_path / "alembic.ini").write_text(f"[alembic]\nsqlalchemy.url = {url.replace('%', '%%')}\n\n[atlembic]\n"
                                          "connect_timeout = 1\n")
    with connect_target(load_settings(str(tmp_path / "alembic.ini"))) as conn:
        assert conn.exec_driver_sql("SELECT SLEEP(2)").scalar() == 0


def test_a_missing_migration_directory_is_refused_before_the_target_is_touched(project: Project) -> None:
    out = project.run("upgrade", "head", code=255).strip()
    assert out.startswith(f"FAILED: migration directory {project.migrations} does not exist"), out
    assert len(out.splitlines()) == 1 and project.revisions() == [] and not project.tables(), out


@pytest.mark.parametrize("args", [("upgrade", "head"), ("revision", "-m", "x"), ("revision", "--autogenerate"),
                                  ("status",), ("hash",), ("history",), ("current",), ("lint",)])
def test_a_migration_directory_that_is_a_file_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    project = Project(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", None, "sqlite")
    (tmp_path / "models.py").write_text("import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
                                        "sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True))\n")
    with project.ini.open("a") as ini:
        ini.write("metadata = models:metadata\n")
    project.migrations.write_text("not a directory\n")
    out = project.run(*args, code=255).strip()
    assert out == f"FAILED: migration directory {project.migrations} is not a directory", out
    assert project.migrations.read_text() == "not a directory\n"


def test_a_full_disk_under_a_sqlite_target_is_one_line_and_rolls_back(tmp_path: Path) -> None:
    """The database file cannot grow (RLIMIT_FSIZE, as a full disk: SQLite fails the write or the COMMIT): one
    line naming the file, the file's transaction rolled back, the error recorded where `status` shows it (the
    driver's message, not SQLAlchemy's wrapper), and once there is room the same `upgrade` applies it once."""
    import os
    import resource
    import subprocess

    from tests.test_cli import REPO

    project = Project(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", None, "sqlite")
    rows = ", ".join(f"({i}, '{'x' * 200}')" for i in range(1000))
    project.write({f"{V1}_create_users.sql": FILES[f"{V1}_create_users.sql"],
                   f"{V2}_fill.sql": f"CREATE TABLE log (id INT);\nINSERT INTO users VALUES {rows};\n"})
    project.run("upgrade", V1)
    size = (tmp_path / "app.db").stat().st_size

    def no_room() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 8192, size + 8192))

    proc = subprocess.run([sys.executable, "-m", "atlembic", "-c", str(project.ini), "upgrade", "head"],
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=120, preexec_fn=no_room)
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED:")]
    assert proc.returncode == 255 and len(failed) == 1, proc.stdout + proc.stderr
    assert failed[0].startswith(f"FAILED: {V2}_fill.sql:") and "error recorded" in failed[0], failed
    assert "Traceback" not in proc.stderr, proc.stderr
    assert project.execute("SELECT count(*) FROM users") == [(0,)] and "log" not in project.tables()
    [(_, _, applied, total, error)] = [r for r in project.revisions() if r[0] == V2]
    assert (applied, total) == (0, 2) and error and "sqlalche.me" not in error and "[SQL:" not in error, error
    assert error in project.run("status")
    project.run("upgrade", "head")
    assert project.execute("SELECT count(*) FROM users") == [(1000,)] and "log" in project.tables()
