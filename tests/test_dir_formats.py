"""Atlas's other migration directory formats (golang-migrate, goose, flyway, liquibase, dbmate): `migrate hash`,
`apply`, `status`, `diff`, `new` and `import` on real databases; only the up parts run, new files are written in
the format with their reverse in its down part, atlas.sum covers the migration files as Atlas computes it."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.engines import inspect_schema
from atlembic.migrate.formats import Statements
from atlembic.migrate.formats import dir_format as dir_format_named
from atlembic.migrate.lexer import split_statements
from atlembic.schema.model import Schema
from tests.support.cli import run_cli
from tests.support.pg_fixture import fresh_database_url

CREATE = "CREATE TABLE users (id INTEGER NOT NULL, PRIMARY KEY (id));\n"
ALTER = "ALTER TABLE users ADD COLUMN name VARCHAR(40);\n"
TRIGGER_TABLE = "CREATE TABLE audit (id INTEGER NOT NULL, PRIMARY KEY (id));\n"

# Per format: the files of a two-migration directory whose down parts would fail if they ran (no table
# `missing`), so a run of a down part shows as a failed apply.
DIRS = {
    "golang-migrate": {
        "20240101000000_init.up.sql": CREATE,
        "20240101000000_init.down.sql": "DROP TABLE missing;\n",
        "20240102000000_add_name.up.sql": ALTER + TRIGGER_TABLE,
        "20240102000000_add_name.down.sql": "DROP TABLE missing;\n",
    },
    "goose": {
        "20240101000000_init.sql": f"-- +goose Up\n{CREATE}\n-- +goose Down\nDROP TABLE missing;\n",
        "20240102000000_add_name.sql": (f"-- +goose Up\n{ALTER}-- +goose StatementBegin\n{TRIGGER_TABLE}"
                                        "-- +goose StatementEnd\n\n-- +goose Down\nDROP TABLE missing;\n"),
    },
    "dbmate": {
        "20240101000000_init.sql": f"-- migrate:up\n{CREATE}\n-- migrate:down\nDROP TABLE missing;\n",
        "20240102000000_add_name.sql": f"-- migrate:up\n{ALTER}{TRIGGER_TABLE}\n-- migrate:down\nDROP TABLE missing;\n",
    },
    "flyway": {
        "V20240101000000__init.sql": CREATE,
        "U20240101000000__init.sql": "DROP TABLE missing;\n",
        "V20240102000000__add_name.sql": ALTER + TRIGGER_TABLE,
    },
    "liquibase": {
        "20240101000000_init.sql": f"--liquibase formatted sql\n\n--changeset atlas:1-1\n{CREATE}"
                                   "--rollback: DROP TABLE missing;\n",
        "20240102000000_add_name.sql": f"--liquibase formatted sql\n\n--changeset atlas:2-1\n{ALTER}"
                                       f"--rollback: DROP TABLE missing;\n\n--changeset atlas:2-2\n{TRIGGER_TABLE}",
    },
}
# The files of each directory that are migrations (and all atlas.sum covers): not the down files.
MIGRATIONS = {fmt: [n for n in files if not n.endswith(".down.sql") and not n.startswith("U")]
              for fmt, files in DIRS.items()}


def _write(root: Path, files: dict[str, str]) -> Path:
    directory = root / "migrations"
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def _migrate(root: Path, *args: str, check: bool = True) -> str:
    proc = run_cli(root, "migrate", *args, check=check)
    return proc.stdout + proc.stderr


def _revisions(url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            schema = "atlas_schema_revisions" if engine.dialect.name == "postgresql" else None
            table = sa.Table("atlas_schema_revisions", sa.MetaData(), autoload_with=conn, schema=schema)
            query = sa.select(table.c.version, table.c.description).order_by(table.c.version)
            return [(r[0], r[1]) for r in conn.execute(query)]
    finally:
        engine.dispose()


def _columns(url: str) -> dict[str, list[str]]:
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {t: [c["name"] for c in inspector.get_columns(t)]
                for t in inspector.get_table_names() if t != "atlas_schema_revisions"}
    finally:
        engine.dispose()


def apply_scenario(root: Path, dir_format: str, url: str) -> None:
    directory = _write(root, DIRS[dir_format])
    dir_url = f"file://{directory}?format={dir_format}"
    _migrate(root, "hash", "--dir", dir_url)
    _migrate(root, "apply", "--dir", dir_url, "--url", url)
    assert _columns(url) == {"users": ["id", "name"], "audit": ["id"]}
    assert _revisions(url) == [("20240101000000", "init"), ("20240102000000", "add_name")]
    status = _migrate(root, "status", "--dir", dir_url, "--url", url)
    assert "Migration Status: OK" in status and "Pending Files:   0" in status, status


@pytest.mark.parametrize("dir_format", sorted(DIRS))
def test_apply_runs_only_the_up_parts_sqlite(tmp_path: Path, dir_format: str) -> None:
    apply_scenario(tmp_path, dir_format, f"sqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.slow
def test_apply_golang_migrate_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    apply_scenario(tmp_path, "golang-migrate", fresh_database_url(pg_server))


@pytest.mark.slow
def test_apply_golang_migrate_mariadb(tmp_path: Path, mysql_server) -> None:  # noqa: ANN001
    apply_scenario(tmp_path, "golang-migrate", fresh_database_url(mysql_server))


def test_format_from_atlas_hcl(tmp_path: Path) -> None:
    _write(tmp_path, DIRS["dbmate"])
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    (tmp_path / "atlas.hcl").write_text(
        f'env "local" {{\n  url = "{url}"\n  migration {{\n    dir = "file://migrations"\n'
        '    format = dbmate\n  }\n}\n')
    _migrate(tmp_path, "hash", "--env", "local")
    _migrate(tmp_path, "apply", "--env", "local")
    assert _columns(url) == {"users": ["id", "name"], "audit": ["id"]}


def _atlas_sum_by_hand(files: dict[str, str]) -> str:
    """Atlas's rules written out: files in the order given, each row the running SHA-256 over every name and
    content so far; the header the SHA-256 over every name and row hash."""
    running, header, rows = hashlib.sha256(), hashlib.sha256(), []
    for name in files:
        running.update(name.encode())
        running.update(files[name].encode())
        digest = base64.b64encode(running.digest()).decode()
        header.update(name.encode())
        header.update(digest.encode())
        rows.append(f"{name} h1:{digest}\n")
    return f"h1:{base64.b64encode(header.digest()).decode()}\n" + "".join(rows)


@pytest.mark.parametrize("dir_format", ["golang-migrate", "flyway"])
def test_sum_covers_the_migrations_only(tmp_path: Path, dir_format: str) -> None:
    """As Atlas's since v0.32: golang-migrate's .down.sql and flyway's U files are not in atlas.sum."""
    directory = _write(tmp_path, DIRS[dir_format])
    _migrate(tmp_path, "hash", "--dir", f"file://{directory}?format={dir_format}")
    written = (directory / "atlas.sum").read_text()
    assert written == _atlas_sum_by_hand({n: DIRS[dir_format][n] for n in MIGRATIONS[dir_format]})
    assert "init.down.sql" not in written and "U2024" not in written


def test_flyway_order_baseline_subdirectories_and_repeatables(tmp_path: Path) -> None:
    """Atlas's flyway rules: the latest baseline replaces the versioned files up to it, versions compare as
    numbers (1.10 after 1.9, a timestamp after 3), files in non-hidden subdirectories count, repeatables run
    last (numbered after the last version, as Atlas's import numbers them), undo files never run; atlas.sum in
    that order."""
    files = {
        "V1__old.sql": "CREATE TABLE gone (id INTEGER);\n",
        "B1.9__base.sql": CREATE,
        "V1.10__later.sql": ALTER,
        "sub/V1.8__under_base.sql": "CREATE TABLE never (id INTEGER);\n",
        "sub/V3__sub.sql": TRIGGER_TABLE,
        ".hidden/V3__hidden.sql": "CREATE TABLE never (id INTEGER);\n",
        "R__view.sql": "CREATE VIEW v AS SELECT id FROM users;\n",
        "U1.10__later.sql": "DROP TABLE missing;\n",
    }
    directory = tmp_path / "migrations"
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    dir_url = f"file://{directory}?format=flyway"
    _migrate(tmp_path, "hash", "--dir", dir_url)
    order = ["B1.9__base.sql", "V1.10__later.sql", "sub/V3__sub.sql", "R__view.sql"]
    assert (directory / "atlas.sum").read_text() == _atlas_sum_by_hand({n: files[n] for n in order})
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _migrate(tmp_path, "apply", "--dir", dir_url, "--url", url)
    assert _columns(url) == {"users": ["id", "name"], "audit": ["id"]}
    assert _revisions(url) == [("1.10", "later"), ("1.9", "base"), ("3", "sub"), ("3R", "view")]
    _migrate(tmp_path, "new", "--dir", dir_url, "next")  # a timestamp is a higher version than 3 to flyway
    assert len(list(directory.glob("V2*__next.sql"))) == 1 and len(list(directory.glob("U2*__next.sql"))) == 1


def test_unknown_format_is_named_with_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "atlas.hcl").write_text(
        'env "local" {\n  url = "sqlite:///db.sqlite"\n  migration {\n    dir = "file://migrations"\n'
        '    format = "sqitch"\n  }\n}\n')
    proc = run_cli(tmp_path, "migrate", "apply", "--env", "local", check=False)
    assert proc.returncode != 0
    expected = ("atlas.hcl: migration: format: unknown migration directory format 'sqitch' (supported: atlas, "
                "golang-migrate, goose, flyway, liquibase, dbmate)")
    assert expected in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert not (tmp_path / "db.sqlite").exists()


WANTED = (TRIGGER_TABLE +
          "CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(40), email VARCHAR(80), PRIMARY KEY (id));\n"
          "CREATE TABLE posts (id INTEGER NOT NULL, user_id INTEGER REFERENCES users (id), PRIMARY KEY (id));\n"
          "CREATE INDEX posts_user ON posts (user_id);\n")


def _diff_project(root: Path, dir_format: str, url: str, dev: str = "sqlite://dev?mode=memory") -> Path:
    """The format's two-file directory, and an env whose src adds a column, a table and an index."""
    directory = _write(root, DIRS[dir_format])
    (root / "schema.sql").write_text(WANTED)
    (root / "atlas.hcl").write_text(
        f'env "local" {{\n  src = "file://schema.sql"\n  url = "{url}"\n  dev = "{dev}"\n'
        f'  migration {{\n    dir = "file://migrations"\n    format = "{dir_format}"\n  }}\n}}\n')
    _migrate(root, "hash", "--env", "local")
    return directory


def _new_files(directory: Path, dir_format: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in directory.iterdir()
            if p.name not in DIRS[dir_format] and p.name != "atlas.sum"}


def _down_part(dir_format: str, files: dict[str, str]) -> str:
    """The reverse statements of a new migration, read as the format's own tool reads them."""
    (name, text), = ((n, t) for n, t in files.items() if not n.endswith(".down.sql") and not n.startswith("U"))
    if dir_format == "golang-migrate":
        return files[name.removesuffix(".up.sql") + ".down.sql"]
    if dir_format == "flyway":
        return files[f"U{name[1:]}"]
    if dir_format == "liquibase":
        return "".join(line.removeprefix("--rollback: ") + "\n" for line in text.splitlines()
                       if line.startswith("--rollback: "))
    marker = "-- +goose Down\n" if dir_format == "goose" else "-- migrate:down\n"
    return text.split(marker, 1)[1]


# What each format names a new migration `add_email` (and its reverse's separate file): version aside.
NEW_NAMES = {"golang-migrate": ["_add_email.down.sql", "_add_email.up.sql"], "flyway": ["U__add_email.sql",
             "V__add_email.sql"], "goose": ["_add_email.sql"], "dbmate": ["_add_email.sql"],
             "liquibase": ["_add_email.sql"]}


@pytest.mark.parametrize("dir_format", sorted(DIRS))
def test_diff_and_new_write_the_format(tmp_path: Path, dir_format: str) -> None:
    """`migrate diff` replays the format's up parts, writes its next migration in the format (the markers around
    the statements, the reverse in the down part), atlas.sum covers it as Atlas's does, and `apply` then reaches
    the schema; `migrate new` names files the same."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    directory = _diff_project(tmp_path, dir_format, url)
    _migrate(tmp_path, "diff", "--env", "local", "add_email")
    written = _new_files(directory, dir_format)
    assert sorted(re_version(n) for n in written) == NEW_NAMES[dir_format]
    (up_name, up), = ((n, t) for n, t in written.items() if not n.endswith(".down.sql") and not n.startswith("U"))
    dropped = re.compile(r'DROP TABLE "?posts"?')
    runs = "".join(line for line in dir_format_named(dir_format, "test").up_part(up).splitlines(keepends=True)
                   if not line.startswith("--rollback"))
    assert "email" in runs and not dropped.search(runs)
    assert dropped.search(_down_part(dir_format, written))
    if dir_format in ("goose", "dbmate"):
        marker = "-- +goose" if dir_format == "goose" else "-- migrate:"
        assert up.startswith(f"{marker}{' Up' if dir_format == 'goose' else 'up'}\n")
        assert f"\n{marker}{' Down' if dir_format == 'goose' else 'down'}\n" in up
    if dir_format == "liquibase":
        version = up_name.split("_", 1)[0]
        assert up.startswith(f"--liquibase formatted sql\n--changeset atlas:{version}-1\n--comment: ")
        assert f"\n\n--changeset atlas:{version}-2\n" in up
    sum_names = [line.split(" ")[0] for line in (directory / "atlas.sum").read_text().splitlines()[1:]]
    assert sum_names == [*MIGRATIONS[dir_format], up_name]  # the reverse's own file is not in it
    assert "synced" in _migrate(tmp_path, "diff", "--env", "local")  # the new file replays to the schema
    _migrate(tmp_path, "apply", "--env", "local")
    assert _columns(url)["users"] == ["id", "name", "email"]
    _migrate(tmp_path, "new", "--env", "local", "by_hand")
    new = sorted(re_version(p.name) for p in directory.iterdir() if "by_hand" in p.name)
    assert new == [n.replace("add_email", "by_hand") for n in NEW_NAMES[dir_format]]


def re_version(name: str) -> str:
    """`name` without its 14-digit version."""
    return re.sub(r"\d{14}", "", name, count=1)


@pytest.mark.parametrize("dir_format", sorted(DIRS))
def test_down_part_undoes_the_up_part_sqlite(tmp_path: Path, dir_format: str) -> None:
    down_round_trip(tmp_path, dir_format, f"sqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.slow
@pytest.mark.parametrize("dir_format", ["golang-migrate", "liquibase"])
def test_down_part_undoes_the_up_part_postgresql(tmp_path: Path, pg_server, dir_format: str) -> None:  # noqa: ANN001
    down_round_trip(tmp_path, dir_format, fresh_database_url(pg_server), "docker://postgres/15/dev")


def _schema(url: str) -> Schema:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return inspect_schema(conn)
    finally:
        engine.dispose()


def down_round_trip(root: Path, dir_format: str, url: str, dev: str = "sqlite://dev?mode=memory") -> None:
    """Apply the directory, `migrate diff` a migration, apply it, run its down part on the database as the
    format's tool would: the schema is the one before, and a second run of the up part reaches the new one."""
    directory = _diff_project(root, dir_format, url, dev)
    _migrate(root, "apply", "--env", "local")
    before = _schema(url)
    _migrate(root, "diff", "--env", "local", "add_email")
    _migrate(root, "apply", "--env", "local")
    after = _schema(url)
    assert after != before
    down = _down_part(dir_format, _new_files(directory, dir_format))
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in split_statements(down, engine.dialect.name):
                conn.exec_driver_sql(statement.text)
    finally:
        engine.dispose()
    assert _schema(url) == before


@pytest.mark.parametrize("dir_format", sorted(DIRS))
def test_import_then_apply_gives_the_same_database(tmp_path: Path, dir_format: str) -> None:
    directory = _write(tmp_path, DIRS[dir_format])
    _migrate(tmp_path, "import", "--from", f"file://{directory}?format={dir_format}", "--to", "file://atlas")
    imported = tmp_path / "atlas"
    assert sorted(p.name for p in imported.iterdir()) == [
        "20240101000000_init.sql", "20240102000000_add_name.sql", "atlas.sum"]
    # As Atlas's import: each statement with the comment lines right above it (liquibase's changeset line).
    changeset = "--changeset atlas:1-1\n" if dir_format == "liquibase" else ""
    assert (imported / "20240101000000_init.sql").read_text() == changeset + CREATE
    second = (imported / "20240102000000_add_name.sql").read_text()
    assert "missing" not in second  # no down part
    if dir_format != "liquibase":
        assert second == ALTER + TRIGGER_TABLE  # nor goose's StatementBegin/End lines
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _migrate(tmp_path, "apply", "--dir", "file://atlas", "--url", url)  # atlas.sum checked
    assert _columns(url) == {"users": ["id", "name"], "audit": ["id"]}
    assert _revisions(url) == [("20240101000000", "init"), ("20240102000000", "add_name")]
    again = run_cli(tmp_path, "migrate", "import", "--from", f"file://{directory}?format={dir_format}",
                    "--to", "file://atlas", check=False)
    assert again.returncode != 0 and "is not empty" in again.stdout + again.stderr


# Atlas's sql/sqltool/tool_test.go (TestFormatters): its plan, the reverse as atlembic's planner hands it over (one
# plan undoing the whole file, in its own order and with its own comments), and the files Atlas writes for it.
UP = [("create table t1", "CREATE TABLE t1(c int)"), ("create table t2", "CREATE TABLE t2(c int)"),
      ("drop table t3", "DROP TABLE t3")]
DOWN = [("create table t3", "CREATE TABLE t1(id int)"),
        ('create index "idx" to table: "t1"', "CREATE INDEX idx ON t1(id)"),
        ("drop table t2", "DROP TABLE t2"), ("drop table t1", "DROP TABLE t1 IF EXISTS")]
UP_TEXT = """-- create table t1
CREATE TABLE t1(c int);
-- create table t2
CREATE TABLE t2(c int);
-- drop table t3
DROP TABLE t3;
"""
DOWN_TEXT = """-- reverse: drop table t3
CREATE TABLE t1(id int);
CREATE INDEX idx ON t1(id);
-- reverse: create table t2
DROP TABLE t2;
-- reverse: create table t1
DROP TABLE t1 IF EXISTS;
"""
LIQUIBASE_TEXT = """--liquibase formatted sql
--changeset atlas:1-1
--comment: create table t1
CREATE TABLE t1(c int);
--rollback: DROP TABLE t1 IF EXISTS;

--changeset atlas:1-2
--comment: create table t2
CREATE TABLE t2(c int);
--rollback: DROP TABLE t2;

--changeset atlas:1-3
--comment: drop table t3
DROP TABLE t3;
--rollback: CREATE TABLE t1(id int);
--rollback: CREATE INDEX idx ON t1(id);
"""


@pytest.mark.parametrize(("dir_format", "name", "expected"), [
    ("golang-migrate", "1_p.up.sql", {"1_p.up.sql": UP_TEXT, "1_p.down.sql": DOWN_TEXT}),
    ("goose", "1_p.sql", {"1_p.sql": f"-- +goose Up\n{UP_TEXT}\n-- +goose Down\n{DOWN_TEXT}"}),
    ("dbmate", "1_p.sql", {"1_p.sql": f"-- migrate:up\n{UP_TEXT}\n-- migrate:down\n{DOWN_TEXT}"}),
    ("flyway", "V1__p.sql", {"V1__p.sql": UP_TEXT, "U1__p.sql": DOWN_TEXT}),
    ("liquibase", "1_p.sql", {"1_p.sql": LIQUIBASE_TEXT}),
    ("atlas", "1_p.sql", {"1_p.sql": UP_TEXT.replace("-- c", "-- C").replace("-- d", "-- D")}),
])
def test_new_files_are_written_as_atlas_formatters_write_them(dir_format: str, name: str,
                                                              expected: dict[str, str]) -> None:
    """Byte for byte Atlas's templates (sql/sqltool): the planner's lower-case comments; the down part undoes the
    changes last first, each under ``-- reverse: <its comment>`` (a statement about no other change, such as the
    index, stays with the one before it); one liquibase changeset a statement with its own rollback; Atlas's own
    format has no down part."""
    written = dir_format_named(dir_format, "test").new_files(name, Statements(UP, DOWN))
    assert dict(written) == expected
    assert written[0][0] == name


def test_reverse_out_of_the_up_order_is_labelled_and_rolled_back_as_planned() -> None:
    """A reverse plan whose order is not the up part's backwards (SQLite's planner recreates before it drops) keeps
    its order, each run labelled with the change it undoes; liquibase, which rolls changesets back newest first,
    then gets the whole reverse as the first changeset's rollback so that it still runs in the planned order."""
    up = [('Drop "b" table', "DROP TABLE b"), ('Create "a" table', "CREATE TABLE a (id int)")]
    down = [('Create "b" table', "CREATE TABLE b (id int)"), ('Drop "a" table', "DROP TABLE a")]
    (_, down_text), = dir_format_named("flyway", "test").new_files("V1__p.sql", Statements(up, down))[1:]
    assert down_text == ('-- reverse: drop "b" table\nCREATE TABLE b (id int);\n'
                         '-- reverse: create "a" table\nDROP TABLE a;\n')
    (_, text), = dir_format_named("liquibase", "test").new_files("1_p.sql", Statements(up, down))
    assert text.split("--changeset")[1].endswith("--rollback: CREATE TABLE b (id int);\n--rollback: DROP TABLE a;\n\n")


def test_rebase_moves_the_reverse_file_with_its_migration(tmp_path: Path) -> None:
    """`migrate rebase` of a golang-migrate migration merged in below the latest one: its .up.sql keeps the
    format's name and its .down.sql takes the same new version; atlas.sum is rewritten."""
    files = {**DIRS["golang-migrate"], "20240101120000_merged.up.sql": "CREATE TABLE merged (id INTEGER);\n",
             "20240101120000_merged.down.sql": "DROP TABLE merged;\n"}
    directory = _write(tmp_path, files)
    dir_url = f"file://{directory}?format=golang-migrate"
    _migrate(tmp_path, "hash", "--dir", dir_url)
    _migrate(tmp_path, "rebase", "20240101120000", "--dir", dir_url, "--dev-url", "sqlite://dev?mode=memory")
    moved = sorted(p.name for p in directory.iterdir() if "merged" in p.name)
    assert [re_version(n) for n in moved] == ["_merged.down.sql", "_merged.up.sql"], moved
    assert moved[0][:14] == moved[1][:14] > "20240102000000"
    _migrate(tmp_path, "apply", "--dir", dir_url, "--url", f"sqlite:///{tmp_path / 'db.sqlite'}")  # sum checked


# Atlas's internal/integration/testdata/mysql/cli-migrate-diff-format.txtar: its two schemas (as SQL) and the down
# parts Atlas writes for them, for `migrate diff first` and `migrate diff second` in each format.
ATLAS_USERS = ("CREATE TABLE `users` (`id` bigint NOT NULL AUTO_INCREMENT, {}PRIMARY KEY (`id`)) "
               "CHARSET utf8mb4 COLLATE utf8mb4_general_ci;\n")
ATLAS_DOWN = ['-- reverse: create "users" table\nDROP TABLE `users`;\n',
              '-- reverse: modify "users" table\nALTER TABLE `users` DROP COLUMN `email`;\n']
ATLAS_ROLLBACK = ["--rollback: DROP TABLE `users`;\n", "--rollback: ALTER TABLE `users` DROP COLUMN `email`;\n"]


@pytest.mark.slow
def test_down_parts_are_atlas_testdata_mariadb(tmp_path: Path, mysql_server) -> None:  # noqa: ANN001
    """On MariaDB, each format's down parts of Atlas's testscript are Atlas's byte for byte but for the
    backticks: atlembic quotes an identifier only where the engine needs it (`users` and `email` need none)."""
    (tmp_path / "1.sql").write_text(ATLAS_USERS.format(""))
    (tmp_path / "2.sql").write_text(ATLAS_USERS.format("`email` varchar(100) NULL, "))
    for dir_format in ("golang-migrate", "goose", "dbmate", "flyway", "liquibase"):
        directory = tmp_path / dir_format
        directory.mkdir()
        downs = []
        for schema, name in (("1.sql", "first"), ("2.sql", "second")):
            _migrate(tmp_path, "diff", "--dev-url", "docker://mariadb/latest/dev", "--to", f"file://{schema}",
                     "--dir", f"file://{directory}?format={dir_format}", name)
            files = {p.name: p.read_text() for p in directory.iterdir() if name in p.name}
            downs.append(_down_part(dir_format, files))
        # liquibase's: the --rollback: lines (one changeset each here), read as the statements they hold.
        expected = [r.removeprefix("--rollback: ") for r in ATLAS_ROLLBACK] if dir_format == "liquibase" else ATLAS_DOWN
        assert downs == [text.replace("`", "") for text in expected], dir_format


def test_dir_format_flag_as_atlas_older_scripts_pass_it(tmp_path: Path) -> None:
    """Atlas's `--dir-format` (its testscript's "old behavior still works"): the format of the directory when its URL
    has no ``?format=``, which wins over the flag; an unknown format is one line naming the flag."""
    (tmp_path / "migrations").mkdir()
    (tmp_path / "1.sql").write_text(CREATE)
    dev = ("--dev-url", "sqlite://dev?mode=memory")
    _migrate(tmp_path, "diff", *dev, "--to", "file://1.sql", "--dir-format", "golang-migrate", "first")
    written = sorted(re_version(p.name) for p in (tmp_path / "migrations").iterdir())
    assert written == ["_first.down.sql", "_first.up.sql", "atlas.sum"]
    assert "synced" in _migrate(tmp_path, "diff", *dev, "--to", "file://1.sql", "--dir-format", "goose",
                                "--dir", "file://migrations?format=golang-migrate")
    _migrate(tmp_path, "apply", "--dir-format", "golang-migrate", "--url", f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert _columns(f"sqlite:///{tmp_path / 'db.sqlite'}") == {"users": ["id"]}
    out = _migrate(tmp_path, "hash", "--dir-format", "yaml", check=False)
    assert out.startswith("FAILED: --dir-format: unknown migration directory format 'yaml'"), out
