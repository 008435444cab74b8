"""atlas.hcl's ``exclude`` and ``migration { exclude = [...] }``: objects whose names match the globs are left out
of `migrate diff` (both sides), of `migrate apply`'s clean-database check, of `migrate down`'s plan and of the
`schema` commands, so tables a project does not manage (a legacy table, an extension's) are never created,
dropped or counted. Through the CLI on SQLite and PostgreSQL."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.atlas import load_env
from atlembic.errors import AtlembicError
from tests.support.cli import run_cli
from tests.support.pg_fixture import fresh_database_url

SCHEMA = """\
CREATE TABLE users (id INTEGER NOT NULL, name VARCHAR(50) NOT NULL, internal_note VARCHAR(100), PRIMARY KEY (id));
CREATE TABLE legacy_audit (id INTEGER NOT NULL, PRIMARY KEY (id));
"""


def _project(root: Path, url: str, dev: str) -> Path:
    (root / "schema.sql").write_text(SCHEMA)
    (root / "atlas.hcl").write_text(textwrap.dedent(f'''
        env "app" {{
          src = "file://schema.sql"
          url = "{url}"
          dev = "{dev}"
          exclude = ["legacy_*"]
          migration {{
            dir     = "file://migrations"
            exclude = ["*.internal_note"]
          }}
        }}
        env "all" {{
          src = "file://schema.sql"
          url = "{url}"
          dev = "{dev}"
          migration {{
            dir = "file://migrations"
          }}
        }}
    '''))
    return root


def _tables(url: str) -> dict[str, list[str]]:
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {t: [c["name"] for c in inspector.get_columns(t)] for t in inspector.get_table_names()
                if t != "atlas_schema_revisions"}
    finally:
        engine.dispose()


def exclude_scenario(root: Path, url: str, dev: str) -> None:
    project = _project(root, url, dev)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a table the project does not manage, with a row
        conn.exec_driver_sql("CREATE TABLE legacy_orders (id INTEGER NOT NULL, PRIMARY KEY (id))")
        conn.exec_driver_sql("INSERT INTO legacy_orders (id) VALUES (1)")
    engine.dispose()
    run_cli(project, "migrate", "diff", "--env", "app", "init")
    [written] = sorted((project / "migrations").glob("*_init.sql"))
    text = written.read_text()
    assert "CREATE TABLE users" in text and "internal_note" not in text and "legacy" not in text
    assert "synced" in run_cli(project, "migrate", "diff", "--env", "app").stdout
    # Without the globs the same directory is behind the schema file, and the target is not clean.
    assert "legacy_audit" in run_cli(project, "schema", "diff", "--env", "all", "--from", "file://migrations",
                                     "--to", "env://src", "--dev-url", dev).stdout
    refused = run_cli(project, "migrate", "apply", "--env", "all", check=False)
    assert refused.returncode == 1 and 'found table "legacy_orders"' in refused.stdout
    # With them, the legacy table does not make the target dirty, and survives apply and down.
    run_cli(project, "migrate", "apply", "--env", "app")
    assert _tables(url) == {"legacy_orders": ["id"], "users": ["id", "name"]}
    (project / "schema.sql").write_text(SCHEMA + "CREATE TABLE pets (id INTEGER NOT NULL, PRIMARY KEY (id));\n")
    run_cli(project, "migrate", "diff", "--env", "app", "pets")
    [pets] = sorted((project / "migrations").glob("*_pets.sql"))
    assert "DROP" not in pets.read_text() and "legacy" not in pets.read_text()
    run_cli(project, "migrate", "apply", "--env", "app")
    run_cli(project, "migrate", "down", "--env", "app", "--allow-destructive")
    assert set(_tables(url)) == {"legacy_orders", "users"}
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id FROM legacy_orders").all() == [(1,)]
    engine.dispose()
    # The schema commands take the env's globs too.
    hcl = run_cli(project, "schema", "inspect", "--env", "app", "-u", url, "--exclude", "atlas_schema_revisions"
                  ).stdout
    assert 'table "users"' in hcl and "legacy_orders" not in hcl


def test_exclude_sqlite(tmp_path: Path) -> None:
    exclude_scenario(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", "sqlite://dev?mode=memory")


@pytest.mark.slow
def test_exclude_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    exclude_scenario(tmp_path, fresh_database_url(pg_server), "docker://postgres/15/dev")


def test_exclude_must_be_a_list_of_globs(tmp_path: Path) -> None:
    config = tmp_path / "atlas.hcl"
    config.write_text('env "x" {\n  migration {\n    exclude = "legacy_*"\n  }\n}\n')
    with pytest.raises(AtlembicError, match="exclude: expected a list of glob strings"):
        load_env(f"file://{config}", "x")
    config.write_text('env "x" {\n  exclude = ["a", "b"]\n  migration {\n    exclude = ["b", "c.*"]\n  }\n}\n')
    assert load_env(f"file://{config}", "x").settings.exclude == ("a", "b", "c.*")
