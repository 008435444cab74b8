"""What atlembic says: one clear line for each mistake a new user makes, help text on every option, counts
in the right number, and the history checks `upgrade` and `status` make on files applied and edited since."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import typer

from atlembic.cli import app
from tests.support.paths import FIXTURES
from tests.test_cli import atlembic
from tests.test_lifecycle import FILES, V1, V2, V3, V4, Project, run_main

CONVERT_PROJECT = FIXTURES / "convert" / "project"


def run_in(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str, code: int = 0) -> str:
    """The CLI in-process in `cwd`, without -c or $ATLEMBIC_CONFIG: stdout (with FAILED lines) out."""
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("ATLEMBIC_CONFIG", raising=False)
    return run_main(*args, code=code)


def failed_line(out: str) -> str:
    """The one FAILED line of a run that failed, and nothing else printed."""
    [line] = [ln for ln in out.splitlines() if ln.strip()]
    assert line.startswith("FAILED: "), out
    return line


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Project:
    return Project(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", None, "sqlite")


# -- a directory without alembic.ini ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["current"], ["upgrade", "head"], ["status"], ["check"],
                                     ["revision", "--autogenerate", "-m", "x"]])
def test_no_alembic_ini_names_the_directory_and_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             command: list[str]) -> None:
    line = failed_line(run_in(tmp_path, monkeypatch, *command, code=255))
    assert f"no alembic.ini in {tmp_path}" in line
    assert "atlembic init" in line and "-c " in line
    assert not (tmp_path / "migrations").exists()


def test_a_named_config_without_url_names_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ini = tmp_path / "conf" / "prod.ini"
    ini.parent.mkdir()
    ini.write_text("[alembic]\n")
    line = failed_line(run_in(tmp_path, monkeypatch, "-c", str(ini), "current", code=255))
    assert f"set sqlalchemy.url in {ini}" in line and "--url" in line


# -- the models' own errors -------------------------------------------------------------------------------


def _project_importing(tmp_path: Path, models_source: str) -> tuple[Path, Path]:
    """A project whose env.py imports a models module of a unique name (the run is in-process, and a module
    imported by an earlier test would be reused): (env.py, models file)."""
    module = f"models_{uuid.uuid4().hex[:10]}"
    models = tmp_path / f"{module}.py"
    models.write_text(models_source)
    (tmp_path / "env").mkdir()
    env_py = tmp_path / "env" / "env.py"
    env_py.write_text(
        "from alembic import context\n"
        f"from {module} import metadata\n"
        "context.configure(url='sqlite://', target_metadata=metadata)\n"
        "with context.begin_transaction():\n"
        "    context.run_migrations()\n"
    )
    (tmp_path / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/env\nprepend_sys_path = %(here)s\npath_separator = os\n"
        "sqlalchemy.url = sqlite:///%(here)s/app.db\n")
    return env_py, models


def test_models_import_error_names_the_models_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_py, models = _project_importing(
        tmp_path, "import sqlalchemy as sa\n\nimport no_such_module_of_the_models\n\nmetadata = sa.MetaData()\n")
    line = failed_line(run_in(tmp_path, monkeypatch, "check", code=255))
    assert line.startswith(f"FAILED: {models}:3: ModuleNotFoundError: No module named "
                           "'no_such_module_of_the_models'"), line
    assert str(env_py) in line  # what was loading them


def test_models_syntax_error_names_the_models_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, models = _project_importing(tmp_path, "import sqlalchemy as sa\nmetadata = sa.MetaData(\n\ndef x(:\n")
    line = failed_line(run_in(tmp_path, monkeypatch, "check", code=255))
    assert line.startswith(f"FAILED: {models}:") and "SyntaxError" in line, line


def test_env_py_own_error_still_names_env_py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_py, _ = _project_importing(tmp_path, "import sqlalchemy as sa\nmetadata = sa.MetaData()\n")
    env_py.write_text("raise RuntimeError('env.py is broken')\n" + env_py.read_text())
    line = failed_line(run_in(tmp_path, monkeypatch, "check", code=255))
    assert line == f"FAILED: {env_py}: RuntimeError: env.py is broken"


# -- a project with an Alembic history that was not converted ---------------------------------------------


def test_history_heads_current_say_to_convert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "project"
    shutil.copytree(CONVERT_PROJECT, root, ignore=shutil.ignore_patterns("__pycache__", "*.db", "migrations"))
    url = f"sqlite:///{tmp_path / 'app.db'}"
    for command in (["history"], ["heads"], ["--url", url, "current"]):
        out = run_in(root, monkeypatch, *command)
        assert f"No migration files in {root / 'migrations'}" in out, (command, out)
        assert f"{root / 'alembic'} holds an Alembic history (5 revision files)" in out
        assert "run `atlembic convert`" in out
    assert run_in(root, monkeypatch, "-q", "history") == ""


def test_no_convert_hint_without_an_alembic_history(sqlite_project: Project) -> None:
    assert sqlite_project.run("history") == ""  # nothing to show, nothing to convert


# -- stamp takes relative revisions as downgrade does ----------------------------------------------------


def test_stamp_relative_revision(sqlite_project: Project) -> None:
    sqlite_project.write(FILES)
    sqlite_project.run("upgrade", "head")
    out = sqlite_project.run("stamp", "-1")
    assert f"Removed revision {V4}" in out
    assert [r[0] for r in sqlite_project.revisions()] == [V1, V2, V3]
    sqlite_project.run("stamp", "-2")
    assert [r[0] for r in sqlite_project.revisions()] == [V1]
    sqlite_project.run("stamp", "+2")
    assert [r[0] for r in sqlite_project.revisions()] == [V1, V2, V3]


# -- help ---------------------------------------------------------------------------------------------------


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command of the click tree Typer builds, with the words that run it."""
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_the_command_tree_is_walked() -> None:
    names = {path for path, _ in COMMANDS}
    assert {(), ("upgrade",), ("stamp",), ("history",), ("convert",), ("lint",), ("revision",)} <= names


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda p: " ".join(p) or "atlembic")
def test_every_option_has_help_and_a_metavar(path: tuple[str, ...]) -> None:
    command = dict(COMMANDS)[path]
    for param in command.params:
        name = "/".join(param.opts)
        assert (param.help or "").strip(" :[]"), f"atlembic {' '.join(path)} {name}: no help text"
        if param.param_type_name == "option" and not param.is_flag:
            assert param.metavar, f"atlembic {' '.join(path)} {name}: no metavar"


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda p: " ".join(p) or "atlembic")
def test_h_is_help_on_every_command(path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    short = run_in(tmp_path, monkeypatch, *path, "-h")
    assert short == run_in(tmp_path, monkeypatch, *path, "--help")
    assert short.startswith("Usage: ") and "-h, --help" in short
    assert "<bool>" not in short and "<list" not in short
    assert "\\[" not in short  # typer < 0.23 escapes "[default: ...]" for Rich even in plain help
    if path == ("history",):
        assert "[start]:[end]" in short  # not eaten as markup


# -- counts ------------------------------------------------------------------------------------------------


def test_plural() -> None:
    from atlembic.errors import plural

    assert [plural(n, "statement") for n in (0, 1, 2)] == ["0 statements", "1 statement", "2 statements"]
    assert plural(1, "index", "indexes") == "1 index" and plural(3, "index", "indexes") == "3 indexes"


def test_counts_of_one_are_singular(sqlite_project: Project) -> None:
    sqlite_project.write({f"{V1}_create_users.sql": FILES[f"{V1}_create_users.sql"]})
    out = sqlite_project.run("upgrade", "head")
    assert "done (1 statement, " in out
    out = sqlite_project.run("validate")
    assert "1 file ..." in out and "The migration directory is valid (1 file)" in out
    assert "1 statements" not in out and "1 files" not in out


# -- applied files edited by hand and re-hashed ------------------------------------------------------------


def _edit(project: Project, version: str) -> Path:
    [path] = project.migrations.glob(f"{version}_*.sql")
    path.write_text(path.read_text() + "-- edited by hand\nCREATE INDEX edited ON users (name);\n")
    project.run("hash")
    return path


def test_upgrade_refuses_an_applied_file_edited_and_rehashed(sqlite_project: Project) -> None:
    files = dict(FILES)
    later = files.pop(f"{V4}_name_index.sql")
    sqlite_project.write(files)
    sqlite_project.run("upgrade", "head")
    edited = _edit(sqlite_project, V2)
    sqlite_project.write({f"{V4}_name_index.sql": later})  # pending: must not run either
    line = failed_line(sqlite_project.run("upgrade", "head", code=255))
    assert "history changed" in line and edited.name in line, line
    assert [r[0] for r in sqlite_project.revisions()] == [V1, V2, V3]


def test_status_is_error_when_an_applied_file_was_edited(sqlite_project: Project) -> None:
    sqlite_project.write(FILES)
    sqlite_project.run("upgrade", "head")
    edited = _edit(sqlite_project, V3)
    out = sqlite_project.run("status", code=255)
    lines = out.splitlines()
    assert lines[0] == "Migration Status: ERROR"
    assert lines[-1].startswith("FAILED: ") and f"{edited.name} was changed after it was applied" in lines[-1]
    assert not any("Status: OK" in line for line in lines)
    data = json.loads(sqlite_project.run("status", "--format", "json", code=255))
    assert data["Status"] == "ERROR" and any(edited.name in p for p in data["Problems"])


def test_status_after_a_merged_file_flags_only_the_edited_one(sqlite_project: Project) -> None:
    """A branch's file merged in between applied ones, atlas.sum regenerated: the files after it changed row
    hashes but not content; the inserted file is out of order, none is "changed after it was applied"."""
    files = dict(FILES)
    merged = {f"{V2}_add_email.sql": files.pop(f"{V2}_add_email.sql")}
    sqlite_project.write(files)
    sqlite_project.run("upgrade", "head")
    assert [r[0] for r in sqlite_project.revisions()] == [V1, V3, V4]
    sqlite_project.write(merged)  # rewrites atlas.sum, as `atlembic hash` after the merge would
    out = sqlite_project.run("status", code=255)
    assert "changed after it was applied" not in out, out
    assert "added out of order" in out and f"{V2}_add_email.sql" in out
    assert out.splitlines()[0] == "Migration Status: ERROR"
    # ... and a file that is edited for real after the merge is still found
    edited = _edit(sqlite_project, V4)
    out = sqlite_project.run("status", code=255)
    assert f"{edited.name} was changed after it was applied" in out
    assert f"{V3}_create_posts.sql was changed" not in out


# -- the MySQL 8 warning ------------------------------------------------------------------------------------

MYSQL_8 = "If the target is MySQL 8"


@pytest.mark.slow  # a MariaDB server, CLI subprocesses (the warning is printed once per process)
def test_mysql_8_warning_only_where_it_applies(tmp_path: Path, mysql_server: Any) -> None:
    from tests.support.mysql_fixture import fresh_mysql_url

    url = fresh_mysql_url(mysql_server)  # mysql+pymysql:// to a MariaDB server
    project = Project(tmp_path, url, None, "mysql")
    project.write({
        f"{V1}_baseline.sql": "-- alembic:head abc123\n-- alembic:version_table alembic_version\n\n"
                              "CREATE TABLE users (id INT NOT NULL, PRIMARY KEY (id));\n",
        f"{V2}_add_name.sql": "ALTER TABLE users ADD COLUMN name VARCHAR(20) NULL;\n",
    })
    project.execute("CREATE TABLE users (id INT NOT NULL, PRIMARY KEY (id))")
    project.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    project.execute("INSERT INTO alembic_version VALUES ('abc123')")
    ini = ["-c", str(project.ini)]

    # Connected: the server says it is MariaDB, so the dev database (MariaDB) is no stand-in.
    handover = atlembic(tmp_path, *ini, "upgrade", "head", "--baseline", V1)
    assert "Schema equals" in handover.stdout and MYSQL_8.lower() not in handover.stderr.lower(), handover.stderr
    drift = atlembic(tmp_path, *ini, "check", "--drift")
    assert "No drift detected" in drift.stdout and MYSQL_8.lower() not in drift.stderr.lower(), drift.stderr
    # Not connected: a mysql:// URL may be MySQL 8 (warned), a mariadb:// one says what it is.
    mariadb_url = url.replace("mysql+pymysql://", "mariadb+pymysql://", 1)
    as_mysql = atlembic(tmp_path, *ini, "validate")
    as_mariadb = atlembic(tmp_path, *ini, "--url", mariadb_url, "validate")
    if mysql_server.flavor == "MariaDB":
        assert MYSQL_8.lower() in as_mysql.stderr.lower(), as_mysql.stderr
    assert MYSQL_8.lower() not in as_mariadb.stderr.lower(), as_mariadb.stderr


# -- the OS's errors and atlembic's own bugs: one line, never a traceback (issue 19) ---------------------------


def test_a_file_that_cannot_be_written_is_one_line_and_nothing_is_left(sqlite_project: Project) -> None:
    """A full disk, as a file size limit makes it (RLIMIT_FSIZE: EFBIG where a full disk gives ENOSPC): the
    line names the file, the directory is as it was (no migration without its atlas.sum, no temp file)."""
    import os
    import resource
    import subprocess
    import sys

    from tests.test_cli import REPO

    sqlite_project.write({f"{V1}_big.sql": "CREATE TABLE t (id INT);\n" + "-- padding\n" * 100})
    before = sorted(p.name for p in sqlite_project.migrations.iterdir())

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    proc = subprocess.run([sys.executable, "-m", "atlembic", "-c", str(sqlite_project.ini), "revision", "-m", "x"],
                          cwd=sqlite_project.root, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=120, preexec_fn=small_files)
    assert proc.returncode == 255, proc.stdout + proc.stderr
    line = failed_line(proc.stdout)
    assert line.startswith(f"FAILED: cannot write {sqlite_project.migrations}/") and "File too large" in line
    assert "nothing was written" in line and "Traceback" not in proc.stderr
    assert sorted(p.name for p in sqlite_project.migrations.iterdir()) == before


@pytest.mark.parametrize("command", [["revision", "-m", "x"], ["hash"]])
def test_a_read_only_migration_directory_is_one_line(sqlite_project: Project, command: list[str]) -> None:
    """A directory the user may not write (mode 0555; as root the command runs without capabilities, as
    any other user would): the line names the file that could not be written, and nothing is."""
    import os
    import subprocess
    import sys

    from tests.test_cli import REPO

    sqlite_project.write({f"{V1}_a.sql": "CREATE TABLE t (id INT);\n"})
    before = {p.name: p.read_bytes() for p in sqlite_project.migrations.iterdir()}
    as_user = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"] if os.geteuid() == 0 else []
    sqlite_project.migrations.chmod(0o555)
    try:
        proc = subprocess.run([*as_user, sys.executable, "-m", "atlembic", "-c", str(sqlite_project.ini), *command],
                              cwd=sqlite_project.root, env={**os.environ, "PYTHONPATH": str(REPO)},
                              capture_output=True, text=True, timeout=120)
    finally:
        sqlite_project.migrations.chmod(0o755)
    assert proc.returncode == 255, proc.stdout + proc.stderr
    line = failed_line(proc.stdout)
    assert line.startswith(f"FAILED: cannot write {sqlite_project.migrations}/"), line
    assert line.endswith("Permission denied; nothing was written") and "Traceback" not in proc.stderr, line
    assert {p.name: p.read_bytes() for p in sqlite_project.migrations.iterdir()} == before


def test_a_long_message_makes_a_file_name_the_filesystem_takes(sqlite_project: Project) -> None:
    sqlite_project.write({})
    out = sqlite_project.run("revision", "-m", "add the " + "very " * 60 + "long table")
    [made] = [p.name for p in sqlite_project.migrations.glob("*.sql")]
    assert len(made.encode()) <= 255 - 14 and made.endswith("_very.sql") and made in out


def test_an_unexpected_error_is_one_line_and_its_traceback_a_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """What no check turned into a FAILED line (a bug): one line naming the error and a file with the traceback
    for the report; secrets in either are masked."""
    from atlembic.cli.app import unexpected_error

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    try:
        {}["postgresql://app:s3cret@db.invalid/app"]
    except KeyError as exc:
        line = unexpected_error(exc)
    assert line.startswith("unexpected KeyError: 'postgresql://app:***@db.invalid/app' (a bug in atlembic")
    [report] = (tmp_path / "atlembic" / "crashes").iterdir()
    assert str(report) in line
    text = report.read_text()
    assert "Traceback (most recent call last)" in text and "test_messages.py" in text and "s3cret" not in text
    assert unexpected_error(FileNotFoundError(2, "No such file or directory", "/x/y.sql")) == \
        "No such file or directory: /x/y.sql"


@pytest.mark.parametrize("url", ["postgresql+psycopg://app:s3cret@127.0.0.1:99999/app",
                                 "mysql+pymysql://app:s3cret@127.0.0.1:abc/app"])
@pytest.mark.parametrize("command", [["current"], ["revision", "--autogenerate", "-m", "x"]])
def test_a_bad_port_in_alembic_ini_is_one_line(tmp_path: Path, url: str, command: list[str]) -> None:
    project = Project(tmp_path, url, None, "postgresql")
    project.write({})
    line = failed_line(project.run(*command, code=255))
    assert ("port" in line or "abc" in line) and "s3cret" not in line and "unexpected" not in line
