"""Many targets in one command (issue 18, item 2): `upgrade`, `current`, `status` and `check --drift` with `--url`
repeated or `--url-file`, `--parallel`, `--canary`, `--format json`. Each target is locked, applied and recorded
on its own; a broken one is reported while the others reach the target version."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.migrate.directory import MigrationDir
from tests.support.cli import run_cli

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
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
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
