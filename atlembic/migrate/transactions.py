"""How one migration file runs inside a transaction, per engine.

Every engine gets the same shape: the connection is in driver autocommit and atlembic issues
BEGIN/COMMIT itself, so what is and is not inside the transaction is explicit. SQLite needs more:
`PRAGMA foreign_keys` is a no-op inside a transaction, so it is switched off before BEGIN and the
foreign keys are checked before COMMIT, the way Atlas's SQLite driver does it.
"""

from __future__ import annotations

from collections.abc import Iterator
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


class PostgresTransactions(Transactions):
    batches = True


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

    So no BEGIN at all: each statement, and each progress row written after it (applied,
    partial_hashes), commits on its own in driver autocommit. A failure then leaves the revisions row
    saying exactly how many statements ran, and the next run resumes at the failed one. A BEGIN would
    only make it worse: the progress rows written after the last implicit commit would be rolled back
    while the DDL before them stays.
    """

    transactional_ddl = False

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield


def autocommit(conn: Connection) -> Connection:
    """The connection in driver autocommit, so BEGIN/COMMIT are ours to issue."""
    return conn.execution_options(isolation_level="AUTOCOMMIT")
