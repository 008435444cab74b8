"""The round-trip cases: model A -> model B, the rows to keep, the SQL the plan must contain, the dialects.

Run by tests/test_roundtrip.py (SQLite, PostgreSQL), tests/test_mysql.py (MySQL/MariaDB, with the MySQL-only
cases below), tests/test_alembic_comparison.py and the coverage report (docs/coverage.md), through
tests/support/roundtrip.py and tests/support/alembic_side.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from tests.support.roundtrip import Model


def users(*extra: sa.SchemaItem, name_type: sa.types.TypeEngine | None = None,
          name_nullable: bool = False, name_default: str | None = None, drop_score: bool = False) -> Model:
    def build(md: sa.MetaData) -> None:
        score = () if drop_score else (sa.Column("score", sa.Integer, nullable=True),)
        sa.Table(
            "users", md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", name_type or sa.String(30), nullable=name_nullable, server_default=name_default),
            *score,
            *extra,
        )
    return build


def with_posts(*post_extra: sa.SchemaItem, users_extra: tuple = (), fk_ondelete: str | None = None) -> Model:
    def build(md: sa.MetaData) -> None:
        users(*users_extra)(md)
        sa.Table(
            "posts", md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete=fk_ondelete), nullable=False),
            sa.Column("title", sa.String(50), nullable=False),
            *post_extra,
        )
    return build


def posts_without_fk(md: sa.MetaData) -> None:
    users()(md)
    sa.Table(
        "posts", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("title", sa.String(50), nullable=False),
    )


def cycle(md: sa.MetaData) -> None:
    """Two new tables that reference each other: one foreign key has to come after both exist."""
    users()(md)
    sa.Table("teams", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("captain_id", sa.Integer, sa.ForeignKey("members.id", name="fk_captain")))
    sa.Table("members", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", name="fk_team")))


def renamed_users(md: sa.MetaData) -> None:
    """users -> people (declared), with posts pointing at it and a column renamed too."""
    sa.Table(
        "people", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(30), nullable=False),
        sa.Column("points", sa.Integer, nullable=True, info={"atlembic": {"renamed_from": "score"}}),
        info={"atlembic": {"renamed_from": "users"}},
    )
    sa.Table(
        "posts", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("people.id"), nullable=False),
        sa.Column("title", sa.String(50), nullable=False),
    )


def composite_pk(md: sa.MetaData) -> None:
    sa.Table(
        "users", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(30), primary_key=True),
        sa.Column("score", sa.Integer, nullable=True),
    )


def with_sequence(md: sa.MetaData) -> None:
    seq = sa.Sequence("ticket_seq", start=100, increment=5, metadata=md)
    users(sa.Column("ticket", sa.Integer, seq, server_default=seq.next_value()))(md)


def billing(with_fk: bool = True, extra: tuple = ()) -> Model:
    """Tables in a named schema, one of them referencing the default schema."""
    def build(md: sa.MetaData) -> None:
        users()(md)
        fk = (sa.ForeignKey("users.id", name="fk_invoice_user"),) if with_fk else ()
        sa.Table("invoices", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("user_id", sa.Integer, *fk), sa.Column("total", sa.Numeric(10, 2)),
                 sa.Index("ix_invoices_user", "user_id"), *extra, schema="billing")
    return build


def posts_to_code(md: sa.MetaData) -> None:
    """posts.user_id -> users.id becomes posts.author_code -> users.code (columns and target change)."""
    users(sa.Column("code", sa.Integer, unique=True))(md)
    sa.Table(
        "posts", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("title", sa.String(50), nullable=False),
        sa.Column("author_code", sa.Integer, sa.ForeignKey("users.code")),  # added last, as ALTER adds it
    )


def commented_users(md: sa.MetaData) -> None:
    users()(md)
    md.tables["users"].comment = "people"


USERS = [{"id": 1, "name": "ann", "score": 3}, {"id": 2, "name": "bob", "score": 5}]
POSTS = [{"id": 10, "user_id": 1, "title": "hello"}, {"id": 11, "user_id": 2, "title": "world"}]


# Dialects a case runs on unless it names its own (MySQL cases run in tests/test_mysql.py).
ALL_DIALECTS = ("sqlite", "postgresql", "mysql")


@dataclass
class Case:
    id: str
    a: Model
    b: Model
    rows: dict[str, list[dict]] = field(default_factory=lambda: {"users": USERS})
    sql: tuple[str, ...] = ()  # substrings the planned migration must contain
    dialects: tuple[str, ...] = ALL_DIALECTS
    # A -> B loses nothing: it is applied through the lint gate (no --allow-destructive), which must let it pass.
    gated: bool = False


def build_cases() -> list[Case]:
    """Fresh Column/Index objects per call: SQLAlchemy binds each to one Table only."""
    return [
        Case("add-nullable-column", users(), users(sa.Column("age", sa.Integer)), sql=("ADD COLUMN age",)),
        Case("add-not-null-column-with-default", users(),
             users(sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true())), sql=("active",)),
        Case("drop-column", users(sa.Column("age", sa.Integer)), users()),
        Case("widen-varchar", users(), users(name_type=sa.String(100)), sql=("VARCHAR(100)",)),
        Case("varchar-to-text", users(), users(name_type=sa.Text()), sql=("TEXT",)),
        Case("int-to-bigint", users(sa.Column("big", sa.Integer)), users(sa.Column("big", sa.BigInteger)),
             sql=("BIGINT",)),
        Case("numeric-precision", users(sa.Column("amount", sa.Numeric(10, 2))),
             users(sa.Column("amount", sa.Numeric(12, 4))), sql=("NUMERIC(12, 4)",)),
        Case("set-not-null", users(name_nullable=True), users(name_nullable=False)),
        Case("drop-not-null", users(), users(name_nullable=True)),
        Case("add-server-default", users(), users(name_default="anon"), sql=("anon",)),
        Case("change-server-default", users(name_default="anon"), users(name_default="nobody"), sql=("nobody",)),
        Case("drop-server-default", users(name_default="anon"), users()),
        Case("add-expression-default", users(),
             users(sa.Column("created", sa.DateTime, server_default=sa.func.current_timestamp()))),
        Case("add-index", users(), users(sa.Index("ix_users_name", "name")), sql=("CREATE INDEX ix_users_name",)),
        Case("drop-index", users(sa.Index("ix_users_name", "name")), users(), sql=("DROP INDEX",)),
        Case("index-becomes-unique", users(sa.Index("ix_users_name", "name")),
             users(sa.Index("ix_users_name", "name", unique=True)), sql=("CREATE UNIQUE INDEX",)),
        Case("index-column-order", users(sa.Index("ix_ns", "name", "score")),
             users(sa.Index("ix_ns", "score", "name"))),
        Case("index-desc", users(sa.Index("ix_score", "score")), users(sa.Index("ix_score", sa.desc("score")))),
        Case("partial-index", users(),
             users(sa.Index("ix_pos", "score", sqlite_where=sa.text("score > 0"),
                            postgresql_where=sa.text("score > 0"))), dialects=("sqlite", "postgresql")),
        Case("expression-index", users(), users(sa.Index("ix_lower", sa.func.lower(sa.text("name")))),
             dialects=("sqlite", "postgresql")),  # MariaDB has no functional indexes
        Case("add-unique-constraint", users(), users(sa.UniqueConstraint("name", name="uq_users_name"))),
        Case("drop-unique-constraint", users(sa.UniqueConstraint("name", name="uq_users_name")), users()),
        Case("add-check", users(), users(sa.CheckConstraint("score >= 0", name="ck_score"))),
        Case("add-table-with-fk", users(), with_posts(), sql=("posts",)),
        Case("drop-table", with_posts(), users(), rows={"users": USERS, "posts": POSTS}),
        Case("add-fk", posts_without_fk, with_posts(), rows={"users": USERS, "posts": POSTS}),
        Case("drop-fk", with_posts(), posts_without_fk, rows={"users": USERS, "posts": POSTS}),
        Case("fk-on-delete", with_posts(), with_posts(fk_ondelete="CASCADE"), rows={"users": USERS, "posts": POSTS},
             sql=("CASCADE",)),
        Case("foreign-key-cycle", users(), cycle),
        Case("rename-column-declared", users(),
             users(sa.Column("rank", sa.Integer, info={"atlembic": {"renamed_from": "score"}}), drop_score=True),
             sql=("RENAME",)),
        Case("rename-table-declared", with_posts(), renamed_users, rows={"users": USERS, "posts": POSTS},
             sql=("RENAME TO people",)),
        Case("rename-index", users(sa.Index("ix_old", "name")), users(sa.Index("ix_new", "name")),
             sql=("ix_new",)),
        Case("primary-key-single-to-composite", users(), composite_pk),
        Case("standalone-sequence-default", users(), with_sequence, sql=("CREATE SEQUENCE ticket_seq",),
             dialects=("postgresql",)),
        Case("identity-added-to-existing-column", users(sa.Column("seq", sa.BigInteger, nullable=False,
                                                                   server_default="0")),
             users(sa.Column("seq", sa.BigInteger, sa.Identity(start=10), nullable=False)),
             sql=("ADD GENERATED",), dialects=("postgresql",)),
        Case("identity-options-change", users(sa.Column("seq", sa.BigInteger, sa.Identity(start=10))),
             users(sa.Column("seq", sa.BigInteger, sa.Identity(always=True, start=10, increment=3))),
             sql=("SET GENERATED ALWAYS",), dialects=("postgresql",)),
        Case("check-expression-change", users(sa.CheckConstraint("score >= 0", name="ck_score")),
             users(sa.CheckConstraint("score >= 1", name="ck_score"))),
        Case("add-generated-column", users(),
             users(sa.Column("double", sa.Integer, sa.Computed("score * 2", persisted=True))), sql=("score * 2",)),
        Case("create-enum-column", users(),
             users(sa.Column("mood", sa.Enum("happy", "sad", name="mood"))), sql=("CREATE TYPE mood",),
             dialects=("postgresql",)),
        Case("enum-add-value", users(sa.Column("mood", sa.Enum("happy", "sad", name="mood"))),
             users(sa.Column("mood", sa.Enum("happy", "meh", "sad", name="mood"))), sql=("ADD VALUE 'meh'",),
             dialects=("postgresql",)),
        Case("enum-remove-and-reorder-values",
             users(sa.Column("mood", sa.Enum("happy", "meh", "sad", name="mood"), server_default="happy")),
             users(sa.Column("mood", sa.Enum("sad", "happy", name="mood"), server_default="happy")),
             rows={"users": [{"id": 1, "name": "ann", "score": 3, "mood": "sad"}]},
             sql=("RENAME TO mood_old", "::text::mood"), dialects=("postgresql",)),
        Case("enum-add-value-used-as-default", users(sa.Column("mood", sa.Enum("happy", "sad", name="mood"))),
             users(sa.Column("mood", sa.Enum("happy", "sad", "meh", name="mood"), server_default="meh")),
             sql=("atlas:txmode none", "ADD VALUE 'meh'"), dialects=("postgresql",)),
        Case("column-collation", users(), users(sa.Column("code", sa.String(10, collation="C"))),
             sql=('COLLATE "C"',), dialects=("postgresql",)),
        Case("index-using-and-include", users(),
             users(sa.Index("ix_hash", "name", postgresql_using="hash"),
                   sa.Index("ix_incl", "score", postgresql_include=["name"])),
             sql=("USING hash", "INCLUDE (name)"), dialects=("postgresql",)),
        Case("self-referential-fk", users(),
             users(sa.Column("boss_id", sa.Integer, sa.ForeignKey("users.id", name="fk_boss")))),
        Case("table-comment-drop", commented_users, users(), dialects=("postgresql",)),
        Case("schema-create-with-table", users(), billing(), sql=("CREATE SCHEMA billing", "billing.invoices"),
             dialects=("postgresql",)),
        Case("schema-table-modify", billing(with_fk=False),
             billing(extra=(sa.Column("paid", sa.Boolean, nullable=False, server_default=sa.false()),)),
             sql=("ALTER TABLE billing.invoices",), dialects=("postgresql",)),
        Case("schema-drop", billing(), users(), sql=("DROP SCHEMA billing",), dialects=("postgresql",)),
        Case("generated-column-expression-change",
             users(sa.Column("double", sa.Integer, sa.Computed("score * 2", persisted=True))),
             users(sa.Column("double", sa.Integer, sa.Computed("score * 3", persisted=True))), sql=("* 3",)),
        Case("drop-generated-column", users(sa.Column("double", sa.Integer, sa.Computed("score * 2", persisted=True))),
             users()),
        Case("unique-constraint-columns-change", users(sa.UniqueConstraint("name", name="uq_users")),
             users(sa.UniqueConstraint("name", "score", name="uq_users"))),
        Case("drop-check", users(sa.CheckConstraint("score >= 0", name="ck_score")), users()),
        Case("fk-change-columns-and-target", with_posts(users_extra=(sa.Column("code", sa.Integer, unique=True),)),
             posts_to_code, rows={"users": [{**u, "code": u["id"]} for u in USERS], "posts": POSTS}),
        Case("table-comment-change", commented_users, lambda md: (users()(md), setattr(
            md.tables["users"], "comment", "humans")), sql=("humans",), dialects=("postgresql",)),
        Case("add-identity-column", users(), users(sa.Column("seq", sa.BigInteger, sa.Identity(start=100))),
             sql=("IDENTITY",), dialects=("postgresql",)),
        Case("table-comment", users(), commented_users, sql=("people",), dialects=("postgresql", "mysql")),
        Case("column-comment", users(), users(sa.Column("age", sa.Integer, comment="years")),
             sql=("years",), dialects=("postgresql", "mysql")),
        *coverage2_cases(),
    ]


# ----------------------------------------------------------------- issue 14: harder changes real models make


def categories(*extra: sa.SchemaItem, ondelete: str | None = None, name_length: int = 30) -> Model:
    """`users` and a table whose foreign key refers to itself (a tree)."""
    def build(md: sa.MetaData) -> None:
        users()(md)
        sa.Table(
            "categories", md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("parent_id", sa.Integer, sa.ForeignKey("categories.id", name="fk_parent", ondelete=ondelete)),
            sa.Column("name", sa.String(name_length), nullable=False),
            *extra,
        )
    return build


def _status(*values: str, **kw: object) -> sa.Column:
    """A non-native enum: VARCHAR plus a CHECK listing the values."""
    return sa.Column("status", sa.Enum(*values, native_enum=False, create_constraint=True, name="ck_status"),
                     **kw)  # type: ignore[arg-type]


def _identity_users(type_: type[sa.types.TypeEngine], identity: bool) -> Model:
    def build(md: sa.MetaData) -> None:
        ident = (sa.Identity(),) if identity else ()
        sa.Table("users", md, sa.Column("id", type_, *ident, primary_key=True),
                 sa.Column("name", sa.String(30), nullable=False), sa.Column("score", sa.Integer, nullable=True))
    return build


def _users_with_middle_column(md: sa.MetaData) -> None:
    """`users` with a new column between two it has: MySQL can place it there, as create_all does."""
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(30), nullable=False), sa.Column("email", sa.String(50)),
             sa.Column("score", sa.Integer, nullable=True))


def _posts_fk(**options: object) -> Model:
    def build(md: sa.MetaData) -> None:
        users()(md)
        sa.Table("posts", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", **options),
                           nullable=False),
                 sa.Column("title", sa.String(50), nullable=False))
    return build


def _ticket_sequence(**options: object) -> Model:
    def build(md: sa.MetaData) -> None:
        seq = sa.Sequence("ticket_seq", start=100, increment=5, metadata=md, **options)  # type: ignore[arg-type]
        users(sa.Column("ticket", sa.Integer, seq, server_default=seq.next_value()))(md)
    return build


def _plain_id_users(md: sa.MetaData) -> None:
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("name", sa.String(30), nullable=False), sa.Column("score", sa.Integer, nullable=True))


CATEGORIES = [{"id": 1, "parent_id": None, "name": "root"}, {"id": 2, "parent_id": 1, "name": "leaf"}]
MOODS = [{"id": 1, "name": "ann", "score": 3, "mood": "happy"}, {"id": 2, "name": "bob", "score": 5, "mood": "sad"}]


def coverage2_cases() -> list[Case]:
    with_categories = {"users": USERS, "categories": CATEGORIES}
    return [
        # A foreign key to its own table: the planner used to define the table twice in one MetaData.
        Case("add-table-with-self-fk", users(), categories(), sql=("categories",)),
        Case("self-fk-table-column-change", categories(), categories(name_length=60), rows=with_categories),
        Case("self-fk-on-delete-change", categories(), categories(ondelete="CASCADE"), rows=with_categories,
             sql=("CASCADE",)),
        Case("self-fk-table-add-not-null-column", categories(),
             categories(sa.Column("depth", sa.Integer, nullable=False, server_default="0")), rows=with_categories),
        # Non-native enums: a VARCHAR and a CHECK the engine re-spells on every inspection (PostgreSQL).
        Case("non-native-enum-added", users(), users(_status("new", "done", nullable=False, server_default="new")),
             sql=("status",)),
        Case("non-native-enum-values-change", users(_status("new", "done")),
             users(_status("new", "done", "archived")), sql=("archived",)),
        # Widening a serial key that foreign keys point at.
        Case("serial-pk-to-bigint-with-fk", with_posts(), _posts_with_bigint_ids,
             rows={"users": USERS, "posts": POSTS}, sql=("BIGINT",)),
        Case("identity-pk-to-bigint", _identity_users(sa.Integer, True), _identity_users(sa.BigInteger, True),
             sql=("BIGINT",), dialects=("postgresql",)),
        Case("serial-to-identity", _identity_users(sa.Integer, False), _identity_users(sa.Integer, True),
             sql=("IDENTITY",), dialects=("postgresql",)),
        # Found by the property tests: the SERIAL's sequence must be made (DROP IDENTITY took the name along).
        Case("identity-to-serial", _identity_users(sa.Integer, True), _identity_users(sa.Integer, False),
             sql=("DROP IDENTITY", "CREATE SEQUENCE"), dialects=("postgresql",)),
        # A server default that cannot be cast along with its column.
        Case("varchar-to-native-enum-with-default",
             users(sa.Column("mood", sa.String(10), nullable=False, server_default="happy")),
             users(sa.Column("mood", sa.Enum("happy", "sad", name="mood"), nullable=False, server_default="happy")),
             rows={"users": MOODS}),
        Case("string-default-with-percent", users(), users(name_default="100% sure"), sql=("100%",)),
        Case("generated-virtual-to-stored",
             users(sa.Column("double", sa.Integer, sa.Computed("score * 2", persisted=False))),
             users(sa.Column("double", sa.Integer, sa.Computed("score * 2", persisted=True))),
             dialects=("sqlite", "mysql")),  # PostgreSQL 15 has stored generated columns only
        Case("add-column-between-others", users(), _users_with_middle_column,
             sql=("AFTER",), dialects=("mysql",)),
        # Attributes the schema model carries: a change to any of them is planned, not "in sync".
        Case("fk-deferrable-initially-deferred", with_posts(), _posts_fk(deferrable=True, initially="DEFERRED"),
             rows={"users": USERS, "posts": POSTS}, sql=("DEFERRABLE INITIALLY DEFERRED",),
             dialects=("sqlite", "postgresql")),  # MySQL checks every foreign key at once
        Case("fk-deferrable-dropped", _posts_fk(deferrable=True), with_posts(), rows={"users": USERS, "posts": POSTS},
             dialects=("sqlite", "postgresql")),
        Case("unique-nulls-not-distinct", users(sa.UniqueConstraint("name", name="uq_users_name")),
             users(sa.UniqueConstraint("name", name="uq_users_name", postgresql_nulls_not_distinct=True)),
             sql=("NULLS NOT DISTINCT",), dialects=("postgresql",)),
        Case("index-nulls-not-distinct", users(sa.Index("ix_score", "score", unique=True)),
             users(sa.Index("ix_score", "score", unique=True, postgresql_nulls_not_distinct=True)),
             sql=("NULLS NOT DISTINCT",), dialects=("postgresql",)),
        Case("sequence-options-change", _ticket_sequence(), _ticket_sequence(
            data_type=sa.Integer(), minvalue=50, maxvalue=100000, cycle=True, cache=10),
             sql=("ALTER SEQUENCE ticket_seq AS integer",), dialects=("postgresql",)),
        Case("sequence-added-with-options", users(), _ticket_sequence(data_type=sa.SmallInteger(), maxvalue=3000),
             sql=("AS SMALLINT",), dialects=("postgresql",)),
        Case("identity-bounds-cycle-cache", users(sa.Column("seq", sa.BigInteger, sa.Identity(start=10))),
             users(sa.Column("seq", sa.BigInteger, sa.Identity(start=10, maxvalue=100000, cycle=True, cache=5))),
             sql=("CYCLE",), dialects=("postgresql",)),
        Case("serial-to-plain-integer", _identity_users(sa.Integer, False), _plain_id_users,
             sql=("DROP SEQUENCE users_id_seq",), dialects=("postgresql",)),
        # The lint gate must let these through: nothing is lost, no row breaks the new index.
        Case("drop-stored-generated-column-gated",
             users(sa.Column("double", sa.Integer, sa.Computed("score * 2", persisted=True))), users(), gated=True),
        Case("partial-unique-index-excluding-duplicates", users(sa.Index("ix_name", "name")),
             users(sa.Index("ix_name", "name", unique=True, sqlite_where=sa.text("score > 0"),
                            postgresql_where=sa.text("score > 0"))),
             rows={"users": [*USERS, {"id": 3, "name": "ann", "score": 0}]}, gated=True,
             dialects=("sqlite", "postgresql")),  # MariaDB has no partial indexes
        # PostgreSQL stores `name NOT IN (...)` on a VARCHAR as an array cast it re-spells when it parses it again.
        Case("partial-index-not-in-strings", users(),
             users(sa.Index("ix_active", "score", postgresql_where=sa.text("name NOT IN ('ann', 'bob')"),
                            sqlite_where=sa.text("name NOT IN ('ann', 'bob')"))),
             sql=("WHERE",), dialects=("sqlite", "postgresql")),
        Case("add-column-between-others", users(), _users_with_middle_column, dialects=("sqlite", "postgresql")),
        Case("expression-index-on-text", users(), users(sa.Index("ix_lower_name", sa.text("lower(name)"))),
             dialects=("sqlite", "postgresql")),
        Case("expression-index-func", users(), users(sa.Index("ix_upper_name", sa.func.upper(sa.column("name")))),
             dialects=("sqlite", "postgresql")),
        *_object_cases(),
    ]


OBJECT_DDL = "object_ddl"  # MetaData.info key: the statements _with_ddl declared (the alembic_utils side reads them)


def _with_ddl(model: Model, *statements: str) -> Model:
    """`model` and objects beyond tables declared as projects declare them: DDL run after the tables are created."""
    def build(md: sa.MetaData) -> None:
        model(md)
        md.info.setdefault(OBJECT_DDL, []).extend(statements)
        for sql in statements:
            sa.event.listen(md, "after_create", sa.DDL(sql))
    return build


NAMES_VIEW = "CREATE VIEW user_names AS SELECT id, name FROM users"
SCORES_VIEW = "CREATE VIEW user_names AS SELECT id, name, score FROM users"
PG_SCORE_FUNCTION = ("CREATE FUNCTION fill_score() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN NEW.score := COALESCE(NEW.score, 0); RETURN NEW; END $$")
SCORE_TRIGGER = {
    "sqlite": "CREATE TRIGGER fill_score AFTER INSERT ON users BEGIN "
              "UPDATE users SET score = 0 WHERE id = NEW.id AND score IS NULL; END",
    "postgresql": "CREATE TRIGGER fill_score BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION fill_score()",
    "mysql": "CREATE TRIGGER fill_score BEFORE INSERT ON users FOR EACH ROW SET NEW.score = COALESCE(NEW.score, 0)",
}
ROW_SECURITY = "ALTER TABLE users ENABLE ROW LEVEL SECURITY"
SCORE_POLICY = "CREATE POLICY low_scores ON users AS PERMISSIVE FOR SELECT TO public USING (score < 100)"
# A role is the server's, not a database's: both models make it (when missing) before granting it anything.
READER_ROLE = ("DO $$ BEGIN CREATE ROLE coverage_reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; "
               "END $$")
READER_GRANT = "GRANT SELECT (id, name) ON users TO coverage_reader"
SCORE_FUNCTION = {
    "postgresql": "CREATE FUNCTION score_or(s integer) RETURNS integer LANGUAGE sql IMMUTABLE "
                  "AS $$ SELECT COALESCE(s, {}) $$",
    "mysql": "CREATE FUNCTION score_or(s INTEGER) RETURNS INTEGER DETERMINISTIC RETURN COALESCE(s, {})",
}


def _object_cases() -> list[Case]:
    """Views, materialized views, triggers, functions, policies, extensions and grants (issue 16), declared through
    DDL events."""
    return [
        Case("view-added", users(), _with_ddl(users(), NAMES_VIEW), sql=("CREATE VIEW",)),
        Case("view-changed", _with_ddl(users(), NAMES_VIEW), _with_ddl(users(), SCORES_VIEW), sql=("score",)),
        Case("view-dropped", _with_ddl(users(), NAMES_VIEW), users(), sql=("DROP VIEW",)),
        # PostgreSQL refuses to retype a column a view reads; SQLite rebuilds the table under the view.
        Case("column-retyped-under-view", _with_ddl(users(), NAMES_VIEW),
             _with_ddl(users(name_type=sa.String(100)), NAMES_VIEW), sql=("VARCHAR(100)",)),
        Case("materialized-view-added", users(),
             _with_ddl(users(), "CREATE MATERIALIZED VIEW user_scores AS SELECT id, score FROM users"),
             sql=("MATERIALIZED VIEW",), dialects=("postgresql",)),
        *(Case("trigger-added", users(), _with_ddl(users(), SCORE_TRIGGER[d]), sql=("CREATE TRIGGER",),
               dialects=(d,)) for d in ("sqlite", "mysql")),
        Case("function-and-trigger-added", users(), _with_ddl(users(), PG_SCORE_FUNCTION, SCORE_TRIGGER["postgresql"]),
             sql=("FUNCTION fill_score()", "CREATE TRIGGER"), dialects=("postgresql",)),
        # A trigger on a table SQLite rebuilds is made again after the rebuild.
        Case("column-retyped-under-trigger", _with_ddl(users(), SCORE_TRIGGER["sqlite"]),
             _with_ddl(users(name_type=sa.String(100)), SCORE_TRIGGER["sqlite"]), sql=("CREATE TRIGGER",),
             dialects=("sqlite",)),
        Case("function-and-trigger-dropped", _with_ddl(users(), PG_SCORE_FUNCTION, SCORE_TRIGGER["postgresql"]),
             users(), sql=("DROP TRIGGER", "DROP FUNCTION"), dialects=("postgresql",)),
        Case("policy-added", _with_ddl(users(), ROW_SECURITY), _with_ddl(users(), ROW_SECURITY, SCORE_POLICY),
             sql=("CREATE POLICY",), dialects=("postgresql",)),
        Case("extension-added", users(), _with_ddl(users(), "CREATE EXTENSION citext"), sql=("CREATE EXTENSION",),
             dialects=("postgresql",)),
        Case("grant-added", _with_ddl(users(), READER_ROLE), _with_ddl(users(), READER_ROLE, READER_GRANT),
             sql=("GRANT SELECT",), dialects=("postgresql",)),
        *(Case("function-body-changed", _with_ddl(users(), SCORE_FUNCTION[d].format(0)),
               _with_ddl(users(), SCORE_FUNCTION[d].format(1)), sql=("score_or",), dialects=(d,))
          for d in ("postgresql", "mysql")),
    ]


# ------------------------------------------------------------------------------- MySQL/MariaDB only


def mysql_only_cases() -> list[Case]:
    def table_opts(**kw: str):  # type: ignore[no-untyped-def]
        def build(md: sa.MetaData) -> None:
            users()(md)
            for key, value in kw.items():
                md.tables["users"].kwargs[f"mysql_{key}"] = value
        return build

    def stamp(on_update: bool):  # type: ignore[no-untyped-def]
        default = sa.text("CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP" if on_update else "CURRENT_TIMESTAMP")
        return users(sa.Column("changed", mysql.TIMESTAMP, nullable=False, server_default=default))

    def no_autoincrement(md: sa.MetaData) -> None:
        sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("name", sa.String(30), nullable=False), sa.Column("score", sa.Integer))

    return [
        Case("column-charset", users(), users(name_type=sa.String(30, collation="latin1_bin")),
             sql=("CHARACTER SET latin1",), dialects=("mysql",)),
        Case("column-collation", users(), users(name_type=sa.String(30, collation="utf8mb4_bin")),
             sql=("COLLATE utf8mb4_bin",), dialects=("mysql",)),
        Case("table-charset", users(), table_opts(charset="latin1"), sql=("DEFAULT CHARSET=latin1",),
             dialects=("mysql",)),
        Case("table-collation", users(), table_opts(collate="utf8mb4_bin"), sql=("COLLATE=utf8mb4_bin",),
             dialects=("mysql",)),
        Case("table-engine", users(), table_opts(engine="MyISAM"), sql=("ENGINE=MyISAM",), dialects=("mysql",)),
        # The counter's start the models name: raised by the plan, never lowered (rows may have moved it on).
        Case("table-auto-increment-start", users(), table_opts(auto_increment="1000"), sql=("AUTO_INCREMENT=1000",),
             dialects=("mysql",)),
        Case("table-charset-back-to-default", table_opts(charset="latin1"), users(),
             sql=("DEFAULT CHARSET=DEFAULT",), dialects=("mysql",)),
        # Table options together with a column change: planned today, whatever diff.py compares.
        Case("table-charset-and-column", users(),
             _with(table_opts(charset="latin1", engine="MyISAM"), sa.Column("age", sa.Integer)),
             sql=("DEFAULT CHARSET=latin1", "ENGINE=MyISAM", "MODIFY COLUMN name VARCHAR(30)"), dialects=("mysql",)),
        Case("on-update-current-timestamp", stamp(False), stamp(True), sql=("ON UPDATE",), dialects=("mysql",)),
        # SQLAlchemy drops ON UPDATE when the default is NULL; the reflector reads it from the catalog.
        Case("on-update-with-null-default", users(sa.Column("touched", mysql.TIMESTAMP, nullable=True)),
             users(sa.Column("touched", mysql.TIMESTAMP, nullable=True,
                             server_default=sa.text("NULL ON UPDATE CURRENT_TIMESTAMP"))),
             sql=("ON UPDATE",), dialects=("mysql",)),
        Case("drop-auto-increment", users(), no_autoincrement, dialects=("mysql",)),
        Case("add-auto-increment", no_autoincrement, users(), sql=("AUTO_INCREMENT",), dialects=("mysql",)),
        Case("prefix-length-index", users(sa.Index("ix_name", "name")),
             users(sa.Index("ix_name", "name", mysql_length={"name": 5})), sql=("name(5)",), dialects=("mysql",)),
        Case("enum-values-change", users(sa.Column("mood", sa.Enum("happy", "sad"))),
             users(sa.Column("mood", sa.Enum("happy", "meh", "sad"))), sql=("'meh'",), dialects=("mysql",)),
        Case("set-values-change", users(sa.Column("tags", mysql.SET("a", "b"))),
             users(sa.Column("tags", mysql.SET("a", "b", "c"))), sql=("'c'",), dialects=("mysql",)),
        Case("fulltext-index", users(), users(sa.Index("ft_name", "name", mysql_prefix="FULLTEXT")),
             sql=("FULLTEXT INDEX",), dialects=("mysql",)),
        Case("fk-index-changes-under-kept-fk",
             with_posts(sa.Index("ix_user", "user_id")),
             with_posts(sa.Index("ix_user", "user_id", "title")),
             rows={"users": USERS, "posts": POSTS}, sql=("DROP FOREIGN KEY",), dialects=("mysql",)),
        Case("fk-column-type-change",
             with_posts(),
             _posts_with_bigint_ids,
             rows={"users": USERS, "posts": POSTS}, sql=("BIGINT",), dialects=("mysql",)),
        Case("unsigned-int", users(sa.Column("n", mysql.INTEGER())),
             users(sa.Column("n", mysql.INTEGER(unsigned=True))), sql=("UNSIGNED",), dialects=("mysql",)),
    ]


def _with(model, *columns: sa.Column):  # type: ignore[no-untyped-def]
    def build(md: sa.MetaData) -> None:
        model(md)
        for column in columns:
            md.tables["users"].append_column(column)
    return build


def _posts_with_bigint_ids(md: sa.MetaData) -> None:
    sa.Table("users", md, sa.Column("id", sa.BigInteger, primary_key=True),
             sa.Column("name", sa.String(30), nullable=False), sa.Column("score", sa.Integer, nullable=True))
    sa.Table("posts", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
             sa.Column("title", sa.String(50), nullable=False))
