"""Pure diff tests: no database, just model values."""

from __future__ import annotations

from atlembic.diff import (
    AddColumn,
    AddForeignKey,
    AddIndex,
    AddTable,
    DropForeignKey,
    DropIndex,
    DropTable,
    ModifyColumn,
    ModifyEnum,
    ModifyTable,
    diff_schemas,
)
from atlembic.schema.model import Column, Enum, ForeignKey, Index, IndexPart, PrimaryKey, Schema, Table
from atlembic.schema.sqlite import parse_index_sql

ID = Column("id", "INTEGER", nullable=False)


def table(name: str, *columns: Column, **kw) -> Table:
    return Table(name, (ID, *columns), PrimaryKey(("id",)), **kw)


def test_equal_schemas_have_no_changes_whatever_the_column_order() -> None:
    a, b = Column("a", "TEXT"), Column("b", "INTEGER")
    assert not diff_schemas(Schema((table("t", a, b),)), Schema((table("t", b, a),)))


def test_tables_added_modified_dropped() -> None:
    current = Schema((table("keep"), table("gone")))
    desired = Schema((table("keep", Column("x", "TEXT")), table("new")))
    changes = diff_schemas(current, desired).changes
    assert [type(c) for c in changes] == [ModifyTable, AddTable, DropTable]
    assert changes[0].changes == (AddColumn(Column("x", "TEXT")),)


def test_column_modification_names_what_changed() -> None:
    cur = table("t", Column("x", "VARCHAR(10)", nullable=True))
    des = table("t", Column("x", "VARCHAR(20)", nullable=False, default="'a'"))
    [modify] = diff_schemas(Schema((cur,)), Schema((des,))).changes[0].changes
    assert isinstance(modify, ModifyColumn) and modify.changed == ("type", "nullable", "default")


def test_unnamed_foreign_keys_match_by_shape_and_change_by_action() -> None:
    fk = ForeignKey(("p",), "parent", ("id",))
    cur = table("t", Column("p", "INTEGER"), foreign_keys=(fk,))
    same = diff_schemas(Schema((cur,)), Schema((cur,)))
    assert not same
    cascade = ForeignKey(("p",), "parent", ("id",), on_delete="CASCADE")
    des = table("t", Column("p", "INTEGER"), foreign_keys=(cascade,))
    changes = diff_schemas(Schema((cur,)), Schema((des,))).changes[0].changes
    assert changes == (DropForeignKey(fk), AddForeignKey(cascade))


def test_changed_index_is_dropped_and_recreated() -> None:
    old = Index("ix", (IndexPart("a"),))
    new = Index("ix", (IndexPart("a", descending=True),))
    cur, des = table("t", Column("a", "INTEGER"), indexes=(old,)), table("t", Column("a", "INTEGER"), indexes=(new,))
    assert diff_schemas(Schema((cur,)), Schema((des,))).changes[0].changes == (DropIndex(old), AddIndex(new))


def test_enum_changes_know_whether_add_value_can_express_them() -> None:
    def modify(before: tuple[str, ...], after: tuple[str, ...]) -> ModifyEnum:
        [change] = diff_schemas(Schema(enums=(Enum("e", before),)), Schema(enums=(Enum("e", after),))).changes
        return change

    assert modify(("a", "c"), ("a", "b", "c", "d")).only_appends
    assert not modify(("a", "b"), ("b", "a")).only_appends
    assert not modify(("a", "b"), ("a",)).only_appends


def test_sqlite_index_sql_parsing_handles_expressions_quotes_and_where() -> None:
    keys, where = parse_index_sql("CREATE INDEX ix ON \"t\" (lower(a), b DESC, coalesce(x, ')')) WHERE b > 5")
    assert keys == ["lower(a)", "b DESC", "coalesce(x, ')')"] and where == "b > 5"
    assert parse_index_sql("CREATE UNIQUE INDEX ix ON t (a)") == (["a"], None)


def test_a_type_the_dialect_cannot_express_names_table_and_column() -> None:
    import pytest
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    from atlembic.engines import engine_for
    from atlembic.errors import AtlembicError

    md = sa.MetaData()
    sa.Table("t", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("span", postgresql.INT4RANGE))
    with pytest.raises(AtlembicError, match=r"models: sqlite cannot express \(in table 't', column 'span'\)"):
        engine_for("sqlite").metadata_ddl(md)


def test_a_serial_sequence_goes_with_its_table_line() -> None:
    """`check` says "add table t", not also "add sequence t_id_seq": CREATE TABLE makes a SERIAL's sequence.
    A standalone sequence, or one of a table that stays, keeps its own line."""
    from atlembic.diff import diff_schemas
    from atlembic.schema.model import Sequence

    table = Table("t", (Column("id", "INTEGER", nullable=False, default="nextval('t_id_seq'::regclass)"),),
                  primary_key=PrimaryKey(("id",)))
    desired = Schema(tables=(table,), sequences=(Sequence("t_id_seq", owned_by="t.id"), Sequence("free_seq"),
                                                 Sequence("kept_seq", owned_by="kept.id")))
    assert diff_schemas(Schema(), desired).describe() == [
        'add sequence "free_seq"', 'add sequence "kept_seq"', 'add table "t"']
    assert diff_schemas(desired, Schema()).describe() == [
        'drop sequence "free_seq"', 'drop sequence "kept_seq"', 'drop table "t"']
