"""Lint: catch data loss and locking before a migration reaches production.

Atlas's ``migrate lint`` with its analyzers and codes, plus PostgreSQL lock
checks: each migration file is analyzed against the dev database's state right before it (the directory
replayed up to it), statement by statement (see :mod:`atlembic.lint.runner`).

Used by ``atlembic lint``, by ``revision --autogenerate`` (the findings of the file it wrote), by
``upgrade`` (a gate: pending files with erroring findings are refused unless ``--allow-destructive``)
and by ``downgrade`` (the same analyzers on the planned diff).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import ExitStack

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlembic.config import Settings
from atlembic.devdb import DevDatabase
from atlembic.diff import SchemaDiff
from atlembic.engines import normalize_dialect, open_dev_database
from atlembic.errors import AtlembicError, mask_url, plural
from atlembic.lint import mysql, postgresql, sqlite  # noqa: F401  (register the dialect analyzers and hooks)
from atlembic.lint.analyzers import ANALYZERS
from atlembic.lint.data import TargetData, make_read_only
from atlembic.lint.loss import data_loss
from atlembic.lint.model import Finding
from atlembic.lint.report import FORMATS, render, summary
from atlembic.lint.runner import LintConfig, LintResult, RejectedStatement, analyze_diff, lint_files
from atlembic.migrate.directory import MigrationFile, files_to_reach
from atlembic.migrate.history import BASE, History
from atlembic.replay.lazy import embedded_states
from atlembic.target import connect_target

__all__ = [
    "ANALYZERS", "FORMATS", "Finding", "LintConfig", "LintResult", "RejectedStatement", "downgrade_review",
    "lint_directory", "lint_new_file", "render", "select_files", "summary", "upgrade_gate",
]


def select_files(
    files: Sequence[MigrationFile], latest: int | None = None, from_version: str | None = None
) -> tuple[list[MigrationFile], list[MigrationFile]]:
    """(base replayed first, files analyzed): the last N files, the files after a version, or all."""
    if latest is not None and from_version is not None:
        raise AtlembicError("--latest and --from cannot be used together")
    if latest is not None:
        if latest < 1:
            raise AtlembicError("--latest must be at least 1")
        start = max(len(files) - latest, 0)
    elif from_version is not None:
        position = History(files).resolve(from_version, None, current_known=False)
        start = 0 if position == BASE else position + 1
    else:
        start = 0
    return files_to_reach(files, start - 1), list(files[start:])


def _dialect(settings: Settings, url: str | None) -> str:
    """The target's backend name as written (mariadb stays mariadb: the dev database warns by it)."""
    if url:
        try:
            return sa.engine.make_url(url).get_backend_name()
        except sa.exc.ArgumentError as exc:
            raise AtlembicError(f"invalid --url: {exc}") from None
    return settings.dialect


def lint_directory(
    settings: Settings, *, latest: int | None = None, from_version: str | None = None, url: str | None = None,
    dev: DevDatabase | None = None,
) -> LintResult:
    """``atlembic lint``: analyze the chosen files; with `url`, data-dependent checks ask that database.

    `dev`: a dev database the caller already has open (``revision`` lints on the one it planned with);
    otherwise one is opened for the run."""
    directory = settings.migration_dir()
    directory.check_sum()
    base, chosen = select_files(directory.files(), latest, from_version)
    config = LintConfig.from_options(settings.options)
    if not chosen:
        return LintResult(dev_description="(nothing to analyze)")
    with ExitStack() as stack:
        data = None
        if url:
            conn = stack.enter_context(connect_target(settings, url))
            make_read_only(conn)
            data = TargetData(conn, mask_url(url))
        if dev is None:
            # The files before the chosen ones may be a state an earlier run kept (atlembic.devdb.kept).
            dialect = _dialect(settings, url)
            states = embedded_states(base, dialect, settings.dev_url)
            dev = stack.enter_context(open_dev_database(dialect, settings.dev_url, states=states))
        return lint_files(dev, base, chosen, config, data)


def lint_new_file(
    settings: Settings, dev: DevDatabase, base: Sequence[MigrationFile], file: MigrationFile
) -> LintResult:
    """What ``lint_directory(settings, latest=1, dev=dev)`` finds once `file` is written after `base` (the
    directory's files from its last checkpoint), before it is: and the schema `file` reaches
    (`LintResult.reached`). A statement the dev database rejects raises `RejectedStatement`."""
    return lint_files(dev, base, [file], LintConfig.from_options(settings.options), inspect_end=True)


# What a statement the destructive analyzers report must say (DS101-DS108 drop, DS109 revokes).
_DESTRUCTIVE_TEXT = re.compile(r"\b(DROP|REVOKE)\b", re.IGNORECASE)


def upgrade_gate(
    settings: Settings, conn: Connection, files: Sequence[MigrationFile], chosen: Sequence[MigrationFile],
    *, allow_destructive: bool = False, applied: dict[str, int] | None = None,
) -> LintResult | None:
    """Refuse pending files with erroring findings (destructive by default) before anything runs.

    Skipped when nothing could be an error: ``--allow-destructive`` with the default configuration, or
    only destructive analyzers erroring and no pending statement that drops or revokes anything. `applied` maps the
    version of a partially applied file to its statements already run: findings on those are history.
    """
    if not chosen:
        return None
    config = LintConfig.from_options(settings.options)
    if allow_destructive:
        config = config.without("destructive")
    destructive = {"destructive", *ANALYZERS["destructive"].codes}
    if not config.error:
        return None
    if config.error <= destructive and not any(_DESTRUCTIVE_TEXT.search(f.text) for f in chosen):
        return None
    start = list(files).index(chosen[0])
    base = files_to_reach(files, start - 1)
    data = TargetData(conn, mask_url(settings.url or ""))
    skip = "pass --allow-destructive to skip this check" if config.error <= destructive and not allow_destructive \
        else "the check runs because of [atlembic] lint_error"
    try:
        with open_dev_database(conn, settings.dev_url) as dev:
            result = lint_files(dev, base, chosen, config, data)
    except AtlembicError as exc:
        raise AtlembicError(f"upgrade refused: the pending migrations could not be linted: {exc}. Nothing was "
                            f"applied; {skip}") from exc
    result.findings = [f for f in result.findings if _still_pending(f, chosen, applied or {}, conn.dialect.name)]
    if result.errors:
        lines = "\n".join(f"  {f.path}:{f.line}: {f.code}: {f.message}" for f in result.errors)
        hint = ("pass --allow-destructive to apply them anyway, or mark a reviewed statement with "
                "`-- atlas:nolint <code>`") if any(f.analyzer == "destructive" for f in result.errors) else \
            "mark a reviewed statement with `-- atlas:nolint <code>`, or change [atlembic] lint_error"
        found = plural(len(result.errors), "erroring lint finding")
        raise AtlembicError(f"upgrade refused: the pending migrations have {found}:\n{lines}\n"
                            f"Nothing was applied; {hint}")
    return result


def _still_pending(finding: Finding, chosen: Sequence[MigrationFile], applied: dict[str, int], dialect: str) -> bool:
    """False for a finding on a statement a partially applied file already ran (a resumed upgrade)."""
    file = next((f for f in chosen if f.name == finding.file), None)
    done = applied.get(file.version, 0) if file is not None else 0
    if not done or file is None:
        return True
    statements = file.statements(dialect)
    return done < len(statements) and finding.line >= statements[done].line


# The destructive codes whose drops data_loss already names.
_NAMED_BY_DATA_LOSS = ("DS102", "DS103", "DS104", "DS105", "DS106", "DS107", "DS108")


def downgrade_review(settings: Settings, diff: SchemaDiff, dialect: str) -> tuple[list[str], list[Finding]]:
    """What a downgrade plan loses, and the analyzers' findings on it (every object taken as existing on
    the target). The losses are `data_loss` plus the erroring findings it does not already name."""
    findings = analyze_diff(diff, normalize_dialect(dialect), LintConfig.from_options(settings.options),
                            "downgrade plan")
    losses = data_loss(diff) + [f"{f.code}: {f.message}" for f in findings
                                if f.error and f.code not in _NAMED_BY_DATA_LOSS]
    return losses, findings
