"""`atlembic rebase VERSION...` (issue 18, item 3; Atlas's `migrate rebase`): a file a merge brought in below the
latest version gets a new version after it, atlas.sum is rewritten, the directory is verified on the dev
database against the models, and `upgrade` then applies the file on databases that ran the others."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.engines import engine_for
from atlembic.migrate.directory import MigrationDir
from tests.support.cli import run_cli
from tests.support.roundtrip import query, reflect

V1, V2, V3 = "20240101000000", "20240102000000", "20240103000000"
MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()


def key():
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=False)


sa.Table("account", metadata, key(), sa.Column("name", sa.String(40)))
sa.Table("invoice", metadata, key(), sa.Column("total", sa.Integer))
sa.Table("branch_note", metadata, key(), sa.Column("body", sa.String(40)))
"""
MAIN = {
    f"{V1}_account.sql": "CREATE TABLE account (id INTEGER NOT NULL, name VARCHAR(40), PRIMARY KEY (id));\n",
    f"{V3}_invoice.sql": "CREATE TABLE invoice (id INTEGER NOT NULL, total INTEGER, PRIMARY KEY (id));\n",
}
BRANCH = {
    f"{V2}_branch_note.sql": "CREATE TABLE branch_note (id INTEGER NOT NULL, body VARCHAR(40), PRIMARY KEY (id));\n",
}


class Project:
    def __init__(self, root: Path, dev_url: str | None) -> None:
        self.root = root
        self.migrations = root / "migrations"
        self.migrations.mkdir()
        (root / "models.py").write_text(MODELS)
        dev = f"dev_url = {dev_url.replace('%', '%%')}\n" if dev_url else ""
        (root / "alembic.ini").write_text("[alembic]\n\n[atlembic]\nmigrations_dir = %(here)s/migrations\n"
                                          f"metadata = models:metadata\n{dev}")

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            (self.migrations / name).write_text(text)
        MigrationDir(self.migrations).write_sum()

    def cli(self, *args: str, code: int = 0) -> str:
        proc = run_cli(self.root, *args, check=False)
        assert proc.returncode == code, f"atlembic {' '.join(args)} -> {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        return proc.stdout + proc.stderr

    def names(self) -> list[str]:
        return sorted(p.name for p in self.migrations.iterdir())


def revisions(url: str) -> list[str]:
    table = "atlas_schema_revisions" if engine_for(sa.engine.make_url(url)).name != "postgresql" else \
        "atlas_schema_revisions.atlas_schema_revisions"
    return [r[0] for r in query(url, f"SELECT version FROM {table} ORDER BY version")]


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Project, list[str]]:
    """A project and three empty target URLs on the engine."""
    if request.param == "sqlite":
        return Project(tmp_path, None), [f"sqlite:///{tmp_path / f'db{i}.db'}" for i in range(3)]
    if request.param == "postgresql":
        from tests.support.pg_fixture import fresh_pg_url

        server = request.getfixturevalue("pg_server")
        dev = server.url("postgres").render_as_string(hide_password=False)
        return Project(tmp_path, dev), [fresh_pg_url(server) for _ in range(3)]
    from tests.support.mysql_fixture import fresh_mysql_url

    server = request.getfixturevalue("mysql_server")
    return Project(tmp_path, server.url().render_as_string(hide_password=False)), [
        fresh_mysql_url(server) for _ in range(3)]


def test_a_rebased_branch_file_applies_where_the_others_ran(setup: tuple[Project, list[str]]) -> None:
    project, (prod, staging, fresh) = setup
    project.write(MAIN)
    project.cli("upgrade", "--url", prod, "--url", staging)
    query(prod, "INSERT INTO account (id, name) VALUES (1, 'kept')")
    project.write(BRANCH)  # the merge: the branch's file sorts before the applied V3

    out = project.cli("--url", prod, "upgrade", code=255)
    assert f"{V2}_branch_note.sql was added out of order" in out and f"run `atlembic rebase {V2}`" in out

    out = project.cli("rebase", V2)

    [(old, new)] = re.findall(r"Renamed (\S+) -> (\S+)", out)
    assert old == f"{V2}_branch_note.sql" and re.fullmatch(r"\d{14}_branch_note\.sql", new) and new[:14] > V3
    assert "the directory replays and reaches the models" in out
    assert project.names() == sorted([*MAIN, new, "atlas.sum"])
    MigrationDir(project.migrations).checked()  # atlas.sum matches the renamed files
    project.cli("check")

    out = project.cli("upgrade", "--url", prod, "--url", staging, "--url", fresh)
    assert out.count(f"{V3} -> {new[:14]}") == 2 and f"<base> -> {new[:14]}" in out
    assert revisions(prod) == revisions(staging) == revisions(fresh) == [V1, V3, new[:14]]
    assert query(prod, "SELECT id, name FROM account") == [(1, "kept")]
    assert reflect(prod) == reflect(fresh)  # the same database as one built from the directory


def test_a_rebase_that_no_longer_replays_is_undone(tmp_path: Path) -> None:
    project = Project(tmp_path, None)
    project.write(MAIN)
    # The main line's V3 came to need the branch's table: moving the branch after it breaks the replay.
    project.write({f"{V3}_invoice.sql": MAIN[f"{V3}_invoice.sql"] + "INSERT INTO branch_note (id) VALUES (1);\n",
                   **BRANCH})
    before = {p.name: p.read_bytes() for p in project.migrations.iterdir()}

    out = project.cli("rebase", V2, code=255)

    assert out.startswith("FAILED: ") and "branch_note" in out and "rebase undone" in out and len(out.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in project.migrations.iterdir()} == before


def test_bad_versions_and_nothing_to_do(tmp_path: Path) -> None:
    project = Project(tmp_path, None)
    project.write({**MAIN, **BRANCH})
    before = {p.name: p.read_bytes() for p in project.migrations.iterdir()}
    assert project.cli("rebase", "2099", code=255).strip() == "FAILED: rebase: no migration file has version '2099'"
    out = project.cli("rebase", "2024010", code=255)
    assert out.startswith("FAILED: rebase: version '2024010' is ambiguous:") and f"{V1}_account.sql" in out
    assert "Nothing to rebase" in project.cli("rebase", V3)
    assert {p.name: p.read_bytes() for p in project.migrations.iterdir()} == before
    # Two files given: both move after the latest, in their order, one second apart.
    out = project.cli("rebase", V1, V2)
    moved = re.findall(r"Renamed (\S+) -> (\S+)", out)
    assert [old for old, _ in moved] == [f"{V1}_account.sql", f"{V2}_branch_note.sql"]
    assert V3 < moved[0][1][:14] < moved[1][1][:14]


def test_migrate_rebase_on_an_atlas_hcl_env(tmp_path: Path) -> None:
    """Atlas's verb on an atlas.hcl project: the desired schema is the env's src, the dev database its dev URL."""
    (tmp_path / "migrations").mkdir()
    (tmp_path / "schema.sql").write_text("".join([*MAIN.values(), *BRANCH.values()]))
    (tmp_path / "atlas.hcl").write_text('env "local" {\n  src = "file://schema.sql"\n'
                                        '  dev = "sqlite://dev?mode=memory"\n'
                                        '  migration {\n    dir = "file://migrations"\n  }\n}\n')
    for name, text in {**MAIN, **BRANCH}.items():
        (tmp_path / "migrations" / name).write_text(text)
    MigrationDir(tmp_path / "migrations").write_sum()

    out = run_cli(tmp_path, "migrate", "rebase", V2, "--env", "local").stdout

    [(old, new)] = re.findall(r"Renamed (\S+) -> (\S+)", out)
    assert old == f"{V2}_branch_note.sql" and new[:14] > V3 and "replays and reaches the models" in out
    MigrationDir(tmp_path / "migrations").checked()
    (tmp_path / "schema.sql").write_text(MAIN[f"{V1}_account.sql"])  # the src no longer has those tables
    out = run_cli(tmp_path, "migrate", "rebase", V1, "--env", "local", check=False).stdout
    assert out.startswith("FAILED: the rebased directory no longer reaches the models") and "rebase undone" in out
