"""An Atlas-format migration directory on disk: its ``*.sql`` files, atlas.sum and new-file naming.

Atlas's rules (`sql/migrate/dir.go`): migration files are the top-level ``*.sql`` files in plain byte-wise name
order; a name is ``<version>_<description>.sql``; atlas.sum must be rewritten with every change.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path

from atlembic.errors import AtlembicError
from atlembic.migrate.formats import ATLAS, DirFormat, Statements, dir_format, render_migration
from atlembic.migrate.lexer import ScanOptions, Statement, match_directive, split_statements
from atlembic.migrate.sumfile import SUM_FILE_NAME, HashFile, compute_sum, is_sum_ignored, validate_sum

__all__ = ["MigrationDir", "MigrationFile", "Statements", "atomic_write", "import_directory", "render_migration"]

VERSION_FORMAT = "%Y%m%d%H%M%S"  # Atlas's generated versions: 14-digit UTC timestamps


@dataclass(frozen=True)
class MigrationFile:
    """One migration file, read into memory (hashing and splitting both need all of it)."""

    name: str
    path: Path
    content: bytes
    dir_format: DirFormat = ATLAS
    # The version its place in the directory gives it where the name gives none (flyway's repeatables).
    assigned_version: str | None = None

    @property
    def version(self) -> str:
        """What the name says as the format reads it (Atlas's: everything before the first ``_`` of the name
        without ``.sql``, ``1.a_sub.up.sql`` -> ``1.a``)."""
        return self.assigned_version if self.assigned_version is not None else self.dir_format.version(self.name)

    @property
    def description(self) -> str:
        """Everything after the version, without the format's suffix (``.sql``, golang-migrate's ``.up.sql``);
        empty if the name has none."""
        return self.dir_format.description(self.name)

    @cached_property
    def text(self) -> str:
        """The content as text; migration files must be UTF-8."""
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AtlembicError(f"migration file {self.name} is not valid UTF-8: {exc}") from None

    @cached_property
    def directives(self) -> list[tuple[str, str]]:
        """File-level directives ``(name, argument)``, in file order.

        They live in the run of comment lines (starting with ``--`` or ``#``) at the top of the file,
        and only count if an empty line follows that run; otherwise the comments belong to the first
        statement. (Atlas's rule: ``-- atlas:x\\n`` alone, without the blank line, has no directives.)
        """
        comments, rest = [], self.text
        while rest.startswith(("#", "--")):
            line, newline, rest = rest.partition("\n")
            if not newline:
                return []  # comment-only file without a blank line after the comments
            comments.append(line.strip())
        if not rest.startswith("\n"):
            return []
        return [(m[1], m[2]) for m in map(match_directive, comments) if m is not None]

    @property
    def is_checkpoint(self) -> bool:
        """A checkpoint file (``-- atlas:checkpoint [tag]`` header) holds the full schema up to it."""
        return any(name == "checkpoint" for name, _ in self.directives)

    @property
    def sum_ignored(self) -> bool:
        """Left out of atlas.sum rows by an ``atlas:sum ignore`` first line."""
        return is_sum_ignored(self.content)

    def statements(self, dialect: str | ScanOptions) -> list[Statement]:
        """The file's statements, split with the dialect's rules. A NUL byte is refused: no engine's client
        protocol carries one in a statement (libpq ends the string there, silently dropping the rest). Only the
        format's up part counts (goose's and dbmate's down parts never run)."""
        text = self.dir_format.up_part(self.text)
        if "\0" in text:
            offset = self.content.index(b"\0")
            line = self.content.count(b"\n", 0, offset) + 1
            raise AtlembicError(f"{self.name}: a NUL byte at offset {offset} (line {line}): not a SQL text file; "
                                "no statement was run")
        try:
            return split_statements(text, dialect)
        except AtlembicError as exc:  # the splitter's "line:col: message" names no file
            raise AtlembicError(f"{self.name}: {exc}") from None


def files_to_reach(files: Sequence[MigrationFile], position: int) -> list[MigrationFile]:
    """What a fresh database runs to reach `position` (an index into `files`, -1 for none): the files from
    the last checkpoint at or before it (Atlas's ``FilesFromCheckpoint``)."""
    chosen = list(files[: position + 1])
    last = max((i for i, f in enumerate(chosen) if f.is_checkpoint), default=0)
    return chosen[last:]


# The longest file name atomic_write can write: NAME_MAX (255 bytes on every filesystem atlembic runs on) less
# what its temporary file's name adds (".<name>.<8 hex>.tmp").
_NAME_MAX = 255 - len("..01234567.tmp")


class MigrationDir:
    """A migration directory; a directory that does not exist yet reads as empty (`revision` creates it), a
    path that is something else is refused."""

    def __init__(self, path: Path, format_name: str = ATLAS.name) -> None:
        self.path = Path(path)
        self.dir_format = dir_format(format_name, f"migration directory {path}")
        if self.path.exists() and not self.path.is_dir():
            raise AtlembicError(f"migration directory {self.path} is not a directory")

    def checked(self) -> MigrationDir:
        """This directory, refused when its atlas.sum does not match its files."""
        self.check_sum()
        return self

    def existing(self) -> MigrationDir:
        """`checked`, and refused when it does not exist: what applies files must have them (Atlas: "no such
        file or directory")."""
        if not self.path.exists():
            raise AtlembicError(f"migration directory {self.path} does not exist (write one with `atlembic "
                                "revision` or `atlembic convert`, or point [atlembic] migrations_dir / --dir at it)")
        return self.checked()

    @property
    def sum_path(self) -> Path:
        return self.path / SUM_FILE_NAME

    def files(self) -> list[MigrationFile]:
        """The migration files in the order they run, as the directory's format tells them apart (Atlas's: the
        top-level ``*.sql`` files; golang-migrate: ``*.up.sql``): what atlas.sum covers."""
        return self._read(self.dir_format.migration_names(self.path))

    def _read(self, names: list[str], new: dict[str, bytes] | None = None) -> list[MigrationFile]:
        """The files called `names` (in run order), those in `new` with that content instead of the disk's."""
        new = new or {}
        versions = self.dir_format.assigned_versions(names)
        return [MigrationFile(name, self.path / name, new[name] if name in new else (self.path / name).read_bytes(),
                              self.dir_format, version) for name, version in zip(names, versions, strict=True)]

    def files_from_last_checkpoint(self) -> list[MigrationFile]:
        """What a fresh database runs: from the last checkpoint file (inclusive), or everything."""
        files = self.files()
        return files_to_reach(files, len(files) - 1)

    def sum_text(self) -> str | None:
        """atlas.sum as written (no newline translation), or None if there is none."""
        try:
            return self.sum_path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None

    def check_sum(self) -> None:
        """Raise ChecksumError if atlas.sum does not match the files (hand-edited, added, removed)."""
        validate_sum([(f.name, f.content) for f in self.files()], self.sum_text())

    def compute_sum(self) -> HashFile:
        return compute_sum([(f.name, f.content) for f in self.files()])

    def write_sum(self) -> None:
        """Recompute and (atomically) rewrite atlas.sum, like ``atlas migrate hash``."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.sum_path, self.compute_sum().to_text().encode())

    def new_file_name(self, description: str, now: datetime | None = None, version: str | None = None, *,
                      exact: bool = False) -> str:
        """``<version>_<slug>.sql`` (the format's suffix) for a new migration; the version is a UTC timestamp
        by default.

        A generated version is moved one second past the last file's version when needed, so that
        the new file always sorts last (Atlas compares versions as strings). ``now`` without a
        timezone is taken as UTC. `exact`: the description as given (Atlas's ``{{ .Name }}``:
        ``migrate new add-users``), only a path separator refused.
        """
        if version is None:
            version = self._next_version(now or datetime.now(timezone.utc))
        if exact and ("/" in description or os.sep in description or "\0" in description):
            raise AtlembicError(f"invalid migration name {description!r}: a file name cannot contain '/'")
        slug = description if exact else re.sub(r"[^A-Za-z0-9]+", "_", description).strip("_")
        # The longer of the names the format gives the migration and its reverse (golang-migrate's .down.sql),
        # with a one-character slug.
        probe = self.dir_format.file_name(version, "_")
        frame = max(len(n.encode()) for n in (probe, self.dir_format.reverse_name(probe) or probe))
        room = _NAME_MAX - frame + 1
        if len(slug) > room:  # a long -m: cut at a word, as Alembic cuts at truncate_slug_length
            slug = slug[: room + 1].rsplit("_", 1)[0] if "_" in slug[: room + 1] else slug[:room]
        return self.dir_format.file_name(version, slug)

    def _next_version(self, now: datetime) -> str:
        if now.tzinfo is not None:
            now = now.astimezone(timezone.utc)
        version = now.strftime(VERSION_FORMAT)
        versions = [v for v in map(self.dir_format.version, self.dir_format.migration_names(self.path)) if v]
        last = versions[-1] if versions else ""  # in run order: the highest
        if not last or self.dir_format.is_after(version, last):
            return version
        try:
            last_time = datetime.strptime(last, VERSION_FORMAT)
        except ValueError:
            raise AtlembicError(
                f"cannot pick a timestamp version after the last migration version {last!r}; "
                "give the version explicitly"
            ) from None
        return (last_time + timedelta(seconds=1)).strftime(VERSION_FORMAT)

    def new_migration(self, name: str, statements: Statements) -> MigrationFile:
        """The migration `write_migration(name, statements)` writes, in memory (nothing on disk yet)."""
        return self._new_files(name, statements)[0]

    def _new_files(self, name: str, statements: Statements) -> list[MigrationFile]:
        return [MigrationFile(n, self.path / n, text.encode(), self.dir_format)
                for n, text in self.dir_format.new_files(name, statements)]

    def write_migration(self, name: str, statements: Statements) -> Path:
        """Add a migration (`statements` in the format's frame: its file, and its reverse's where the format
        keeps it apart) and the matching atlas.sum, all or nothing; the migration file's path."""
        return self._write(self._new_files(name, statements))

    def write_text(self, name: str, text: str) -> Path:
        """Add the migration file `name` holding `text` as it is, and the matching atlas.sum."""
        return self._write([MigrationFile(name, self.path / name, text.encode(), self.dir_format)])

    def _write(self, new: list[MigrationFile]) -> Path:
        """Write `new` (the migration first) and atlas.sum. Every file is written atomically; if one cannot be
        written, those written before it are removed so the directory never holds a migration that atlas.sum
        does not know about."""
        for file in new:
            if "/" in file.name or os.sep in file.name or not file.name.endswith(".sql"):
                raise AtlembicError(f"invalid migration file name {file.name!r}")
            if file.path.exists():
                raise AtlembicError(f"migration file {file.path} already exists")
        migration = new[0]
        names = self.dir_format.order([*self.dir_format.migration_names(self.path), migration.name])
        files = self._read(names, {migration.name: migration.content})
        sum_data = compute_sum([(f.name, f.content) for f in files]).to_text().encode()
        self.path.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        try:
            for file in new:
                atomic_write(file.path, file.content)
                written.append(file.path)
            atomic_write(self.sum_path, sum_data)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return migration.path


def import_directory(source: MigrationDir, target: MigrationDir) -> list[Path]:
    """Atlas's ``migrate import``: each migration of `source` (any format) written to the empty Atlas-format
    `target` as ``<version>_<description>.sql`` holding its up part only, then atlas.sum (the source needs
    none: other tools do not write one)."""
    if target.dir_format is not ATLAS:
        raise AtlembicError(f"migration directory {target.path}: import writes Atlas's format, not "
                            f"{target.dir_format.name!r}")
    if target.files():
        raise AtlembicError(f"migration directory {target.path} is not empty: import writes into an empty one")
    migrations = source.files()
    if not migrations:
        raise AtlembicError(f"migration directory {source.path} holds no {source.dir_format.name} migration files")
    written = []
    for file in migrations:
        name = f"{file.version}_{file.description}.sql" if file.description else f"{file.version}.sql"
        written.append((name, _imported(file)))
    target.path.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in written:
        paths.append(target.path / name)
        atomic_write(paths[-1], content.encode())
    target.write_sum()
    return paths


# Atlas's import splits with its lexer's defaults, not the target engine's rules.
_IMPORT_SCAN = ScanOptions(begin_atomic=True, dollar_quote=True)


def _imported(file: MigrationFile) -> str:
    """A file's up part as Atlas's import writes it: each statement with the comment lines directly above it,
    one after the other (what is not above a statement, such as liquibase's ``--rollback`` lines, is left out)."""
    try:
        statements = split_statements(file.dir_format.up_part(file.text), _IMPORT_SCAN)
    except AtlembicError as exc:
        raise AtlembicError(f"{file.name}: {exc}") from None
    return "".join("".join(c if c.endswith("\n") else f"{c}\n" for c in s.comments) + s.text.removesuffix(";") + ";\n"
                   for s in statements)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new content, never a torn file.

    The data goes to a temporary file in the same directory (same filesystem, so the rename is
    atomic), is fsynced, then renamed over ``path``; the directory is fsynced so the rename survives
    a crash. The temporary file is removed on failure.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        # os.open with 0o666 lets the umask decide the mode, as for any newly created file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:  # a read-only or missing directory, a name too long ...
        raise AtlembicError(f"cannot write {path}: {exc.strerror or exc}; nothing was written") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, a file size limit ...
        tmp.unlink(missing_ok=True)
        raise AtlembicError(f"cannot write {path}: {exc.strerror or exc}; nothing was written") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if os.name == "posix":
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
