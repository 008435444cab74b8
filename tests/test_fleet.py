"""Many targets in one command (issue 18, item 2): `upgrade`, `current`, `status` and `check --drift` with `--url`
repeated or `--url-file`, `--parallel`, `--canary`, `--format json`. Each target is locked, applied and recorded
on its own; a broken one is reported while the others reach the target version."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.engines import engine_for
from atlembic.errors import mask_url
from atlembic.migrate.directory import MigrationDir
from atlembic.migrate.lock import fnv1_32
from tests.support.cli import run_cli
from tests.test_cli import REPO

V1, V2, V3 = "20240101000000", "20240102000000", "20240103000000"
FILES = {
    V1: "CREATE TABLE tenant_item (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);\n",
    V2: "CREATE TABLE tenant_tag (id INTEGER PRIMARY KEY, label VARCHAR(40));\n"
        "ALTER TABLE tenant_item ADD COLUMN note VARCHAR(40);\n",
    V3: "INSERT INTO tenant_tag (id, label) VALUES (1, 'v3');\n",
}
NAMES = {V1: "items", V2: "tags", V3: "seed"}


@dataclass
class Fleet:
    """A project whose targets are the URLs of its url file; alembic.ini names no target at all."""

    root: Path
    urls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        (self.root / "migrations").mkdir(exist_ok=True)
        (self.root / "alembic.ini").write_text("[alembic]\n\n[atlembic]\nmigrations_dir = %(here)s/migrations\n")

    def add(self, *versions: str) -> None:
        for version in versions:
            (self.root / "migrations" / f"{version}_{NAMES[version]}.sql").write_text(FILES[version])
        MigrationDir(self.root / "migrations").write_sum()

    @property
    def url_file(self) -> Path:
        path = self.root / "targets.txt"
        path.write_text("# the tenants\n\n" + "".join(f"{u}\n" for u in self.urls))
        return path

    def cli(self, *args: str, code: int = 0) -> str:
        proc = run_cli(self.root, *args, check=False)
        assert proc.returncode == code, f"atlembic {' '.join(args)} -> {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        return proc.stdout + proc.stderr

    def execute(self, url: str, sql: str) -> list[tuple]:
        parsed = sa.engine.make_url(url)
        engine = sa.create_engine(engine_for(parsed).connect_url(parsed), poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(sql))
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def revisions(self, url: str, table: str = "atlas_schema_revisions") -> list[tuple]:
        return self.execute(url, f"SELECT version, applied, total FROM {table} ORDER BY version")


def sqlite_fleet(tmp_path: Path, count: int) -> Fleet:
    fleet = Fleet(tmp_path)
    fleet.urls = [f"sqlite:///{tmp_path / f'tenant_{i}.db'}" for i in range(count)]
    return fleet


def line_of(out: str, url: str) -> str:
    url = mask_url(url)
    found = [line for line in out.splitlines() if f" {url} " in f"{line} " and not line.startswith("FAILED:")]
    assert len(found) == 1, (url, out)
    return found[0]


def test_a_broken_tenant_is_reported_while_the_others_migrate(tmp_path: Path) -> None:
    fleet = sqlite_fleet(tmp_path, 24)
    fleet.add(V1)
    out = fleet.cli("upgrade", "--url-file", str(fleet.url_file), "--parallel", "2")
    assert out.count(f"<base> -> {V1}") == 24 and "24 targets: all ok" in out
    for i, url in enumerate(fleet.urls):
        fleet.execute(url, f"INSERT INTO tenant_item (id, name) VALUES ({i}, 'row {i}')")
    broken = fleet.urls[7]
    fleet.execute(broken, "CREATE TABLE tenant_tag (x INTEGER)")  # made by hand: V2's CREATE TABLE fails there
    fleet.add(V2)

    out = fleet.cli("upgrade", "--url-file", str(fleet.url_file), "--parallel", "2", code=255)

    assert line_of(out, broken).startswith("failed ") and "tenant_tag already exists" in line_of(out, broken)
    assert f"FAILED: 1 of 24 targets failed: {broken}" in out
    for i, url in enumerate(fleet.urls):
        if url == broken:
            assert fleet.revisions(url)[-1][0] == V2 and fleet.revisions(url)[-1][1] == 0  # recorded as failed
            continue
        assert line_of(out, url).startswith("ok ") and f"{V1} -> {V2}" in line_of(out, url)
        assert fleet.revisions(url) == [(V1, 1, 1), (V2, 2, 2)]
        assert fleet.execute(url, "SELECT id, name, note FROM tenant_item") == [(i, f"row {i}", None)]

    fleet.execute(broken, "DROP TABLE tenant_tag")  # the tenant repaired: the next run finishes it alone
    out = fleet.cli("upgrade", "--url-file", str(fleet.url_file))
    assert line_of(out, broken).startswith("ok ") and f"{V1} -> {V2}" in line_of(out, broken)
    assert sum(f"{V2} -> {V2}" in line for line in out.splitlines()) == 23
    assert fleet.revisions(broken) == [(V1, 1, 1), (V2, 2, 2)]


def test_a_failed_canary_stops_before_the_other_targets(tmp_path: Path) -> None:
    fleet = sqlite_fleet(tmp_path, 6)
    fleet.add(V1)
    fleet.cli("upgrade", "--url-file", str(fleet.url_file))
    fleet.execute(fleet.urls[1], "CREATE TABLE tenant_tag (x INTEGER)")
    fleet.add(V2)

    out = fleet.cli("upgrade", "--url-file", str(fleet.url_file), "--canary", "2", "--parallel", "2", code=255)

    assert line_of(out, fleet.urls[0]).startswith("ok ") and line_of(out, fleet.urls[1]).startswith("failed ")
    for url in fleet.urls[2:]:
        assert line_of(out, url).startswith("skipped ") and "a canary target failed" in line_of(out, url)
        assert fleet.revisions(url) == [(V1, 1, 1)]  # never touched
    assert "1 of 6 targets failed, 4 skipped" in out

    fleet.execute(fleet.urls[1], "DROP TABLE tenant_tag")
    out = fleet.cli("upgrade", "--url-file", str(fleet.url_file), "--canary", "2")
    assert all(fleet.revisions(url)[-1] == (V2, 2, 2) for url in fleet.urls), out


def test_json_gives_one_object_per_target(tmp_path: Path) -> None:
    fleet = sqlite_fleet(tmp_path, 3)
    fleet.add(V1, V2)
    fleet.cli("upgrade", V1, "--url", fleet.urls[0])
    out = fleet.cli("upgrade", "--url", fleet.urls[0], "--url", fleet.urls[1], "--url", fleet.urls[2],
                    "--format", "json")
    objects = json.loads(out)
    assert [o["url"] for o in objects] == fleet.urls and {o["status"] for o in objects} == {"ok"}
    assert [(o["from"], o["to"], o["applied"]) for o in objects] == [
        (V1, V2, [V2]), (None, V2, [V1, V2]), (None, V2, [V1, V2])]
    assert all(isinstance(o["seconds"], float) and o["error"] is None for o in objects)

    current = json.loads(fleet.cli("current", "--url-file", str(fleet.url_file), "--format", "json"))
    assert [(c["url"], c["current"], c["is_head"]) for c in current] == [(u, V2, True) for u in fleet.urls]


def test_current_status_and_drift_of_a_fleet(tmp_path: Path) -> None:
    fleet = sqlite_fleet(tmp_path, 5)
    fleet.add(V1, V2)
    fleet.cli("upgrade", "--url-file", str(fleet.url_file))
    fleet.add(V3)
    fleet.cli("upgrade", "--url", fleet.urls[4])

    out = fleet.cli("current", "--url-file", str(fleet.url_file))
    assert f"{V3} (head)" in line_of(out, fleet.urls[4]) and f"{V2}  " in line_of(out, fleet.urls[0])

    out = fleet.cli("status", "--url-file", str(fleet.url_file), "--parallel", "2")
    assert "PENDING" in line_of(out, fleet.urls[0]) and "1 pending file" in line_of(out, fleet.urls[0])
    assert "OK" in line_of(out, fleet.urls[4]) and "5 targets: all ok" in out

    fleet.execute(fleet.urls[2], "CREATE TABLE by_hand (id INTEGER)")
    out = fleet.cli("check", "--drift", "--url-file", str(fleet.url_file), code=255)
    assert line_of(out, fleet.urls[2]).startswith("failed ") and "by_hand" in line_of(out, fleet.urls[2])
    assert f"no drift at {V3}" in line_of(out, fleet.urls[4]) and "1 of 5 targets failed" in out
    objects = json.loads(fleet.cli("check", "--url", fleet.urls[2], "--url", fleet.urls[3], "--format", "json",
                                   code=255))
    assert [(o["drift"], o["status"]) for o in objects] == [(True, "failed"), (False, "ok")]


def test_bad_url_lines_are_named_and_passwords_never_echoed(tmp_path: Path) -> None:
    fleet = sqlite_fleet(tmp_path, 2)
    fleet.add(V1)
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{fleet.urls[0]}\n# a comment\nnot a url://admin:hunter2@db.invalid/app\n")
    out = fleet.cli("upgrade", "--url-file", str(bad), code=255)
    assert out.strip() == f"FAILED: {bad}:3: not a database URL: not a url://admin:***@db.invalid/app"
    bad.write_text(f"{fleet.urls[0]}\nfoo://admin:hunter2@db.invalid/app\n{fleet.urls[0]}\n")
    out = fleet.cli("upgrade", "--url-file", str(bad), code=255)
    assert f"{bad}:2: no atlembic engine for 'foo'" in out and "hunter2" not in out
    bad.write_text(f"{fleet.urls[0]}\n{fleet.urls[0]}\n")
    out = fleet.cli("upgrade", "--url-file", str(bad), code=255)
    assert f"FAILED: {bad}:2: the same target as {bad}:1" in out
    out = fleet.cli("upgrade", "--url-file", str(tmp_path / "missing.txt"), code=255)
    assert out.startswith(f"FAILED: --url-file {tmp_path / 'missing.txt'}: No such file")
    assert not (tmp_path / "tenant_0.db").exists()  # a bad list runs nothing

    # A target that cannot be reached (a closed local port) fails on its own line, password masked.
    unreachable = "postgresql+psycopg://admin:hunter2@127.0.0.1:1/app"
    out = fleet.cli("upgrade", "--url", fleet.urls[0], "--url", unreachable, "--url", fleet.urls[1], code=255)
    assert "hunter2" not in out and line_of(out, "postgresql+psycopg://admin:***@127.0.0.1:1/app").startswith(
        "failed ")
    assert fleet.revisions(fleet.urls[0]) == fleet.revisions(fleet.urls[1]) == [(V1, 1, 1)]
    out = fleet.cli("upgrade", "--parallel", "0", "--url-file", str(fleet.url_file), code=255)
    assert "FAILED: --parallel: expected a number >= 1, got 0" in out


@pytest.mark.parametrize("args", [["--sql", "--url-file", "targets.txt"], ["--sql", "--format", "json"]])
def test_sql_does_not_go_with_many_targets(tmp_path: Path, args: list[str]) -> None:
    fleet = sqlite_fleet(tmp_path, 2)
    fleet.add(V1)
    assert fleet.url_file.exists()
    out = fleet.cli("--url", fleet.urls[0], "upgrade", *args, code=255)
    assert "--sql prints one script" in out


# ----------------------------------------------------------------------------------------------------
# servers: PostgreSQL schemas and databases on one server, MariaDB databases


def with_query(url: str, **query: str) -> str:
    return sa.engine.make_url(url).update_query_dict(query).render_as_string(hide_password=False)


def schema_url(database_url: str, schema: str, index: int) -> str:
    """Half the tenants in Atlas's spelling, half in libpq's."""
    query = {"search_path": schema} if index % 2 else {"options": f"-csearch_path={schema}"}
    return with_query(database_url, **query)


def pg_fleet(tmp_path: Path, server: object, schemas: int, databases: int) -> tuple[Fleet, str]:
    from tests.support.pg_fixture import fresh_pg_url

    shared = fresh_pg_url(server)
    fleet = Fleet(tmp_path)
    fleet.urls = [schema_url(shared, f"tenant_{i}", i) for i in range(schemas)]
    fleet.urls += [fresh_pg_url(server) for _ in range(databases)]
    return fleet, shared


def test_postgres_schema_tenants_and_databases_each_keep_their_revisions(tmp_path: Path, pg_server) -> None:
    fleet, shared = pg_fleet(tmp_path, pg_server, 20, 6)
    fleet.execute(shared, "CREATE SCHEMA tenant_0")  # an existing schema, and schemas made by the first upgrade
    fleet.add(V1)
    out = fleet.cli("upgrade", "--url-file", str(fleet.url_file), "--parallel", "2")
    assert out.count(f"<base> -> {V1}") == 26, out
    for i, url in enumerate(fleet.urls):
        fleet.execute(url, f"INSERT INTO tenant_item (id, name) VALUES ({i}, 'row {i}')")
    broken = fleet.urls[5]
    fleet.execute(shared, "CREATE TABLE tenant_5.tenant_tag (x INTEGER)")
    fleet.add(V2, V3)

    out = fleet.cli("upgrade", "--url-file", str(fleet.url_file), "--parallel", "2", code=255)

    assert line_of(out, broken).startswith("failed ") and "already exists" in line_of(out, broken)
    assert "1 of 26 targets failed" in out
    for i in range(20):  # every tenant's tables and revisions in its own schema, nothing in the shared one
        schema = f"tenant_{i}"
        tables = {r[0] for r in fleet.execute(shared, "SELECT table_name FROM information_schema.tables "
                                                      f"WHERE table_schema = '{schema}'")}
        assert tables == {"tenant_item", "tenant_tag", "atlas_schema_revisions"}, (schema, tables)
        revisions = fleet.revisions(shared, f"{schema}.atlas_schema_revisions")
        if i == 5:
            assert revisions == [(V1, 1, 1), (V2, 0, 2)]
            continue
        assert revisions == [(V1, 1, 1), (V2, 2, 2), (V3, 1, 1)]
        assert fleet.execute(shared, f"SELECT id, name, note FROM {schema}.tenant_item") == [(i, f"row {i}", None)]
    assert fleet.execute(shared, "SELECT count(*) FROM information_schema.schemata "
                                 "WHERE schema_name = 'atlas_schema_revisions'") == [(0,)]
    assert fleet.execute(shared, "SELECT count(*) FROM information_schema.tables "
                                 "WHERE table_schema = 'public'") == [(0,)]
    for url in fleet.urls[20:]:  # a database per tenant: Atlas's schema atlas_schema_revisions, as before
        assert fleet.revisions(url, "atlas_schema_revisions.atlas_schema_revisions") == [
            (V1, 1, 1), (V2, 2, 2), (V3, 1, 1)]

    out = fleet.cli("status", "--url-file", str(fleet.url_file))
    assert "OK: " in line_of(out, fleet.urls[6]) and f"PENDING: {V2}; next {V2}" in line_of(out, broken)
    fleet.execute(shared, "DROP TABLE tenant_5.tenant_tag")
    fleet.cli("upgrade", "--url-file", str(fleet.url_file), "--parallel", "2")
    out = fleet.cli("check", "--drift", "--url-file", str(fleet.url_file), "--parallel", "2")
    assert out.count(f"no drift at {V3}") == 26
    assert fleet.execute(shared, "SELECT count(*) FROM tenant_5.tenant_tag") == [(1,)]


def test_mariadb_databases_each_keep_their_revisions(tmp_path: Path, mysql_server) -> None:
    from tests.support.mysql_fixture import fresh_mysql_url

    fleet = Fleet(tmp_path)
    fleet.urls = [fresh_mysql_url(mysql_server) for _ in range(16)]
    fleet.add(V1)
    fleet.cli("upgrade", "--url-file", str(fleet.url_file), "--parallel", "2")
    for i, url in enumerate(fleet.urls):
        fleet.execute(url, f"INSERT INTO tenant_item (id, name) VALUES ({i}, 'row {i}')")
    broken = fleet.urls[3]
    fleet.execute(broken, "CREATE TABLE tenant_tag (x INTEGER)")
    fleet.add(V2, V3)

    out = fleet.cli("upgrade", "--url-file", str(fleet.url_file), "--parallel", "2", code=255)

    assert line_of(out, broken).startswith("failed ")
    assert "1 of 16 targets failed" in out
    for i, url in enumerate(fleet.urls):
        if url != broken:
            assert fleet.revisions(url) == [(V1, 1, 1), (V2, 2, 2), (V3, 1, 1)]
            assert fleet.execute(url, "SELECT id, name, note FROM tenant_item") == [(i, f"row {i}", None)]
    fleet.execute(broken, "DROP TABLE tenant_tag")
    out = fleet.cli("upgrade", "--url-file", str(fleet.url_file))
    assert fleet.revisions(broken) == [(V1, 1, 1), (V2, 2, 2), (V3, 1, 1)]


# ----------------------------------------------------------------------------------------------------
# processes: two fleet runs at once; a run killed mid-fleet and run again


def spawn(fleet: Fleet, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(fleet.root)}
    return subprocess.Popen([sys.executable, "-m", "atlembic", *args], cwd=fleet.root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow  # CLI processes
@pytest.mark.parametrize("engine", ["sqlite", "postgresql", "mariadb"])
def test_two_fleet_runs_at_once_both_succeed(tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> None:
    if engine == "sqlite":
        fleet = sqlite_fleet(tmp_path, 12)
    elif engine == "postgresql":
        fleet = pg_fleet(tmp_path, request.getfixturevalue("pg_server"), 12, 0)[0]
    else:
        from tests.support.mysql_fixture import fresh_mysql_url

        server = request.getfixturevalue("mysql_server")
        fleet = Fleet(tmp_path)
        fleet.urls = [fresh_mysql_url(server) for _ in range(12)]
    fleet.add(V1, V2, V3)
    runs = [spawn(fleet, "upgrade", "--url-file", str(fleet.url_file), "--parallel", "2", "--lock-timeout", "60s")
            for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs
    for url in fleet.urls:
        assert fleet.execute(url, "SELECT label FROM tenant_tag") == [("v3",)]  # V3 ran once
    applied = sum(line.count(f"-> {V3}") for out in outputs for line in out.splitlines() if "<base>" in line)
    assert applied == 12  # each target migrated by one of the two runs; the other found it at head


@pytest.mark.slow  # a CLI process killed
def test_a_fleet_killed_mid_way_and_run_again_ends_at_head_with_each_file_once(tmp_path: Path, pg_server) -> None:
    fleet, shared = pg_fleet(tmp_path, pg_server, 16, 0)
    fleet.add(V1)
    (fleet.root / "migrations" / f"{V2}_{NAMES[V2]}.sql").write_text(FILES[V2] + "SELECT pg_sleep(0.2);\n")
    MigrationDir(fleet.root / "migrations").write_sum()
    fleet.add(V3)
    proc = spawn(fleet, "upgrade", "--url-file", str(fleet.url_file))

    def done() -> int:
        return sum(1 for i in range(16) if fleet.execute(
            shared, f"SELECT to_regclass('tenant_{i}.atlas_schema_revisions') IS NOT NULL")[0][0]
            and fleet.revisions(shared, f"tenant_{i}.atlas_schema_revisions")[-1:] == [(V3, 1, 1)])

    deadline = time.monotonic() + 120
    while done() < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 4 <= done() < 16  # killed mid-fleet

    out = fleet.cli("upgrade", "--url-file", str(fleet.url_file))

    assert "16 targets: all ok" in out
    for i in range(16):
        assert fleet.revisions(shared, f"tenant_{i}.atlas_schema_revisions") == [(V1, 1, 1), (V2, 3, 3), (V3, 1, 1)]
        assert fleet.execute(shared, f"SELECT label FROM tenant_{i}.tenant_tag") == [("v3",)]


@pytest.mark.parametrize("engine", ["postgresql", "mariadb"])
def test_the_lock_is_per_tenant_schema_and_per_database(tmp_path: Path, engine: str,
                                                         request: pytest.FixtureRequest) -> None:
    """Another holds one tenant's lock: that tenant waits and times out, its neighbours on the same database
    (PostgreSQL schemas) or server (MariaDB databases) migrate."""
    if engine == "postgresql":
        fleet, shared = pg_fleet(tmp_path, request.getfixturevalue("pg_server"), 3, 0)
        held = fleet.urls[1]
        holder_url, take = shared, f"SELECT pg_advisory_lock({fnv1_32(b'atlas_migrate_execute.tenant_1')})"
    else:
        from tests.support.mysql_fixture import fresh_mysql_url

        server = request.getfixturevalue("mysql_server")
        fleet = Fleet(tmp_path)
        fleet.urls = [fresh_mysql_url(server) for _ in range(3)]
        held = holder_url = fleet.urls[1]
        take = f"SELECT GET_LOCK('atlas_migrate_execute.{sa.engine.make_url(held).database}', 0)"
    fleet.add(V1)
    holder = sa.create_engine(holder_url, poolclass=sa.pool.NullPool)
    try:
        with holder.connect() as conn:
            conn.exec_driver_sql(take)
            out = fleet.cli("upgrade", "--url-file", str(fleet.url_file), "--parallel", "3", "--lock-timeout", "1s",
                            code=255)
    finally:
        holder.dispose()
    assert line_of(out, held).startswith("failed ") and "atlas_migrate_execute." in line_of(out, held)
    assert [line_of(out, u).startswith("ok ") for u in fleet.urls] == [True, False, True]
    fleet.cli("upgrade", "--url", held)  # released: it migrates


def test_a_directory_every_target_would_refuse_is_said_once(tmp_path: Path) -> None:
    fleet = sqlite_fleet(tmp_path, 4)
    fleet.add(V1)
    (fleet.root / "migrations" / f"{V2}_{NAMES[V2]}.sql").write_text(FILES[V2])  # atlas.sum not rewritten
    for command in (["upgrade"], ["check", "--drift"]):
        out = fleet.cli(*command, "--url-file", str(fleet.url_file), code=255)
        assert len(out.splitlines()) == 1 and out.startswith("FAILED: ") and f"{V2}_tags.sql" in out, out
    assert not any((tmp_path / f"tenant_{i}.db").exists() for i in range(4))
