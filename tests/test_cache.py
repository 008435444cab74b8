"""The replay cache never changes a result: planning with it gives what planning without it gives, through
edits, additions, removals and reorderings of files; a damaged entry is ignored and rebuilt."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic import autogenerate
from atlembic.devdb import DevDatabase
from atlembic.devdb.sqlite import SqliteMemoryDevDatabase
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir, MigrationFile
from atlembic.replay import cache as replay_cache
from atlembic.replay.replayed import replayed_database


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("ATLEMBIC_NO_CACHE", raising=False)
    replay_cache.enable()
    yield cache / "atlembic" / "replay"
    replay_cache.enable()


def models() -> sa.MetaData:
    md = sa.MetaData()
    sa.Table("author", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("name", sa.String(80)))
    sa.Table("book", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("author_id", sa.Integer, sa.ForeignKey("author.id", name="fk_book_author")),
             sa.Column("title", sa.String(200), nullable=False, server_default="untitled"),
             sa.Index("ix_book_title", "title"))
    sa.Table("shelf", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("label", sa.Text))
    return md


FILES = {
    "20250101000000_author.sql": "CREATE TABLE author (id INTEGER NOT NULL, name VARCHAR(80), PRIMARY KEY (id));\n",
    "20250101000100_book.sql": textwrap.dedent("""\
        CREATE TABLE book (id INTEGER NOT NULL, author_id INTEGER, title VARCHAR(200) DEFAULT 'untitled' NOT NULL,
          PRIMARY KEY (id), CONSTRAINT fk_book_author FOREIGN KEY (author_id) REFERENCES author (id));
        CREATE INDEX ix_book_title ON book (title);
        """),
    "20250101000200_rows.sql": "INSERT INTO author (id, name) VALUES (1, 'a');\n"
                               "INSERT INTO book (id, author_id) VALUES (1, 1);\n",
    "20250101000300_shelf.sql": "CREATE TABLE shelf (id INTEGER NOT NULL, label TEXT, PRIMARY KEY (id));\n",
}


def write(directory: Path, files: dict[str, str]) -> list[MigrationFile]:
    for old in directory.glob("*.sql"):
        old.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    MigrationDir(directory).write_sum()
    return MigrationDir(directory).files_from_last_checkpoint()


def plan_text(dev: DevDatabase, files: list[MigrationFile], metadata: sa.MetaData, *, cache: bool) -> str:
    """What `revision --autogenerate` would write (verified), or the error it would fail with."""
    (replay_cache.enable if cache else replay_cache.disable)()
    try:
        desired = autogenerate.desired_schema(dev, metadata)
        current = autogenerate.replay_schema(dev, files)
        plan = autogenerate.plan_changes(current, desired, dev.dialect_name)
        if plan.statements:
            autogenerate.verify_plan(dev, files, plan, desired)
        return plan.render()
    except AtlembicError as exc:
        return f"error: {exc}"
    finally:
        replay_cache.enable()


def variants() -> list[tuple[str, dict[str, str]]]:
    """The directory as it changes: files edited, added, removed, reordered; one breaks the replay."""
    names = list(FILES)
    edited = {**FILES, names[0]: FILES[names[0]].replace("VARCHAR(80)", "VARCHAR(40)")}
    added = {**FILES, "20250101000400_more.sql": "ALTER TABLE shelf ADD COLUMN width INTEGER;\n"}
    removed = {k: v for k, v in FILES.items() if k != names[3]}
    # Same contents, another order: the shelf file now runs first.
    reordered = {names[0]: FILES[names[0]], names[1]: FILES[names[1]], names[2]: FILES[names[2]],
                 "20241231000000_shelf.sql": FILES[names[3]]}
    swapped = {names[0]: FILES[names[0]], "20250101000150_rows.sql": FILES[names[2]],
               "20250101000160_book.sql": FILES[names[1]], names[3]: FILES[names[3]]}  # rows before their table
    fk_broken = {**FILES, names[2]: FILES[names[2]].replace("VALUES (1, 1)", "VALUES (1, 7)")}
    return [("original", FILES), ("edited", edited), ("added", added), ("removed", removed),
            ("reordered", reordered), ("swapped", swapped), ("fk_broken", fk_broken), ("original again", FILES)]


def planning_cases() -> Iterator[tuple[str, dict[str, str], sa.MetaData]]:
    """Each directory variant with the models as they are and with a column added."""
    for label, files in variants():
        for changed_models in (False, True):
            metadata = models()
            if changed_models:
                metadata.tables["book"].append_column(sa.Column("isbn", sa.String(13)))
            yield label, files, metadata


def test_cache_gives_the_same_plans_as_no_cache(tmp_path: Path, private_cache: Path) -> None:
    dev = SqliteMemoryDevDatabase()
    directory = tmp_path / "migrations"
    seen_errors = 0
    for label, files, metadata in planning_cases():
        migration_files = write(directory, files)
        expected = plan_text(dev, migration_files, metadata, cache=False)
        first = plan_text(dev, migration_files, metadata, cache=True)
        second = plan_text(dev, migration_files, metadata, cache=True)
        assert first == expected, label
        assert second == expected, label
        seen_errors += expected.startswith("error:")
    assert seen_errors >= 4  # the swapped and fk_broken directories fail, with and without the cache
    assert any(private_cache.glob("state-*.bin")) and any(private_cache.glob("schema-*.bin"))


def test_one_added_file_replays_one_file(tmp_path: Path, replayed: list[str]) -> None:
    dev = SqliteMemoryDevDatabase()
    directory = tmp_path / "migrations"
    files = write(directory, FILES)
    metadata = models()
    plan_text(dev, files, metadata, cache=True)
    assert len(replayed) == len(FILES)
    replayed.clear()
    assert plan_text(dev, files, metadata, cache=True) == ""
    assert replayed == []  # unchanged: both schemas from the cache, nothing ran

    more = write(directory, {**FILES, "20250101000400_more.sql": "ALTER TABLE shelf ADD COLUMN width INTEGER;\n"})
    metadata.tables["shelf"].append_column(sa.Column("width", sa.Integer))
    replayed.clear()
    assert plan_text(dev, more, metadata, cache=True) == ""
    assert replayed == ["20250101000400_more.sql"]

    # A plan's verification restores the directory's state and runs only the planned file on it.
    metadata.tables["shelf"].append_column(sa.Column("depth", sa.Integer))
    replayed.clear()
    assert "depth" in plan_text(dev, more, metadata, cache=True)
    assert replayed == ["99999999999999_planned.sql"]


def _corruptions(path: Path) -> list[tuple[str, bytes]]:
    data = path.read_bytes()
    header_end = data.index(b"\n", len(b"atlembic-replay-cache\n")) + 1
    flipped = bytearray(data)
    flipped[-1] ^= 0xFF
    return [("flipped byte", bytes(flipped)), ("truncated", data[: len(data) // 2]), ("garbage", b"\x00" * 64),
            ("empty", b""), ("header only", data[:header_end])]


@pytest.mark.parametrize("kind", ["state", "schema", "desired"])
def test_damaged_entries_are_ignored_and_rebuilt(tmp_path: Path, private_cache: Path, kind: str) -> None:
    dev = SqliteMemoryDevDatabase()
    files = write(tmp_path / "migrations", FILES)
    metadata = models()
    metadata.tables["book"].append_column(sa.Column("isbn", sa.String(13)))
    expected = plan_text(dev, files, metadata, cache=False)
    assert expected
    plan_text(dev, files, metadata, cache=True)
    entries = sorted(private_cache.glob(f"{kind}-*.bin"))
    assert entries
    for label, damaged in _corruptions(entries[-1]):
        entries[-1].write_bytes(damaged)
        assert plan_text(dev, files, metadata, cache=True) == expected, label
        kind_, key = entries[-1].stem.split("-", 1)
        assert replay_cache.read_entry(kind_, key) is not None, f"{label}: not rebuilt"


def test_entry_that_verifies_but_does_not_load_is_discarded(tmp_path: Path, private_cache: Path,
                                                            replayed: list[str]) -> None:
    """A checksum only says the bytes are what was written: a payload that does not restore (or unpickles to
    something else) is dropped, and the directory replayed."""
    dev = SqliteMemoryDevDatabase()
    files = write(tmp_path / "migrations", FILES)
    metadata = models()
    plan_text(dev, files, metadata, cache=True)
    for path in private_cache.glob("*.bin"):
        kind, key = path.stem.split("-", 1)
        replay_cache.write_entry(kind, key, b"not a database and not a pickle", files=len(files), may_have_rows=True)
    replayed.clear()
    assert plan_text(dev, files, metadata, cache=True) == ""
    assert replayed == list(FILES)
    metadata.tables["shelf"].append_column(sa.Column("depth", sa.Integer))
    assert plan_text(dev, files, metadata, cache=True) == plan_text(dev, files, metadata, cache=False)


def test_no_cache_option_reads_and_writes_nothing(tmp_path: Path, private_cache: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from atlembic.cli import app

    project = tmp_path / "project"
    (project / "alembic").mkdir(parents=True)
    module = f"cache_models_{tmp_path.name.replace('-', '_')}"
    (project / f"{module}.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "sa.Table('author', metadata, sa.Column('id', sa.Integer, primary_key=True),\n"
        "         sa.Column('name', sa.String(80)))\n"
    )
    (project / "alembic" / "env.py").write_text(
        f"from alembic import context\nfrom {module} import metadata\n"
        "context.configure(url=context.config.get_main_option('sqlalchemy.url'), target_metadata=metadata)\n"
    )
    (project / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/alembic\nprepend_sys_path = .\n"
        f"sqlalchemy.url = sqlite:///{project / 'target.db'}\n"
    )
    write(project / "migrations", {"20250101000000_author.sql": FILES["20250101000000_author.sql"]})
    monkeypatch.chdir(project)
    runner = CliRunner()
    try:
        result = runner.invoke(app, ["-c", str(project / "alembic.ini"), "--no-cache", "check"])
        assert result.exit_code == 0, result.output
        assert not private_cache.exists() or not any(private_cache.iterdir())
    finally:
        replay_cache.enable()
    result = runner.invoke(app, ["-c", str(project / "alembic.ini"), "check"])
    assert result.exit_code == 0, result.output
    assert any(private_cache.glob("schema-*.bin"))


def test_canonical_index_order_keys_the_models_the_same() -> None:
    a = ["CREATE TABLE t (x INT)", "CREATE INDEX b ON t (x)", "CREATE INDEX a ON t (x)", "CREATE TABLE u (y INT)"]
    b = [a[0], a[2], a[1], a[3]]
    assert replay_cache.desired_key(a, "sqlite", "v") == replay_cache.desired_key(b, "sqlite", "v")
    assert replay_cache.desired_key(a, "sqlite", "v") != replay_cache.desired_key([a[3], a[1], a[2], a[0]],
                                                                                  "sqlite", "v")


def _server_dev(dialect: str) -> DevDatabase:
    from atlembic.engines import open_dev_database
    from tests.support.pg_fixture import server_unavailable

    try:
        return open_dev_database(dialect)
    except AtlembicError as exc:
        server_unavailable(dialect, f"no {dialect} dev database: {exc}")  # fails under CI=true


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_server_states_restore_the_same_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               replayed: list[str], dialect: str) -> None:
    """PostgreSQL (pg_dump/psql) and MariaDB (mariadb-dump/mariadb) states: planning after an added file
    restores the dump and replays that one file, with the same result as without the cache."""
    monkeypatch.setattr(replay_cache, "SERVER_STATE_MIN_SECONDS", 0.0)
    with _server_dev(dialect) as dev:
        directory = tmp_path / "migrations"
        files = write(directory, FILES)
        metadata = models()
        assert plan_text(dev, files, metadata, cache=True) == ""
        assert any(replay_cache.cache_dir().glob("state-*.bin"))
        more = write(directory, {**FILES, "20250101000400_more.sql": "ALTER TABLE shelf ADD COLUMN width INTEGER;\n"})
        metadata.tables["shelf"].append_column(sa.Column("width", sa.Integer))
        metadata.tables["shelf"].append_column(sa.Column("depth", sa.Integer))
        replayed.clear()
        with_cache = plan_text(dev, more, metadata, cache=True)
        assert replayed[0] == "20250101000400_more.sql"
        assert with_cache == plan_text(dev, more, metadata, cache=False)
        assert "depth" in with_cache


def test_a_run_copies_the_replayed_postgresql_database_instead_of_replaying_again(
        tmp_path: Path, replayed: list[str]) -> None:
    """Within one run, verification starts from a copy (CREATE DATABASE ... TEMPLATE) of the database the
    directory was replayed into, even without the persistent cache; the kept state is never changed."""
    from atlembic.engines import inspect_schema

    replay_cache.disable()
    with _server_dev("postgresql") as dev:
        files = write(tmp_path / "migrations", FILES)
        current = autogenerate.replay_schema(dev, files)
        assert replayed == list(FILES)
        metadata = models()
        metadata.tables["shelf"].append_column(sa.Column("depth", sa.Integer))
        desired = autogenerate.desired_schema(dev, metadata)
        plan = autogenerate.plan_changes(current, desired, dev.dialect_name)
        replayed.clear()
        autogenerate.verify_plan(dev, files, plan, desired)
        assert replayed == ["99999999999999_planned.sql"]
        with replayed_database(dev, files) as engine, engine.connect() as conn:
            assert inspect_schema(conn) == current
            assert conn.exec_driver_sql("SELECT count(*) FROM book").scalar() == 1  # rows come along
        edited = write(tmp_path / "migrations", {**FILES, "20250101000400_more.sql": "SELECT 1;\n"})
        replayed.clear()
        with replayed_database(dev, edited):
            assert replayed == ["20250101000400_more.sql"]  # from the longest kept prefix
