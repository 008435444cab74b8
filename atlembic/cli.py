"""The command line: parse options, call `commands`, print. No logic lives here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from atlembic import __version__, commands
from atlembic.config import Settings, load_settings
from atlembic.errors import AtlembicError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, pretty_exceptions_enable=False)

IN_SYNC = "The migration directory is synced with the desired state, no changes to be made"


@dataclass
class Globals:
    config: str | None = None
    url: str | None = None
    dev_url: str | None = None
    directory: str | None = None
    name: str = "alembic"
    x: list[str] = field(default_factory=list)
    quiet: bool = False

    def settings(self) -> Settings:
        return load_settings(self.config, url=self.url, dev_url=self.dev_url, directory=self.directory,
                             x_args=self.x, ini_section=self.name)

    def say(self, text: str) -> None:
        if not self.quiet:
            typer.echo(text)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"atlembic {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option("-c", "--config", help="alembic.ini to use")] = None,
    url: Annotated[str | None, typer.Option("--url", help="target database URL (sqlalchemy.url)")] = None,
    dev_url: Annotated[str | None, typer.Option("--dev-url", help="dev database URL")] = None,
    directory: Annotated[str | None, typer.Option("--dir", help="migration directory")] = None,
    name: Annotated[str, typer.Option("-n", "--name", help="ini section")] = "alembic",
    x: Annotated[list[str] | None, typer.Option("-x", help="key=value passed to env.py")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="print nothing on success")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """atlembic: Alembic's commands, Atlas's planning."""
    ctx.obj = Globals(config, url, dev_url, directory, name, list(x or []), quiet)


def _globals(ctx: typer.Context) -> Globals:
    return ctx.obj


@app.command()
def revision(
    ctx: typer.Context,
    message: Annotated[str | None, typer.Option("-m", "--message")] = None,
    autogenerate: Annotated[bool, typer.Option("--autogenerate", help="plan from the models")] = False,
    rev_id: Annotated[str | None, typer.Option("--rev-id", help="version to use instead of the time")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="print stage timings")] = False,
) -> None:
    """Write the next migration file (planned with --autogenerate, else empty)."""
    g = _globals(ctx)
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
    if verbose:
        g.say(_timings(result.timings.stages))


def _ask_on_terminal() -> Callable[[str], bool] | None:
    """Ask yes/no questions only when a person can answer them (Atlas's rename prompt)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    return lambda question: typer.confirm(question, default=False)


def _timings(stages: dict[str, float]) -> str:
    return "Timings: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in stages.items())


@app.command()
def check(ctx: typer.Context) -> None:
    """Exit 0 when the models and the migration directory agree; else list the changes and fail."""
    g = _globals(ctx)
    result = commands.check(g.settings())
    if result.plan.statements:
        lines = "; ".join(result.plan.diff.describe())
        raise AtlembicError(f"New upgrade operations detected: {lines}")
    g.say("No new upgrade operations detected.")


@app.command()
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="head, +N, or a version")] = "head",
    baseline: Annotated[str | None, typer.Option("--baseline", help="version the target already has")] = None,
    allow_dirty: Annotated[bool, typer.Option("--allow-dirty", help="apply to a non-empty database")] = False,
) -> None:
    """Apply pending migration files to the target database."""
    g = _globals(ctx)
    result = commands.upgrade(g.settings(), revision, baseline=baseline, allow_dirty=allow_dirty)
    if not result.applied:
        g.say("No migration files to execute")
    for item in result.applied:
        g.say(f"Running upgrade -> {item.file.version}, {item.file.description} "
              f"({item.statements} statements, {item.elapsed_ns / 1e6:.1f} ms)")


@app.command()
def current(ctx: typer.Context) -> None:
    """Show the last applied version of the target database."""
    g = _globals(ctx)
    revisions = commands.current(g.settings())
    if revisions:
        last = revisions[-1]
        state = "" if last.done else f" (partial: {last.applied}/{last.total}, error: {last.error})"
        g.say(f"{last.version} (head){state}")


@app.command("hash")
def hash_(ctx: typer.Context) -> None:
    """Recompute atlas.sum from the migration files."""
    g = _globals(ctx)
    g.say(f"Writing {commands.hash_directory(g.settings())} ...  done")


@app.command()
def provider(
    path: Annotated[Path, typer.Option("--path", help="directory (or file) holding the models")],
    dialect: Annotated[str, typer.Option("--dialect", help="sqlite, postgresql or mysql")] = "sqlite",
) -> None:
    """Print the models' DDL (drop-in for atlas-provider-sqlalchemy in an atlas.hcl external_schema)."""
    typer.echo(commands.provider(path, dialect), nl=False)


def main() -> None:
    try:
        app(standalone_mode=False)
    except AtlembicError as exc:
        typer.echo(f"FAILED: {exc}")
        sys.exit(255)
    except KeyboardInterrupt:
        typer.echo("FAILED: interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
