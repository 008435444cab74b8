"""PostgreSQL data dirs kept between runs (atlembic.devdb.kept) never change a result.

Every "run" here is a new dev database object (LazyDevDatabase, as the commands make one) on the same
cache dir and temp base, and one test runs the real `check` in separate processes: a run whose files extend
a kept state replays only the files after it, edited/added/removed/reordered directories plan as with
--no-cache, damaged or half kept data dirs are discarded (and the result is still right), two runs never
share a data dir, --no-cache and --dev-url keep nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic import autogenerate
from atlembic.devdb import kept
from atlembic.devdb.postgresql import EphemeralPostgres
from atlembic.devdb.process import cache_root, temp_base
from atlembic.engines import embedded_identity, engine_for
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationFile
from atlembic.replay import cache as replay_cache
from atlembic.replay import lazy
from atlembic.replay.lazy import LazyDevDatabase
from tests.test_cache import FILES, models, plan_text, planning_cases, write

REPO = Path(__file__).resolve().parent.parent
MORE = {"20250101000400_more.sql": "ALTER TABLE shelf ADD COLUMN width INTEGER;\n"}


def share_server_templates(private_root: Path) -> None:
    """Link the servers' template data dirs of the usual cache root into a private one: a kept data dir is not
    a template, and `initdb` / `mariadb-install-db` per test proves nothing here (tests/test_devdb.py tests the
    templates). The session's server fixture (`pg_server`, `mysql_server`) has made the template of its engine."""
    private_root.mkdir(parents=True, exist_ok=True)
    for template in cache_root().glob("*-template-*"):
        if template.is_dir() and ".tmp-" not in template.name and not (private_root / template.name).exists():
            (private_root / template.name).symlink_to(template)


def private_places_for(server_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private replay cache and a private temp base for the server whose temp dir ``$ATLEMBIC_<X>_TMPDIR``
    names (kept data dirs live there), both removed after."""
    share_server_templates(tmp_path / "xdg-cache" / "atlembic")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("ATLEMBIC_NO_CACHE", raising=False)
    # Short (the server's socket lives in it) and on the default filesystem (tmpfs when there is one).
    base = Path(tempfile.mkdtemp(prefix="atl-kept-", dir=temp_base()))
    base.chmod(0o711)  # as root the server runs as an unprivileged user, which must traverse it
    monkeypatch.setenv(server_env, str(base))
    replay_cache.enable()
    yield base
    replay_cache.enable()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(autouse=True)
def private_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_server: EphemeralPostgres) -> Iterator[Path]:
    yield from private_places_for("ATLEMBIC_PG_TMPDIR", tmp_path, monkeypatch)


def run(files: list[MigrationFile], metadata: sa.MetaData, *, cache: bool = True,
        dialect: str = "postgresql") -> tuple[str, int]:
    """One planning run on its own dev database, as `revision --autogenerate` plans (verified): the plan
    (or the error) and how many files the kept state it started from covered."""
    (replay_cache.enable if cache else replay_cache.disable)()
    try:
        with LazyDevDatabase(dialect, None, None, files) as dev:
            text = plan_text(dev, files, metadata, cache=cache)
            return text, dev.kept_files
    finally:
        replay_cache.enable()


_UNCACHED: dict[tuple[str, tuple[tuple[str, bytes], ...], tuple[str, ...]], str] = {}


def uncached_plan(files: list[MigrationFile], metadata: sa.MetaData, dialect: str = "postgresql") -> str:
    """The plan (or error) of `run(files, metadata, cache=False)`, the control a cached run is compared with.
    It is a function of the files' names and bytes and the models' DDL only, so it is planned once per module
    for each of them (tests here compare many cached runs with the same control); tests of what --no-cache
    itself does call `run`."""
    key = (dialect, tuple((f.name, f.content) for f in files), tuple(engine_for(dialect).metadata_ddl(metadata)))
    if key not in _UNCACHED:
        _UNCACHED[key] = run(files, metadata, cache=False, dialect=dialect)[0]
    return _UNCACHED[key]


def forget_schemas() -> None:
    """Drop the cached schemas, so that the next run needs its dev database (and a kept state) again."""
    for path in replay_cache.cache_dir().glob("schema-*.bin"):
        path.unlink()


def metadata_files() -> list[Path]:
    return sorted(replay_cache.cache_dir().glob("pg-cluster-*.json"))


def entries(base: Path) -> list[Path]:
    return sorted(base.glob("atlembic-kept-pg-*"))


def runs_match_no_cache(directory: Path, run_one: Callable[..., tuple[str, int]]) -> int:
    """Every planning case planned without the cache, then twice with it, each time on a new dev database
    (`run_one`, as `run`) and without cached schemas: the plans (or errors) must be equal. Returns how
    many of the cached runs started from a kept state."""
    started_kept = 0
    for label, files, metadata in planning_cases():
        migration_files = write(directory, files)
        expected, _ = run_one(migration_files, metadata, cache=False)
        for _ in range(2):
            forget_schemas()  # each run replays or starts from a kept state, never from a cached schema
            got, covered = run_one(migration_files, metadata)
            assert got == expected, label
            started_kept += covered > 0
    return started_kept


@pytest.mark.slow  # every planning case twice, with and without kept clusters
def test_runs_plan_as_without_the_cache(tmp_path: Path, private_places: Path) -> None:
    assert runs_match_no_cache(tmp_path / "migrations", run) >= 10
    assert 1 <= len(metadata_files()) <= kept.MAX_CLUSTERS
    assert len(entries(private_places)) == len(metadata_files())
    for path in metadata_files():
        assert 1 <= len(json.loads(path.read_text())["states"]) <= kept.MAX_STATES


def test_a_run_that_adds_one_file_replays_one_file(tmp_path: Path, replayed: list[str]) -> None:
    directory = tmp_path / "migrations"
    files = write(directory, FILES)
    metadata = models()
    assert run(files, metadata) == ("", 0)
    assert replayed == list(FILES)

    more = write(directory, {**FILES, **MORE})
    metadata.tables["shelf"].append_column(sa.Column("width", sa.Integer))
    replayed.clear()
    assert run(more, metadata) == ("", len(FILES))
    assert replayed == list(MORE)

    # A plan's verification copies the kept state of the directory and runs the planned file on it.
    metadata.tables["shelf"].append_column(sa.Column("depth", sa.Integer))
    replayed.clear()
    text, covered = run(more, metadata)
    assert "depth" in text and covered == len(more)
    assert replayed == ["99999999999999_planned.sql"]
    assert text == uncached_plan(more, metadata)

    # Editing the last file: the state before it is kept too (the two longest states of a run are).
    edited = write(directory, {**FILES, "20250101000400_more.sql": "ALTER TABLE shelf ADD COLUMN width BIGINT;\n"})
    replayed.clear()
    text, covered = run(edited, metadata)
    assert covered == len(FILES)
    assert replayed[0] == "20250101000400_more.sql"
    assert text == uncached_plan(edited, metadata)


def _project(root: Path) -> Path:
    """A project whose `check` plans on the embedded PostgreSQL (the target is never connected to)."""
    (root / "alembic").mkdir(parents=True)
    module = f"kept_models_{root.parent.name.replace('-', '_')}"
    (root / f"{module}.py").write_text(textwrap.dedent("""\
        import os
        import sqlalchemy as sa
        metadata = sa.MetaData()
        sa.Table("author", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("name", sa.String(80)))
        sa.Table("book", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("author_id", sa.Integer, sa.ForeignKey("author.id", name="fk_book_author")),
                 sa.Column("title", sa.String(200), nullable=False, server_default="untitled"),
                 sa.Index("ix_book_title", "title"))
        columns = [sa.Column("id", sa.Integer, primary_key=True, autoincrement=False), sa.Column("label", sa.Text)]
        if os.environ.get("WITH_WIDTH"):
            columns.append(sa.Column("width", sa.Integer))
        sa.Table("shelf", metadata, *columns)
        """))
    (root / "alembic" / "env.py").write_text(
        f"from alembic import context\nfrom {module} import metadata\n"
        "context.configure(url=context.config.get_main_option('sqlalchemy.url'), target_metadata=metadata)\n"
    )
    (root / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/alembic\nprepend_sys_path = .\n"
        "sqlalchemy.url = postgresql://nobody@localhost/never_connected\n"
    )
    return root


_CHECK = """
import json, sys
from atlembic import commands
from atlembic.config import load_settings
from atlembic.migrate import executor

ran = []
original = executor.run_replay
def spy(engine, files, dialect, **kw):
    ran.extend(f.name for f in files)
    return original(engine, files, dialect, **kw)
executor.run_replay = spy
outcome = commands.check(load_settings(sys.argv[1]))
print(json.dumps({"ran": ran, "changes": len(outcome.plan.statements)}))
"""


@pytest.mark.slow  # CLI processes, each starting a cluster
def test_separate_processes_replay_only_the_added_file(tmp_path: Path, private_places: Path) -> None:
    project = _project(tmp_path / "project")
    directory = project / "migrations"
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def check(**extra: str) -> dict:
        proc = subprocess.run([sys.executable, "-c", _CHECK, str(project / "alembic.ini")], cwd=project,
                              env={**env, **extra}, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    write(directory, FILES)
    assert check() == {"ran": list(FILES), "changes": 0}
    assert len(metadata_files()) == 1
    write(directory, {**FILES, **MORE})
    assert check(WITH_WIDTH="1") == {"ran": list(MORE), "changes": 0}
    # The schema of these files is cached now: nothing runs, no server starts, the kept data dir stays.
    assert check(WITH_WIDTH="1") == {"ran": [], "changes": 0}
    assert len(metadata_files()) == 1 and len(entries(private_places)) == 1
    # Without the cache: everything replays, the kept data dir is neither taken nor replaced.
    kept_before = metadata_files()
    assert check(WITH_WIDTH="1", ATLEMBIC_NO_CACHE="1") == {"ran": [*FILES, *MORE], "changes": 0}
    assert metadata_files() == kept_before


# -- damaged kept data dirs ---------------------------------------------------------------------------


def _resign(metadata: Path) -> None:
    """Record the data dir's present manifest, as if it had been kept like this (to test what follows)."""
    record = json.loads(metadata.read_text())
    record["manifest"] = kept.manifest(Path(record["entry"]) / "data")
    metadata.write_text(json.dumps(record))


class _RenameIn:
    def __init__(self, source: Path) -> None:
        self.source = source

    def fill(self, datadir: Path) -> bool:
        os.rename(self.source, datadir)
        return True

    def accept(self, server: object) -> bool:
        return True


def _on_kept_server(entry: Path, change: Callable[[EphemeralPostgres], None]) -> None:
    """Start a server on a kept data dir, `change` it, stop it cleanly and put the data dir back."""
    server = EphemeralPostgres()
    server.start(kept=_RenameIn(entry / "data"))
    try:
        change(server)
        assert server.stop_cleanly()
        os.rename(server.datadir, entry / "data")
    finally:
        server.stop()


def _drop_state(metadata: Path) -> None:
    record = json.loads(metadata.read_text())
    _on_kept_server(Path(record["entry"]), lambda server: [server.drop_database(db) for db in record["states"]])
    _resign(metadata)


def _remove_a_relation_file(metadata: Path) -> None:
    data = Path(json.loads(metadata.read_text())["entry"]) / "data"
    biggest = max((p for p in (data / "base").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    biggest.unlink()


def _write_into_a_file(metadata: Path) -> None:
    data = Path(json.loads(metadata.read_text())["entry"]) / "data"
    with open(data / "global" / "pg_control", "r+b") as f:
        f.write(b"\0" * 64)


def _break_the_server(metadata: Path) -> None:
    (Path(json.loads(metadata.read_text())["entry"]) / "data" / "global" / "pg_control").unlink()
    _resign(metadata)


DAMAGES: dict[str, Callable[[Path], None]] = {
    "metadata missing": lambda metadata: metadata.unlink(),
    "metadata garbage": lambda metadata: metadata.write_text("{not json"),
    "metadata names another entry": lambda metadata: metadata.write_text(
        metadata.read_text().replace("atlembic-kept-pg-", "atlembic-kept-pg-x")),
    "data dir missing": lambda metadata: shutil.rmtree(Path(json.loads(metadata.read_text())["entry"]) / "data"),
    "relation file removed": _remove_a_relation_file,
    "file written to": _write_into_a_file,
    "server does not start": _break_the_server,
    "state database dropped": _drop_state,
}


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.slow  # a cluster kept, damaged and restarted per damage
def test_a_damaged_kept_data_dir_is_discarded(tmp_path: Path, private_places: Path, replayed: list[str],
                                              damage: str) -> None:
    directory = tmp_path / "migrations"
    files = write(directory, FILES)
    metadata = models()
    run(files, metadata)
    [kept_metadata] = metadata_files()
    DAMAGES[damage](kept_metadata)

    more = write(directory, {**FILES, **MORE})
    metadata.tables["shelf"].append_column(sa.Column("depth", sa.Integer))
    expected = uncached_plan(more, metadata)
    replayed.clear()
    got, covered = run(more, metadata)
    assert (got, covered) == (expected, 0)
    assert replayed[:len(more)] == [f.name for f in more]  # all of them, on a fresh server
    # Nothing of the damaged one is left; this run's data dir is kept instead, and works.
    [now_kept] = metadata_files()
    assert now_kept != kept_metadata
    assert entries(private_places) == [Path(json.loads(now_kept.read_text())["entry"])]
    forget_schemas()
    replayed.clear()
    assert run(more, metadata) == (expected, len(more))
    assert replayed == ["99999999999999_planned.sql"]


@pytest.mark.slow  # two runs, a cluster each
def test_orphaned_and_half_kept_entries_are_swept(tmp_path: Path, private_places: Path) -> None:
    files = write(tmp_path / "migrations", FILES)
    run(files, models())
    [entry] = entries(private_places)
    # What a run killed while keeping leaves (entry without metadata, writer dead), and one whose cache dir
    # was deleted (metadata gone): both are removed by the next run's start; a live writer's is not.
    half = private_places / "atlembic-kept-pg-0123456789abcdef"
    (half / "data").mkdir(parents=True)
    (half / "entry.json").write_text(json.dumps({"metadata": str(tmp_path / "gone.json"), "pid": 2**22 + 1}))
    writing = private_places / "atlembic-kept-pg-fedcba9876543210"
    writing.mkdir()
    (writing / "entry.json").write_text(json.dumps({"metadata": str(tmp_path / "gone.json"), "pid": os.getpid()}))
    shutil.rmtree(replay_cache.cache_dir())
    run(write(tmp_path / "migrations", {**FILES, **MORE}), models())
    left = entries(private_places)
    assert entry not in left and half not in left and writing in left
    assert len(left) == 2  # the live writer's and this run's


# -- concurrency, --no-cache, --dev-url ---------------------------------------------------------------


@pytest.mark.slow  # concurrent runs, a cluster each
def test_concurrent_runs_never_share_a_data_dir(tmp_path: Path, private_places: Path) -> None:
    files = write(tmp_path / "migrations", FILES)
    metadata = models()
    run(files, metadata)
    forget_schemas()
    with LazyDevDatabase("postgresql", None, None, files) as first, \
            LazyDevDatabase("postgresql", None, None, files) as second:
        servers = [first.dev.server, second.dev.server]  # type: ignore[attr-defined]  # both started
        assert sorted([first.kept_files, second.kept_files]) == [0, len(files)]
        assert servers[0].datadir != servers[1].datadir
        schemas = []
        for dev in (first, second):
            forget_schemas()
            schemas.append(autogenerate.replay_schema(dev, files))
        assert schemas[0] == schemas[1]
    assert len(metadata_files()) == kept.MAX_CLUSTERS  # each kept its own, the older one pruned


def test_only_one_of_racing_takers_gets_a_kept_data_dir(tmp_path: Path, private_places: Path) -> None:
    files = write(tmp_path / "migrations", FILES)
    run(files, models())
    server = EphemeralPostgres()
    store = kept.ClusterStore("pg", server._fingerprint(), replay_cache.cache_dir(), private_places)
    [(covered, cluster)] = store.candidates(lazy.directory_states(
        files, "postgresql", embedded_identity("postgresql")).keys)  # type: ignore[union-attr]
    assert covered == len(files)
    barrier = threading.Barrier(6)
    won: list[bool] = []

    def take(n: int) -> None:
        barrier.wait()
        won.append(store.take(cluster, private_places / f"taker-{n}"))  # same filesystem

    threads = [threading.Thread(target=take, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 5 + [True]
    assert metadata_files() == [] and entries(private_places) == []


@pytest.mark.slow  # three runs, a cluster each
def test_no_cache_takes_and_keeps_nothing(tmp_path: Path, private_places: Path, replayed: list[str]) -> None:
    files = write(tmp_path / "migrations", FILES)
    metadata = models()
    metadata.tables["shelf"].append_column(sa.Column("depth", sa.Integer))
    run(files, metadata, cache=False)
    assert not replay_cache.cache_dir().exists() and entries(private_places) == []
    run(files, metadata)
    before = (metadata_files(), entries(private_places))
    replayed.clear()
    assert run(files, metadata, cache=False)[1] == 0
    assert replayed[:len(files)] == list(FILES)
    assert (metadata_files(), entries(private_places)) == before


def test_a_dev_url_server_is_left_alone(tmp_path: Path, private_places: Path, pg_server: EphemeralPostgres) -> None:
    files = write(tmp_path / "migrations", FILES)
    url = pg_server.url("postgres").render_as_string(hide_password=False)
    with LazyDevDatabase("postgresql", url, None, files) as dev:
        assert dev.states is None
        autogenerate.replay_schema(dev, files)
    assert metadata_files() == [] and entries(private_places) == []


@pytest.mark.slow  # two runs, a fresh cluster each
def test_replays_that_change_what_databases_share_are_not_kept(tmp_path: Path, private_places: Path) -> None:
    """A role (or any cluster-wide object) a migration created would be there before the replay of the next
    run: such a data dir is not kept, and the next run replays on a fresh server, as without the cache."""
    role = f"kept_role_{os.getpid()}"
    files = write(tmp_path / "migrations", {"20250101000000_role.sql": f"CREATE ROLE {role};\n", **FILES})
    metadata = models()
    assert run(files, metadata) == ("", 0)
    assert metadata_files() == []
    edited = write(tmp_path / "migrations", {"20250101000000_role.sql": f"CREATE ROLE {role} NOLOGIN;\n",
                                             **FILES, **MORE})
    metadata.tables["shelf"].append_column(sa.Column("width", sa.Integer))
    assert run(edited, metadata) == ("", 0)


@pytest.mark.slow  # four runs, a cluster each
def test_kept_data_dirs_per_cache_dir_are_bounded(tmp_path: Path, private_places: Path) -> None:
    metadata = models()
    for n in range(4):
        extra = {f"20250101000500_n{n}.sql": f"CREATE TABLE n{n} (x INT);\n"}
        files = write(tmp_path / f"migrations{n}", {**FILES, **extra})
        metadata.tables["shelf"].append_column(sa.Column(f"c{n}", sa.Integer))  # a plan to verify each time
        assert f"c{n}" in run(files, metadata)[0]
    assert len(metadata_files()) == kept.MAX_CLUSTERS
    assert len(entries(private_places)) == kept.MAX_CLUSTERS


def test_metadata_of_another_shape_never_fails_a_run(tmp_path: Path, private_places: Path) -> None:
    files = write(tmp_path / "migrations", FILES)
    replay_cache.cache_dir().mkdir(parents=True)
    odd = replay_cache.cache_dir() / "pg-cluster-0000.json"
    odd.write_text(json.dumps({"format": 1, "server": "pg", "entry": "/", "states": []}))
    assert run(files, models()) == ("", 0)
    assert not odd.exists()


def test_a_failed_replay_still_keeps_what_is_right(tmp_path: Path, private_places: Path,
                                                   replayed: list[str]) -> None:
    """The states a run kept before a file failed are right: the next run starts from them."""
    directory = tmp_path / "migrations"
    files = write(directory, FILES)
    broken = write(directory, {**FILES, "20250101000400_broken.sql": "ALTER TABLE nowhere ADD COLUMN x INT;\n"})
    with LazyDevDatabase("postgresql", None, None, broken) as dev:
        autogenerate.replay_schema(dev, files)
        with pytest.raises(AtlembicError, match="nowhere"):
            autogenerate.replay_schema(dev, broken)
    replayed.clear()
    fixed = write(directory, {**FILES, **MORE})
    metadata = models()
    metadata.tables["shelf"].append_column(sa.Column("width", sa.Integer))
    assert run(fixed, metadata) == ("", len(FILES))
    assert replayed == list(MORE)


def test_lint_of_the_added_file_starts_from_the_kept_state(tmp_path: Path, private_places: Path,
                                                          replayed: list[str]) -> None:
    """`lint --latest 1` after the run that replayed the directory: the files before the linted one are the
    state the run kept before the added file's (the two longest states are kept)."""
    from atlembic.config import load_settings
    from atlembic.lint import lint_directory

    project = _project(tmp_path / "project")
    directory = project / "migrations"
    dropping = {"20250101000400_drop.sql": "ALTER TABLE shelf DROP COLUMN label;\n"}
    write(directory, {**FILES, **dropping})
    settings = load_settings(project / "alembic.ini")
    replay_cache.disable()
    try:
        expected = lint_directory(settings, latest=1)
    finally:
        replay_cache.enable()
    assert expected.findings and replayed == list(FILES)
    run(write(directory, FILES), models())
    run(write(directory, {**FILES, **dropping}), models())  # keeps the states of FILES and of all files
    replayed.clear()
    got = lint_directory(settings, latest=1)
    assert replayed == []
    assert "earlier run" in got.dev_description
    assert [(f.code, f.line, f.message) for f in got.findings] == [(f.code, f.line, f.message)
                                                                    for f in expected.findings]


_KILLED = """
import os, signal, sys
from atlembic import commands
from atlembic.config import load_settings
from atlembic.devdb import kept
from atlembic.migrate import executor

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if sys.argv[2] == "while keeping":  # the data dir is in its entry, the metadata not written yet
    kept.manifest = die
else:  # "after taking": the kept data dir is this run's now, and the run dies in its replay
    executor.run_replay = die
commands.check(load_settings(sys.argv[1]))
"""


@pytest.mark.parametrize("moment", ["while keeping", "after taking"])
@pytest.mark.slow  # a subprocess killed mid-run, then a new run
def test_a_killed_run_leaves_nothing_the_next_run_trusts(tmp_path: Path, private_places: Path,
                                                         replayed: list[str], moment: str) -> None:
    project = _project(tmp_path / "project")
    directory = project / "migrations"
    files = write(directory, FILES)
    if moment == "after taking":
        run(files, models())
        assert len(metadata_files()) == 1
    more = write(directory, {**FILES, **MORE})
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(project / "alembic.ini"), moment], cwd=project,
                          env={**os.environ, "PYTHONPATH": str(REPO), "WITH_WIDTH": "1"}, timeout=300)
    assert proc.returncode == -9
    assert metadata_files() == []  # nothing written, or taken
    assert entries(private_places) or list(private_places.glob("atlembic-pg-*"))  # what the kill left
    metadata = models()
    metadata.tables["shelf"].append_column(sa.Column("depth", sa.Integer))
    expected = uncached_plan(more, metadata)
    replayed.clear()
    assert run(more, metadata) == (expected, 0)
    assert replayed[:len(more)] == [f.name for f in more]
    # The dead run's temp dir and entry are gone; only this run's data dir is kept.
    assert list(private_places.glob("atlembic-pg-*")) == []
    assert entries(private_places) == [Path(json.loads(metadata_files()[0].read_text())["entry"])]
