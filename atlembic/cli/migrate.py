"""CLI commands that work on the target database and the history (registered on `atlembic.cli.app`):
init, upgrade, downgrade, stamp, current, history, heads, show, status, validate, rebase, and check's drift
mode; upgrade, current, status and check --drift on many targets (a fleet).
Parsing and printing only; the work is in `atlembic.commands`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from atlembic import commands
from atlembic.cli.app import Globals, app, globals_of
from atlembic.cli.progress import reporter_for
from atlembic.commands.apply import DowngradeOutcome, TargetUpgrade, UpgradeOutcome
from atlembic.commands.rebase import RebaseOutcome
from atlembic.commands.report import CurrentOutcome, DriftOutcome, StatusReport, revision_json
from atlembic.errors import AtlembicError, plural
from atlembic.migrate.history import History
from atlembic.migrate.lock import DEFAULT_TIMEOUT
from atlembic.migrate.revisions import Revision
from atlembic.scaffold import init_project
from atlembic.target import TargetRun, run_fleet, target_url, target_urls

FormatOpt = Annotated[str, typer.Option("--format", metavar="FORMAT", help="text, or json (for tools)")]
VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="a block per revision: path, parent, message")]
LockTimeoutOpt = Annotated[str, typer.Option(
    "--lock-timeout", metavar="DURATION", help="how long to wait for the target's migration lock (10s, 500ms, 1m)")]
AllowDriftOpt = Annotated[bool, typer.Option(
    "--allow-drift", help="hand over an Alembic database whose schema differs from the converted baseline")]
DropAlembicVersionOpt = Annotated[bool, typer.Option(
    "--drop-alembic-version", help="drop alembic_version once the hand-over is recorded")]


UrlsOpt = Annotated[list[str] | None, typer.Option(
    "--url", metavar="URL", help="target database URL (instead of sqlalchemy.url); repeat it for many targets, "
                                 "each locked, worked on and recorded on its own")]
UrlFileOpt = Annotated[str | None, typer.Option(
    "--url-file", metavar="FILE", help="target database URLs, one a line (# comments, blank lines)")]
ParallelOpt = Annotated[int, typer.Option(
    "--parallel", metavar="N", help="with many targets: how many are worked on at once")]
CanaryOpt = Annotated[int, typer.Option(
    "--canary", metavar="N", help="with many targets: apply to the first N first, and stop before the others "
                                  "if one of them fails")]


RebaseVersionArg = Annotated[str, typer.Argument(
    metavar="VERSION...", help="the version (or a unique prefix) of a migration file to move; several move in "
                               "their order")]
# VERSION...: the versions after the first come as ctx.args (a list argument would be labelled <list[str]>)
REBASE_CONTEXT = {"allow_extra_args": True}


def _json_wanted(fmt: str) -> bool:
    if fmt not in ("text", "json"):
        raise AtlembicError(f'unknown --format "{fmt}" (expected "text" or "json")')
    return fmt == "json"


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def parse_duration(text: str) -> float:
    """Seconds from ``10``, ``10s``, ``500ms``, ``1m`` or ``1.5s`` (Go-style durations, as Atlas takes)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if m is None:
        raise AtlembicError(f'invalid duration "{text}" (e.g. 10s, 500ms, 1m)')
    return float(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m[2]]


@app.command()
def init(
    ctx: typer.Context,
    directory: Annotated[str, typer.Argument(metavar="DIR", help="script directory to create (env.py)")],
) -> None:
    """Create a new project: DIR/env.py, alembic.ini, models.py and the migrations directory."""
    g = globals_of(ctx)
    steps = init_project(directory, g.config)
    ini = None
    for step in steps:
        if step.action == "skipping":
            typer.echo(f"File {step.path} already exists, skipping")
        else:
            typer.echo(f"{step.action} {step.path} ...  done")  # like Alembic, even with -q
        if step.path.name.endswith(".ini"):
            ini = step.path
    if ini is not None:
        typer.echo(f"Please edit configuration/connection/logging settings in {ini} before proceeding.")


def _parents(g: Globals) -> dict[str, str | None]:
    files = g.settings().migration_dir().files()
    return {e.version: e.parent for e in History(files).entries}


# Alembic (argparse) takes `downgrade -1` as a positional; let click pass "-1" through the same way.
_RELATIVE_ARGS = {"ignore_unknown_options": True}


@app.command(context_settings=_RELATIVE_ARGS)
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(
        metavar="REVISION", help="head, +N, a version or unique prefix ([start:]end with --sql)")] = "head",
    sql: Annotated[bool, typer.Option("--sql", help="print the SQL instead of running it (offline)")] = False,
    tx_mode: Annotated[str, typer.Option(
        "--tx-mode", metavar="MODE", help="a transaction per file, one for all files, or none: file, all or none")]
    = "file",
    lock_timeout: LockTimeoutOpt = "10s",
    baseline: Annotated[str | None, typer.Option(
        "--baseline", metavar="VERSION", help="record the target, which has no revisions yet, as already at VERSION")]
    = None,
    allow_dirty: Annotated[bool, typer.Option(
        "--allow-dirty", help="apply to a database that has tables but no revisions")] = False,
    allow_drift: AllowDriftOpt = False,
    drop_alembic_version: DropAlembicVersionOpt = False,
    allow_destructive: Annotated[bool, typer.Option(
        "--allow-destructive", help="apply even when lint finds destructive changes in the pending files")] = False,
    urls: UrlsOpt = None,
    url_file: UrlFileOpt = None,
    parallel: ParallelOpt = 1,
    canary: CanaryOpt = 0,
    fmt: FormatOpt = "text",
) -> None:
    """Apply pending migration files to the target database (after the lint gate: see `atlembic lint`).

    With --url repeated or --url-file: every target on its own (its lock, its revisions), one line each
    (from -> to, ok or failed, seconds); the exit code is non-zero when any failed, the others still migrate.
    """
    g = globals_of(ctx)
    want_json = _json_wanted(fmt)
    fleet = fleet_targets(g, urls, url_file, json_wanted=want_json and not sql)
    settings = g.settings()
    if sql:
        if baseline or allow_dirty:
            raise AtlembicError("--baseline and --allow-dirty need the database; they do not go with --sql")
        if fleet is not None or want_json:
            raise AtlembicError("--sql prints one script and connects to no target: it does not go with "
                                "--url-file, several --url or --format json")
        typer.echo(commands.upgrade_sql(settings, revision, tx_mode=tx_mode), nl=False)
        return
    if ":" in revision:
        raise AtlembicError("Range revision not allowed")
    options: dict[str, Any] = {
        "baseline": baseline, "allow_dirty": allow_dirty, "tx_mode": tx_mode,
        "lock_timeout": parse_duration(lock_timeout), "allow_drift": allow_drift,
        "drop_alembic_version": drop_alembic_version, "allow_destructive": allow_destructive}
    if fleet is not None:
        show_upgrade_fleet(g, fleet, want_json, commands.upgrade_many(settings, fleet, revision, parallel=parallel,
                                                                      canary=canary, **options))
        return
    reporter = reporter_for(_parents(g), quiet=g.quiet)
    try:
        result = commands.upgrade(settings, revision, reporter=reporter, **options)
    finally:
        if reporter is not None:
            reporter.close()
    for line in result.handover.report() if result.handover is not None else ():
        g.say(line)
    if not result.applied:
        g.say("No migration files to execute")


@app.command(context_settings=_RELATIVE_ARGS)
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(metavar="REVISION", help="-N, a version or unique prefix, or base")],
    sql: Annotated[bool, typer.Option("--sql", help="print the planned SQL instead of running it")] = False,
    allow_destructive: Annotated[
        bool, typer.Option("--allow-destructive", help="apply even when the plan drops data")] = False,
    lock_timeout: LockTimeoutOpt = "10s",
) -> None:
    """Revert the target to an earlier version (planned on the dev database from its real schema)."""
    g = globals_of(ctx)

    def show(outcome: DowngradeOutcome) -> None:
        g.say(f"Planning downgrade {outcome.current or '<base>'} -> {outcome.target or '<base>'} on {outcome.url} "
              f"(dev database: {outcome.dev_description})")
        if outcome.plan is not None:
            for line in outcome.plan.diff.describe():
                g.say(f"  {line}")
            for stmt in outcome.plan.statements:
                g.say(f"    {' '.join(stmt.sql.split())};")

    result = commands.downgrade(g.settings(), revision, sql=sql, allow_destructive=allow_destructive,
                                 lock_timeout=parse_duration(lock_timeout), on_plan=show)
    if sql:
        typer.echo(result.sql or "", nl=False)
        return
    if result.nothing_to_do:
        g.say(f"Nothing to do: {result.url} is at {result.current or '<base>'}")
        return
    for rev in result.reverted:
        g.say(f"Reverted {rev.version}, {rev.description or 'empty message'}")
    g.say(f"Running downgrade {result.current or ''} -> {result.target or ''} ...  done")


@app.command(context_settings=_RELATIVE_ARGS)
def stamp(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(
        metavar="REVISION", help="a version or unique prefix, -N or +N from the current one, head or base")],
    lock_timeout: LockTimeoutOpt = "10s",
    allow_drift: AllowDriftOpt = False,
    drop_alembic_version: DropAlembicVersionOpt = False,
) -> None:
    """Record the target as being at REVISION without running anything (Atlas's migrate set)."""
    g = globals_of(ctx)
    result = commands.stamp(g.settings(), revision, lock_timeout=parse_duration(lock_timeout),
                             allow_drift=allow_drift, drop_alembic_version=drop_alembic_version)
    if result.handover is not None:
        for line in result.handover.report():
            g.say(line)
    for rev in result.removed:
        g.say(f"Removed revision {rev.version}")
    for rev in result.resolved:
        g.say(f"Marked {rev.version} as resolved")
    for rev in result.added:
        g.say(f"Stamped {rev.version}, {rev.description or 'empty message'}")
    g.say(f"Running stamp_revision -> {result.target or '<base>'} ...  done")


def _partial_note(rev: Revision) -> str:
    if rev.done:
        return ""
    error = " ".join((rev.error or "").split())
    return f" (partial: {rev.applied}/{plural(rev.total, 'statement')}{', error: ' + error if error else ''})"


def _current_entry(result: CurrentOutcome) -> Any:
    last = result.last
    return None if last is None else next((e for e in result.history.entries if e.version == last.version), None)


def _current_json(result: CurrentOutcome) -> dict[str, Any]:
    entry, last = _current_entry(result), result.last
    return {
        "url": result.url,
        "current": result.version,
        "is_head": bool(entry and entry.is_head),
        "revision": revision_json(last) if last else None,
        "file": entry.as_json(result.version) if entry else None,
    }


@app.command()
def current(ctx: typer.Context, verbose: VerboseOpt = False, fmt: FormatOpt = "text", urls: UrlsOpt = None,
            url_file: UrlFileOpt = None, parallel: ParallelOpt = 1) -> None:
    """Show the target database's current revision (of each target, with --url repeated or --url-file)."""
    g = globals_of(ctx)
    want_json = _json_wanted(fmt)
    fleet = fleet_targets(g, urls, url_file)
    if fleet is not None:
        runs = run_fleet(g.settings(), fleet, commands.current, parallel=parallel)

        def row(run: TargetRun[CurrentOutcome]) -> Any:
            if want_json:
                return {**_current_json(run.value), "status": "ok"} if run.value is not None else \
                    {"url": run.url, "status": "failed", "error": run.error}
            entry = _current_entry(run.value) if run.value is not None else None
            at = "" if run.value is None else \
                f"{run.value.version or '<base>'}{' (head)' if entry is not None and entry.is_head else ''}" + \
                (_partial_note(run.value.last) if run.value.last is not None else "")
            return f"{_state(run):<7} {run.url}  {at or '?'}  ({_tail(run)})"

        _fleet_end(g, runs, want_json, row)
        return
    result = commands.current(g.settings())
    last = result.last
    entry = _current_entry(result)
    if want_json:
        emit_json(_current_json(result))
        return
    if verbose:
        g.say(f"Current revision(s) for {result.url}:")
    if last is None:
        _say_unconverted(g)
        return
    if entry is None:
        g.say(f"{last.version} (no migration file has this version){_partial_note(last)}")
    elif verbose:
        g.say(result.history.verbose(entry) + _partial_note(last))
    else:
        g.say(result.history.short(entry, parents=False, doc=False) + _partial_note(last))


def _say_unconverted(g: Globals) -> None:
    """history, heads and current have nothing to show on a project not converted yet: say what to run."""
    hint = commands.unconverted_history(g.settings())
    if hint is not None:
        g.say(hint)


def _current_if_needed(g: Globals, needed: bool) -> tuple[str | None, bool]:
    if not needed:
        return None, False
    return commands.current(g.settings(), check_sum=False).version, True


@app.command()
def history(
    ctx: typer.Context,
    rev_range: Annotated[str | None, typer.Option(
        "-r", "--rev-range", metavar="RANGE", help="only the revisions of [start]:[end] (e.g. base:head, -3:, "
                                                   "current:)")] = None,
    verbose: VerboseOpt = False,
    indicate_current: Annotated[bool, typer.Option(
        "-i", "--indicate-current", help="mark the target database's current revision")] = False,
    fmt: FormatOpt = "text",
) -> None:
    """List migration files as revisions, newest first."""
    g = globals_of(ctx)
    hist = History(g.settings().migration_dir().files())
    needs_db = indicate_current or bool(rev_range and ("current" in rev_range or re.search(r"(^|:)[+-]\d", rev_range)))
    current_version, known = _current_if_needed(g, needs_db)
    entries = (hist.range(rev_range, current_version, current_known=known) if rev_range is not None
               else list(reversed(hist.entries)))
    if _json_wanted(fmt):
        emit_json([e.as_json(current_version) for e in entries])
        return
    for entry in entries:
        if verbose:
            g.say(hist.verbose(entry, current_version if indicate_current else None))
        else:
            g.say(hist.short(entry, current_version if indicate_current else None))
    if not hist.entries:
        _say_unconverted(g)


@app.command()
def heads(ctx: typer.Context, verbose: VerboseOpt = False, fmt: FormatOpt = "text") -> None:
    """Show the head revision (the last migration file)."""
    g = globals_of(ctx)
    hist = History(g.settings().migration_dir().files())
    found = [hist.entries[-1]] if hist.entries else []
    if _json_wanted(fmt):
        emit_json([e.as_json() for e in found])
        return
    for entry in found:
        g.say(hist.verbose(entry) if verbose else hist.short(entry, parents=False, doc=False))
    if not found:
        _say_unconverted(g)


@app.command(context_settings=_RELATIVE_ARGS)
def show(
    ctx: typer.Context,
    rev: Annotated[str, typer.Argument(metavar="REVISION", help="a version or unique prefix, head, or current")],
    fmt: FormatOpt = "text",
) -> None:
    """Show one revision (migration file) in detail."""
    g = globals_of(ctx)
    settings = g.settings()
    hist = History(settings.migration_dir().files())
    current_version, known = _current_if_needed(g, "current" in rev or bool(re.match(r"^[+-]\d", rev)))
    position = hist.resolve(rev, current_version, current_known=known)
    if position < 0:
        raise AtlembicError(f"No revision files indicated by symbol '{rev}'")
    entry = hist.entries[position]
    if _json_wanted(fmt):
        data = entry.as_json(current_version)
        data["statements"] = len(entry.file.statements(settings.dialect))
        emit_json(data)
        return
    g.say(hist.verbose(entry, current_version))


@app.command()
def status(ctx: typer.Context, fmt: FormatOpt = "text", urls: UrlsOpt = None, url_file: UrlFileOpt = None,
           parallel: ParallelOpt = 1) -> None:
    """Atlas's migration status of the target: current, next, executed and pending files (of each target, with
    --url repeated or --url-file: one line each; non-zero exit when any has problems)."""
    g = globals_of(ctx)
    want_json = _json_wanted(fmt)
    fleet = fleet_targets(g, urls, url_file)
    if fleet is None:
        show_status(g, commands.status(g.settings()), fmt)
        return
    show_status_fleet(g, run_fleet(g.settings(), fleet, commands.status, parallel=parallel), want_json)


def show_status_fleet(g: Globals, runs: list[TargetRun[StatusReport]], want_json: bool) -> None:
    """One line (or json object) per target of a fleet's status; non-zero exit when any has problems."""
    def row(run: TargetRun[StatusReport]) -> Any:
        report = run.value
        if want_json:
            return report.as_json() if report is not None else {"URL": run.url, "Status": "FAILED",
                                                                "Problems": [run.error]}
        state = _state(run, bool(report and report.problems))
        if report is None:
            return f"{state:<7} {run.url}  ({_tail(run)})"
        told = f"{report.status}: {report.current}; next {report.next}, {plural(len(report.pending), 'pending file')}"
        problems = "".join(f": {p}" for p in report.problems)
        return f"{state:<7} {run.url}  {told}  ({_tail(run)}{problems})"

    _fleet_end(g, runs, want_json, row, lambda report: bool(report.problems))


def show_status(g: Globals, report: StatusReport, fmt: str) -> None:
    """Atlas's status report on the terminal (text), or as json; exit g.failure_code when there are problems."""
    if _json_wanted(fmt):
        emit_json(report.as_json())
        if report.problems:
            raise typer.Exit(g.failure_code)
        return
    lines = [f"Migration Status: {report.status}"]
    partial = report.total > 0
    lines.append(f"  -- Current Version: {report.current}"
                 + (f" ({plural(report.count, 'statement')} applied)" if partial else ""))
    lines.append(f"  -- Next Version:    {report.next}"
                 + (f" ({plural(report.total - report.count, 'statement')} left)" if partial else ""))
    lines.append(f"  -- Executed Files:  {len(report.applied)}" + (" (last one partially)" if partial else ""))
    lines.append(f"  -- Pending Files:   {len(report.pending)}")
    if partial:
        lines += ["", "Last migration attempt had errors:", f"  -- SQL:   {report.sql}", f"  -- ERROR: {report.error}"]
    g.say("\n".join(lines))
    if report.problems:
        raise AtlembicError("; ".join(report.problems))


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check atlas.sum and replay every migration file on the dev database."""
    g = globals_of(ctx)
    result = commands.validate(g.settings())
    g.say(f"Dev database: {result.dev_description}")
    for line in result.replays:
        g.say(f"Replayed {line} ...  done")
    g.say(f"The migration directory is valid ({plural(result.files, 'file')})")


def _drift_json(result: DriftOutcome) -> dict[str, Any]:
    return {"url": result.url, "version": result.version, "drift": bool(result.changes), "changes": result.changes}


@app.command(context_settings=REBASE_CONTEXT)
def rebase(
    ctx: typer.Context,
    version: RebaseVersionArg,
) -> None:
    """Give migration files merged in below the latest version new versions after it (Atlas's migrate rebase).

    The name part is kept; atlas.sum is rewritten; the directory is replayed on the dev database and compared
    with the models, and everything is put back if that fails. `upgrade` then applies the files on databases
    that already ran the others.
    """
    g = globals_of(ctx)
    show_rebase(g, commands.rebase(g.settings(), [version, *ctx.args]))


def show_rebase(g: Globals, result: RebaseOutcome) -> None:
    """What `rebase` (and `migrate rebase`) renamed, and how the directory was verified."""
    if not result.renamed:
        g.say("Nothing to rebase: those files already sort after every other migration file")
        return
    for old, new in result.renamed:
        g.say(f"Renamed {old} -> {new}")
    reached = "replays and reaches the models" if result.models_checked else "replays (no models to compare with)"
    g.say(f"Rewrote atlas.sum; the directory {reached} (dev database: {result.dev_description})")


def drift_check(g: Globals, url: str | None, fmt: str, *, fleet: list[str] | None = None, parallel: int = 1
                ) -> None:
    """`check --url URL` / `check --drift`: the live database against the directory, read-only; `fleet`: each
    of those targets, one line (or json object) each."""
    want_json = _json_wanted(fmt)
    if fleet is not None:
        settings = g.settings()  # a directory every target would refuse: said once
        settings.migration_dir().checked()
        runs = run_fleet(g.settings(), fleet, commands.drift, parallel=parallel)

        def row(run: TargetRun[DriftOutcome]) -> Any:
            result = run.value
            if want_json:
                return {**_drift_json(result), "status": _state(run, bool(result.changes))} if result is not None \
                    else {"url": run.url, "status": "failed", "error": run.error}
            if result is None:
                return f"{_state(run):<7} {run.url}  ({_tail(run)})"
            at = result.version or "<base>"
            shown = "; ".join(result.changes[:3]) + (f"; and {len(result.changes) - 3} more" if
                                                      len(result.changes) > 3 else "")
            told = f"drift at {at}: {shown}" if result.changes else f"no drift at {at}"
            return f"{_state(run, bool(result.changes)):<7} {run.url}  {told}  ({_tail(run)})"

        _fleet_end(g, runs, want_json, row, lambda result: bool(result.changes))
        return
    result = commands.drift(g.settings(), url)
    if want_json:
        emit_json(_drift_json(result))
        if result.changes:
            raise typer.Exit(g.failure_code)
        return
    at = result.version or "<base>"
    if result.changes:
        raise AtlembicError(
            f"Drift detected: {result.url} differs from the migration directory at {at}: " + "; ".join(result.changes)
        )
    g.say(f"No drift detected: {result.url} matches the migration directory at {at}.")


# ----------------------------------------------------------------------------------------------------
# many targets: one command on each (atlembic.target.run_fleet), one line (or json object) per target

_T = TypeVar("_T")


def fleet_targets(g: Globals, urls: list[str] | None, url_file: str | None, *, json_wanted: bool = False
                  ) -> list[str] | None:
    """The targets of a fleet run, or None for the one target of the single-target path (`--url` once sets
    it). `json_wanted`: a command whose json output exists only per target (upgrade) is a fleet of one."""
    found = target_urls(urls or [], url_file)
    if url_file is None and len(found) == 1 and not json_wanted:
        g.url = found[0]
        return None
    if not found:
        return [target_url(g.settings())] if json_wanted else None
    return found


def _fleet_end(g: Globals, runs: list[TargetRun[_T]], want_json: bool, rows: Callable[[TargetRun[_T]], Any],
               problem: Callable[[_T], bool] = lambda _: False) -> None:
    """Print every target (a json list of `rows`, or the text lines `rows` gives) and fail, after all of them,
    when any target failed, was skipped or has a `problem`."""
    bad = [r for r in runs if not r.ok or (r.value is not None and problem(r.value))]
    if want_json:
        emit_json([rows(r) for r in runs])
        if bad:
            raise typer.Exit(g.failure_code)
        return
    for run in runs:
        g.say(rows(run))
    if bad:
        skipped = sum(r.skipped for r in runs)
        failed = len(bad) - skipped
        parts = [f"{failed} of {plural(len(runs), 'target')} failed"] + ([f"{skipped} skipped"] if skipped else [])
        raise AtlembicError(f"{', '.join(parts)}: {', '.join(r.url for r in bad if not r.skipped)}")
    g.say(f"{plural(len(runs), 'target')}: all ok")


def _state(run: TargetRun[Any], problem: bool = False) -> str:
    return "skipped" if run.skipped else "failed" if run.error is not None or problem else "ok"


def _tail(run: TargetRun[Any]) -> str:
    if run.skipped:
        return "not run: a canary target failed"
    return f"{run.seconds:.2f} s" + (f": {run.error}" if run.error is not None else "")


def show_upgrade_fleet(g: Globals, urls: list[str], want_json: bool, targets: list[TargetUpgrade]) -> None:
    def row(run: TargetRun[UpgradeOutcome]) -> Any:
        one = next(t for t in targets if t.run is run)
        if want_json:
            return {"url": run.url, "status": _state(run), "from": one.before, "to": one.after,
                    "applied": one.applied, "seconds": round(run.seconds, 3), "error": run.error}
        moved = f"{one.before or '<base>'} -> {one.after or '<base>'}" if one.known else "? -> ?"
        return f"{_state(run):<7} {run.url}  {moved}  ({_tail(run)})"

    _fleet_end(g, [t.run for t in targets], want_json, row)


__all__ = ["DEFAULT_TIMEOUT", "CanaryOpt", "ParallelOpt", "UrlFileOpt", "drift_check", "emit_json", "fleet_targets",
           "parse_duration", "show_rebase", "show_status", "show_status_fleet", "show_upgrade_fleet"]
