"""What only real processes show: several `upgrade head` at once, a process killed in the middle of a
file, the one-line errors a user sees, and `init` through `upgrade` (all `python -m atlembic`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.test_cli import REPO
from tests.test_lifecycle import Project

V1, V2, V3 = "20240101000000", "20240102000000", "20240103000000"


def spawn(project: Project, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "atlembic", "-c", str(project.ini), *args], cwd=project.root,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def cli(project: Project, *args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
    proc = spawn(project, *args, env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, f"atlembic {' '.join(args)} -> {proc.returncode}:\n{out}\n{err}"
    return out + err


@pytest.fixture(params=["sqlite", "postgresql"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Project:
    if request.param == "sqlite":
        return Project(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", None, "sqlite")
    from tests.support.pg_fixture import fresh_pg_url

    server = request.getfixturevalue("pg_server")
    return Project(tmp_path, fresh_pg_url(server), server.url("postgres").render_as_string(False), "postgresql")


@pytest.mark.slow  # concurrent CLI processes
def test_concurrent_upgrades_apply_every_file_once(project: Project, tmp_path: Path) -> None:
    slow = "SELECT pg_sleep(0.3);\n" if project.dialect == "postgresql" else ""
    project.write({
        f"{V1}_log.sql": "CREATE TABLE log (file VARCHAR(20));\nINSERT INTO log VALUES ('v1');\n",
        f"{V2}_two.sql": f"INSERT INTO log VALUES ('v2');\n{slow}",
        f"{V3}_three.sql": "INSERT INTO log VALUES ('v3');\n",
    })
    env = {"TMPDIR": str(tmp_path)}  # the SQLite lock file lives in $TMPDIR
    procs = [spawn(project, "upgrade", "head", env=env) for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert sorted(project.execute("SELECT file FROM log")) == [("v1",), ("v2",), ("v3",)]
    assert [r[:4] for r in project.revisions()] == [(v, 2, n, n) for v, n in ((V1, 2), (V2, 1 + bool(slow)), (V3, 1))]
    applied = sum(out.count("Running upgrade") for out, _ in outputs)
    assert applied == 3 and sum("No migration files to execute" in out for out, _ in outputs) >= 1


@pytest.mark.slow  # a CLI process killed mid-file, then resumed
def test_killed_in_the_middle_of_a_file_resumes(pg_server, tmp_path: Path) -> None:
    from tests.support.pg_fixture import fresh_pg_url

    project = Project(tmp_path, fresh_pg_url(pg_server), None, "postgresql")
    project.write({
        f"{V1}_log.sql": "CREATE TABLE log (step VARCHAR(20));\n",
        f"{V2}_slow.sql": "-- atlas:txmode none\n\nINSERT INTO log VALUES ('a');\nSELECT pg_sleep(1);\n"
                          "INSERT INTO log VALUES ('b');\n",
        f"{V3}_after.sql": "INSERT INTO log VALUES ('c');\n",
    })
    proc = spawn(project, "upgrade", "head")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = project.revisions()
        if rows and rows[-1][0] == V2 and rows[-1][2] >= 1:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"the upgrade never reached the slow statement: {proc.communicate()}")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert project.revisions()[-1][:4] == (V2, 2, 1, 3)  # the row knows: 1 of 3 statements applied
    assert f"Current Version: {V2} (1 statement applied)" in cli(project, "status")
    out = cli(project, "upgrade", "head")  # waits for the dead session's lock, then resumes
    assert "resuming at statement 2 of 3" in out
    assert project.execute("SELECT step FROM log ORDER BY step") == [("a",), ("b",), ("c",)]
    assert [r[2:] for r in project.revisions()] == [(1, 1, ""), (3, 3, ""), (1, 1, "")]


def test_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    project = Project(tmp_path, "postgresql+psycopg://app:s3cret-pw@127.0.0.1:1/app", None, "postgresql")
    project.write({f"{V1}_x.sql": "SELECT 1;\n"})
    proc = spawn(project, "upgrade", "head")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 255 and "s3cret" not in out + err
    [line] = out.splitlines()
    assert line.startswith("FAILED: cannot connect to postgresql+psycopg://app:***@127.0.0.1:1/app: ")
    assert "refused" in line.lower()


def test_wrong_password_is_one_line_without_the_password(pg_server, tmp_path: Path) -> None:
    hba = pg_server.datadir / "pg_hba.conf"
    original = hba.read_text()
    admin = sa.create_engine(pg_server.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        hba.write_text("local all atlembic_pw scram-sha-256\n" + original)
        with admin.connect() as conn:
            conn.exec_driver_sql("DROP ROLE IF EXISTS atlembic_pw")
            conn.exec_driver_sql("CREATE ROLE atlembic_pw LOGIN PASSWORD 'the-right-one'")
            conn.exec_driver_sql("SELECT pg_reload_conf()")
        time.sleep(0.2)
        url = pg_server.url("postgres").set(username="atlembic_pw", password="wr0ng-s3cret")
        project = Project(tmp_path, url.render_as_string(hide_password=False), None, "postgresql")
        project.write({f"{V1}_x.sql": "SELECT 1;\n"})
        proc = spawn(project, "status")
        out, err = proc.communicate(timeout=60)
    finally:
        hba.write_text(original)
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT pg_reload_conf()")
        admin.dispose()
    assert proc.returncode == 255 and "wr0ng-s3cret" not in out + err
    [line] = out.splitlines()
    assert line.startswith("FAILED: cannot connect to postgresql+psycopg://atlembic_pw:***@/postgres")
    assert 'password authentication failed for user "atlembic_pw"' in line


@pytest.mark.slow  # CLI end to end from `init`
def test_init_then_autogenerate_and_upgrade(project: Project, tmp_path: Path) -> None:
    work = tmp_path / "fresh"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(*args: str, code: int = 0) -> str:
        proc = subprocess.run([sys.executable, "-m", "atlembic", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == code, f"{args}: {proc.stdout}\n{proc.stderr}"
        return proc.stdout

    out = run("init", "alembic")
    for path in ("alembic/env.py", "alembic.ini", "models.py", "migrations/atlas.sum"):
        assert (work / path).is_file() and f"{work / path} ...  done" in out
    assert out.rstrip().endswith(f"Please edit configuration/connection/logging settings in {work / 'alembic.ini'} "
                                 "before proceeding.")
    assert "[atlembic]" in (work / "alembic.ini").read_text()
    assert "Directory alembic already exists and is not empty" in run("init", "alembic", code=255)
    (work / "models.py").write_text(
        (work / "models.py").read_text()
        + "\nfrom sqlalchemy import String\nfrom sqlalchemy.orm import Mapped, mapped_column\n\n\n"
        "class Note(Base):\n    __tablename__ = 'note'\n    id: Mapped[int] = mapped_column(primary_key=True)\n"
        "    body: Mapped[str] = mapped_column(String(200))\n"
    )
    target = [] if project.dialect == "sqlite" else ["--url", project.url, "--dev-url",
                                                     project.url.replace(project.url.split("/")[-1].split("?")[0],
                                                                         "postgres")]
    assert "Generating" in run(*target, "revision", "--autogenerate", "-m", "notes")
    run(*target, "upgrade", "head")
    [file] = (work / "migrations").glob("*_notes.sql")
    assert run(*target, "current") == f"{file.name.split('_')[0]} (head)\n"
