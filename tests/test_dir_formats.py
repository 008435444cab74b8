"""Atlas's other migration directory formats (golang-migrate, goose, dbmate): `migrate hash`, `apply`,
`status`, `diff` and `new` on real databases; only the up parts run, new files are written in the format,
atlas.sum covers every .sql file as Atlas computes it."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

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
}


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
    """Atlas's rules written out: files in name order, each row the running SHA-256 over every name and
    content so far; the header the SHA-256 over every name and row hash."""
    running, header, rows = hashlib.sha256(), hashlib.sha256(), []
    for name in sorted(files):
        running.update(name.encode())
        running.update(files[name].encode())
        digest = base64.b64encode(running.digest()).decode()
        header.update(name.encode())
        header.update(digest.encode())
        rows.append(f"{name} h1:{digest}\n")
    return f"h1:{base64.b64encode(header.digest()).decode()}\n" + "".join(rows)


def test_golang_migrate_sum_covers_the_down_files(tmp_path: Path) -> None:
    directory = _write(tmp_path, DIRS["golang-migrate"])
    _migrate(tmp_path, "hash", "--dir", f"file://{directory}?format=golang-migrate")
    written = (directory / "atlas.sum").read_text()
    assert written == _atlas_sum_by_hand(DIRS["golang-migrate"])
    assert "20240101000000_init.down.sql h1:" in written


def test_unknown_format_is_named_with_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "atlas.hcl").write_text(
        'env "local" {\n  url = "sqlite:///db.sqlite"\n  migration {\n    dir = "file://migrations"\n'
        '    format = "sqitch"\n  }\n}\n')
    proc = run_cli(tmp_path, "migrate", "apply", "--env", "local", check=False)
    assert proc.returncode != 0
    expected = ("atlas.hcl: migration: format: unknown migration directory format 'sqitch' (supported: atlas, "
                "golang-migrate, goose, dbmate)")
    assert expected in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert not (tmp_path / "db.sqlite").exists()


@pytest.mark.parametrize("dir_format", sorted(DIRS))
def test_diff_and_new_write_the_format(tmp_path: Path, dir_format: str) -> None:
    """`migrate diff` replays the format's up parts, writes its next file in the format (goose/dbmate: the
    markers around the statements), and `apply` then reaches the schema; `migrate new` names files the same."""
    directory = _write(tmp_path, DIRS[dir_format])
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    wanted = CREATE.replace("PRIMARY KEY", "name VARCHAR(40), email VARCHAR(80), PRIMARY KEY")
    (tmp_path / "schema.sql").write_text(wanted + TRIGGER_TABLE)
    (tmp_path / "atlas.hcl").write_text(
        f'env "local" {{\n  src = "file://schema.sql"\n  url = "{url}"\n  dev = "sqlite://dev?mode=memory"\n'
        f'  migration {{\n    dir = "file://migrations"\n    format = "{dir_format}"\n  }}\n}}\n')
    _migrate(tmp_path, "hash", "--env", "local")
    _migrate(tmp_path, "diff", "--env", "local", "add_email")
    written = sorted(set(p.name for p in directory.iterdir()) - set(DIRS[dir_format]) - {"atlas.sum"})
    assert len(written) == 1, written
    text = (directory / written[0]).read_text()
    assert "email" in text
    if dir_format == "golang-migrate":
        assert written[0].endswith("_add_email.up.sql")
    else:
        assert written[0].endswith("_add_email.sql")
        marker = "-- +goose" if dir_format == "goose" else "-- migrate:"
        assert text.startswith(f"{marker}{' Up' if dir_format == 'goose' else 'up'}\n")
        assert f"\n{marker}{' Down' if dir_format == 'goose' else 'down'}\n" in text
    assert "synced" in _migrate(tmp_path, "diff", "--env", "local")  # the new file replays to the schema
    _migrate(tmp_path, "apply", "--env", "local")
    assert _columns(url)["users"] == ["id", "name", "email"]
    _migrate(tmp_path, "new", "--env", "local", "by_hand")
    new = [p.name for p in directory.iterdir() if "by_hand" in p.name]
    assert new == [f"{new[0][:14]}_by_hand{'.up.sql' if dir_format == 'golang-migrate' else '.sql'}"]


@pytest.mark.parametrize("dir_format", sorted(DIRS))
def test_import_then_apply_gives_the_same_database(tmp_path: Path, dir_format: str) -> None:
    directory = _write(tmp_path, DIRS[dir_format])
    _migrate(tmp_path, "import", "--from", f"file://{directory}?format={dir_format}", "--to", "file://atlas")
    imported = tmp_path / "atlas"
    assert sorted(p.name for p in imported.iterdir()) == [
        "20240101000000_init.sql", "20240102000000_add_name.sql", "atlas.sum"]
    assert (imported / "20240101000000_init.sql").read_text() == CREATE
    assert "missing" not in (imported / "20240102000000_add_name.sql").read_text()  # no down part
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _migrate(tmp_path, "apply", "--dir", "file://atlas", "--url", url)  # atlas.sum checked
    assert _columns(url) == {"users": ["id", "name"], "audit": ["id"]}
    assert _revisions(url) == [("20240101000000", "init"), ("20240102000000", "add_name")]
    again = run_cli(tmp_path, "migrate", "import", "--from", f"file://{directory}?format={dir_format}",
                    "--to", "file://atlas", check=False)
    assert again.returncode != 0 and "is not empty" in again.stdout + again.stderr
