"""How one migration file runs inside a transaction, per engine.

Every engine gets the same shape: the connection is in driver autocommit and atlembic issues
BEGIN/COMMIT itself, so what is and is not inside the transaction is explicit. SQLite needs more:
`PRAGMA foreign_keys` is a no-op inside a transaction, so it is switched off before BEGIN and the
foreign keys are checked before COMMIT, the way Atlas's SQLite driver does it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ClassVar

from sqlalchemy.engine import Connection

from atlembic.errors import AtlembicError, plural


class Transactions:
    """Default: transactional DDL, plain BEGIN/COMMIT. The engine (atlembic.engines) names its subclass."""

    transactional_ddl: ClassVar[bool] = True
    # Whether a whole file's statements may go to the server as one batch inside the transaction (one round
    # trip; see executor.run_file).
    batches: ClassVar[bool] = False
    # False when the caller knows that no table holds a row (a replay of DDL only on an empty dev
    # database): checks that read the rows can be skipped.
    row_checks: bool = True

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.exec_driver_sql("BEGIN")
        try:
            yield
            self.before_commit()
        except BaseException:
            self.conn.exec_driver_sql("ROLLBACK")
            raise
        self.conn.exec_driver_sql("COMMIT")

    def before_commit(self) -> None:
        """Last checks inside the transaction; raise to roll it back."""

    # -- a statement outside a file transaction (txmode none, or an engine without transactional DDL) -------

    def run_statement(self, execute: Callable[[], None], sql: str, record: Callable[[], None],
                      intent: Callable[[], None]) -> None:
        """Run one statement and `record` it, so that a crash between the two (kill -9) cannot make a
        resumed run execute it twice: both commit together in a transaction of their own where the engine
        can run the statement in one; otherwise `intent` is recorded first (the statement may take effect
        from now on), and the next run decides from the schema whether it did."""
        def announced() -> None:
            intent()
            execute()
            record()

        if not self.runs_in_transaction(sql):
            announced()
            return
        self.conn.exec_driver_sql("BEGIN")
        try:
            execute()
        except Exception as exc:
            self.conn.exec_driver_sql("ROLLBACK")
            if not self.refused_in_transaction(exc):
                raise
            announced()  # the engine runs it only outside a transaction block (CREATE INDEX CONCURRENTLY)
            return
        try:
            record()
        except BaseException:
            self.conn.exec_driver_sql("ROLLBACK")
            raise
        self.conn.exec_driver_sql("COMMIT")

    def runs_in_transaction(self, sql: str) -> bool:
        """Whether `sql` is worth trying inside a transaction with its record (default: every statement)."""
        return True

    def refused_in_transaction(self, exc: Exception) -> bool:
        """Whether the failure says the statement cannot run inside a transaction block."""
        return False


# Statements that set what the rest of their session runs under, and do the same when run again: a resumed
# file runs those before its resume point once more (a new session has none of them).
SESSION_STATEMENTS = frozenset({"SET", "PRAGMA", "USE"})
# Statements whose effect is the same when run twice: after a crash they run again, whatever the last run did.
RERUNNABLE_STATEMENTS = SESSION_STATEMENTS | {"SELECT", "DO", "SHOW", "EXPLAIN", "ANALYZE", "VACUUM", "CHECKPOINT"}


def first_keyword(sql: str) -> str:
    """The statement's first word, upper-cased, after comments and blanks ("" when there is none)."""
    match = _FIRST_WORD.match(sql)
    return match.group(1).upper() if match else ""


_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\#[^\n]*(?:\n|$))*(\w+)", re.DOTALL)


def _sqlstate(exc: BaseException) -> str | None:
    cause = getattr(exc, "cause", exc)  # a StatementError carries the driver's error
    return getattr(getattr(cause, "orig", cause), "sqlstate", None)


class PostgresTransactions(Transactions):
    batches = True

    def refused_in_transaction(self, exc: Exception) -> bool:
        return _sqlstate(exc) == "25001"  # active_sql_transaction: "cannot run inside a transaction block"


class SqliteTransactions(Transactions):
    @contextmanager
    def transaction(self) -> Iterator[None]:
        enforced = bool(self.conn.exec_driver_sql("PRAGMA foreign_keys").scalar())
        if enforced:
            self.conn.exec_driver_sql("PRAGMA foreign_keys = off")
        try:
            self._enforced = enforced and self.row_checks
            self._violations_before = self._violations() if self._enforced else set()
            with super().transaction():
                yield
        finally:
            if enforced:
                self.conn.exec_driver_sql("PRAGMA foreign_keys = on")

    def _violations(self) -> set[tuple]:
        return {tuple(r) for r in self.conn.exec_driver_sql("PRAGMA foreign_key_check").all()}

    def runs_in_transaction(self, sql: str) -> bool:
        # PRAGMA foreign_keys is silently ignored inside a transaction, VACUUM refused: run them as written.
        return first_keyword(sql) not in {"PRAGMA", "VACUUM"}

    def before_commit(self) -> None:
        if not self._enforced:
            return
        new = self._violations() - self._violations_before
        if new:
            table, rowid, parent, _ = sorted(new)[0]
            raise AtlembicError(
                f'foreign key mismatch: row {rowid} of "{table}" references a missing row of "{parent}" '
                f"({plural(len(new), 'violation')})"
            )


class MySQLTransactions(Transactions):
    """No transactional DDL: every DDL statement commits, and any open transaction with it.

    So no file transaction: each statement commits on its own, DML together with the progress row written
    after it (applied, partial_hashes), DDL after its intent is recorded (`run_statement`). A failure then
    leaves the revisions row saying exactly how many statements ran, and the next run resumes at the failed
    one. A BEGIN around the file would only make it worse: the progress rows written after the last implicit
    commit would be rolled back while the DDL before them stays. On a connection with multi-statements, runs of
    these statements go to the server in one round trip with the same writes between them (migrate/batch.py).
    """

    transactional_ddl = False

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def runs_in_transaction(self, sql: str) -> bool:
        # DML commits with its record on InnoDB; any DDL commits on its own, before and after.
        return first_keyword(sql) in {"INSERT", "UPDATE", "DELETE", "REPLACE"}


def autocommit(conn: Connection) -> Connection:
    """The connection in driver autocommit, so BEGIN/COMMIT are ours to issue."""
    return conn.execution_options(isolation_level="AUTOCOMMIT")
