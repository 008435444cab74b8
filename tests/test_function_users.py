"""A function that a column DEFAULT, a CHECK constraint and an index call, changed beyond CREATE OR REPLACE or
dropped, on PostgreSQL through the CLI: the plan drops them before DROP FUNCTION ("other objects depend on it") and
makes them again after the function; rows survive, check passes and the target equals a fresh build of the models.
(MariaDB refuses stored functions in DEFAULT and CHECK: error 1901.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.diff import diff_schemas
from atlembic.plan.held import Held, hold_function_users
from atlembic.schema.model import Check, Column, Schema, Table
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
    text = MODELS.format(functions=[function] if uses else [],
                         **(USES if uses else {"default": None, "checks": (), "index": ""}))
    (project / "models.py").write_text(text)
    namespace: dict[str, object] = {}
    exec(compile(text, "models.py", "exec"), namespace)  # the same models, for a fresh build to compare with
    return namespace["Base"].metadata  # type: ignore[attr-defined]


def test_default_check_and_index_calling_a_changed_or_dropped_function(tmp_path: Path, pg_env, pg_server) -> None:  # noqa: ANN001
    from tests.test_cli import SAMPLE

    dev, url = pg_env()
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("migrations", "*.db", "__pycache__"))
    args = ["--url", url, "--dev-url", pg_server.url("postgres").render_as_string(hide_password=False)]

    def step(name: str, metadata: sa.MetaData, *, allow_destructive: bool = False) -> str:
        """revision, upgrade, check; the target is what a fresh build of the models is; the file planned."""
        run_cli(project, *args, "revision", "--autogenerate", "-m", name)
        [written] = sorted((project / "migrations").glob(f"*_{name}.sql"))
        run_cli(project, *args, "upgrade", "head", *(["--allow-destructive"] if allow_destructive else []))
        run_cli(project, *args, "check")
        remaining = diff_schemas(reflect(url), fresh_schema(dev, metadata))
        assert not remaining, remaining.describe()
        return written.read_text()

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
