"""``atlembic rebase VERSION...`` (Atlas's ``migrate rebase``): after a merge brought in a migration file whose
version sorts before files already applied elsewhere, give it (and the others named) new versions after the
latest one, the name part kept; rewrite atlas.sum; verify on the dev database that the directory replays
and still reaches the models. A verification that fails puts every name and atlas.sum back."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from atlembic.commands.plan import check
from atlembic.commands.report import validate
from atlembic.config import Settings
from atlembic.errors import AtlembicError, plural
from atlembic.migrate.directory import VERSION_FORMAT, MigrationFile, atomic_write

__all__ = ["RebaseOutcome", "rebase"]


@dataclass
class RebaseOutcome:
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old name, new name), in the new order
    dev_description: str = ""
    models_checked: bool = False  # the directory was compared with the models (else: replayed only)


def _chosen(files: Sequence[MigrationFile], versions: Sequence[str]) -> list[MigrationFile]:
    """The files `versions` name (a version or a unique prefix of one), in directory order."""
    chosen: dict[str, MigrationFile] = {}
    for given in versions:
        matches = [f for f in files if f.version == given] or [f for f in files if f.version.startswith(given)]
        if not matches:
            raise AtlembicError(f"rebase: no migration file has version {given!r}")
        if len(matches) > 1:
            raise AtlembicError(f"rebase: version {given!r} is ambiguous: " + ", ".join(f.name for f in matches))
        if matches[0].is_checkpoint:
            raise AtlembicError(f"rebase: {matches[0].name} is a checkpoint; checkpoints are not rebased")
        chosen[matches[0].name] = matches[0]
    return [f for f in files if f.name in chosen]


def _new_versions(files: Sequence[MigrationFile], count: int, now: datetime) -> list[str]:
    """`count` 14-digit versions after every file's version (Atlas's naming: the current UTC time, or one
    second after the latest version when that is not later)."""
    latest = max(f.version for f in files)
    try:
        after = datetime.strptime(latest, VERSION_FORMAT) + timedelta(seconds=1)
    except ValueError:
        raise AtlembicError(f"rebase: the latest version {latest!r} is not a 14-digit timestamp; "
                            "rename the files by hand") from None
    start = max(now.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0), after)
    return [(start + timedelta(seconds=i)).strftime(VERSION_FORMAT) for i in range(count)]


def rebase(settings: Settings, versions: Sequence[str], *, now: datetime | None = None) -> RebaseOutcome:
    if not versions:
        raise AtlembicError("rebase: name the version of at least one migration file")
    directory = settings.migration_dir()
    files = directory.files()
    if not files:
        raise AtlembicError(f"rebase: no migration files in {directory.path}")
    chosen = _chosen(files, versions)
    others = [f for f in files if f not in chosen]
    outcome = RebaseOutcome()
    if not others or all(f.version > max(o.version for o in others) for f in chosen):
        return outcome  # they sort after every other file already: nothing to rename
    new = _new_versions(files, len(chosen), now or datetime.now(timezone.utc))
    for file, version in zip(chosen, new, strict=True):
        outcome.renamed.append((file.name, directory.dir_format.file_name(version, file.description)))
    # The reverse's own file (golang-migrate's .down.sql, flyway's U file) takes the new version too.
    reverses = [(directory.dir_format.reverse_name(old), directory.dir_format.reverse_name(name))
                for old, name in outcome.renamed]
    moves = [*outcome.renamed, *((old, name) for old, name in reverses
                                 if old is not None and name is not None and (directory.path / old).exists())]
    old_sum = directory.sum_text()
    moved: list[tuple[str, str]] = []
    try:
        for old, name in moves:
            if (directory.path / name).exists():
                raise AtlembicError(f"rebase: {directory.path / name} already exists")
            os.rename(directory.path / old, directory.path / name)
            moved.append((old, name))
        directory.write_sum()
        outcome.models_checked = _has_models(settings)
        if outcome.models_checked:
            result = check(settings)
            if result.plan.statements:
                raise AtlembicError("the rebased directory no longer reaches the models: "
                                    + "; ".join(result.plan.diff.describe()))
            outcome.dev_description = result.dev_description
        else:
            outcome.dev_description = validate(settings).dev_description
    except BaseException as exc:
        for old, name in reversed(moved):
            os.rename(directory.path / name, directory.path / old)
        if old_sum is None:
            directory.sum_path.unlink(missing_ok=True)
        else:
            atomic_write(directory.sum_path, old_sum.encode())
        if isinstance(exc, AtlembicError):
            undone = plural(len(moved), "file")
            raise AtlembicError(f"{exc} (rebase undone: {undone} and atlas.sum as they were)") from None
        raise
    return outcome


def _has_models(settings: Settings) -> bool:
    """Whether the project names a desired schema (models through env.py or a metadata reference, or an
    atlas.hcl src) to verify against; without one the rebased directory is only replayed."""
    if settings.schema_source is not None or settings.metadata_ref:
        return True
    return settings.script_location is not None and (settings.script_location / "env.py").exists()
