"""One function per CLI command, in the manner of Alembic's command.py: each wires the stages
together and returns what happened; printing is the CLI's job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from atlembic import autogenerate
from atlembic.autogenerate import Plan, Timings
from atlembic.config import Settings, load_target_metadata, redact_url
from atlembic.devdb import open_dev_database
from atlembic.diff import RenameCandidate, rename_candidates
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir, MigrationFile
from atlembic.migrate.executor import AppliedFile, apply_files
from atlembic.migrate.pending import pending_files
from atlembic.migrate.revisions import TABLE as REVISIONS_TABLE
from atlembic.migrate.revisions import Revision, RevisionStore
from atlembic.migrate.transactions import autocommit
from atlembic.provider import load_models_path, metadata_ddl, rename_hints


@dataclass
class PlanOutcome:
    """What `revision --autogenerate` and `check` found."""

    plan: Plan
    dev_description: str
    timings: Timings = field(default_factory=Timings)
    path: Path | None = None
    # Drop + add pairs that might be renames nobody confirmed: planned as drop + add, said so.
    unconfirmed_renames: list[RenameCandidate] = field(default_factory=list)


def _directory(settings: Settings) -> MigrationDir:
    directory = MigrationDir(settings.migrations_dir)
    directory.check_sum()
    return directory


def plan(
    settings: Settings, *, verify: bool = True, confirm_rename: Callable[[str], bool] | None = None
) -> PlanOutcome:
    """Plan the changes that take the directory's state to the models' state.

    Renames come from the models' `renamed_from` hints; a drop + add that looks like a rename is put
    to `confirm_rename` (the CLI asks on a terminal, as Atlas does) and otherwise left as drop + add.
    """
    directory = _directory(settings)
    timings = Timings()
    with timings.stage("load metadata"):
        metadata = load_target_metadata(settings)
    renames = rename_hints(metadata)
    files = directory.files_from_last_checkpoint()
    with timings.stage("dev database start"):
        dev = open_dev_database(settings.dialect, settings.dev_url)
    with dev:
        desired = autogenerate.desired_schema(dev, metadata, timings)
        current = autogenerate.replay_schema(dev, files, timings)
        result = autogenerate.plan_changes(current, desired, dev.dialect_name, timings, renames)
        candidates = rename_candidates(result.diff)
        confirmed = [c for c in candidates if confirm_rename is not None and confirm_rename(c.question)]
        for candidate in confirmed:
            renames = renames.merged(candidate.as_renames())
        if confirmed:
            result = autogenerate.plan_changes(current, desired, dev.dialect_name, timings, renames)
        if result.statements and verify:
            autogenerate.verify_plan(dev, files, result, desired, timings)
        unconfirmed = [c for c in candidates if c not in confirmed]
        return PlanOutcome(result, dev.description, timings, unconfirmed_renames=unconfirmed)


def revision(
    settings: Settings,
    message: str | None,
    *,
    autogenerate: bool = False,
    rev_id: str | None = None,
    confirm_rename: Callable[[str], bool] | None = None,
) -> PlanOutcome | Path:
    """Write the next migration file: planned from the models, or empty to fill in by hand."""
    directory = _directory(settings)
    name = directory.new_file_name(message or "", version=rev_id)
    if not autogenerate:
        return directory.write_migration(name, "")
    outcome = plan(settings, confirm_rename=confirm_rename)
    if outcome.plan.statements:
        with outcome.timings.stage("write"):
            outcome.path = directory.write_migration(name, outcome.plan.render())
    return outcome


def check(settings: Settings) -> PlanOutcome:
    """Plan without writing; the CLI fails when anything is planned."""
    return plan(settings, verify=False)


def _target_engine(settings: Settings) -> sa.Engine:
    if not settings.url:
        raise AtlembicError("no target database: set sqlalchemy.url in alembic.ini or pass --url")
    try:
        return sa.create_engine(settings.url, poolclass=sa.pool.NullPool)
    except Exception as exc:
        raise AtlembicError(f"cannot use database URL {redact_url(settings.url)}: {exc}") from exc


def _dirty_table(conn: sa.Connection) -> str | None:
    names = [n for n in sa.inspect(conn).get_table_names() if n != REVISIONS_TABLE]
    return sorted(names)[0] if names else None


def _select_target(files: list[MigrationFile], target: str) -> list[MigrationFile]:
    """Apply `head`, the next `+N` files, or everything up to a version (or unique prefix)."""
    if target in ("head", "heads"):
        return files
    if target.startswith("+") and target[1:].isdigit():
        return files[: int(target[1:])]
    matches = [i for i, f in enumerate(files) if f.version.startswith(target)]
    exact = [i for i, f in enumerate(files) if f.version == target]
    if exact:
        return files[: exact[0] + 1]
    if len(matches) == 1:
        return files[: matches[0] + 1]
    if len(matches) > 1:
        names = ", ".join(repr(files[i].version) for i in matches)
        raise AtlembicError(f"Multiple revisions start with '{target}': {names}")
    raise AtlembicError(f"Can't locate revision identified by '{target}' among the pending files")


@dataclass
class UpgradeOutcome:
    url: str
    applied: list[AppliedFile]
    pending: list[MigrationFile]


def upgrade(settings: Settings, target: str = "head", *, baseline: str | None = None,
            allow_dirty: bool = False) -> UpgradeOutcome:
    """Apply pending migration files to the target database, recording each one."""
    directory = _directory(settings)
    files = directory.files()
    hashes = dict(directory.compute_sum().rows)
    engine = _target_engine(settings)
    try:
        with engine.connect() as raw:
            conn = autocommit(raw)
            store = RevisionStore(conn)
            revisions = store.read_all()
            dirty = None if revisions else _dirty_table(conn)
            pending = pending_files(files, revisions, dirty, baseline=baseline, allow_dirty=allow_dirty)
            chosen = _select_target(pending, target)
            store.ensure()
            if baseline is not None and not revisions:
                base = next(f for f in files if f.version == baseline)
                store.write(Revision(version=base.version, description=base.description, type=1))
            existing = {r.version: r for r in revisions}
            applied = apply_files(conn, store, chosen, engine.dialect.name, hashes, existing)
            return UpgradeOutcome(redact_url(settings.url or ""), applied, chosen)
    except sa.exc.OperationalError as exc:
        raise AtlembicError(f"cannot connect to {redact_url(settings.url or '')}: {exc.orig}") from exc
    finally:
        engine.dispose()


def current(settings: Settings) -> list[Revision]:
    """The revisions recorded on the target, oldest first (read-only: creates nothing)."""
    engine = _target_engine(settings)
    try:
        with engine.connect() as conn:
            return RevisionStore(conn).read_all()
    finally:
        engine.dispose()


def hash_directory(settings: Settings) -> Path:
    """Recompute atlas.sum from the files (after a hand edit)."""
    directory = MigrationDir(settings.migrations_dir)
    directory.write_sum()
    return directory.path / "atlas.sum"


def provider(path: Path, dialect: str) -> str:
    """The models under `path` as DDL, as atlas-provider-sqlalchemy prints them."""
    statements = metadata_ddl(load_models_path(path), dialect)
    return "".join(f"{s};\n" for s in statements)
