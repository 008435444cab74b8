"""Run migration files on the dev database statement by statement and analyze what each one changed.

Atlas's way (``migratelint.DevLoader``): replay the directory up to the first analyzed file on a clean
dev database; then execute every statement of each analyzed file, inspecting the schema after each
one, so that every change maps to the statement (file line) that made it. Statements that cannot
change the schema (INSERT, UPDATE, ...) are executed without inspecting.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

from atlembic.devdb import DevDatabase
from atlembic.diff import AddTable, Change, DropTable, ModifyTable, Renames, SchemaDiff, diff_schemas, rename_candidates
from atlembic.engines import engine_for, find_engine, inspect_schema
from atlembic.engines.mysql import MariaDB
from atlembic.errors import AtlembicError
from atlembic.lint.analyzers import ANALYZERS, analyzers_for, code_owner
from atlembic.lint.data import TargetData
from atlembic.lint.model import Diagnostic, FileContext, Finding, Step, hooks_for
from atlembic.lint.targets import (
    changed_table,
    creates_table,
    folded,
    inspect_after,
    inspect_created,
    may_denote,
    table_names,
)
from atlembic.migrate.directory import MigrationFile
from atlembic.migrate.executor import StatementError, execute_as_written, execute_batch
from atlembic.migrate.lexer import Statement
from atlembic.migrate.transactions import autocommit
from atlembic.replay import cache as replay_cache
from atlembic.replay.replayed import replayed_database
from atlembic.schema.model import Schema

__all__ = ["LintConfig", "LintResult", "RejectedStatement", "analyze_diff", "lint_files", "statement_changes"]

# First keywords of statements that never change the schema: executed, not inspected.
_DATA_ONLY = {"INSERT", "UPDATE", "DELETE", "SELECT", "WITH", "SET", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK",
              "START", "SAVEPOINT", "RELEASE", "VALUES", "LOCK", "ANALYZE", "EXPLAIN", "SHOW", "REPLACE"}
_FIRST_WORD = re.compile(r"^(?:\s+|--[^\n]*\n|/\*.*?\*/|#[^\n]*\n)*([A-Za-z]+)", re.DOTALL)
_RENAMES = re.compile(r"\b(RENAME|CHANGE)\b", re.IGNORECASE)


def changes_schema(text: str) -> bool:
    m = _FIRST_WORD.match(text)
    return m is None or m[1].upper() not in _DATA_ONLY


# -- configuration ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LintConfig:
    """``[atlembic] lint_error`` (analyzers or codes whose findings fail the run; default: destructive)
    and ``lint_ignore`` (analyzers or codes never reported)."""

    error: frozenset[str] = frozenset({"destructive"})
    ignore: frozenset[str] = frozenset()

    @classmethod
    def from_options(cls, options: dict[str, str]) -> LintConfig:
        error = _names(options["lint_error"], "lint_error") if "lint_error" in options else cls.error
        ignore = _names(options.get("lint_ignore", ""), "lint_ignore")
        return cls(frozenset(error), frozenset(ignore))

    def is_error(self, analyzer: str, code: str) -> bool:
        return analyzer in self.error or code in self.error

    def ignored(self, analyzer: str, code: str) -> bool:
        return analyzer in self.ignore or code in self.ignore

    def without(self, analyzer: str) -> LintConfig:
        """The same configuration, with `analyzer`'s findings (and its codes) no longer errors."""
        codes = set(ANALYZERS[analyzer].codes) if analyzer in ANALYZERS else set()
        return LintConfig(frozenset(n for n in self.error if n != analyzer and n not in codes), self.ignore)


def _names(value: str, key: str) -> set[str]:
    names = {n for n in re.split(r"[\s,]+", value.strip()) if n}
    known = set(ANALYZERS) | {code for cls in ANALYZERS.values() for code in cls.codes}
    unknown = sorted(names - known)
    if unknown:
        raise AtlembicError(f"[atlembic] {key}: unknown analyzer or code {', '.join(map(repr, unknown))} "
                            f"(analyzers: {', '.join(ANALYZERS)}; codes like DS102)")
    return names


# -- results -------------------------------------------------------------------------------------------


@dataclass
class LintResult:
    files: list[str] = field(default_factory=list)  # analyzed files, in order
    skipped: list[str] = field(default_factory=list)  # nolint headers and checkpoints
    findings: list[Finding] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)  # data-dependent checks the target passed
    dev_description: str = ""
    target: str | None = None
    # The dev database's whole schema after the last file, inspected when asked (`lint_files(inspect_end=True)`):
    # what replaying the base and the analyzed files reaches.
    reached: Schema | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.error]


def display_path(path: Path | str) -> str:
    """The file relative to the working directory when it is below it (what CI annotations need)."""
    path = Path(path)
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except (OSError, ValueError):
        return str(path)


class RejectedStatement(AtlembicError):
    """A statement of an analyzed file failed on the dev database; `error` names the file, line and cause."""

    def __init__(self, error: StatementError) -> None:
        self.error = error
        super().__init__(f"lint: the dev database rejected {error}")


# -- per-statement changes -----------------------------------------------------------------------------


def statement_changes(before: Schema, after: Schema, text: str, tables: Collection[str] | None = None) -> SchemaDiff:
    """What one statement changed; `tables`: the only tables that can differ (None: any object). A statement
    that renames turns its drop + add pairs into renames."""
    if tables is not None:  # the rest of the schema is the same objects on both sides: nothing to compare
        before, after = _only(before, tables), _only(after, tables)
    diff = diff_schemas(before, after)
    if not diff or not _RENAMES.search(text):
        return diff
    renames = Renames()
    used: set[tuple[str, str, str | None]] = set()
    for candidate in rename_candidates(diff):
        old, new = (candidate.kind, candidate.old, candidate.table), (candidate.kind, candidate.new, candidate.table)
        if old in used or new in used:
            continue  # one-to-one: the first shape match wins
        used |= {old, new}
        renames = renames.merged(candidate.as_renames())
    return diff_schemas(before, after, renames) if renames else diff


def _only(schema: Schema, tables: Collection[str]) -> Schema:
    return replace(schema, tables=tuple(t for t in schema.tables if t.name in tables))


class _CreatedRun:
    """Statements on tables the file created, executed but not yet inspected (see atlembic.lint.targets)."""

    def __init__(self, start: Schema) -> None:
        self.created: set[str] = set()  # tables (`folded`) the file created since the last inspection
        self.statements: list[tuple[int, Statement, str]] = []  # (index, statement, table written)
        self._start = table_names(start)
        self._now: tuple[Schema, frozenset[str]] = (start, self._start)

    def takes(self, text: str, before: Schema) -> str | None:
        """The table `text` changes when the statement can join the run: a whitelisted statement on a table
        created by the run, or the CREATE TABLE of a name neither the file's start nor `before` holds."""
        new = creates_table(text)
        if new is not None:
            if self._now[0] is not before:
                self._now = (before, table_names(before))
            taken = may_denote(self._start, new) or may_denote(self._now[1], new) or folded(new) in self.created
            return None if taken else new
        written = changed_table(text)
        return written if written is not None and folded(written) in self.created else None


def file_steps(
    conn: Connection, file: MigrationFile, dialect: str, start: Schema | None = None
) -> tuple[Schema, list[Step], list[Statement]]:
    """Execute `file` statement by statement; return the schema before it, its steps and statements.

    `start` is the dev database's schema before the file when known (the replay cache), else inspected."""
    return _file_steps(conn, file, dialect, start)[:3]


def _file_steps(
    conn: Connection, file: MigrationFile, dialect: str, start: Schema | None = None, *, whole_end: bool = False
) -> tuple[Schema, list[Step], list[Statement], Schema | None]:
    """`file_steps`, and the whole schema the file ends in when it was inspected in full (else None). With
    `whole_end`, a run of statements on created tables that ends the file (a first revision is one) is inspected
    in full instead of table by table: what a caller that needs the whole end would inspect again."""
    statements = file.statements(dialect)
    hooks = hooks_for(dialect)
    probe = hooks.probe
    start = before = start if start is not None else inspect_schema(conn)
    facts = probe(conn) if probe is not None else {}
    steps: list[Step] = []
    run = _CreatedRun(start)
    # Where the engine can take many statements in one round trip, a run's statements (nothing is inspected between
    # them) go to the server together just before the run is inspected; one that fails is found running them again
    # one by one, so the error names it as before.
    batches = engine_for(dialect).transactions.batches
    pending: list[Statement] = []

    def execute(stmts: Sequence[Statement]) -> None:
        for stmt in stmts:
            try:
                execute_as_written(conn, stmt.text)
            except Exception as exc:
                raise RejectedStatement(StatementError(file, stmt, exc)) from exc

    def inspect_run(whole: bool = False) -> None:
        nonlocal before, facts
        if not (len(pending) > 1 and execute_batch(conn, [stmt.text for stmt in pending])):
            execute(pending)
        pending.clear()
        after, tables, resolved = inspect_created(conn, before, {written for _, _, written in run.statements},
                                                  whole=whole)
        facts_after = probe(conn) if probe is not None else {}
        # A table's changes go to the run's first statement on it; what no statement names (a referencing
        # table's reflected key, anything a full inspection found) to the run's first statement.
        claimed = {resolved.get(written) for _, _, written in run.statements}
        by_table: dict[str | None, list[Change]] = {None: []}
        for change in statement_changes(before, after, "", tables).changes:
            table = _table_of(change)
            by_table.setdefault(table if table in claimed else None, []).append(change)
        for index, stmt, written in run.statements:
            mine = by_table.pop(None, []) + by_table.pop(resolved.get(written), [])
            steps.append(Step(index, [stmt], before, after, tuple(mine), facts, facts_after))
        run.statements.clear()
        before, facts = after, facts_after

    for index, stmt in enumerate(statements):
        written = run.takes(stmt.text, before)
        if written is None and run.statements:
            inspect_run()
        if written is not None and batches:
            pending.append(stmt)
        else:
            execute([stmt])
        if written is not None:
            run.created.add(folded(written))
            run.statements.append((index, stmt, written))
            continue
        if not changes_schema(stmt.text):
            steps.append(Step(index, [stmt], before, before, (), facts, facts))
            continue
        run.created.clear()  # what the statement did to the tables the file created is not known from its text
        after, tables = inspect_after(conn, before, stmt.text)
        facts_after = probe(conn) if probe is not None else {}
        diff = statement_changes(before, after, stmt.text, tables)
        steps.append(Step(index, [stmt], before, after, diff.changes, facts, facts_after))
        before, facts = after, facts_after
    end = None
    if run.statements:
        inspect_run(whole=whole_end)
        end = before if whole_end else None
    rewrite = hooks.rewrite_steps
    return start, (rewrite(steps) if rewrite is not None else steps), statements, end


def _table_of(change: Change) -> str | None:
    if isinstance(change, (AddTable, DropTable)):
        return change.table.name
    return change.name if isinstance(change, ModifyTable) else None


# -- analysis ------------------------------------------------------------------------------------------


def _nolint(file: MigrationFile | None) -> tuple[bool, list[str]]:
    """(skip the whole file, rules for every statement) from the file header's ``atlas:nolint``."""
    if file is None:
        return False, []
    args = [arg.strip() for name, arg in file.directives if name == "nolint"]
    if args == [""]:
        return True, []
    return False, [rule for arg in args for rule in (arg.split() or [""])]


def analyze(ctx: FileContext, config: LintConfig) -> list[Finding]:
    """Run every analyzer of the dialect on one file; apply nolint directives and the configuration."""
    _, file_rules = _nolint(ctx.file)
    found: list[Finding] = []
    for analyzer in analyzers_for(ctx.dialect):
        if analyzer.name in config.ignore:
            continue
        for diag in analyzer.run(ctx):
            owner = code_owner(diag.code) or analyzer.name
            rules = file_rules + [r for arg in diag.step.directive("nolint") for r in (arg.split() or [""])]
            if "" in rules or diag.code in rules or owner in rules or analyzer.name in rules:
                continue
            if config.ignored(owner, diag.code):
                continue
            found.append(_finding(ctx, diag, owner, config))
    found.sort(key=lambda f: (f.line, f.code))
    return found


def _finding(ctx: FileContext, diag: Diagnostic, owner: str, config: LintConfig) -> Finding:
    return Finding(ctx.path, diag.step.line, diag.code, owner, diag.message,
                   error=diag.fails or config.is_error(owner, diag.code), file=ctx.name)


class _DevState:
    """One clean dev database at a time (a checkpoint file starts over on a new one)."""

    def __init__(self, dev: DevDatabase, dialect: str) -> None:
        self.dev, self.dialect = dev, dialect
        self.stack = ExitStack()
        self.conn: Connection | None = None
        self.identity = replay_cache.dev_identity(dev)

    def replayed_schema(self, files: Sequence[MigrationFile]) -> Schema | None:
        """The schema a clean dev database has after replaying `files`, when the replay cache holds it."""
        return replay_cache.load_schema(files, self.dialect, self.identity)

    def reset(self, files: Sequence[MigrationFile]) -> Connection:
        self.stack.close()
        self.stack = ExitStack()
        try:  # a copy of the state this run already replayed, where the dev database can copy one
            engine: Engine = self.stack.enter_context(replayed_database(self.dev, files))
        except StatementError as exc:
            raise AtlembicError(f"lint: replaying the migration directory failed: {exc}") from exc
        self.conn = autocommit(self.stack.enter_context(engine.connect()))
        return self.conn

    def close(self) -> None:
        self.stack.close()


def lint_files(
    dev: DevDatabase,
    base: Sequence[MigrationFile],
    chosen: Sequence[MigrationFile],
    config: LintConfig,
    data: TargetData | None = None,
    *,
    inspect_end: bool = False,
) -> LintResult:
    """Analyze `chosen` in order, each against the dev database's state after `base` and the files before it.

    `inspect_end`: also inspect the whole schema the last file leaves (`LintResult.reached`), for a caller that
    would otherwise replay the same files again to read it (`revision` verifying its plan)."""
    dialect = dev.dialect_name
    result = LintResult(dev_description=dev.description, target=data.url if data is not None else None)
    state = _DevState(dev, dialect)
    try:
        conn = state.reset(base)
        # Right after a replay the cache may know the schema; once a file ran here, inspect.
        known = state.replayed_schema(base)
        end: Schema | None = None
        for position, file in enumerate(chosen, 1):
            if file.is_checkpoint:  # the whole schema restated: starts over, nothing to compare with
                end = None
                conn = state.reset([file])
                known = state.replayed_schema([file])
                result.skipped.append(file.name)
                continue
            start, steps, statements, end = _file_steps(conn, file, dialect, known,
                                                        whole_end=inspect_end and position == len(chosen))
            known = None
            skip, _ = _nolint(file)
            if skip:
                result.skipped.append(file.name)
                continue
            ctx = FileContext(file.name, display_path(file.path), dialect, start, steps, statements, file,
                              mariadb=isinstance(find_engine(conn), MariaDB), data=data)
            result.files.append(file.name)
            result.findings.extend(analyze(ctx, config))
            result.verified.extend(ctx.verified)
        if inspect_end:
            result.reached = end if end is not None else inspect_schema(conn)
    finally:
        state.close()
    return result


def analyze_diff(diff: SchemaDiff, dialect: str, config: LintConfig, name: str = "plan") -> list[Finding]:
    """Run the analyzers on a planned diff (downgrade): one step, every object taken as existing."""
    step = Step(0, [], diff.current, diff.desired, diff.changes)
    ctx = FileContext(name, name, dialect, diff.current, [step])
    return analyze(ctx, config)
