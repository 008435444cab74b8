"""Which files of the directory still have to run on a target, given its revisions (Atlas's rules), and
whether an applied file changed since."""

from __future__ import annotations

from collections.abc import Sequence

from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationFile
from atlembic.migrate.revisions import TYPE_BASELINE, Revision
from atlembic.migrate.sumfile import compute_sum


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
                f"applied one ({last.version}); run `atlembic rebase {f.version}` to move it after the latest "
                "version"
            )
    return [f for f in files if f.version > last.version and not f.is_checkpoint]


def history_changed(files: Sequence[MigrationFile], revisions: Sequence[Revision]) -> str | None:
    """The problem with the first applied file whose content changed after it was applied (and was then
    re-hashed), as `status` reports it and `upgrade` refuses it; None when every applied file is as it ran.

    A revision stores its file's atlas.sum row, a running hash over the names and bytes of every file up
    to it, so a file merged in between applied ones later (a branch, atlas.sum regenerated) changes the row
    of every file after it although none of them changed. A row is therefore compared with the running
    hash over the directory as it is and over the directory without the files that no revision records
    and that sort between the recorded ones (the ones inserted since): only a file that is really edited
    (or an edited file before it) matches neither. A file merged in before the first recorded one is
    taken for an edit of the first: nothing tells it from a file that was there before a baseline.
    """
    recorded = {r.version for r in revisions}
    if not recorded:
        return None
    first, last = min(recorded), max(recorded)
    inserted = {f.name for f in files if f.version not in recorded and first < f.version < last}
    current = dict(compute_sum([(f.name, f.content) for f in files]).rows)
    before_inserts = dict(compute_sum([(f.name, f.content) for f in files if f.name not in inserted]).rows) \
        if inserted else current
    by_version = {f.version: f for f in files}
    for rev in revisions:
        file = by_version.get(rev.version)
        # A partially applied file may be fixed after the statement that failed (the executor compares the
        # statements that did run).
        if rev.type == TYPE_BASELINE or not rev.hash or file is None or not rev.done:
            continue
        if rev.hash not in (current.get(file.name), before_inserts.get(file.name)):
            return (f"history changed: {file.name} was changed after it was applied (its hash no longer matches "
                    "the revisions table; restore the file, or revert the change in a new migration)")
    return None
