"""Views, materialized views and triggers planned like tables, on real SQLite, PostgreSQL and MariaDB databases.

The models declare them as SQLAlchemy projects do, with DDL events (`sa.event.listen(metadata, "after_create",
sa.DDL(...))`). Each round trip applies model A, inserts rows, plans and applies A -> B, and asserts (through
tests/support/roundtrip.py) that the target reflects equal to a fresh create_all(B), views and triggers included,
that planning B again is in sync and that the rows survived; then it reads the views and fires the triggers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic import autogenerate, commands
from atlembic.config import load_settings
from atlembic.devdb import DevDatabase
from atlembic.diff import AddView, DropTrigger, DropView, ModifyTrigger, ModifyView, diff_schemas
from atlembic.environment import SchemaFilter
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir
from atlembic.schema.model import Schema, Trigger, View
from tests.support.roundtrip import Model, query, reflect, run_round_trip

pytestmark = pytest.mark.slow  # every case is a real round trip, most on a server

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql), "mysql"]


@pytest.fixture
def env(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[DevDatabase, str]:
    """(dev database, target URL) of the engine the test is parametrized with."""
    name = request.param
    if name == "sqlite":
        make: Callable[..., tuple[DevDatabase, str]] = request.getfixturevalue("sqlite_env")
        return make(tmp_path)
    return request.getfixturevalue({"postgresql": "pg_env", "mysql": "mysql_env"}[name])()


def dialect(env: tuple[DevDatabase, str]) -> str:
    return env[0].dialect_name


ROWS = {"item": [{"id": 1, "name": "a", "price": 3}, {"id": 2, "name": "bb", "price": 30},
                 {"id": 3, "name": "ccc", "price": 300}]}


def items(md: sa.MetaData, name_type: sa.types.TypeEngine | None = None, *, label: bool = False) -> sa.Table:
    columns = [sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
               sa.Column("name", name_type if name_type is not None else sa.String(20)),
               sa.Column("price", sa.Integer)]
    if label:
        columns.append(sa.Column("label", sa.String(40)))
    return sa.Table("item", md, *columns)


def with_view(sql: str, *, name_type: sa.types.TypeEngine | None = None, label: bool = False) -> Model:
    """`item` and the statement `sql` run after the models' tables, as a project's DDL event runs it."""
    def model(md: sa.MetaData) -> None:
        items(md, name_type, label=label)
        sa.event.listen(md, "after_create", sa.DDL(sql))
    return model


def plain(md: sa.MetaData) -> None:
    items(md)


def round_trip(env: tuple[DevDatabase, str], tmp_path: Path, a: Model, b: Model, *,
               allow_destructive: bool = False) -> str:
    text, survived = run_round_trip(env[0], env[1], tmp_path, a, b, ROWS, allow_destructive=allow_destructive)
    assert survived["item"] == ROWS["item"]
    return text


# -- views -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENGINES, indirect=True)
def test_view_from_a_ddl_event_is_added(env, tmp_path: Path) -> None:
    cheap = with_view("CREATE VIEW cheap AS SELECT id, name FROM item WHERE price < 100")
    text = round_trip(env, tmp_path, plain, cheap)
    assert "CREATE VIEW" in text
    assert query(env[1], "SELECT id, name FROM cheap ORDER BY id") == [(1, "a"), (2, "bb")]


@pytest.mark.parametrize("env", ENGINES, indirect=True)
def test_view_definition_changed(env, tmp_path: Path) -> None:
    text = round_trip(env, tmp_path, with_view("CREATE VIEW cheap AS SELECT id, name FROM item WHERE price < 100"),
                      with_view("CREATE VIEW cheap AS SELECT id, name FROM item WHERE price < 10"))
    if dialect(env) == "sqlite":  # no CREATE OR REPLACE VIEW
        assert "DROP VIEW" in text and "CREATE VIEW" in text
    else:
        assert "CREATE OR REPLACE VIEW" in text and "DROP VIEW" not in text
    assert query(env[1], "SELECT id FROM cheap") == [(1,)]


@pytest.mark.parametrize("env", ENGINES, indirect=True)
def test_view_whose_columns_change(env, tmp_path: Path) -> None:
    """A column taken out of a view: PostgreSQL's CREATE OR REPLACE cannot, so the view is dropped and created."""
    text = round_trip(env, tmp_path, with_view("CREATE VIEW cheap AS SELECT id, name, price FROM item"),
                      with_view("CREATE VIEW cheap AS SELECT id, price FROM item"))
    if dialect(env) == "postgresql":
        assert text.index("DROP VIEW") < text.index("CREATE VIEW")
    assert query(env[1], "SELECT * FROM cheap ORDER BY id") == [(1, 3), (2, 30), (3, 300)]


@pytest.mark.parametrize("env", ENGINES, indirect=True)
def test_view_removed_from_the_models_is_a_destructive_drop(env, tmp_path: Path) -> None:
    with pytest.raises(AtlembicError, match=r'DS104: Dropping view "cheap"'):
        round_trip(env, tmp_path, with_view("CREATE VIEW cheap AS SELECT id FROM item"), plain)
    settings = load_settings(None, url=env[1], directory=tmp_path / "migrations")
    commands.upgrade(settings, allow_destructive=True)
    assert "DROP VIEW" in MigrationDir(tmp_path / "migrations").files()[-1].path.read_text()
    assert reflect(env[1]).views == ()
    assert query(env[1], "SELECT id FROM item ORDER BY id") == [(1,), (2,), (3,)]


@pytest.mark.parametrize("env", ENGINES, indirect=True)
def test_views_over_views_are_created_in_order(env, tmp_path: Path) -> None:
    def ordered(md: sa.MetaData) -> None:
        items(md)
        sa.event.listen(md, "after_create", sa.DDL("CREATE VIEW z_base AS SELECT id, name FROM item"))
        sa.event.listen(md, "after_create", sa.DDL("CREATE VIEW a_top AS SELECT id FROM z_base WHERE id > 1"))
    text = round_trip(env, tmp_path, plain, ordered)
    assert text.index("z_base") < text.index("a_top")
    assert query(env[1], "SELECT id FROM a_top ORDER BY id") == [(2,), (3,)]


@pytest.mark.postgresql
@pytest.mark.parametrize("env", ["postgresql"], indirect=True)
def test_column_type_change_under_a_view_postgresql(env, tmp_path: Path) -> None:
    """PostgreSQL refuses to retype a column a view uses: the view is dropped before and created after, and a
    plain upgrade (no --allow-destructive) applies it: re-creating a view is no drop of the models' objects."""
    view = "CREATE VIEW named AS SELECT id, name FROM item"
    text = round_trip(env, tmp_path, with_view(view), with_view(view, name_type=sa.Text()))
    drop, alter, create = text.index("DROP VIEW"), text.index("ALTER TABLE"), text.rindex("CREATE VIEW")
    assert drop < alter < create
    assert query(env[1], "SELECT name FROM named ORDER BY id") == [("a",), ("bb",), ("ccc",)]


TOTALS = "CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n, sum(price) AS total FROM item"


@pytest.mark.postgresql
@pytest.mark.parametrize("env", ["postgresql"], indirect=True)
def test_materialized_view_added_postgresql(env, tmp_path: Path) -> None:
    text = round_trip(env, tmp_path, plain, with_view(TOTALS))
    assert "CREATE MATERIALIZED VIEW" in text and "WITH DATA" in text
    assert query(env[1], "SELECT n, total FROM totals") == [(3, 333)]


@pytest.mark.postgresql
@pytest.mark.parametrize("env", ["postgresql"], indirect=True)
def test_materialized_view_changed_postgresql(env, tmp_path: Path) -> None:
    """There is no CREATE OR REPLACE MATERIALIZED VIEW: dropped and created, populated again."""
    changed = "CREATE MATERIALIZED VIEW totals AS SELECT max(price) AS top FROM item"
    text = round_trip(env, tmp_path, with_view(TOTALS), with_view(changed))
    assert text.index("DROP MATERIALIZED VIEW") < text.index("CREATE MATERIALIZED VIEW")
    assert query(env[1], "SELECT top FROM totals") == [(300,)]


@pytest.mark.parametrize("env", ["sqlite"], indirect=True)
def test_sqlite_rebuild_keeps_the_views_and_triggers_of_the_table(env, tmp_path: Path) -> None:
    """A column type change rebuilds the table (CREATE new_item, copy, DROP, RENAME): SQLite's RENAME refuses while
    a view reads a missing table, and the DROP takes the table's triggers along; both are created again after."""
    def model(name_type: sa.types.TypeEngine) -> Model:
        def build(md: sa.MetaData) -> None:
            table = items(md, name_type, label=True)
            sa.event.listen(md, "after_create", sa.DDL("CREATE VIEW named AS SELECT id, name FROM item"))
            sa.event.listen(table, "after_create", sa.DDL(
                "CREATE TRIGGER item_label AFTER INSERT ON item BEGIN "
                "UPDATE item SET label = upper(NEW.name) WHERE id = NEW.id; END"))
        return build

    text = round_trip(env, tmp_path, model(sa.String(20)), model(sa.Text()))
    assert 'CREATE TABLE "new_item"' in text or "CREATE TABLE new_item" in text
    assert text.index("DROP TRIGGER") < text.index("DROP VIEW") < text.index("new_item")
    assert text.rindex("CREATE TRIGGER") > text.index("RENAME TO")
    assert query(env[1], "SELECT name FROM named ORDER BY id") == [("a",), ("bb",), ("ccc",)]
    query(env[1], "INSERT INTO item (id, name, price) VALUES (4, 'dd', 4)")
    assert query(env[1], "SELECT label FROM item WHERE id = 4") == [("DD",)]


# -- triggers ----------------------------------------------------------------------------------------------


TRIGGERS = {
    "sqlite": ("CREATE TRIGGER item_label AFTER INSERT ON item BEGIN "
               "UPDATE item SET label = {fn}(NEW.name) WHERE id = NEW.id; END"),
    "mysql": "CREATE TRIGGER item_label BEFORE INSERT ON item FOR EACH ROW SET NEW.label = {fn}(NEW.name)",
}
TRIGGER_ENGINES = ["sqlite", "mysql"]


def with_trigger(engine: str, fn: str | None) -> Model:
    def model(md: sa.MetaData) -> None:
        table = items(md, label=True)
        if fn is not None:
            sa.event.listen(table, "after_create", sa.DDL(TRIGGERS[engine].format(fn=fn)))
    return model


def inserted_label(url: str) -> list[tuple]:
    query(url, "INSERT INTO item (id, name, price) VALUES (9, 'Zz', 9)")
    return query(url, "SELECT label FROM item WHERE id = 9")


@pytest.mark.parametrize("env", TRIGGER_ENGINES, indirect=True)
def test_trigger_added(env, tmp_path: Path) -> None:
    text = round_trip(env, tmp_path, with_trigger(dialect(env), None), with_trigger(dialect(env), "upper"))
    assert "CREATE TRIGGER" in text
    assert inserted_label(env[1]) == [("ZZ",)]


@pytest.mark.parametrize("env", TRIGGER_ENGINES, indirect=True)
def test_trigger_changed(env, tmp_path: Path) -> None:
    text = round_trip(env, tmp_path, with_trigger(dialect(env), "upper"), with_trigger(dialect(env), "lower"))
    assert text.index("DROP TRIGGER") < text.index("CREATE TRIGGER")
    assert inserted_label(env[1]) == [("zz",)]


@pytest.mark.parametrize("env", TRIGGER_ENGINES, indirect=True)
def test_trigger_dropped(env, tmp_path: Path) -> None:
    """A trigger the models stop declaring is a destructive drop (DS106), like a view."""
    with pytest.raises(AtlembicError, match=r'DS106: Dropping trigger "item_label"'):
        round_trip(env, tmp_path, with_trigger(dialect(env), "upper"), with_trigger(dialect(env), None))
    commands.upgrade(load_settings(None, url=env[1], directory=tmp_path / "migrations"), allow_destructive=True)
    text = MigrationDir(tmp_path / "migrations").files()[-1].path.read_text()
    assert "DROP TRIGGER" in text
    assert inserted_label(env[1]) == [(None,)]


# -- the pieces around: inspection, diff, filters ---------------------------------------------------------------


@pytest.mark.parametrize("env", ENGINES, indirect=True)
def test_definitions_are_the_engines_own(env, tmp_path: Path) -> None:
    """A view written two ways the engine normalizes alike is one view (SQLite keeps the text: there it is two);
    MariaDB's DEFINER and the dev database's name never reach the definition."""
    dev = env[0]
    one = autogenerate.desired_schema(dev, _metadata(with_view("CREATE VIEW v AS SELECT id FROM item WHERE price>1")))
    other = "create view v as select item.id from item where (price > 1)"
    two = autogenerate.desired_schema(dev, _metadata(with_view(other)))
    [view] = one.views
    assert "DEFINER" not in view.definition and "atlembic_dev" not in view.definition
    assert (one.views == two.views) is (dev.dialect_name != "sqlite")


def _metadata(model: Model) -> sa.MetaData:
    md = sa.MetaData()
    model(md)
    return md


def test_diff_of_views_and_triggers() -> None:
    v1, v2 = View("v", "CREATE VIEW v AS SELECT 1"), View("v", "CREATE VIEW v AS SELECT 2")
    t1 = Trigger("t", "item", "CREATE TRIGGER t ...")
    diff = diff_schemas(Schema(views=(v1,), triggers=(t1,)), Schema(views=(v2, View("w", "x"))))
    assert [type(c) for c in diff.changes] == [ModifyView, AddView, DropTrigger]
    assert diff.describe()[2] == 'drop trigger "t" on "item"'
    changed = diff_schemas(Schema(triggers=(t1,)), Schema(triggers=(Trigger("t", "item", "CREATE TRIGGER t 2"),)))
    assert [type(c) for c in changed.changes] == [ModifyTrigger]
    assert [type(c) for c in diff_schemas(Schema(views=(v1,)), Schema()).changes] == [DropView]


def test_include_object_and_include_name_see_views_and_triggers() -> None:
    """As alembic_utils hands them over: type_ "view", "materialized_view", "trigger"."""
    seen: list[tuple[str, str, bool]] = []

    def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
        seen.append((name, type_, reflected))
        return name != "kept_out"

    def include_name(name, type_, parents):  # noqa: ANN001
        return name != "named_out"

    rules = SchemaFilter((include_object,), (include_name,))
    current = Schema(views=(View("kept_out", "old"), View("named_out", "old"), View("gone", "x", True)),
                     triggers=(Trigger("tr", "item", "old"),))
    desired = Schema(views=(View("kept_out", "new"), View("new", "y")))
    cur, des = rules.compare(current, desired, models=False)
    changes = diff_schemas(cur, des).changes
    assert {type(c).__name__ + ":" + getattr(c, "view", getattr(c, "trigger", None)).name for c in changes} == {
        "AddView:new", "DropView:gone", "DropTrigger:tr"}
    assert ("gone", "materialized_view", True) in seen and ("tr", "trigger", True) in seen


# -- through the CLI --------------------------------------------------------------------------------------------

# The models of the CLI tests here and in test_functions / test_objects_project: `item`, and DDL events for the
# statements given (views, triggers, functions).
MODELS = '''"""Models with DDL events for views, triggers and functions."""
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column({name_type})
    price: Mapped[int]
    label: Mapped[str | None] = mapped_column(sa.String(40))


for sql in {statements!r}:
    sa.event.listen(Base.metadata, "after_create", sa.DDL(sql))
'''


def write_models(project: Path, name_type: str, *statements: str) -> None:
    (project / "models.py").write_text(MODELS.format(name_type=name_type, statements=list(statements)))


@pytest.mark.parametrize("env", ENGINES, indirect=True)
def test_views_and_triggers_through_the_cli(env, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """revision, upgrade, a changed view over a retyped column (a rebuild on SQLite, with a trigger), check, check
    --drift, then the view removed: the upgrade is refused until --allow-destructive."""
    from tests.test_cli import SAMPLE, atlembic

    engine = dialect(env)
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    args = ["--url", env[1]]
    if engine != "sqlite":
        server = request.getfixturevalue("pg_server" if engine == "postgresql" else "mysql_server")
        dev_url = server.url("postgres") if engine == "postgresql" else server.url()
        args += ["--dev-url", dev_url.render_as_string(hide_password=False)]
    trigger = [TRIGGERS[engine].format(fn="upper")] if engine in TRIGGERS else []
    write_models(project, "sa.String(20)", "CREATE VIEW cheap AS SELECT id, name FROM item WHERE price < 100", *trigger)
    atlembic(project, *args, "revision", "--autogenerate", "-m", "init")
    atlembic(project, *args, "upgrade", "head")
    query(env[1], "INSERT INTO item (id, name, price) VALUES (1, 'a', 3), (2, 'bb', 30), (3, 'ccc', 300)")

    write_models(project, "sa.Text()", "CREATE VIEW cheap AS SELECT id, name FROM item WHERE price < 10", *trigger)
    atlembic(project, *args, "revision", "--autogenerate", "-m", "change")
    atlembic(project, *args, "upgrade", "head")
    atlembic(project, *args, "check")
    atlembic(project, *args, "check", "--drift")
    assert query(env[1], "SELECT id, name FROM cheap") == [(1, "a")]
    if trigger:
        assert inserted_label(env[1]) == [("ZZ",)]

    write_models(project, "sa.Text()", *trigger)
    atlembic(project, *args, "revision", "--autogenerate", "-m", "no view")
    refused = atlembic(project, *args, "upgrade", "head", check=False)
    assert refused.returncode != 0 and 'DS104: Dropping view "cheap"' in refused.stdout + refused.stderr
    atlembic(project, *args, "upgrade", "head", "--allow-destructive")
    atlembic(project, *args, "check")
    assert reflect(env[1]).views == ()


HISTORY_VIEW = '''"""a view and a trigger made by op.execute

Revision ID: fff666
Revises: eee555
"""
from alembic import op

revision = "fff666"
down_revision = "eee555"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute({view!r})
    op.execute({trigger!r})


def downgrade() -> None:
    pass
'''
CONVERT_VIEW = "CREATE VIEW active_users AS SELECT id, name FROM user_account WHERE status = 'active'"
CONVERT_TRIGGER = ("CREATE TRIGGER tag_created AFTER INSERT ON tag BEGIN "
                   "UPDATE tag SET created = 'now' WHERE id = NEW.id; END")


def test_convert_keeps_the_views_and_triggers_a_history_made(tmp_path: Path) -> None:
    """They become part of the baseline (and of the rebuilt schema convert verifies) instead of "not converted";
    models that declare them by DDL events are then in sync with the converted directory."""
    from tests.test_cli import atlembic
    from tests.test_convert import FIXTURE

    project = tmp_path / "proj"
    shutil.copytree(FIXTURE / "project", project, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    (project / "alembic" / "versions" / "fff666_view.py").write_text(
        HISTORY_VIEW.format(view=CONVERT_VIEW, trigger=CONVERT_TRIGGER))
    out = atlembic(project, "convert").stdout
    assert "Not converted" not in out, out
    [baseline] = sorted((project / "migrations").glob("*.sql"))
    text = baseline.read_text()
    assert CONVERT_VIEW in text and CONVERT_TRIGGER in text
    assert text.index("CREATE TABLE user_account") < text.index("CREATE VIEW")
    with (project / "models.py").open("a") as models:
        models.write(f"\n\nsa.event.listen(Base.metadata, 'after_create', sa.DDL({CONVERT_VIEW!r}))\n"
                     f"sa.event.listen(Tag.__table__, 'after_create', sa.DDL({CONVERT_TRIGGER!r}))\n")
    assert "synced" in atlembic(project, "revision", "--autogenerate", "-m", "next").stdout
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    atlembic(project, "--url", url, "upgrade", "head")
    query(url, "INSERT INTO tag (id, label) VALUES (1, 'x')")
    assert query(url, "SELECT created FROM tag") == [("now",)]
