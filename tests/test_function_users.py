"""A function that a column DEFAULT, a CHECK constraint and an index call, changed beyond CREATE OR REPLACE or
dropped, on PostgreSQL through the CLI: the plan drops them before DROP FUNCTION ("other objects depend on it") and
makes them again after the function; rows survive, check passes and the target equals a fresh build of the models.
(MariaDB refuses stored functions in DEFAULT and CHECK: error 1901.)"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.diff import AddCheck, AddColumn, AddTable, ModifyTable, diff_schemas
from atlembic.plan.held import Held, hold_function_users
from atlembic.schema.model import Check, Column, Computed, Schema, Table
from tests.support.cli import run_cli
from tests.support.roundtrip import Model, fresh_schema, query, reflect, run_round_trip

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

MODELS = '''"""`item`, whose price defaults to a function's value, is checked by it and indexed on it."""
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


item = sa.Table("item", Base.metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                sa.Column("price", sa.Integer, nullable=False, server_default={default}), *{checks})
{index}
for sql in {functions!r}:
    sa.event.listen(Base.metadata, "before_create", sa.DDL(sql))
'''
FUNCTION = ("CREATE FUNCTION twice(x {argument}) RETURNS {result} LANGUAGE sql IMMUTABLE "
            "AS $$ SELECT {body} $$")
USES = {"default": 'sa.text("twice(1)")', "checks": '(sa.CheckConstraint("twice(price) >= 0", name="ck_twice"),)',
        "index": 'sa.Index("ix_twice", sa.func.twice(item.c.price))'}


def _write(project: Path, *, argument: str = "integer", result: str = "integer",
           body: str = "x * 2", uses: bool = True) -> sa.MetaData:
    """The models (the function, and the default, check and index that call it unless not `uses`); their metadata."""
    function = FUNCTION.format(argument=argument, result=result, body=body)
    return _metadata(project, MODELS.format(functions=[function] if uses else [],
                                            **(USES if uses else {"default": None, "checks": (), "index": ""})))


def _metadata(project: Path, text: str) -> sa.MetaData:
    """`text` written as the project's models; their metadata (the same models, for a fresh build to compare with)."""
    (project / "models.py").write_text(text)
    namespace: dict[str, object] = {}
    exec(compile(text, "models.py", "exec"), namespace)
    return namespace["Base"].metadata  # type: ignore[attr-defined]


Step = Callable[..., str]


def _cli_project(tmp_path: Path, pg_env, pg_server) -> tuple[Path, str, Step]:  # noqa: ANN001
    """The sample project aimed at a new PostgreSQL database (its URL), and `step(name, metadata)`: revision,
    upgrade, check through the CLI; the target must then be what a fresh build of `metadata` is; the file planned."""
    from tests.test_cli import SAMPLE

    dev, url = pg_env()
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    args = ["--url", url, "--dev-url", pg_server.url("postgres").render_as_string(hide_password=False)]

    def step(name: str, metadata: sa.MetaData, *, allow_destructive: bool = False) -> str:
        run_cli(project, *args, "revision", "--autogenerate", "-m", name)
        [written] = sorted((project / "migrations").glob(f"*_{name}.sql"))
        run_cli(project, *args, "upgrade", "head", *(["--allow-destructive"] if allow_destructive else []))
        run_cli(project, *args, "check")
        remaining = diff_schemas(reflect(url), fresh_schema(dev, metadata))
        assert not remaining, remaining.describe()
        return written.read_text()

    return project, url, step


def test_default_check_and_index_calling_a_changed_or_dropped_function(tmp_path: Path, pg_env, pg_server) -> None:  # noqa: ANN001
    project, url, step = _cli_project(tmp_path, pg_env, pg_server)
    step("init", _write(project))
    query(url, "INSERT INTO item (id, price) VALUES (1, 3), (2, 30)")

    # The result type changes: DROP FUNCTION + CREATE, between its users' drop and their return.
    text = step("result", _write(project, result="bigint", body="x::bigint * 2"))
    assert text.index("DROP CONSTRAINT ck_twice") < text.index("DROP FUNCTION twice(integer)") \
        < text.index("CREATE OR REPLACE FUNCTION twice") < text.index("SET DEFAULT twice(1)") \
        < text.index("ADD CONSTRAINT ck_twice CHECK")
    assert text.index("DROP DEFAULT") < text.index("DROP FUNCTION") and text.index("DROP INDEX ix_twice") \
        < text.index("DROP FUNCTION") < text.index("CREATE INDEX ix_twice")
    query(url, "INSERT INTO item (id) VALUES (3)")
    assert query(url, "SELECT id, price FROM item ORDER BY id") == [(1, 3), (2, 30), (3, 2)]

    # The argument type changes: another overload made, the old one dropped (DS105) once its users left it.
    text = step("argument", _write(project, argument="bigint", result="bigint", body="x * 2"), allow_destructive=True)
    assert text.index("DROP CONSTRAINT ck_twice") < text.index("DROP FUNCTION twice(integer)")
    with pytest.raises(sa.exc.IntegrityError, match="ck_twice"):
        query(url, "INSERT INTO item (id, price) VALUES (4, -1)")

    # A body-only change is CREATE OR REPLACE: its users stay as they are.
    text = step("body", _write(project, argument="bigint", result="bigint", body="x + x"))
    assert not any(word in text for word in ("DROP", "CONSTRAINT", "DEFAULT", "INDEX"))

    # The models drop the function with the default, check and index that call it: they go first.
    text = step("dropped", _write(project, uses=False), allow_destructive=True)
    assert text.index("DROP CONSTRAINT ck_twice") < text.index("DROP FUNCTION twice(bigint)")
    assert max(text.index("DROP DEFAULT"), text.index("DROP INDEX ix_twice")) < text.index("DROP FUNCTION")
    assert query(url, "SELECT id, price FROM item ORDER BY id") == [(1, 3), (2, 30), (3, 2)]
    assert reflect(url).functions == ()


GENERATED_MODELS = '''"""`item`, a column generated by twice() (indexed, granted, in a view); `account`{late}."""
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


account = sa.Table("account", Base.metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False))
item = sa.Table("item", Base.metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                sa.Column("price", sa.Integer, nullable=False),
                sa.Column("double", sa.BigInteger, sa.Computed("twice(price)", persisted=True)),
                sa.Index("ix_double", "double"), *{item_late})
{tag}
sa.event.listen(Base.metadata, "before_create", sa.DDL({twice!r}))
sa.event.listen(Base.metadata, "after_create", sa.DDL("CREATE VIEW doubled AS SELECT id, double FROM item"))
sa.event.listen(item, "after_create", sa.DDL("GRANT SELECT (double) ON item TO PUBLIC"))
'''
# A SQL function whose body names a table: created after the tables' changes.
COUNT = ("CREATE FUNCTION account_count() RETURNS integer LANGUAGE sql STABLE "
         "AS $$ SELECT count(*)::integer FROM account $$")
LATE = {"late": ", whose rows account_count() counts for a new column's default, checks and a new table",
        "item_late": ('(sa.Column("n", sa.Integer, nullable=False, server_default=sa.text("account_count()")), '
                      'sa.CheckConstraint("account_count() >= 0", name="ck_accounts"))'),
        "tag": ('sa.Table("tag", Base.metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False), '
                'sa.Column("seen", sa.Integer, server_default=sa.text("account_count()")), '
                'sa.CheckConstraint("account_count() < 1000", name="ck_tag_accounts"))\n'
                f'sa.event.listen(account, "after_create", sa.DDL({COUNT!r}))')}


def _generated(project: Path, result: str, body: str, *, late: bool = False) -> sa.MetaData:
    twice = FUNCTION.format(argument="integer", result=result, body=body)
    return _metadata(project, GENERATED_MODELS.format(
        twice=twice, **(LATE if late else {"late": "", "item_late": "()", "tag": ""})))


def test_generated_column_of_a_changed_function_and_users_of_a_function_made_late(tmp_path: Path, pg_env,  # noqa: ANN001
                                                                                 pg_server) -> None:  # noqa: ANN001
    """A stored generated column calling a function changed beyond CREATE OR REPLACE is dropped (after the view over
    it, with its index) and added again after the function: recomputed, nothing lost, no --allow-destructive. New
    defaults and checks calling a function that reads a table are added after it is made."""
    project, url, step = _cli_project(tmp_path, pg_env, pg_server)
    step("init", _generated(project, "integer", "x * 2"))
    query(url, "INSERT INTO item (id, price) VALUES (1, 3), (2, 30)")
    query(url, "INSERT INTO account (id) VALUES (1), (2)")

    text = step("result", _generated(project, "bigint", "x::bigint * 3"))
    assert text.index("DROP VIEW doubled") < text.index("DROP COLUMN double") < text.index("DROP FUNCTION twice") \
        < text.index("CREATE OR REPLACE FUNCTION twice") < text.index("ADD COLUMN double") \
        < text.index("CREATE INDEX ix_double") < text.index("CREATE VIEW doubled") \
        < text.index("GRANT SELECT (double) ON item TO PUBLIC")  # the column's privileges went with it
    assert query(url, "SELECT id, price, double FROM doubled JOIN item USING (id, double) ORDER BY id") == [
        (1, 3, 9), (2, 30, 90)]

    text = step("late", _generated(project, "bigint", "x::bigint * 3", late=True))
    assert text.index('CREATE TABLE tag') < text.index("FUNCTION account_count()") \
        < min(text.index("ADD COLUMN n"), text.index("ADD CONSTRAINT ck_accounts"),
              text.index("SET DEFAULT account_count()"), text.index("ADD CONSTRAINT ck_tag_accounts"))
    assert query(url, "SELECT id, n FROM item ORDER BY id") == [(1, 2), (2, 2)]  # existing rows got the default
    query(url, "INSERT INTO tag (id) VALUES (1)")
    assert query(url, "SELECT seen FROM tag") == [(2,)]


def _renamed(result: str, *, renamed: bool) -> Model:
    """`item(id, price)` calling twice() (result type `result`), or, `renamed`, `goods(id, cost)` renamed from it."""
    def model(md: sa.MetaData) -> None:
        rename = {"info": {"atlembic": {"renamed_from": "item"}}} if renamed else {}
        column = {"info": {"atlembic": {"renamed_from": "price"}}} if renamed else {}
        sa.Table("goods" if renamed else "item", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("cost" if renamed else "price", sa.Integer, server_default=sa.text("twice(1)"), **column),
                 sa.CheckConstraint(f"twice({'cost' if renamed else 'price'}) >= 0", name="ck_twice"), **rename)
        sa.event.listen(md, "before_create", sa.DDL(FUNCTION.format(argument="integer", result=result, body="x * 2")))
    return model


def test_held_default_and_check_follow_a_table_and_column_rename(pg_env, tmp_path: Path) -> None:  # noqa: ANN001
    """Released under the old names before the renames, restored under the new ones after them."""
    dev, url = pg_env()
    text, survived = run_round_trip(dev, url, tmp_path, _renamed("integer", renamed=False),
                                    _renamed("bigint", renamed=True), {"item": [{"id": 1, "price": 3}]})
    assert survived["item"] == [{"id": 1, "price": 3}]
    assert text.index("ALTER TABLE item DROP CONSTRAINT ck_twice") < text.index("ALTER TABLE item RENAME TO goods") \
        < text.index("ALTER TABLE goods ALTER COLUMN cost SET DEFAULT twice(1)")
    assert text.count("DROP CONSTRAINT") == 1


def test_a_dropped_table_releases_only_what_a_function_dropped_before_it_needs() -> None:
    """A table dropped here goes before the functions removed from the models do (nothing to release), but after
    those re-created (their users released first); nothing is held when no function goes."""
    def table(name: str, function: str) -> Table:
        return Table(name, (Column("id", "integer"), Column("price", "integer", default=f"{function}(1)")),
                     checks=(Check(f"{function}(price) >= 0", "ck"),))

    current = Schema(tables=(table("a", "removed"), table("b", "redone")))
    held = hold_function_users(diff_schemas(current, Schema()), {"removed", "redone"}, {"redone"})
    assert [c.name for c in held.release] == ["b"] and held.restore == ()
    assert [type(c).__name__ for c in held.release[0].changes] == ["ModifyColumn", "DropCheck"]
    kept = diff_schemas(current, Schema())
    assert hold_function_users(kept, set(), set()) == Held((), (), kept)


def test_late_users_leave_the_tables_changes_and_are_restored_after() -> None:
    """What a new table or new columns would make that calls a function made after the tables: left out of their
    changes (a new table's column keeps its place, its default set after), made by the restore."""
    def item(*extra: Column, checks: tuple[Check, ...] = ()) -> Table:
        return Table("item", (Column("id", "integer"), *extra), checks=checks)

    tag = Table("tag", (Column("id", "integer"), Column("seen", "integer", default="counted()"),
                        Column("twice", "integer", computed=Computed("counted() * 2"))),
                checks=(Check("counted() > 0", "ck_tag"), Check("twice > 0", "ck_twice"), Check("id > 0", "ck_id")))
    current = Schema(tables=(item(),))
    desired = Schema(tables=(item(Column("n", "integer", default="counted()"), Column("m", "integer", default="0"),
                                  checks=(Check("counted() >= 0", "ck_item"),)), tag))
    held = hold_function_users(diff_schemas(current, desired), set(), set(), {"counted"})
    [added] = [c.table for c in held.diff.changes if isinstance(c, AddTable)]
    assert [(c.name, c.default) for c in added.columns] == [("id", None), ("seen", None)]
    assert [k.name for k in added.checks] == ["ck_id"]
    [modified] = [c for c in held.diff.changes if isinstance(c, ModifyTable)]
    assert [c.column.name for c in modified.changes if isinstance(c, AddColumn)] == ["m"]
    assert not any(isinstance(c, AddCheck) for c in modified.changes)
    restored = {c.name: [type(s).__name__ for s in c.changes] for c in held.restore}
    assert restored == {"item": ["AddColumn", "AddCheck"], "tag": ["ModifyColumn", "AddColumn", "AddCheck", "AddCheck"]}
    assert hold_function_users(diff_schemas(current, desired), set(), set(), {"other"}).restore == ()


def _referenced(result: str, key: str) -> Model:
    """`item.double`, generated by twice() (result type `result`) and `key` ("unique", "primary_key"), referenced by
    `ref.d`."""
    def model(md: sa.MetaData) -> None:
        sa.Table("item", md, sa.Column("id", sa.Integer, primary_key=key != "primary_key", autoincrement=False),
                 sa.Column("price", sa.Integer),
                 sa.Column("double", sa.BigInteger, sa.Computed("twice(price)", persisted=True), **{key: True}))
        sa.Table("ref", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("d", sa.BigInteger, sa.ForeignKey("item.double")))
        sa.event.listen(md, "before_create", sa.DDL(FUNCTION.format(argument="integer", result=result, body="x * 2")))
    return model


@pytest.mark.parametrize("key", ["unique", "primary_key"])
def test_a_foreign_key_to_a_held_generated_column_goes_first_and_comes_back_last(pg_env, tmp_path: Path,  # noqa: ANN001
                                                                                 key: str) -> None:
    """The engine refuses to drop the key a foreign key of another table needs: that foreign key is dropped before
    it and added after the column and its key are back; rows of both tables survive, no loss gate."""
    dev, url = pg_env()
    text, survived = run_round_trip(dev, url, tmp_path, _referenced("integer", key), _referenced("bigint", key),
                                    {"item": [{"id": 1, "price": 3}], "ref": [{"id": 1, "d": 6}]},
                                    allow_destructive=False)
    assert survived == {"item": [{"id": 1, "price": 3}], "ref": [{"id": 1, "d": 6}]}
    constraint = "PRIMARY KEY (double)" if key == "primary_key" else "UNIQUE (double)"
    assert text.index("ALTER TABLE ref DROP CONSTRAINT") < text.index("DROP COLUMN double") \
        < text.index("ADD COLUMN double") < text.index(constraint) < text.index("ALTER TABLE ref ADD CONSTRAINT")
