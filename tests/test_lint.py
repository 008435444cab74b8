"""`atlembic lint` through the CLI: output formats, file selection, nolint directives, configuration,
data-dependent checks against real rows, and the gates in upgrade, downgrade and revision --autogenerate.

Per-code coverage on every dialect is in test_lint_codes.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from atlembic import commands
from atlembic.config import load_settings
from tests.test_cli import SAMPLE, atlembic
from tests.test_lifecycle import Project, project  # noqa: F401  (the sqlite/postgresql project fixture)

V1, V2, V3 = "20240101000000", "20240102000000", "20240103000000"
BASE = {
    f"{V1}_init.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50), email VARCHAR(50));\n"
                      "CREATE TABLE posts (id INTEGER PRIMARY KEY, title VARCHAR(50));\n",
}
DROPS = f"{V2}_drops.sql"
DROPS_SQL = ("-- Drop posts\nDROP TABLE posts;\n-- Rename\nALTER TABLE users RENAME COLUMN name TO full_name;\n"
             "CREATE UNIQUE INDEX users_email ON users (email);\n")


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    return Project(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", None, "sqlite")


def configure(p: Project, **options: str) -> None:
    """Add keys to the [atlembic] section (the last one of the test's alembic.ini)."""
    p.ini.write_text(p.ini.read_text() + "".join(f"{k} = {v}\n" for k, v in options.items()))


def test_text_json_github_and_file_selection(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write({**BASE, DROPS: DROPS_SQL})
    out = p.run("lint", code=1)  # a destructive finding: exit 1
    path = str(p.migrations / DROPS)
    assert out.splitlines()[:4] == [
        f'{path}:2: DS102: Dropping table "posts"',
        f'{path}:4: BC102: Renaming column "name" to "full_name"',
        f'{path}:5: MF101: Adding a unique index "users_email" on table "users" might fail in case column "email" '
        "contains duplicate entries",
        f"Analyzed 2 files ({V1}_init.sql .. {DROPS}) on in-memory SQLite: 1 error, 2 warnings",
    ]
    data = json.loads(p.run("lint", "--latest", "1", "--format", "json", code=1))
    assert data["files"] == [DROPS] and (data["errors"], data["warnings"]) == (1, 2)
    assert data["findings"][0] == {"file": path, "name": DROPS, "line": 2, "code": "DS102",
                                   "analyzer": "destructive", "message": 'Dropping table "posts"', "error": True}
    github = p.run("lint", "--format", "github", code=1).splitlines()
    escaped = path.replace(":", "%3A").replace(",", "%2C")
    assert github[0] == f'::error file={escaped},line=2,title=DS102::Dropping table "posts"'
    assert github[1].startswith(f"::warning file={escaped},line=4,title=BC102::Renaming column")
    # -q: the findings only; --from: the files after a version; nothing after the head: nothing to analyze
    assert len(p.run("-q", "lint", code=1).splitlines()) == 3
    assert p.run("lint", "--from", V2) .startswith("Analyzed 0 files")
    assert "Analyzed 1 file (" in p.run("lint", "--from", V1, code=1)
    assert "--latest and --from cannot be used together" in p.run("lint", "--latest", "1", "--from", V1, code=255)
    assert 'unknown --format "xml"' in p.run("lint", "--format", "xml", code=255)
    # warnings only: exit 0
    p.write({DROPS: DROPS_SQL.replace("DROP TABLE posts;", "CREATE TABLE tags (id INTEGER);")})
    assert "0 errors, 2 warnings" in p.run("lint")


def test_nolint_directives(sqlite_project: Project) -> None:
    p = sqlite_project

    def codes(rc: int = 0) -> list[str]:
        return [f["code"] for f in json.loads(p.run("lint", "--latest", "1", "--format", "json", code=rc))["findings"]]

    # on a statement: by code, or by analyzer name; the other statements are still analyzed
    p.write({**BASE, DROPS: DROPS_SQL.replace("-- Drop posts\n", "-- atlas:nolint DS102\n")})
    assert codes() == ["BC102", "MF101"]
    p.write({DROPS: DROPS_SQL.replace("-- Rename\n", "-- atlas:nolint incompatible data_depend\n")})
    assert codes(1) == ["DS102", "MF101"]  # the directive covers its own statement only
    p.write({DROPS: DROPS_SQL.replace("-- Drop posts\n", "/*atlas:nolint*/\n")})
    assert codes() == ["BC102", "MF101"]
    # in the file header: names apply to every statement; bare, the file is skipped
    p.write({DROPS: "-- atlas:nolint incompatible MF101\n\n" + DROPS_SQL})
    assert codes(1) == ["DS102"]
    p.write({DROPS: "-- atlas:nolint\n\n" + DROPS_SQL})
    out = p.run("lint")
    assert "Analyzed 1 file" in out and f"skipped 1 (nolint or checkpoint): {DROPS}" in out
    # a skipped file still runs, so the next file is analyzed against the right state
    p.write({f"{V3}_more.sql": "DROP TABLE users;\n"})
    assert 'DS102: Dropping table "users"' in p.run("lint", code=1)


def test_configuration(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write({**BASE, DROPS: DROPS_SQL})
    configure(p, lint_error="data_depend, BC102", lint_ignore="destructive")
    data = json.loads(p.run("lint", "--format", "json", code=1))
    assert [(f["code"], f["error"]) for f in data["findings"]] == [("BC102", True), ("MF101", True)]
    p.ini.write_text(p.ini.read_text().replace("lint_ignore = destructive", "lint_ignore = DS102 nope"))
    assert "lint_ignore: unknown analyzer or code 'nope'" in p.run("lint", code=255)


def test_data_dependent_checks_against_real_rows_postgresql(pg_server, tmp_path: Path) -> None:  # noqa: ANN001
    from tests.support.pg_fixture import fresh_pg_url

    url = fresh_pg_url(pg_server)
    p = Project(tmp_path, url, pg_server.url("postgres").render_as_string(hide_password=False), "postgresql")
    p.write({**BASE, f"{V2}_email_required.sql": "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
                                                 "ALTER TABLE users ADD COLUMN score INT NOT NULL;\n"})
    p.run("upgrade", V1)
    p.execute("INSERT INTO users (id, name, email) VALUES (1, 'ann', NULL), (2, 'bob', 'b@x')")
    # without the target: "might fail", warnings
    out = p.run("lint", "--latest", "1")
    assert "MF104: Modifying nullable column \"email\" to non-nullable might fail in case it contains NULL" in out
    assert 'MF103: Adding a non-nullable "integer" column "score" will fail in case table "users" is not empty' in out
    # with it: the NULL row and the non-empty table make both certain failures (errors)
    out = p.run("lint", "--latest", "1", "--url", url, code=1)
    assert 'it will fail, column "email" of "users" holds NULL values on postgresql' in out
    assert 'it will fail, table "users" has rows on' in out and "2 errors" in out
    # the rows fixed: the NULL check passes and is reported as verified; the table still has rows
    p.execute("UPDATE users SET email = 'a@x' WHERE id = 1")
    out = p.run("lint", "--latest", "1", "--url", url, code=1)
    assert "MF104" not in out.split("  verified:")[0]
    assert f"  verified: {V2}_email_required.sql:1: MF104: checked on postgresql" in out
    p.execute("DELETE FROM users")
    out = p.run("lint", "--latest", "1", "--url", url)
    assert "MF103" not in out.split("  verified:")[0] and "is empty" in out
    assert p.execute("SELECT count(*) FROM users") == [(0,)]  # lint only read


def test_data_dependent_checks_against_real_rows_sqlite(sqlite_project: Project) -> None:
    p = sqlite_project
    unique = f"{V2}_unique_email.sql"
    p.write({**BASE, unique: "CREATE UNIQUE INDEX users_email ON users (email);\n"})
    p.run("upgrade", V1)
    p.execute("INSERT INTO users (id, name, email) VALUES (1, 'a', 'x'), (2, 'b', 'x'), (3, 'c', NULL), (4, 'd', NULL)")
    out = p.run("lint", "--url", p.url, "--latest", "1", code=1)
    assert "it will fail, users(email) holds duplicate values on sqlite" in out
    p.execute("UPDATE users SET email = 'y' WHERE id = 2")  # two NULLs left: they never collide
    out = p.run("lint", "--url", p.url, "--latest", "1")
    assert "MF101" not in out.split("  verified:")[0] and "no duplicate values" in out
    # LT101: the rebuild copies NULLs into a NOT NULL column
    rebuild = (f"{V2}_unique_email.sql", "PRAGMA foreign_keys = off;\nCREATE TABLE new_users (id INTEGER PRIMARY KEY, "
               "name VARCHAR(50) NOT NULL, email VARCHAR(50));\nINSERT INTO new_users (id, name, email) SELECT id, "
               "name, email FROM users;\nDROP TABLE users;\nALTER TABLE new_users RENAME TO users;\n"
               "PRAGMA foreign_keys = on;\n")
    p.write({rebuild[0]: rebuild[1]})
    out = p.run("lint", "--url", p.url, "--latest", "1")
    assert "LT101" not in out.split("  verified:")[0] and "DS102" not in out  # names are all set; one modification
    p.execute("UPDATE users SET name = NULL WHERE id = 1")
    assert 'it will fail, column "name" of "users" holds NULL values' in p.run("lint", "--url", p.url, code=1)


def test_upgrade_gate(project: Project) -> None:  # noqa: F811
    """upgrade lints the pending files: destructive ones are refused before anything runs."""
    project.write({**BASE, DROPS: DROPS_SQL})
    out = project.run("upgrade", "head", code=255)
    assert "upgrade refused: the pending migrations have 1 erroring lint finding:" in out
    assert f'{DROPS}:2: DS102: Dropping table "posts"' in out and "--allow-destructive" in out
    assert project.revisions() == [] and not {"users", "posts"} & project.tables()  # not even the first file
    project.run("upgrade", V1)  # nothing destructive pending up to V1
    # a reviewed statement, marked: accepted
    project.write({DROPS: DROPS_SQL.replace("-- Drop posts\n", "-- atlas:nolint DS102\n")})
    project.run("upgrade", "head")
    assert "posts" not in project.tables() and len(project.revisions()) == 2
    # a resumed file: the drop it already ran is history, not a pending finding
    broken = f"{V3}_resume.sql"
    project.write({broken: "-- atlas:txmode none\n\nCREATE TABLE t1 (id INTEGER);\nDROP TABLE users;\n"
                           "INSERT INTO nowhere VALUES (1);\n"})
    assert "nowhere" in project.run("upgrade", "head", "--allow-destructive", code=255)
    assert project.revisions()[-1][2:4] == (2, 3)
    project.write({broken: "-- atlas:txmode none\n\nCREATE TABLE t1 (id INTEGER);\nDROP TABLE users;\n"
                           "CREATE TABLE t2 (id INTEGER);\n"})
    project.run("upgrade", "head")
    assert project.revisions()[-1][2:4] == (3, 3)


def test_upgrade_gate_allow_destructive_and_data_depend(project: Project) -> None:  # noqa: F811
    project.write({**BASE, DROPS: DROPS_SQL.replace("CREATE UNIQUE INDEX", "CREATE INDEX")})
    project.run("upgrade", V1)
    project.execute("INSERT INTO users (id, name, email) VALUES (1, 'a', NULL)")
    configure(project, lint_error="destructive, data_depend")
    project.write({f"{V3}_email.sql": (
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n" if project.dialect == "postgresql" else
        "CREATE TABLE new_users (id INTEGER PRIMARY KEY, full_name VARCHAR(50), email VARCHAR(50) NOT NULL);\n"
        "INSERT INTO new_users (id, full_name, email) SELECT id, full_name, email FROM users;\n"
        "DROP TABLE users;\nALTER TABLE new_users RENAME TO users;\n")})
    # --allow-destructive lets the dropped table through, not the NULLs the target really holds
    out = project.run("upgrade", "head", "--allow-destructive", code=255)
    assert "DS102" not in out and 'holds NULL values on' in out and "change [atlembic] lint_error" in out
    assert len(project.revisions()) == 1
    project.execute("UPDATE users SET email = 'a@x'")
    project.run("upgrade", "head", "--allow-destructive")
    assert len(project.revisions()) == 3 and "posts" not in project.tables()


def test_downgrade_plan_goes_through_the_analyzers(sqlite_project: Project) -> None:
    p = sqlite_project
    p.write({**BASE, f"{V2}_tags.sql": "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT);\n"
                                       "ALTER TABLE users ADD COLUMN age INTEGER;\n"})
    p.run("upgrade", "head")
    result = commands.downgrade(load_settings(str(p.ini)), V1, sql=True)
    assert {(f.code, f.message) for f in result.findings} == {
        ("DS102", 'Dropping table "tags"'), ("DS103", 'Dropping non-virtual column "age"')}
    assert "would lose data" in p.run("downgrade", V1, code=255)


@pytest.mark.slow  # CLI end to end, several processes
def test_revision_autogenerate_prints_the_findings_of_its_file(tmp_path: Path) -> None:
    proj = tmp_path / "sample_project"
    shutil.copytree(SAMPLE, proj, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    first = atlembic(proj, "revision", "--autogenerate", "-m", "init").stdout
    assert ": DS" not in first and ": MF" not in first
    atlembic(proj, "upgrade", "head")
    models = proj / "models.py"
    models.write_text(models.read_text().replace("    fullname: Mapped[Optional[str]]  # noqa: UP045 - kept as in "
                                                 "the guide\n", ""))
    out = atlembic(proj, "revision", "--autogenerate", "-m", "drop fullname").stdout
    [written] = sorted((proj / "migrations").glob("*_drop_fullname.sql"))
    assert f'{written.name}:' in out and 'DS103: Dropping non-virtual column "fullname"' in out
    refused = atlembic(proj, "upgrade", "head", check=False)
    assert refused.returncode == 255 and "DS103" in refused.stdout
    atlembic(proj, "upgrade", "head", "--allow-destructive")
