"""The pytest plugin through pytest itself: a generated project per scenario, and ``python -m pytest`` run on it
in a subprocess (results read from its JUnit XML report).

The built-in tests pass on a good project and fail, the right one with atlembic's line, on models that drifted,
a hand-edited applied file, two files of one version, a file merged out of order, a file that does not apply,
a destructive file and a file that does not apply again after its downgrade; the `atlembic_runner` fixture
moves a clean database through the versions with rows and checks a data migration. On SQLite (the embedded
default), and on PostgreSQL and MariaDB, both on a scratch database of the session's server (``--atlembic-url``)
and on the embedded server the plugin starts itself. ``sqlalchemy.url`` names a SQLite file that must never appear or a
closed loopback port, so a run that opened it would fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from atlembic.migrate.directory import MigrationDir
from atlembic.migrate.sumfile import HashFile
from tests.test_url_masking import _closed_port

pytestmark = pytest.mark.slow  # a pytest subprocess per scenario

REPO = Path(__file__).resolve().parents[1]
V1, V2 = "20240101000000", "20240102000000"
BUILTINS = {"test_single_head", "test_upgrade", "test_model_definitions_match_ddl", "test_up_down_consistency",
            "test_lint"}
RUNNER_TESTS = {"test_data_migration_fills_upper_name", "test_each_test_gets_a_clean_database"}

CREATE_ACCOUNT = ('-- Create "account" table\n'
                  "CREATE TABLE account (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, PRIMARY KEY (id));\n")
UPPER_NAME = ('-- Add column "upper_name" to "account"\nALTER TABLE account ADD COLUMN upper_name VARCHAR(50);\n'
              "-- Fill it\nUPDATE account SET upper_name = UPPER(name);\n")
GOOD_FILES = {f"{V1}_create_account.sql": CREATE_ACCOUNT, f"{V2}_upper_name.sql": UPPER_NAME}

MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table(
    "account", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("upper_name", sa.String(50)),{extra}
)
"""

# The project's own migration tests, written as for pytest-alembic (`alembic_runner` renamed).
DATA_MIGRATION_TESTS = f"""\
import sqlalchemy as sa

V1, V2 = {V1!r}, {V2!r}


def rows(engine, columns):
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT {{columns}} FROM account ORDER BY id")).all()


def test_data_migration_fills_upper_name(atlembic_runner):
    assert list(atlembic_runner.history)[:2] == [V1, V2]
    assert atlembic_runner.history.revisions[:3] == ["base", V1, V2]
    assert atlembic_runner.migrate_up_before(V2) == V1
    atlembic_runner.insert_into("account", [{{"id": 1, "name": "ann"}}, {{"id": 2, "name": "bob"}}])
    assert atlembic_runner.migrate_up_one() == V2
    assert rows(atlembic_runner.engine, "name, upper_name") == [("ann", "ANN"), ("bob", "BOB")]
    assert atlembic_runner.migrate_down_one() == V1
    columns = {{c["name"] for c in sa.inspect(atlembic_runner.engine).get_columns("account")}}
    assert columns == {{"id", "name"}}
    assert rows(atlembic_runner.engine, "name") == [("ann",), ("bob",)]
    assert atlembic_runner.migrate_up_to(V2) == V2
    assert rows(atlembic_runner.engine, "upper_name") == [("ANN",), ("BOB",)]
    atlembic_runner.insert_into("account", {{"id": 3, "name": "cy"}})


def test_each_test_gets_a_clean_database(atlembic_runner):
    assert atlembic_runner.current == "base"
    assert "account" not in sa.inspect(atlembic_runner.engine).get_table_names()
    atlembic_runner.migrate_up_to("head")
    assert atlembic_runner.current == atlembic_runner.heads[0] == atlembic_runner.history[-1]
    atlembic_runner.migrate_down_to("base")
    assert atlembic_runner.current == "base"
"""


def write_project(root: Path, target_url: str, files: dict[str, str], *, extra_columns: str = "",
                  testpaths: bool = True) -> Path:
    """A project with `files` as its migration directory (atlas.sum written), `sqlalchemy.url = target_url`,
    the models of the good files plus `extra_columns`, and DATA_MIGRATION_TESTS under tests/ (the rootdir's
    testpaths when `testpaths`: collection then never visits alembic.ini)."""
    root.mkdir()
    (root / "alembic.ini").write_text(
        f"[alembic]\nsqlalchemy.url = {target_url}\n\n[atlembic]\nmetadata = models:metadata\n"
        "migrations_dir = %(here)s/migrations\n")
    (root / "models.py").write_text(MODELS.format(extra=extra_columns))
    (root / "pytest.ini").write_text("[pytest]\n" + ("testpaths = tests\n" if testpaths else ""))
    (root / "tests").mkdir()
    (root / "tests" / "test_data_migration.py").write_text(DATA_MIGRATION_TESTS)
    migrations = root / "migrations"
    migrations.mkdir()
    for name, sql in files.items():
        (migrations / name).write_text(sql)
    MigrationDir(migrations).write_sum()
    return root


@dataclass
class Run:
    proc: subprocess.CompletedProcess[str]
    outcomes: dict[str, str]  # test name -> passed, failure, error or skipped
    reports: dict[str, str]  # test name -> its failure report

    def named(self, outcome: str) -> set[str]:
        return {name for name, got in self.outcomes.items() if got == outcome}

    def report(self, name: str) -> str:
        """A built-in test's failure report, checked to be atlembic's one FAILED line."""
        text = self.reports[name]
        assert text.startswith("FAILED: ") and "\n" not in text and "Traceback" not in text, text
        return text


def run_pytest(project: Path, *args: str) -> Run:
    """``python -m pytest`` in `project` with the plugin loaded by name (entry points off: the one installed
    may be another checkout's), results from its JUnit XML."""
    xml = project / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "ATLEMBIC_CONFIG"}
    env.update(PYTHONPATH=str(REPO), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "atlembic.pytest_plugin", "-p", "no:cacheprovider", "-q",
         f"--junitxml={xml}", *args], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    outcomes, reports = {}, {}
    if xml.exists():
        for case in ET.parse(xml).getroot().iter("testcase"):
            name = case.get("name", "")
            found = next((e for e in case if e.tag in ("failure", "error", "skipped")), None)
            outcomes[name] = "passed" if found is None else found.tag
            if found is not None:
                reports[name] = (found.text or found.get("message") or "").strip()
    return Run(proc, outcomes, reports)


def never_created(tmp_path: Path) -> str:
    """A sqlalchemy.url whose SQLite file (in a directory that does not exist) must never appear."""
    return f"sqlite:///{tmp_path / 'never' / 'app.db'}"


# ------------------------------------------------------------------------------------------- SQLite


def test_good_project_passes_every_builtin_and_the_runner_tests(tmp_path: Path) -> None:
    project = write_project(tmp_path / "good", never_created(tmp_path), GOOD_FILES)
    run = run_pytest(project, "--atlembic")
    assert run.named("passed") == BUILTINS | RUNNER_TESTS, run.proc.stdout + run.proc.stderr
    assert run.proc.returncode == 0
    assert not (tmp_path / "never").exists()


def test_models_that_drifted_fail_model_definitions_match_ddl(tmp_path: Path) -> None:
    project = write_project(tmp_path / "drift", never_created(tmp_path), GOOD_FILES,
                            extra_columns='\n    sa.Column("email", sa.String(80)),')
    run = run_pytest(project, "--atlembic", "-k", "not data_migration")
    assert run.named("failure") == {"test_model_definitions_match_ddl"}, run.proc.stdout
    assert run.report("test_model_definitions_match_ddl") == \
        'FAILED: New upgrade operations detected: table "account": add column "email" VARCHAR(80)'
    assert run.proc.returncode == 1
    assert not (tmp_path / "never").exists()


def test_a_hand_edited_applied_file_fails_single_head(tmp_path: Path) -> None:
    project = write_project(tmp_path / "edited", never_created(tmp_path), GOOD_FILES)
    first = project / "migrations" / f"{V1}_create_account.sql"
    first.write_text(first.read_text().replace("VARCHAR(50)", "VARCHAR(60)"))
    run = run_pytest(project, "--atlembic")
    assert {"test_single_head", "test_upgrade"} <= run.named("failure"), run.proc.stdout
    assert run.report("test_single_head") == \
        f"FAILED: L2: {first.name} was edited (run 'atlembic hash' to recompute atlas.sum)"
    assert run.named("error") == RUNNER_TESTS  # the fixture refuses the directory in the same line
    assert run.reports["test_each_test_gets_a_clean_database"].endswith(f"L2: {first.name} was edited (run "
                                                                       "'atlembic hash' to recompute atlas.sum)")


def test_two_files_of_one_version_fail_single_head(tmp_path: Path) -> None:
    files = {**GOOD_FILES, f"{V2}_note.sql": "CREATE TABLE note (id INTEGER NOT NULL, PRIMARY KEY (id));\n"}
    project = write_project(tmp_path / "twins", never_created(tmp_path), files, testpaths=False)
    run = run_pytest(project, "--atlembic", "alembic.ini::test_single_head")  # the config file named itself
    assert run.outcomes == {"test_single_head": "failure"}, run.proc.stdout
    assert run.report("test_single_head") == (
        f"FAILED: migration files {V2}_note.sql and {V2}_upper_name.sql have the same version {V2}: rename one "
        "after the latest version, then run `atlembic hash`")


def test_a_file_merged_out_of_order_fails_single_head(tmp_path: Path) -> None:
    project = write_project(tmp_path / "merged", never_created(tmp_path), GOOD_FILES)
    # Another branch's file, older than the latest, merged in with its atlas.sum row appended (as a merge that
    # keeps both sides writes it), the header recomputed.
    middle = "20240101120000_note.sql"
    migrations = MigrationDir(project / "migrations")
    (migrations.path / middle).write_text("CREATE TABLE note (id INTEGER NOT NULL, PRIMARY KEY (id));\n")
    rows = migrations.compute_sum().rows
    appended = [r for r in rows if r[0] != middle] + [r for r in rows if r[0] == middle]
    migrations.sum_path.write_text(HashFile(appended).to_text())
    run = run_pytest(project, "--atlembic", "-k", "single_head")
    assert run.outcomes == {"test_single_head": "failure"}, run.proc.stdout
    assert run.report("test_single_head") == (
        f"FAILED: migration file {middle} was added out of order: its version sorts before {V2}_upper_name.sql, "
        "which atlas.sum lists before it; rename it after the latest version, then run `atlembic hash`")


def test_a_file_that_does_not_apply_fails_upgrade(tmp_path: Path) -> None:
    broken = "20240103000000_broken.sql"
    files = {**GOOD_FILES,
             broken: "-- Add a column to a table nobody made\nALTER TABLE missing ADD COLUMN x INTEGER;\n"}
    project = write_project(tmp_path / "broken", never_created(tmp_path), files)
    run = run_pytest(project, "--atlembic", "-k", "upgrade or single_head")
    assert run.outcomes == {"test_single_head": "passed", "test_upgrade": "failure"}, run.proc.stdout
    assert run.report("test_upgrade").startswith(
        f'FAILED: {broken}:2: executing statement "ALTER TABLE missing ADD COLUMN x INTEGER;": no such table: missing')


def test_a_destructive_file_fails_lint(tmp_path: Path) -> None:
    files = {**GOOD_FILES, "20240103000000_note.sql": "CREATE TABLE note (id INTEGER NOT NULL, PRIMARY KEY (id));\n",
             "20240104000000_drop_note.sql": '-- Drop "note" table\nDROP TABLE note;\n'}
    project = write_project(tmp_path / "destructive", never_created(tmp_path), files)
    run = run_pytest(project, "--atlembic", "-k", "not data_migration")
    assert run.named("failure") == {"test_lint"}, run.proc.stdout
    findings, summary = run.reports["test_lint"].splitlines()
    assert findings == 'migrations/20240104000000_drop_note.sql:2: DS102: Dropping table "note"'
    assert summary.startswith("Analyzed 4 files") and summary.endswith("1 error, 0 warnings")


def test_a_file_whose_rows_a_downgrade_keeps_fails_up_down_consistency(tmp_path: Path) -> None:
    """Rows a file inserts are not reverted by the planned downgrade (only the schema is planned), so the file
    does not apply again."""
    seed = "20240103000000_seed.sql"
    files = {**GOOD_FILES, seed: "-- The first account\nINSERT INTO account (id, name) VALUES (1, 'root');\n"}
    project = write_project(tmp_path / "seed", never_created(tmp_path), files)
    run = run_pytest(project, "--atlembic", "-k", "not data_migration")
    assert run.named("failure") == {"test_up_down_consistency"}, run.proc.stdout
    assert run.report("test_up_down_consistency").startswith(
        f"FAILED: applying 20240103000000 again after downgrading it: {seed}:2: executing statement "
        "\"INSERT INTO account (id, name) VALUES (1, 'root');\": UNIQUE constraint failed: account.id")


def test_off_unless_asked(tmp_path: Path) -> None:
    """Loaded without --atlembic, the plugin collects what pytest collects without it, and loading it imports
    nothing but itself; with it, the built-ins come first and are selected like any test."""
    project = write_project(tmp_path / "off", never_created(tmp_path), GOOD_FILES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(PYTHONPATH=str(REPO), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")

    def collect(*args: str) -> list[str]:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q", *args],
                              cwd=project, env=env, capture_output=True, text=True, timeout=120)
        return [line for line in proc.stdout.splitlines() if "::" in line]

    without = collect()
    assert without == ["tests/test_data_migration.py::test_data_migration_fills_upper_name",
                       "tests/test_data_migration.py::test_each_test_gets_a_clean_database"]
    assert collect("-p", "atlembic.pytest_plugin") == without
    builtins = ["test_single_head", "test_upgrade", "test_model_definitions_match_ddl",
                "test_up_down_consistency", "test_lint"]
    assert collect("-p", "atlembic.pytest_plugin", "--atlembic") == [f"alembic.ini::{n}" for n in builtins] + without
    assert collect("-p", "atlembic.pytest_plugin", "--atlembic", "-m", "atlembic") == \
        [f"alembic.ini::{n}" for n in builtins]
    imports = "import pytest, sys; before = set(sys.modules); import atlembic.pytest_plugin; " \
              "print(sorted(set(sys.modules) - before))"
    loaded = subprocess.run([sys.executable, "-c", imports], env=env, capture_output=True, text=True, timeout=60)
    assert loaded.stdout.strip() == "['atlembic', 'atlembic.pytest_plugin']", loaded.stderr


def test_bad_options_are_one_line(tmp_path: Path) -> None:
    project = write_project(tmp_path / "opts", never_created(tmp_path), GOOD_FILES)
    (project / "alembic.ini").rename(project / "project.ini")
    run = run_pytest(project, "--atlembic")
    assert run.proc.returncode == 4  # pytest's usage error
    assert f"FAILED: --atlembic: no alembic.ini in {project} (the rootdir): pass --atlembic-config PATH" in \
        run.proc.stderr
    run = run_pytest(project, "--atlembic", "--atlembic-config", "project.ini",
                     "--atlembic-url", "oracle+cx_oracle://app:s3cret-pw@127.0.0.1/app")
    assert run.proc.returncode == 4
    assert "FAILED: dialect 'oracle' is not supported" in run.proc.stderr
    assert "s3cret-pw" not in run.proc.stdout + run.proc.stderr
    run = run_pytest(project, "--atlembic", "--atlembic-config", "project.ini", "-k", "single_head")
    assert run.outcomes == {"test_single_head": "passed"}, run.proc.stdout
    assert run_pytest(project, "--help").proc.stdout.count("--atlembic") >= 3


def collect_builtins(project: Path, *args: str) -> tuple[list[str], str]:
    """The built-in tests ``pytest --atlembic --co`` collects in `project`, and what pytest printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "ATLEMBIC_CONFIG"}
    env.update(PYTHONPATH=str(REPO), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "atlembic.pytest_plugin", "-p", "no:cacheprovider",
                           "--co", "-q", "--atlembic", *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=120)
    found = [line.split("::", 1)[1] for line in proc.stdout.splitlines() if line.startswith("alembic.ini::")]
    return found, proc.stdout + proc.stderr


def test_pytest_alembics_ini_options_select_the_builtins(tmp_path: Path) -> None:
    """pytest-alembic's configuration names, in pytest.ini as pytest-alembic documents them: its test names
    (single_head_revision, downgrade_leaves_no_trace) or atlembic's, with or without test_."""
    project = write_project(tmp_path / "ini", never_created(tmp_path), GOOD_FILES)

    def with_ini(**options: str) -> tuple[list[str], str]:
        (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n" +
                                            "".join(f"{k} = {v}\n" for k, v in options.items()))
        return collect_builtins(project)

    assert with_ini(pytest_alembic_exclude="single_head_revision, test_lint")[0] == [
        "test_upgrade", "test_model_definitions_match_ddl", "test_up_down_consistency"]
    assert with_ini(pytest_alembic_include="upgrade,single_head_revision")[0] == ["test_single_head", "test_upgrade"]
    assert with_ini(pytest_alembic_include="upgrade", pytest_alembic_exclude="upgrade")[0] == []
    got, out = with_ini(pytest_alembic_include="single_head_revision",
                        pytest_alembic_include_experimental="downgrade_leaves_no_trace\n"
                                                            "  all_models_register_on_metadata")
    assert got == ["test_single_head", "test_up_down_consistency"]
    assert "pytest_alembic_include_experimental: all_models_register_on_metadata is not built into atlembic" in out
    assert with_ini(pytest_alembic_enabled="false")[0] == []
    got, out = with_ini(pytest_alembic_exclude="upgrade, migrations_are_fast")
    assert got == [] and "FAILED: pytest_alembic_exclude: unknown built-in test 'migrations_are_fast' (atlembic's: " \
        "single_head, upgrade, model_definitions_match_ddl, up_down_consistency, lint)" in out
    with_ini(pytest_alembic_exclude="lint")
    assert collect_builtins(project, "--atlembic-exclude", "upgrade,model_definitions_match_ddl")[0] == [
        "test_single_head", "test_up_down_consistency", "test_lint"]  # the option overrides the ini one
    assert collect_builtins(project, "-m", "not alembic")[0] == []  # marked as pytest-alembic marks its own


def test_an_excluded_builtin_does_not_fail_the_run(tmp_path: Path) -> None:
    project = write_project(tmp_path / "excluded", never_created(tmp_path), GOOD_FILES,
                            extra_columns='\n    sa.Column("email", sa.String(80)),')
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests\npytest_alembic_exclude = "
                                        "model_definitions_match_ddl\n")
    run = run_pytest(project, "--atlembic")
    assert run.named("passed") == (BUILTINS - {"test_model_definitions_match_ddl"}) | RUNNER_TESTS, run.proc.stdout
    assert run.proc.returncode == 0


def test_the_entry_point_loads_the_plugin(tmp_path: Path) -> None:
    """pyproject's pytest11 entry point, installed as a distribution's metadata, is what pytest loads: the
    options appear in `pytest --help` without any -p, and `-p no:atlembic` turns the plugin off."""
    table = re.search(r"^\[project\.entry-points\.pytest11\]\n(.*?)\n(?:\n|\[)",
                      (REPO / "pyproject.toml").read_text(), re.MULTILINE | re.DOTALL)
    assert table is not None
    entry_points = dict(re.findall(r'^(\w+) = "([\w.]+)"$', table[1], re.MULTILINE))
    assert entry_points == {"atlembic": "atlembic.pytest_plugin"}
    site = tmp_path / "site"
    dist = site / "atlembic_entry_point_probe-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: atlembic-entry-point-probe\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(
        "[pytest11]\n" + "".join(f"{name} = {value}\n" for name, value in entry_points.items()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(site)])

    def help_text(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, "--help"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120).stdout

    assert "--atlembic-url=URL" in help_text()
    assert "--atlembic" not in help_text("-p", "no:atlembic")


# ------------------------------------------------------------------------------- PostgreSQL and MariaDB

SERVERS = [
    pytest.param("pg_server", "postgresql+psycopg", marks=pytest.mark.postgresql, id="postgresql"),
    pytest.param("mysql_server", "mysql+pymysql", marks=pytest.mark.mysql, id="mariadb"),
]


def closed_port_url(driver: str) -> str:
    return f"{driver}://app:s3cret-pw@127.0.0.1:{_closed_port()}/app"


@pytest.mark.parametrize(("server", "driver"), SERVERS)
def test_server_good_project(request: pytest.FixtureRequest, tmp_path: Path, server: str, driver: str) -> None:
    """On a scratch database of the session's server: every test passes, each on a database of its own that
    is gone afterwards, and the closed port of sqlalchemy.url is never tried."""
    from tests.support.pg_fixture import fresh_database_url

    running = request.getfixturevalue(server)
    before = running.list_databases()
    project = write_project(tmp_path / "good", closed_port_url(driver), GOOD_FILES)
    run = run_pytest(project, "--atlembic", "--atlembic-url", fresh_database_url(running))
    assert run.named("passed") == BUILTINS | RUNNER_TESTS, run.proc.stdout + run.proc.stderr
    left = {name for name in running.list_databases() - before if not name.startswith("atlembic_test_")}
    assert left == set()  # every scratch database was dropped


@pytest.mark.parametrize(("server", "driver"), SERVERS)
def test_server_broken_project(request: pytest.FixtureRequest, tmp_path: Path, server: str, driver: str) -> None:
    """Models that drifted, a destructive file and a data migration that fills the column wrongly: the three
    tests that see them fail, the others pass."""
    from tests.support.pg_fixture import fresh_database_url

    files = {f"{V1}_create_account.sql": CREATE_ACCOUNT,
             f"{V2}_upper_name.sql": UPPER_NAME.replace("UPPER(name)", "LOWER(name)"),
             "20240103000000_note.sql": "CREATE TABLE note (id INTEGER NOT NULL, PRIMARY KEY (id));\n",
             "20240104000000_drop_note.sql": '-- Drop "note" table\nDROP TABLE note;\n'}
    project = write_project(tmp_path / "broken", closed_port_url(driver), files,
                            extra_columns='\n    sa.Column("email", sa.String(80)),')
    run = run_pytest(project, "--atlembic", "--atlembic-url", fresh_database_url(request.getfixturevalue(server)))
    assert run.named("failure") == {"test_model_definitions_match_ddl", "test_lint",
                                    "test_data_migration_fills_upper_name"}, run.proc.stdout + run.proc.stderr
    assert run.report("test_model_definitions_match_ddl") == \
        'FAILED: New upgrade operations detected: table "account": add column "email" VARCHAR(80)'
    assert run.reports["test_lint"].splitlines()[0] == \
        'migrations/20240104000000_drop_note.sql:2: DS102: Dropping table "note"'
    assert "('ann', 'ANN')" in run.reports["test_data_migration_fills_upper_name"]


@pytest.mark.parametrize(("server", "driver"), SERVERS)
def test_server_file_that_does_not_apply(request: pytest.FixtureRequest, tmp_path: Path, server: str,
                                         driver: str) -> None:
    """A last file the server rejects: every test that runs it fails on it, the others pass."""
    from tests.support.pg_fixture import fresh_database_url

    broken = "20240103000000_broken.sql"
    files = {**GOOD_FILES,
             broken: "-- Add a column to a table nobody made\nALTER TABLE missing ADD COLUMN x INTEGER;\n"}
    project = write_project(tmp_path / "broken", closed_port_url(driver), files)
    run = run_pytest(project, "--atlembic", "--atlembic-url", fresh_database_url(request.getfixturevalue(server)))
    assert run.named("passed") == {"test_single_head", "test_data_migration_fills_upper_name"}, \
        run.proc.stdout + run.proc.stderr
    statement = f'{broken}:2: executing statement "ALTER TABLE missing ADD COLUMN x INTEGER;": '
    assert run.report("test_upgrade").startswith(f"FAILED: {statement}")
    assert run.report("test_up_down_consistency").startswith(f"FAILED: applying 20240103000000: {statement}")
    assert statement in run.report("test_model_definitions_match_ddl")
    assert statement in run.report("test_lint")
    # the runner's error, raised from the test's own line: atlembic's frames are hidden
    runner_failure = run.reports["test_each_test_gets_a_clean_database"]
    assert f"MigrationFailed: {statement}" in runner_failure and "atlembic/commands" not in runner_failure


@pytest.mark.postgresql
def test_postgresql_project_on_the_embedded_server(tmp_path: Path) -> None:
    """Without --atlembic-url, the plugin starts the embedded PostgreSQL dev server itself."""
    from tests.support.pg_fixture import pg_bindir_or_skip, require_module

    pg_bindir_or_skip()
    require_module("psycopg", "the PostgreSQL driver")
    project = write_project(tmp_path / "embedded", closed_port_url("postgresql+psycopg"), GOOD_FILES)
    run = run_pytest(project, "--atlembic")
    assert run.named("passed") == BUILTINS | RUNNER_TESTS, run.proc.stdout + run.proc.stderr
