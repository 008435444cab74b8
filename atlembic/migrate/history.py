"""The migration directory read as Alembic reads a versions directory: one linear history.

Each file is a revision whose id is its Atlas version and whose message is its description; its
parent is the file before it (``<base>`` for the first). Alembic's revision specifiers (``head``,
``base``, ``current``, a unique prefix, ``+N``/``-N``, ``<rev>+N``) resolve to a position in that
list, and the listings print Alembic's line formats (those of ``alembic history`` and ``alembic current``).

Positions: ``-1`` is base (nothing applied); ``i`` is the state after ``files[i]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from atlembic.errors import AtlembicError
from atlembic.migrate.directory import VERSION_FORMAT, MigrationFile

__all__ = ["BASE", "History", "HistoryEntry"]

BASE = -1
_RELATIVE = re.compile(r"^(?P<anchor>.*?)(?P<delta>[+-]\d+)$")


@dataclass(frozen=True)
class HistoryEntry:
    file: MigrationFile
    index: int
    parent: str | None
    is_head: bool

    @property
    def version(self) -> str:
        return self.file.version

    @property
    def doc(self) -> str:
        return self.file.description or "empty message"

    def as_json(self, current: str | None = None) -> dict[str, object]:
        return {
            "revision": self.version,
            "down_revision": self.parent,
            "message": self.file.description,
            "file": self.file.name,
            "path": str(self.file.path),
            "is_head": self.is_head,
            "is_current": self.version == current,
            "checkpoint": self.file.is_checkpoint,
        }


class History:
    """A linear revision history over a directory's files (byte-wise version order, as Atlas sorts)."""

    def __init__(self, files: Sequence[MigrationFile]) -> None:
        self.files = list(files)
        self.entries = [
            HistoryEntry(f, i, self.files[i - 1].version if i else None, i == len(self.files) - 1)
            for i, f in enumerate(self.files)
        ]

    @property
    def head(self) -> int:
        return len(self.files) - 1

    def version_at(self, position: int) -> str | None:
        return None if position == BASE else self.files[position].version

    def position_of(self, version: str | None) -> int:
        """Position of a recorded version; a version no file has is an error (history rewritten)."""
        if version is None:
            return BASE
        for i, f in enumerate(self.files):
            if f.version == version:
                return i
        raise AtlembicError(
            f"Can't locate revision identified by '{version}' (recorded on the database, but no "
            "migration file has that version)"
        )

    # -- specifiers --------------------------------------------------------------------------------

    def resolve(self, spec: str, current: str | None = None, *, current_known: bool = True) -> int:
        """The position a specifier names. ``current`` is the database's version (None: base).

        `current_known=False` makes ``current`` and bare ``+N``/``-N`` an error (no database asked).
        """
        spec = spec.strip()
        m = _RELATIVE.match(spec)
        if m and not self._is_version(spec):
            anchor, delta = m["anchor"], int(m["delta"])
            start = self._anchor(anchor or "current", current, current_known)
            target = start + delta
            if target < BASE or target > self.head:
                raise AtlembicError(f"Relative revision {m['delta']} didn't produce {abs(delta)} migrations")
            return target
        return self._anchor(spec, current, current_known)

    def _is_version(self, spec: str) -> bool:
        return any(f.version == spec for f in self.files)

    def _anchor(self, spec: str, current: str | None, current_known: bool) -> int:
        if spec in ("head", "heads"):
            return self.head
        if spec == "base":
            return BASE
        if spec == "current":
            if not current_known:
                raise AtlembicError("'current' needs the database: it is not available here")
            return self.position_of(current)
        exact = [i for i, f in enumerate(self.files) if f.version == spec]
        if exact:
            return exact[-1]
        matches = [i for i, f in enumerate(self.files) if f.version.startswith(spec)] if spec else []
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(f"'{self.files[i].version}'" for i in matches)
            raise AtlembicError(f"Multiple revisions start with '{spec}': {names}")
        raise AtlembicError(f"Can't locate revision identified by '{spec}'")

    def range(self, rev_range: str, current: str | None, *, current_known: bool) -> list[HistoryEntry]:
        """Entries of ``start:end`` (both inclusive, either end optional), newest first."""
        if ":" not in rev_range:
            raise AtlembicError("History range requires [start]:[end], [start]:, or :[end]")
        start_spec, end_spec = rev_range.strip().split(":", 1)
        start = self.resolve(start_spec, current, current_known=current_known) if start_spec else BASE
        end = self.resolve(end_spec, current, current_known=current_known) if end_spec else self.head
        return [e for e in reversed(self.entries) if max(start, 0) <= e.index <= end]

    # -- formats -----------------------------------------------------------------------------------

    def short(
        self, entry: HistoryEntry, current: str | None = None, *, parents: bool = True, doc: bool = True,
        tree: bool = True,
    ) -> str:
        """Alembic's one-line form: ``[<down> -> ]<rev>[ (checkpoint)][ (head)][ (current)][, <doc>]``."""
        text = entry.version
        if parents:
            text = f"{entry.parent or '<base>'} -> {text}"
        if entry.file.is_checkpoint:
            text += " (checkpoint)"
        if entry.is_head:
            text += " (head)"
        if tree and current is not None and entry.version == current:
            text += " (current)"
        if doc:
            text += f", {entry.doc}"
        return text

    def verbose(self, entry: HistoryEntry, current: str | None = None) -> str:
        """Alembic's verbose block (``show``, ``-v``), ending with a blank line."""
        head = " (head)" if entry.is_head else ""
        here = " (current)" if current is not None and entry.version == current else ""
        lines = [
            f"Rev: {entry.version}{head}{here}",
            f"Parent: {entry.parent or '<base>'}",
            f"Path: {entry.file.path}",
            "",
            f"    {entry.doc}",
            "",
            f"    Revision ID: {entry.version}",
            f"    Revises: {entry.parent or ''}".rstrip(),
        ]
        created = _version_time(entry.version)
        if created:
            lines.append(f"    Create Date: {created}")
        if entry.file.is_checkpoint:
            lines.append("    Checkpoint: yes (a database without revisions starts here)")
        return "\n".join(lines) + "\n"


def _version_time(version: str) -> str | None:
    if len(version) != 14 or not version.isdigit():
        return None
    try:
        return datetime.strptime(version, VERSION_FORMAT).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return None


def check_rev_id(rev_id: str, versions: Sequence[str]) -> None:
    """Refuse a ``--rev-id`` that cannot be an Atlas version or would not sort after the last one."""
    bad = sorted({c for c in rev_id if c in "@-+:_/\\" or c.isspace()})
    if bad or not rev_id:
        chars = ", ".join(f"'{c}'" for c in bad) or "''"
        raise AtlembicError(f"Character(s) {chars} not allowed in revision identifier '{rev_id}'")
    if rev_id in versions:
        raise AtlembicError(f"Revision {rev_id} already exists")
    if versions and rev_id < max(versions):
        raise AtlembicError(
            f"Revision id '{rev_id}' sorts before the last version '{max(versions)}'; Atlas applies files in "
            "version order, so the new file would be out of order"
        )
