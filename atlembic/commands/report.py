"""The read-only commands on a target database and the directory: current, status, validate, drift."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from atlembic import autogenerate
from atlembic.config import Settings
from atlembic.convert.handover import version_tables
from atlembic.diff import diff_schemas
from atlembic.engines import engine_for, inspect_schema, open_dev_database
from atlembic.environment import load_schema_filter
from atlembic.errors import AtlembicError, mask_url
from atlembic.migrate.directory import MigrationDir, MigrationFile, files_to_reach
from atlembic.migrate.executor import file_tx_mode
from atlembic.migrate.history import History
from atlembic.migrate.pending import pending_files
from atlembic.migrate.revisions import TYPE_RESOLVED, Revision, RevisionStore
from atlembic.migrate.sumfile import ChecksumError
from atlembic.target import connect_target


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
    directory = MigrationDir.checked(settings.migrations_dir) if check_sum else MigrationDir(settings.migrations_dir)
    history = History(directory.files())
    with connect_target(settings) as conn:
        revisions = RevisionStore(conn, engine_for(conn).revisions).read_all()
    return CurrentOutcome(mask_url(settings.url or ""), revisions, history)


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
        revisions = RevisionStore(conn, engine_for(conn).revisions).read_all()
        dialect = conn.dialect.name
    report = StatusReport(mask_url(settings.url or ""), "OK", "", "", revisions, [])
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
    directory = MigrationDir.checked(settings.migrations_dir)
    files = directory.files()
    dialect = settings.dialect
    for file in files:
        file.statements(dialect)
        file_tx_mode(file)
    replays: list[tuple[str, list[MigrationFile]]] = [
        ("from the last checkpoint", files_to_reach(files, len(files) - 1))]
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
    directory = MigrationDir.checked(settings.migrations_dir)
    files = directory.files()
    history = History(files)
    url = url or settings.url
    # What env.py's filters keep out of autogenerate, and Alembic's version table, are no drift.
    schema_filter = load_schema_filter(settings).with_version_tables(version_tables(files))
    with connect_target(settings, url) as conn:
        revisions = RevisionStore(conn, engine_for(conn).revisions).read_all()
        last = revisions[-1] if revisions else None
        if last is not None and not last.done:
            raise AtlembicError(
                f"{mask_url(url or '')} has a partially applied migration ({last.version}: {last.applied} of "
                f"{last.total} statements); finish it with upgrade before checking for drift"
            )
        version = last.version if last else None
        position = history.position_of(version)
        live = inspect_schema(conn)
        dialect = conn.dialect.name
    with open_dev_database(dialect, settings.dev_url) as dev:
        expected = autogenerate.replay_schema(dev, files_to_reach(files, position))
        description = dev.description
    live, expected = schema_filter.compare(live, expected, models=False)
    changes = diff_schemas(expected, live).describe()
    return DriftOutcome(mask_url(url or ""), version, changes, description)
