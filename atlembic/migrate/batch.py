"""MySQL's multi-statement protocol on the apply path: a run of statements that execute outside a file transaction
goes to the server in one round trip, each between the revisions-row writes that record it, rendered as literal
SQL: ``<intent 1>; <ddl 1>; <intent 2>; <ddl 2>; <record 2>; BEGIN; <dml 3>; <record 3>; COMMIT; ...`` (what
`Transactions.run_statement` does one round trip at a time, except that an intent right after a DDL statement
also records it: the row goes from "1 may take effect" to "1 applied, 2 may take effect" in one write, which no
kill can split). The server runs them in order, each write committing on its own as before, and stops at the
first error, so the row says exactly how far it got; the client finds what failed by counting the results it
read. Unlike one statement at a time, a killed client's server runs on to the end of the batch it was sent,
recording each statement.

The progress row's ``partial_hashes`` (the running hash after each applied statement) grows by one hash per
statement: written whole with every record, the SQL sent and the JSON the server checks and stores grow as
O(statements²), which cost more than the statements themselves (1000 tables: 3000 statements). So the first
write of a batch stores the hashes up to the batch's end, and the writes after it set ``applied`` and leave them:
at every commit the row's first ``applied`` hashes are exactly those of the applied statements, which is all that
atlembic (`apply_files`) and Atlas (``Executor.Execute``) read of them when a file resumes; the hashes after
them are those of the file's next statements, not yet applied. A failure rewrites the row as before
(``partial_hashes`` up to ``applied``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlembic.errors import AtlembicError
from atlembic.migrate.lexer import Statement
from atlembic.migrate.revisions import Revision, RevisionStore
from atlembic.migrate.transactions import first_keyword

__all__ = ["MULTI_STATEMENTS", "BatchFailure", "BatchRecords", "batchable", "multi_statements", "next_batch",
           "run_batch"]

MULTI_STATEMENTS = 1 << 16  # the protocol's CLIENT_MULTI_STATEMENTS capability flag
BATCH_BYTES = 1 << 20  # SQL per round trip: well under max_allowed_packet (16 MB on both servers and PyMySQL)
ALONE_BYTES = 1 << 16  # a statement this long runs on its own (its intent holds it again, hex-encoded)


def multi_statements(conn: Connection) -> bool:
    """Whether `conn`'s driver connection was opened with multi-statements on (PyMySQL's ``client_flag``; the
    MySQL engine's connect_args ask for it)."""
    return bool(getattr(conn.connection.dbapi_connection, "client_flag", 0) & MULTI_STATEMENTS)


def batchable(stmt: Statement) -> bool:
    """Whether the server sees `stmt` as exactly one statement, as the lexer does: it ends with the default
    delimiter and holds no other ``;`` (a string, a comment or a BEGIN block holding one goes alone), and its
    last line has no comment that could hide that delimiter; not a CALL (a result per SELECT the procedure runs);
    not too long."""
    text = stmt.text
    last_line = text.rsplit("\n", 1)[-1]
    return (text.endswith(";") and text.count(";") == 1 and "#" not in last_line and "--" not in last_line
            and "/*" not in last_line and first_keyword(text) != "CALL" and len(text) < ALONE_BYTES)


def next_batch(statements: Sequence[Statement], start: int) -> int:
    """The end of the batch starting at `start`: batchable statements up to about BATCH_BYTES (at least one)."""
    end, size = start, 0
    while end < len(statements) and batchable(statements[end]) and (end == start or size < BATCH_BYTES):
        size += 3 * len(statements[end].text)  # the statement, and its intent's copy of it hex-encoded
        end += 1
    return end


class BatchRecords(Protocol):
    """The rows that record a file's statements (executor's progress)."""

    hashes: list[str]
    store: RevisionStore

    def intent_row(self, index: int) -> Revision:
        """The row saying statement `index` (0-based) may take effect from now on."""

    def record_row(self, done: int) -> Revision:
        """The row saying `done` statements are applied."""

    def recorded(self, done: int) -> None:
        """The batch committed the rows up to `done` statements."""


@dataclass
class BatchFailure:
    """What stopped a batch: the error of `statements[index]` itself (`in_statement`) or of a write around it."""

    index: int
    error: Exception
    in_statement: bool


def run_batch(conn: Connection, where: str, statements: Sequence[Statement], start: int, end: int,
              records: BatchRecords, commits_with_record: Callable[[str], bool]) -> BatchFailure | None:
    """Run `statements[start:end]` of the file `where` with their records in one round trip; None when all of
    them ran. `commits_with_record(sql)`: the statement runs in a transaction with its record (DML on InnoDB)
    instead of after an intent."""
    parts: list[str] = []
    owners: list[tuple[int, bool]] = []  # per result the server sends: the statement's index, whether it is it

    def add(sql: str, index: int, is_statement: bool = False) -> None:
        parts.append(sql + ("\n" if is_statement else ";\n"))
        owners.append((index, is_statement))

    rows = _RowSQL(records.store, conn, records.hashes[:end])
    announced = [not commits_with_record(stmt.text) for stmt in statements[start:end]] + [False]
    for index in range(start, end):
        if announced[index - start]:
            # Before the statement, in one write: the one before it is applied (when that was announced too,
            # this is its only record), and this one may take effect from now on.
            add(rows.update(records.intent_row(index)), index)
        else:
            add("BEGIN", index)
        add(statements[index].text, index, is_statement=True)
        record = records.record_row(index + 1)
        if not (announced[index - start] and announced[index - start + 1]):
            add(rows.update(record), index)
        if not announced[index - start]:
            add("COMMIT", index)
    results, failure = 0, None
    cursor = conn.connection.cursor()
    try:
        cursor.execute("".join(parts))  # no parameters: PyMySQL sends the text as written, `%` included
        results = 1
        while cursor.nextset():
            results += 1
    except Exception as exc:
        conn.exec_driver_sql("ROLLBACK")  # a failed DML statement leaves its transaction open
        if results < len(owners):
            index, is_statement = owners[results]
            wrapped = sa.exc.DBAPIError.instance(parts[results].strip(), None, exc, conn.dialect.loaded_dbapi.Error)
            failure = BatchFailure(index, wrapped, is_statement)
    finally:
        cursor.close()
    if failure is None and results != len(owners):
        raise AtlembicError(f"{where}: the server ran {results} statements of a batch of {len(owners)} (its "
                            "statements and the revision-row writes around them): statement boundaries differ")
    for index in range(start, end if failure is None else failure.index):
        records.recorded(index + 1)
    return failure


class _RowSQL:
    """Revision-row UPDATEs as literal SQL. Strings are hex literals with a character set introducer, which
    read the same whatever the session's sql_mode (NO_BACKSLASH_ESCAPES, ANSI_QUOTES) a statement of the batch
    sets before them."""

    def __init__(self, store: RevisionStore, conn: Connection, hashes: list[str]) -> None:
        self.store = store
        self.table = conn.dialect.identifier_preparer.format_table(store.table)
        self.quote = conn.dialect.identifier_preparer.quote
        # MariaDB's JSON is LONGTEXT with CHECK (json_valid(...)), which every UPDATE of the row checks again
        # whatever it sets: 1.2 ms a write with 3000 hashes stored, O(statements²) for a file. The JSON written
        # here is json.dumps', so the check is off for these writes only (MySQL's JSON is a binary type).
        mariadb = getattr(conn.dialect, "is_mariadb", False)
        self.prefix = "SET STATEMENT check_constraint_checks = 0 FOR " if mariadb else ""
        self.hashes: list[str] | None = hashes  # written by the batch's first write, then left as they are

    def update(self, rev: Revision) -> str:
        changes = self.store.changes(rev)
        del changes["partial_hashes"]
        if rev.done:  # the finished row has none
            changes["partial_hashes"] = None
        elif self.hashes is not None:
            changes["partial_hashes"] = json.dumps(self.hashes)
            self.hashes = None
        sets = ", ".join(f"{self.quote(name)} = {_literal(value)}" for name, value in changes.items())
        return f"{self.prefix}UPDATE {self.table} SET {sets} WHERE {self.quote('version')} = {_literal(rev.version)}"


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(int(value))
    return f"_utf8mb4 X'{str(value).encode().hex()}'"
