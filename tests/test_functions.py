"""Functions, procedures and PostgreSQL triggers planned like tables, on real PostgreSQL and MariaDB databases.

The models declare them with DDL events, as SQLAlchemy projects do. Round trips (tests/support/roundtrip.py) apply
model A, insert rows, plan and apply A -> B, and assert the target reflects equal to a fresh build of B, that B is
then in sync and that the rows survived; then the functions are called and the triggers fired. The CLI scenario
goes through revision --autogenerate, upgrade and check.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic import autogenerate
from atlembic.devdb import DevDatabase
from atlembic.diff import AddFunction, DropFunction, ModifyFunction, diff_schemas
from atlembic.environment import SchemaFilter
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir
from atlembic.schema.model import Extension, Function, Policy, Schema
from tests.support.cli import run_cli
from tests.support.roundtrip import Model, query, reflect, run_round_trip
from tests.test_views import MODELS

pytestmark = pytest.mark.slow

ENGINES = [pytest.param("postgresql", marks=pytest.mark.postgresql), "mysql"]


@pytest.fixture
def fresh(request: pytest.FixtureRequest) -> Callable[[], tuple[DevDatabase, str]]:
    """(dev database, a new target URL) of the engine the test is parametrized with, one target per call."""
    make: Callable[[], tuple[DevDatabase, str]] = request.getfixturevalue(
        {"postgresql": "pg_env", "mysql": "mysql_env"}[request.param])
    return make


@pytest.fixture
def env(fresh: Callable[[], tuple[DevDatabase, str]]) -> tuple[DevDatabase, str]:
    return fresh()


ROWS = {"item": [{"id": 1, "name": "a", "price": 3}, {"id": 2, "name": "bb", "price": 30}]}


def items(md: sa.MetaData, name_type: sa.types.TypeEngine | None = None) -> sa.Table:
    return sa.Table("item", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                    sa.Column("name", name_type if name_type is not None else sa.String(20)),
                    sa.Column("price", sa.Integer), sa.Column("label", sa.String(40)))


def with_ddl(*statements: str, name_type: sa.types.TypeEngine | None = None) -> Model:
    def model(md: sa.MetaData) -> None:
        items(md, name_type)
        for sql in statements:
            sa.event.listen(md, "after_create", sa.DDL(sql))
    return model


def round_trip(env: tuple[DevDatabase, str], tmp_path: Path, a: Model, b: Model, *,
               allow_destructive: bool = False) -> str:
    text, survived = run_round_trip(env[0], env[1], tmp_path, a, b, ROWS, allow_destructive=allow_destructive)
    assert survived["item"] == ROWS["item"]
    return text


def dialect(env: tuple[DevDatabase, str]) -> str:
    return env[0].dialect_name


# A function with a body, per engine: {body} is what it returns for x.
FUNCTIONS = {
    "postgresql": "CREATE FUNCTION twice(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT {body} $$",
    "mysql": "CREATE FUNCTION twice(x INTEGER) RETURNS INTEGER DETERMINISTIC RETURN {body}",
}


# -- functions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fresh", ENGINES, indirect=True)
def test_function_added_changed_and_dropped(fresh, tmp_path: Path) -> None:
    env = fresh()
    fn = FUNCTIONS[dialect(env)]
    text = round_trip(env, tmp_path, with_ddl(), with_ddl(fn.format(body="x * 2")))
    assert "CREATE" in text and "FUNCTION" in text and "DEFINER" not in text
    assert query(env[1], "SELECT twice(price) FROM item ORDER BY id") == [(6,), (60,)]

    env = fresh()
    changed = round_trip(env, tmp_path / "changed", with_ddl(fn.format(body="x * 2")),
                         with_ddl(fn.format(body="x + x + 1")))
    if dialect(env) == "postgresql":  # same signature and result type
        assert "CREATE OR REPLACE FUNCTION" in changed and "DROP FUNCTION" not in changed
    else:  # MySQL has no CREATE OR REPLACE FUNCTION
        assert changed.index("DROP FUNCTION") < changed.index("CREATE FUNCTION")
    assert query(env[1], "SELECT twice(price) FROM item ORDER BY id") == [(7,), (61,)]

    with pytest.raises(AtlembicError, match=r'DS105: Dropping function "twice'):
        round_trip(fresh(), tmp_path / "dropped", with_ddl(fn.format(body="x * 2")), with_ddl())


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_result_type_change_drops_and_creates_with_its_readers_postgresql(env, tmp_path: Path) -> None:
    """CREATE OR REPLACE cannot change the result type: the function is dropped and created, and the view that
    calls it is dropped before and created after; the plain upgrade applies it (no DS105: re-created)."""
    view = "CREATE VIEW doubled AS SELECT id, twice(price) AS p FROM item"
    a = with_ddl("CREATE FUNCTION twice(x integer) RETURNS integer LANGUAGE sql AS $$ SELECT x * 2 $$", view)
    b = with_ddl("CREATE FUNCTION twice(x integer) RETURNS bigint LANGUAGE sql AS $$ SELECT x::bigint * 2 $$", view)
    text = round_trip(env, tmp_path, a, b)
    assert text.index("DROP VIEW") < text.index("DROP FUNCTION") < text.index("CREATE OR REPLACE FUNCTION") \
        < text.index("CREATE VIEW")
    assert query(env[1], "SELECT p FROM doubled ORDER BY id") == [(6,), (60,)]


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_overloads_are_told_apart_by_their_arguments_postgresql(env, tmp_path: Path) -> None:
    one = "CREATE FUNCTION tag(x integer) RETURNS text LANGUAGE sql AS $$ SELECT 'int' $$"
    two = "CREATE FUNCTION tag(x text) RETURNS text LANGUAGE sql AS $$ SELECT 'text' $$"
    text = round_trip(env, tmp_path, with_ddl(one), with_ddl(one, two))
    assert text.count("CREATE OR REPLACE FUNCTION") == 1 and "tag(x text)" in text
    assert query(env[1], "SELECT tag(1), tag('a'::text)") == [("int", "text")]
    [fn, _] = reflect(env[1]).functions
    assert fn.key == "tag(integer)" and "public." not in fn.definition


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_renamed_parameter_is_the_same_function_dropped_and_created_postgresql(fresh, tmp_path: Path) -> None:
    """An overload is its argument types: a parameter renamed is the same function, which CREATE OR REPLACE cannot
    rename, so it is dropped and created (not a drop of the models' function: no DS105)."""
    env = fresh()
    text = round_trip(env, tmp_path, with_ddl(FUNCTIONS["postgresql"].format(body="x * 2")),
                      with_ddl(FUNCTIONS["postgresql"].format(body="y * 2").replace("(x integer)", "(y integer)")))
    assert text.index("DROP FUNCTION twice(integer)") < text.index("CREATE OR REPLACE FUNCTION twice(y integer)")
    assert query(env[1], "SELECT twice(price) FROM item ORDER BY id") == [(6,), (60,)]


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_function_reading_a_new_table_is_created_after_it_postgresql(env, tmp_path: Path) -> None:
    """A SQL function's body is checked when it is created: one that reads a table comes after the table."""
    def model(md: sa.MetaData) -> None:
        items(md)
        sa.Table("note", md, sa.Column("id", sa.Integer, primary_key=True))
        sa.event.listen(md, "after_create", sa.DDL(
            "CREATE FUNCTION notes() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM note $$"))
    text = round_trip(env, tmp_path, with_ddl(), model)
    assert text.index("CREATE TABLE") < text.index("FUNCTION")
    assert query(env[1], "SELECT notes()") == [(0,)]


@pytest.mark.parametrize("fresh", ["mysql"], indirect=True)
def test_procedure_with_a_compound_body_mysql(env, tmp_path: Path) -> None:
    proc = ("CREATE PROCEDURE bump(IN step INTEGER) BEGIN UPDATE item SET price = price + step; "
            "UPDATE item SET label = 'bumped'; END")
    round_trip(env, tmp_path, with_ddl(), with_ddl(proc))
    query(env[1], "CALL bump(1)")
    assert query(env[1], "SELECT price, label FROM item ORDER BY id") == [(4, "bumped"), (31, "bumped")]
    [routine] = reflect(env[1]).functions
    assert routine.procedure and routine.definition.startswith("CREATE PROCEDURE") and "DEFINER" not in \
        routine.definition


# -- PostgreSQL triggers --------------------------------------------------------------------------------------

LABEL_FUNCTION = ("CREATE FUNCTION item_label() RETURNS trigger LANGUAGE plpgsql AS $$ "
                  "BEGIN NEW.label := {fn}(NEW.name); RETURN NEW; END $$")
LABEL_TRIGGER = "CREATE TRIGGER item_label BEFORE INSERT ON item FOR EACH ROW EXECUTE FUNCTION item_label()"


def inserted_label(url: str) -> list[tuple]:
    query(url, "INSERT INTO item (id, name, price) VALUES (9, 'Zz', 9)")
    return query(url, "SELECT label FROM item WHERE id = 9")


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_trigger_and_its_function_postgresql(fresh, tmp_path: Path) -> None:
    """The function a trigger executes is created before it; a changed body is replaced in place."""
    upper = with_ddl(LABEL_FUNCTION.format(fn="upper"), LABEL_TRIGGER)
    env = fresh()
    text = round_trip(env, tmp_path, with_ddl(), upper)
    assert text.index("FUNCTION") < text.index("CREATE TRIGGER")
    assert inserted_label(env[1]) == [("ZZ",)]

    env = fresh()
    changed = round_trip(env, tmp_path / "body", upper, with_ddl(LABEL_FUNCTION.format(fn="lower"), LABEL_TRIGGER))
    assert "CREATE OR REPLACE FUNCTION" in changed and "TRIGGER" not in changed
    assert inserted_label(env[1]) == [("zz",)]


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_trigger_changed_and_dropped_postgresql(fresh, tmp_path: Path) -> None:
    """A changed trigger is dropped and created; a dropped trigger goes before the function it executes."""
    fn = LABEL_FUNCTION.format(fn="upper")
    update = LABEL_TRIGGER.replace("BEFORE INSERT", "BEFORE INSERT OR UPDATE")
    env = fresh()
    text = round_trip(env, tmp_path, with_ddl(fn, LABEL_TRIGGER), with_ddl(fn, update))
    assert text.index("DROP TRIGGER") < text.index("CREATE TRIGGER")
    query(env[1], "UPDATE item SET name = 'qq' WHERE id = 1")
    assert query(env[1], "SELECT label FROM item WHERE id = 1") == [("QQ",)]

    env = fresh()
    gone = round_trip(env, tmp_path / "gone", with_ddl(fn, LABEL_TRIGGER), with_ddl(), allow_destructive=True)
    assert gone.index("DROP TRIGGER") < gone.index("DROP FUNCTION")
    assert inserted_label(env[1]) == [(None,)]
    assert reflect(env[1]).functions == () and reflect(env[1]).triggers == ()


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_column_type_change_under_a_function_using_trigger_postgresql(env, tmp_path: Path) -> None:
    fn = LABEL_FUNCTION.format(fn="upper")
    trigger = LABEL_TRIGGER.replace("FOR EACH ROW", "FOR EACH ROW WHEN (NEW.name IS NOT NULL)")
    text = round_trip(env, tmp_path, with_ddl(fn, trigger), with_ddl(fn, trigger, name_type=sa.Text()))
    assert text.index("DROP TRIGGER") < text.index("ALTER TABLE") < text.index("CREATE TRIGGER")
    assert "FUNCTION" not in text.replace("EXECUTE FUNCTION", "")
    assert inserted_label(env[1]) == [("ZZ",)]


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_triggers_of_one_name_on_two_tables_postgresql(fresh, tmp_path: Path) -> None:
    """PostgreSQL's trigger names are unique per table: `touch` on item and on note are two triggers."""
    fn = LABEL_FUNCTION.format(fn="upper")

    def model(note_event: str) -> Model:
        def build(md: sa.MetaData) -> None:
            items(md)
            sa.Table("note", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20)),
                     sa.Column("label", sa.String(40)))
            sa.event.listen(md, "after_create", sa.DDL(fn))
            for table, event in (("item", "INSERT"), ("note", note_event)):
                sa.event.listen(md, "after_create", sa.DDL(
                    f"CREATE TRIGGER touch BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION item_label()"))
        return build

    env = fresh()
    text = round_trip(env, tmp_path, model("INSERT"), model("UPDATE"))
    assert text.count("DROP TRIGGER") == 1 and 'DROP TRIGGER touch ON note' in text.replace('"', "")
    assert sorted(t.key for t in reflect(env[1]).triggers) == ["touch on item", "touch on note"]
    assert inserted_label(env[1]) == [("ZZ",)]


# -- the pieces -----------------------------------------------------------------------------------------------


def test_diff_of_functions() -> None:
    one = Function("f", "x integer", "integer", "CREATE FUNCTION f(x integer) ... 1")
    two = Function("f", "x integer", "integer", "CREATE FUNCTION f(x integer) ... 2")
    other = Function("f", "x text", "integer", "CREATE FUNCTION f(x text) ...")
    diff = diff_schemas(Schema(functions=(one, other)), Schema(functions=(two,)))
    assert [type(c) for c in diff.changes] == [ModifyFunction, DropFunction]
    assert diff.describe()[1] == 'drop function "f(x text)"'
    assert [type(c) for c in diff_schemas(Schema(), Schema(functions=(one,))).changes] == [AddFunction]


def test_include_object_sees_functions_policies_and_extensions() -> None:
    """As alembic_utils hands its entities over: type_ "function", "policy", "extension"; overloads one by one."""
    seen: list[tuple[str, str, bool]] = []

    def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
        seen.append((name, type_, reflected))
        return name not in ("kept_out", "citext")

    one, other = Function("f", "integer", "integer", "one"), Function("f", "text", "integer", "other")
    current = Schema(functions=(one, other, Function("kept_out", "", "integer", "x")),
                     policies=(Policy("p", "item", "old"),), extensions=(Extension("citext"),))
    desired = Schema(functions=(replace(one, definition="changed"),))
    cur, des = SchemaFilter((include_object,), ()).compare(current, desired, models=False)
    changes = diff_schemas(cur, des).describe()
    assert changes == ['change function "f(integer)": one -> changed', 'drop function "f(text)"',
                       'drop policy "p" on "item"']
    assert {("f", "function", False), ("p", "policy", True), ("citext", "extension", True)} <= set(seen)


@pytest.mark.parametrize("fresh", ENGINES, indirect=True)
def test_definitions_carry_no_dev_server_specifics(env) -> None:
    dev = env[0]
    md = sa.MetaData()
    with_ddl(FUNCTIONS[dialect(env)].format(body="x * 2"))(md)
    [fn] = autogenerate.desired_schema(dev, md).functions
    assert "DEFINER" not in fn.definition and "atlembic" not in fn.definition and "public." not in fn.definition


# -- through the CLI ------------------------------------------------------------------------------------------


CLI_OBJECTS = {
    "postgresql": (LABEL_FUNCTION, LABEL_TRIGGER.replace("FOR EACH ROW", "FOR EACH ROW WHEN (NEW.name <> '')")),
    "mysql": ("CREATE FUNCTION tag(s VARCHAR(40)) RETURNS VARCHAR(40) DETERMINISTIC RETURN {fn}(s)",
              "CREATE TRIGGER item_label BEFORE INSERT ON item FOR EACH ROW SET NEW.label = tag(NEW.name)"),
}


@pytest.mark.parametrize("fresh", ENGINES, indirect=True)
def test_functions_and_triggers_through_the_cli(env, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """revision, upgrade, rows; then a changed function body with a column type change under the trigger, check,
    check --drift; then the function and trigger removed: refused until --allow-destructive."""
    from tests.test_cli import SAMPLE

    engine = dialect(env)
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    server = request.getfixturevalue("pg_server" if engine == "postgresql" else "mysql_server")
    dev_url = server.url("postgres") if engine == "postgresql" else server.url()
    args = ["--url", env[1], "--dev-url", dev_url.render_as_string(hide_password=False)]
    function, trigger = CLI_OBJECTS[engine]

    def write(name_type: str, *statements: str) -> None:
        (project / "models.py").write_text(MODELS.format(name_type=name_type, statements=list(statements)))
        sys.modules.pop("models", None)  # the CLI runs in this process: its env.py imports the new models

    write("sa.String(20)", function.format(fn="upper"), trigger)
    run_cli(project, *args, "revision", "--autogenerate", "-m", "init")
    run_cli(project, *args, "upgrade", "head")
    query(env[1], "INSERT INTO item (id, name, price) VALUES (1, 'a', 3), (2, 'bb', 30)")
    assert inserted_label(env[1]) == [("ZZ",)]

    write("sa.Text()", function.format(fn="lower"), trigger)
    run_cli(project, *args, "revision", "--autogenerate", "-m", "change")
    run_cli(project, *args, "upgrade", "head")
    run_cli(project, *args, "check")
    run_cli(project, *args, "check", "--drift")
    query(env[1], "DELETE FROM item WHERE id = 9")
    assert inserted_label(env[1]) == [("zz",)]
    assert query(env[1], "SELECT id, name FROM item WHERE id < 9 ORDER BY id") == [(1, "a"), (2, "bb")]

    write("sa.Text()")
    run_cli(project, *args, "revision", "--autogenerate", "-m", "none")
    refused = run_cli(project, *args, "upgrade", "head", check=False)
    assert refused.returncode != 0 and "DS105: Dropping function" in refused.stdout + refused.stderr
    run_cli(project, *args, "upgrade", "head", "--allow-destructive")
    run_cli(project, *args, "check")
    after = reflect(env[1])
    assert after.functions == () and after.triggers == ()
    sys.modules.pop("models", None)


# -- PostgreSQL extensions ------------------------------------------------------------------------------------


def with_citext(*, column: bool = True, extension: bool = True) -> Model:
    """`item`, the citext extension (made before the tables, as projects do with a before_create event) and a
    CITEXT column that needs it."""
    from sqlalchemy.dialects.postgresql import CITEXT

    def model(md: sa.MetaData) -> None:
        table = items(md)
        if column:
            table.append_column(sa.Column("email", CITEXT))
        if extension:
            sa.event.listen(md, "before_create", sa.DDL("CREATE EXTENSION IF NOT EXISTS citext"))
    return model


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_extension_added_before_what_uses_it_and_dropped_after_postgresql(fresh, tmp_path: Path) -> None:
    env = fresh()
    text = round_trip(env, tmp_path, with_ddl(), with_citext())
    assert text.index("CREATE EXTENSION IF NOT EXISTS") < text.index("ALTER TABLE")
    query(env[1], "UPDATE item SET email = 'A@x.org' WHERE id = 1")
    assert query(env[1], "SELECT id FROM item WHERE email = 'a@X.ORG'") == [(1,)]
    schema = reflect(env[1])
    # The extension's own functions, types and operators are not the project's objects.
    assert [e.name for e in schema.extensions] == ["citext"] and schema.functions == ()

    env = fresh()
    with pytest.raises(AtlembicError, match=r'DS107: Dropping extension "citext"'):
        round_trip(env, tmp_path / "gone", with_citext(column=False), with_citext(column=False, extension=False))
    env = fresh()
    gone = round_trip(env, tmp_path / "dropped", with_citext(), with_citext(column=False, extension=False),
                      allow_destructive=True)
    assert gone.index("DROP COLUMN") < gone.index("DROP EXTENSION")
    assert reflect(env[1]).extensions == ()


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_extension_missing_on_the_dev_server_names_the_os_package_postgresql(fresh, tmp_path: Path) -> None:
    """On the models' side and on the directory's replay: one line naming the extension and the OS package."""
    dev = fresh()[0]
    with pytest.raises(AtlembicError) as caught:
        autogenerate.desired_schema(dev, _metadata(with_ddl("CREATE EXTENSION IF NOT EXISTS vector")))
    message = str(caught.value)
    assert "\n" not in message and 'extension "vector"' in message
    assert "postgresql-15-pgvector" in message and "--dev-url" in message

    directory = MigrationDir(tmp_path / "migrations")
    directory.write_text(directory.new_file_name("gis"), "CREATE EXTENSION postgis;\n")
    with pytest.raises(AtlembicError) as replayed:
        autogenerate.replay_schema(dev, directory.files())
    message = str(replayed.value)
    assert "\n" not in message and "_gis.sql:1:" in message and "postgresql-15-postgis-3" in message


def _metadata(model: Model) -> sa.MetaData:
    md = sa.MetaData()
    model(md)
    return md


# -- PostgreSQL row-level security ----------------------------------------------------------------------------

RLS = "ALTER TABLE item ENABLE ROW LEVEL SECURITY"


def policy(using: str, name: str = "cheap_only") -> str:
    return f"CREATE POLICY {name} ON item FOR SELECT USING ({using})"


def policies(url: str) -> list[tuple]:
    return query(url, "SELECT policyname, cmd, qual FROM pg_policies ORDER BY 1")


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_row_level_security_and_a_policy_added_and_changed_postgresql(fresh, tmp_path: Path) -> None:
    env = fresh()
    text = round_trip(env, tmp_path, with_ddl(), with_ddl(RLS, policy("price < 100")))
    assert text.index("ENABLE ROW LEVEL SECURITY") < text.index("CREATE POLICY")
    assert policies(env[1]) == [("cheap_only", "SELECT", "(price < 100)")]
    assert query(env[1], "SELECT relrowsecurity FROM pg_class WHERE relname = 'item'") == [(True,)]

    env = fresh()
    changed = round_trip(env, tmp_path / "changed", with_ddl(RLS, policy("price < 100")),
                         with_ddl(RLS, policy("price < 10 AND name <> ''")))
    assert changed.index("DROP POLICY") < changed.index("CREATE POLICY")
    assert policies(env[1]) == [("cheap_only", "SELECT", "((price < 10) AND ((name)::text <> ''::text))")]

    env = fresh()
    off = round_trip(env, tmp_path / "off", with_ddl(RLS), with_ddl())
    assert "DISABLE ROW LEVEL SECURITY" in off
    assert query(env[1], "SELECT relrowsecurity FROM pg_class WHERE relname = 'item'") == [(False,)]


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_policy_dropped_is_destructive_and_kept_around_a_column_type_change_postgresql(fresh, tmp_path: Path) -> None:
    """PostgreSQL refuses to retype a column a policy uses: the policy is dropped before and created after, and the
    plain upgrade applies it; a policy the models stop declaring is refused (DS108) until --allow-destructive."""
    uses_name = policy("name <> 'secret'")
    env = fresh()
    text = round_trip(env, tmp_path, with_ddl(RLS, uses_name), with_ddl(RLS, uses_name, name_type=sa.Text()))
    assert text.index("DROP POLICY") < text.index("ALTER TABLE") < text.index("CREATE POLICY")
    assert policies(env[1]) == [("cheap_only", "SELECT", "(name <> 'secret'::text)")]

    with pytest.raises(AtlembicError, match=r'DS108: Dropping policy "cheap_only" on "item"'):
        round_trip(fresh(), tmp_path / "gone", with_ddl(RLS, uses_name), with_ddl(RLS))


@pytest.mark.postgresql
@pytest.mark.parametrize("project_env", ["postgresql"], indirect=True)
def test_downgrade_drops_what_the_revision_made_postgresql(project_env) -> None:
    """downgrade -1 plans back to the previous file: the trigger and its function go (a drop of the models' objects:
    refused without --allow-destructive), the table and its rows stay."""
    project, args, _ = project_env
    run_cli(project, *args, "revision", "--autogenerate", "-m", "table")
    (project / "models.py").write_text(MODELS.format(name_type="sa.String(20)",
                                                     statements=[LABEL_FUNCTION.format(fn="upper"), LABEL_TRIGGER]))
    sys.modules.pop("models", None)
    run_cli(project, *args, "revision", "--autogenerate", "-m", "trigger")
    run_cli(project, *args, "upgrade", "head")
    query(args[1], "INSERT INTO item (id, name, price) VALUES (1, 'a', 3)")
    refused = run_cli(project, *args, "downgrade", "-1", check=False)
    assert refused.returncode != 0 and "item_label" in refused.stdout + refused.stderr
    run_cli(project, *args, "downgrade", "-1", "--allow-destructive")
    schema = reflect(args[1])
    assert schema.functions == () and schema.triggers == ()
    assert inserted_label(args[1]) == [(None,)]
    assert query(args[1], "SELECT name, label FROM item WHERE id = 1") == [("a", "A")]


# -- [atlembic] schema_files -----------------------------------------------------------------------------------

SCHEMA_FILE_OBJECTS = {
    "sqlite": ["CREATE TRIGGER item_label AFTER INSERT ON item BEGIN "
               "UPDATE item SET label = {fn}(NEW.name) WHERE id = NEW.id; END"],
    "postgresql": [LABEL_FUNCTION, LABEL_TRIGGER],
    "mysql": ["CREATE TRIGGER item_label BEFORE INSERT ON item FOR EACH ROW SET NEW.label = {fn}(NEW.name)"],
}


@pytest.mark.parametrize("project_env", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql),
                                         "mysql"], indirect=True)
def test_schema_files_are_part_of_the_desired_state(project_env, tmp_path: Path) -> None:
    """`schema_files = sql/*.sql` (relative to alembic.ini): their views, functions and triggers are planned with
    the models; a changed file is a change; a file that matches nothing or a statement the dev database rejects is
    one line naming it."""
    project, args, engine = project_env
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("[atlembic]\n", "[atlembic]\nschema_files = sql/*.sql\n"))
    (project / "sql").mkdir()

    def write(fn: str) -> None:
        view = "CREATE VIEW cheap AS SELECT id, name FROM item WHERE price < 100;\n"
        (project / "sql" / "1_view.sql").write_text(view)
        body = "\n".join(f"{s.format(fn=fn)};" for s in SCHEMA_FILE_OBJECTS[engine])
        (project / "sql" / "2_objects.sql").write_text(body + "\n")

    write("upper")
    run_cli(project, *args, "revision", "--autogenerate", "-m", "init")
    run_cli(project, *args, "upgrade", "head")
    query(args[1], "INSERT INTO item (id, name, price) VALUES (1, 'a', 3), (2, 'bb', 300)")
    assert query(args[1], "SELECT id FROM cheap") == [(1,)]
    assert inserted_label(args[1]) == [("ZZ",)]

    write("lower")
    run_cli(project, *args, "revision", "--autogenerate", "-m", "lower")
    run_cli(project, *args, "upgrade", "head")
    run_cli(project, *args, "check")
    query(args[1], "DELETE FROM item WHERE id = 9")
    assert inserted_label(args[1]) == [("zz",)]

    (project / "sql" / "3_bad.sql").write_text("CREATE VIEW broken AS SELECT nothing FROM nowhere;\n")
    bad = run_cli(project, *args, "check", check=False)
    assert bad.returncode != 0 and "3_bad.sql: the dev database rejected" in bad.stdout + bad.stderr
    (project / "sql" / "3_bad.sql").unlink()
    ini.write_text(ini.read_text().replace("sql/*.sql", "sql/*.sql missing/*.sql"))
    none = run_cli(project, *args, "check", check=False)
    assert none.returncode != 0 and "schema_files: no file matches 'missing/*.sql'" in none.stdout + none.stderr


@pytest.fixture
def project_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, list[str], str]]:
    """A copy of the sample project with models of `item`, the CLI arguments of a new target on the engine the
    test is parametrized with (and its dev database), and the engine."""
    from tests.test_cli import SAMPLE

    engine = request.param
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    (project / "models.py").write_text(MODELS.format(name_type="sa.String(20)", statements=[]))
    sys.modules.pop("models", None)
    if engine == "sqlite":
        args = ["--url", f"sqlite:///{tmp_path / 'target.db'}"]
    else:
        server = request.getfixturevalue("pg_server" if engine == "postgresql" else "mysql_server")
        dev_url = server.url("postgres") if engine == "postgresql" else server.url()
        target = request.getfixturevalue("pg_env" if engine == "postgresql" else "mysql_env")()[1]
        args = ["--url", target, "--dev-url", dev_url.render_as_string(hide_password=False)]
    yield project, args, engine
    sys.modules.pop("models", None)


# -- alembic_utils entities -----------------------------------------------------------------------------------

ENTITIES = '''"""alembic_utils entities, as its users define them."""
from alembic_utils.pg_extension import PGExtension
from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_materialized_view import PGMaterializedView
from alembic_utils.pg_policy import PGPolicy
from alembic_utils.pg_trigger import PGTrigger
from alembic_utils.pg_view import PGView

citext = PGExtension(schema="public", signature="citext")
item_label = PGFunction(schema="public", signature="item_label()", definition=(
    "RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.label := {fn}(NEW.name); RETURN NEW; END $$"))
label_trigger = PGTrigger(schema="public", signature="item_label", on_entity="public.item", definition=(
    "BEFORE INSERT ON public.item FOR EACH ROW EXECUTE FUNCTION public.item_label()"))
cheap = PGView(schema="public", signature="cheap", definition="SELECT id, name FROM item WHERE price < 100")
totals = PGMaterializedView(schema="public", signature="totals", definition="SELECT count(*) AS n FROM item",
                            with_data=True)
cheap_only = PGPolicy(schema="public", signature="cheap_only", on_entity="public.item",
                      definition="AS PERMISSIVE FOR SELECT TO public USING (price < 100)")
ALL = [{entities}]
'''
REGISTER = '''
from alembic_utils.replaceable_entity import register_entities
import entities
register_entities(entities.ALL)
'''


@pytest.mark.postgresql
@pytest.mark.parametrize("project_env", ["postgresql"], indirect=True)
def test_alembic_utils_entities_registered_in_env_py_postgresql(project_env) -> None:
    """A project's register_entities([...]) taken unchanged into the desired state: revision, upgrade, rows; a changed
    function body and a column type change under the view and the function's trigger; check; a dropped policy
    refused (DS108) until --allow-destructive; check."""
    project, args, _ = project_env
    env_py = project / "alembic" / "env.py"
    env_py.write_text(env_py.read_text().replace("target_metadata = Base.metadata\n",
                                                 "target_metadata = Base.metadata\n" + REGISTER))
    everything = "citext, item_label, label_trigger, cheap, totals, cheap_only"

    def write(fn: str, name_type: str, entities: str = everything) -> None:
        (project / "entities.py").write_text(ENTITIES.replace("{fn}", fn).replace("{entities}", entities))
        (project / "models.py").write_text(MODELS.format(name_type=name_type, statements=[]))
        sys.modules.pop("entities", None)
        sys.modules.pop("models", None)

    write("upper", "sa.String(20)")
    run_cli(project, *args, "revision", "--autogenerate", "-m", "init")
    first = sorted((project / "migrations").glob("*_init.sql"))[0].read_text()
    assert first.index("CREATE EXTENSION") < first.index("CREATE TABLE") < first.index("CREATE TRIGGER")
    run_cli(project, *args, "upgrade", "head")
    query(args[1], "INSERT INTO item (id, name, price) VALUES (1, 'a', 3), (2, 'bb', 300)")
    assert inserted_label(args[1]) == [("ZZ",)]

    write("lower", "sa.Text()")
    run_cli(project, *args, "revision", "--autogenerate", "-m", "change")
    run_cli(project, *args, "upgrade", "head")
    run_cli(project, *args, "check")
    query(args[1], "DELETE FROM item WHERE id = 9")
    assert inserted_label(args[1]) == [("zz",)]
    assert query(args[1], "SELECT id, name FROM cheap ORDER BY id") == [(1, "a"), (9, "Zz")]
    schema = reflect(args[1])
    assert ([e.name for e in schema.extensions], [f.name for f in schema.functions], [v.name for v in schema.views],
            [p.name for p in schema.policies]) == (["citext"], ["item_label"], ["cheap", "totals"], ["cheap_only"])

    write("lower", "sa.Text()", everything.replace(", cheap_only", ""))
    run_cli(project, *args, "revision", "--autogenerate", "-m", "no policy")
    refused = run_cli(project, *args, "upgrade", "head", check=False)
    assert refused.returncode != 0 and 'DS108: Dropping policy "cheap_only"' in refused.stdout + refused.stderr
    run_cli(project, *args, "upgrade", "head", "--allow-destructive")
    run_cli(project, *args, "check")
    assert reflect(args[1]).policies == ()
    sys.modules.pop("entities", None)


# -- convert -------------------------------------------------------------------------------------------------

HISTORY = '''"""a function and the trigger that executes it, made by op.execute

Revision ID: fff666
Revises: eee555
"""
from alembic import op

revision = "fff666"
down_revision = "eee555"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute({function!r})
    op.execute({trigger!r})


def downgrade() -> None:
    pass
'''
CONVERT_FUNCTION = ("CREATE FUNCTION tag_created() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN NEW.created := 'now'; RETURN NEW; END $$")
CONVERT_TRIGGER = "CREATE TRIGGER tag_created BEFORE INSERT ON tag FOR EACH ROW EXECUTE FUNCTION tag_created()"


@pytest.mark.postgresql
def test_convert_keeps_the_functions_and_triggers_a_history_made_postgresql(tmp_path: Path, pg_server) -> None:  # noqa: ANN001
    """They are part of the baseline instead of "not converted"; models that declare them by DDL events are then in
    sync with the converted directory, and the baseline makes the trigger fire on a fresh database."""
    from tests.support.pg_fixture import fresh_pg_url
    from tests.test_cli import atlembic
    from tests.test_convert import FIXTURE, set_url

    project = tmp_path / "proj"
    shutil.copytree(FIXTURE / "project", project, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    set_url(project, fresh_pg_url(pg_server).replace("%", "%%"))
    (project / "alembic" / "versions" / "fff666_function.py").write_text(
        HISTORY.format(function=CONVERT_FUNCTION, trigger=CONVERT_TRIGGER))
    dev = ["--dev-url", pg_server.url("postgres").render_as_string(hide_password=False)]
    out = atlembic(project, *dev, "convert").stdout
    assert "Not converted" not in out, out
    [baseline] = sorted((project / "migrations").glob("*.sql"))
    text = baseline.read_text()
    assert text.index("FUNCTION tag_created()") < text.index("CREATE TRIGGER") > text.index("CREATE TABLE")
    with (project / "models.py").open("a") as models:
        models.write(f"\n\nsa.event.listen(Base.metadata, 'after_create', sa.DDL({CONVERT_FUNCTION!r}))\n"
                     f"sa.event.listen(Base.metadata, 'after_create', sa.DDL({CONVERT_TRIGGER!r}))\n")
    assert "synced" in atlembic(project, *dev, "revision", "--autogenerate", "-m", "next").stdout
    url = fresh_pg_url(pg_server)
    atlembic(project, *dev, "--url", url, "upgrade", "head")
    query(url, "INSERT INTO tag (id, label) VALUES (1, 'x')")
    assert query(url, "SELECT created FROM tag") == [("now",)]


# -- comments on views, functions, triggers and policies --------------------------------------------------------

COMMENTED = {
    "view": "CREATE VIEW cheap AS SELECT id, name FROM item WHERE price < 100",
    "materialized view": "CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM item",
    "function": LABEL_FUNCTION.format(fn="upper"),
    "trigger": LABEL_TRIGGER,
    "policy": policy("price < 100"),
}
COMMENT_TARGETS = {"view": "VIEW cheap", "materialized view": "MATERIALIZED VIEW totals",
                   "function": "FUNCTION item_label()", "trigger": "TRIGGER item_label ON item",
                   "policy": "POLICY cheap_only ON item"}


def commented(text: str | None, *, name_type: sa.types.TypeEngine | None = None) -> Model:
    """The objects above, each with the comment `text` (None: none) set by a COMMENT ON statement."""
    comments = [] if text is None else [f"COMMENT ON {target} IS '{text} {kind}'"
                                        for kind, target in COMMENT_TARGETS.items()]
    return with_ddl(RLS, *COMMENTED.values(), *comments, name_type=name_type)


def pg_comments(url: str) -> dict[str, str | None]:
    rows = query(url, """
        SELECT 'view', obj_description('cheap'::regclass, 'pg_class')
        UNION ALL SELECT 'materialized view', obj_description('totals'::regclass, 'pg_class')
        UNION ALL SELECT 'function', obj_description('item_label()'::regprocedure, 'pg_proc')
        UNION ALL SELECT 'trigger', (SELECT obj_description(oid, 'pg_trigger') FROM pg_trigger
                                     WHERE tgname = 'item_label')
        UNION ALL SELECT 'policy', (SELECT obj_description(oid, 'pg_policy') FROM pg_policy
                                    WHERE polname = 'cheap_only')
        """)
    return dict(rows)


@pytest.mark.postgresql
@pytest.mark.parametrize("fresh", ["postgresql"], indirect=True)
def test_comments_on_views_functions_triggers_and_policies_postgresql(fresh, tmp_path: Path) -> None:
    """COMMENT ON is inspected (obj_description), diffed and planned: set on new objects, changed alone (COMMENT ON
    only, nothing re-created), set again on the objects re-created around a column type change, and removed (IS
    NULL); each round trip ends with the target equal to a fresh build, comments included."""
    env = fresh()
    text = round_trip(env, tmp_path, with_ddl(), commented("it''s"))
    for target in COMMENT_TARGETS.values():
        assert f"COMMENT ON {target.replace('()', '')}" in text.replace('"', "").replace("()", "")
    assert pg_comments(env[1]) == {kind: f"it's {kind}" for kind in COMMENT_TARGETS}

    env = fresh()
    changed = round_trip(env, tmp_path / "changed", commented("old"), commented("new"))
    statements = [line for line in changed.splitlines() if line.strip() and not line.startswith("--")]
    assert len(statements) == len(COMMENT_TARGETS) and all("COMMENT ON" in s for s in statements), changed
    assert pg_comments(env[1]) == {kind: f"new {kind}" for kind in COMMENT_TARGETS}

    env = fresh()
    retyped = round_trip(env, tmp_path / "retyped", commented("kept"), commented("kept", name_type=sa.Text()))
    assert retyped.index("DROP VIEW") < retyped.index("ALTER TABLE") < retyped.index("COMMENT ON VIEW")
    assert pg_comments(env[1]) == {kind: f"kept {kind}" for kind in COMMENT_TARGETS}

    env = fresh()
    removed = round_trip(env, tmp_path / "removed", commented("gone"), commented(None))
    assert removed.count("IS NULL") == len(COMMENT_TARGETS) and "DROP" not in removed
    assert pg_comments(env[1]) == dict.fromkeys(COMMENT_TARGETS)


@pytest.mark.parametrize("fresh", ["mysql"], indirect=True)
def test_routine_comments_mysql(fresh, tmp_path: Path) -> None:
    """The COMMENT characteristic of a function and a procedure is modelled apart from the definition: a changed
    comment is ALTER ... COMMENT, the routine is not dropped and created."""
    def routines(text: str) -> Model:
        return with_ddl(f"CREATE FUNCTION twice(x INTEGER) RETURNS INTEGER DETERMINISTIC COMMENT '{text}' RETURN x * 2",
                        f"CREATE PROCEDURE bump() COMMENT '{text}' BEGIN UPDATE item SET price = price + 1; END")

    def comments(url: str) -> list[tuple]:
        return query(url, "SELECT ROUTINE_NAME, ROUTINE_COMMENT FROM information_schema.ROUTINES "
                          "WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY 1")

    env = fresh()
    text = round_trip(env, tmp_path, with_ddl(), routines("it''s doubled"))
    assert "ALTER FUNCTION twice COMMENT" in text and "ALTER PROCEDURE bump COMMENT" in text
    assert comments(env[1]) == [("bump", "it's doubled"), ("twice", "it's doubled")]
    [_, fn] = reflect(env[1]).functions
    assert fn.comment == "it's doubled" and "COMMENT" not in fn.definition

    env = fresh()
    changed = round_trip(env, tmp_path / "changed", routines("old"), routines("new"))
    assert "DROP" not in changed and "CREATE" not in changed and changed.count("COMMENT 'new'") == 2
    assert comments(env[1]) == [("bump", "new"), ("twice", "new")]
    assert query(env[1], "SELECT twice(3)") == [(6,)]


def test_diff_of_a_comment_alone() -> None:
    from atlembic.diff import ChangeObjectComment

    one = Function("f", "integer", "integer", "CREATE FUNCTION f ...", comment="a")
    diff = diff_schemas(Schema(functions=(one,)), Schema(functions=(replace(one, comment=None),)))
    assert [type(c) for c in diff.changes] == [ChangeObjectComment]
    assert diff.describe() == ["comment on function \"f(integer)\": 'a' -> None"]
    both = diff_schemas(Schema(functions=(one,)), Schema(functions=(replace(one, comment="b", definition="x"),)))
    assert [type(c) for c in both.changes] == [ModifyFunction]
