"""Constraints the models leave unnamed match by shape: a history that named them (a naming convention,
Alembic's batch mode, another engine's defaults) is in sync with such models, while a changed shape or
a name the models do ask for is still a difference. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.autogenerate import desired_schema, plan_changes, replay_schema, verify_plan
from atlembic.devdb import DevDatabase
from atlembic.migrate.directory import MigrationFile

HISTORY = """
CREATE TABLE parent (id INTEGER NOT NULL, CONSTRAINT pk_parent PRIMARY KEY (id));
CREATE TABLE child (
  id INTEGER NOT NULL,
  parent_id INTEGER,
  code VARCHAR(20),
  qty INTEGER,
  CONSTRAINT pk_child PRIMARY KEY (id),
  CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id),
  CONSTRAINT uq_child_code UNIQUE (code),
  CONSTRAINT ck_child_qty CHECK (qty > 0)
);
"""


def models(*, fk_name: str | None = None, ondelete: str | None = None) -> sa.MetaData:
    md = sa.MetaData()
    sa.Table("parent", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False))
    sa.Table("child", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("parent_id", sa.Integer),
             sa.Column("code", sa.String(20), unique=True),
             sa.Column("qty", sa.Integer),
             sa.ForeignKeyConstraint(["parent_id"], ["parent.id"], name=fk_name, ondelete=ondelete),
             sa.CheckConstraint("qty > 0"))
    return md


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql), "mysql"])
def dev(request: pytest.FixtureRequest) -> DevDatabase:
    return request.getfixturevalue({"sqlite": "sqlite_dev", "postgresql": "pg_dev", "mysql": "mysql_dev"}[
        request.param])


def lines(dev: DevDatabase, md: sa.MetaData) -> tuple[list[str], Callable[[], None]]:
    files = [MigrationFile(name="20250101000000_init.sql", path=Path("init.sql"), content=HISTORY.encode())]
    current = replay_schema(dev, files)
    desired = desired_schema(dev, md)
    plan = plan_changes(current, desired, dev.dialect_name)
    return plan.diff.describe(), lambda: verify_plan(dev, files, plan, desired)


def test_unnamed_model_constraints_keep_the_names_the_history_gave_them(dev: DevDatabase) -> None:
    found, _ = lines(dev, models())
    assert found == []


def test_a_name_the_models_ask_for_is_still_a_rename(dev: DevDatabase) -> None:
    found, verify = lines(dev, models(fk_name="child_parent_fk"))
    assert found == ['table "child": rename foreignkey constraint "fk_child_parent" to "child_parent_fk"']
    verify()


def test_a_changed_shape_is_still_a_change_and_the_other_names_stay(dev: DevDatabase) -> None:
    found, verify = lines(dev, models(ondelete="CASCADE"))
    assert len(found) == 2 and all("foreign key" in line for line in found), found
    assert any(line.startswith('table "child": drop foreign key fk_child_parent') for line in found), found
    verify()  # the planned file, replayed after the history, reaches the models
