"""The Typer app, its global options, and how a command runs (errors to `FAILED:` lines, exit codes).

Each command module of this package registers its commands on `app`; parsing and printing only."""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, NoReturn

import typer

from atlembic import __version__
from atlembic.config import Settings, load_settings
from atlembic.devdb.process import cache_root
from atlembic.errors import AtlembicError, mask_secrets, one_line
from atlembic.replay import cache as replay_cache

APP_HELP = (
    "atlembic: Alembic's commands, Atlas's planning. Migrations are planned from your SQLAlchemy models "
    "against the migration directory replayed on a throwaway dev database."
)
# Plain click help, as Alembic's argparse help: Rich markup would eat the brackets of "[start]:[end]" and
# label every flag <bool>. -h is help too, on every command (click passes help_option_names down).
app = typer.Typer(add_completion=False, no_args_is_help=True, help=APP_HELP, pretty_exceptions_enable=False,
                  rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]})

ALEMBIC_FAILURE = 255  # Alembic's util.err
ATLAS_FAILURE = 1  # Atlas's main: any error returned by a command
# The command families that fail as another tool does (the Atlas verbs: `migrate`, `schema`); every other
# command fails as Alembic. Filled by the module that adds the family (`fails_as`).
_FAMILY_FAILURE: dict[str, int] = {}


def fails_as(family: str, code: int) -> None:
    """Commands under `family` (a sub-app's name) exit `code` on an error."""
    _FAMILY_FAILURE[family] = code


@dataclass
class Globals:
    config: str | None = None
    url: str | None = None
    dev_url: str | None = None
    directory: str | None = None
    name: str = "alembic"
    x: list[str] = field(default_factory=list)
    quiet: bool = False
    failure_code: int = ALEMBIC_FAILURE  # the exit code of an error: the running command family's (`fails_as`)

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
    config: Annotated[str | None, typer.Option(
        "-c", "--config", metavar="FILE", help="alembic.ini to use (default: $ATLEMBIC_CONFIG, else ./alembic.ini)")]
    = None,
    url: Annotated[str | None, typer.Option(
        "--url", metavar="URL", help="target database URL (instead of sqlalchemy.url)")] = None,
    dev_url: Annotated[str | None, typer.Option(
        "--dev-url", metavar="URL", help="dev database server to plan on (default: an embedded one atlembic "
                                         "starts and removes)")] = None,
    directory: Annotated[str | None, typer.Option(
        "--dir", metavar="DIR", help="migration directory (default: [atlembic] migrations_dir, else migrations/ "
                                     "next to alembic.ini)")] = None,
    name: Annotated[str, typer.Option("-n", "--name", metavar="SECTION", help="alembic.ini section to read")]
    = "alembic",
    x: Annotated[list[str] | None, typer.Option(
        "-x", metavar="KEY=VALUE", help="argument for env.py (context.get_x_argument()); repeatable")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="print nothing on success")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="do not use the replay cache (read or write)")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="print atlembic's version and exit")] = False,
) -> None:
    """atlembic: Alembic's commands, Atlas's planning."""
    g = ctx.obj if isinstance(ctx.obj, Globals) else Globals()  # `_run` passes its own, to read failure_code
    g.config, g.url, g.dev_url, g.directory, g.name, g.x, g.quiet = (config, url, dev_url, directory, name,
                                                                   list(x or []), quiet)
    g.failure_code = _FAMILY_FAILURE.get(ctx.invoked_subcommand or "", ALEMBIC_FAILURE)
    ctx.obj = g
    if no_cache:
        replay_cache.disable()


def timings_line(stages: dict[str, float]) -> str:
    """``-v``: the stage timings of a command on one line."""
    return "Timings: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in stages.items())


def globals_of(ctx: typer.Context) -> Globals:
    """The global options of the running command (set by `main_options`)."""
    return ctx.obj


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """How a command runs: without Python's cyclic garbage collector.

    A run builds a large, long-lived object graph (the models, two schemas) and makes little cyclic
    garbage: the collector's repeated full passes over that graph would be a large part of a no-change
    `check` (docs/benchmarks.md), for little memory.
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
    it once more, up to a second at a thousand tables (docs/benchmarks.md) for nothing the OS would not do
    at once. The exit handlers run first (dev servers are stopped, temporary directories removed)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def unexpected_error(exc: Exception) -> str:
    """The one line for an exception nothing turned into an `AtlembicError`. The OS's own errors name their
    file (a full disk, a read-only directory); anything else is atlembic's bug: its traceback goes to a file
    whose path the line gives, for the report, never to the terminal."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename is not None else ""
        return mask_secrets(f"{exc.strerror}{where}")
    line = f"unexpected {type(exc).__name__}: {mask_secrets(one_line(exc))}"
    try:
        folder = cache_root() / "crashes"
        folder.mkdir(parents=True, exist_ok=True)
        report = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
        text = "".join(traceback.format_exception(exc))
        report.write_text(mask_secrets(f"atlembic {__version__}, {' '.join(sys.argv)}\n\n{text}"))
    except OSError as saving:
        return f"{line} (a bug in atlembic; its traceback could not be saved: {saving.strerror})"
    return f"{line} (a bug in atlembic: please report it with the traceback in {report})"


def _run() -> None:
    g = Globals()  # filled by `main_options`; its failure_code is the running command's
    try:
        code = app(standalone_mode=False, obj=g)  # click returns typer.Exit's code instead of raising it
        if isinstance(code, int) and code:
            sys.exit(code)
    except AtlembicError as exc:
        typer.echo(f"FAILED: {exc}")
        sys.exit(g.failure_code)
    except KeyboardInterrupt:
        typer.echo("FAILED: interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click's usage errors (typer vendors click: match by shape, not class)
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        typer.echo(f"FAILED: {unexpected_error(exc)}")
        sys.exit(g.failure_code)
    finally:
        gc.enable()  # for callers that run main() in their own process (tests)
