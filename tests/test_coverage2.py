"""Issue 14 beyond the round-trip corpus: what a round trip cannot see by itself.

* PostgreSQL re-spells a CHECK each time it parses its own output; the canonical spelling must be a fixpoint.
* SQLite keeps an expression index's text as written: parentheses around the whole part say nothing.
* SERIAL -> IDENTITY (and back): the key must continue after the rows' values (an insert after the upgrade works).
* A string default with `%` planned, applied and read back on every engine, byte for byte.
* lint with the target's data: a partial unique index is checked on the rows its WHERE selects.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from atlembic.config import load_settings
from atlembic.lint import lint_directory
from atlembic.migrate.directory import MigrationDir
from atlembic.schema.postgresql import canonical_check
from atlembic.schema.sqltext import unwrap
from tests.support.cases import build_cases, mysql_only_cases, users
from tests.support.roundtrip import metadata_of, plan_and_write, reflect, run_round_trip


def _case(case_id: str, dialect: str):  # type: ignore[no-untyped-def]
    return next(c for c in build_cases() if c.id == case_id and dialect in c.dialects)


# -- pure ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stored", [
    "(status)::text = ANY ((ARRAY['new'::character varying, 'done'::character varying])::text[])",
    "(status)::text = ANY (ARRAY[('new'::character varying)::text, ('done'::character varying)::text])",
    "(status)::text = ANY (ARRAY['new'::text, 'done'::text])",
])
def test_canonical_check_is_one_spelling_for_what_postgresql_re_spells(stored: str) -> None:
    assert canonical_check(stored) == "(status)::text = ANY (ARRAY['new'::text, 'done'::text])"


def test_canonical_check_leaves_other_expressions_alone() -> None:
    for text in ("n = ANY (ARRAY[1, 2])", "score >= 0", "(kind)::text = 'it''s'::text"):
        assert canonical_check(text) == text
    assert canonical_check("s::text = ANY (ARRAY['it''s'::character varying]::text[])") == \
        "s::text = ANY (ARRAY['it''s'::text])"


def test_unwrap_strips_only_parentheses_around_the_whole_part() -> None:
    assert unwrap("((lower(email)))") == "lower(email)"
    assert unwrap("(a) + (b)") == "(a) + (b)"
    assert unwrap("(')(')") == "')('"


# -- on the engines -----------------------------------------------------------------------------------


@pytest.mark.slow  # a PostgreSQL round trip
@pytest.mark.parametrize("name", ["serial-to-identity", "identity-to-serial"])
def test_a_key_made_identity_or_serial_continues_after_the_existing_rows(pg_env, tmp_path: Path,  # noqa: ANN001
                                                                        name: str) -> None:
    dev, url = pg_env()
    case = _case(name, "postgresql")
    run_round_trip(dev, url, tmp_path, case.a, case.b, case.rows)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            new_id = conn.execute(sa.text("INSERT INTO users (name) VALUES ('cy') RETURNING id")).scalar_one()
            sequences = conn.execute(sa.text("SELECT relname FROM pg_class WHERE relkind = 'S'")).scalars().all()
    finally:
        engine.dispose()
    assert new_id == max(r["id"] for r in case.rows["users"]) + 1
    assert sequences == ["users_id_seq"]  # one sequence: the old kind's is gone


def _percent_default(dev, url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    case = _case("string-default-with-percent", dev.dialect_name)
    run_round_trip(dev, url, tmp_path, case.a, case.b, case.rows)
    default = reflect(url).table("users").column("name").default  # type: ignore[union-attr]
    assert default is not None and "100% sure" in default and "%%" not in default


def test_percent_default_sqlite(sqlite_env, tmp_path: Path) -> None:  # noqa: ANN001
    _percent_default(*sqlite_env(tmp_path), tmp_path)


@pytest.mark.slow
def test_percent_default_postgresql(pg_env, tmp_path: Path) -> None:  # noqa: ANN001
    _percent_default(*pg_env(), tmp_path)


@pytest.mark.slow
def test_percent_default_mysql(mysql_env, tmp_path: Path) -> None:  # noqa: ANN001
    _percent_default(*mysql_env(), tmp_path)


def _partial_unique_lint(dev, url: str, tmp_path: Path, where: dict[str, sa.TextClause]) -> list[str]:  # type: ignore[no-untyped-def]
    """Lint (with the target's rows) a new partial unique index over duplicates its WHERE leaves out; then
    one over duplicates it keeps."""
    from atlembic import commands

    directory = MigrationDir(tmp_path / "migrations")
    settings = load_settings(None, url=url, directory=directory.path)
    assert plan_and_write(dev, directory, metadata_of(users()), "a") is not None
    commands.upgrade(settings)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO users (id, name, score) VALUES (1, 'ann', 3), (2, 'ann', 0), (3, 'bob', 1)"))
    engine.dispose()
    found = []
    for name, predicate in where.items():
        model = users(sa.Index(name, "name", unique=True, **{f"{dev.dialect_name}_where": predicate}))
        assert plan_and_write(dev, directory, metadata_of(model), name) is not None
        result = lint_directory(settings, latest=1, url=url)
        found += [f"{name}: {f.code} {'fails' if f.error else 'warns'}" for f in result.findings]
        next(directory.path.glob(f"*_{name}.sql")).unlink()  # the next index is planned from A again
        directory.write_sum()
    return found


def test_partial_unique_index_is_checked_under_its_where_sqlite(sqlite_env, tmp_path: Path) -> None:  # noqa: ANN001
    dev, url = sqlite_env(tmp_path)
    found = _partial_unique_lint(dev, url, tmp_path, {"ix_scored": sa.text("score > 0"),
                                                      "ix_all": sa.text("score >= 0")})
    # Under its WHERE the duplicate 'ann' (score 0) is left out: checked, no finding; over every row it fails.
    assert found == ["ix_all: MF101 fails"]


@pytest.mark.mysql
def test_a_table_auto_increment_start_is_raised_never_lowered(mysql_env, tmp_path: Path) -> None:  # noqa: ANN001
    """MySQL's AUTO_INCREMENT=N of the models: the next row after the upgrade gets N; a table whose rows
    moved its counter past N keeps counting from its rows (the plan only ever raises it)."""
    dev, url = mysql_env()
    case = next(c for c in mysql_only_cases() if c.id == "table-auto-increment-start")
    run_round_trip(dev, url, tmp_path, case.a, case.b, case.rows)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO users (name) VALUES ('cy')"))
            assert conn.execute(sa.text("SELECT max(id) FROM users")).scalar_one() == 1000
    finally:
        engine.dispose()
    dev, url = mysql_env()
    past = [*case.rows["users"], {"id": 5000, "name": "zed", "score": 1}]
    run_round_trip(dev, url, tmp_path / "past", case.a, case.b, {"users": past})
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO users (name) VALUES ('cy')"))
            assert conn.execute(sa.text("SELECT max(id) FROM users")).scalar_one() == 5001
    finally:
        engine.dispose()
