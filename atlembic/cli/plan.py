"""Planning commands on the command line: revision, check (models against the directory), checkpoint, hash,
provider."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from atlembic import commands
from atlembic.cli.app import app, globals_of, timings_line
from atlembic.cli.migrate import ParallelOpt, UrlFileOpt, drift_check, fleet_targets
from atlembic.errors import AtlembicError, plural

IN_SYNC = "The migration directory is synced with the desired state, no changes to be made"


@app.command()
def revision(
    ctx: typer.Context,
    message: Annotated[str | None, typer.Option(
        "-m", "--message", metavar="MESSAGE", help="what the migration does: the file's name after its version")]
    = None,
    autogenerate: Annotated[bool, typer.Option(
        "--autogenerate", help="plan the file from the models (else it is empty)")] = False,
    rev_id: Annotated[str | None, typer.Option(
        "--rev-id", metavar="VERSION", help="version to use instead of the current UTC time")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="print stage timings")] = False,
) -> None:
    """Write the next migration file (planned with --autogenerate, else empty)."""
    g = globals_of(ctx)
    result = commands.revision(g.settings(), message, autogenerate=autogenerate, rev_id=rev_id,
                               confirm_rename=_ask_on_terminal())
    if isinstance(result, Path):
        g.say(f"Generating {result} ...  done")
        return
    g.say(f"Dev database: {result.dev_description}")
    for candidate in result.unconfirmed_renames:
        g.say(f"Planned drop + add for {candidate.kind} '{candidate.old}' -> '{candidate.new}'"
              f"{f' of table {candidate.table!r}' if candidate.table else ''}; if it is a rename, declare it "
              f"on the model: info={{'atlembic': {{'renamed_from': '{candidate.old}'}}}}")
    if result.path is None:
        g.say(IN_SYNC)
    else:
        for line in result.plan.diff.describe():
            g.say(f"  {line}")
        g.say(f"Generating {result.path} ...  done")
        if result.lint is not None:
            for finding in result.lint.findings:
                g.say(f"{finding.path}:{finding.line}: {finding.code}: {finding.message}")
        if result.lint_failed:
            g.say(f"Lint skipped: {result.lint_failed}")
    if verbose:
        g.say(timings_line(result.timings.stages))


def _ask_on_terminal() -> Callable[[str], bool] | None:
    """Ask yes/no questions only when a person can answer them (Atlas's rename prompt)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    return lambda question: typer.confirm(question, default=False)


@app.command()
def check(
    ctx: typer.Context,
    urls: Annotated[list[str] | None, typer.Option(
        "--url", metavar="URL", help="check this live database for drift instead; repeat it for many")] = None,
    drift: Annotated[bool, typer.Option("--drift", help="check the configured target for drift")] = False,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="text, or json (for tools)")] = "text",
    url_file: UrlFileOpt = None,
    parallel: ParallelOpt = 1,
) -> None:
    """Exit 0 when the models and the migration directory agree; else list the changes and fail.

    With --url/--drift: compare a live database with the directory instead (changes made by hand); with
    --url repeated or --url-file, each of those databases, one line each.
    """
    g = globals_of(ctx)
    if urls or url_file or drift:
        fleet = fleet_targets(g, urls, url_file)
        drift_check(g, None, fmt, fleet=fleet, parallel=parallel)
        return
    result = commands.check(g.settings())
    if fmt == "json":
        typer.echo(json.dumps({"in_sync": not result.plan.statements, "changes": result.plan.diff.describe()},
                              indent=2))
        if result.plan.statements:
            raise typer.Exit(g.failure_code)
        return
    detected = result.changes_detected()
    if detected is not None:
        raise AtlembicError(detected)
    g.say("No new upgrade operations detected.")


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Argument(metavar="[TAG]", help="the checkpoint's tag (its directive's argument)")]
    = None,
    rev_id: Annotated[str | None, typer.Option(
        "--rev-id", metavar="VERSION", help="version to use instead of the current UTC time")] = None,
) -> None:
    """Write a checkpoint file: the whole schema the directory builds, where fresh databases start."""
    g = globals_of(ctx)
    result = commands.checkpoint(g.settings(), tag, rev_id=rev_id)
    g.say(f"Dev database: {result.dev_description}")
    g.say(f"Generating {result.path} ...  done (checkpoint of {plural(result.replaced, 'file')}, "
          f"{plural(result.statements, 'statement')})")


@app.command("hash")
def hash_(ctx: typer.Context) -> None:
    """Recompute atlas.sum from the migration files."""
    g = globals_of(ctx)
    g.say(f"Writing {commands.hash_directory(g.settings())} ...  done")


@app.command()
def provider(
    path: Annotated[list[Path] | None, typer.Option(
        "--path", metavar="PATH", help="directory (or file) holding the models; repeatable (default: the current "
        "directory)")] = None,
    dialect: Annotated[str, typer.Option(
        "--dialect", metavar="DIALECT", help="whose DDL to print: mysql, mariadb, postgresql, sqlite, mssql, or "
        "another SQLAlchemy dialect (clickhouse, snowflake) when its package is installed")] = "mysql",
    skip_errors: Annotated[bool, typer.Option(
        "--skip-errors", help="leave out model files that fail to import")] = False,
) -> None:
    """Print the models' DDL (drop-in for atlas-provider-sqlalchemy in an atlas.hcl external_schema)."""
    typer.echo(commands.provider(path or [Path.cwd()], dialect, skip_errors=skip_errors), nl=False)
