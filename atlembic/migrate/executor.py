"""Run migration files: on the dev database (replay, nothing recorded) and on the target
(apply, every step recorded in the revisions table so a failure says exactly where it stopped)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from sqlalchemy.engine import Connection, Engine

from atlembic.errors import AtlembicError, one_line, plural
from atlembic.migrate.batch import BatchRecords, multi_statements, next_batch, run_batch
from atlembic.migrate.directory import MigrationFile
from atlembic.migrate.driver import Driver
from atlembic.migrate.lexer import Statement, statement_hashes
from atlembic.migrate.revisions import INTERRUPTED, Revision, RevisionStore, finished
from atlembic.migrate.transactions import (
    RERUNNABLE_STATEMENTS,
    SESSION_STATEMENTS,
    Transactions,
    autocommit,
    first_keyword,
)


class StatementError(AtlembicError):
    """A statement of a migration file failed; names the file, line, statement and the cause."""

    def __init__(self, file: MigrationFile, stmt: Statement, cause: BaseException, state: str = "") -> None:
        self.file, self.statement, self.cause = file, stmt, cause
        reason = one_line(cause, first_line=True)
        message = f'{file.name}:{stmt.line}: executing statement "{_short(stmt.text)}": {reason}'
        super().__init__(message + (f"; {state}" if state else ""))


TX_MODES = ("file", "all", "none")


def execute_as_written(conn: Connection, sql: str) -> None:
    """SQL text run exactly as written, without the DBAPI's %-formatting: PyMySQL formats a statement even
    when it has no parameters, so `DEFAULT '100% sure'` would reach the server as '100{}ure'."""
    conn.exec_driver_sql(sql, execution_options={"no_parameters": True})


def execute_batch(conn: Connection, texts: Sequence[str], *, before_commit: Callable[[], None] | None = None) -> bool:
    """`texts` sent to the server as one batch (one round trip) inside one transaction, on an engine whose
    transactions `batches`; `before_commit` runs inside it. False when anything failed: all of it is rolled back,
    and the caller runs the statements one by one, which names the failing one."""
    try:
        execute_as_written(conn, "\n;\n".join(["BEGIN", *texts]))
        if before_commit is not None:
            before_commit()
        conn.exec_driver_sql("COMMIT")
    except Exception:
        conn.exec_driver_sql("ROLLBACK")
        return False
    return True


def file_tx_mode(file: MigrationFile, global_mode: str = "file") -> str:
    """How `file` runs: ``file`` (its own transaction), ``none``, or ``all`` (inside the caller's).

    Atlas's precedence: an ``atlas:txmode none|file`` header beats
    ``--tx-mode`` unless that is ``all``, which a directive may not contradict.
    """
    if global_mode not in TX_MODES:
        raise AtlembicError(f'unknown --tx-mode "{global_mode}" (expected "file", "all" or "none")')
    modes = [arg.strip() for name, arg in file.directives if name == "txmode"]
    if len(modes) > 1:
        raise AtlembicError(f'{file.name}: multiple atlas:txmode directives found: {", ".join(modes)}')
    if not modes:
        return global_mode
    mode = modes[0]
    if mode == "all":
        raise AtlembicError(f'txmode "all" is not allowed in file directive "{file.name}". Use "file" instead')
    if mode not in ("none", "file"):
        raise AtlembicError(f'{file.name}: unknown atlas:txmode "{mode}" (expected "none" or "file")')
    if global_mode == "all":
        raise AtlembicError(
            f'cannot set txmode directive to "{mode}" in "{file.name}" when txmode "all" is set globally'
        )
    return mode


def _uses_transaction(file: MigrationFile, global_mode: str = "file") -> bool:
    return file_tx_mode(file, global_mode) == "file"


def run_file(
    conn: Connection,
    file: MigrationFile,
    statements: Sequence[Statement],
    *,
    transactions: type[Transactions],
    start: int = 0,
    after_statement: Callable[[int], None] | None = None,
    before_statement: Callable[[int], None] | None = None,
    tx_mode: str = "file",
    row_checks: bool = True,
    records: BatchRecords | None = None,
) -> None:
    """Execute `statements[start:]` of `file`, in one transaction (the engine's `transactions`) unless the
    file opts out or the engine's DDL commits on its own.

    `after_statement(n)` runs after statement n succeeded, inside the same transaction, so the
    progress it records commits or rolls back with the statement itself. Outside a file transaction each
    statement commits with its record where the engine can run it in a transaction of its own; otherwise
    `before_statement(i)` records first that statements[i] may take effect (`Transactions.run_statement`).
    `row_checks=False` tells the transaction that no table holds rows (SQLite then skips its foreign key checks).

    Where the transactions `batches` (PostgreSQL), a whole file in its own transaction: the statements go to
    the server as one batch (one round trip instead of one per statement, and `after_statement` once, for
    all of them: progress inside a transaction is all or nothing anyway). If the batch fails it is rolled
    back and the file runs again statement by statement, which stops at the failing statement and reports
    it.

    Outside a file transaction, on a connection that sends many statements in one round trip (MySQL's
    multi-statements, `batch.multi_statements`), runs of statements go as batches with the rows `records`
    renders for each (migrate/batch.py), recorded exactly as one by one.
    """
    mode = file_tx_mode(file, tx_mode)
    in_transaction = transactions.transactional_ddl and mode != "none"  # "all": inside the caller's
    if start == 0 and len(statements) > 1 and transactions.batches and mode == "file":
        last = partial(after_statement, len(statements)) if after_statement is not None else None
        if execute_batch(conn, [s.text for s in statements], before_commit=last):
            return
        # rolled back: run it again one statement at a time, for a precise report
    strategy = transactions(conn)
    strategy.row_checks = row_checks

    def execute(stmt: Statement) -> None:
        try:
            execute_as_written(conn, stmt.text)
        except Exception as exc:  # the driver's error is the user's error: report it with context
            raise StatementError(file, stmt, exc) from exc

    batched = records is not None and not in_transaction and multi_statements(conn)

    def run() -> None:
        index = start
        while index < len(statements):
            stmt = statements[index]
            end = next_batch(statements, index) if batched else index
            if records is not None and end > index:
                failed = run_batch(conn, file.name, statements, index, end, records, strategy.runs_in_transaction)
                if failed is None:
                    index = end
                    continue
                if failed.in_statement:
                    raise StatementError(file, statements[failed.index], failed.error) from failed.error
                raise failed.error
            if after_statement is None:  # a replay: nothing to record
                execute(stmt)
            elif in_transaction:
                execute(stmt)
                after_statement(index + 1)
            else:
                intent = partial(before_statement, index) if before_statement is not None else _nothing
                strategy.run_statement(partial(execute, stmt), stmt.text, partial(after_statement, index + 1), intent)
            index += 1

    if not in_transaction and start:
        # A resumed file: what the statements before `start` set for their session, the rest ran under.
        for stmt in statements[:start]:
            if first_keyword(stmt.text) in SESSION_STATEMENTS:
                execute(stmt)
    if in_transaction and mode == "file":
        try:
            with strategy.transaction():
                run()
        except StatementError:
            raise
        except Exception as exc:  # COMMIT, or the checks before it (a deferred key, SQLite's foreign keys)
            end = statements[-1].line if statements else 1
            raise StatementError(file, Statement("COMMIT", len(file.content), end), exc) from exc
    else:
        run()


def _nothing() -> None:
    pass


# Statements after which every table is still empty, if it was before: CREATE TABLE with a column list
# (not AS SELECT) and CREATE INDEX. Anything else may write rows.
_NO_ROWS = re.compile(
    r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\#[^\n]*(?:\n|$))*"
    r"CREATE\s+(?:(?:UNIQUE\s+)?INDEX\b|(?:TEMP\s+|TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(?:\"[^\"]*\"|`[^`]*`|\[[^\]]*\]|[\w.$]+)\s*\()",
    re.IGNORECASE | re.DOTALL,
)


def run_replay(engine: Engine, files: Sequence[MigrationFile], driver: Driver, *, may_have_rows: bool = False) -> bool:
    """Replay `files` (the plain loop under the cache) on the engine `driver`. Returns whether any table may
    now hold rows.

    `may_have_rows`: the database's state before the first file (False: every table is empty). While no
    statement can have written a row, SQLite's foreign key checks around each file are skipped: they
    would read every table to find nothing.
    """
    with engine.connect() as raw:
        conn = autocommit(raw)
        for file in files:
            statements = file.statements(driver.scan_options)
            may_have_rows = may_have_rows or _may_write_rows(statements)
            run_file(conn, file, statements, transactions=driver.transactions, row_checks=may_have_rows)
    return may_have_rows


def leaves_tables_empty(files: Sequence[MigrationFile], driver: Driver) -> bool:
    """Whether every table is still empty after replaying `files` on a clean database: no statement of them
    can write a row (CREATE TABLE with columns, CREATE INDEX)."""
    return not any(_may_write_rows(file.statements(driver.scan_options)) for file in files)


def _may_write_rows(statements: Sequence[Statement]) -> bool:
    return not all(_NO_ROWS.match(s.text) for s in statements)


class ApplyReporter:
    """Progress callbacks of `apply_files` (the CLI draws them); every method may be left as is."""

    def planned(self, files: Sequence[MigrationFile], current: str | None) -> None:
        """The run will apply `files`, from version `current` (None: a database without revisions)."""

    def file_started(self, file: MigrationFile, start: int, total: int) -> None:
        """`file` begins at statement `start` (non-zero when a partial file resumes)."""

    def statement_done(self, file: MigrationFile, done: int) -> None:
        """`done` statements of `file` are applied."""

    def file_done(self, applied: AppliedFile) -> None:
        """`file` finished and is recorded."""

    def file_failed(self, file: MigrationFile, error: StatementError) -> None:
        """A statement of `file` failed; the error propagates after this."""


@dataclass
class _Progress:
    """Records each applied statement in the file's revision row (applied, partial_hashes)."""

    store: RevisionStore
    rev: Revision
    hashes: list[str]
    reporter: ApplyReporter | None = None
    file: MigrationFile | None = None
    began: int = 0  # time.monotonic_ns() when the file started
    texts: Sequence[str] = ()  # the statements
    complete: bool = False  # the finished row is written

    def record_row(self, done: int) -> Revision:
        """The row saying `done` statements are applied (becoming the row of this progress)."""
        if done == len(self.hashes):
            # The last statement: write the finished row right away, in the same transaction as the
            # statement, rather than a progress row now and the finished row after the commit.
            self.rev = finished(replace(self.rev, applied=done), time.monotonic_ns() - self.began)
            self.complete = True
        else:
            self.rev = replace(self.rev, applied=done, partial_hashes=self.hashes[:done])
        return self.rev

    def record(self, done: int) -> None:
        self.store.write(self.record_row(done))
        self._report(done)

    def recorded(self, done: int) -> None:
        """A batch (migrate/batch.py) committed the rows up to `done`, rendered before it ran: the finished
        row's execution time is measured again now that the last statement really finished."""
        if done == len(self.hashes):
            self.rev = finished(self.rev, time.monotonic_ns() - self.began)
            self.store.write(self.rev)
        self._report(done)

    def _report(self, done: int) -> None:
        if self.reporter is not None and self.file is not None:
            self.reporter.statement_done(self.file, done)

    def intent_row(self, index: int) -> Revision:
        """Statement `index` (0-based) may take effect from now on, unrecorded if the run dies: the row says so
        (an error Atlas and `status` show), so the next run asks whether it did (`apply_files`' `settle`)."""
        return replace(self.rev, applied=index, partial_hashes=self.hashes[:index] or None,
                       error=INTERRUPTED, error_stmt=self.texts[index])

    def intend(self, index: int) -> None:
        self.store.write(self.intent_row(index))


def _settled(file: MigrationFile, statements: Sequence[Statement], index: int, announced: str,
             settle: Callable[[MigrationFile, int], bool] | None) -> int:
    """Where a file resumes whose statement `index` was announced and never recorded (the run died)."""
    stmt = statements[index]
    where = f'{file.name}:{stmt.line}: the last run stopped while statement {index + 1} ("{_short(stmt.text)}") ran'
    if announced != stmt.text:
        raise AtlembicError(f"{where}, and the file was changed there since; nothing was applied")
    if first_keyword(stmt.text) in RERUNNABLE_STATEMENTS:
        return index
    if settle is None:
        raise AtlembicError(f"{where}: check whether it took effect; nothing was applied")
    return index + 1 if settle(file, index) else index


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass
class AppliedFile:
    file: MigrationFile
    statements: int
    elapsed_ns: int


def apply_files(
    conn: Connection,
    store: RevisionStore,
    files: Sequence[MigrationFile],
    driver: Driver,
    hashes: dict[str, str],
    existing: dict[str, Revision],
    on_file: Callable[[MigrationFile], None] | None = None,
    *,
    tx_mode: str = "file",
    reporter: ApplyReporter | None = None,
    settle: Callable[[MigrationFile, int], bool] | None = None,
) -> list[AppliedFile]:
    """Apply pending files in order, recording each in the revisions table (Atlas's algorithm).

    The row is written before the first statement (the file has started), updated after each
    statement, and finished with the last one. When a statement fails, the row left behind holds the error,
    the failing statement and how many statements were applied, and nothing after it runs.

    A statement that runs outside any transaction with its record (MySQL's DDL, CREATE INDEX CONCURRENTLY)
    is announced in the row first. When a run died there, the next one asks `settle(file, i)` whether
    statement i took effect (True: recorded as applied, not run again) before going on; without `settle`, or
    when it cannot tell, the run stops naming the statement. Statements that do the same when run twice
    (SELECT, SET ...) simply run again.

    ``tx_mode="all"``: the caller holds one transaction around everything, so a failure rolls back
    every file and its rows alike, and nothing is recorded.
    """
    applied: list[AppliedFile] = []
    # Every file split before the first one runs: one that cannot be read (a NUL byte) stops the run untouched.
    split = [(file, file.statements(driver.scan_options)) for file in files]
    for file, statements in split:
        if on_file is not None:
            on_file(file)
        texts = [s.text for s in statements]
        running = statement_hashes(texts)
        previous = existing.get(file.version)
        rev = previous or Revision(
            version=file.version, description=file.description, total=len(statements), hash=hashes[file.name]
        )
        rev = replace(rev, total=len(statements), hash=hashes[file.name], error="", error_stmt="")
        start = rev.applied
        stored = rev.partial_hashes or []
        if start and stored[:start] != running[:start]:
            changed = next((i + 1 for i in range(start) if stored[i : i + 1] != running[i : i + 1]), start)
            raise AtlembicError(f'history changed: statement {changed} from file "{file.name}" changed')
        if previous is not None and previous.error == INTERRUPTED and start < len(statements):
            start = _settled(file, statements, start, previous.error_stmt or "", settle)
            rev = replace(rev, applied=start, partial_hashes=running[:start] or None)
        store.write(rev, new=file.version not in existing and tx_mode != "all")
        began = time.monotonic_ns()
        progress = _Progress(store, rev, running, reporter, file, began, texts)
        if reporter is not None:
            reporter.file_started(file, start, len(statements))
        try:
            run_file(conn, file, statements, transactions=driver.transactions, start=start,
                     after_statement=progress.record,
                     before_statement=progress.intend, tx_mode=tx_mode, records=progress)
        except StatementError as exc:
            if reporter is not None:
                reporter.file_failed(file, exc)
            if tx_mode == "all" and driver.transactions.transactional_ddl:
                raise StatementError(
                    file, exc.statement, exc.cause,
                    state="--tx-mode all: the transaction rolled back, nothing was applied or recorded",
                ) from exc.cause
            # The transaction (if any) rolled back, taking its progress rows with it: re-read what
            # is really applied, then record the failure so `status` and the next run see it.
            done = next((r.applied for r in store.read_all() if r.version == file.version), start)
            failed = replace(
                rev, applied=done, partial_hashes=running[:done] or None,
                error=one_line(exc.cause), error_stmt=exc.statement.text,
                execution_time=time.monotonic_ns() - began,
            )
            store.write(failed)
            raise StatementError(
                file, exc.statement, exc.cause,
                state=f"revisions table: version {file.version} applied {done} of "
                      f"{plural(len(statements), 'statement')}, error recorded",
            ) from exc.cause
        if progress.complete:
            elapsed = progress.rev.execution_time
        else:  # no statement to run (an empty file, or everything applied before)
            elapsed = time.monotonic_ns() - began
            store.write(finished(replace(progress.rev, applied=len(statements)), elapsed))
        applied.append(AppliedFile(file, len(statements) - start, elapsed))
        if reporter is not None:
            reporter.file_done(applied[-1])
    return applied
