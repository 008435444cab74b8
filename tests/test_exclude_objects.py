"""``[atlembic] exclude`` (alembic.ini) and atlas.hcl's ``exclude`` for functions, procedures, policies and extensions
on PostgreSQL, through the CLI: an object a glob matches is neither dropped nor changed when the models no longer
declare it or declare it otherwise, and an excluded extension's own objects stay out of the schema."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from atlembic.schema.exclude import exclude_objects
from atlembic.schema.model import Extension, Function, Policy, Schema
from tests.support.cli import run_cli
from tests.support.pg_fixture import fresh_database_url
from tests.support.roundtrip import query, reflect
from tests.test_views import MODELS

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

RLS = "ALTER TABLE item ENABLE ROW LEVEL SECURITY"  # the table's, which the globs do not match
LEGACY = [
    "CREATE EXTENSION IF NOT EXISTS citext",
    "CREATE FUNCTION legacy_twice(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$",
    "CREATE PROCEDURE legacy_touch() LANGUAGE sql AS $$ UPDATE item SET label = 'x' $$",
    RLS,
    "CREATE POLICY legacy_cheap ON item FOR SELECT USING (price < 100)",
]
# The same objects as the models might declare them later: changed definitions.
CHANGED = [
    "CREATE EXTENSION IF NOT EXISTS citext",
    "CREATE FUNCTION legacy_twice(x integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT x * 3 $$",
    "CREATE PROCEDURE legacy_touch() LANGUAGE sql AS $$ UPDATE item SET label = 'y' $$",
    RLS,
    "CREATE POLICY legacy_cheap ON item FOR SELECT USING (price < 10)",
]


def test_exclude_matches_functions_policies_and_extensions_by_name() -> None:
    fn, other = Function("legacy_twice", "integer", "integer", "a"), Function("app.legacy_twice", "", "integer", "b")
    schema = Schema(functions=(fn, other, Function("kept", "", "integer", "c")),
                    policies=(Policy("legacy_cheap", "item", "p"), Policy("open", "legacy_t", "q"),
                              Policy("open", "item", "r")),
                    extensions=(Extension("citext"), Extension("pg_trgm")), row_security=("item", "legacy_t"))
    left = exclude_objects(schema, ["legacy_*", "citext"])
    assert [f.key for f in left.functions] == ["app.legacy_twice()", "kept()"]
    assert [p.key for p in left.policies] == ["open on item"]
    assert [e.name for e in left.extensions] == ["pg_trgm"] and left.row_security == ("item",)
    assert [f.key for f in exclude_objects(schema, ["app.legacy_*"]).functions] == ["legacy_twice(integer)", "kept()"]


def _write(project: Path, statements: list[str]) -> None:
    (project / "models.py").write_text(MODELS.format(name_type="sa.String(20)", statements=statements))


def test_excluded_functions_policies_and_extensions_are_never_dropped_or_changed(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    """A directory that made them; models that drop them, then declare them otherwise: with the globs, revision
    plans nothing and check passes; without them, the drops are planned (the globs are what keeps them)."""
    from tests.test_cli import SAMPLE

    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    url = fresh_database_url(pg_server)
    args = ["--url", url, "--dev-url", pg_server.url("postgres").render_as_string(hide_password=False)]
    _write(project, LEGACY)
    run_cli(project, *args, "revision", "--autogenerate", "-m", "init")
    run_cli(project, *args, "upgrade", "head")
    query(url, "INSERT INTO item (id, name, price) VALUES (1, 'a', 3)")

    ini = project / "alembic.ini"
    plain = ini.read_text()
    ini.write_text(plain.replace("[atlembic]\n", "[atlembic]\nexclude = legacy_*, citext\n", 1))
    for statements in ([RLS], CHANGED):
        _write(project, statements)
        assert "synced" in run_cli(project, *args, "revision", "--autogenerate", "-m", "nothing").stdout
        run_cli(project, *args, "check")
    assert len(list((project / "migrations").glob("*.sql"))) == 1
    schema = reflect(url)
    assert [f.key for f in schema.functions] == ["legacy_touch()", "legacy_twice(integer)"]
    assert [p.name for p in schema.policies] == ["legacy_cheap"] and schema.row_security == ("item",)
    # The extension's own functions are never the project's, excluded or not.
    assert [e.name for e in schema.extensions] == ["citext"]
    assert query(url, "SELECT legacy_twice(price) FROM item") == [(6,)]

    ini.write_text(plain)
    _write(project, [RLS])
    drift = run_cli(project, *args, "check", check=False)
    assert drift.returncode != 0
    for change in ('drop function "legacy_twice(integer)"', 'drop procedure "legacy_touch()"',
                   'drop policy "legacy_cheap" on "item"', 'drop extension "citext"'):
        assert change in drift.stdout + drift.stderr


def test_atlas_hcl_exclude_keeps_functions_policies_and_extensions(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    """atlas.hcl's exclude through `migrate diff`: the schema file no longer has them, nothing is planned."""
    url = fresh_database_url(pg_server)
    table = "CREATE TABLE item (id integer PRIMARY KEY, name varchar(20), price integer, label varchar(40));\n"
    (tmp_path / "schema.sql").write_text(table + "".join(f"{s};\n" for s in LEGACY))
    (tmp_path / "atlas.hcl").write_text(textwrap.dedent(f'''
        env "app" {{
          src = "file://schema.sql"
          url = "{url}"
          dev = "docker://postgres/15/dev"
          exclude = ["legacy_*", "citext"]
          migration {{
            dir = "file://migrations"
          }}
        }}
    '''))
    run_cli(tmp_path, "migrate", "diff", "--env", "app", "init")
    [first] = sorted((tmp_path / "migrations").glob("*_init.sql"))
    assert "CREATE TABLE" in first.read_text() and "legacy" not in first.read_text() \
        and "citext" not in first.read_text()
    # The directory's history makes them after all (as an older project did), the schema file changes them.
    (tmp_path / "migrations" / "29990101000000_legacy.sql").write_text("".join(f"{s};\n" for s in LEGACY[:3]))
    run_cli(tmp_path, "migrate", "hash", "--env", "app")
    (tmp_path / "schema.sql").write_text(table + "".join(f"{s};\n" for s in (*CHANGED[1:3], RLS)))
    assert "synced" in run_cli(tmp_path, "migrate", "diff", "--env", "app").stdout
