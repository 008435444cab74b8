"""The migration directory formats Atlas reads and writes besides its own (``format = golang-migrate`` in
atlas.hcl, ``file://dir?format=goose``): which files are migrations and in which order, what their names say,
which part of them runs, and the files a new migration is written as.

Atlas's rules (`sql/sqltool`):

- golang-migrate: the migrations are the ``*.up.sql`` files; the ``.down.sql`` beside each holds its reverse
  and is neither run nor in atlas.sum.
- goose and dbmate keep up and down in one ``*.sql`` file; only the part after the up marker (``-- +goose Up``,
  ``-- migrate:up``) up to the down marker runs, without goose's ``-- +goose StatementBegin``/``End`` lines.
- flyway: ``V<version>__<description>.sql`` versioned files, ``B<version>__...`` baselines (the latest one
  replaces every versioned file up to its version) and ``R__<description>.sql`` repeatables (last, numbered
  after the last version as Atlas's import numbers them: ``3R``), found in the directory and its non-hidden
  subdirectories and ordered by version (``1.10`` after ``1.9``); ``U<version>__`` undo files hold the reverse
  and are neither run nor in atlas.sum.
- liquibase: ``--liquibase formatted sql`` files whose ``--changeset`` and ``--rollback`` lines are comments to
  Atlas: the whole file runs.

atlas.sum covers the migration files, in that order, whatever the format.

A new migration (`migrate diff`, `migrate new`) is written as Atlas's formatter for the format writes it: the
statements with their comment lines as the planner wrote them, and the reverse statements (the plan from the
desired schema back to the current one) in the format's down part: golang-migrate's ``.down.sql``, goose's and
dbmate's down section, flyway's ``U`` file, liquibase's ``--rollback:`` lines. Atlas writes each change's reverse
under ``-- reverse: <the change's comment>``, the changes undone last first, and gives each liquibase changeset its
own rollback; atlembic's reverse is one plan in its own (dependency) order, so `reverse_groups` ties each of its
statements to the up statement it undoes, and the down part is labelled (and liquibase's rollbacks placed) by them.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from atlembic.errors import AtlembicError

__all__ = ["ATLAS", "DirFormat", "Statements", "dir_format", "render_migration"]

Change = tuple[str, str]  # a statement of a new file: (comment line, SQL)


@dataclass(frozen=True)
class Statements:
    """What a new migration file holds: its statements, their reverse (formats with a down part), the
    ``atlas:`` directives of its header, and the indent of a CREATE TABLE body (see `render_migration`)."""

    up: Sequence[Change] = ()
    down: Sequence[Change] = ()
    directives: Sequence[str] = ()
    indent: str | None = None


def render_migration(
    changes: Sequence[Change], directives: Sequence[str] = (), indent: str | None = None, *, capitalize: bool = True
) -> str:
    """Format planned changes like Atlas's default formatter.

    ``changes`` are ``(comment, sql)``; each becomes ``-- <Comment>`` (first letter upper-cased as Atlas's
    formatter writes it, or lower-cased when not `capitalize`: Atlas's planner's comment as the other formats'
    templates keep it; line left out when the comment is empty) and ``<sql>;``. ``directives`` such as
    ``"txmode none"`` (an ``atlas:`` prefix is accepted too) become a ``-- atlas:...`` header followed by a
    blank line.
    ``indent``: the body of a CREATE TABLE, one element a line, indented with it (an atlas.hcl format
    template's ``{{ sql . "  " }}``; ``""`` is Atlas's one-line form); None keeps the planner's lines.
    No line ends in white space (SQLAlchemy ends each element line with ``, ``): a pre-commit hook that
    strips it would otherwise edit the file and break atlas.sum.
    """
    parts = [f"-- atlas:{d.removeprefix('atlas:')}\n" for d in directives]
    if parts:
        parts.append("\n")
    for comment, sql in changes:
        if comment:
            parts.append(f"-- {_first_letter(comment, capitalize)}".rstrip() + "\n")
        parts.append(_statement(sql, indent) + "\n")
    return "".join(parts)


def _first_letter(comment: str, upper: bool) -> str:
    return f"{comment[0].upper() if upper else comment[0].lower()}{comment[1:]}"


def _statement(sql: str, indent: str | None) -> str:
    stmt = _element_lines(sql.rstrip(), indent)
    return stmt if stmt.endswith(";") else stmt + ";"


# A statement whose parenthesized body has one element a line, each indented by one tab (SQLAlchemy's DDL
# compiler) or two spaces (the MySQL planner), the closing parenthesis starting the last line.
_ELEMENT_BODY = re.compile(r"(?P<head>[^\n]*\()\n(?P<body>(?:(?:\t|  )\S[^\n]*\n)+)(?P<tail>\)[^\n]*)")


def as_written(sql: str) -> str:
    """`sql` as `render_migration` writes it into a file with the planner's own lines: no element line ends in white
    space. The desired side runs the models' DDL in this form too, so a file that restates them leaves the dev
    database's catalog text equal to the models' (SQLite's reflection is skipped for a catalog it has read)."""
    return _element_lines(sql.rstrip(), None)


def _element_lines(sql: str, indent: str | None) -> str:
    m = _ELEMENT_BODY.fullmatch(sql)
    if m is None:
        return sql
    items = [line.strip() for line in m["body"].splitlines()]
    if indent is None:
        lines = [line.rstrip() for line in m["body"].splitlines()]
        return f"{m['head']}\n" + "".join(f"{line}\n" for line in lines) + m["tail"]
    if indent == "":
        return f"{m['head']}{' '.join(items)}{m['tail']}"
    return f"{m['head']}\n" + "".join(f"{indent}{item}\n" for item in items) + m["tail"]


_QUOTED = re.compile(r'"([^"]*)"')


def _subject(comment: str) -> frozenset[str] | str:
    """What a (lower-cased) planner's comment is about: its quoted names (``create index "i" to table: "t"``), or,
    without any, the words after its verb (``create table t1`` -> ``table t1``): a change and its reverse agree."""
    return frozenset(_QUOTED.findall(comment)) or comment.partition(" ")[2]


def reverse_groups(up: Sequence[Change], down: Sequence[Change]) -> list[int]:
    """For each statement of `down` (the plan undoing `up`), the index of the `up` statement it undoes: the one
    with the same comment, else the same subject (see `_subject`), else the most quoted names in common; latest
    first on a tie (the last change is undone first). A statement about nothing `up` names (a second statement
    of one change) goes with the one before it; the first such, with the last up statement."""
    comments = [comment.lower() for comment, _ in up]
    subjects = [_subject(comment) for comment in comments]
    latest_first = range(len(up) - 1, -1, -1)
    found: list[int] = []
    for comment, _ in down:
        subject = _subject(comment.lower())
        index = next((i for i in latest_first if comment and comments[i] == comment.lower()), None)
        if index is None and subject:
            index = next((i for i in latest_first if subjects[i] == subject), None)
        if index is None and isinstance(subject, frozenset):
            overlaps = [(len(subject & s), i) for i, s in enumerate(subjects) if isinstance(s, frozenset)]
            shared, best = max(overlaps, default=(0, 0))
            index = best if shared else None
        if index is None:
            index = found[-1] if found else len(up) - 1
        found.append(index)
    return found


def _labelled_reverse(up: Sequence[Change], down: Sequence[Change]) -> list[Change]:
    """`down` as Atlas's templates write a down part: each run of statements undoing one up statement under
    ``reverse: <its comment>`` (first letter lower-cased, as the planner's comments in the other formats)."""
    if not up:
        return list(down)
    labelled: list[Change] = []
    previous = None
    for index, (_, sql) in zip(reverse_groups(up, down), down, strict=True):
        comment = up[index][0]
        labelled.append((f"reverse: {_first_letter(comment, False)}" if index != previous and comment else "", sql))
        previous = index
    return labelled


def _top_level(path: Path, suffix: str) -> list[str]:
    """The directory's top-level files whose name ends with `suffix`, byte-wise sorted (code point order is
    UTF-8 byte order)."""
    if not path.is_dir():
        return []
    with os.scandir(path) as entries:
        return sorted(e.name for e in entries if e.name.endswith(suffix) and e.is_file())


@dataclass(frozen=True)
class DirFormat:
    """One directory format. `suffix`: what ends a migration file's name (the description stops before it);
    `up`/`down`: the marker lines around the part that runs (None: the whole file runs); `wrap`: the lines a
    new file's up and down parts follow; `down_suffix`: the name of the separate file a new migration's reverse
    goes to (golang-migrate), instead of the down part after `wrap[1]`; `has_down`: a new migration carries its
    reverse statements; `pragma`: other marker lines of the up part, dropped as Atlas drops them (goose's
    ``StatementBegin``/``End``: the splitter already knows where a body with ``;`` inside ends)."""

    name: str
    suffix: str = ".sql"
    up: re.Pattern[str] | None = None
    down: re.Pattern[str] | None = None
    wrap: tuple[str, str] = ("", "")
    down_suffix: str | None = None
    has_down: bool = False
    pragma: re.Pattern[str] | None = None

    @property
    def capitalize(self) -> bool:
        """Atlas's own formatter upper-cases a comment's first letter; the other formats' templates keep the
        planner's (lower-case) one."""
        return self is ATLAS

    def migration_names(self, path: Path) -> list[str]:
        """The migration files under `path` (relative names), in the order they run: what atlas.sum covers."""
        return _top_level(path, self.suffix)

    def order(self, names: Sequence[str]) -> list[str]:
        """`names` (migration files) in the order they run."""
        return sorted(names)

    def version(self, name: str) -> str:
        """Everything before the first ``_`` of the name without ``.sql`` (``1.a_sub.up.sql`` -> ``1.a``)."""
        return name.removesuffix(".sql").split("_", 1)[0]

    def description(self, name: str) -> str:
        """Everything after the first ``_``, without the format's suffix; empty if the name has no ``_``."""
        _, sep, rest = name.partition("_")
        return rest.removesuffix(self.suffix) if sep else ""

    def is_after(self, version: str, other: str) -> bool:
        """Whether `version` sorts after `other` (Atlas compares versions as strings)."""
        return version > other

    def file_name(self, version: str, slug: str) -> str:
        """A new migration's name."""
        return f"{version}_{slug}{self.suffix}" if slug else f"{version}{self.suffix}"

    def new_files(self, name: str, statements: Statements) -> list[tuple[str, str]]:
        """The files (name, text) a new migration called `name` is written as, the migration first."""
        up = render_migration(statements.up, statements.directives, statements.indent, capitalize=self.capitalize)
        down = render_migration(_labelled_reverse(statements.up, statements.down), (), statements.indent,
                                capitalize=self.capitalize)
        reverse = self.reverse_name(name)
        if reverse is not None:
            return [(name, up), (reverse, down)]
        return [(name, f"{self.wrap[0]}{up}{self.wrap[1]}{down if self.has_down else ''}")]

    def reverse_name(self, name: str) -> str | None:
        """The file beside the migration `name` holding its reverse, where the format keeps it apart."""
        return None if self.down_suffix is None else name.removesuffix(self.suffix) + self.down_suffix

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
            elif state == "up" and not (self.pragma is not None and self.pragma.match(line)):
                kept.append(line)
                continue
            kept.append("\n")
        return "".join(kept)

    def assigned_versions(self, names: Sequence[str]) -> list[str]:
        """The version of each of `names` (in run order) as the files are recorded."""
        return [self.version(n) for n in names]


def _flyway_key(version: str) -> list[int]:
    """Flyway's version order: ``.``- or ``_``-separated numbers (a part that is not one counts as 0)."""
    return [int(part) if part.isdigit() else 0 for part in version.replace("_", ".").split(".")]


class Flyway(DirFormat):
    """Flyway's ``V``/``B``/``R`` files (see the module's docstring); a new migration is ``V<version>__<name>.sql``
    and its reverse the ``U`` file of the same version."""

    def migration_names(self, path: Path) -> list[str]:
        found: list[str] = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # Atlas skips hidden directories
            rel = Path(root).relative_to(path)
            found.extend((rel / f).as_posix() for f in sorted(files)
                         if f.endswith(".sql") and len(f) >= 4 and f[0] in "VBR")
        return self.order(found)

    def order(self, names: Sequence[str]) -> list[str]:
        kind = {n: Path(n).name[0] for n in names}
        baselines = sorted((n for n in names if kind[n] == "B"), key=lambda n: _flyway_key(self.version(n)))
        base = baselines[-1:]
        floor = _flyway_key(self.version(base[0])) if base else None
        versioned = sorted((n for n in names if kind[n] == "V"
                            and (floor is None or _flyway_key(self.version(n)) > floor)),
                           key=lambda n: _flyway_key(self.version(n)))
        return [*base, *versioned, *(n for n in names if kind[n] == "R")]

    def version(self, name: str) -> str:
        base = Path(name).name
        return "" if base.startswith("R") else base.removesuffix(".sql").split("__", 1)[0][1:]

    def description(self, name: str) -> str:
        _, sep, rest = Path(name).name.partition("__")
        return rest.removesuffix(".sql") if sep else ""

    def is_after(self, version: str, other: str) -> bool:
        return _flyway_key(version) > _flyway_key(other)

    def file_name(self, version: str, slug: str) -> str:
        return f"V{version}__{slug}.sql" if slug else f"V{version}.sql"

    def reverse_name(self, name: str) -> str | None:
        return f"U{name[1:]}"

    def assigned_versions(self, names: Sequence[str]) -> list[str]:
        """Atlas has no repeatable migrations: each ``R`` file takes the version before the first of them (``0``
        without one) followed by ``R``, as its import numbers them."""
        versions = [self.version(n) for n in names]
        first = next((i for i, v in enumerate(versions) if not v), None)
        if first is None:
            return versions
        repeatable = f"{versions[first - 1] if first else '0'}R"
        return [*versions[:first], *(repeatable for _ in versions[first:])]


class Liquibase(DirFormat):
    """Liquibase's formatted SQL: one ``--changeset atlas:<version>-<n>`` a statement, its reverse as
    ``--rollback:`` lines. Liquibase rolls a file's changesets back newest first: each reverse statement goes to
    the changeset it undoes (Atlas's layout) when that order is the reverse plan's; otherwise the whole reverse
    is the first changeset's rollback, the one rolled back last."""

    def new_files(self, name: str, statements: Statements) -> list[tuple[str, str]]:
        version, parts = self.version(name), ["--liquibase formatted sql"]
        groups = reverse_groups(statements.up, statements.down)
        in_order = all(a >= b for a, b in itertools.pairwise(groups))
        rollbacks = [""] * len(statements.up)
        for group, (_, sql) in zip(groups, statements.down, strict=True):
            rollbacks[group if in_order else 0] += f"--rollback: {_one_line(sql)};\n"
        for index, (comment, sql) in enumerate(statements.up, 1):
            shown = f"--comment: {_first_letter(comment, False)}" if comment else ""
            parts.append(f"\n--changeset atlas:{version}-{index}\n{shown}\n{_statement(sql, statements.indent)}\n"
                         f"{rollbacks[index - 1]}")
        return [(name, "".join(parts))]


def _one_line(sql: str) -> str:
    """A statement on one line (a ``--rollback:`` line holds one): CREATE TABLE in Atlas's one-line form."""
    return " ".join(line.strip() for line in _element_lines(sql.rstrip().removesuffix(";"), "").splitlines())


ATLAS = DirFormat("atlas")
_FORMATS = {
    f.name: f
    for f in (
        ATLAS,
        DirFormat("golang-migrate", suffix=".up.sql", down_suffix=".down.sql", has_down=True),
        DirFormat("goose", up=re.compile(r"\s*--\s*\+goose\s+Up\b"), down=re.compile(r"\s*--\s*\+goose\s+Down\b"),
                  wrap=("-- +goose Up\n", "\n-- +goose Down\n"), has_down=True,
                  pragma=re.compile(r"\s*--\s*\+goose\s+Statement(Begin|End)\b")),
        Flyway("flyway", has_down=True),
        Liquibase("liquibase", has_down=True),
        DirFormat("dbmate", up=re.compile(r"\s*--\s*migrate:up\b"), down=re.compile(r"\s*--\s*migrate:down\b"),
                  wrap=("-- migrate:up\n", "\n-- migrate:down\n"), has_down=True),
    )
}


def dir_format(name: str, where: str) -> DirFormat:
    """The format called `name`; `where` names the option or file:line that asked for it."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise AtlembicError(f"{where}: unknown migration directory format {name!r} (supported: "
                            f"{', '.join(_FORMATS)})") from None
