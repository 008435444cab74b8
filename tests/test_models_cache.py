"""The models snapshot never changes a result: a run reuses the last load of the models only while every
input that load read is unchanged (the models' modules, files they read, directories they listed,
environment variables they read, env.py and alembic.ini); anything else loads the models again.

Each cached run is a real `atlembic check --format json` process, as users run it (a snapshot must survive
its process); the models append a line to a log when imported, so a test sees whether a run imported them.
Every cached answer is compared with the answer of a run without any cache, `check --no-cache` in this process
(tests/support/cli.run_cli: it reads and writes no cache, so a process of its own would prove nothing more)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from atlembic.migrate.directory import MigrationDir
from atlembic.replay import cache as replay_cache
from tests.support.cli import run_cli
from tests.support.pg_fixture import pg_bindir_or_skip

ENV_PY = """\
from alembic import context
from models import metadata

if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True)
"""

MODELS = """\
import json, os, pathlib
import sqlalchemy as sa
from helpers import extra_columns

pathlib.Path(__file__).with_name("imports.log").open("a").write("imported\\n")
metadata = sa.MetaData()
columns = json.loads(pathlib.Path(__file__).with_name("columns.json").read_text())
prefix = os.environ.get("MODELS_TABLE_PREFIX", "")
sa.Table(prefix + "item", metadata, sa.Column("id", sa.Integer, primary_key=True),
         *[sa.Column(name, sa.String(40)) for name in columns], *extra_columns())
for plugin in sorted(p.stem for p in pathlib.Path(__file__).with_name("plugins").glob("*.py")):
    sa.Table(plugin, metadata, sa.Column("id", sa.Integer, primary_key=True))
"""

HELPERS = """\
import sqlalchemy as sa

def extra_columns():
    return [sa.Column("note", sa.Text)]
"""

IN_SYNC = ("CREATE TABLE `item` (`id` integer NOT NULL, `name` varchar(40) NULL, `note` text NULL, "
           "PRIMARY KEY (`id`));\n")


def make_project(tmp_path: Path, url: str, first_file: str) -> Path:
    root = tmp_path / "proj"
    (root / "alembic").mkdir(parents=True)
    (root / "plugins").mkdir()
    (root / "alembic.ini").write_text(
        f"[alembic]\nscript_location = alembic\nprepend_sys_path = .\npath_separator = os\nsqlalchemy.url = {url}\n")
    (root / "alembic" / "env.py").write_text(ENV_PY)
    (root / "models.py").write_text(MODELS)
    (root / "helpers.py").write_text(HELPERS)
    (root / "columns.json").write_text('["name"]')
    migrations = root / "migrations"
    migrations.mkdir()
    (migrations / "20250101000000_init.sql").write_text(first_file)
    MigrationDir(migrations).write_sum()  # what `atlembic hash` writes
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, "sqlite:///target.db", IN_SYNC)


def run(root: Path, *args: str, cache: bool = True, env: dict[str, str] | None = None) -> dict:
    full_env = {**os.environ, **(env or {}), "XDG_CACHE_HOME": str(root.parent / "xdg")}
    full_env.pop("ATLEMBIC_NO_CACHE", None)
    cmd = [sys.executable, "-m", "atlembic", *args]
    if not cache:
        cmd.insert(3, "--no-cache")
    proc = subprocess.run(cmd, cwd=root, env=full_env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (0, 255), proc.stderr
    return json.loads(proc.stdout) if proc.stdout.startswith("{") else {}


def run_uncached(root: Path, env: dict[str, str] | None = None) -> dict:
    """`atlembic --no-cache check --format json` in this process, with `env` set: the control of a cached run."""
    proc = run_cli(root, "--no-cache", "check", "--format", "json", check=False, env=env)
    assert proc.returncode in (0, 255), proc.stderr
    return json.loads(proc.stdout)


def imports(root: Path) -> int:
    log = root / "imports.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def check(root: Path, env: dict[str, str] | None = None, *, control: bool = True) -> tuple[dict, bool]:
    """The cached run's answer (equal to an uncached run's) and whether it imported the models. `control=False`
    skips the uncached run, for a run on inputs an earlier `check` already compared with one."""
    before = imports(root)
    cached = run(root, "check", "--format", "json", env=env)
    loaded = imports(root) > before
    if control:
        assert cached == run_uncached(root, env)
    return cached, loaded


@pytest.mark.slow  # 22 CLI processes
def test_unchanged_models_are_not_imported_and_every_input_counts(project: Path) -> None:
    first, loaded = check(project)
    assert first["in_sync"] and loaded
    assert check(project, control=False) == (first, False)

    edits = [
        # the models module itself
        lambda: (project / "models.py").write_text(MODELS.replace("sa.String(40)", "sa.String(41)")),
        # a module the models import
        lambda: (project / "helpers.py").write_text(HELPERS.replace("sa.Text", "sa.Integer")),
        # a data file they read
        lambda: (project / "columns.json").write_text('["name", "sku"]'),
        # a directory they list
        lambda: (project / "plugins" / "tag.py").write_text(""),
        # env.py and alembic.ini
        lambda: (project / "alembic" / "env.py").write_text(ENV_PY + "\n# edited\n"),
        lambda: (project / "alembic.ini").write_text((project / "alembic.ini").read_text() + "\n[atlembic]\n"),
    ]
    answers = [first]
    for edit in edits:
        edit()
        answer, loaded = check(project)
        assert loaded, f"{edit} did not reload the models"
        assert check(project, control=False) == (answer, False)  # the same inputs: equal to the uncached run
        answers.append(answer)
    # What each edit did shows up in the answer, so the reload was needed.
    assert [a["in_sync"] for a in answers] == [True] + [False] * 6
    assert any("sku" in line for line in answers[3]["changes"])
    assert any("tag" in line for line in answers[4]["changes"])


@pytest.mark.slow  # CLI processes, with and without the cache
def test_environment_variables_the_models_read(project: Path) -> None:
    plain, _ = check(project)
    prefixed, loaded = check(project, env={"MODELS_TABLE_PREFIX": "app_"})
    assert loaded and prefixed != plain and any("app_item" in line for line in prefixed["changes"])
    assert check(project, env={"MODELS_TABLE_PREFIX": "app_"}, control=False) == (prefixed, False)
    # A variable the models never read does not matter.
    unrelated = {"MODELS_TABLE_PREFIX": "app_", "UNRELATED_VARIABLE": "1"}
    assert check(project, env=unrelated, control=False) == (prefixed, False)
    assert check(project, control=False) == (plain, True)


@pytest.mark.slow  # CLI processes, with and without the cache
def test_models_that_touch_a_database_are_never_snapshotted(project: Path) -> None:
    (project / "models.py").write_text(MODELS + textwrap.dedent("""\
        import sqlite3
        sqlite3.connect(":memory:").close()
        """))
    check(project)
    assert check(project)[1], "a load that opened a database was reused"


@pytest.mark.slow  # CLI processes, with and without the cache
def test_damaged_snapshot_is_ignored_and_rebuilt(project: Path) -> None:
    first, _ = check(project)
    entries = list((project.parent / "xdg" / "atlembic" / "replay").glob("models-*.bin"))
    assert len(entries) == 1
    entries[0].write_bytes(entries[0].read_bytes()[:-10] + b"0123456789")
    assert check(project, control=False) == (first, True)
    assert check(project, control=False) == (first, False)


def test_no_cache_writes_no_snapshot(project: Path, tmp_path: Path) -> None:
    run(project, "check", cache=False)
    run(project, "check", cache=False)
    assert imports(project) == 2
    assert not list((tmp_path / "xdg").glob("**/models-*.bin"))
    assert replay_cache.enabled()


@pytest.mark.slow  # CLI processes, each starting a PostgreSQL cluster
def test_postgresql_load_next_to_the_replay_thread(tmp_path: Path) -> None:
    """On a server dev database the models load while another thread replays the directory and starts
    the server (processes, sockets, environment reads): none of that is the models' input."""
    pg_bindir_or_skip()
    root = make_project(tmp_path, "postgresql+psycopg://nobody@localhost/never_connected",
                        "CREATE TABLE item (id serial PRIMARY KEY, name varchar(40), note text);\n")
    first, loaded = check(root)
    assert first["in_sync"] and loaded
    assert check(root, control=False) == (first, False)
    (root / "columns.json").write_text('["name", "sku"]')
    changed, loaded = check(root)
    assert loaded and any("sku" in line for line in changed["changes"])
