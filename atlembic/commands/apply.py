"""The commands that move a target database along the migration history, or report where it is:
upgrade (online and ``--sql``), downgrade, stamp, current, status, validate and drift.

Underneath is Atlas: the directory of SQL files, the ``atlas_schema_revisions`` table, the
``atlas_migrate_execute`` lock, Atlas's pending-file rules and transaction modes. On top is Alembic's
command surface: revision specifiers, ``base``/``head``, ``--sql`` offline output. Each function
returns what happened; the CLI prints it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlembic import autogenerate
from atlembic.config import Settings, redact_url
from atlembic.convert_handover import check_handover, drop_version_table
from atlembic.devdb import open_dev_database
from atlembic.diff import DropColumn, DropTable, ModifyColumn, ModifyEnum, ModifyTable, SchemaDiff, diff_schemas
from atlembic.errors import AtlembicError
from atlembic.migrate.directory import MigrationDir, MigrationFile
from atlembic.migrate.executor import AppliedFile, ApplyReporter, apply_files, file_tx_mode
from atlembic.migrate.history import BASE, History
from atlembic.migrate.lexer import split_statements
from atlembic.migrate.lock import DEFAULT_TIMEOUT, target_lock
from atlembic.migrate.pending import pending_files
from atlembic.migrate.revisions import TABLE as REVISIONS_TABLE
from atlembic.migrate.revisions import TYPE_EXECUTE, TYPE_RESOLVED, Revision, RevisionStore, finished
from atlembic.migrate.sumfile import ChecksumError
from atlembic.migrate.transactions import transactions_for
from atlembic.provider import mock_engine
from atlembic.schema.inspect import inspect_schema
from atlembic.target import connect_target

__all__ = [
    "current", "downgrade", "drift", "files_up_to", "stamp", "status", "upgrade", "upgrade_sql", "validate",
]


def _directory(settings: Settings) -> MigrationDir:
    directory = MigrationDir(settings.migrations_dir)
    directory.check_sum()
    return directory


def files_up_to(files: Sequence[MigrationFile], position: int) -> list[MigrationFile]:
    """What a fresh database runs to reach `position`: from the last checkpoint at or before it."""
    chosen = list(files[: position + 1])
    last = max((i for i, f in enumerate(chosen) if f.is_checkpoint), default=0)
    return chosen[last:]


def _dirty_table(conn: Connection) -> str | None:
    names = [n for n in sa.inspect(conn).get_table_names() if n != REVISIONS_TABLE]
    return sorted(names)[0] if names else None


# ----------------------------------------------------------------------------------------------------
# upgrade


@dataclass
class UpgradeOutcome:
    url: str
    applied: list[AppliedFile]
    pending: list[MigrationFile]
    current: str | None = None  # the version before the run
    handover: Any = None  # convert_handover.Handover: a database handed over from Alembic


def _select(files: list[MigrationFile], pending: list[MigrationFile], target: str, current: str | None
            ) -> list[MigrationFile]:
    """Pending files up to `target`: ``head``, ``+N`` (the next N pending), a version or prefix."""
    plus = re.fullmatch(r"\+(\d+)", target.strip())
    if plus:
        return pending[: int(plus[1])]
    history = History(files)
    position = history.resolve(target, current)
    cutoff = history.version_at(position)
    if cutoff is None:
        return []
    if current is not None and cutoff < current:
        raise AtlembicError(
            f"Destination {cutoff} is not a valid upgrade target from current revision {current} "
            "(use downgrade)"
        )
    return [f for f in pending if f.version <= cutoff]


def upgrade(
    settings: Settings,
    target: str = "head",
    *,
    baseline: str | None = None,
    allow_dirty: bool = False,
    tx_mode: str = "file",
    lock_timeout: float = DEFAULT_TIMEOUT,
    reporter: ApplyReporter | None = None,
    allow_drift: bool = False,
    drop_alembic_version: bool = False,
    allow_destructive: bool = False,
) -> UpgradeOutcome:
    """Apply pending files up to `target`, under the target's lock, recording each in the revisions table.

    The pending files go through the lint gate first: erroring findings (destructive by default) refuse
    the upgrade before anything runs, unless `allow_destructive` (see atlembic.lint.upgrade_gate).
    """
    directory = _directory(settings)
    files = directory.files()
    hashes = dict(directory.compute_sum().rows)
    with connect_target(settings) as conn, target_lock(conn, lock_timeout):
        store = RevisionStore(conn)
        revisions = store.read_all()
        current_version = revisions[-1].version if revisions else None
        dirty = None if revisions else _dirty_table(conn)
        pending = pending_files(files, revisions, dirty, baseline=baseline, allow_dirty=allow_dirty)
        chosen = _select(files, pending, target, current_version)
        for file in chosen:
            file_tx_mode(file, tx_mode)  # refuse bad directives before anything runs
        handover = None
        if baseline is not None and not revisions:  # a file from `atlembic convert`: check, read-only
            handover = check_handover(conn, settings, files, baseline, allow_drift=allow_drift,
                                      drop_version_table=drop_alembic_version)
        elif allow_drift or drop_alembic_version:
            raise AtlembicError("--allow-drift and --drop-alembic-version go with --baseline on a target "
                                "without revisions (the hand-over of an Alembic-migrated database)")
        from atlembic.lint import upgrade_gate

        upgrade_gate(settings, conn, files, chosen, allow_destructive=allow_destructive,
                     applied={r.version: r.applied for r in revisions if r.applied and not r.done})
        store.ensure()
        if baseline is not None and not revisions:
            base = next(f for f in files if f.version == baseline)
            store.write(Revision(version=base.version, description=base.description, type=1))
            if handover is not None and drop_alembic_version:
                drop_version_table(conn, handover)
        existing = {r.version: r for r in revisions}
        dialect = conn.dialect.name
        if tx_mode == "all" and chosen:
            with transactions_for(conn).transaction():
                applied = apply_files(conn, store, chosen, dialect, hashes, existing, tx_mode="all",
                                      reporter=reporter)
        else:
            applied = apply_files(conn, store, chosen, dialect, hashes, existing, tx_mode=tx_mode,
                                  reporter=reporter)
        return UpgradeOutcome(redact_url(settings.url or ""), applied, chosen, current_version, handover)


def _offline_store(dialect: str, url: str | None) -> RevisionStore:
    """A revisions table to render SQL for, without a connection (MySQL asks for the URL's database)."""
    engine = mock_engine(dialect)
    database = sa.engine.make_url(url).database if url else None
    offline = SimpleNamespace(dialect=engine.dialect,
                              exec_driver_sql=lambda *_: SimpleNamespace(scalar=lambda: database))
    return RevisionStore(offline)  # type: ignore[arg-type]


def _literal(stmt: sa.sql.ClauseElement, dialect: sa.engine.Dialect) -> str:
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).strip()


def _sql_block(lines: list[str], text: str) -> None:
    text = text.strip()
    lines.append(text if text.endswith(";") else text + ";")
    lines.append("")


def upgrade_sql(settings: Settings, target: str = "head", *, tx_mode: str = "file") -> str:
    """Alembic's offline mode: the SQL an upgrade would run, revisions-table writes included.

    Never connects. As in Alembic, the starting point is ``base`` unless given as ``start:end``.
    """
    directory = _directory(settings)
    files = directory.files()
    hashes = dict(directory.compute_sum().rows)
    history = History(files)
    start_spec, sep, end_spec = target.partition(":")
    if not sep:
        start_spec, end_spec = "", target
    start = history.resolve(start_spec, None) if start_spec else BASE
    end = history.resolve(end_spec or "head", history.version_at(start))
    if end < start:
        raise AtlembicError(f"Destination {history.version_at(end)} is before the start {history.version_at(start)}")
    if start == BASE:
        chosen = files_up_to(files, end) if end != BASE else []
    else:
        chosen = [f for f in files[start + 1 : end + 1] if not f.is_checkpoint]
    dialect_name = settings.dialect
    store = _offline_store(dialect_name, settings.url)
    dialect = store.conn.dialect
    lines = [f"-- atlembic upgrade --sql {target} ({dialect_name}, --tx-mode {tx_mode})", ""]
    if start == BASE:
        if store.schema is not None:
            _sql_block(lines, _literal(sa.schema.CreateSchema(store.schema, if_not_exists=True), dialect))
        _sql_block(lines, _literal(sa.schema.CreateTable(store.table, if_not_exists=True), dialect))
    if tx_mode == "all" and chosen:
        _sql_block(lines, "BEGIN")
    parent = history.version_at(start)
    for file in chosen:
        mode = file_tx_mode(file, tx_mode)
        lines.append(f"-- Running upgrade {parent or ''} -> {file.version}, {file.description}")
        lines.append("")
        if mode == "file":
            _sql_block(lines, "BEGIN")
        statements = file.statements(dialect_name)
        for stmt in statements:
            _sql_block(lines, stmt.text)
        row = store._to_row(finished(Revision(
            version=file.version, description=file.description, type=TYPE_EXECUTE,
            applied=len(statements), total=len(statements), hash=hashes.get(file.name, ""),
        ), 0))
        row.pop("partial_hashes")
        _sql_block(lines, _literal(store.table.insert().values(**row), dialect))
        if mode == "file":
            _sql_block(lines, "COMMIT")
        parent = file.version
    if tx_mode == "all" and chosen:
        _sql_block(lines, "COMMIT")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# downgrade


_INT_RANK = {"smallint": 1, "int2": 1, "tinyint": 0, "mediumint": 2, "integer": 3, "int": 3, "int4": 3,
             "bigint": 4, "int8": 4}
_SYNONYMS = {"character varying": "varchar", "character": "char", "nvarchar": "varchar", "varchar2": "varchar",
             "double precision": "double", "decimal": "numeric", "float8": "double", "real": "float4"}
_UNBOUNDED_TEXT = {"text", "clob", "mediumtext", "longtext", "string"}
_BOUNDED_TEXT = {"varchar", "char", "tinytext"}


def _parse_type(spec: str) -> tuple[str, tuple[int, ...]]:
    m = re.fullmatch(r"\s*([^(]*?)\s*(?:\(([^)]*)\))?\s*", spec.lower())
    if m is None:
        return spec.lower(), ()
    name = _SYNONYMS.get(m[1], m[1])
    args = tuple(int(a) for a in re.findall(r"\d+", m[2] or ""))
    return name, args


def narrows(old: str, new: str) -> bool:
    """True unless every value of type `old` surely fits `new` (same or a wider type)."""
    (o, oa), (n, na) = _parse_type(old), _parse_type(new)
    if (o, oa) == (n, na):
        return False
    if o in _INT_RANK and n in _INT_RANK:
        return _INT_RANK[n] < _INT_RANK[o]
    if o in _INT_RANK and n == "numeric":
        return bool(na) and na[0] - (na[1] if len(na) > 1 else 0) < 19
    if o == n:
        if not na:
            return False  # varchar(30) -> varchar, numeric(10,2) -> numeric
        if not oa:
            return True  # varchar -> varchar(30)
        return any(b < a for a, b in zip(oa, na, strict=False))
    if o in _BOUNDED_TEXT and n in _UNBOUNDED_TEXT:
        return False
    if o in _BOUNDED_TEXT | _UNBOUNDED_TEXT and n in _BOUNDED_TEXT:
        return not na or (bool(oa) and na[0] < oa[0]) or not oa
    return True  # another type family: the conversion may fail or lose data


def data_loss(diff: SchemaDiff) -> list[str]:
    """The planned changes that drop data: tables, columns, narrower column types, enum labels."""
    found: list[str] = []
    for change in diff.changes:
        if isinstance(change, DropTable):
            found.append(f'drop table "{change.table.name}"')
        elif isinstance(change, ModifyEnum):
            gone = [v for v in change.current.values if v not in change.desired.values]
            if gone:
                found.append(f'enum "{change.current.name}": drop values {gone}')
        elif isinstance(change, ModifyTable):
            for sub in change.changes:
                if isinstance(sub, DropColumn):
                    found.append(f'table "{change.name}": drop column "{sub.column.name}"')
                elif isinstance(sub, ModifyColumn) and "type" in sub.changed and narrows(
                    sub.current.type, sub.desired.type
                ):
                    found.append(
                        f'table "{change.name}": column "{sub.current.name}" type {sub.current.type} -> '
                        f"{sub.desired.type}"
                    )
    return found


@dataclass
class DowngradeOutcome:
    url: str
    current: str | None
    target: str | None
    plan: autogenerate.Plan | None = None
    reverted: list[Revision] = field(default_factory=list)
    data_loss: list[str] = field(default_factory=list)
    sql: str | None = None
    dev_description: str = ""
    findings: list[Any] = field(default_factory=list)  # atlembic.lint.Finding: the analyzers on the plan

    @property
    def nothing_to_do(self) -> bool:
        return not self.reverted and (self.plan is None or not self.plan.statements)


def downgrade(
    settings: Settings,
    target: str,
    *,
    sql: bool = False,
    allow_destructive: bool = False,
    lock_timeout: float = DEFAULT_TIMEOUT,
    on_plan: Callable[[DowngradeOutcome], None] | None = None,
) -> DowngradeOutcome:
    """Atlas-style down: plan from the target's real schema to the directory replayed up to `target`.

    The plan is computed at run time on the dev database (files are never reversed by hand), checked
    for data loss, applied in one transaction with the removal of the reverted revisions rows.
    """
    directory = _directory(settings)
    files = directory.files()
    history = History(files)
    url = redact_url(settings.url or "")
    with connect_target(settings) as conn, (nullcontext() if sql else target_lock(conn, lock_timeout)):
        store = RevisionStore(conn)
        revisions = store.read_all()
        current_version = revisions[-1].version if revisions else None
        current_pos = history.position_of(current_version)
        position = history.resolve(target, current_version)
        if position > current_pos:
            raise AtlembicError(
                f"Destination {history.version_at(position)} is not a valid downgrade target from current "
                f"revision {current_version or 'base'} (use upgrade)"
            )
        target_version = history.version_at(position)
        outcome = DowngradeOutcome(url, current_version, target_version)
        if not revisions:
            return outcome  # nothing recorded: nothing of the directory's to revert (tables left alone)
        outcome.reverted = [r for r in revisions if target_version is None or r.version > target_version]
        dialect = conn.dialect.name
        with open_dev_database(dialect, settings.dev_url) as dev:
            outcome.dev_description = dev.description
            desired = autogenerate.replay_schema(dev, files_up_to(files, position) if position != BASE else [])
        actual = inspect_schema(conn)
        outcome.plan = autogenerate.plan_changes(actual, desired, dialect)
        outcome.data_loss = data_loss(outcome.plan.diff)
        from atlembic.lint import downgrade_findings

        outcome.findings = downgrade_findings(settings, outcome.plan.diff, dialect)
        # The lint gate, on top of data_loss (which already names dropped tables and columns).
        outcome.data_loss += [f"{f.code}: {f.message}" for f in outcome.findings
                              if f.error and f.code not in ("DS102", "DS103")]
        if sql:
            outcome.sql = _downgrade_sql(outcome, store)
            return outcome
        if on_plan is not None:
            on_plan(outcome)
        if outcome.data_loss and not allow_destructive:
            raise AtlembicError(
                f"downgrade to {target_version or 'base'} would lose data: {'; '.join(outcome.data_loss)}. "
                "Nothing was changed; pass --allow-destructive to apply it anyway"
            )
        if outcome.nothing_to_do:
            return outcome
        _apply_downgrade(conn, store, outcome)
        return outcome


def _plan_statements(outcome: DowngradeOutcome, dialect: str) -> list[str]:
    if outcome.plan is None or not outcome.plan.statements:
        return []
    return [s.text for s in split_statements(outcome.plan.render(), dialect)]


def _apply_downgrade(conn: Connection, store: RevisionStore, outcome: DowngradeOutcome) -> None:
    statements = _plan_statements(outcome, conn.dialect.name)
    transactions = transactions_for(conn)

    def run() -> None:
        for text in statements:
            try:
                conn.exec_driver_sql(text)
            except Exception as exc:
                first = " ".join(text.split())[:200]
                reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
                raise AtlembicError(
                    f'downgrade: executing statement "{first}": {reason}; '
                    + ("rolled back, nothing changed" if transactions.transactional_ddl else
                       "statements before it stay applied; the revisions table was not changed")
                ) from None
        for rev in outcome.reverted:
            store.delete(rev.version)

    if transactions.transactional_ddl:
        with transactions.transaction():
            run()
    else:  # pragma: no cover - MySQL: DDL commits by itself
        run()


def _downgrade_sql(outcome: DowngradeOutcome, store: RevisionStore) -> str:
    dialect = store.conn.dialect
    lines = [f"-- atlembic downgrade --sql: {outcome.current or 'base'} -> {outcome.target or 'base'} "
             f"(planned against {outcome.url})", ""]
    for text in outcome.data_loss:
        lines.append(f"-- WARNING: drops data: {text}")
    if outcome.data_loss:
        lines.append("")
    lines.append(f"-- Running downgrade {outcome.current or ''} -> {outcome.target or ''}")
    lines.append("")
    _sql_block(lines, "BEGIN")
    for text in _plan_statements(outcome, dialect.name):
        _sql_block(lines, text)
    for rev in outcome.reverted:
        _sql_block(lines, _literal(store.table.delete().where(store.table.c.version == rev.version), dialect))
    _sql_block(lines, "COMMIT")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# stamp (Atlas's migrate set)


@dataclass
class StampOutcome:
    url: str
    target: str | None
    removed: list[Revision] = field(default_factory=list)
    resolved: list[Revision] = field(default_factory=list)
    added: list[Revision] = field(default_factory=list)
    handover: Any = None  # convert_handover.Handover when stamping a converted baseline


def stamp(
    settings: Settings,
    target: str,
    *,
    lock_timeout: float = DEFAULT_TIMEOUT,
    allow_drift: bool = False,
    drop_alembic_version: bool = False,
) -> StampOutcome:
    """Make the revisions table say the target is at `target`, running nothing (``atlas migrate set``).

    Rows above the target are deleted; the files up to it without a row get a "resolved" (type 4) row;
    a failed or partial row at the target is marked resolved and complete.
    """
    directory = _directory(settings)
    files = directory.files()
    hashes = dict(directory.compute_sum().rows)
    history = History(files)
    with connect_target(settings) as conn, target_lock(conn, lock_timeout):
        store = RevisionStore(conn)
        revisions = store.read_all()
        current_version = revisions[-1].version if revisions else None
        version = history.version_at(history.resolve(target, current_version))
        outcome = StampOutcome(redact_url(settings.url or ""), version)
        if not revisions and version is not None:
            # A first stamp at a converted baseline is a hand-over from Alembic: check it (read-only) as
            # `upgrade --baseline` does, so a database that is not at that state is never recorded as such.
            outcome.handover = check_handover(conn, settings, files, version, allow_drift=allow_drift,
                                              drop_version_table=drop_alembic_version)
        store.ensure()
        with transactions_for(conn).transaction():
            for rev in revisions:
                if version is None or rev.version > version:
                    store.delete(rev.version)
                    outcome.removed.append(rev)
                elif rev.version == version and (rev.error or rev.applied != rev.total):
                    fixed = replace(rev, type=rev.type | TYPE_RESOLVED, applied=rev.total, error="",
                                    error_stmt="", partial_hashes=None)
                    store.write(fixed)
                    outcome.resolved.append(fixed)
            kept = [r for r in revisions if r not in outcome.removed]
            last = kept[-1].version if kept else None
            if version is not None:
                for file in files:
                    if (last is None or file.version > last) and file.version <= version:
                        row = Revision(version=file.version, description=file.description, type=TYPE_RESOLVED,
                                       hash=hashes.get(file.name, ""), partial_hashes=None)
                        store.write(row)
                        outcome.added.append(row)
        if outcome.handover is not None and drop_alembic_version:
            drop_version_table(conn, outcome.handover)
        return outcome


# ----------------------------------------------------------------------------------------------------
# read-only: current, status, validate, drift


@dataclass
class CurrentOutcome:
    url: str
    revisions: list[Revision]
    history: History

    @property
    def last(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def version(self) -> str | None:
        return self.last.version if self.last else None


def current(settings: Settings, *, check_sum: bool = True) -> CurrentOutcome:
    """The target's recorded revisions (read-only: nothing is created) and the directory's history."""
    directory = _directory(settings) if check_sum else MigrationDir(settings.migrations_dir)
    history = History(directory.files())
    with connect_target(settings) as conn:
        revisions = RevisionStore(conn).read_all()
    return CurrentOutcome(redact_url(settings.url or ""), revisions, history)


@dataclass
class StatusReport:
    """Atlas's ``migrate status`` report, plus what atlembic checks on top (sum and applied hashes)."""

    url: str
    status: str
    current: str
    next: str
    applied: list[Revision]
    pending: list[MigrationFile]
    count: int = 0  # statements applied of a partial last file
    total: int = 0  # its statement count (0 when the last file is not partial)
    error: str = ""
    sql: str = ""
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "URL": self.url, "Status": self.status, "Current": self.current, "Next": self.next,
            "Applied": [revision_json(r) for r in self.applied],
            "Pending": [{"Name": f.name, "Version": f.version, "Description": f.description} for f in self.pending],
            "Count": self.count, "Total": self.total, "Error": self.error, "SQL": self.sql,
            "Problems": self.problems,
        }


def revision_json(rev: Revision) -> dict[str, object]:
    return {
        "Version": rev.version, "Description": rev.description, "Type": rev.type, "Applied": rev.applied,
        "Total": rev.total, "ExecutedAt": rev.executed_at.isoformat() if isinstance(rev.executed_at, dt.datetime)
        else str(rev.executed_at), "ExecutionTime": rev.execution_time, "Error": rev.error or "",
        "ErrorStmt": rev.error_stmt or "", "Hash": rev.hash, "OperatorVersion": rev.operator_version,
    }


def status(settings: Settings) -> StatusReport:
    directory = MigrationDir(settings.migrations_dir)
    problems: list[str] = []
    try:
        directory.check_sum()
    except ChecksumError as exc:
        problems.append(f"atlas.sum: {exc}")
    files = directory.files()
    sums = dict(directory.compute_sum().rows)
    with connect_target(settings) as conn:
        revisions = RevisionStore(conn).read_all()
        dialect = conn.dialect.name
    report = StatusReport(redact_url(settings.url or ""), "OK", "", "", revisions, [])
    try:
        report.pending = pending_files(files, revisions, None)
    except AtlembicError as exc:
        problems.append(str(exc))
        report.pending = []
    by_version = {f.version: f for f in files}
    for rev in revisions:
        file = by_version.get(rev.version)
        if rev.type == 1 or not rev.hash:
            continue
        if file is None:
            problems.append(f"migration file of applied version {rev.version} is missing from the directory")
            break
        if sums.get(file.name) != rev.hash:
            problems.append(
                f"{file.name} was changed after it was applied (its hash no longer matches the revisions "
                "table; restore the file, or revert the change in a new migration)"
            )
            break
    report.current = "No migration applied yet" if len(report.pending) == len(files) or not revisions \
        else revisions[-1].version
    report.status = "PENDING" if report.pending else "OK"
    report.next = report.pending[0].version if report.pending else "Already at latest version"
    last = revisions[-1] if revisions else None
    if last is not None and not (last.type & TYPE_RESOLVED) and last.applied < last.total:
        report.count = last.applied
        report.error = " ".join((last.error or "").split())
        report.sql = " ".join((last.error_stmt or "").split())
        file = by_version.get(last.version)
        report.total = len(file.statements(dialect)) if file else last.total
    report.problems = problems
    return report


@dataclass
class ValidateOutcome:
    files: int
    replays: list[str]
    dev_description: str


def validate(settings: Settings) -> ValidateOutcome:
    """atlas.sum, then every file split and replayed on the dev database (``atlas migrate validate``)."""
    directory = _directory(settings)
    files = directory.files()
    dialect = settings.dialect
    for file in files:
        file.statements(dialect)
        file_tx_mode(file)
    replays: list[tuple[str, list[MigrationFile]]] = [("from the last checkpoint", files_up_to(files, len(files) - 1))]
    if any(f.is_checkpoint for f in files) and not files[0].is_checkpoint:
        replays.append(("from the first file, checkpoints skipped", [f for f in files if not f.is_checkpoint]))
    done = []
    with open_dev_database(dialect, settings.dev_url) as dev:
        for label, sequence in replays:
            autogenerate.replay_schema(dev, sequence)
            done.append(f"{label}: {len(sequence)} files")
        return ValidateOutcome(len(files), done, dev.description)


@dataclass
class DriftOutcome:
    url: str
    version: str | None
    changes: list[str]
    dev_description: str = ""


def drift(settings: Settings, url: str | None = None) -> DriftOutcome:
    """Compare the live target with the directory replayed up to the target's own version. Read-only."""
    directory = _directory(settings)
    files = directory.files()
    history = History(files)
    url = url or settings.url
    with connect_target(settings, url) as conn:
        revisions = RevisionStore(conn).read_all()
        last = revisions[-1] if revisions else None
        if last is not None and not last.done:
            raise AtlembicError(
                f"{redact_url(url or '')} has a partially applied migration ({last.version}: {last.applied} of "
                f"{last.total} statements); finish it with upgrade before checking for drift"
            )
        version = last.version if last else None
        position = history.position_of(version)
        live = inspect_schema(conn)
        dialect = conn.dialect.name
    with open_dev_database(dialect, settings.dev_url) as dev:
        expected = autogenerate.replay_schema(dev, files_up_to(files, position) if position != BASE else [])
        description = dev.description
    changes = diff_schemas(expected, live).describe()
    return DriftOutcome(redact_url(url or ""), version, changes, description)
