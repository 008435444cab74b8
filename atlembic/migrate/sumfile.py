"""``atlas.sum``: the integrity file of an Atlas migration directory.

It must match what the Atlas CLI writes byte for byte, otherwise a directory maintained by atlembic
fails ``atlas migrate validate`` (and the other way round). The format, from ``sql/migrate/dir.go``:

- one *running* SHA-256 over the files in directory order: each file's name, then its bytes;
  after each file a row ``<name> h1:<base64 of the running digest>``;
- a file whose first line is an ``atlas:sum ignore`` directive has its name hashed but not its
  bytes, and gets no row;
- line 1 is ``h1:<total>`` where total is SHA-256 over every row's name and base64 hash text.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

from atlembic.errors import AtlembicError
from atlembic.migrate.lexer import match_directive

__all__ = ["SUM_FILE_NAME", "ChecksumError", "HashFile", "compute_sum", "is_sum_ignored", "validate_sum"]

SUM_FILE_NAME = "atlas.sum"
_HINT = "(run 'atlembic hash' to recompute atlas.sum)"


class ChecksumError(AtlembicError):
    """The directory and its atlas.sum disagree, or atlas.sum is unreadable.

    ``line``/``file`` point at the first differing row of atlas.sum (1-based, the header is line 1)
    when the disagreement is about a file; ``reason`` is ``added``, ``edited`` or ``removed`` then, or
    the whole-file problem otherwise.
    """

    def __init__(self, reason: str, line: int | None = None, file: str | None = None) -> None:
        self.reason, self.line, self.file = reason, line, file
        where = f"L{line}: {file} was {reason}" if file is not None else f"{SUM_FILE_NAME}: {reason}"
        super().__init__(f"{where} {_HINT}")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@dataclass
class HashFile:
    """The rows of an atlas.sum: ``(file name, base64 hash without 'h1:')`` in directory order."""

    rows: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> str:
        """The header hash (base64, without ``h1:``), derived from the rows."""
        sha = hashlib.sha256()
        for name, digest in self.rows:
            sha.update(name.encode())
            sha.update(digest.encode())
        return _b64(sha.digest())

    def to_text(self) -> str:
        """The exact atlas.sum content (LF line endings, final newline)."""
        return "".join([f"h1:{self.total}\n", *(f"{name} h1:{digest}\n" for name, digest in self.rows)])

    @classmethod
    def parse(cls, text: str) -> HashFile:
        """Read atlas.sum text the way Atlas does, checking the header against the rows.

        Each row is split at its first ``h1:``; the name is whitespace-trimmed, the hash taken as is.
        A trailing ``\\r`` is dropped from every line (Go's line scanner does the same).
        """
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()  # the final newline does not start another line
        lines = [line.removesuffix("\r") for line in lines]
        header = lines[0].removeprefix("h1:") if lines else ""
        rows = []
        for line in lines[1:]:
            name, sep, digest = line.partition("h1:")
            if not sep:
                raise ChecksumError("checksum file format invalid")
            rows.append((name.strip(), digest))
        parsed = cls(rows)
        if parsed.total != header:
            raise ChecksumError("checksum mismatch")
        return parsed

    def hash_of(self, name: str) -> str:
        """The row hash of ``name`` (what the revisions table stores in ``hash``)."""
        for row_name, digest in self.rows:
            if row_name == name:
                return digest
        raise AtlembicError(f"{SUM_FILE_NAME}: checksum not found for {name!r}")


def is_sum_ignored(content: bytes) -> bool:
    """True if the file starts with an ``atlas:sum ignore`` directive (any printable prefix)."""
    first_line = content.split(b"\n", 1)[0].decode("utf-8", "replace")
    m = match_directive(first_line)
    return m is not None and m[1] == "sum" and m[2] == "ignore"


def compute_sum(files: Sequence[tuple[str, bytes]]) -> HashFile:
    """Hash ``(name, content)`` pairs given in directory order."""
    sha = hashlib.sha256()
    rows = []
    for name, content in files:
        sha.update(name.encode())
        if is_sum_ignored(content):
            continue
        sha.update(content)
        rows.append((name, _b64(sha.digest())))
    return HashFile(rows)


def validate_sum(dir_files: Sequence[tuple[str, bytes]], sum_text: str | None) -> None:
    """Raise ChecksumError unless ``sum_text`` is the atlas.sum of ``dir_files``.

    A directory without migration files needs no atlas.sum. On a mismatch the first differing row is
    reported, as the Atlas CLI does (``L3: 20240101000000_x.sql was edited``).
    """
    if sum_text is None:
        if dir_files:
            raise ChecksumError("checksum file not found")
        return
    stored = HashFile.parse(sum_text)
    actual = compute_sum(dir_files)
    if stored.total == actual.total:
        return
    stored_names = {name for name, _ in stored.rows}
    for index, (old, new) in enumerate(zip_longest(stored.rows, actual.rows)):
        line = index + 2
        if old == new:
            continue
        if old is None or (new is not None and new[0] not in stored_names):
            raise ChecksumError("added", line, new[0])
        if new is None or old[0] != new[0]:
            raise ChecksumError("removed", line, old[0])
        raise ChecksumError("edited", line, new[0])
