"""A fresh install as users have it: no greenlet (SQLAlchemy 2.1 no longer installs it), no database driver
(the ``postgresql`` / ``mysql`` extras not installed), and dependency bounds that CI really tests.

The CLI runs in a subprocess where the modules in question cannot be imported (``sys.modules[name] = None``:
``import name`` raises ImportError exactly as for a package that is not installed); an audit hook in that
process records every child process and every dev-server temp dir it creates, so a test can tell that
nothing was started before the one ``FAILED:`` line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from atlembic.engines.postgresql import POSTGRESQL
from atlembic.engines.sqlite import SQLITE
from atlembic.errors import AtlembicError
from tests.support.mysql_fixture import mysql_binaries_or_skip
from tests.support.pg_fixture import pg_bindir_or_skip, require_module
from tests.test_cli import REPO

FIXTURE = Path(__file__).parent / "fixtures" / "convert"

# Runs atlembic's CLI with argv[1] (comma-separated module names) unimportable and the audit log at argv[2].
_WITHOUT = """
import json, os, sys
log = sys.argv[2]
def record(event, args):
    if event == "subprocess.Popen":
        what = args[1]
    elif event == "os.mkdir" and os.path.basename(str(args[0])).startswith("atlembic-"):
        what = args[:1]
    else:
        return
    with open(log, "a") as out:
        out.write(json.dumps([event, [str(a) for a in what]]) + "\\n")
sys.addaudithook(record)
for name in filter(None, sys.argv[1].split(",")):
    sys.modules[name] = None
sys.argv = ["atlembic", *sys.argv[3:]]
from atlembic.cli import entry
entry()
"""
# Child processes that only ask the local binaries where they are or which version they are.
_PROBES = {"--version", "--bindir"}
PASSWORD = "s3cret-pw"


def run_without(modules: str, cwd: Path, *args: str, log: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", _WITHOUT, modules, str(log), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def started(log: Path) -> list[str]:
    """What the run started: dev-server temp dirs and child processes other than version/path probes."""
    if not log.exists():
        return []
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return [f"{event} {' '.join(args)}" for event, args in events if event == "os.mkdir" or not _PROBES & set(args)]


def one_failed_line(proc: subprocess.CompletedProcess[str]) -> str:
    output = (proc.stdout + proc.stderr).strip()
    lines = [line for line in output.splitlines() if not line.startswith("atlembic: warning:")]
    assert proc.returncode == 255 and len(lines) == 1 and lines[0].startswith("FAILED: "), output
    return lines[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(FIXTURE / "project", dest, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    return dest


def async_project(project: Path) -> Path:
    shutil.copy(FIXTURE / "env" / "async_env.py", project / "alembic" / "env.py")
    return project


# -- greenlet (the CLI tests here are subprocesses end to end: slow) ----------------------------------------


@pytest.mark.slow
def test_sync_convert_needs_no_greenlet(project: Path, tmp_path: Path) -> None:
    proc = run_without("greenlet", project, "convert", log=tmp_path / "log")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [baseline] = sorted((project / "migrations").glob("*.sql"))
    assert "CREATE TABLE user_account" in baseline.read_text()
    # The baseline rebuilds what the models say, without greenlet either.
    synced = run_without("greenlet", project, "revision", "--autogenerate", "-m", "next", log=tmp_path / "log")
    assert synced.returncode == 0 and "synced" in synced.stdout, synced.stdout + synced.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", [("convert",), ("revision", "--autogenerate", "-m", "x")])
def test_async_envpy_without_greenlet_names_the_extra(project: Path, tmp_path: Path, command: tuple[str, ...]) -> None:
    line = one_failed_line(run_without("greenlet", async_project(project), *command, log=tmp_path / "log"))
    assert "env.py builds an async engine" in line and 'pip install "atlembic[async]"' in line, line
    assert not (project / "migrations").exists()


@pytest.mark.slow
def test_async_envpy_with_greenlet_converts(project: Path, tmp_path: Path) -> None:
    """The control of the test above: the same env.py converts where greenlet (and aiosqlite) are installed."""
    require_module("greenlet", "the async extra (pip install -e '.[async]')")
    require_module("aiosqlite", "the async extra (pip install -e '.[async]')")
    proc = run_without("", async_project(project), "convert", log=tmp_path / "log")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- missing drivers -----------------------------------------------------------------------------------------

DIALECTS = {
    # dialect: (driver module(s) made unimportable, target URL, extra)
    "postgresql": ("psycopg,psycopg2", f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/app", "postgresql"),
    "mysql": ("pymysql,MySQLdb", f"mysql+pymysql://app:{PASSWORD}@127.0.0.1:1/app", "mysql"),
}
COMMANDS = {  # the commands that plan on a dev database, and one that connects to the target (as all others do)
    "revision": ("revision", "--autogenerate", "-m", "x"),
    "check": ("check",),
    "convert": ("convert",),
    "upgrade": ("upgrade", "head"),
}


@pytest.fixture(scope="module")
def converted_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("converted") / "proj"
    shutil.copytree(FIXTURE / "project", dest, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    proc = run_without("", dest, "convert", log=dest.parent / "log")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dest


@pytest.fixture
def converted(converted_once: Path, tmp_path: Path) -> Path:
    """The project with its history converted (on SQLite), so that upgrade has a directory."""
    dest = tmp_path / "proj"
    shutil.copytree(converted_once, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.mark.slow
@pytest.mark.parametrize(("dialect", "command"), [("postgresql", command) for command in sorted(COMMANDS)]
                         # The check is the engine's, the same code on MySQL: one command that plans, one that connects.
                         + [("mysql", "check"), ("mysql", "upgrade")])
def test_missing_driver_is_one_line_before_any_server(converted: Path, tmp_path: Path, dialect: str,
                                                      command: str) -> None:
    modules, url, extra = DIALECTS[dialect]
    args = COMMANDS[command]
    if command == "convert":
        shutil.rmtree(converted / "migrations")
    log = tmp_path / "blocked.log"
    line = one_failed_line(run_without(modules, converted, "--url", url, "--no-cache", *args, log=log))
    assert re.match(r"FAILED: no \w+ driver for ", line) and f'pip install "atlembic[{extra}]"' in line, line
    assert PASSWORD not in line
    assert started(log) == []
    if command == "convert":
        assert not (converted / "migrations").exists()


@pytest.mark.slow
@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_missing_driver_of_dev_url(converted: Path, tmp_path: Path, dialect: str) -> None:
    modules, url, extra = DIALECTS[dialect]
    dev_url = url.rsplit("/", 1)[0] + "/"
    log = tmp_path / "blocked.log"
    line = one_failed_line(run_without(modules, converted, "--url", url, "--dev-url", dev_url, "check", log=log))
    assert f"driver for {dev_url.replace(PASSWORD, '***')} " in line and f"atlembic[{extra}]" in line, line
    assert started(log) == []


def test_require_driver_names_the_url_and_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """In process, what the CLI tests above see: the engine's check, for a target URL and for the dev database."""
    require_module("psycopg", "the postgresql extra")
    url = make_url(f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/app")
    POSTGRESQL.require_driver(url)  # installed: nothing to say
    SQLITE.require_driver()
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(AtlembicError) as target:
        POSTGRESQL.require_driver(url)
    assert str(target.value).startswith("no PostgreSQL driver for postgresql+psycopg://app:***@127.0.0.1:1/app (")
    assert str(target.value).endswith('): pip install "atlembic[postgresql]"') and PASSWORD not in str(target.value)
    with pytest.raises(AtlembicError, match=r"^no PostgreSQL driver for the dev database \(postgresql\+psycopg://\)"):
        POSTGRESQL.require_driver()


@pytest.mark.slow
def test_url_of_another_driver_names_both_ways(converted: Path, tmp_path: Path) -> None:
    """A URL that asks for a driver the extra does not bring (psycopg2): install that one, or use the extra's."""
    url = f"postgresql+psycopg2://app:{PASSWORD}@127.0.0.1:1/app"
    line = one_failed_line(run_without("psycopg2", converted, "--url", url, "current", log=tmp_path / "log"))
    assert "install it, or pip install \"atlembic[postgresql]\" and use postgresql+psycopg://" in line, line


@pytest.mark.slow
@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_with_the_driver_a_dev_server_is_started(converted: Path, tmp_path: Path, dialect: str) -> None:
    """The control of the tests above: what `started` reports when the dev database does start."""
    if dialect == "postgresql":
        pg_bindir_or_skip()
    else:
        mysql_binaries_or_skip()
    require_module(DIALECTS[dialect][0].split(",")[0], f"the {dialect} extra")
    shutil.rmtree(converted / "migrations")
    log = tmp_path / "control.log"
    proc = run_without("", converted, "--url", DIALECTS[dialect][1], "--no-cache", "convert", log=log)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any("os.mkdir" in s and "atlembic-" in s for s in started(log)), started(log)
    assert any("subprocess.Popen" in s and "atlembic-" in s for s in started(log)), started(log)  # the server


# -- dependency bounds ---------------------------------------------------------------------------------------


def test_oldest_pins_are_the_lower_bounds() -> None:
    """.ci/oldest.txt (what CI's oldest-versions venv installs) pins exactly the lower bound of every runtime
    dependency and driver extra in pyproject.toml: a bound raised without the pin (or the reverse) fails here."""
    pyproject = (REPO / "pyproject.toml").read_text()
    runtime = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.S | re.M)
    drivers = re.findall(r"^(?:postgresql|mysql|async) = \[(.*)\]", pyproject, re.M)
    assert runtime is not None and len(drivers) == 3
    requirement = r'"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?([^"]*)"'
    required = re.findall(requirement, "\n".join([runtime[1], *drivers]))
    assert len(required) == 9 and all(">=" in spec for _, spec in required), required  # each a bound to test
    bounds = [(name, spec.split(">=")[1].split(",")[0]) for name, spec in required]
    pins = re.findall(r"^([A-Za-z0-9_.-]+)(?:\[.*\])?==(\S+)", (REPO / ".ci" / "oldest.txt").read_text(), re.M)
    assert _versions(bounds) == _versions(pins)

def _versions(pairs: list[tuple[str, str]]) -> dict[str, tuple[int, ...]]:
    """name -> version, so that ``>=2.0`` and ``==2.0.0`` are the same version."""
    def version(text: str) -> tuple[int, ...]:
        parts = [int(p) for p in text.split(".")]
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        return tuple(parts)
    return {name.lower(): version(v) for name, v in pairs}
