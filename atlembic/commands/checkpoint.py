"""checkpoint (Atlas's ``migrate checkpoint``): the directory's whole schema as one checkpoint file.

The directory is replayed on a clean dev database (from its last checkpoint, through the replay cache), the
replayed schema is planned from an empty database as one file headed ``-- atlas:checkpoint [TAG]``, that exact
text is run on another clean dev database and must reach the same schema, and only then are the file and
atlas.sum written. A database without revisions then starts at the checkpoint (`files_to_reach`); one that has
revisions skips it (`migrate.pending`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from atlembic import autogenerate
from atlembic.autogenerate.current import directory_state
from atlembic.autogenerate.plan import Plan
from atlembic.config import Settings
from atlembic.diff import diff_schemas
from atlembic.engines import inspect_schema
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationFile, Statements
from atlembic.migrate.history import check_rev_id
from atlembic.replay.lazy import LazyDevDatabase
from atlembic.schema.model import Schema
from atlembic.timings import Timings

__all__ = ["CheckpointOutcome", "checkpoint"]

# The file name after the version, as Atlas names its checkpoint files (`<version>_checkpoint.sql`).
CHECKPOINT_NAME = "checkpoint"


@dataclass
class CheckpointOutcome:
    """The written checkpoint file, how many files it stands for, and the dev database it was verified on."""

    path: Path
    replaced: int
    statements: int
    dev_description: str
    timings: Timings = field(default_factory=Timings)


def checkpoint(settings: Settings, tag: str | None = None, *, rev_id: str | None = None) -> CheckpointOutcome:
    """Write a checkpoint file holding the schema the directory's files build (`tag`: the directive's argument,
    Atlas's ``migrate checkpoint [TAG]``), verified on a clean dev database; atlas.sum rewritten with it."""
    if tag is not None and not re.fullmatch(r"[!-~]+", tag):
        raise AtlembicError(f"checkpoint tag {tag!r}: one word of printable ASCII characters")
    directory = settings.migration_dir().checked()
    files = directory.files_from_last_checkpoint()
    if not files:
        raise AtlembicError(f"{directory.path}: no migration files to checkpoint")
    if rev_id is not None:
        check_rev_id(rev_id, [f.version for f in directory.files()])
    name = directory.new_file_name(CHECKPOINT_NAME, version=rev_id)
    timings = Timings()
    with LazyDevDatabase(settings.dialect, settings.dev_url, timings, files) as dev:
        replayed = autogenerate.replay_schema(dev, files, timings)
        if replayed.is_empty:
            raise AtlembicError(f"{directory.path}: the migration files build an empty schema: nothing to checkpoint")
        plan = autogenerate.plan_changes(Schema(), replayed, dev.dialect_name, timings)
        content = _statements(plan, tag, settings.indent)
        with timings.stage("verify"):
            _verify(dev, directory.new_migration(name, content), replayed)
        with timings.stage("write"):
            path = directory.write_migration(name, content)
        return CheckpointOutcome(path, len(files), len(plan.statements), dev.description, timings)


def _statements(plan: Plan, tag: str | None, indent: str | None) -> Statements:
    directives = [f"checkpoint {tag}" if tag else "checkpoint", *plan.directives]
    return Statements(plan.changes(), (), directives, indent)


def _verify(dev: LazyDevDatabase, file: MigrationFile, replayed: Schema) -> None:
    """The checkpoint's exact text, run alone on a clean dev database, must build the replayed schema."""
    try:
        with directory_state(dev, [file]) as engine, engine.connect() as conn:
            reached = inspect_schema(conn)
    except AtlembicError as exc:
        raise AtlembicError(f"the checkpoint does not apply on a clean dev database: {exc}; nothing was written") \
            from exc
    remaining = diff_schemas(reached, replayed)
    if remaining:
        raise AtlembicError("the checkpoint does not build the directory's schema on a clean dev database; "
                            f"remaining: {'; '.join(remaining.describe())}; nothing was written")
