"""The commands that move a target database along the migration history: upgrade (online and
``--sql``; on many targets, `upgrade_many`), downgrade and stamp.

Underneath is Atlas: the directory of SQL files, the ``atlas_schema_revisions`` table, the
``atlas_migrate_execute`` lock, Atlas's pending-file rules and transaction modes. On top is Alembic's
command surface: revision specifiers, ``base``/``head``, ``--sql`` offline output. Each function
returns what happened; the CLI prints it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlembic import autogenerate
from atlembic.config import Settings
from atlembic.convert.handover import Handover, check_handover, drop_version_table, version_tables
from atlembic.engines import engine_for, inspect_schema, open_dev_database
from atlembic.environment import load_schema_filter
from atlembic.errors import AtlembicError, mask_url, one_line
from atlembic.migrate.directory import MigrationFile, files_to_reach
from atlembic.migrate.executor import (
    AppliedFile,
    ApplyReporter,
    StatementError,
    apply_files,
    execute_as_written,
    file_tx_mode,
)
from atlembic.migrate.history import BASE, History
from atlembic.migrate.lexer import split_statements
from atlembic.migrate.lock import DEFAULT_TIMEOUT, target_lock
from atlembic.migrate.pending import history_changed, pending_files
from atlembic.migrate.revisions import TABLE as REVISIONS_TABLE
from atlembic.migrate.revisions import TYPE_EXECUTE, TYPE_RESOLVED, Revision, RevisionStore, finished
from atlembic.replay.settle import statement_took_effect
from atlembic.schema.exclude import exclude_objects
from atlembic.schema.model import Schema, Table
from atlembic.target import TargetRun, connect_target, run_fleet, target_url

__all__ = ["TargetUpgrade", "downgrade", "stamp", "upgrade", "upgrade_many", "upgrade_sql"]


def _dirty_table(conn: Connection, exclude: tuple[str, ...] = ()) -> str | None:
    """A table that makes a target without revisions not clean (atlas.hcl's exclude globs leave some out)."""
    names = [n for n in sa.inspect(conn).get_table_names() if n != REVISIONS_TABLE]
    if exclude:
        kept = {t.name for t in exclude_objects(Schema(tuple(Table(n, ()) for n in names)), exclude).tables}
        names = [n for n in names if n in kept]
    return sorted(names)[0] if names else None


# ----------------------------------------------------------------------------------------------------
# upgrade


@dataclass
class UpgradeOutcome:
    url: str
    applied: list[AppliedFile]
    pending: list[MigrationFile]
    current: str | None = None  # the version before the run
    handover: Handover | None = None  # a database handed over from Alembic


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
    dry_run: bool = False,
) -> UpgradeOutcome:
    """Apply pending files up to `target`, under the target's lock, recording each in the revisions table.

    The pending files go through the lint gate first: erroring findings (destructive by default) refuse
    the upgrade before anything runs, unless `allow_destructive` (see atlembic.lint.upgrade_gate).
    `dry_run` (Atlas's ``migrate apply --dry-run``): the files that would run, in `pending`; nothing runs or is
    written.
    """
    target_url(settings)  # no target named: say so before anything about the directory
    directory = settings.migration_dir().existing()
    files = directory.files()
    hashes = dict(directory.compute_sum().rows)
    with connect_target(settings) as conn, _apply_lock(conn, lock_timeout):
        store = RevisionStore(conn, engine_for(conn).revisions)
        revisions = store.read_all()
        current_version = revisions[-1].version if revisions else None
        changed = history_changed(files, revisions)
        if changed is not None:
            raise AtlembicError(f"{changed}; nothing was applied")
        dirty = None if revisions else _dirty_table(conn, settings.exclude)
        pending = pending_files(files, revisions, dirty, baseline=baseline, allow_dirty=allow_dirty)
        chosen = _select(files, pending, target, current_version)
        for file in chosen:
            file_tx_mode(file, tx_mode)  # refuse bad directives before anything runs
        if dry_run:
            return UpgradeOutcome(mask_url(settings.url or ""), [], chosen, current_version)
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
        driver = engine_for(conn)
        if reporter is not None:
            reporter.planned(chosen, current_version or (baseline if baseline is not None else None))

        def settle(file: MigrationFile, index: int) -> bool:
            with open_dev_database(conn, settings.dev_url) as dev:
                return statement_took_effect(dev, conn, files, file, index)

        if tx_mode == "all" and chosen:
            with driver.transactions(conn).transaction():
                applied = apply_files(conn, store, chosen, driver, hashes, existing, tx_mode="all",
                                      reporter=reporter, settle=settle)
        else:
            applied = apply_files(conn, store, chosen, driver, hashes, existing, tx_mode=tx_mode,
                                  reporter=reporter, settle=settle)
        return UpgradeOutcome(mask_url(settings.url or ""), applied, chosen, current_version, handover)


@dataclass
class TargetUpgrade:
    """One target of `upgrade_many`: its run, and where it went (`known`: False when it failed before it read
    its revisions, e.g. it could not connect)."""

    run: TargetRun[UpgradeOutcome]
    known: bool = False
    before: str | None = None
    after: str | None = None
    applied: list[str] = field(default_factory=list)


class _Progress(ApplyReporter):
    """Where one target's upgrade got to, for a target that fails: the version before its first file, the last
    file it recorded; every call passed on to `also` (the caller's own reporter of that target)."""

    def __init__(self, parents: dict[str, str | None], also: ApplyReporter | None = None) -> None:
        self.parents = parents
        self.also = also or ApplyReporter()
        self.began = False
        self.before: str | None = None
        self.reached: str | None = None

    def planned(self, files: Sequence[MigrationFile], current: str | None) -> None:
        self.also.planned(files, current)

    def file_started(self, file: MigrationFile, start: int, total: int) -> None:
        if not self.began:
            self.began, self.before = True, self.parents.get(file.version)
            self.reached = self.before
        self.also.file_started(file, start, total)

    def statement_done(self, file: MigrationFile, done: int) -> None:
        self.also.statement_done(file, done)

    def file_done(self, applied: AppliedFile) -> None:
        self.reached = applied.file.version
        self.also.file_done(applied)

    def file_failed(self, file: MigrationFile, error: StatementError) -> None:
        self.also.file_failed(file, error)


def upgrade_many(
    settings: Settings, urls: Sequence[str], target: str = "head", *, parallel: int = 1, canary: int = 0,
    reporter_for: Callable[[str], ApplyReporter] | None = None, **options: Any,
) -> list[TargetUpgrade]:
    """`upgrade` on each of `urls` on its own (atlembic.target.run_fleet: its lock, its revisions; a failure
    stops no other target), `options` as `upgrade` takes them; `reporter_for(url)`: a reporter of that target's
    run. A directory every target would refuse is refused once, before any target is opened."""
    files = settings.migration_dir().existing().files()
    parents = {e.version: e.parent for e in History(files).entries}
    progress: dict[str, _Progress] = {}
    guard = threading.Lock()

    def work(one: Settings) -> UpgradeOutcome:
        reporter = _Progress(parents, reporter_for(one.url or "") if reporter_for is not None else None)
        with guard:
            progress[one.url or ""] = reporter
        return upgrade(one, target, reporter=reporter, **options)

    runs = run_fleet(settings, urls, work, parallel=parallel, canary=canary)
    out = []
    for url, run in zip(urls, runs, strict=True):
        if run.value is not None:
            applied = [a.file.version for a in run.value.applied]
            before = parents.get(applied[0]) if applied else run.value.current  # a resumed file: from its parent
            out.append(TargetUpgrade(run, True, before, applied[-1] if applied else before, applied))
            continue
        reporter = progress.get(url)
        if reporter is None or not reporter.began:
            out.append(TargetUpgrade(run))
        else:
            out.append(TargetUpgrade(run, True, reporter.before, reporter.reached))
    return out


def _offline_store(dialect: str, url: str | None) -> RevisionStore:
    """A revisions table to render SQL for, without a connection (MySQL asks for the URL's database)."""
    target = engine_for(dialect)
    database = sa.engine.make_url(url).database if url else None
    offline = SimpleNamespace(dialect=target.mock_engine().dialect, engine=SimpleNamespace(
        url=sa.engine.make_url(url or target.mock_url)), exec_driver_sql=lambda *_: SimpleNamespace(
        scalar=lambda: database))
    return RevisionStore(cast(Connection, offline), target.revisions)  # a stand-in: the dialect and one scalar query


def _apply_lock(conn: Connection, timeout: float) -> target_lock:
    """The target's apply lock (its engine's), to hold with ``with``."""
    return target_lock(engine_for(conn, "no migration lock for dialect {name!r}").lock(conn), timeout)


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
    directory = settings.migration_dir().existing()
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
        chosen = files_to_reach(files, end)
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
    directory = settings.migration_dir().checked()
    files = directory.files()
    history = History(files)
    url = mask_url(settings.url or "")
    # What env.py's filters keep out of autogenerate, and Alembic's version table, are left alone.
    schema_filter = load_schema_filter(settings).with_version_tables(version_tables(files))
    with connect_target(settings) as conn, (nullcontext() if sql else _apply_lock(conn, lock_timeout)):
        store = RevisionStore(conn, engine_for(conn).revisions)
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
        with open_dev_database(conn, settings.dev_url) as dev:
            outcome.dev_description = dev.description
            desired = autogenerate.replay_schema(dev, files_to_reach(files, position))
            # include_object's compare_to for a table of the target: the directory's, at the target's version.
            known = autogenerate.replay_schema(dev, files_to_reach(files, current_pos)) \
                if schema_filter.object_filters else None
        actual, desired = schema_filter.compare(exclude_objects(inspect_schema(conn), settings.exclude),
                                                exclude_objects(desired, settings.exclude), models=False, known=known)
        outcome.plan = autogenerate.plan_changes(actual, desired, dialect)
        from atlembic.lint import downgrade_review  # as upgrade's gate: loaded by the commands that use it

        outcome.data_loss, outcome.findings = downgrade_review(settings, outcome.plan.diff, dialect)
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
    transactions = engine_for(conn).transactions(conn)

    def run() -> None:
        for text in statements:
            try:
                execute_as_written(conn, text)
            except Exception as exc:
                first = " ".join(text.split())[:200]
                reason = one_line(exc)
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
    handover: Handover | None = None  # when stamping a converted baseline


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
    directory = settings.migration_dir().existing()
    files = directory.files()
    hashes = dict(directory.compute_sum().rows)
    history = History(files)
    with connect_target(settings) as conn, _apply_lock(conn, lock_timeout):
        store = RevisionStore(conn, engine_for(conn).revisions)
        revisions = store.read_all()
        current_version = revisions[-1].version if revisions else None
        version = history.version_at(history.resolve(target, current_version))
        outcome = StampOutcome(mask_url(settings.url or ""), version)
        if not revisions and version is not None:
            # A first stamp at a converted baseline is a hand-over from Alembic: check it (read-only) as
            # `upgrade --baseline` does, so a database that is not at that state is never recorded as such.
            outcome.handover = check_handover(conn, settings, files, version, allow_drift=allow_drift,
                                              drop_version_table=drop_alembic_version)
        store.ensure()
        with engine_for(conn).transactions(conn).transaction():
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
