"""Which files of the directory still have to run on a target, given its revisions (Atlas's rules)."""

from __future__ import annotations

from collections.abc import Sequence

from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationFile
from atlembic.migrate.revisions import Revision


def pending_files(
    files: Sequence[MigrationFile],
    revisions: Sequence[Revision],
    dirty: str | None,
    *,
    baseline: str | None = None,
    allow_dirty: bool = False,
) -> list[MigrationFile]:
    """Files to apply, in order.

    `dirty` names a table that exists in a target without revisions (None: the target is clean).
    """
    if baseline and allow_dirty:
        raise AtlembicError("--baseline and --allow-dirty are mutually exclusive")
    if not revisions:
        if baseline is not None:
            matches = [i for i, f in enumerate(files) if f.version == baseline and not f.is_checkpoint]
            index = matches[-1] if matches else None
            if index is None:
                raise AtlembicError(f'baseline version "{baseline}" not found in the migration directory')
            return list(files[index + 1 :])
        if dirty and not allow_dirty:
            raise AtlembicError(
                f'the target database is not clean: found table "{dirty}" but no revisions; '
                "pass --baseline VERSION (the directory file it already matches) or --allow-dirty"
            )
        checkpoints = [i for i, f in enumerate(files) if f.is_checkpoint]
        return list(files[checkpoints[-1] :] if checkpoints else files)
    last = revisions[-1]
    by_version = {f.version: f for f in files}
    if not last.done:
        if last.version not in by_version:
            raise AtlembicError(
                f'missing migration: revision "{last.version}" is partially applied '
                "but its file was not found"
            )
        start = [f for f in files if f.version == last.version]
        return start + [f for f in files if f.version > last.version and not f.is_checkpoint]
    recorded = {r.version for r in revisions}
    first = revisions[0].version
    for f in files:
        if first < f.version < last.version and f.version not in recorded and not f.is_checkpoint:
            raise AtlembicError(
                f"migration file {f.name} was added out of order: its version is older than the last "
                f"applied one ({last.version}); rename it to a newer version"
            )
    return [f for f in files if f.version > last.version and not f.is_checkpoint]
