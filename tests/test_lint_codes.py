"""Every lint code on every dialect where it applies: a directory whose last file triggers it, and one
whose last file does the same kind of thing safely and must not.

The analyzers run through the API on the session's dev databases (in-memory SQLite, scratch databases on
the session's PostgreSQL and MariaDB servers); the CLI, formats, data checks and the upgrade gate are in
test_lint.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from atlembic.devdb import DevDatabase
from atlembic.lint import LintConfig, LintResult, select_files
from atlembic.lint.runner import lint_files
from atlembic.migrate.directory import MigrationDir

ALL = ("sqlite", "postgresql", "mysql")

USERS = "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(50), age INT, code INT);\n"


def rebuild(columns: str, copy: str, table: str = "users", fill: str = "") -> str:
    """SQLite's table rebuild, as atlembic, Atlas and Alembic's batch mode write it."""
    return (f"PRAGMA foreign_keys = off;\n{fill}CREATE TABLE new_{table} ({columns});\n"
            f"INSERT INTO new_{table} ({copy}) SELECT {copy} FROM {table};\nDROP TABLE {table};\n"
            f"ALTER TABLE new_{table} RENAME TO {table};\nPRAGMA foreign_keys = on;\n")


@dataclass
class Case:
    code: str
    base: str | dict[str, str]
    bad: str | dict[str, str]  # the last file: triggers `code` (on its first statement unless `line`)
    good: str | dict[str, str]  # the last file: must not trigger it
    dialects: tuple[str, ...] = ALL
    line: int = 1
    contains: str = ""  # text the message must contain
    skip: dict[str, str] = field(default_factory=dict)

    def sql(self, part: str | dict[str, str], dialect: str) -> str:
        return part if isinstance(part, str) else part[dialect]


PARENT_CHILD = {
    d: "CREATE TABLE p (id INT PRIMARY KEY);\n"
       "CREATE TABLE c (id INT PRIMARY KEY, p_id INT, CONSTRAINT c_p_fk FOREIGN KEY (p_id) REFERENCES p (id));\n"
    for d in ALL
}

CASES = [
    Case("DS101", "CREATE SCHEMA billing;\nCREATE TABLE billing.invoices (id INT PRIMARY KEY);\n",
         "DROP SCHEMA billing CASCADE;\n", "CREATE SCHEMA scratch;\nDROP SCHEMA scratch;\n",
         dialects=("postgresql",), contains='Dropping non-empty schema "billing" with 1 table'),
    Case("DS102", USERS, "DROP TABLE users;\n",
         "CREATE TABLE scratch (id INT PRIMARY KEY);\nDROP TABLE scratch;\n", contains='Dropping table "users"'),
    Case("DS103",
         {"sqlite": USERS.replace(");", ", twice INT GENERATED ALWAYS AS (age * 2) VIRTUAL);"),
          "mysql": USERS.replace(");", ", twice INT GENERATED ALWAYS AS (age * 2) VIRTUAL);"),
          "postgresql": USERS},
         "ALTER TABLE users DROP COLUMN code;\n",
         {"sqlite": "ALTER TABLE users DROP COLUMN twice;\n", "mysql": "ALTER TABLE users DROP COLUMN twice;\n",
          "postgresql": "ALTER TABLE users ADD COLUMN scratch INT;\nALTER TABLE users DROP COLUMN scratch;\n"},
         contains='Dropping non-virtual column "code"'),
    Case("MF101", USERS, "CREATE UNIQUE INDEX users_email ON users (email);\n",
         "ALTER TABLE users ADD COLUMN handle INT;\nCREATE UNIQUE INDEX users_handle ON users (handle);\n",
         contains='Adding a unique index "users_email" on table "users" might fail in case column "email" '
                  "contains duplicate entries"),
    Case("MF102", USERS + "CREATE INDEX users_email ON users (email);\n",
         {"sqlite": "DROP INDEX users_email;\nCREATE UNIQUE INDEX users_email ON users (email);\n",
          "postgresql": "DROP INDEX users_email;\nCREATE UNIQUE INDEX users_email ON users (email);\n",
          "mysql": "ALTER TABLE users DROP INDEX users_email, ADD UNIQUE INDEX users_email (email);\n"},
         {"sqlite": "DROP INDEX users_email;\nCREATE INDEX users_email ON users (email, age);\n",
          "postgresql": "DROP INDEX users_email;\nCREATE INDEX users_email ON users (email, age);\n",
          "mysql": "ALTER TABLE users DROP INDEX users_email, ADD INDEX users_email (email, age);\n"},
         line=0, contains='Modifying an index "users_email" on table "users" might fail'),
    Case("MF103", USERS,
         {"postgresql": "ALTER TABLE users ADD COLUMN score INT NOT NULL;\n",
          "sqlite": rebuild("id INT PRIMARY KEY, email VARCHAR(50), age INT, code INT, score INT NOT NULL",
                            "id, email, age, code")},
         {"postgresql": "ALTER TABLE users ADD COLUMN score INT NOT NULL DEFAULT 0;\n",
          "sqlite": rebuild("id INT PRIMARY KEY, email VARCHAR(50), age INT, code INT, score INT NOT NULL DEFAULT 0",
                            "id, email, age, code")},
         dialects=("sqlite", "postgresql"), line=0,
         contains='column "score" will fail in case table "users" is not empty'),
    # A NOT NULL added with a back-fill in the same file must not trigger MF104 / LT101.
    Case("MF104", USERS,
         {"postgresql": "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
          "mysql": "ALTER TABLE users MODIFY email VARCHAR(50) NOT NULL;\n"},
         {"postgresql": "UPDATE users SET email = '' WHERE email IS NULL;\n"
                        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
          "mysql": "UPDATE users SET email = '' WHERE email IS NULL;\n"
                   "ALTER TABLE users MODIFY email VARCHAR(50) NOT NULL;\n"},
         dialects=("postgresql", "mysql"),
         contains='Modifying nullable column "email" to non-nullable might fail in case it contains NULL values'),
    Case("LT101", USERS,
         rebuild("id INT PRIMARY KEY, email VARCHAR(50) NOT NULL, age INT, code INT", "id, email, age, code"),
         rebuild("id INT PRIMARY KEY, email VARCHAR(50) NOT NULL, age INT, code INT", "id, email, age, code",
                 fill="UPDATE users SET email = '' WHERE email IS NULL;\n"),
         dialects=("sqlite",), line=2,
         contains='Modifying nullable column "email" to non-nullable without default value might fail'),
    Case("CD101", PARENT_CHILD,
         {"postgresql": "ALTER TABLE c DROP CONSTRAINT c_p_fk;\n", "mysql": "ALTER TABLE c DROP FOREIGN KEY c_p_fk;\n",
          "sqlite": rebuild("id INT PRIMARY KEY, p_id INT", "id, p_id", table="c")},
         # The same key replaced (ON DELETE CASCADE added) is not a dropped constraint.
         {"postgresql": "ALTER TABLE c DROP CONSTRAINT c_p_fk, ADD CONSTRAINT c_p_fk FOREIGN KEY (p_id) "
                        "REFERENCES p (id) ON DELETE CASCADE;\n",
          "mysql": "ALTER TABLE c DROP FOREIGN KEY c_p_fk;\nALTER TABLE c ADD CONSTRAINT c_p_fk FOREIGN KEY (p_id) "
                   "REFERENCES p (id) ON DELETE CASCADE;\n",
          "sqlite": rebuild("id INT PRIMARY KEY, p_id INT, CONSTRAINT c_p_fk FOREIGN KEY (p_id) REFERENCES p (id) "
                            "ON DELETE CASCADE", "id, p_id", table="c")},
         line=0, contains="Dropping foreign-key constraint"),
    Case("BC101", USERS, "ALTER TABLE users RENAME TO members;\n",
         "ALTER TABLE users RENAME TO members;\nCREATE VIEW users AS SELECT * FROM members;\n",
         contains='Renaming table "users" to "members"'),
    Case("BC102", USERS, "ALTER TABLE users RENAME COLUMN email TO mail;\n",
         "ALTER TABLE users RENAME COLUMN email TO mail;\nALTER TABLE users ADD COLUMN email VARCHAR(50);\n",
         contains='Renaming column "email" to "mail"'),
    Case("MY101", USERS, "ALTER TABLE users ADD COLUMN score INT NOT NULL;\n",
         "ALTER TABLE users ADD COLUMN score INT NOT NULL;\nUPDATE users SET score = age;\n",
         dialects=("mysql",), contains='column "score" on table "users" without a default value implicitly sets '
                                       "existing rows with 0"),
    # PostgreSQL locks: each safe variant is the sequence the message recommends.
    Case("PG101", USERS, "CREATE INDEX users_age ON users (age);\n",
         "-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY users_age ON users (age);\n",
         dialects=("postgresql",), contains='Creating index "users_age" non-concurrently takes a SHARE lock'),
    Case("PG102", USERS + "CREATE INDEX users_age ON users (age);\n", "DROP INDEX users_age;\n",
         "-- atlas:txmode none\n\nDROP INDEX CONCURRENTLY users_age;\n",
         dialects=("postgresql",), contains="non-concurrently takes an ACCESS EXCLUSIVE lock"),
    Case("PG103", USERS, "CREATE INDEX CONCURRENTLY users_age ON users (age);\n",
         "-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY users_age ON users (age);\n",
         dialects=("postgresql",), contains="atlas:txmode none"),
    Case("PG104", USERS, "ALTER TABLE users ALTER COLUMN age TYPE BIGINT;\n",
         "ALTER TABLE users ALTER COLUMN email TYPE VARCHAR(100);\n",
         dialects=("postgresql",), contains='(integer -> bigint) rewrites table "users"'),
    Case("PG105", USERS, "ALTER TABLE users ADD COLUMN salt FLOAT DEFAULT random();\n",
         "ALTER TABLE users ADD COLUMN level INT DEFAULT 1;\n",
         dialects=("postgresql",), contains="volatile DEFAULT random() rewrites table"),
    Case("PG106", USERS, "ALTER TABLE users ALTER COLUMN age SET NOT NULL;\n",
         "ALTER TABLE users ADD CONSTRAINT age_nn CHECK (age IS NOT NULL) NOT VALID;\n"
         "ALTER TABLE users VALIDATE CONSTRAINT age_nn;\nALTER TABLE users ALTER COLUMN age SET NOT NULL;\n"
         "ALTER TABLE users DROP CONSTRAINT age_nn;\n",
         dialects=("postgresql",), line=0, contains="under an ACCESS EXCLUSIVE lock"),
    Case("PG107", PARENT_CHILD["postgresql"] + "ALTER TABLE c ADD COLUMN q_id INT;\n",
         "ALTER TABLE c ADD CONSTRAINT c_q_fk FOREIGN KEY (q_id) REFERENCES p (id);\n",
         "ALTER TABLE c ADD CONSTRAINT c_q_fk FOREIGN KEY (q_id) REFERENCES p (id) NOT VALID;\n"
         "ALTER TABLE c VALIDATE CONSTRAINT c_q_fk;\n",
         dialects=("postgresql",), contains="SHARE ROW EXCLUSIVE"),
    Case("PG108", USERS, "ALTER TABLE users ADD CONSTRAINT users_code_key UNIQUE (code);\n",
         "-- atlas:txmode none\n\nCREATE UNIQUE INDEX CONCURRENTLY users_code_key ON users (code);\n"
         "ALTER TABLE users ADD CONSTRAINT users_code_key UNIQUE USING INDEX users_code_key;\n",
         dialects=("postgresql",), contains="builds its index under an ACCESS EXCLUSIVE lock"),
    Case("PG109", USERS, "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0);\n",
         "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0) NOT VALID;\n"
         "ALTER TABLE users VALIDATE CONSTRAINT age_positive;\n",
         dialects=("postgresql",), contains="add it with NOT VALID"),
]

PARAMS = [pytest.param(case, dialect, id=f"{case.code}-{dialect}") for case in CASES for dialect in case.dialects]


@pytest.fixture
def dev_for(request: pytest.FixtureRequest):  # noqa: ANN201
    def get(dialect: str) -> DevDatabase:
        return request.getfixturevalue({"sqlite": "sqlite_dev", "postgresql": "pg_dev", "mysql": "mysql_dev"}[dialect])
    return get


def lint_last(dev: DevDatabase, root: Path, *files: str, config: LintConfig | None = None) -> LintResult:
    """Write the files as a directory and lint its last file."""
    directory = MigrationDir(root)
    root.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(files):
        (root / f"2024010100000{i}_f{i}.sql").write_text(text)
    base, chosen = select_files(directory.files(), latest=1)
    return lint_files(dev, base, chosen, config or LintConfig())


@pytest.mark.parametrize(("case", "dialect"), PARAMS)
def test_code(case: Case, dialect: str, dev_for, tmp_path: Path) -> None:  # noqa: ANN001
    dev = dev_for(dialect)
    base = case.sql(case.base, dialect)
    bad = lint_last(dev, tmp_path / "bad", base, case.sql(case.bad, dialect))
    hits = [f for f in bad.findings if f.code == case.code]
    assert hits, f"{case.code} not reported on {dialect}: {[(f.code, f.message) for f in bad.findings]}"
    assert case.contains in hits[0].message
    if case.line:
        assert hits[0].line == case.line
    assert hits[0].error == (case.code.startswith("DS"))  # destructive errors by default, the rest warns
    good = lint_last(dev, tmp_path / "good", base, case.sql(case.good, dialect))
    assert case.code not in {f.code for f in good.findings}, [(f.code, f.message) for f in good.findings]


def test_my102_only_where_the_engine_ignores_inline_references(mysql_dev: DevDatabase, tmp_path: Path) -> None:
    """MariaDB 10.5+ (our server) creates the key for an inline REFERENCES: no finding. MySQL 8 ignores it:
    the analyzer sees no foreign key after the statement and reports MY102 (shown on the same statement
    with the key taken away, as MySQL 8 leaves it)."""
    from dataclasses import replace

    from atlembic.lint.model import FileContext
    from atlembic.lint.mysql import InlineReferences, inline_references

    sql = "CREATE TABLE posts (id INT PRIMARY KEY, user_id INT REFERENCES users (id), title TEXT);\n"
    result = lint_last(mysql_dev, tmp_path / "m", USERS, sql)
    assert "MY102" not in {f.code for f in result.findings}
    assert inline_references(sql) == ("posts", ["user_id"])
    assert inline_references("ALTER TABLE posts ADD COLUMN editor_id INT REFERENCES users (id), ADD x INT") == (
        "posts", ["editor_id"])
    assert inline_references("CREATE TABLE t (a INT, FOREIGN KEY (a) REFERENCES u (id))") == ("t", [])

    # The same statement on an engine that drops the key: the step's resulting table has no foreign key.
    from atlembic.lint.runner import file_steps

    with mysql_dev.clean_database() as engine, engine.connect() as conn:
        conn.exec_driver_sql(USERS)
        file = MigrationDir(tmp_path / "m").files()[-1]
        start, steps, statements = file_steps(conn, file, "mysql")
    ignored = [replace(s, after=replace(s.after, tables=tuple(
        replace(t, foreign_keys=()) for t in s.after.tables))) for s in steps]
    ctx = FileContext(file.name, file.name, "mysql", start, ignored, statements, file)
    [diag] = list(InlineReferences().run(ctx))
    assert diag.code == "MY102" and 'column "user_id" on table "posts" with inline REFERENCES' in diag.message


def test_pg103_only_for_what_postgresql_refuses_in_a_transaction() -> None:
    from atlembic.lint.postgresql import _NO_TX

    assert _NO_TX.match("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)") and _NO_TX.match("drop index concurrently i")
    assert _NO_TX.match("REINDEX INDEX CONCURRENTLY i")
    assert not _NO_TX.match("REFRESH MATERIALIZED VIEW CONCURRENTLY v")  # allowed in a transaction block
    assert not _NO_TX.match("CREATE INDEX i ON t (a)")
