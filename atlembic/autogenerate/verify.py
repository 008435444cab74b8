"""Verification: the directory plus the planned file, replayed on a clean dev database, must reach the
models' schema before the file is written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from atlembic.autogenerate.current import directory_state
from atlembic.autogenerate.plan import Plan
from atlembic.devdb import DevDatabase
from atlembic.diff import diff_schemas
from atlembic.engines import engine_for, inspect_schema
from atlembic.errors import AtlembicError
from atlembic.migrate import executor
from atlembic.migrate.directory import MigrationFile
from atlembic.migrate.executor import StatementError
from atlembic.schema.model import Schema
from atlembic.timings import Timings


def verify_plan(
    dev: DevDatabase,
    files: Sequence[MigrationFile],
    plan: Plan,
    desired: Schema,
    timings: Timings | None = None,
    keep: Callable[[Schema, Schema], tuple[Schema, Schema]] | None = None,
) -> None:
    """Replay the directory plus the planned file on a clean dev database; it must reach `desired`.

    The planned file goes through the same splitter as any other file, so what is verified is the
    exact text that will be written. `keep` leaves out of the comparison what the plan left alone (env.py's
    filters: `atlembic.environment.SchemaFilter.compare`).
    """
    timings = timings or Timings()
    planned = MigrationFile(name="99999999999999_planned.sql", path=Path("planned.sql"),
                            content=plan.render().encode())
    with timings.stage("verify"):
        # The directory's state comes from the replay cache when it holds it; the planned file always
        # runs, and is never cached (it is not in the directory yet).
        with directory_state(dev, files) as engine:
            try:
                executor.run_replay(engine, [planned], engine_for(dev.dialect_name), may_have_rows=True)
            except (StatementError, AtlembicError) as exc:
                raise not_applied(exc) from exc
            with engine.connect() as conn:
                reached = inspect_schema(conn)
        check_reached(reached, desired, keep)


def not_applied(error: AtlembicError) -> AtlembicError:
    """The verification's error for a planned file whose statement `error` failed on the dev database."""
    return AtlembicError(f"the planned migration does not apply on the dev database: {error}")


def check_reached(
    reached: Schema, desired: Schema, keep: Callable[[Schema, Schema], tuple[Schema, Schema]] | None = None
) -> None:
    """The schema the planned file left on the dev database must equal `desired` (after `keep`, see
    `verify_plan`); otherwise an error naming what remains."""
    if keep is not None:
        reached, desired = keep(reached, desired)
    remaining = diff_schemas(reached, desired)
    if remaining:
        detail = "; ".join(remaining.describe())
        raise AtlembicError(f"the planned migration does not reach the models' schema; remaining: {detail}")
