"""Issue 16's "Done when", through the CLI, one project per engine that has the objects.

The project takes its views, functions, triggers, policy and extension from all three sources at once: DDL events on
the models, alembic_utils entities registered in env.py (PostgreSQL) and SQL files named by `[atlembic] schema_files`.
It goes through revision --autogenerate, upgrade with rows, model edits (a changed view, a changed function body, a
column type change under a view, then a dropped view, which the lint gate refuses until --allow-destructive),
`check` and `check --drift`; then the target must reflect equal to a database built fresh from the models without
atlembic (create_all, the SQL files, the entities' own CREATE statements), objects included.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from tests.support.cli import run_cli
from tests.support.roundtrip import query, reflect
from tests.test_views import MODELS

pytestmark = pytest.mark.slow


# alembic_utils entities as its users write them (PostgreSQL): {fn} is what the trigger's function applies.
ENTITIES = '''"""alembic_utils entities."""
from alembic_utils.pg_extension import PGExtension
from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_grant_table import PGGrantTable
from alembic_utils.pg_policy import PGPolicy
from alembic_utils.pg_trigger import PGTrigger

citext = PGExtension(schema="public", signature="citext")
item_label = PGFunction(schema="public", signature="item_label()", definition=(
    "RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.label := {fn}(NEW.name); RETURN NEW; END $$"))
label_trigger = PGTrigger(schema="public", signature="item_label", on_entity="public.item", definition=(
    "BEFORE INSERT ON public.item FOR EACH ROW EXECUTE FUNCTION public.item_label()"))
cheap_only = PGPolicy(schema="public", signature="cheap_only", on_entity="public.item",
                      definition="AS PERMISSIVE FOR SELECT TO public USING (price < 100)")
ALL = [citext, item_label, label_trigger, cheap_only, {grants}]
'''
REGISTER = '''
from alembic_utils.replaceable_entity import register_entities
import entities
register_entities(entities.ALL)
'''

# What each engine's project declares besides the view `cheap` and the view `gone` (both DDL events): more DDL
# events, and the statements of its SQL files (one statement a file). {fn}: the function the label gets.
EVENTS = {
    "sqlite": [],
    "postgresql": ["ALTER TABLE item ENABLE ROW LEVEL SECURITY"],
    "mysql": ["CREATE FUNCTION tag(s VARCHAR(40)) RETURNS VARCHAR(40) DETERMINISTIC RETURN {fn}(s)"],
}
SQL_FILES = {
    "sqlite": ["CREATE VIEW pricey AS SELECT id, name FROM item WHERE price >= 100",
               "CREATE TRIGGER item_label AFTER INSERT ON item BEGIN "
               "UPDATE item SET label = {fn}(NEW.name) WHERE id = NEW.id; END"],
    "postgresql": ["CREATE VIEW pricey AS SELECT id, name FROM item WHERE price >= 100"],
    "mysql": ["CREATE VIEW pricey AS SELECT id, name FROM item WHERE price >= 100",
              "CREATE TRIGGER item_label BEFORE INSERT ON item FOR EACH ROW SET NEW.label = tag(NEW.name)"],
}


class Project:
    """A copy of the sample project on one engine; `write` puts one version of its models in place."""

    def __init__(self, root: Path, engine: str, args: list[str]) -> None:
        self.root, self.engine, self.args = root, engine, args
        ini = root / "alembic.ini"
        ini.write_text(ini.read_text().replace("[atlembic]\n", "[atlembic]\nschema_files = sql/*.sql\n"))
        (root / "sql").mkdir()
        if engine == "postgresql":
            env_py = root / "alembic" / "env.py"
            env_py.write_text(env_py.read_text().replace("target_metadata = Base.metadata\n",
                                                         "target_metadata = Base.metadata\n" + REGISTER))

    def write(self, *, fn: str, name_type: str, cheap_under: int, gone: bool, grants: str = "") -> None:
        views = [f"CREATE VIEW cheap AS SELECT id, name FROM item WHERE price < {cheap_under}"]
        if gone:
            views.append("CREATE VIEW gone AS SELECT id, price FROM item")
        statements = views + [s.format(fn=fn) for s in EVENTS[self.engine]]
        (self.root / "models.py").write_text(MODELS.format(name_type=name_type, statements=statements))
        for i, sql in enumerate(SQL_FILES[self.engine]):
            (self.root / "sql" / f"{i}.sql").write_text(sql.format(fn=fn) + ";\n")
        if self.engine == "postgresql":
            (self.root / "entities.py").write_text(ENTITIES.replace("{fn}", fn).replace("{grants}", grants))
        for module in ("models", "entities"):  # the CLI runs in this process: env.py imports the new ones
            sys.modules.pop(module, None)

    def cli(self, *args: str, check: bool = True) -> str:
        result = run_cli(self.root, *self.args, *args, check=check)
        if not check:
            assert result.returncode != 0, result.stdout
        return result.stdout + result.stderr

    def load(self, name: str) -> ModuleType:
        """The project's module `name`, loaded apart from the CLI's (its own metadata, its own entities)."""
        spec = importlib.util.spec_from_file_location(f"fresh_{name}", self.root / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def build_fresh(self, url: str) -> None:
        """The models made on an empty database as a project does without atlembic: create_all (its DDL events
        fire), the entities' own CREATE statements, the SQL files."""
        metadata = self.load("models").Base.metadata
        entities = self.load("entities").ALL if self.engine == "postgresql" else []
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                extensions = [e for e in entities if type(e).__name__ == "PGExtension"]
                for entity in extensions:
                    conn.execute(entity.to_sql_statement_create())
                metadata.create_all(conn)
                for entity in entities:
                    if entity not in extensions:
                        conn.execute(entity.to_sql_statement_create())
                for path in sorted((self.root / "sql").glob("*.sql")):
                    conn.exec_driver_sql(path.read_text().strip().rstrip(";"))
        finally:
            engine.dispose()


@pytest.fixture
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Project, str]]:
    """(the project on the engine the test is parametrized with, a second empty database's URL there)."""
    from tests.test_cli import SAMPLE

    engine = request.param
    root = tmp_path / "project"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    if engine == "sqlite":
        args, fresh = ["--url", f"sqlite:///{tmp_path / 'target.db'}"], f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        server = request.getfixturevalue("pg_server" if engine == "postgresql" else "mysql_server")
        dev_url = server.url("postgres") if engine == "postgresql" else server.url()
        make = request.getfixturevalue("pg_env" if engine == "postgresql" else "mysql_env")
        args = ["--url", make()[1], "--dev-url", dev_url.render_as_string(hide_password=False)]
        fresh = make()[1]
    yield Project(root, engine, args), fresh
    for module in ("models", "entities"):
        sys.modules.pop(module, None)


def inserted_label(url: str, row_id: int) -> list[tuple]:
    query(url, f"INSERT INTO item (id, name, price) VALUES ({row_id}, 'Zz', 9)")
    return query(url, f"SELECT label FROM item WHERE id = {row_id}")


@pytest.mark.parametrize("project", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql), "mysql"],
                         indirect=True)
def test_the_done_when_project(project: tuple[Project, str]) -> None:
    proj, fresh = project
    url = proj.args[1]
    proj.write(fn="upper", name_type="sa.String(20)", cheap_under=100, gone=True)
    proj.cli("revision", "--autogenerate", "-m", "init")
    proj.cli("upgrade", "head")
    query(url, "INSERT INTO item (id, name, price) VALUES (1, 'a', 3), (2, 'bb', 30), (3, 'ccc', 300)")
    assert inserted_label(url, 9) == [("ZZ",)]
    assert query(url, "SELECT id FROM cheap ORDER BY id") == [(1,), (2,), (9,)]
    assert query(url, "SELECT id FROM pricey") == [(3,)]

    # a changed view, a changed function body (the trigger's), `name` (read by the views) retyped
    proj.write(fn="lower", name_type="sa.Text()", cheap_under=10, gone=True)
    proj.cli("revision", "--autogenerate", "-m", "change")
    changed = sorted((proj.root / "migrations").glob("*_change.sql"))[0].read_text()
    assert "cheap" in changed and "name" in changed
    proj.cli("upgrade", "head")
    proj.cli("check")
    assert query(url, "SELECT id, name FROM cheap ORDER BY id") == [(1, "a"), (9, "Zz")]
    assert inserted_label(url, 10) == [("zz",)]  # on SQLite: the rebuilt table's trigger fires

    # a dropped view: refused by the lint gate until --allow-destructive
    proj.write(fn="lower", name_type="sa.Text()", cheap_under=10, gone=False)
    proj.cli("revision", "--autogenerate", "-m", "no gone")
    refused = proj.cli("upgrade", "head", check=False)
    assert 'DS104: Dropping view "gone"' in refused
    proj.cli("upgrade", "head", "--allow-destructive")
    proj.cli("check")
    proj.cli("check", "--drift")
    assert query(url, "SELECT id, name, price, label FROM item ORDER BY id") == [
        (1, "a", 3, "A"), (2, "bb", 30, "BB"), (3, "ccc", 300, "CCC"), (9, "Zz", 9, "ZZ"), (10, "Zz", 9, "zz")]

    proj.build_fresh(fresh)
    target, built = reflect(url), reflect(fresh)
    assert target == built
    names = {"sqlite": (["cheap", "pricey"], ["item_label"], []),
             "postgresql": (["cheap", "pricey"], ["item_label"], ["item_label"]),
             "mysql": (["cheap", "pricey"], ["item_label"], ["tag"])}[proj.engine]
    assert ([v.name for v in target.views], [t.name for t in target.triggers],
            [f.name for f in target.functions]) == names
    if proj.engine == "postgresql":
        assert [p.name for p in target.policies] == ["cheap_only"] and target.row_security == ("item",)
        assert [e.name for e in target.extensions] == ["citext"]


READER = "atlembic_reader"


def grant(privilege: str, *columns: str) -> str:
    return (f"PGGrantTable(schema='public', table='item', role={READER!r}, grant={privilege!r}"
            + (f", columns={list(columns)!r})" if columns else ")"))


@pytest.mark.postgresql
@pytest.mark.parametrize("project", ["postgresql"], indirect=True)
def test_alembic_utils_table_grants_postgresql(project: tuple[Project, str]) -> None:
    """PGGrantTable entities: the role made on the dev server where it lacks it; GRANT on columns and on the table,
    a changed column list revoked and granted again (no finding), a grant dropped revoked, refused (DS109) until
    --allow-destructive; check and check --drift; the target equals a fresh build, grants included."""
    proj, fresh = project
    url = proj.args[1]
    query(url, f"DO $$ BEGIN CREATE ROLE {READER} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")

    def privileges() -> list[tuple]:
        return query(url, f"SELECT has_column_privilege('{READER}', 'item', 'name', 'SELECT'), "
                          f"has_column_privilege('{READER}', 'item', 'price', 'SELECT'), "
                          f"has_table_privilege('{READER}', 'item', 'DELETE')")

    args = dict(fn="upper", name_type="sa.String(20)", cheap_under=100, gone=False)
    proj.write(**args, grants=f"{grant('SELECT', 'id', 'name')}, {grant('DELETE')}")
    proj.cli("revision", "--autogenerate", "-m", "grants")
    first = sorted((proj.root / "migrations").glob("*_grants.sql"))[0].read_text()
    assert first.index("CREATE TABLE") < first.index("GRANT SELECT (id, name) ON item TO atlembic_reader")
    proj.cli("upgrade", "head")
    assert privileges() == [(True, False, True)]

    proj.write(**args, grants=grant("SELECT", "id", "name", "price"))
    proj.cli("revision", "--autogenerate", "-m", "wider")
    wider = sorted((proj.root / "migrations").glob("*_wider.sql"))[0].read_text()
    assert wider.index("REVOKE SELECT") < wider.index("GRANT SELECT (id, name, price)") and "REVOKE DELETE" in wider
    assert "CREATE" not in wider and "DROP" not in wider
    refused = proj.cli("upgrade", "head", check=False)  # the dropped DELETE, not the re-granted SELECT
    assert 'DS109: Revoking DELETE on "item" from atlembic_reader' in refused and "SELECT" not in refused
    assert privileges() == [(True, False, True)]
    proj.cli("upgrade", "head", "--allow-destructive")
    proj.cli("check")
    proj.cli("check", "--drift")
    assert privileges() == [(True, True, False)]
    [only] = reflect(url).grants
    assert (only.role, only.privilege, only.columns) == (READER, "SELECT", ("id", "name", "price"))

    proj.build_fresh(fresh)
    assert reflect(url) == reflect(fresh)


FILTER = '''
def include_object(obj, name, type_, reflected, compare_to):
    return {rule}


'''


@pytest.mark.postgresql
@pytest.mark.parametrize("project", ["postgresql"], indirect=True)
def test_filters_leave_grants_alone_postgresql(project: tuple[Project, str]) -> None:
    """A grant the migrations made and the models stop declaring is not revoked when env.py's include_object
    excludes its table (which both sides have) or the "grant_table" type, as alembic_utils calls it, nor when
    `[atlembic] exclude` names its table."""
    proj, _ = project
    query(proj.args[1], f"DO $$ BEGIN CREATE ROLE {READER} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    args = dict(fn="upper", name_type="sa.String(20)", cheap_under=100, gone=False)
    proj.write(**args, grants=grant("DELETE"))
    proj.cli("revision", "--autogenerate", "-m", "init")
    proj.write(**args)
    env_py, ini, migrations = proj.root / "alembic" / "env.py", proj.root / "alembic.ini", proj.root / "migrations"
    plain_env, plain_ini = env_py.read_text(), ini.read_text()
    history = {path: path.read_bytes() for path in migrations.iterdir() if path.is_file()}

    def revoked(rule: str | None = None, exclude: str | None = None) -> bool:
        env = plain_env
        if rule is not None:
            env = env.replace("\ndef run_migrations_offline", FILTER.format(rule=rule) + "def run_migrations_offline")
            env = env.replace("include_name=include_name", "include_name=include_name, include_object=include_object")
        env_py.write_text(env)
        ini.write_text(plain_ini if exclude is None else
                       plain_ini.replace("[atlembic]\n", f"[atlembic]\nexclude = {exclude}\n"))
        sys.modules.pop("models", None)
        out = proj.cli("revision", "--autogenerate", "-m", "f")
        text = "".join(path.read_text() for path in migrations.glob("*_f.sql"))
        for path in migrations.iterdir():  # the history as it was: the next revision compares to it again
            if path.is_file() and path not in history:
                path.unlink()
        for path, content in history.items():
            path.write_bytes(content)
        return "REVOKE DELETE ON item" in text + out

    assert revoked()  # the models stopped declaring it: revoked
    assert not revoked('not (type_ == "table" and name == "item")')
    assert not revoked('type_ != "grant_table"')
    assert not revoked(exclude="item")
