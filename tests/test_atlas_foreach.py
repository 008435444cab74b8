"""atlas.hcl ``for_each`` on env blocks (issues 17 and 18): ``env "prod" { for_each = toset(var.tenants) url =
urlqueryset(var.url, "search_path", each.value) }`` makes one env instance per tenant; ``migrate apply --env prod``
and ``migrate status --env prod`` run every instance through the fleet machinery (upgrade_many / run_fleet): each
target on its own, Atlas's apply log per target in order (as Atlas's database-per-tenant guide prints it, and
ariga/atlas cmd/atlas/internal/cmdapi/migrate_test.go counts it), then one line per target, exit non-zero when
any failed while the others still reach the last version. The verbs that run on one env refuse several
instances, as Atlas's selectEnv does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.atlas import load_env, load_envs
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir
from tests.support.cli import run_cli

V1, V2 = "20240721101205", "20240722090000"
FILES = {
    f"{V1}_init.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);\n",
    f"{V2}_tags.sql": "CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(40));\n"
                      "ALTER TABLE users ADD COLUMN email VARCHAR(80);\n",
}
HEADER = f"Migrating to version {V2} (2 migrations in total):"


def project(root: Path, hcl: str, files: dict[str, str] = FILES) -> Path:
    (root / "migrations").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / "migrations" / name).write_text(text)
    MigrationDir(root / "migrations").write_sum()
    (root / "atlas.hcl").write_text(hcl)
    return root


def atlas(root: Path, *args: str, code: int = 0) -> str:
    proc = run_cli(root, "migrate", *args, check=False)
    assert proc.returncode == code, f"migrate {' '.join(args)} -> {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout + proc.stderr


def execute(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql))
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def line_of(out: str, needle: str) -> str:
    found = [line for line in out.splitlines() if needle in line and line.startswith(("ok ", "failed "))]
    assert len(found) == 1, (needle, out)
    return found[0]


# ----------------------------------------------------------------------------------------------------
# the env instances: each.key, each.value, toset, urlsetpath


def test_for_each_instances_and_their_keys(tmp_path: Path) -> None:
    project(tmp_path, '''
variable "tenants" {
  type    = list(string)
  default = ["t2", "t1", "t2"]
}
variable "url" {
  type    = string
  default = "postgres://app:s3cret@localhost:5432/app?sslmode=disable"
}
locals {
  regions = { eu = "maria://root:pw@localhost:3306", us = "maria://root:pw@localhost:3307" }
}
env "schemas" {
  for_each = toset(var.tenants)
  url      = urlqueryset(var.url, "search_path", each.value)
}
env "files" {
  for_each = ["a", "b"]
  url      = "sqlite://${each.value}-${each.key}.db"
}
env "regions" {
  for_each = local.regions
  url      = urlsetpath(each.value, "shop_${each.key}")
}
''')
    config = f"file://{tmp_path / 'atlas.hcl'}"
    schemas = load_envs(config, "schemas")
    # a set: distinct, in a set's (sorted) order, each element its own key; search_path as a connect option
    assert [e.each for e in schemas] == [{"key": "t1", "value": "t1"}, {"key": "t2", "value": "t2"}]
    assert [e.settings.url for e in schemas] == [
        f"postgresql+psycopg://app:s3cret@localhost:5432/app?options=-csearch_path%3D{t}&sslmode=disable"
        for t in ("t1", "t2")]
    files = load_envs(config, "files", ["tenants=x"])
    assert [e.each for e in files] == [{"key": 0, "value": "a"}, {"key": 1, "value": "b"}]
    assert [e.settings.url for e in files] == [f"sqlite:///{tmp_path / 'a-0.db'}", f"sqlite:///{tmp_path / 'b-1.db'}"]
    regions = load_envs(config, "regions")
    assert [e.settings.url for e in regions] == ["mariadb+pymysql://root:pw@localhost:3306/shop_eu",
                                                 "mariadb+pymysql://root:pw@localhost:3307/shop_us"]
    with pytest.raises(AtlembicError, match='multiple envs found for "schemas"'):
        load_env(config, "schemas")
    with pytest.raises(AtlembicError, match="--url cannot be combined"):
        load_envs(config, "schemas", url="sqlite://x.db")


@pytest.mark.parametrize(("body", "message"), [
    ('env "x" {\n  url = "sqlite://${each.value}.db"\n}\n', "each is only defined in an env block with for_each"),
    ('env "x" {\n  for_each = "t1"\n  url = "sqlite://a.db"\n}\n', "for_each expects a set, a list or an object"),
    ('env "x" {\n  for_each = toset([])\n  url = "sqlite://a.db"\n}\n', "has no instances"),
    ('env "x" {\n  for_each = toset([["a"]])\n  url = "sqlite://a.db"\n}\n', "toset() expects a list of strings"),
])
def test_bad_for_each_is_one_line_naming_the_env(tmp_path: Path, body: str, message: str) -> None:
    project(tmp_path, body)
    out = atlas(tmp_path, "apply", "--env", "x", code=1)
    assert out.count("\n") == 1 and out.startswith("FAILED: ") and message in out, out
    assert "atlas.hcl" in out and not list(tmp_path.glob("*.db"))


# ----------------------------------------------------------------------------------------------------
# SQLite files as tenants, as Atlas's database-per-tenant guide sets them up

GUIDE = '''
locals {
  tenant = ["tenant_1", "tenant_2", "tenant_3"]
}

env "prod" {
  for_each = toset(local.tenant)
  url      = "sqlite://${each.value}.db"
  dev      = "sqlite://dev?mode=memory"
  migration {
    dir = "file://migrations"
  }
}
'''


def test_sqlite_tenants_one_broken_the_others_migrate(tmp_path: Path) -> None:
    project(tmp_path, GUIDE, {f"{V1}_init.sql": FILES[f"{V1}_init.sql"]})
    urls = {t: f"sqlite:///{tmp_path / t}.db" for t in ("tenant_1", "tenant_2", "tenant_3")}
    out = atlas(tmp_path, "apply", "--env", "prod")
    assert out.count(f"Migrating to version {V1} (1 migration in total):") == 3, out  # Atlas's log, per tenant
    for t, url in urls.items():
        assert line_of(out, f"{t}.db").split()[0] == "ok" and f"<base> -> {V1}" in line_of(out, f"{t}.db")
        execute(url, f"INSERT INTO users (id, name) VALUES (1, '{t}')")
    assert "3 targets: all ok" in out

    project(tmp_path, GUIDE)  # the next file arrives; tenant_2 has a tags table made by hand
    execute(urls["tenant_2"], "CREATE TABLE tags (x INTEGER)")
    out = atlas(tmp_path, "apply", "--env", "prod", code=1)
    assert out.count(f"Migrating to version {V2} from {V1} (1 migration in total):") == 3, out
    assert "Error: " in out and "tags already exists" in out
    assert line_of(out, "tenant_2.db").startswith("failed ") and f"{V1} -> {V1}" in line_of(out, "tenant_2.db")
    for t in ("tenant_1", "tenant_3"):
        assert line_of(out, f"{t}.db").startswith("ok ") and f"{V1} -> {V2}" in line_of(out, f"{t}.db")
        assert execute(urls[t], "SELECT id, name, email FROM users") == [(1, t, None)]  # the rows survived
    assert out.splitlines()[-1].startswith("FAILED: 1 of 3 targets failed: ") and "tenant_2.db" in out.splitlines()[-1]

    status = atlas(tmp_path, "status", "--env", "prod")  # a pending file is no problem of the target
    assert "PENDING" in line_of(status, "tenant_2.db") and "1 pending file" in line_of(status, "tenant_2.db")
    reports = json.loads(atlas(tmp_path, "status", "--env", "prod", "--format", "json"))
    assert [(r["Status"], len(r["Pending"])) for r in reports] == [("OK", 0), ("PENDING", 1), ("OK", 0)]

    execute(urls["tenant_2"], "DROP TABLE tags")  # repaired: the next run finishes it alone
    out = atlas(tmp_path, "apply", "--env", "prod", "--format", "json")
    assert [(r["status"], r["from"], r["to"], r["applied"]) for r in json.loads(out)] == [
        ("ok", V2, V2, []), ("ok", V1, V2, [V2]), ("ok", V2, V2, [])]
    for t, url in urls.items():
        assert execute(url, "SELECT version FROM atlas_schema_revisions ORDER BY version") == [(V1,), (V2,)]
        assert execute(url, "SELECT id, name FROM users") == [(1, t)]


def test_dry_run_over_every_tenant_runs_nothing(tmp_path: Path) -> None:
    """`migrate apply --dry-run` on a for_each env prints each tenant's pending files and statements in turn (as
    Atlas prints every instance's log) and changes no tenant."""
    project(tmp_path, GUIDE, {f"{V1}_init.sql": FILES[f"{V1}_init.sql"]})
    urls = {t: f"sqlite:///{tmp_path / t}.db" for t in ("tenant_1", "tenant_2", "tenant_3")}
    atlas(tmp_path, "apply", "--env", "prod")
    project(tmp_path, GUIDE)  # the next file arrives

    def state() -> dict[str, list[tuple]]:
        return {t: execute(url, "SELECT name, sql FROM sqlite_master ORDER BY name") +
                execute(url, "SELECT version FROM atlas_schema_revisions") for t, url in urls.items()}

    before = state()
    out = atlas(tmp_path, "apply", "--env", "prod", "--dry-run")
    assert out.count(f"Migrating to version {V2} from {V1} (1 migration in total):") == 3, out
    assert out.count("    -> ALTER TABLE users ADD COLUMN email VARCHAR(80);") == 3, out
    assert out.count("-- ok (dry run)") == 3 and "CREATE TABLE users" not in out, out
    assert state() == before
    assert "3 targets: all ok" in atlas(tmp_path, "apply", "--env", "prod")  # the real run still has them all


def test_tenants_from_a_query(tmp_path: Path) -> None:
    """Atlas's own FromDataSrc case: the tenants' SQLite files are the rows of a table of another database."""
    project(tmp_path, '''
variable "url" {
  type = string
}
data "sql" "tenants" {
  url   = var.url
  query = "SELECT name FROM tenants WHERE active ORDER BY name"
}
env "local" {
  for_each = toset(data.sql.tenants.values)
  url      = "sqlite://${each.value}"
  migration {
    dir = "file://migrations"
  }
}
''')
    registry = tmp_path / "tenants.db"
    execute(f"sqlite:///{registry}", "CREATE TABLE tenants (name TEXT, active BOOL DEFAULT TRUE)")
    execute(f"sqlite:///{registry}", "INSERT INTO tenants (name, active) VALUES ('t1.db', 1), ('t2.db', 0), "
                                     "('t3.db', 1)")
    out = atlas(tmp_path, "apply", "--env", "local", "--var", "url=sqlite://tenants.db")
    assert out.count(HEADER) == 2 and "2 targets: all ok" in out
    assert sorted(p.name for p in tmp_path.glob("t?.db")) == ["t1.db", "t3.db"]
    (tmp_path / "atlas.hcl").write_text((tmp_path / "atlas.hcl").read_text().replace(
        "WHERE active", "WHERE activ").replace("query =", "args  = [1]\n  query ="))
    out = atlas(tmp_path, "apply", "--env", "local", "--var", "url=sqlite://tenants.db", code=1)
    assert out == ('FAILED: atlas.hcl: env "local": for_each: data "sql" "tenants": attribute \'args\' is not '
                   "supported (write the values into the query)\n")
    (tmp_path / "atlas.hcl").write_text((tmp_path / "atlas.hcl").read_text().replace("  args  = [1]\n", ""))
    out = atlas(tmp_path, "apply", "--env", "local", "--var", "url=sqlite://tenants.db", code=1)
    assert out.count("\n") == 1 and 'data "sql" "tenants"' in out and "no such column: activ" in out, out


def test_one_env_verbs_refuse_several_instances(tmp_path: Path) -> None:
    project(tmp_path, GUIDE)
    for verb in (("diff",), ("lint",), ("set", V1), ("down",)):
        out = atlas(tmp_path, *verb, "--env", "prod", code=1)
        assert out.startswith('FAILED: multiple envs found for "prod"') and out.count("\n") == 1, out
    out = atlas(tmp_path, "apply", "--env", "prod", "--dry-run", "--format", "json", code=1)
    assert out == "FAILED: --dry-run prints Atlas's log; it does not go with --format json\n"
    out = atlas(tmp_path, "apply", "--env", "prod", "--format", "yaml", code=1)
    assert out == "FAILED: --format 'yaml': expected text or json (or Atlas's '{{ json . }}')\n"
    assert not list(tmp_path.glob("*.db"))
    # a fleet of one; Atlas's template for JSON is --format json
    one = json.loads(atlas(tmp_path, "apply", "--url", "sqlite://single.db", "--format", "{{ json . }}"))
    assert [(r["status"], r["to"]) for r in one] == [("ok", V2)] and (tmp_path / "single.db").exists()


def test_instances_that_differ_beyond_their_url_are_refused(tmp_path: Path) -> None:
    project(tmp_path, '''
env "prod" {
  for_each = toset(["a", "b"])
  url      = "sqlite://${each.value}.db"
  migration {
    dir = "file://migrations/${each.value}"
  }
}
env "twice" {
  for_each = ["a", "A"]
  url      = "sqlite://${lower(each.value)}.db"
}
''')
    out = atlas(tmp_path, "apply", "--env", "prod", code=1)
    assert "the instance of each.key 'b' differs from the first in more than its url" in out
    out = atlas(tmp_path, "apply", "--env", "twice", code=1)
    assert "each.key 1 names the same target as each.key 0" in out
    assert not list(tmp_path.glob("*.db"))


# ----------------------------------------------------------------------------------------------------
# servers: PostgreSQL schemas of one database, MariaDB databases

TENANTS = '''
variable "url" {
  type = string
}
variable "tenants" {
  type = list(string)
}
env "prod" {
  for_each = toset(var.tenants)
  url      = %s
  migration {
    dir = "file://migrations"
  }
}
'''


def pg_atlas_url(sqlalchemy_url: str) -> str:
    """The test server's URL as Atlas spells it (its unix socket in the query, as libpq takes it)."""
    url = sa.engine.make_url(sqlalchemy_url)
    return f"postgres://{url.username}@/{url.database}?host={url.query['host']}&port={url.query['port']}"


def test_postgres_schema_tenants(tmp_path: Path, pg_server) -> None:
    from tests.support.pg_fixture import fresh_pg_url

    database = fresh_pg_url(pg_server)
    tenants = [f"tenant_{i}" for i in range(6)]
    project(tmp_path, TENANTS % 'urlqueryset(var.url, "search_path", each.value)')
    args = ["--env", "prod", "--var", f"url={pg_atlas_url(database)}&sslmode=disable",
            *(f"--var=tenants={t}" for t in reversed(tenants))]
    execute(database, "CREATE SCHEMA tenant_3; CREATE TABLE tenant_3.tags (x INTEGER)")  # the broken one
    out = atlas(tmp_path, "apply", *args, "--parallel", "2", code=1)
    assert out.count(HEADER) == 5, out  # the broken tenant is refused before it runs anything
    assert out.count("-> CREATE TABLE tags") == 5  # every statement in the log, PostgreSQL's batches too
    password = sa.engine.make_url(database).password
    assert not password or password not in out
    lines = [line for line in out.splitlines() if line.startswith(("ok ", "failed "))]
    assert [line.split()[0] for line in lines] == ["ok", "ok", "ok", "failed", "ok", "ok"]  # toset's order
    assert "search_path%3Dtenant_3" in lines[3] and '? -> ?' in lines[3] and 'found table "tags"' in lines[3]
    for t in tenants:
        tables = {r[0] for r in execute(database, "SELECT table_name FROM information_schema.tables WHERE "
                                                  f"table_schema = '{t}'")}
        if t == "tenant_3":
            assert tables == {"tags"}  # nothing run
            continue
        assert tables == {"users", "tags", "atlas_schema_revisions"}, (t, tables)
        assert execute(database, f"SELECT version FROM {t}.atlas_schema_revisions ORDER BY version") == [(V1,), (V2,)]
    assert "atlas_schema_revisions" not in {r[0] for r in execute(
        database, "SELECT schema_name FROM information_schema.schemata")}  # no shared revisions schema

    execute(database, "DROP TABLE tenant_3.tags")
    out = atlas(tmp_path, "apply", *args)
    assert out.count(HEADER) == 1 and out.count("No migration files to execute") == 5
    status = json.loads(atlas(tmp_path, "status", *args, "--format", "json"))
    assert [s["Current"] for s in status] == [V2] * 6

    # the tenants as a query finds them (Atlas's data "sql"): every schema of the database named tenant_*
    (tmp_path / "atlas.hcl").write_text(TENANTS.replace("toset(var.tenants)", "toset(data.sql.tenants.values)") % (
        'urlqueryset(var.url, "search_path", each.value)') + '''
data "sql" "tenants" {
  url   = var.url
  query = "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'tenant%' ORDER BY 1"
}
''')
    execute(database, "CREATE SCHEMA tenant_new")
    out = atlas(tmp_path, "apply", *args[:4], "--var", "tenants=unused")
    assert out.count(HEADER) == 1 and "7 targets: all ok" in out
    assert execute(database, "SELECT version FROM tenant_new.atlas_schema_revisions ORDER BY 1") == [(V1,), (V2,)]


def test_mariadb_database_tenants(tmp_path: Path, mysql_server) -> None:
    from tests.support.mysql_fixture import fresh_mysql_url

    urls = [fresh_mysql_url(mysql_server) for _ in range(3)]
    names = [sa.engine.make_url(u).database for u in urls]
    project(tmp_path, TENANTS % 'urlqueryset(var.url, "database", each.value)')  # over the server's socket
    socket = sa.engine.make_url(urls[0]).query["unix_socket"]
    args = ["--env", "prod", "--var", f"url=maria+unix://root@{socket}",
            *(f"--var=tenants={n}" for n in names)]
    broken = sorted(names)[1]
    execute(urls[names.index(broken)], "CREATE TABLE tags (x INTEGER)")
    out = atlas(tmp_path, "apply", *args, code=1)
    assert out.count(HEADER) == 2, out
    assert line_of(out, f"/{broken}?").startswith("failed ") and "not clean" in line_of(out, f"/{broken}?")
    for url, name in zip(urls, names, strict=True):
        if name != broken:
            assert execute(url, "SELECT version FROM atlas_schema_revisions ORDER BY version") == [(V1,), (V2,)]
    out = atlas(tmp_path, "apply", *args, "--allow-dirty", code=1)  # now it runs, and its tags table is in the way
    assert out.count(HEADER) == 1 and out.count("No migration files to execute") == 2
    assert "Error: (1050, \"Table 'tags' already exists\")" in out
    assert f"<base> -> {V1}" in line_of(out, f"/{broken}?")
    execute(urls[names.index(broken)], "DROP TABLE tags")
    out = atlas(tmp_path, "apply", *args)
    assert f"{V1} -> {V2}" in line_of(out, f"/{broken}?") and "3 targets: all ok" in out
    assert execute(urls[names.index(broken)], "SELECT version FROM atlas_schema_revisions ORDER BY version") == [
        (V1,), (V2,)]
