"""``atlembic convert``: an Alembic history -> an Atlas migration directory.

The real history runs (env.py, online) on a clean dev database of the target dialect
(`atlembic.convert.run`); the result is inspected and written as one baseline file planned from an
empty schema (deterministic: tables in dependency order, same input -> same bytes), or with
``--history`` as one file per revision (the diff between consecutive states). Whatever is written is
verified first on another clean dev database; a difference is an error and nothing is written.

The files record the Alembic revision they correspond to (``-- alembic:head <rev>``), which is what the
hand-over of live databases (``upgrade --baseline``, ``stamp``; `atlembic.convert.handover`) checks.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url

from atlembic.config import Settings
from atlembic.convert.compare import respellings
from atlembic.convert.run import AlembicHistory, HistoryRun, RevisionInfo, load_history, run_history, source_hints
from atlembic.devdb import DevDatabase
from atlembic.diff import diff_schemas
from atlembic.engines import engine_for, inspect_schema, open_dev_database
from atlembic.environment import import_metadata
from atlembic.errors import AtlembicError, one_line, plural
from atlembic.migrate.directory import VERSION_FORMAT, MigrationDir, MigrationFile, atomic_write, render_migration
from atlembic.migrate.executor import StatementError, execute_as_written, run_file
from atlembic.migrate.lexer import split_statements
from atlembic.migrate.transactions import autocommit
from atlembic.schema.model import Schema
from atlembic.timings import Timings

__all__ = ["ConvertOutcome", "WrittenFile", "convert", "HEAD_MARKER"]

HEAD_MARKER = "alembic:head"
VERSION_TABLE_MARKER = "alembic:version_table"


@dataclass
class WrittenFile:
    path: Path
    statements: int
    revision: str | None = None  # history mode: the Alembic revision it holds


@dataclass
class ConvertOutcome:
    script_location: Path
    heads: tuple[str, ...]
    revisions: list[RevisionInfo]
    aimed: list[str]
    dev_description: str
    files: list[WrittenFile] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    respelled: list[str] = field(default_factory=list)  # accepted differences: same text, engine's spelling
    left_out: list[str] = field(default_factory=list)  # what env.py's include_object / include_name exclude
    timings: Timings = field(default_factory=Timings)

    @property
    def data_migrations(self) -> list[RevisionInfo]:
        return [r for r in self.revisions if r.data_migration]

    @property
    def baseline_version(self) -> str:
        return self.files[-1].path.name.split("_", 1)[0] if self.files else ""


def convert(
    settings: Settings,
    *,
    history: bool = False,
    start_metadata: str | None = None,
    start_sql: str | Path | None = None,
    head: str | None = None,
    now: datetime | None = None,
    data: str = "run",
) -> ConvertOutcome:
    """Convert the project's Alembic history; see the module docstring. `data` (history mode): ``run`` keeps
    the DML the revisions ran with literal SQL as statements, where they ran it; ``review`` as comments only."""
    timings = Timings()
    if data not in ("run", "review"):
        raise AtlembicError(f"--data {data}: expected run or review")
    if data != "run" and not history:
        raise AtlembicError("--data goes with --history (a baseline holds the schema only)")
    directory = settings.migration_dir()
    existing = directory.files()
    if existing:
        raise AtlembicError(
            f"migration directory {directory.path} already holds {plural(len(existing), 'file')}; convert writes the "
            "first files of a new directory (pass --dir to choose another one)"
        )
    with timings.stage("load history"):
        alembic_history = load_history(settings, head)
        start = _start_builder(settings, start_metadata, start_sql)
    dialect = settings.dialect
    with timings.stage("dev database start"):
        dev = open_dev_database(dialect, settings.dev_url)
    with dev, _history_dev(dev, settings) as history_dev:
        with timings.stage("run alembic history"), history_dev.clean_database() as engine:
            run = run_history(alembic_history, engine, per_revision=history, start=start)
        for info in run.revisions:
            info.hints = source_hints(info.path)
        outcome = ConvertOutcome(alembic_history.script_location, run.heads or alembic_history.targets,
                                 run.revisions, run.aimed, dev.description, unsupported=run.unsupported,
                                 timings=timings, left_out=run.left_out)
        versions = _versions(now, len(run.revisions) + 1 if history else 1)
        with timings.stage("plan"):
            if history:
                planned = _history_files(alembic_history, run, dev.dialect_name, versions, bool(start), data)
            else:
                planned = [_baseline_file(alembic_history, run, dev.dialect_name, versions[0])]
        with timings.stage("verify"):
            outcome.respelled = _verify(dev, planned, dev.dialect_name)
    with timings.stage("write"):
        outcome.files = _write_all(directory, planned)
    return outcome


# ----------------------------------------------------------------------------------------------------
# dev databases


@contextlib.contextmanager
def _history_dev(dev: DevDatabase, settings: Settings) -> Iterator[DevDatabase]:
    """Where the Alembic history runs. SQLite: a scratch *file*, because env.py opens its own
    connections (an in-memory database would be a new, empty one for each); otherwise ``dev``."""
    engine = engine_for(dev.dialect_name)
    if not engine.in_process:
        yield dev
        return
    with tempfile.TemporaryDirectory(prefix="atlembic-convert-") as tmp:
        file_dev = engine.open_dev_database(dev.dialect_name, make_url(f"sqlite:///{Path(tmp) / 'history.db'}"))
        with file_dev:
            yield file_dev


# ----------------------------------------------------------------------------------------------------
# the starting schema


def _start_builder(settings: Settings, start_metadata: str | None, start_sql: str | Path | None
                   ) -> Callable[[Connection], None] | None:
    if start_metadata and start_sql:
        raise AtlembicError("--start-metadata and --start-sql are mutually exclusive")
    if start_metadata:
        metadata = import_metadata(settings, start_metadata, f"--start-metadata {start_metadata}")

        def create(conn: Connection) -> None:
            try:
                metadata.create_all(conn)
            except sa.exc.SQLAlchemyError as exc:
                raise AtlembicError(f"--start-metadata {start_metadata}: {one_line(exc, with_type=True)}") from exc

        return create
    if start_sql:
        path = Path(start_sql)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AtlembicError(f"--start-sql {path}: {exc}") from exc

        def run(conn: Connection) -> None:
            for stmt in split_statements(text, conn.dialect.name):
                try:
                    execute_as_written(conn, stmt.text)
                except sa.exc.SQLAlchemyError as exc:
                    raise AtlembicError(f"--start-sql {path}:{stmt.line}: {one_line(exc, with_type=True)}") from exc

        return run
    return None


# ----------------------------------------------------------------------------------------------------
# planning the files


@dataclass
class _Planned:
    name: str
    content: str
    statements: int
    expected: Schema  # the schema after this file
    revision: str | None = None


def _versions(now: datetime | None, count: int) -> list[str]:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc)
    return [(now + timedelta(seconds=i)).strftime(VERSION_FORMAT) for i in range(count)]


def _comment(lines: list[str]) -> list[str]:
    return [f"-- {line}".rstrip() for line in lines]


def _statements(dialect: str, current: Schema, desired: Schema) -> tuple[list[tuple[str, str]], list[str]]:
    diff = diff_schemas(current, desired)
    if not diff:
        return [], []
    planner = engine_for(dialect).planner()
    statements = planner.plan(diff)
    return [(s.comment, s.sql) for s in statements], list(planner.directives)


def _header(directives: list[str], lines: list[str]) -> str:
    head = [f"-- atlas:{d.removeprefix('atlas:')}" for d in directives] + lines
    return "\n".join(head) + "\n\n"


def _data_note(info: RevisionInfo, location: Path) -> list[str]:
    return [f"{info.revision} ({_relative(info.path, location)}): {info.data_summary()}"]


def _relative(path: Path, location: Path) -> str:
    try:
        return str(path.relative_to(location))
    except ValueError:
        return str(path)


def _baseline_file(history: AlembicHistory, run: HistoryRun, dialect: str, version: str) -> _Planned:
    changes, directives = _statements(dialect, Schema(), run.final)
    heads = run.heads or history.targets
    location = history.script_location
    lines = [
        f"Baseline converted from the Alembic history in {location.name}/ by atlembic convert:",
        f"the schema at Alembic head {' '.join(heads)} ({plural(len(run.revisions), 'revision')}), "
        f"without {run.version_table}.",
        f"{HEAD_MARKER} {' '.join(heads)}",
        f"{VERSION_TABLE_MARKER} {run.version_table}",
    ]
    data = [r for r in run.revisions if r.data_migration]
    if data:
        lines.append("Schema only: these revisions also move data (not repeated here; review them):")
        for info in data:
            lines += [f"  {line}" for line in _data_note(info, location)]
    content = _header(directives, _comment(lines)) + render_migration(changes)
    return _Planned(f"{version}_baseline.sql", content, len(changes), run.final)


def _history_files(history: AlembicHistory, run: HistoryRun, dialect: str, versions: list[str],
                   has_start: bool, data: str = "run") -> list[_Planned]:
    planned: list[_Planned] = []
    location = history.script_location
    previous = Schema()
    index = 0
    if has_start and not run.initial.is_empty:
        changes, directives = _statements(dialect, previous, run.initial)
        lines = ["The starting schema the first Alembic revision expects (--start-metadata / --start-sql)."]
        content = _header(directives, _comment(lines)) + render_migration(changes)
        planned.append(_Planned(f"{versions[index]}_start_schema.sql", content, len(changes), run.initial))
        previous, index = run.initial, index + 1
    for info in run.revisions:
        if info.schema is None:
            raise AtlembicError(f"revision {info.revision}: no schema was captured after it (did env.py run "
                                "context.run_migrations()?)")
        message = info.message.splitlines() or [""]
        lines = [
            f"alembic:revision {info.revision}",
            f"alembic:down_revision {' '.join(info.down_revisions) or '(base)'}",
            f"{HEAD_MARKER} {' '.join(info.heads) or info.revision}",
            f"{VERSION_TABLE_MARKER} {run.version_table}",
            f"alembic:file {_relative(info.path, location)}",
            *message,
        ]
        body, directives, statements = _revision_body(info, dialect, previous, data)
        content = _header(directives, _comment(lines)) + body
        slug = re.sub(r"[^A-Za-z0-9]+", "_", message[0]).strip("_")[:60].strip("_") or info.revision
        planned.append(_Planned(f"{versions[index]}_{slug}.sql", content, statements, info.schema, info.revision))
        previous, index = info.schema, index + 1
    return planned


def _revision_body(info: RevisionInfo, dialect: str, previous: Schema, data: str) -> tuple[str, list[str], int]:
    """One revision's file body, in the order the revision ran: the schema changes planned up to each point
    where it ran DML (the schema inspected right before that statement), the DML, the rest. `data`: ``run``
    keeps the DML that ran with literal SQL as statements, ``review`` keeps every DML as a comment only.
    Returns the body, the file directives and the statement count."""
    parts: list[str] = []
    directives: list[str] = []
    count = 0
    point = previous

    def schema_changes(to: Schema) -> None:
        nonlocal point, count
        changes, found = _statements(dialect, point, to)
        if changes and parts:
            parts.append("\n")  # a blank line after the DML before
        parts.append(render_migration(changes))
        directives.extend(d for d in found if d not in directives)
        count += len(changes)
        point = to

    last_was_dml = False
    for number, dml in enumerate(info.dml):
        if dml.before is not None and dml.before != point:
            schema_changes(dml.before)
            last_was_dml = False
        if not last_was_dml:
            parts.append(("\n" if "".join(parts) else "") + "\n".join(_review_header(info, data, first=number == 0))
                         + "\n")
        if dml.bound:
            parts.append("-- (ran with bound parameters, not repeated): " + " ".join(dml.sql.split()) + "\n")
        elif data == "review":
            parts.append("-- (not run, --data review): " + " ".join(dml.sql.split()) + "\n")
        else:
            parts.append(dml.sql + ";\n")
            count += 1
        last_was_dml = True
    schema_changes(info.schema or point)
    if info.data_migration and not info.dml:
        parts.append(("\n" if "".join(parts) else "") + "\n".join(_review_header(info, data, first=True)) + "\n"
                     "-- (no DML ran on the empty dev database; its Python code may change rows on real data)\n")
    return "".join(parts), directives, count


def _review_header(info: RevisionInfo, data: str, *, first: bool) -> list[str]:
    """The REVIEW flag above a revision's data migration (at its first DML) and above each later run of DML."""
    if not first:
        return [f"-- REVIEW: data migration of Alembic revision {info.revision}, continued."]
    how = "kept as comments, not run (--data review)" if data == "review" else \
        "where it ran them, in the order it ran them"
    return [f"-- REVIEW: data migration of Alembic revision {info.revision}: {info.data_summary()}.",
            f"-- These are the statements it ran on an empty dev database, {how}; check them before relying on them."]


# ----------------------------------------------------------------------------------------------------
# verify and write


def _verify(dev: DevDatabase, planned: list[_Planned], dialect: str) -> list[str]:
    """Apply the files in order on a clean dev database; after each, the schema must equal what Alembic made.

    Returns the differences accepted as the engine's re-spelling of the same expression text.
    """
    notes: list[str] = []
    target = engine_for(dialect)
    with dev.clean_database() as engine, engine.connect() as raw:
        conn = autocommit(raw)
        for item in planned:
            file = MigrationFile(item.name, Path(item.name), item.content.encode())
            what = f"Alembic revision {item.revision}" if item.revision else "the Alembic head state"
            try:
                run_file(conn, file, file.statements(target.scan_options), transactions=target.transactions)
            except StatementError as exc:
                raise AtlembicError(f"the converted file does not apply on the dev database ({what}); nothing was "
                                    f"written: {exc}") from exc
            reached = inspect_schema(conn)
            remaining = diff_schemas(reached, item.expected)
            respelled = respellings(remaining) if remaining else []
            if respelled is not None:
                notes += [f"{item.name}: {line}" for line in respelled]
            else:
                raise AtlembicError(
                    f"{item.name} does not reproduce {what}; nothing was written. Differences: "
                    + "; ".join(remaining.describe())
                )
    return notes


def _write_all(directory: MigrationDir, planned: list[_Planned]) -> list[WrittenFile]:
    if len(planned) == 1:
        item = planned[0]
        return [WrittenFile(directory.write_text(item.name, item.content), item.statements, item.revision)]
    directory.path.mkdir(parents=True, exist_ok=True)
    written: list[WrittenFile] = []
    try:
        for item in planned:
            path = directory.path / item.name
            if path.exists():
                raise AtlembicError(f"migration file {path} already exists")
            atomic_write(path, item.content.encode())
            written.append(WrittenFile(path, item.statements, item.revision))
        directory.write_sum()
    except BaseException:
        for file in written:
            file.path.unlink(missing_ok=True)
        raise
    return written
