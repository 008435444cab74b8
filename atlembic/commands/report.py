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
from atlembic.errors import AtlembicError, mask_url, plural
from atlembic.migrate.directory import MigrationFile, files_to_reach
from atlembic.migrate.executor import file_tx_mode
from atlembic.migrate.history import History
from atlembic.migrate.pending import history_changed, pending_files
from atlembic.migrate.revisions import TYPE_BASELINE, TYPE_RESOLVED, Revision, RevisionStore
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
    directory = settings.migration_dir()
    if check_sum:
        directory.check_sum()
    history = History(directory.files())
    with connect_target(settings) as conn:
        revisions = RevisionStore(conn, engine_for(conn).revisions).read_all()
    return CurrentOutcome(mask_url(settings.url or ""), revisions, history)


def unconverted_history(settings: Settings) -> str | None:
    """What to say when the migration directory has no files but the project has an Alembic history (revision
    files under script_location, wherever its env.py puts their folders): `atlembic convert` has not run."""
    if settings.migration_dir().files() or settings.script_location is None:
        return None
    revisions = [p for p in settings.script_location.rglob("*.py")
                 if p.name != "env.py" and "down_revision" in p.read_text(errors="replace")]
    if not revisions:
        return None
    return (f"No migration files in {settings.migrations_dir}, but {settings.script_location} holds an Alembic "
            f"history ({plural(len(revisions), 'revision file')}): run `atlembic convert` to turn it into "
            "migration files")


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
    directory = settings.migration_dir()
    problems: list[str] = []
    try:
        directory.check_sum()
    except ChecksumError as exc:
        problems.append(f"atlas.sum: {exc}")
    files = directory.files()
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
    missing = next((r.version for r in revisions if r.type != TYPE_BASELINE and r.hash and r.version not in by_version),
                   None)
    if missing is not None:
        problems.append(f"migration file of applied version {missing} is missing from the directory")
    changed = history_changed(files, revisions)
    if changed is not None:
        problems.append(changed)
    report.current = "No migration applied yet" if len(report.pending) == len(files) or not revisions \
        else revisions[-1].version
    report.status = "ERROR" if problems else "PENDING" if report.pending else "OK"
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
    directory = settings.migration_dir().checked()
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
            done.append(f"{label}: {plural(len(sequence), 'file')}")
        return ValidateOutcome(len(files), done, dev.description)


@dataclass
class DriftOutcome:
    url: str
    version: str | None
    changes: list[str]
    dev_description: str = ""


def drift(settings: Settings, url: str | None = None) -> DriftOutcome:
    """Compare the live target with the directory replayed up to the target's own version. Read-only."""
    directory = settings.migration_dir().checked()
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
                f"{plural(last.total, 'statement')}); finish it with upgrade before checking for drift"
            )
        version = last.version if last else None
        position = history.position_of(version)
        live = inspect_schema(conn)
        target = engine_for(conn).name  # MariaDB behind a mysql:// URL is MariaDB
    with open_dev_database(target, settings.dev_url) as dev:
        expected = autogenerate.replay_schema(dev, files_to_reach(files, position))
        description = dev.description
    live, expected = schema_filter.compare(live, expected, models=False)
    changes = diff_schemas(expected, live).describe()
    return DriftOutcome(mask_url(url or ""), version, changes, description)
