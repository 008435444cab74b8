"""The command line: parse options, call `commands`, print. No logic lives here."""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from atlembic import __version__, commands
from atlembic.config import Settings, load_settings
from atlembic.errors import AtlembicError

APP_HELP = (
    "atlembic: Alembic's commands, Atlas's planning. Migrations are planned from your SQLAlchemy models "
    "against the migration directory replayed on a throwaway dev database."
)
app = typer.Typer(add_completion=False, no_args_is_help=True, help=APP_HELP, pretty_exceptions_enable=False)

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
    no_cache: Annotated[bool, typer.Option("--no-cache", help="do not use the replay cache (read or write)")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """atlembic: Alembic's commands, Atlas's planning."""
    ctx.obj = Globals(config, url, dev_url, directory, name, list(x or []), quiet)
    if no_cache:
        from atlembic import replay_cache

        replay_cache.disable()


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
        if result.lint is not None:
            for finding in result.lint.findings:
                g.say(f"{finding.path}:{finding.line}: {finding.code}: {finding.message}")
        if result.lint_failed:
            g.say(f"Lint skipped: {result.lint_failed}")
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
def check(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option("--url", help="check this live database for drift instead")] = None,
    drift: Annotated[bool, typer.Option("--drift", help="check the configured target for drift")] = False,
    fmt: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Exit 0 when the models and the migration directory agree; else list the changes and fail.

    With --url/--drift: compare a live database with the directory instead (changes made by hand).
    """
    g = _globals(ctx)
    if url or drift:
        from atlembic.cli_migrate import drift_check

        drift_check(g, url, fmt)
        return
    result = commands.check(g.settings())
    if fmt == "json":
        typer.echo(json.dumps({"in_sync": not result.plan.statements, "changes": result.plan.diff.describe()},
                              indent=2))
        if result.plan.statements:
            raise typer.Exit(255)
        return
    if result.plan.statements:
        lines = "; ".join(result.plan.diff.describe())
        raise AtlembicError(f"New upgrade operations detected: {lines}")
    g.say("No new upgrade operations detected.")


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


# Each module registers its commands on `app`: convert; and init, upgrade, downgrade, stamp, ...
from atlembic import (  # noqa: E402
    cli_convert,  # noqa: F401
    cli_lint,  # noqa: F401
    cli_migrate,  # noqa: F401
)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """How a command runs: without Python's cyclic garbage collector.

    A run builds a large, long-lived object graph (the models, two schemas) and makes little cyclic
    garbage: the collector's repeated full passes over that graph were 45% of a no-change `check` at
    1000 tables (3.0 s -> 1.65 s without them; +9 MB peak for a 67-revision `convert`, none for `upgrade`).
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()  # for callers that go on in the same process (tests)


def main() -> None:
    with collector_paused():
        _run()


def entry() -> None:
    """The ``atlembic`` executable: `main`, then `exit_now`."""
    try:
        main()
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        exit_now(exc.code if isinstance(exc.code, int) else int(exc.code is not None))
    exit_now(0)


def exit_now(code: int) -> NoReturn:
    """End the process without the interpreter's teardown: it frees the heap object by object and collects
    it once more, 0.5-1.2 s after a `check` at 1000 tables (bench/) for nothing the OS would not do at
    once. The exit handlers run first (dev servers are stopped, temporary directories removed)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _run() -> None:
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code instead of raising it
        if isinstance(code, int) and code:
            sys.exit(code)
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
    except Exception as exc:  # click's usage errors (typer vendors click: match by shape, not class)
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    finally:
        gc.enable()  # for callers that run main() in their own process (tests)
