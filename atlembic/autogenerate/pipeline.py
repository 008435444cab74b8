"""The planning pipeline: desired state from the models, current state from the directory, both
normalized by the same dev database; their diff planned as SQL and verified before anyone sees it.

    models ──provider──▶ DDL ──dev DB──▶ inspect ──▶ desired
    directory ──replay on dev DB──▶ inspect ──▶ current
    diff(current, desired) ──plan──▶ statements ──verify on dev DB──▶ must reach desired
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from atlembic import replay_cache
from atlembic.devdb import DevDatabase
from atlembic.diff import Renames, SchemaDiff, diff_schemas
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationFile, render_migration
from atlembic.migrate.executor import StatementError, run_replay
from atlembic.migrate.transactions import autocommit
from atlembic.plan.base import PlannedStatement, planner_for
from atlembic.provider import mark_engine_named, metadata_ddl
from atlembic.schema.inspect import inspect_schema
from atlembic.schema.model import Schema


@dataclass
class Timings:
    """Seconds spent per stage, for `-v` output and the benchmarks."""

    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - start


@dataclass
class Plan:
    diff: SchemaDiff
    statements: list[PlannedStatement]
    directives: list[str] = field(default_factory=list)  # file header, e.g. "atlas:txmode none"

    def render(self) -> str:
        return render_migration([(s.comment, s.sql) for s in self.statements], self.directives)


def desired_schema(dev: DevDatabase, metadata: sa.MetaData, timings: Timings | None = None) -> Schema:
    """Create the models on a clean dev database and read back what the engine made of them."""
    return desired_schema_keyed(dev, metadata, timings)[0]


def desired_schema_keyed(
    dev: DevDatabase, metadata: sa.MetaData, timings: Timings | None = None
) -> tuple[Schema, str | None]:
    """`desired_schema` and the replay-cache key it is kept under (None: not cached)."""
    timings = timings or Timings()
    with timings.stage("provider"):
        statements = metadata_ddl(metadata, dev.dialect_name)
    key = replay_cache.desired_key(statements, dev.dialect_name, replay_cache.dev_identity(dev))
    cached = replay_cache.load_desired(key)
    if cached is not None:
        return cached, key
    with dev.clean_database() as engine, engine.connect() as raw:
        conn = autocommit(raw)
        with timings.stage("load models"):
            if not _load_batch(conn, statements):
                _load_each(conn, statements)
        with timings.stage("inspect"):
            desired = mark_engine_named(inspect_schema(conn), metadata)
    replay_cache.save_desired(key, desired, len(statements))
    return desired, key


def _load_batch(conn: sa.Connection, statements: Sequence[str]) -> bool:
    """PostgreSQL: all statements in one round trip and one transaction (a third less time than a call per
    statement at a thousand tables). False when it failed (and rolled back) or does not apply."""
    if conn.dialect.name != "postgresql" or len(statements) < 2:
        return False
    try:
        conn.exec_driver_sql("BEGIN")
        conn.exec_driver_sql("\n;\n".join(statements))
        conn.exec_driver_sql("COMMIT")
    except Exception:  # e.g. CREATE INDEX CONCURRENTLY: run them one by one, which names the culprit
        conn.exec_driver_sql("ROLLBACK")
        return False
    return True


def _load_each(conn: sa.Connection, statements: Sequence[str]) -> None:
    for sql in statements:
        try:
            conn.exec_driver_sql(sql)
        except Exception as exc:
            first = " ".join(sql.split())[:120]
            raise AtlembicError(f'models: the dev database rejected "{first}": {exc}') from exc


def replay_schema(
    dev: DevDatabase, files: Sequence[MigrationFile], timings: Timings | None = None
) -> Schema:
    """Replay migration files on a clean dev database and read back the resulting schema.

    Through the replay cache: an unchanged directory's schema is read from it without a dev database,
    and a replay starts from the longest cached prefix of `files` (see atlembic.replay_cache).
    """
    timings = timings or Timings()
    identity = replay_cache.dev_identity(dev)
    cached = replay_cache.load_schema(files, dev.dialect_name, identity)
    if cached is not None:
        return cached
    with ExitStack() as stack:
        with timings.stage("replay"):
            engine = stack.enter_context(_directory_state(dev, files, keep=True))
        with engine.connect() as conn, timings.stage("inspect"):
            current = inspect_schema(conn)
    replay_cache.save_schema(files, dev.dialect_name, identity, current)
    return current


@contextmanager
def _directory_state(dev: DevDatabase, files: Sequence[MigrationFile], *, keep: bool = False) -> Iterator[sa.Engine]:
    """A clean dev database holding the directory's state (`replay_cache.replayed_database`)."""
    try:
        with replay_cache.replayed_database(dev, files, keep=keep) as engine:
            yield engine
    except StatementError as exc:
        raise AtlembicError(f"replaying the migration directory failed: {exc}") from exc


def plan_changes(
    current: Schema,
    desired: Schema,
    dialect: str,
    timings: Timings | None = None,
    renames: Renames | None = None,
) -> Plan:
    timings = timings or Timings()
    with timings.stage("diff"):
        diff = diff_schemas(current, desired, renames)
    if not diff:
        return Plan(diff, [])
    with timings.stage("plan"):
        planner = planner_for(dialect)
        statements = planner.plan(diff)
    return Plan(diff, statements, planner.directives)


def verify_plan(
    dev: DevDatabase,
    files: Sequence[MigrationFile],
    plan: Plan,
    desired: Schema,
    timings: Timings | None = None,
) -> None:
    """Replay the directory plus the planned file on a clean dev database; it must reach `desired`.

    The planned file goes through the same splitter as any other file, so what is verified is the
    exact text that will be written.
    """
    timings = timings or Timings()
    planned = MigrationFile(name="99999999999999_planned.sql", path=Path("planned.sql"),
                            content=plan.render().encode())
    with timings.stage("verify"):
        # The directory's state comes from the replay cache when it holds it; the planned file always
        # runs, and is never cached (it is not in the directory yet).
        with _directory_state(dev, files) as engine:
            try:
                run_replay(engine, [planned], dev.dialect_name, may_have_rows=True)
            except (StatementError, AtlembicError) as exc:
                raise AtlembicError(f"the planned migration does not apply on the dev database: {exc}") from exc
            with engine.connect() as conn:
                reached = inspect_schema(conn)
        remaining = diff_schemas(reached, desired)
    if remaining:
        detail = "; ".join(remaining.describe())
        raise AtlembicError(f"the planned migration does not reach the models' schema; remaining: {detail}")
