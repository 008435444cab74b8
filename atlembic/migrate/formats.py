"""The migration directory formats Atlas reads besides its own (``format = golang-migrate`` in atlas.hcl,
``file://dir?format=goose``): which files are migrations, what their name says, which part of them runs.

Atlas's rules (`sql/sqltool`): golang-migrate's migrations are the ``*.up.sql`` files (the ``.down.sql`` ones
are kept in atlas.sum but never run); goose and dbmate keep up and down in one ``*.sql`` file, and only the
part after the up marker (``-- +goose Up``, ``-- migrate:up``) up to the down marker runs. atlas.sum covers
every top-level ``*.sql`` file whatever the format. goose's ``-- +goose StatementBegin``/``End`` lines stay as
comments: the splitter already knows where a body with ``;`` inside ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from atlembic.errors import AtlembicError

__all__ = ["ATLAS", "DirFormat", "dir_format"]


@dataclass(frozen=True)
class DirFormat:
    """One directory format. `suffix`: what ends a migration file's name (the description stops before it);
    `up`/`down`: the marker lines around the part that runs (None: the whole file runs); `wrap`: what a new
    file's statements go between, as Atlas's formatter for the format writes them (an empty down part)."""

    name: str
    suffix: str = ".sql"
    up: re.Pattern[str] | None = None
    down: re.Pattern[str] | None = None
    wrap: tuple[str, str] = ("", "")

    def new_content(self, statements: str) -> str:
        """A new migration file holding `statements` (the up part)."""
        return f"{self.wrap[0]}{statements}{self.wrap[1]}"

    def is_migration(self, name: str) -> bool:
        return name.endswith(self.suffix)

    def up_part(self, text: str) -> str:
        """The part of a file that `apply` runs: the lines between the up and the down markers. The marker
        lines become empty lines so that splitter errors keep pointing at the file's own line numbers."""
        if self.up is None:
            return text
        lines, kept, state = text.splitlines(keepends=True), [], "before"
        for line in lines:
            if state == "before" and self.up.match(line):
                state = "up"
            elif state == "up" and self.down is not None and self.down.match(line):
                state = "down"
            elif state == "up":
                kept.append(line)
                continue
            kept.append("\n")
        return "".join(kept)


ATLAS = DirFormat("atlas")
_FORMATS = {
    f.name: f
    for f in (
        ATLAS,
        DirFormat("golang-migrate", suffix=".up.sql"),
        DirFormat("goose", up=re.compile(r"\s*--\s*\+goose\s+Up\b"), down=re.compile(r"\s*--\s*\+goose\s+Down\b"),
                  wrap=("-- +goose Up\n", "\n-- +goose Down\n")),
        DirFormat("dbmate", up=re.compile(r"\s*--\s*migrate:up\b"), down=re.compile(r"\s*--\s*migrate:down\b"),
                  wrap=("-- migrate:up\n", "\n-- migrate:down\n")),
    )
}


def dir_format(name: str, where: str) -> DirFormat:
    """The format called `name`; `where` names the option or file:line that asked for it."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise AtlembicError(f"{where}: unknown migration directory format {name!r} (supported: "
                            f"{', '.join(_FORMATS)})") from None
